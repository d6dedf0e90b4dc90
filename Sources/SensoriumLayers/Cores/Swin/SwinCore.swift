import SensoriumTensor

/// The core of Dynamic-V1FM (2nd place, SENSORIUM 2023): a 3-D Swin transformer whose every block
/// adds a behaviour embedding to all tokens of a time step.
///
/// Video (B, in, T, H, W) → ``PatchEmbedding3d`` (Conv3d with kernel = stride = patch, LayerNorm)
/// → tokens (B, T', H', W', C) → `numBlocks` × ``SwinBlock`` (behaviour add, shifted-window
/// attention with every block shifted by window / 2, SwiGLU + depth-wise-conv MLP; no LayerNorm
/// inside blocks) → features (B, C, T', H', W'). Behaviour is the per-frame vector
/// (dilation, speed, pupil x, pupil y), (B, 4, T); token t' covers frames p·t' … p·t' + p − 1.
///
/// Keys are the reference's (`SwinCore` of `zhuyu-cs/Dynamic-VFM`, under `core.` in the model):
/// `patch_embedding.proj.*`, `patch_embedding.norm.*`, `transformer.blocks.<i>.{mha,mlp,b-mlp}.*`,
/// `transformer.drop_path.keep_prop`.
public final class SwinCore: Module {
    /// The reference's `core_dict`; the defaults are the paper's (`config/neuroencoding.py`).
    /// Coded with the reference's key names (`in_channels`, `emb_dim`, `t_dropout`, …).
    public struct Configuration: Codable, Equatable, Sendable {
        /// Video channels.
        public var inChannels: Int = 1
        /// Behaviour features per frame (dilation, speed, pupil x, pupil y).
        public var behaviorDim: Int = 4
        /// Patch (pT, pH, pW) in frames and pixels.
        public var patchSize: [Int] = [2, 2, 2]
        /// Attention window (Wd, Wh, Ww) in tokens; every block shifts by window / 2.
        public var windowSize: [Int] = [8, 7, 7]
        /// Token width C.
        public var embedDim: Int = 224
        /// Number of blocks.
        public var numBlocks: Int = 4
        /// Attention heads.
        public var numHeads: Int = 4
        /// Hidden width of the MLP (after SwiGLU).
        public var mlpDim: Int = 488
        /// Dropout after the attention projection and after the MLP (training mode only).
        public var dropout: Float = 0
        /// Stochastic-depth rate of every residual branch.
        public var dropPath: Float = 0
        /// The reference's `bias` option, which it never reads (every Linear has a bias); kept so
        /// configurations round-trip.
        public var bias: Bool = true
        /// The reference's gradient checkpointing switch (memory only; no effect on results here).
        public var gradientCheckpointing: Bool = false

        public init(inChannels: Int = 1, behaviorDim: Int = 4, patchSize: [Int] = [2, 2, 2], windowSize: [Int] = [8, 7, 7],
                    embedDim: Int = 224, numBlocks: Int = 4, numHeads: Int = 4, mlpDim: Int = 488, dropout: Float = 0,
                    dropPath: Float = 0, bias: Bool = true, gradientCheckpointing: Bool = false) {
            self.inChannels = inChannels
            self.behaviorDim = behaviorDim
            self.patchSize = patchSize
            self.windowSize = windowSize
            self.embedDim = embedDim
            self.numBlocks = numBlocks
            self.numHeads = numHeads
            self.mlpDim = mlpDim
            self.dropout = dropout
            self.dropPath = dropPath
            self.bias = bias
            self.gradientCheckpointing = gradientCheckpointing
        }

        /// The reference's key names.
        public enum CodingKeys: String, CodingKey, CaseIterable {
            case inChannels = "in_channels", behaviorDim = "behavior_dim", patchSize = "patch_size"
            case windowSize = "window_size", embedDim = "emb_dim", numBlocks = "num_blocks", numHeads = "num_heads"
            case mlpDim = "mlp_dim", dropout = "t_dropout", dropPath = "drop_path", bias
            case gradientCheckpointing = "grad_checkpointing"
        }

