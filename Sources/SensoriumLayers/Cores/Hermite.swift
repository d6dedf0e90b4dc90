import SensoriumTensor
#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// The 2-D Hermite function basis and its rotations, from which rotation-equivariant filters are
/// built (Ecker et al. 2019; neuralpredictors' `hermite_2d` and `rotation_matrix`).
public enum HermiteBasis {
    /// The role of one basis function under rotation.
    public enum Kind: Sendable, Equatable {
        /// Rotationally symmetric (μ = 0).
        case symmetric
        /// Real part of a quadrature pair with angular frequency μ.
        case real
        /// Imaginary part of a quadrature pair.
        case imaginary
    }

    /// The basis of all 2-D Hermite functions of rank below `maxRank`: `maxRank·(maxRank + 1)/2`
    /// functions sampled on a `points × points` grid over `[−x, x]²` with
    /// `x = xMax·(1 − 1/points)`, each normalised to unit L2 norm (computed in Double).
    /// - Returns: the basis values (function-major, then rows, then columns), the kind and the
    ///   angular frequency μ of each function.
    public static func make(maxRank: Int, points: Int, xMax: Double) -> (values: [Double], kinds: [Kind], mu: [Int]) {
        let x = xMax * (1 - 1 / Double(points))
        let xs = (0..<points).map { points == 1 ? -x : -x + 2 * x * Double($0) / Double(points - 1) }
        var mu: [Int] = [], nu: [Int] = [], kinds: [Kind] = []
        for rank in 0..<maxRank {
            // |μ| over μ = −rank, −rank + 2, …, rank, sorted ascending; ν = (rank − μ) / 2
            let mus = stride(from: -rank, through: rank, by: 2).map { abs($0) }.sorted()
            for m in mus { mu.append(m); nu.append((rank - m) / 2) }
            if rank % 2 == 0 { kinds.append(.symmetric) }
            for _ in 0..<((rank + 1) / 2) { kinds.append(contentsOf: [.real, .imaginary]) }
        }
        let n = mu.count
        var values = [Double](repeating: 0, count: n * points * points)
        for b in 0..<n {
            let m = mu[b], v = nu[b]
            let coefficients = radialCoefficients(mu: m, nu: v)
            let norm = (pow(2, Double(m + 2 * v)) * Double.pi * factorial(m + v) * factorial(v)).squareRoot()
            var sumSquares = 0.0
            for i in 0..<points {
                for j in 0..<points {
                    let r2 = xs[i] * xs[i] + xs[j] * xs[j]
                    let theta = atan2(xs[i], xs[j])
                    let envelope = exp(-xs[i] * xs[i] / 4) * exp(-xs[j] * xs[j] / 4)
                    var radial = 0.0
                    for c in coefficients.reversed() { radial = radial * r2 + c }
                    let magnitude = envelope * (m == 0 ? 1 : pow(r2, Double(m) / 2)) * radial / norm
                    let value: Double
                    switch kinds[b] {
                    case .symmetric: value = magnitude * cos(Double(m) * theta) / 2.0.squareRoot()
                    case .real: value = magnitude * cos(Double(m) * theta)
                    case .imaginary: value = magnitude * sin(Double(m) * theta)
                    }
                    values[(b * points + i) * points + j] = value
                    sumSquares += value * value
                }
            }
            let scale = 1 / sumSquares.squareRoot()
            for k in (b * points * points)..<((b + 1) * points * points) { values[k] *= scale }
        }
        return (values, kinds, mu)
    }

    /// The block-diagonal matrix that rotates basis coefficients by `angle`: a 2×2 rotation by
    /// `μ·angle` for each quadrature pair, 1 for symmetric functions.
    public static func rotationMatrix(kinds: [Kind], mu: [Int], angle: Double) -> [Double] {
        let n = kinds.count
        var r = [Double](repeating: 0, count: n * n)
        for i in 0..<n {
            switch kinds[i] {
            case .symmetric:
                r[i * n + i] = 1
            case .real:
                let c = cos(Double(mu[i]) * angle), s = sin(Double(mu[i]) * angle)
                r[i * n + i] = c
                r[i * n + i + 1] = s
                r[(i + 1) * n + i] = -s
                r[(i + 1) * n + i + 1] = c
            case .imaginary:
                break
            }
        }
        return r
    }

    /// Coefficients (increasing powers of r²) of the radial polynomial of the Hermite function (μ, ν).
    static func radialCoefficients(mu: Int, nu: Int) -> [Double] {
        (0...nu).map { k in
            factorial(mu + nu) * factorial(nu) * pow(-2, Double(nu - k))
                / (factorial(mu + k) * factorial(k) * factorial(nu - k))
        }
    }

