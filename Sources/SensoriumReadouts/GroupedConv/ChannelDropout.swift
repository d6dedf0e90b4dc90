import SensoriumTensor
import SensoriumLayers

/// Drops whole channels: in training mode each (sample, channel) is zeroed with probability `p`
/// across all remaining axes and the kept ones are scaled by `1 / (1 − p)`; the identity in
/// evaluation mode (PyTorch's `Dropout1d` / `Dropout2d` / `Dropout3d`). Input (N, C, …), output
/// the same shape.
public final class ChannelDropout: Module, UnaryLayer {
    /// Drop probability.
    public var p: Float
    /// The source of the masks.
    @Transient public var generator: RandomGenerator

    /// Channel dropout with probability `p` in [0, 1].
    public init(p: Float, generator: RandomGenerator) {
        precondition(p >= 0 && p <= 1, "ChannelDropout: p must be in [0, 1], got \(p)")
        self.p = p
        self.generator = generator
        super.init()
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        guard isTraining, p > 0 else { return x }
        precondition(x.rank >= 2, "ChannelDropout: expected (N, C, …), got \(x.shape)")
        let keep = 1 - p
        let mask = Tensor.randomBernoulli([x.shape[0], x.shape[1]] + [Int](repeating: 1, count: x.rank - 2),
                                          p: keep, generator: generator)
        return x * (keep > 0 ? mask / keep : mask)
    }

    override public var extraDescription: String { "p: \(p)" }
}
