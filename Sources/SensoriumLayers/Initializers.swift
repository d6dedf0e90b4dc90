import SensoriumTensor
#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// The nonlinearity that follows a layer, for choosing an initialisation gain (PyTorch's
/// `nn.init.calculate_gain`).
public enum Nonlinearity: Equatable, Sendable {
    /// Identity, and also convolutions: gain 1.
    case linear
    /// Sigmoid: gain 1.
    case sigmoid
    /// Tanh: gain 5/3.
    case tanh
    /// ReLU: gain √2.
    case relu
    /// Leaky ReLU with the given negative slope: gain √(2 / (1 + slope²)).
    case leakyReLU(negativeSlope: Float)
    /// SELU: gain 3/4.
    case selu

    /// The recommended gain.
    public var gain: Float {
        switch self {
        case .linear, .sigmoid: return 1
        case .tanh: return 5.0 / 3.0
        case .relu: return Float(2).squareRoot()
        case .leakyReLU(let slope): return (2 / (1 + slope * slope)).squareRoot()
        case .selu: return 0.75
        }
    }
}

/// Which fan Kaiming initialisation preserves the variance of.
public enum FanMode: Sendable {
    /// Preserve the variance of activations in the forward pass (PyTorch's default).
    case fanIn
    /// Preserve the variance of gradients in the backward pass.
    case fanOut
}

/// A recipe that fills a tensor of a given shape with initial values drawn from a
/// ``/SensoriumTensor/RandomGenerator`` (elements drawn in row-major order, so the same seed gives the same tensor).
///
/// Fans follow PyTorch: for a weight of shape `(out, in, k…)`, `fanIn = in·∏k` and
/// `fanOut = out·∏k`; weights need at least two axes.
///
/// ```swift
/// let g = RandomGenerator(seed: 1)
/// let w = Initializer.xavierNormal()([64, 32, 3, 3], generator: g)
/// conv.weight.initialize(with: .kaimingNormal(nonlinearity: .relu), generator: g)
/// ```
public struct Initializer {
    /// A short name, for printing.
    public var name: String
    /// Draws a new tensor of the given shape.
    public var draw: ([Int], RandomGenerator) -> Tensor

    /// An initializer from a drawing function.
    public init(name: String, draw: @escaping ([Int], RandomGenerator) -> Tensor) {
        self.name = name
        self.draw = draw
    }

    /// Draws a new tensor of `shape` (with `requiresGrad == false`); inside
    /// ``DeferredInitialization/run(_:)`` the tensor is allocated but not filled.
    public func callAsFunction(_ shape: [Int], generator: RandomGenerator) -> Tensor {
        DeferredInitialization.isActive ? Tensor(uninitializedShape: shape) : draw(shape, generator)
    }

    /// `(fanIn, fanOut)` of a weight shape, as PyTorch computes them.
    public static func fans(_ shape: [Int]) -> (fanIn: Int, fanOut: Int) {
        precondition(shape.count >= 2, "Initializer.fans: need at least 2 dimensions, got shape \(shape)")
        let receptive = shape.dropFirst(2).reduce(1, *)
        return (shape[1] * receptive, shape[0] * receptive)
    }

    /// Every element equal to `value` (draws nothing).
    public static func constant(_ value: Float) -> Initializer {
        Initializer(name: "constant(\(value))") { shape, _ in Tensor.full(shape, value) }
    }

    /// All zeros.
    public static var zeros: Initializer { constant(0) }

    /// All ones.
    public static var ones: Initializer { constant(1) }

    /// Normal with the given mean and standard deviation.
    public static func normal(mean: Float = 0, std: Float = 1) -> Initializer {
        Initializer(name: "normal(\(mean), \(std))") { shape, g in
            Tensor.randomNormal(shape, mean: mean, std: std, generator: g)
        }
    }

    /// Uniform in `[low, high)`.
    public static func uniform(low: Float = 0, high: Float = 1) -> Initializer {
        Initializer(name: "uniform(\(low), \(high))") { shape, g in
            Tensor.randomUniform(shape, low: low, high: high, generator: g)
        }
    }

    /// Glorot/Xavier normal: `N(0, std²)` with `std = gain·√(2 / (fanIn + fanOut))`.
    public static func xavierNormal(gain: Float = 1) -> Initializer {
        Initializer(name: "xavierNormal(gain: \(gain))") { shape, g in
            let (fanIn, fanOut) = fans(shape)
            let std = gain * (2 / Float(fanIn + fanOut)).squareRoot()
            return Tensor.randomNormal(shape, std: std, generator: g)
        }
    }

    /// Glorot/Xavier uniform: `U(−b, b)` with `b = gain·√(6 / (fanIn + fanOut))`.
    public static func xavierUniform(gain: Float = 1) -> Initializer {
        Initializer(name: "xavierUniform(gain: \(gain))") { shape, g in
            let (fanIn, fanOut) = fans(shape)
            let bound = gain * (6 / Float(fanIn + fanOut)).squareRoot()
            return Tensor.randomUniform(shape, low: -bound, high: bound, generator: g)
        }
    }

