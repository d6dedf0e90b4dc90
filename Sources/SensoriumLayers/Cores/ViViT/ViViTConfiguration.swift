import SensoriumTensor

extension ViViTCore {
    /// Hyper-parameters of the ViV1T core; the defaults are the paper's (SENSORIUM 2023, 3rd place:
    /// `train.py` defaults for `--core vivit` plus the README command).
    public struct Configuration: Codable, Equatable, Sendable {
        /// Channels of the video itself (1: grayscale).
        public var videoChannels: Int = 1
        /// Per-frame behaviour values appended to the video as constant planes (4: dilation, speed,
        /// pupil x, pupil y; `core_behavior_mode` 2).
        public var behaviorChannels: Int = 4
        /// Frame height the spatial position table is sized for.
        public var frameHeight: Int = 36
        /// Frame width the spatial position table is sized for.
        public var frameWidth: Int = 64
        /// Longest clip the temporal position table covers (`max_frame`; whole trials at inference).
        public var maxFrames: Int = 300
        /// Token width C (`core_emb_dim`).
        public var embeddingDim: Int = 112
        /// Attention heads (`core_num_heads`).
        public var heads: Int = 11
        /// Width of each head (`core_head_dim`); heads · headDim may exceed the token width.
        public var headDim: Int = 48
        /// Hidden width of the feed-forward branch (`core_mlp_dim`).
        public var mlpDim: Int = 136
        /// Blocks of the spatial transformer (`core_spatial_depth`).
        public var spatialDepth: Int = 3
        /// Blocks of the temporal transformer (`core_temporal_depth`).
        public var temporalDepth: Int = 5
        /// Tubelet length in frames (`core_temporal_patch_size`).
        public var temporalPatch: Int = 25
        /// Step between tubelets in frames (`core_temporal_patch_stride`).
        public var temporalStride: Int = 1
        /// Tubelet height and width (`core_spatial_patch_size`).
        public var spatialPatch: Int = 7
        /// Step between tubelets in pixels (`core_spatial_patch_stride`).
        public var spatialStride: Int = 2
        /// Dropout after the token embedding (`core_p_dropout`).
        public var patchDropout: Float = 0.1338
        /// Dropout on the attention output, before its projection (`core_mha_dropout`).
        public var attentionDropout: Float = 0.358
        /// Dropout inside the feed-forward branch (`core_ff_dropout`).
        public var feedForwardDropout: Float = 0.0592
        /// DropPath rate of both branches of every block (`core_drop_path`).
        public var dropPath: Float = 0.0505
        /// Query rows per block of the memory-bounded attention (affects memory and speed, not results).
        public var attentionBlockSize: Int = 64
        /// Recompute each transformer block's activations in backward instead of keeping them
        /// (`--grad_checkpointing`; off in the paper's command). Affects memory and speed, not results.
        public var gradientCheckpointing: Bool = false

        /// The paper configuration.
        public init() {}

        /// Channels of the assembled core input: video plus behaviour planes (5 in the paper: frame,
        /// dilation, speed, pupil x, pupil y). Setting it keeps ``videoChannels`` and gives the rest
        /// to ``behaviorChannels`` (a value below ``videoChannels`` fails ``validate()``).
        public var inputChannels: Int {
            get { videoChannels + behaviorChannels }
            set { behaviorChannels = newValue - videoChannels }
        }
        /// Tubelet positions (H', W') over a frame of ``frameHeight`` × ``frameWidth``.
        public var patchGrid: (height: Int, width: Int) {
            ((frameHeight - spatialPatch) / spatialStride + 1, (frameWidth - spatialPatch) / spatialStride + 1)
        }
        /// Rows of the spatial position table: H'·W' (435 in the paper).
        public var spatialPositions: Int { patchGrid.height * patchGrid.width }
        /// Rows of the temporal position table: `(maxFrames − temporalPatch) / temporalStride + 1` (276).
        public var temporalPositions: Int { (maxFrames - temporalPatch) / temporalStride + 1 }
        /// Elements of one tubelet: inputChannels · temporalPatch · spatialPatch² (6125).
        public var patchSize: Int { inputChannels * temporalPatch * spatialPatch * spatialPatch }
        /// Width of q, k and v: heads · headDim (528).
        public var innerDim: Int { heads * headDim }

        /// Throws when the configuration cannot build a core.
        public func validate() throws(ViViTConfigurationError) {
            let positive: [(String, Int)] = [
                ("videoChannels", videoChannels), ("frameHeight", frameHeight), ("frameWidth", frameWidth),
                ("maxFrames", maxFrames), ("embeddingDim", embeddingDim), ("heads", heads), ("headDim", headDim),
                ("mlpDim", mlpDim), ("temporalPatch", temporalPatch), ("temporalStride", temporalStride),
                ("spatialPatch", spatialPatch), ("spatialStride", spatialStride), ("attentionBlockSize", attentionBlockSize),
            ]
            for (name, value) in positive where value <= 0 {
                throw .invalid("\(name) must be positive, got \(value)")
            }
            for (name, value) in [("behaviorChannels", behaviorChannels), ("spatialDepth", spatialDepth),
                                  ("temporalDepth", temporalDepth)] where value < 0 {
                throw .invalid("\(name) must not be negative, got \(value)")
            }
            if spatialPatch > frameHeight || spatialPatch > frameWidth {
                throw .invalid("spatialPatch \(spatialPatch) does not fit a \(frameHeight) × \(frameWidth) frame")
            }
            if temporalPatch > maxFrames {
                throw .invalid("temporalPatch \(temporalPatch) exceeds maxFrames \(maxFrames)")
            }
            for (name, p) in [("patchDropout", patchDropout), ("attentionDropout", attentionDropout),
                              ("feedForwardDropout", feedForwardDropout), ("dropPath", dropPath)] where !(p >= 0 && p < 1) {
                throw .invalid("\(name) must be in [0, 1), got \(p)")
            }
        }
    }
}

extension ViViTCore.Configuration: CoreConfiguration {
    /// The core's name in model configurations: `{"type": "vivit", "embeddingDim": 112, …}`.
    public static var typeName: String { "vivit" }
    public static var defaults: Self { Self() }

    /// The core; an invalid configuration throws ``ComponentError/invalid(kind:type:message:)``.
    public func makeCore(generator: RandomGenerator) throws -> any Core {
        do {
            return try ViViTCore(configuration: self, generator: generator)
        } catch {
            throw ComponentError.invalid(kind: "core", type: Self.typeName, message: error.description)
        }
    }
}

/// A ViV1T core configuration that cannot be built, or an input it cannot take.
public enum ViViTConfigurationError: Error, CustomStringConvertible, Equatable {
    case invalid(String)
    public var description: String {
        switch self { case .invalid(let message): return "ViViTCore: \(message)" }
    }
}

/// The map layout ViV1T gives P patch tokens: (h, w) with h the largest divisor of P that is at most
/// ⌈√P⌉ (`find_shape`). Equals the patch grid for the paper (435 → 15 × 29), not in general.
public func vivitFeatureMapShape(patches: Int) -> (height: Int, width: Int) {
    precondition(patches > 0, "vivitFeatureMapShape: patch count must be positive, got \(patches)")
    var h = Int(Double(patches).squareRoot().rounded(.up))
    while h > 0 && patches % h != 0 { h -= 1 }
    return (h, patches / h)
}

extension Configured where Kind == CoreKind {
    /// A ``ViViTCore`` (ViV1T's core, `vivit`).
    public static func vivit(_ c: ViViTCore.Configuration = .defaults) -> Configured { Configured(c) }
}
