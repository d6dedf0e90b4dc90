import SensoriumTensor

/// Video to channels-last patch tokens: zero-pad (T, H, W) at the end to multiples of the patch,
/// `Conv3d(in, C, kernel = stride = patch)`, permute to (B, T', H', W', C), LayerNorm(C).
///
/// Keys: `proj.*` (Conv3d), `norm.*` (LayerNorm).
public final class PatchEmbedding3d: Module, UnaryLayer {
    /// Options; the defaults are Dynamic-V1FM's (paper configuration).
    public struct Configuration: Codable, Equatable, Sendable {
        /// Input channels.
        public var inChannels: Int = 1
        /// Token width C.
        public var embedDim: Int = 224
        /// Patch (pT, pH, pW).
        public var patchSize: [Int] = [2, 2, 2]
        /// LayerNorm epsilon.
        public var eps: Float = 1e-5

        public init(inChannels: Int = 1, embedDim: Int = 224, patchSize: [Int] = [2, 2, 2], eps: Float = 1e-5) {
            self.inChannels = inChannels
            self.embedDim = embedDim
            self.patchSize = patchSize
            self.eps = eps
        }
    }

    /// The options this layer was built with.
    @Transient public private(set) var configuration: Configuration
    /// The patch projection.
    public let proj: Conv3d
    /// Normalisation of each token.
    public let norm: LayerNorm

    /// A new embedding with PyTorch's default Conv3d initialisation and LayerNorm at identity.
    public init(configuration: Configuration, generator: RandomGenerator) {
        let c = configuration
        precondition(c.patchSize.count == 3 && c.patchSize.allSatisfy { $0 > 0 } && c.inChannels > 0 && c.embedDim > 0,
                     "PatchEmbedding3d: need 3 positive patch extents and positive channels, got \(c)")
        self.configuration = c
        proj = Conv3d(c.inChannels, c.embedDim, kernelSize: .init(c.patchSize), stride: .init(c.patchSize), generator: generator)
        norm = LayerNorm(c.embedDim, eps: c.eps)
        super.init()
    }

    /// The token grid (T', H', W') for a (T, H, W) video.
    public func tokenGrid(for videoSize: [Int]) -> [Int] {
        (0..<3).map { (videoSize[$0] + configuration.patchSize[$0] - 1) / configuration.patchSize[$0] }
    }

    /// Video (B, in, T, H, W) → tokens (B, T', H', W', C).
    public func callAsFunction(_ x: Tensor) -> Tensor {
        let c = configuration
        precondition(x.rank == 5 && x.shape[1] == c.inChannels,
                     "PatchEmbedding3d: expected video (B, \(c.inChannels), T, H, W), got \(x.shape)")
        let pads = (0..<3).map { (c.patchSize[$0] - x.shape[$0 + 2] % c.patchSize[$0]) % c.patchSize[$0] }
        let padded = pads.contains { $0 > 0 } ? x.padded([(0, 0), (0, 0), (0, pads[0]), (0, pads[1]), (0, pads[2])]) : x
        return norm(proj(padded).permuted([0, 2, 3, 4, 1]))
    }
}
