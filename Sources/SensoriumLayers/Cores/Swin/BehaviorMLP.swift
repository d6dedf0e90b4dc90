import SensoriumTensor

/// Dynamic-V1FM's per-block behaviour embedding: every frame's behaviour vector (dilation, speed,
/// pupil x, pupil y) goes through `Linear(b, C/2)` → tanh → dropout → `Linear(C/2, C/p)` → tanh,
/// and the embeddings of the p consecutive frames of one temporal token (p = the patch's temporal
/// extent) are concatenated into one C-wide vector per token.
///
/// Keys: `model.0.*` and `model.3.*` (`model` is [Linear, Tanh, Dropout, Linear, Tanh]).
public final class BehaviorMLP: Module, UnaryLayer {
    /// Options; the defaults are Dynamic-V1FM's (paper configuration).
    public struct Configuration: Codable, Equatable, Sendable {
        /// Behaviour features per frame.
        public var behaviorDim: Int = 4
        /// Token width C (must be even and a multiple of `framesPerToken`).
        public var embedDim: Int = 224
        /// Frames per temporal token (the patch's temporal extent).
        public var framesPerToken: Int = 2
        /// Dropout between the two Linear layers (training mode only; 0 in the reference).
        public var dropout: Float = 0

        public init(behaviorDim: Int = 4, embedDim: Int = 224, framesPerToken: Int = 2, dropout: Float = 0) {
            self.behaviorDim = behaviorDim
            self.embedDim = embedDim
            self.framesPerToken = framesPerToken
            self.dropout = dropout
        }
    }

    /// The options this layer was built with.
    @Transient public private(set) var configuration: Configuration
    /// [Linear(b, C/2), Tanh, Dropout, Linear(C/2, C/p), Tanh].
    public let model: Sequential

    /// A new embedding: Linear weights truncated-normal (σ 0.02) with zero biases, as the reference
    /// initialises them.
    public init(configuration: Configuration, generator: RandomGenerator) {
        let c = configuration
        precondition(c.behaviorDim > 0 && c.framesPerToken > 0 && c.embedDim > 0 && c.embedDim % 2 == 0
                     && c.embedDim % c.framesPerToken == 0,
                     "BehaviorMLP: embedDim \(c.embedDim) must be even and a multiple of framesPerToken \(c.framesPerToken); behaviorDim \(c.behaviorDim) positive")
        precondition(c.dropout >= 0 && c.dropout < 1, "BehaviorMLP: dropout must be in [0, 1), got \(c.dropout)")
        self.configuration = c
        let first = Linear(c.behaviorDim, c.embedDim / 2, generator: generator)
        let second = Linear(c.embedDim / 2, c.embedDim / c.framesPerToken, generator: generator)
        model = Sequential(first, Tanh(), Dropout(p: c.dropout, generator: generator), second, Tanh())
        super.init()
        for layer in [first, second] {
            layer.weight.initialize(with: .truncatedNormal(std: 0.02), generator: generator)
            layer.bias?.initialize(with: .zeros, generator: generator)
        }
    }

    /// Per-frame behaviour (B, T, b) → per-token embedding (B, T / p, C); T must be a multiple of p.
    public func callAsFunction(_ behavior: Tensor) -> Tensor {
        let c = configuration
        precondition(behavior.rank == 3 && behavior.shape[2] == c.behaviorDim && behavior.shape[1] % c.framesPerToken == 0,
                     "BehaviorMLP: expected behaviour (B, T, \(c.behaviorDim)) with T a multiple of \(c.framesPerToken), got \(behavior.shape)")
        return model(behavior).reshaped([behavior.shape[0], behavior.shape[1] / c.framesPerToken, c.embedDim])
    }

    override public var extraDescription: String {
        "\(configuration.behaviorDim) -> \(configuration.embedDim), frames per token: \(configuration.framesPerToken)"
    }
}