        /// Decodes a (possibly partial) `core_dict`; absent keys keep their defaults.
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            let d = Configuration()
            inChannels = try c.decodeIfPresent(Int.self, forKey: .inChannels) ?? d.inChannels
            behaviorDim = try c.decodeIfPresent(Int.self, forKey: .behaviorDim) ?? d.behaviorDim
            patchSize = try c.decodeIfPresent([Int].self, forKey: .patchSize) ?? d.patchSize
            windowSize = try c.decodeIfPresent([Int].self, forKey: .windowSize) ?? d.windowSize
            embedDim = try c.decodeIfPresent(Int.self, forKey: .embedDim) ?? d.embedDim
            numBlocks = try c.decodeIfPresent(Int.self, forKey: .numBlocks) ?? d.numBlocks
            numHeads = try c.decodeIfPresent(Int.self, forKey: .numHeads) ?? d.numHeads
            mlpDim = try c.decodeIfPresent(Int.self, forKey: .mlpDim) ?? d.mlpDim
            dropout = try c.decodeIfPresent(Float.self, forKey: .dropout) ?? d.dropout
            dropPath = try c.decodeIfPresent(Float.self, forKey: .dropPath) ?? d.dropPath
            bias = try c.decodeIfPresent(Bool.self, forKey: .bias) ?? d.bias
            gradientCheckpointing = try c.decodeIfPresent(Bool.self, forKey: .gradientCheckpointing) ?? d.gradientCheckpointing
        }

        /// The patch embedding's options.
        public var patchEmbedding: PatchEmbedding3d.Configuration {
            .init(inChannels: inChannels, embedDim: embedDim, patchSize: patchSize)
        }

        /// The transformer's options: `numBlocks` identical blocks and the drop path.
        public var transformer: SwinTransformer.Configuration {
            .init(blocks: Array(repeating: block, count: numBlocks), dropPath: dropPath)
        }

        /// Every block's options (all blocks are alike and shifted by window / 2).
        public var block: SwinBlock.Configuration {
            .init(attention: .init(embedDim: embedDim, windowSize: windowSize, shiftSize: windowSize.map { $0 / 2 },
                                   numHeads: numHeads, dropout: dropout),
                  mlp: .init(embedDim: embedDim, hiddenDim: mlpDim, dropout: dropout),
                  behavior: .init(behaviorDim: behaviorDim, embedDim: embedDim, framesPerToken: patchSize.first ?? 1))
        }
    }

    /// The options this core was built with.
    @Transient public private(set) var configuration: Configuration
    /// Video → tokens.
    public let patchEmbedding: PatchEmbedding3d
    /// The blocks.
    public let transformer: SwinTransformer

    override public class var keyOverrides: [String: String] { ["patchEmbedding": "patch_embedding"] }

    /// A new core, initialised as the reference does (truncated-normal σ 0.02 Linear weights and
    /// bias tables, zero Linear biases, PyTorch's default convolutions).
    public init(configuration: Configuration = .init(), generator: RandomGenerator) {
        precondition(configuration.numBlocks > 0 && configuration.patchSize.count == 3,
                     "SwinCore: need at least one block and a 3-D patch, got \(configuration)")
        self.configuration = configuration
        patchEmbedding = PatchEmbedding3d(configuration: configuration.patchEmbedding, generator: generator)
        transformer = SwinTransformer(configuration: configuration.transformer, generator: generator)
        super.init()
    }

    /// Number of feature channels C of the output.
    public var outputChannels: Int { configuration.embedDim }

    /// The output shape (B, C, T', H', W') for a video shape (B, in, T, H, W).
    public func outputShape(for videoShape: [Int]) -> [Int] {
        precondition(videoShape.count == 5, "SwinCore: expected a video shape (B, C, T, H, W), got \(videoShape)")
        return [videoShape[0], outputChannels] + patchEmbedding.tokenGrid(for: Array(videoShape[2...]))
    }

    /// Channels-last features (B, T', H', W', C) for video (B, in, T, H, W) and per-frame behaviour
    /// (B, behaviorDim, T), T a multiple of the temporal patch.
    public func tokens(video: Tensor, behavior: Tensor) -> Tensor {
        precondition(video.rank == 5 && behavior.rank == 3 && behavior.shape[0] == video.shape[0]
                     && behavior.shape[1] == configuration.behaviorDim && behavior.shape[2] == video.shape[2],
                     "SwinCore: behaviour \(behavior.shape) must be (B, \(configuration.behaviorDim), T) for video \(video.shape)")
        return transformer(patchEmbedding(video), behavior: behavior.transposed(1, 2))
    }

    /// Features (B, C, T', H', W') for video (B, in, T, H, W) and per-frame behaviour (B, behaviorDim, T).
    public func callAsFunction(video: Tensor, behavior: Tensor) -> Tensor {
        tokens(video: video, behavior: behavior).permuted([0, 4, 1, 2, 3])
    }

    /// Features for video, behaviour (B, 2, T) = (dilation, speed) and pupil centre (B, 2, T), which
    /// are concatenated into the behaviour vector as the reference does.
    public func callAsFunction(video: Tensor, behavior: Tensor, pupilCenter: Tensor) -> Tensor {
        callAsFunction(video: video, behavior: Tensor.concatenate([behavior, pupilCenter], axis: 1))
    }

    /// The core has no regulariser (its training uses none); a zero scalar.
    public func regularizer() -> Tensor { Tensor(scalar: 0) }
}
