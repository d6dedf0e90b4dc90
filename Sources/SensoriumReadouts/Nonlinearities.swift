import SensoriumTensor
import SensoriumLayers

/// `ELU(x + offset) + 1`, the SENSORIUM 2023 baselines' output nonlinearity: strictly positive,
/// linear above the offset.
public final class ELUPlusOne: Module, UnaryLayer {
    /// Added before the ELU (the reference's `elu_offset`, 0 by default).
    public var offset: Float

    /// The nonlinearity with the given offset.
    public init(offset: Float = 0) {
        self.offset = offset
        super.init()
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        (offset == 0 ? x : x + offset).elu(alpha: 1) + 1
    }

    override public var extraDescription: String { offset == 0 ? "" : "offset: \(offset)" }
}

/// Softplus with a fixed or learned sharpness: `log(1 + e^(βx)) / β`, linear where `βx > threshold`.
///
/// DwiseNeuro found a small fixed β (≈ 0.07) clearly better than ELU + 1. With `learnable`, β is a
/// parameter (key `beta`) that training adjusts.
public final class SoftplusOutput: Module, UnaryLayer {
    /// β as a trainable scalar, when learnable.
    public private(set) var beta: Tensor?
    private let fixedBeta: Float
    /// Above `β·x > threshold` the output is `x` (PyTorch's default 20).
    public let threshold: Float

    /// Softplus with sharpness `beta` (positive), fixed or learnable.
    public init(beta: Float = 1, learnable: Bool = false, threshold: Float = 20) {
        precondition(beta > 0, "SoftplusOutput: beta must be positive, got \(beta)")
        fixedBeta = beta
        self.threshold = threshold
        if learnable { self.beta = Tensor(scalar: beta, requiresGrad: true) }
        super.init()
    }

    /// The current β.
    public var currentBeta: Float { beta?.item ?? fixedBeta }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        guard let beta else { return x.softplus(beta: fixedBeta, threshold: threshold) }
        return (x * beta).softplus(beta: 1, threshold: threshold) / beta
    }

    override public var extraDescription: String {
        "beta: \(currentBeta)\(beta != nil ? " (learned)" : ""), threshold: \(threshold)"
    }
}

/// `e^x`, the output nonlinearity of ViV1T and of `neuralpredictors`' `Exp` activation.
public final class Exponential: Module, UnaryLayer {
    override public init() { super.init() }
    public func callAsFunction(_ x: Tensor) -> Tensor { x.exp() }
}
