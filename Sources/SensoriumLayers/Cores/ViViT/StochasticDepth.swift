import SensoriumTensor

/// Stochastic depth (DropPath) that stores its keep probability as a buffer (`keep_prob`), like
/// ViV1T's `DropPath`: in training mode each sample (index of axis 0) of the input is kept with
/// probability `keep_prob` and then divided by it, or zeroed; the identity in evaluation mode or when
/// `keep_prob` is 1. Any shape (N, ...) in, the same shape out.
public final class StochasticDepth: Module, UnaryLayer {
    /// Probability of keeping a sample, a zero-dimensional buffer (`keep_prob` = 1 − drop rate).
    @Buffer public var keepProb: Tensor
    /// Source of the per-sample draws.
    @Transient public var generator: RandomGenerator

    override public class var keyOverrides: [String: String] { ["keepProb": "keep_prob"] }

    /// A layer dropping samples with probability `dropProbability` in [0, 1].
    public init(dropProbability: Float, generator: RandomGenerator) {
        precondition(dropProbability >= 0 && dropProbability <= 1,
                     "StochasticDepth: drop probability must be in [0, 1], got \(dropProbability)")
        keepProb = Tensor(scalar: 1 - dropProbability)
        self.generator = generator
        super.init()
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        guard isTraining else { return x }
        return dropPath(x, keep: keepProb.item, generator: generator)
    }

    override public var extraDescription: String { "keep: \(keepProb.item)" }
}