    static func factorial(_ n: Int) -> Double {
        n <= 1 ? 1 : (2...n).reduce(1.0) { $0 * Double($1) }
    }
}

/// Turns Hermite coefficients into filters for every rotation (neuralpredictors' `RotateHermite`).
///
/// Keys `H` (the basis, (n, k·up, k·up)) and `Rs.0`, `Rs.1`, … (the rotation matrices, (n, n)).
/// PyTorch stores them as frozen parameters; here they are buffers (saved and loaded the same way,
/// never trainable, not counted as parameters).
public final class RotateHermite: Module {
    /// The basis, (n, k·up, k·up).
    @Buffer public var basis: Tensor
    /// One coefficient rotation matrix (n, n) per rotation.
    @Buffer public var rotations: [Tensor]
    /// Number of rotations.
    public let numRotations: Int
    /// Whether this is the first layer (inputs are not rotated with the filters).
    public let firstLayer: Bool

    override public class var keyOverrides: [String: String] { ["basis": "H", "rotations": "Rs"] }

    /// The basis for `filterSize` sampled `upsampling` times finer, and `numRotations` rotations.
    public init(filterSize: Int, upsampling: Int, numRotations: Int, firstLayer: Bool) {
        let points = filterSize * upsampling
        let (values, kinds, mu) = HermiteBasis.make(maxRank: filterSize, points: points,
                                                    xMax: 2 * Double(filterSize).squareRoot())
        basis = Tensor(values.map { Float($0) }, shape: [kinds.count, points, points])
        rotations = (0..<numRotations).map { r in
            let m = HermiteBasis.rotationMatrix(kinds: kinds, mu: mu, angle: Double(r) * 2 * Double.pi / Double(numRotations))
            return Tensor(m.map { Float($0) }, shape: [kinds.count, kinds.count])
        }
        self.numRotations = numRotations
        self.firstLayer = firstLayer
        super.init()
    }

    /// Filters for all rotations, (k·up, k·up, inputsTotal, outputs·rotations), rotation-major on the
    /// last axis, from coefficients (n, inputsTotal, outputs). In layers after the first, the input
    /// channels of rotation r are cyclically shifted by r blocks so the layer is equivariant.
    public func callAsFunction(_ coeffs: Tensor) -> Tensor {
        let (n, inputs, outputs) = (coeffs.shape[0], coeffs.shape[1], coeffs.shape[2])
        let points = basis.shape[1]
        let flatCoeffs = coeffs.reshaped([n, inputs * outputs])
        let basisT = basis.reshaped([n, points * points]).transposed(0, 1)
        let block = inputs / numRotations
        var rotated: [Tensor] = []
        for (r, matrix) in rotations.enumerated() {
            var w = matmul(basisT, matmul(matrix, flatCoeffs)).reshaped([points, points, inputs, outputs])
            if r > 0 && !firstLayer {
                let shift = inputs - r * block
                let parts = w.split(sizes: [shift, inputs - shift], axis: 2)
                w = Tensor.concatenate([parts[1], parts[0]], axis: 2)
            }
            rotated.append(w)
        }
        return Tensor.concatenate(rotated, axis: 3)
    }
}

/// A rotation-equivariant convolution whose filters are linear combinations of a fixed Hermite
/// basis, replicated over `numRotations` rotations (neuralpredictors' `HermiteConv2D`).
///
/// Learnable `coeffs` (n = k(k+1)/2, inputs, outputs); the basis is sampled `upsampling` times finer
/// than the k×k filter and sum-pooled back. Output channels: `outputs·numRotations`, rotation-major.
/// Keys: `coeffs`, `rotate_hermite.H`, `rotate_hermite.Rs.r`.
public final class HermiteConv2d: Module, UnaryLayer {
    /// (n, inputs, outputs).
    public let coeffs: Tensor
    /// The basis and rotations.
    public let rotateHermite: RotateHermite
    /// Filter size k.
    public let filterSize: Int
    /// Basis upsampling factor.
    public let upsampling: Int
    /// Zero padding.
    public let padding: Int
    /// Stride.
    public let stride: Int

    override public class var keyOverrides: [String: String] { ["rotateHermite": "rotate_hermite"] }

    /// A convolution from `inputFeatures` (all rotations included) to `outputFeatures` per rotation;
    /// coefficients drawn from N(0, initStd²).
    public init(inputFeatures: Int, outputFeatures: Int, filterSize: Int, padding: Int, stride: Int,
                numRotations: Int, upsampling: Int, firstLayer: Bool, initStd: Float = 0.1, generator: RandomGenerator) {
        precondition(firstLayer || inputFeatures % numRotations == 0,
                     "HermiteConv2d: \(inputFeatures) input features must be a multiple of \(numRotations) rotations")
        let n = filterSize * (filterSize + 1) / 2
        coeffs = Tensor.randomNormal([n, inputFeatures, outputFeatures], std: initStd, generator: generator, requiresGrad: true)
        rotateHermite = RotateHermite(filterSize: filterSize, upsampling: upsampling, numRotations: numRotations,
                                      firstLayer: firstLayer)
        self.filterSize = filterSize
        self.upsampling = upsampling
        self.padding = padding
        self.stride = stride
        super.init()
    }

