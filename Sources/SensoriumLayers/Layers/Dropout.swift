import SensoriumTensor

/// Zeroes each element with probability `p` in training mode and scales the rest by `1 / (1 − p)`;
/// the identity in evaluation mode (PyTorch's `nn.Dropout`). Draws come from `generator`.
public final class Dropout: Module, UnaryLayer {
    /// Drop probability.
    public var p: Float
    /// The source of the random masks (may be shared with other layers).
    @Transient public var generator: RandomGenerator

    /// A dropout layer with drop probability `p` in [0, 1].
    public init(p: Float = 0.5, generator: RandomGenerator) {
        precondition(p >= 0 && p <= 1, "Dropout: p must be in [0, 1], got \(p)")
        self.p = p
        self.generator = generator
        super.init()
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        dropout(x, p: p, training: isTraining, generator: generator)
    }

    override public var extraDescription: String { "p: \(p)" }
}

/// Channel-wise dropout (PyTorch's `nn.Dropout1d` / `Dropout2d` / `Dropout3d`): in training mode each
/// whole channel `x[n, c, …]` of an (N, C, …) input is zeroed with probability `p` and kept channels
/// are scaled by `1 / (1 − p)`; the identity in evaluation mode. Output shape = input shape. The
/// draws are those of ``/SensoriumTensor/featureDropout(_:p:training:generator:)``. SensoriumReadouts
/// names it `ChannelDropout` (the channel dropout of `GroupedConvReadout`).
public final class FeatureDropout: Module, UnaryLayer {
    /// Drop probability per channel.
    public var p: Float
    /// The source of the random masks.
    @Transient public var generator: RandomGenerator

    /// A channel dropout layer with drop probability `p` in [0, 1].
    public init(p: Float = 0.5, generator: RandomGenerator) {
        precondition(p >= 0 && p <= 1, "FeatureDropout: p must be in [0, 1], got \(p)")
        self.p = p
        self.generator = generator
        super.init()
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        featureDropout(x, p: p, training: isTraining, generator: generator)
    }

    override public var extraDescription: String { "p: \(p)" }
}

/// Stochastic depth: in training mode, drops the whole input of a sample (axis 0) with
/// probability `p` and scales kept samples by `1 / (1 − p)`; the identity in evaluation mode.
/// Used on residual branches (`x + DropPath(f(x))`), as in timm's `DropPath`.
public final class DropPath: Module, UnaryLayer {
    /// Drop probability per sample.
    public var p: Float
    /// Whether kept samples are divided by the keep probability (the usual choice).
    public var scaleByKeep: Bool
    /// The source of the random draws.
    @Transient public var generator: RandomGenerator

    /// A drop-path layer with drop probability `p` in [0, 1].
    public init(p: Float, scaleByKeep: Bool = true, generator: RandomGenerator) {
        precondition(p >= 0 && p <= 1, "DropPath: p must be in [0, 1], got \(p)")
        self.p = p
        self.scaleByKeep = scaleByKeep
        self.generator = generator
        super.init()
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        guard isTraining, p > 0 else { return x }
        return dropPath(x, keep: 1 - p, scaleByKeep: scaleByKeep, generator: generator)
    }

    override public var extraDescription: String { "p: \(p)" }
}

/// The stochastic-depth draw every drop-path layer uses (``DropPath``, and the winners' variants
/// that keep their probability in a buffer): each sample (index of axis 0) of `x` is kept with
/// probability `keep` (one uniform draw from `generator` per sample) and, with `scaleByKeep`,
/// divided by it; dropped samples are zero. Any shape (N, …) in, the same shape out.
public func dropPath(_ x: Tensor, keep: Float, scaleByKeep: Bool = true, generator: RandomGenerator) -> Tensor {
    guard keep < 1, x.rank >= 1 else { return x }
    let scale: Float = scaleByKeep && keep > 0 ? 1 / keep : 1
    let mask = Tensor(uninitializedShape: [x.shape[0]] + [Int](repeating: 1, count: x.rank - 1))
    for i in 0..<mask.count {
        mask.storage.pointer[i] = generator.nextUniform() < keep ? scale : 0
    }
    return x * mask
}
