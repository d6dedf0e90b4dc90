import SensoriumTensor

extension SwinCore {
    /// The reference's `core_dict` (`config/neuroencoding.py` of `zhuyu-cs/Dynamic-VFM`), read with
    /// its own key names (`in_channels`, `emb_dim`, `t_dropout`, …) and translated to a
    /// ``SwinCore/Configuration``: how a PyTorch configuration (and the winner fixtures' `model.json`)
    /// becomes ours. A model configuration names the core with the Swift names instead
    /// (`{"type": "swin", "embedDim": 224}`).
    ///
    /// Absent keys keep the paper's defaults. `bias` (never read by the reference: every Linear has
    /// a bias) and `grad_checkpointing` (memory only) are accepted and have no effect on the model.
    public struct ReferenceConfiguration: Codable, Equatable, Sendable {
        /// The core options the dictionary sets.
        public var configuration: SwinCore.Configuration
        /// The reference's `bias` flag (no effect).
        public var bias: Bool
        /// The reference's gradient-checkpointing switch (no effect on results).
        public var gradientCheckpointing: Bool

        /// A dictionary for `configuration`, with the reference's `bias` and `grad_checkpointing` defaults.
        public init(_ configuration: SwinCore.Configuration = .defaults, bias: Bool = true, gradientCheckpointing: Bool = false) {
            self.configuration = configuration
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

        /// Decodes a (possibly partial) `core_dict`; absent keys keep their defaults, other keys are ignored
        /// (check them against ``CodingKeys`` to refuse them).
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            var d = SwinCore.Configuration.defaults
            d.inChannels = try c.decodeIfPresent(Int.self, forKey: .inChannels) ?? d.inChannels
            d.behaviorDim = try c.decodeIfPresent(Int.self, forKey: .behaviorDim) ?? d.behaviorDim
            d.patchSize = try c.decodeIfPresent([Int].self, forKey: .patchSize) ?? d.patchSize
            d.windowSize = try c.decodeIfPresent([Int].self, forKey: .windowSize) ?? d.windowSize
            d.embedDim = try c.decodeIfPresent(Int.self, forKey: .embedDim) ?? d.embedDim
            d.numBlocks = try c.decodeIfPresent(Int.self, forKey: .numBlocks) ?? d.numBlocks
            d.numHeads = try c.decodeIfPresent(Int.self, forKey: .numHeads) ?? d.numHeads
            d.mlpDim = try c.decodeIfPresent(Int.self, forKey: .mlpDim) ?? d.mlpDim
            d.dropout = try c.decodeIfPresent(Float.self, forKey: .dropout) ?? d.dropout
            d.dropPath = try c.decodeIfPresent(Float.self, forKey: .dropPath) ?? d.dropPath
            configuration = d
            bias = try c.decodeIfPresent(Bool.self, forKey: .bias) ?? true
            gradientCheckpointing = try c.decodeIfPresent(Bool.self, forKey: .gradientCheckpointing) ?? false
        }

        /// Encodes every key with the reference's names.
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            let d = configuration
            try c.encode(d.inChannels, forKey: .inChannels)
            try c.encode(d.behaviorDim, forKey: .behaviorDim)
            try c.encode(d.patchSize, forKey: .patchSize)
            try c.encode(d.windowSize, forKey: .windowSize)
            try c.encode(d.embedDim, forKey: .embedDim)
            try c.encode(d.numBlocks, forKey: .numBlocks)
            try c.encode(d.numHeads, forKey: .numHeads)
            try c.encode(d.mlpDim, forKey: .mlpDim)
            try c.encode(d.dropout, forKey: .dropout)
            try c.encode(d.dropPath, forKey: .dropPath)
            try c.encode(bias, forKey: .bias)
            try c.encode(gradientCheckpointing, forKey: .gradientCheckpointing)
        }
    }
}