    /// The convolution weights for all rotations, (outputs·rotations, inputs, k, k).
    public var weightsAllRotations: Tensor {
        let w = rotateHermite(coeffs)  // (k·up, k·up, in, out·R)
        let (k, f) = (filterSize, upsampling)
        let (inputs, outputs) = (w.shape[2], w.shape[3])
        let pooled = f == 1 ? w : w.reshaped([k, f, k, f, inputs, outputs]).sum(axes: [1, 3])
        return pooled.permuted([3, 2, 0, 1])
    }

    /// Output channels (`outputs·rotations`).
    public var outChannels: Int { coeffs.shape[2] * rotateHermite.numRotations }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        conv2d(x, weight: weightsAllRotations, stride: [stride], padding: [padding])
    }
}

/// BatchNorm shared across rotations (neuralpredictors' `RotationEquivariantBatchNorm2D`): the
/// (N, R·C, H, W) input is viewed as (N, C, R·H·W) and normalised by a BatchNorm1d over the C base
/// channels (key `batch_norm`).
public final class RotationEquivariantBatchNorm2d: Module, UnaryLayer {
    /// The shared normalisation.
    public let batchNorm: BatchNorm1d
    /// Base channels C.
    public let numFeatures: Int
    /// Rotations R.
    public let numRotations: Int

    override public class var keyOverrides: [String: String] { ["batchNorm": "batch_norm"] }

    /// Normalisation of `numFeatures` base channels over `numRotations` rotations.
    public init(numFeatures: Int, numRotations: Int, eps: Float = 1e-5, momentum: Float? = 0.1, affine: Bool = true,
                trackRunningStats: Bool = true) {
        batchNorm = BatchNorm1d(numFeatures, eps: eps, momentum: momentum, affine: affine, trackRunningStats: trackRunningStats)
        self.numFeatures = numFeatures
        self.numRotations = numRotations
        super.init()
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        precondition(x.rank == 4 && x.shape[1] == numFeatures * numRotations,
                     "RotationEquivariantBatchNorm2d: expected (N, \(numFeatures * numRotations), H, W), got shape \(x.shape)")
        let (n, h, w) = (x.shape[0], x.shape[2], x.shape[3])
        let grouped = x.reshaped([n, numRotations, numFeatures, h, w]).permuted([0, 2, 1, 3, 4])
            .reshaped([n, numFeatures, numRotations * h * w])
        let normalised = batchNorm(grouped)
        return normalised.reshaped([n, numFeatures, numRotations, h, w]).permuted([0, 2, 1, 3, 4])
            .reshaped([n, numRotations * numFeatures, h, w])
    }
}

/// A per-base-channel shift shared across rotations, parameter `bias` (1, 1, C, 1, 1)
/// (neuralpredictors' `RotationEquivariantBias2DLayer`).
public final class RotationEquivariantBias2d: Module, UnaryLayer {
    /// (1, 1, C, 1, 1).
    public let bias: Tensor
    /// Rotations R.
    public let numRotations: Int
    /// A zero-initialised shift for `channels` base channels.
    public init(channels: Int, numRotations: Int) {
        bias = Tensor.zeros([1, 1, channels, 1, 1], requiresGrad: true)
        self.numRotations = numRotations
        super.init()
    }
    public func callAsFunction(_ x: Tensor) -> Tensor {
        let s = x.shape
        return (x.reshaped([s[0], numRotations, s[1] / numRotations, s[2], s[3]]) + bias).reshaped(s)
    }
}

/// A per-base-channel scale shared across rotations, parameter `scale` (1, 1, C, 1, 1)
/// (neuralpredictors' `RotationEquivariantScale2DLayer`).
public final class RotationEquivariantScale2d: Module, UnaryLayer {
    /// (1, 1, C, 1, 1).
    public let scale: Tensor
    /// Rotations R.
    public let numRotations: Int
    /// A one-initialised scale for `channels` base channels.
    public init(channels: Int, numRotations: Int) {
        scale = Tensor.ones([1, 1, channels, 1, 1], requiresGrad: true)
        self.numRotations = numRotations
        super.init()
    }
    public func callAsFunction(_ x: Tensor) -> Tensor {
        let s = x.shape
        return (x.reshaped([s[0], numRotations, s[1] / numRotations, s[2], s[3]]) * scale).reshaped(s)
    }
}
