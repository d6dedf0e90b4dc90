import SensoriumTensor

/// BatchNorm followed by an optional activation, keyed `bn` and `act` (DwiseNeuro's `BatchNormAct`).
///
/// Shapes are those of the wrapped ``BatchNorm`` (e.g. (N, C, L) for ``BatchNorm1d``,
/// (N, C, T, H, W) for ``BatchNorm3d``); the output has the input's shape.
public final class BatchNormActivation: Module, UnaryLayer {
    /// The normalisation (`bn`).
    public let bn: BatchNorm
    /// The activation (`act`), or nil.
    public let act: (any UnaryLayer)?

    /// Wraps `bn` and `act`.
    public init(_ bn: BatchNorm, activation: (any UnaryLayer)?) {
        self.bn = bn
        self.act = activation
        super.init()
    }

    /// A SiLU activation runs fused into the normalisation (one pass, one stored tensor less).
    public func callAsFunction(_ x: Tensor) -> Tensor {
        if act is SiLU { return bn(x, activation: .silu) }
        let y = bn(x)
        return act.map { $0(y) } ?? y
    }
}
