import SensoriumTensor

/// One block of Dynamic-V1FM's 3-D Swin core, without any LayerNorm:
/// `x += BehaviorMLP(behaviour)` broadcast over (H, W); `x += DropPath(W-MSA(x))`;
/// `x += DropPath(MLP(x))`.
///
/// Keys: `mha.*` (``ShiftedWindowAttention3d``), `mlp.*` (``SwinMLP``), `b-mlp.*` (``BehaviorMLP``).
/// The drop-path layer belongs to the enclosing ``SwinTransformer``.
public final class SwinBlock: Module {
    /// Options; the defaults are Dynamic-V1FM's (paper configuration).
    public struct Configuration: Codable, Equatable, Sendable {
        /// The attention layer.
        public var attention = ShiftedWindowAttention3d.Configuration()
        /// The feed-forward part.
        public var mlp = SwinMLP.Configuration()
        /// The behaviour embedding.
        public var behavior = BehaviorMLP.Configuration()

        public init(attention: ShiftedWindowAttention3d.Configuration = .init(), mlp: SwinMLP.Configuration = .init(),
                    behavior: BehaviorMLP.Configuration = .init()) {
            self.attention = attention
            self.mlp = mlp
            self.behavior = behavior
        }
    }

    /// Shifted-window attention.
    public let mha: ShiftedWindowAttention3d
    /// Feed-forward part.
    public let mlp: SwinMLP
    /// Behaviour embedding.
    public let behaviorMLP: BehaviorMLP

    /// A new block.
    public init(configuration: Configuration, generator: RandomGenerator) {
        let c = configuration
        precondition(c.attention.embedDim == c.mlp.embedDim && c.attention.embedDim == c.behavior.embedDim,
                     "SwinBlock: attention (\(c.attention.embedDim)), MLP (\(c.mlp.embedDim)) and behaviour (\(c.behavior.embedDim)) widths differ")
        mha = ShiftedWindowAttention3d(configuration: c.attention, generator: generator)
        mlp = SwinMLP(configuration: c.mlp, generator: generator)
        behaviorMLP = BehaviorMLP(configuration: c.behavior, generator: generator)
        super.init()
    }

    override public func directItems() -> [(key: String, item: ModuleItem)] {
        [("mha", .module(mha)), ("mlp", .module(mlp)), ("b-mlp", .module(behaviorMLP))]
    }

    /// The residual stream after the behaviour embedding is added: x (B, T', H', W', C) and
    /// behaviour (B, T, b) with T = p · T'.
    public func addingBehavior(_ x: Tensor, behavior: Tensor) -> Tensor {
        let embedding = behaviorMLP(behavior)
        precondition(x.rank == 5 && embedding.shape == [x.shape[0], x.shape[1], x.shape[4]],
                     "SwinBlock: tokens \(x.shape) do not match the behaviour embedding \(embedding.shape)")
        return x + embedding.reshaped([x.shape[0], x.shape[1], 1, 1, x.shape[4]])
    }

    /// x (B, T', H', W', C), behaviour (B, T, b) → (B, T', H', W', C); `dropPath` wraps both residual branches.
    public func callAsFunction(_ x: Tensor, behavior: Tensor, dropPath: (Tensor) -> Tensor = { $0 }) -> Tensor {
        var y = addingBehavior(x, behavior: behavior)
        y = dropPath(mha(y)) + y
        return dropPath(mlp(y)) + y
    }
}
