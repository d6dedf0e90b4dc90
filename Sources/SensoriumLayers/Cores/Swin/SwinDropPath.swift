import SensoriumTensor

/// Dynamic-V1FM's stochastic depth: in training mode each sample's input (axis 0) is kept with
/// probability `keep_prop` and divided by it, otherwise zeroed (``dropPath(_:keep:scaleByKeep:generator:)``);
/// the identity in evaluation mode or when `keep_prop == 1`.
///
/// Key: the persistent 0-d buffer `keep_prop`. One instance serves every residual branch of the
/// transformer, drawing anew at each call.
public final class SwinDropPath: Module, UnaryLayer {
    /// The keep probability 1 − p, a 0-d buffer.
    @Buffer public var keepProbability: Tensor
    /// Source of the per-sample draws.
    @Transient public var generator: RandomGenerator

    override public class var keyOverrides: [String: String] { ["keepProbability": "keep_prop"] }

    /// Drops a sample with probability `p` in [0, 1].
    public init(p: Float, generator: RandomGenerator) {
        precondition(p >= 0 && p <= 1, "SwinDropPath: p must be in [0, 1], got \(p)")
        keepProbability = Tensor(scalar: 1 - p)
        self.generator = generator
        super.init()
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        guard isTraining else { return x }
        return dropPath(x, keep: keepProbability.item, generator: generator)
    }

    override public var extraDescription: String { "keep: \(keepProbability.item)" }
}
