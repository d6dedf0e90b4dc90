import SensoriumTensor

/// ViV1T's tubelet tokenizer (`patch_mode` 0, `pos_encoding` 3): overlapping space-time patches,
/// LayerNorm over each patch, a linear embedding, LayerNorm, dropout, plus learned spatial and
/// temporal position tables.
///
/// (B, C, T, H, W) → (B, T', P, E) with `T' = (T − kT)/sT + 1` and P = H'·W' patches per frame:
/// ```
/// tokens = Dropout(LN(Linear(LN(unfold(x)))))            // tokenizer.0 … tokenizer.4
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

    override public class var keyOverrides: [String: String] {
        ["spatialPosEmbedding": "spatial_pos_embedding", "temporalPosEmbedding": "temporal_pos_embedding"]
    }

    /// The tokenizer of a core with configuration `c`, initial weights drawn from `generator`.
    public init(configuration c: ViViTCore.Configuration, generator: RandomGenerator) {
        tokenizer = Sequential(
            TubeletUnfold(kernel: [c.temporalPatch, c.spatialPatch, c.spatialPatch],
                          stride: [c.temporalStride, c.spatialStride, c.spatialStride]),
            LayerNorm(c.patchSize),
            Linear(c.patchSize, c.embeddingDim, generator: generator),
            LayerNorm(c.embeddingDim),
            Dropout(p: c.patchDropout, generator: generator))
        spatialPosEmbedding = Tensor.randomNormal([1, 1, c.spatialPositions, c.embeddingDim], generator: generator,
                                                  requiresGrad: true)
        temporalPosEmbedding = Tensor.randomNormal([1, c.temporalPositions, 1, c.embeddingDim], generator: generator,
                                                   requiresGrad: true)
        super.init()
    }

    /// (B, C, T, H, W) → (B, T', P, E), position embeddings included.
    public func callAsFunction(_ x: Tensor) -> Tensor {
        let tokens = tokenizer(x)
        let frames = tokens.shape[1], patches = tokens.shape[2]
        precondition(patches <= spatialPosEmbedding.shape[2],
                     "ViViTTokenizer: input \(x.shape) gives \(patches) patches per frame, the spatial table has \(spatialPosEmbedding.shape[2])")
        precondition(frames <= temporalPosEmbedding.shape[1],
                     "ViViTTokenizer: input \(x.shape) gives \(frames) tubelets, the temporal table has \(temporalPosEmbedding.shape[1]) (raise maxFrames)")
        return tokens + spatialPosEmbedding.sliced(axis: 2, range: 0..<patches)
            + temporalPosEmbedding.sliced(axis: 1, range: 0..<frames)
    }
}
