import SensoriumTensor

/// ViV1T's parallel transformer block (`--core_parallel_attention`): attention and feed-forward read
/// the same normalised input and are added to the residual side by side.
///
/// For x (N, L, C):
/// ```
/// h = norm(x)                                        // LayerNorm(C)
/// q, k, v, ff = split(fused_linear(h), [I, I, I, M]) // bias-free Linear C → 3·I + M, I = heads·headDim
/// a = attention(q, k, v)                             // heads packed as (h d), scale 1/√headDim
/// out = x + drop_path1(attn_out(dropout(a))) + drop_path2(ff_out(ff))
/// ff_out = GELU (erf) → Dropout → Linear M → C (no bias)
/// ```
/// Attention runs through ``/SensoriumTensor/packedMultiHeadBlockedAttention(_:heads:headDim:valueDim:scale:blockSize:)``, whose backward
/// memory does not grow with L² beyond one block of query rows.
///
/// Keys (PyTorch): `scale` (buffer, headDim^-½), `norm.weight`, `norm.bias`, `fused_linear.weight`,
/// `attn_out.weight`, `ff_out.2.weight`, `drop_path1.keep_prob`, `drop_path2.keep_prob`.
/// Linear weights start truncated-normal (σ 0.02), the LayerNorm at (1, 0).
public final class ParallelTransformerBlock: Module, UnaryLayer {
    /// headDim^-½ (stored by the reference; the attention uses the same value).
    @Buffer public var scale: Tensor
    /// LayerNorm(C).
    public let norm: LayerNorm
    /// Linear C → 3·heads·headDim + mlpDim, no bias.
    public let fusedLinear: Linear
    /// Linear heads·headDim → C, no bias.
    public let attnOut: Linear
    /// GELU → Dropout → Linear mlpDim → C (no bias).
    public let ffOut: Sequential
    /// DropPath of the attention branch.
    public let dropPath1: StochasticDepth
    /// DropPath of the feed-forward branch.
    public let dropPath2: StochasticDepth

    /// Number of heads.
    public let heads: Int
    /// Width of each head.
    public let headDim: Int
    /// Hidden width of the feed-forward branch.
    public let mlpDim: Int
    /// Dropout on the attention output.
    public var attentionDropout: Float
    /// Query rows per attention block.
    public var attentionBlockSize: Int
    /// Recompute the block's activations in backward instead of keeping them
    /// (``/SensoriumTensor/checkpointed(_:parameters:generators:_:)``): same results, about 0.9 GB less per paper-size
    /// block and 140-frame clip, one more forward pass of compute.
    public var gradientCheckpointing: Bool = false
    /// Source of the training-mode draws.
    @Transient public var generator: RandomGenerator

    override public class var keyOverrides: [String: String] {
        ["fusedLinear": "fused_linear", "attnOut": "attn_out", "ffOut": "ff_out",
         "dropPath1": "drop_path1", "dropPath2": "drop_path2"]
    }

    /// A block over tokens of width `embeddingDim`, drawing its initial weights from `generator`.
    public init(embeddingDim: Int, heads: Int, headDim: Int, mlpDim: Int, attentionDropout: Float,
                feedForwardDropout: Float, dropPath: Float, attentionBlockSize: Int, generator: RandomGenerator) {
        precondition(embeddingDim > 0 && heads > 0 && headDim > 0 && mlpDim > 0 && attentionBlockSize > 0,
                     "ParallelTransformerBlock: sizes must be positive, got emb \(embeddingDim), heads \(heads), headDim \(headDim), mlp \(mlpDim), block \(attentionBlockSize)")
        let inner = heads * headDim
        let initializer = Initializer.truncatedNormal(std: 0.02)
        func weight(_ shape: [Int]) -> Tensor {
            let w = initializer(shape, generator: generator)
            w.requiresGrad = true
            return w
        }
        scale = Tensor(scalar: 1 / Float(headDim).squareRoot())
        norm = LayerNorm(embeddingDim)
        fusedLinear = Linear(weight: weight([3 * inner + mlpDim, embeddingDim]), bias: nil)
        attnOut = Linear(weight: weight([embeddingDim, inner]), bias: nil)
        ffOut = Sequential(GELU(), Dropout(p: feedForwardDropout, generator: generator),
                           Linear(weight: weight([embeddingDim, mlpDim]), bias: nil))
        dropPath1 = StochasticDepth(dropProbability: dropPath, generator: generator)
        dropPath2 = StochasticDepth(dropProbability: dropPath, generator: generator)
        self.heads = heads
        self.headDim = headDim
        self.mlpDim = mlpDim
        self.attentionDropout = attentionDropout
        self.attentionBlockSize = attentionBlockSize
        self.generator = generator
        super.init()
    }

    /// (N, L, C) → (N, L, C).
    public func callAsFunction(_ x: Tensor) -> Tensor {
        let width = norm.normalizedShape[0]
        precondition(x.rank == 3 && x.shape[2] == width,
                     "ParallelTransformerBlock: expected tokens (N, L, \(width)), got \(x.shape)")
        guard gradientCheckpointing else { return forwardBody(x) }
        var generators: [RandomGenerator] = []
        for g in [generator, (ffOut[1] as? Dropout)?.generator, dropPath1.generator, dropPath2.generator].compactMap({ $0 })
        where !generators.contains(where: { $0 === g }) {
            generators.append(g)
        }
        return checkpointed([x], parameters: parameters(), generators: generators) { [self] inputs in forwardBody(inputs[0]) }
    }

    private func forwardBody(_ x: Tensor) -> Tensor {
        let inner = heads * headDim
        // The fused projection as two products over the rows of its weight (the same values): q, k, v
        // side by side, read in place by the attention, and the feed-forward input on its own, so
        // neither gradient carries the other's columns as zeros and ff needs no sliced copy.
        let h = norm(x)
        let qkvRows = 0..<(3 * inner), ffRows = (3 * inner)..<(3 * inner + mlpDim)
        let w = fusedLinear.weight, b = fusedLinear.bias
        let qkv = linear(h, weight: w.sliced(axis: 0, range: qkvRows), bias: b?.sliced(axis: 0, range: qkvRows))
        let ff = linear(h, weight: w.sliced(axis: 0, range: ffRows), bias: b?.sliced(axis: 0, range: ffRows))
        var attention = packedMultiHeadBlockedAttention(qkv, heads: heads, headDim: headDim,
                                                        scale: scale.item, blockSize: attentionBlockSize)
        attention = dropout(attention, p: attentionDropout, training: isTraining, generator: generator)
        return x + dropPath1(attnOut(attention)) + dropPath2(ffOut(ff))
    }

    override public var extraDescription: String { "heads: \(heads) × \(headDim), mlp: \(mlpDim)" }
}
