import SensoriumTensor

/// Multi-head attention with PyTorch's `nn.MultiheadAttention` parameters and keys
/// (`in_proj_weight` (3E, E), `in_proj_bias` (3E), `out_proj.weight`, `out_proj.bias`).
///
/// Inputs are **batch first**, (N, L, E) (PyTorch's `batch_first=True`; PyTorch's default is
/// sequence first). Each head attends with scale `1/√(E/heads)`. An optional additive `mask`,
/// broadcastable to (N, heads, L, S), is added to the attention logits (use a large negative value
/// to block a position). Attention-weight dropout `dropout` applies in training mode only.
public final class MultiheadAttention: Module {
    /// Stacked query, key and value projection weights, (3E, E).
    public let inProjWeight: Tensor
    /// Stacked projection biases, (3E).
    public var inProjBias: Tensor?
    /// Output projection, E → E.
    public let outProj: Linear
    /// Model width E.
    public let embedDim: Int
    /// Number of heads (E must be divisible by it).
    public let numHeads: Int
    /// Dropout probability on the attention weights (training mode).
    public var dropout: Float
    /// Source of dropout masks.
    @Transient public var generator: RandomGenerator

    override public class var keyOverrides: [String: String] {
        ["inProjWeight": "in_proj_weight", "inProjBias": "in_proj_bias", "outProj": "out_proj"]
    }

    /// PyTorch's initialisation: Xavier-uniform `in_proj_weight`, zero biases, default Linear
    /// weight for `out_proj`.
    public init(embedDim: Int, numHeads: Int, bias: Bool = true, dropout: Float = 0, generator: RandomGenerator) {
        precondition(embedDim > 0 && numHeads > 0 && embedDim % numHeads == 0,
                     "MultiheadAttention: embedDim \(embedDim) must be a positive multiple of numHeads \(numHeads)")
        precondition(dropout >= 0 && dropout < 1, "MultiheadAttention: dropout must be in [0, 1), got \(dropout)")
        self.embedDim = embedDim
        self.numHeads = numHeads
        self.dropout = dropout
        self.generator = generator
        inProjWeight = Initializer.xavierUniform()([3 * embedDim, embedDim], generator: generator)
        inProjWeight.requiresGrad = true
        inProjBias = bias ? Tensor.zeros([3 * embedDim], requiresGrad: true) : nil
        outProj = Linear(embedDim, embedDim, bias: bias, generator: generator)
        outProj.bias?.initialize(with: .zeros, generator: generator)
        super.init()
    }

    /// Width of one head.
    public var headDim: Int { embedDim / numHeads }

    /// Attention of `query` (N, L, E) over `key` and `value` (N, S, E); self-attention when `key`
    /// and `value` are nil. Returns (N, L, E).
    public func callAsFunction(_ query: Tensor, key: Tensor? = nil, value: Tensor? = nil, mask: Tensor? = nil) -> Tensor {
        let e = embedDim
        precondition(query.rank == 3 && query.shape[2] == e,
                     "MultiheadAttention: expected query (N, L, \(e)), got shape \(query.shape)")
        let q, k, v: Tensor
        if key == nil && value == nil {
            let qkv = linear(query, weight: inProjWeight, bias: inProjBias).split(sizes: [e, e, e], axis: 2)
            (q, k, v) = (qkv[0], qkv[1], qkv[2])
        } else {
            let key = key ?? query, value = value ?? key
            precondition(key.rank == 3 && value.rank == 3 && key.shape == value.shape && key.shape[0] == query.shape[0]
                         && key.shape[2] == e,
                         "MultiheadAttention: key \(key.shape) and value \(value.shape) must both be (N, S, \(e)) for query \(query.shape)")
            let w = inProjWeight.split(sizes: [e, e, e], axis: 0)
            let b = inProjBias?.split(sizes: [e, e, e], axis: 0)
            q = linear(query, weight: w[0], bias: b?[0])
            k = linear(key, weight: w[1], bias: b?[1])
            v = linear(value, weight: w[2], bias: b?[2])
        }
        let heads = { (t: Tensor) in t.reshaped([t.shape[0], t.shape[1], self.numHeads, self.headDim]).permuted([0, 2, 1, 3]) }
        let (qh, kh, vh) = (heads(q), heads(k), heads(v))
        let attended: Tensor
        if mask == nil && (dropout == 0 || !isTraining) {
            attended = scaledDotProductAttention(qh, kh, vh)
        } else {
            var logits = matmul(qh, kh.transposed(2, 3)) * (1 / Float(headDim).squareRoot())
            if let mask { logits = logits + mask }
            let weights = SensoriumTensor.dropout(logits.softmax(axis: -1), p: dropout, training: isTraining,
                                                  generator: generator)
            attended = matmul(weights, vh)
        }
        let merged = attended.permuted([0, 2, 1, 3]).reshaped([query.shape[0], query.shape[1], e])
        return outProj(merged)
    }

    override public var extraDescription: String { "embedDim: \(embedDim), heads: \(numHeads)" }
}
