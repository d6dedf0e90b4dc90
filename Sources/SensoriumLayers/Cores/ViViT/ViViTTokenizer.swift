import SensoriumTensor

/// ViV1T's tubelet tokenizer (`patch_mode` 0, `pos_encoding` 3): overlapping space-time patches,
/// LayerNorm over each patch, a linear embedding, LayerNorm, dropout, plus learned spatial and
/// temporal position tables.
///
/// (B, C, T, H, W) → (B, T', P, E) with `T' = (T − kT)/sT + 1` and P = H'·W' patches per frame:
/// ```
/// tokens = Dropout(LN(Linear(LN(unfold(x)))))            // tokenizer.0 … tokenizer.4 (first three fused)
///        + spatial_pos_embedding[:, :, :P] + temporal_pos_embedding[:, :T']
/// ```
/// The tables are sized for the configured frame and for `maxFrames` (whole trials), and sliced to
/// the input; both start N(0, 1). Keys: `tokenizer.1.weight/bias` (LayerNorm over the patch),
/// `tokenizer.2.weight/bias` (Linear), `tokenizer.3.weight/bias` (LayerNorm), `spatial_pos_embedding`
/// (1, 1, P, E), `temporal_pos_embedding` (1, T'max, 1, E).
public final class ViViTTokenizer: Module, UnaryLayer {
    /// unfold → LayerNorm(patch) → Linear(patch, E) → LayerNorm(E) → Dropout.
    public let tokenizer: Sequential
    /// (1, 1, P, E).
    public let spatialPosEmbedding: Tensor
    /// (1, T'max, 1, E).
    public let temporalPosEmbedding: Tensor
    // The layers of `tokenizer`, typed. The forward pass runs unfold → LayerNorm → Linear as one fused
    // op (``patchEmbedding3d(_:kernel:stride:normWeight:normBias:eps:weight:bias:rowsPerChunk:)``) with
    // their parameters, so the (B, T', P, patch) tensor is never materialised.
    @Transient private var unfold: TubeletUnfold
    @Transient private var patchNorm: LayerNorm
    @Transient private var embedding: Linear
    @Transient private var tokenNorm: LayerNorm
    @Transient private var tokenDropout: Dropout

    override public class var keyOverrides: [String: String] {
        ["spatialPosEmbedding": "spatial_pos_embedding", "temporalPosEmbedding": "temporal_pos_embedding"]
    }

    /// The tokenizer of a core with configuration `c`, initial weights drawn from `generator`.
    public init(configuration c: ViViTCore.Configuration, generator: RandomGenerator) {
        let unfold = TubeletUnfold(kernel: [c.temporalPatch, c.spatialPatch, c.spatialPatch],
                                   stride: [c.temporalStride, c.spatialStride, c.spatialStride])
        let patchNorm = LayerNorm(c.patchSize)
        let embedding = Linear(c.patchSize, c.embeddingDim, generator: generator)
        let tokenNorm = LayerNorm(c.embeddingDim)
        let tokenDropout = Dropout(p: c.patchDropout, generator: generator)
        tokenizer = Sequential(unfold, patchNorm, embedding, tokenNorm, tokenDropout)
        (self.unfold, self.patchNorm, self.embedding, self.tokenNorm, self.tokenDropout) =
            (unfold, patchNorm, embedding, tokenNorm, tokenDropout)
        spatialPosEmbedding = Tensor.randomNormal([1, 1, c.spatialPositions, c.embeddingDim], generator: generator,
                                                  requiresGrad: true)
        temporalPosEmbedding = Tensor.randomNormal([1, c.temporalPositions, 1, c.embeddingDim], generator: generator,
                                                   requiresGrad: true)
        super.init()
    }

    /// (B, C, T, H, W) → (B, T', P, E), position embeddings included.
    public func callAsFunction(_ x: Tensor) -> Tensor {
        let embedded = patchEmbedding3d(x, kernel: unfold.kernel, stride: unfold.stride, normWeight: patchNorm.weight,
                                        normBias: patchNorm.bias, eps: patchNorm.eps, weight: embedding.weight,
                                        bias: embedding.bias)
        let tokens = tokenDropout(tokenNorm(embedded))
        let frames = tokens.shape[1], patches = tokens.shape[2]
        precondition(patches <= spatialPosEmbedding.shape[2],
                     "ViViTTokenizer: input \(x.shape) gives \(patches) patches per frame, the spatial table has \(spatialPosEmbedding.shape[2])")
        precondition(frames <= temporalPosEmbedding.shape[1],
                     "ViViTTokenizer: input \(x.shape) gives \(frames) tubelets, the temporal table has \(temporalPosEmbedding.shape[1]) (raise maxFrames)")
        return tokens + spatialPosEmbedding.sliced(axis: 2, range: 0..<patches)
            + temporalPosEmbedding.sliced(axis: 1, range: 0..<frames)
    }
}
