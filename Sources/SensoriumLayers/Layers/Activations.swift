import SensoriumTensor

/// `ELU(x) = x` for x > 0, `alpha·(eˣ − 1)` otherwise (PyTorch's `nn.ELU`).
public final class ELU: Module, UnaryLayer {
    /// Scale of the negative branch.
    public let alpha: Float
    /// An ELU with the given `alpha` (default 1).
    public init(alpha: Float = 1) { self.alpha = alpha; super.init() }
    public func callAsFunction(_ x: Tensor) -> Tensor { x.elu(alpha: alpha) }
    override public var extraDescription: String { alpha == 1 ? "" : "alpha: \(alpha)" }
}

/// `SiLU(x) = x·σ(x)` (also called swish; PyTorch's `nn.SiLU`).
public final class SiLU: Module, UnaryLayer {
    /// A SiLU.
    override public init() { super.init() }
    public func callAsFunction(_ x: Tensor) -> Tensor { x.silu() }
}

/// `GELU(x) = x·Φ(x)`, exact (erf) or with the tanh approximation (PyTorch's `nn.GELU`).
public final class GELU: Module, UnaryLayer {
    /// Which formula is used.
    public let approximate: GELUApproximation
    /// A GELU; `.none` (the default) is the exact erf form.
    public init(approximate: GELUApproximation = .none) { self.approximate = approximate; super.init() }
    public func callAsFunction(_ x: Tensor) -> Tensor { x.gelu(approximate: approximate) }
    override public var extraDescription: String { approximate == .none ? "" : "approximate: \(approximate)" }
}

/// Hyperbolic tangent.
public final class Tanh: Module, UnaryLayer {
    /// A tanh.
    override public init() { super.init() }
    public func callAsFunction(_ x: Tensor) -> Tensor { x.tanh() }
}

/// Logistic sigmoid `1 / (1 + e⁻ˣ)`.
public final class Sigmoid: Module, UnaryLayer {
    /// A sigmoid.
    override public init() { super.init() }
    public func callAsFunction(_ x: Tensor) -> Tensor { x.sigmoid() }
}

/// `max(x, 0)`.
public final class ReLU: Module, UnaryLayer {
    /// A ReLU.
    override public init() { super.init() }
    public func callAsFunction(_ x: Tensor) -> Tensor { x.relu() }
}

/// `Softplus(x) = log(1 + e^(βx)) / β`, linear where `βx > threshold` (PyTorch's `nn.Softplus`).
public final class Softplus: Module, UnaryLayer {
    /// Sharpness β.
    public let beta: Float
    /// Above `β·x > threshold` the function is the identity.
    public let threshold: Float
    /// A softplus with PyTorch's defaults β = 1, threshold = 20.
    public init(beta: Float = 1, threshold: Float = 20) {
        self.beta = beta
        self.threshold = threshold
        super.init()
    }
    public func callAsFunction(_ x: Tensor) -> Tensor { x.softplus(beta: beta, threshold: threshold) }
    override public var extraDescription: String { "beta: \(beta), threshold: \(threshold)" }
}

/// Returns its input unchanged.
public final class Identity: Module, UnaryLayer {
    /// An identity layer.
    override public init() { super.init() }
    public func callAsFunction(_ x: Tensor) -> Tensor { x }
}

/// A parameter-free layer defined by a closure, for one-off transforms inside a ``Sequential``
/// (for example `Lambda("elu+1") { $0.elu() + 1 }`).
public final class Lambda: Module, UnaryLayer {
    /// A short name, shown when printing.
    public let name: String
    private let body: (Tensor) -> Tensor
    /// A layer applying `body`.
    public init(_ name: String = "lambda", _ body: @escaping (Tensor) -> Tensor) {
        self.name = name
        self.body = body
        super.init()
    }
    public func callAsFunction(_ x: Tensor) -> Tensor { body(x) }
    override public var extraDescription: String { name }
}

/// neuralpredictors' `AdaptiveELU`: `ELU(x − xShift) + yShift` (parameter-free).
public final class AdaptiveELU: Module, UnaryLayer {
    /// Shift of the input.
    public let xShift: Float
    /// Shift of the output.
    public let yShift: Float
    /// An ELU shifted by `xShift` along x and `yShift` along y.
    public init(xShift: Float = 0, yShift: Float = 0) {
        self.xShift = xShift
        self.yShift = yShift
        super.init()
    }
    public func callAsFunction(_ x: Tensor) -> Tensor {
        let shifted = xShift == 0 ? x : x - xShift
        let y = shifted.elu()
        return yShift == 0 ? y : y + yShift
    }
    override public var extraDescription: String { "xShift: \(xShift), yShift: \(yShift)" }
}