    /// He/Kaiming normal: `N(0, std²)` with `std = gain / √fan`. PyTorch's defaults are
    /// `mode: .fanIn` and `nonlinearity: .leakyReLU(negativeSlope: 0)` (gain √2).
    public static func kaimingNormal(mode: FanMode = .fanIn,
                                     nonlinearity: Nonlinearity = .leakyReLU(negativeSlope: 0)) -> Initializer {
        Initializer(name: "kaimingNormal(\(mode), \(nonlinearity))") { shape, g in
            let std = nonlinearity.gain / Float(selectFan(shape, mode)).squareRoot()
            return Tensor.randomNormal(shape, std: std, generator: g)
        }
    }

    /// He/Kaiming uniform: `U(−b, b)` with `b = gain·√(3 / fan)`.
    public static func kaimingUniform(mode: FanMode = .fanIn,
                                      nonlinearity: Nonlinearity = .leakyReLU(negativeSlope: 0)) -> Initializer {
        Initializer(name: "kaimingUniform(\(mode), \(nonlinearity))") { shape, g in
            let bound = nonlinearity.gain * (3 / Float(selectFan(shape, mode))).squareRoot()
            return Tensor.randomUniform(shape, low: -bound, high: bound, generator: g)
        }
    }

    /// Normal `N(mean, std²)` truncated to `[low, high]` (absolute bounds, PyTorch's `trunc_normal_`),
    /// sampled exactly by inverting the normal CDF on the truncated interval.
    public static func truncatedNormal(mean: Float = 0, std: Float = 1, low: Float = -2, high: Float = 2) -> Initializer {
        precondition(std > 0 && low < high, "Initializer.truncatedNormal: need std > 0 and low < high")
        return Initializer(name: "truncatedNormal(\(mean), \(std), [\(low), \(high)])") { shape, g in
            let m = Double(mean), s = Double(std)
            let cdfLow = standardNormalCDF((Double(low) - m) / s)
            let cdfHigh = standardNormalCDF((Double(high) - m) / s)
            let out = Tensor(uninitializedShape: shape)
            let p = out.storage.pointer
            for i in 0..<out.count {
                let u = cdfLow + (cdfHigh - cdfLow) * Double(g.nextUniform())
                let x = m + s * standardNormalQuantile(u)
                p[i] = min(max(Float(x), low), high)
            }
            return out
        }
    }

    /// PyTorch's default weight initialisation of `nn.Linear` and `nn.ConvNd`:
    /// Kaiming uniform with `a = √5`, which is `U(−1/√fanIn, 1/√fanIn)`.
    public static var pytorchDefaultWeight: Initializer {
        var i = kaimingUniform(mode: .fanIn, nonlinearity: .leakyReLU(negativeSlope: Float(5).squareRoot()))
        i.name = "pytorchDefaultWeight"
        return i
    }

    /// PyTorch's default bias initialisation of `nn.Linear` and `nn.ConvNd` for a layer whose
    /// weight has fan-in `fanIn`: `U(−1/√fanIn, 1/√fanIn)` (zeros when `fanIn == 0`).
    public static func pytorchDefaultBias(fanIn: Int) -> Initializer {
        let bound: Float = fanIn > 0 ? 1 / Float(fanIn).squareRoot() : 0
        var i = uniform(low: -bound, high: bound)
        i.name = "pytorchDefaultBias(fanIn: \(fanIn))"
        return i
    }

    private static func selectFan(_ shape: [Int], _ mode: FanMode) -> Int {
        let (fanIn, fanOut) = fans(shape)
        let fan = mode == .fanIn ? fanIn : fanOut
        precondition(fan > 0, "Initializer: zero fan for shape \(shape)")
        return fan
    }
}

extension Tensor {
    /// Overwrites the elements in place with a fresh draw from `initializer` (outside autodiff);
    /// does nothing inside ``DeferredInitialization/run(_:)``.
    public func initialize(with initializer: Initializer, generator: RandomGenerator) {
        guard !DeferredInitialization.isActive else { return }
        assign(initializer(shape, generator: generator))
    }
}

/// Φ(x), the standard normal CDF.
func standardNormalCDF(_ x: Double) -> Double { 0.5 * erfc(-x / 2.0.squareRoot()) }

/// Φ⁻¹(p) for p in (0, 1): a rational approximation refined by one Halley step (about 1e-15 relative).
func standardNormalQuantile(_ probability: Double) -> Double {
    let p = min(max(probability, 1e-300), 1 - 1e-16)
    let a = [-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
             1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00]
    let b = [-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
             6.680131188771972e+01, -1.328068155288572e+01]
    let c = [-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
             -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00]
    let d = [7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00]
    func tail(_ q: Double) -> Double {
        (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5])
            / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
    }
    let pLow = 0.02425
    var x: Double
    if p < pLow {
        x = tail((-2 * log(p)).squareRoot())
    } else if p <= 1 - pLow {
        let q = p - 0.5, r = q * q
        x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q
            / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)
    } else {
        x = -tail((-2 * log(1 - p)).squareRoot())
    }
    let e = standardNormalCDF(x) - p
    let u = e * (2 * Double.pi).squareRoot() * exp(x * x / 2)
    x -= u / (1 + x * u / 2)
    return x
}
