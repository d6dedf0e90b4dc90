import SensoriumTensor

/// The core of Dynamic-V1FM (2nd place, SENSORIUM 2023): a 3-D Swin transformer whose every block
/// adds a behaviour embedding to all tokens of a time step. Registered as the core `swin`.
///
/// Video (B, in, T, H, W) → ``PatchEmbedding3d`` (Conv3d with kernel = stride = patch, LayerNorm)
/// → tokens (B, T', H', W', C) → `numBlocks` × ``SwinBlock`` (behaviour add, shifted-window
/// attention with every block shifted by window / 2, SwiGLU + depth-wise-conv MLP; no LayerNorm
/// inside blocks) → features (B, C, T', H', W'). Behaviour is the per-frame vector
/// (dilation, speed, pupil x, pupil y), (B, 4, T); token t' covers frames p·t' … p·t' + p − 1.
///
/// **Behaviour is required**: as a model's core it reads ``ModelInput/behavior`` (B, 2, T) and
/// ``ModelInput/pupilCenter`` (B, 2, T), concatenated as the reference does
/// (`callAsFunction(_ input: ModelInput)`); the video-only form is a precondition failure.
///
/// **Time.** T' = ⌈T / p⌉ (p = `patchSize[0]`, 2 in the paper): the video is zero-padded at the end
/// to whole tokens, and so is the behaviour (the reference runs only even T = 30 and fails on odd
/// T; padding the behaviour like the video is this core's extension). A model aligns the T' outputs
/// with the **last T' frames** of the clip, as the reference trains them (token t of a 30-frame
/// clip against the response at frame 15 + t; the first half of the clip is context). T − T' =
/// T − ⌈T/p⌉ grows with T, which the constant ``burnInFrames`` cannot state; see there.
///
/// Keys are the reference's (`SwinCore` of `zhuyu-cs/Dynamic-VFM`, under `core.` in the model):
/// `patch_embedding.proj.*`, `patch_embedding.norm.*`, `transformer.blocks.<i>.{mha,mlp,b-mlp}.*`,
/// `transformer.drop_path.keep_prop`.
public final class SwinCore: Module, Core {
    /// The options of the core; the defaults are the paper's (the reference's `core_dict` in
    /// `config/neuroencoding.py`). JSON keys are these property names (a model configuration names
    /// the core `{"type": "swin", "embedDim": 224, …}`); ``ReferenceConfiguration`` reads the
    /// reference's own `core_dict` names (`in_channels`, `emb_dim`, …).
    public struct Configuration: CoreConfiguration, Equatable {
        public static var typeName: String { "swin" }
        public static var defaults: Self { Self() }

        /// Video channels (1: the frame alone; behaviour reaches the core through its MLPs).
        public var inChannels: Int = 1
        /// Behaviour features per frame: behaviour (dilation, speed) and pupil centre (x, y), 4.
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

        public init(inChannels: Int = 1, behaviorDim: Int = 4, patchSize: [Int] = [2, 2, 2], windowSize: [Int] = [8, 7, 7],
                    embedDim: Int = 224, numBlocks: Int = 4, numHeads: Int = 4, mlpDim: Int = 488, dropout: Float = 0,
                    dropPath: Float = 0) {
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
        }

        /// The video channels (``inChannels``).
        public var inputChannels: Int {
            get { inChannels }
            set { inChannels = newValue }
        }

        /// Checks every option a core needs; throws ``ComponentError/invalid(kind:type:message:)``
        /// naming the first bad one.
        public func validate() throws {
            func fail(_ message: String) -> ComponentError { .invalid(kind: "core", type: Self.typeName, message: message) }
            for (name, value) in [("inChannels", inChannels), ("behaviorDim", behaviorDim), ("embedDim", embedDim),
                                  ("numBlocks", numBlocks), ("numHeads", numHeads), ("mlpDim", mlpDim)] where value <= 0 {
                throw fail("\(name) must be positive, got \(value)")
            }
            if patchSize.count != 3 || patchSize.contains(where: { $0 <= 0 }) {
                throw fail("patchSize needs 3 positive extents (frames, height, width), got \(patchSize)")
            }
            if windowSize.count != 3 || windowSize.contains(where: { $0 <= 0 }) {
                throw fail("windowSize needs 3 positive extents (tokens), got \(windowSize)")
            }
            if embedDim % numHeads != 0 {
                throw fail("embedDim \(embedDim) must be a multiple of numHeads \(numHeads)")
            }
            if embedDim % 2 != 0 || embedDim % patchSize[0] != 0 {
                throw fail("embedDim \(embedDim) must be even and a multiple of the temporal patch \(patchSize[0]) (the behaviour MLP gives C / 2 hidden and C / pT per frame)")
            }
            for (name, p) in [("dropout", dropout), ("dropPath", dropPath)] where !(p >= 0 && p < 1) {
                throw fail("\(name) must be in [0, 1), got \(p)")
            }
        }

        public func makeCore(generator: RandomGenerator) throws -> any Core {
            try validate()
            return SwinCore(configuration: self, generator: generator)
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

    /// Frames per temporal token (p = `patchSize[0]`).
    public var framesPerToken: Int { configuration.patchSize[0] }

    /// `p − 1` (1 in the paper): the fewest frames any clip of at least one whole token (T ≥ p)
    /// has before its first output, i.e. the minimum of T − T' = T − ⌈T/p⌉ over T ≥ p, reached at
    /// T = p (one token from p frames). The Swin core's T − T' is not constant (15 for the paper's
    /// 30 frames), which the ``Core`` protocol's constant cannot express; what a ``Core``'s users
    /// need from it still holds: a clip of `burnInFrames + 1` = p frames gives one output frame
    /// (the smallest runnable trial, the probe size for the feature map), and the model aligns the
    /// T' outputs with the last T' frames from the output's own length, whatever T is.
    public var burnInFrames: Int { framesPerToken - 1 }

    /// The output shape (B, C, T', H', W') = (B, C, ⌈T/pT⌉, ⌈H/pH⌉, ⌈W/pW⌉) for a video shape (B, in, T, H, W).
    public func outputShape(for videoShape: [Int]) -> [Int] {
        precondition(videoShape.count == 5, "SwinCore: expected a video shape (B, C, T, H, W), got \(videoShape)")
        return [videoShape[0], outputChannels] + patchEmbedding.tokenGrid(for: Array(videoShape[2...]))
    }

    /// Channels-last features (B, T', H', W', C) for video (B, in, T, H, W) and per-frame behaviour
    /// (B, behaviorDim, T). When T is not a multiple of the temporal patch, the behaviour is
    /// zero-padded at the end like the video.
    public func tokens(video: Tensor, behavior: Tensor) -> Tensor {
        precondition(video.rank == 5 && behavior.rank == 3 && behavior.shape[0] == video.shape[0]
                     && behavior.shape[1] == configuration.behaviorDim && behavior.shape[2] == video.shape[2],
                     "SwinCore: behaviour \(behavior.shape) must be (B, \(configuration.behaviorDim), T) for video \(video.shape)")
        let pad = (framesPerToken - behavior.shape[2] % framesPerToken) % framesPerToken
        let perFrame = pad > 0 ? behavior.padded([(0, 0), (0, 0), (0, pad)]) : behavior
        return transformer(patchEmbedding(video), behavior: perFrame.transposed(1, 2))
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

    /// Features (B, C, T', H', W') for a model input: the video, and the behaviour vector of every
    /// frame made of ``ModelInput/behavior`` (B, 2, T) followed by ``ModelInput/pupilCenter``
    /// (B, 2, T) as the reference concatenates them (a precondition failure when the behaviour is
    /// missing or the parts do not add up to `behaviorDim`).
    public func callAsFunction(_ input: ModelInput) -> Tensor {
        guard let behavior = input.behavior else {
            preconditionFailure("SwinCore (Dynamic-V1FM) needs the behaviour: the model input of mouse \(input.mouse) has none")
        }
        let parts = [behavior] + (input.pupilCenter.map { [$0] } ?? [])
        let vector = parts.count == 1 ? behavior : Tensor.concatenate(parts, axis: 1)
        precondition(vector.shape[1] == configuration.behaviorDim,
                     "SwinCore: the behaviour \(behavior.shape) and pupil centre \(input.pupilCenter?.shape.description ?? "(none)") give \(vector.shape[1]) features per frame, the core reads behaviorDim = \(configuration.behaviorDim)")
        return callAsFunction(video: input.video, behavior: vector)
    }

    /// Not available: this core reads behaviour in every block. A precondition failure; call it
    /// with a ``ModelInput`` or ``callAsFunction(video:behavior:)``.
    public func callAsFunction(_ x: Tensor) -> Tensor {
        preconditionFailure("SwinCore (Dynamic-V1FM) needs behaviour in every block: call it with a ModelInput (video \(x.shape), behaviour (B, 2, T) and pupil centre (B, 2, T)) or callAsFunction(video:behavior:), not with the video alone")
    }

    /// The core has no regulariser (its training uses none); a zero scalar.
    public func regularizer() -> Tensor { Tensor(scalar: 0) }
}

extension Configured where Kind == CoreKind {
    /// A ``SwinCore`` (Dynamic-V1FM's core, `swin`).
    public static func swin(_ c: SwinCore.Configuration = .defaults) -> Configured { Configured(c) }
}
