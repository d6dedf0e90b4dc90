// Memory-bounded scaled dot-product attention (the memory-efficient / flash-attention scheme on BLAS).
//
// The plain op (`scaledDotProductAttention`) computes one whole (L × S) score matrix per batch entry
// and thread (it too keeps only the log-sum-exps for backward); for ViV1T's spatial attention over
// 435 tokens a matrix is 435² floats. Here queries are processed in blocks of rows; the forward pass
// keeps only one log-sum-exp per query row, and the backward pass recomputes each block's
// probabilities from it. The extra memory is two (block × S) scratch matrices per worker thread,
// whatever L is. Every product is a GEMM.

#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// Scaled dot-product attention with bounded memory: the same function and gradients as
/// ``scaledDotProductAttention(_:_:_:bias:mask:scale:)`` (`softmax(q kᵀ · scale) v`, no mask), computed over
/// blocks of `blockSize` query rows. Only the per-row log-sum-exp of the scores is kept for the
/// backward pass, which recomputes the probabilities block by block.
///
/// Shapes: `q` (..., L, d), `k` (..., S, d), `v` (..., S, dv) with identical leading axes; returns
/// (..., L, dv). `scale` defaults to `1 / sqrt(d)`. Differentiable in `q`, `k` and `v`.
public func blockedScaledDotProductAttention(_ q: Tensor, _ k: Tensor, _ v: Tensor, scale: Float? = nil,
                                             blockSize: Int = 64) -> Tensor {
    let op = "blockedScaledDotProductAttention"
    precondition(q.rank >= 2 && k.rank == q.rank && v.rank == q.rank,
                 "\(op): q, k, v need the same rank >= 2, got \(q.shape), \(k.shape), \(v.shape)")
    let batchShape = Array(q.shape.dropLast(2))
    precondition(Array(k.shape.dropLast(2)) == batchShape && Array(v.shape.dropLast(2)) == batchShape,
                 "\(op): leading axes differ: q \(q.shape), k \(k.shape), v \(v.shape)")
    let L = q.shape[q.rank - 2], d = q.shape[q.rank - 1]
    let S = k.shape[k.rank - 2], dv = v.shape[v.rank - 1]
    precondition(k.shape[k.rank - 1] == d, "\(op): q \(q.shape) and k \(k.shape) differ in the last axis")
    precondition(v.shape[v.rank - 2] == S, "\(op): k \(k.shape) and v \(v.shape) differ in sequence length")
    precondition(S > 0, "\(op): k \(k.shape) has no keys")
    precondition(blockSize > 0, "\(op): blockSize must be positive, got \(blockSize)")
    let kernel = BlockedAttentionKernel(batches: batchShape.reduce(1, *), heads: 1, queries: L, keys: S,
                                        depth: d, valueDepth: dv, block: blockSize,
                                        alpha: scale ?? 1 / Float(d).squareRoot())
    return kernel.run(q, k, v, outputShape: batchShape + [L, dv], name: op)
}

/// Multi-head attention on packed heads, with bounded memory: `q` (B, L, H·d), `k` (B, S, H·d) and
/// `v` (B, S, H·dv) hold head `h` in channels `h·d ..< (h+1)·d` (einops `'b n (h d)'`); returns
/// (B, L, H·dv) in the same layout.
///
/// Equivalent to splitting the heads (`'b n (h d) -> b h n d'`), ``scaledDotProductAttention(_:_:_:bias:mask:scale:)``
/// and merging them back (`'b h n d -> b n (h d)'`), without the four transposed copies; memory as in
/// ``blockedScaledDotProductAttention(_:_:_:scale:blockSize:)``. `scale` defaults to `1 / sqrt(d)`.
/// Differentiable in `q`, `k` and `v`.
public func multiHeadBlockedAttention(_ q: Tensor, _ k: Tensor, _ v: Tensor, heads: Int, scale: Float? = nil,
                                      blockSize: Int = 64) -> Tensor {
    let op = "multiHeadBlockedAttention"
    precondition(q.rank == 3 && k.rank == 3 && v.rank == 3,
                 "\(op): q, k, v must be (B, L, H·d), (B, S, H·d), (B, S, H·dv), got \(q.shape), \(k.shape), \(v.shape)")
    precondition(heads > 0, "\(op): heads must be positive, got \(heads)")
    let B = q.shape[0], L = q.shape[1], S = k.shape[1]
    precondition(k.shape[0] == B && v.shape[0] == B, "\(op): batch sizes differ: q \(q.shape), k \(k.shape), v \(v.shape)")
    precondition(q.shape[2] % heads == 0 && v.shape[2] % heads == 0,
                 "\(op): channels of q \(q.shape) and v \(v.shape) are not divisible by \(heads) heads")
    precondition(k.shape[2] == q.shape[2], "\(op): q \(q.shape) and k \(k.shape) differ in the last axis")
    precondition(v.shape[1] == S, "\(op): k \(k.shape) and v \(v.shape) differ in sequence length")
    precondition(S > 0, "\(op): k \(k.shape) has no keys")
    precondition(blockSize > 0, "\(op): blockSize must be positive, got \(blockSize)")
    let d = q.shape[2] / heads, dv = v.shape[2] / heads
    let kernel = BlockedAttentionKernel(batches: B, heads: heads, queries: L, keys: S, depth: d, valueDepth: dv,
                                        block: blockSize, alpha: scale ?? 1 / Float(d).squareRoot())
    return kernel.run(q, k, v, outputShape: [B, L, heads * dv], name: op)
}

/// Multi-head self-attention reading q, k and v from one packed projection, with bounded memory:
/// `packed` (B, N, W) holds q in columns `0 ..< H·d`, k in `H·d ..< 2·H·d` and v in
/// `2·H·d ..< 2·H·d + H·dv` (each with heads packed `(h d)`), as the first parts of ViV1T's fused
/// `q, k, v, ff` projection; columns after v are ignored. Returns (B, N, H·dv).
///
/// Equivalent to slicing q, k, v out of `packed` and calling
/// ``multiHeadBlockedAttention(_:_:_:heads:scale:blockSize:)``, without the three copies (which the
/// autodiff graph would keep alive until backward). The gradient is one tensor shaped like `packed`,
/// zero in the ignored columns. `scale` defaults to `1 / sqrt(d)`.
public func packedMultiHeadBlockedAttention(_ packed: Tensor, heads: Int, headDim d: Int, valueDim: Int? = nil,
                                            scale: Float? = nil, blockSize: Int = 64) -> Tensor {
    let op = "packedMultiHeadBlockedAttention"
    let dv = valueDim ?? d
    precondition(heads > 0 && d > 0 && dv > 0 && blockSize > 0,
                 "\(op): heads, headDim, valueDim and blockSize must be positive, got \(heads), \(d), \(dv), \(blockSize)")
    precondition(packed.rank == 3 && packed.shape[2] >= heads * (2 * d + dv) && packed.shape[1] > 0,
                 "\(op): packed must be (B, N > 0, W ≥ \(heads * (2 * d + dv))) for \(heads) heads of \(d) (values \(dv)), got \(packed.shape)")
    let (B, N, W) = (packed.shape[0], packed.shape[1], packed.shape[2])
    var kernel = BlockedAttentionKernel(batches: B, heads: heads, queries: N, keys: N, depth: d, valueDepth: dv,
                                        block: blockSize, alpha: scale ?? 1 / Float(d).squareRoot())
    (kernel.ldq, kernel.ldk, kernel.ldv) = (W, W, W)
    (kernel.qBase, kernel.kBase, kernel.vBase) = (0, heads * d, 2 * heads * d)
    return kernel.runPacked(packed, outputShape: [B, N, heads * dv], name: op)
}

/// The blocked forward and backward passes over `batches · heads` independent attention problems.
/// Row i of q in batch b starts at `b·L·ldq + i·ldq + qBase`, and head h at `h · depth` past that
/// (likewise k, v and the output, whose rows hold the heads' values side by side).
private struct BlockedAttentionKernel {
    let batches: Int, heads: Int
    let queries: Int, keys: Int, depth: Int, valueDepth: Int
    let block: Int
    let alpha: Float
    /// Row strides of q, k, v and the output.
    var ldq: Int, ldk: Int, ldv: Int, ldo: Int
    /// Column where q, k and v start within their rows.
    var qBase = 0, kBase = 0, vBase = 0

    init(batches: Int, heads: Int, queries: Int, keys: Int, depth: Int, valueDepth: Int, block: Int, alpha: Float) {
        (self.batches, self.heads, self.queries, self.keys) = (batches, heads, queries, keys)
        (self.depth, self.valueDepth, self.block, self.alpha) = (depth, valueDepth, block, alpha)
        (ldq, ldk, ldv, ldo) = (heads * depth, heads * depth, heads * valueDepth, heads * valueDepth)
    }

    var groups: Int { batches * heads }

    func qOffset(_ g: Int) -> Int { (g / heads) * queries * ldq + qBase + (g % heads) * depth }
    func kOffset(_ g: Int) -> Int { (g / heads) * keys * ldk + kBase + (g % heads) * depth }
    func vOffset(_ g: Int) -> Int { (g / heads) * keys * ldv + vBase + (g % heads) * valueDepth }
    func oOffset(_ g: Int) -> Int { (g / heads) * queries * ldo + (g % heads) * valueDepth }

    /// Runs `body` over disjoint ranges of problems: several at once (single-threaded GEMMs) when
    /// there are several problems, else one at a time with OpenBLAS's own threads.
    func forEachGroupRange(_ body: (Range<Int>, Bool) -> Void) {
        let parallel = groups >= 2 && Parallel.threadCount > 1
        if parallel {
            Parallel.forRanges(groups, minimumPerThread: 1) { body($0, true) }
        } else if groups > 0 {
            body(0..<groups, false)
        }
    }

    func run(_ q: Tensor, _ k: Tensor, _ v: Tensor, outputShape: [Int], name: String) -> Tensor {
        let out = Tensor(uninitializedShape: outputShape)
        let logSumExp = TensorStorage(uninitializedCount: groups * queries)
        forward(q.storage.pointer, k.storage.pointer, v.storage.pointer, out.storage.pointer, logSumExp.pointer)
        let outStorage = out.storage  // the storage, not the tensor: no reference cycle through the graph node
        return Tensor.recordOperation(name, result: out, inputs: [q, k, v]) { g in
            let gq: Tensor? = q.requiresGrad ? Tensor(uninitializedShape: q.shape) : nil
            let gk: Tensor? = k.requiresGrad ? Tensor.zeros(k.shape) : nil
            let gv: Tensor? = v.requiresGrad ? Tensor.zeros(v.shape) : nil
            backward(q.storage.pointer, k.storage.pointer, v.storage.pointer, outStorage.pointer, logSumExp.pointer,
                     g.storage.pointer, gq?.storage.pointer, gk?.storage.pointer, gv?.storage.pointer)
            return [gq, gk, gv]
        }
    }

    /// Self-attention whose q, k and v are column blocks (at qBase, kBase, vBase) of one `packed`
    /// tensor; its gradient is one tensor of the packed shape, zero outside those blocks.
    func runPacked(_ packed: Tensor, outputShape: [Int], name: String) -> Tensor {
        let out = Tensor(uninitializedShape: outputShape)
        let logSumExp = TensorStorage(uninitializedCount: groups * queries)
        let p = packed.storage.pointer
        forward(p, p, p, out.storage.pointer, logSumExp.pointer)
        let outStorage = out.storage
        // Every column of q, k and v is written by the backward pass (the first query block of each
        // problem overwrites); only columns after v need zeros.
        let covered = packed.shape[2] == vBase + heads * valueDepth
        return Tensor.recordOperation(name, result: out, inputs: [packed]) { g in
            let gp = covered ? Tensor(uninitializedShape: packed.shape) : Tensor.zeros(packed.shape)
            let d = gp.storage.pointer
            backward(p, p, p, outStorage.pointer, logSumExp.pointer, g.storage.pointer, d, d, d)
            return [gp]
        }
    }

    /// Scores of query rows `i0 ..< i0 + rows` of problem `g` against all keys: (rows × S), `alpha·q kᵀ`.
    private func scores(_ q: UnsafeMutablePointer<Float>, _ k: UnsafeMutablePointer<Float>, group g: Int, from i0: Int,
                        rows: Int, into s: UnsafeMutablePointer<Float>, singleThreaded: Bool) {
        BLAS.gemm(transB: true, m: rows, n: keys, k: depth, alpha: alpha,
                  a: q + qOffset(g) + i0 * ldq, lda: ldq, b: k + kOffset(g), ldb: ldk,
                  beta: 0, c: s, ldc: keys, singleThreaded: singleThreaded)
    }

    func forward(_ q: UnsafeMutablePointer<Float>, _ k: UnsafeMutablePointer<Float>, _ v: UnsafeMutablePointer<Float>,
                 _ out: UnsafeMutablePointer<Float>, _ lse: UnsafeMutablePointer<Float>) {
        let width = keys
        forEachGroupRange { range, single in
            let scratch = TensorStorage(uninitializedCount: min(block, max(queries, 1)) * width)
            let s = scratch.pointer
            for g in range {
                var i0 = 0
                while i0 < queries {
                    let rows = min(block, queries - i0)
                    scores(q, k, group: g, from: i0, rows: rows, into: s, singleThreaded: single)
                    for r in 0..<rows {
                        lse[g * queries + i0 + r] = softmaxRow(s + r * width, width: width)
                    }
                    BLAS.gemm(m: rows, n: valueDepth, k: width, a: s, lda: width, b: v + vOffset(g), ldb: ldv,
                              beta: 0, c: out + oOffset(g) + i0 * ldo, ldc: ldo, singleThreaded: single)
                    i0 += rows
                }
            }
        }
    }

    func backward(_ q: UnsafeMutablePointer<Float>, _ k: UnsafeMutablePointer<Float>, _ v: UnsafeMutablePointer<Float>,
                  _ out: UnsafeMutablePointer<Float>, _ lse: UnsafeMutablePointer<Float>, _ gOut: UnsafeMutablePointer<Float>,
                  _ gq: UnsafeMutablePointer<Float>?, _ gk: UnsafeMutablePointer<Float>?, _ gv: UnsafeMutablePointer<Float>?) {
        let width = keys
        let needScores = gq != nil || gk != nil
        forEachGroupRange { range, single in
            let rowsMax = min(block, max(queries, 1))
            let probabilities = TensorStorage(uninitializedCount: rowsMax * width)
            let scoreGrads: TensorStorage? = needScores ? TensorStorage(uninitializedCount: rowsMax * width) : nil
            let p = probabilities.pointer
            for g in range {
                var i0 = 0
                while i0 < queries {
                    let rows = min(block, queries - i0)
                    let gRows = gOut + oOffset(g) + i0 * ldo
                    // P = exp(scores − logsumexp), recomputed.
                    scores(q, k, group: g, from: i0, rows: rows, into: p, singleThreaded: single)
                    for r in 0..<rows { expRowShifted(p + r * width, width: width, shift: lse[g * queries + i0 + r]) }
                    let accumulate: Float = i0 == 0 ? 0 : 1
                    if let gv {
                        // dV += Pᵀ dO
                        BLAS.gemm(transA: true, m: width, n: valueDepth, k: rows, a: p, lda: width, b: gRows, ldb: ldo,
                                  beta: accumulate, c: gv + vOffset(g), ldc: ldv, singleThreaded: single)
                    }
                    if let scoreGrads {
                        let ds = scoreGrads.pointer
                        // dP = dO vᵀ, then dScores = P ∘ (dP − rowsum(dO ∘ O)).
                        BLAS.gemm(transB: true, m: rows, n: width, k: valueDepth, a: gRows, lda: ldo, b: v + vOffset(g), ldb: ldv,
                                  beta: 0, c: ds, ldc: width, singleThreaded: single)
                        let oRows = out + oOffset(g) + i0 * ldo
                        for r in 0..<rows {
                            let go = gRows + r * ldo, o = oRows + r * ldo
                            var dot: Float = 0
                            for c in 0..<valueDepth { dot += go[c] * o[c] }
                            let prow = p + r * width, drow = ds + r * width
                            for j in 0..<width { drow[j] = prow[j] * (drow[j] - dot) }
                        }
                        if let gq {
                            // dQ = alpha · dScores k
                            BLAS.gemm(m: rows, n: depth, k: width, alpha: alpha, a: ds, lda: width, b: k + kOffset(g), ldb: ldk,
                                      beta: 0, c: gq + qOffset(g) + i0 * ldq, ldc: ldq, singleThreaded: single)
                        }
                        if let gk {
                            // dK += alpha · dScoresᵀ q
                            BLAS.gemm(transA: true, m: width, n: depth, k: rows, alpha: alpha, a: ds, lda: width,
                                      b: q + qOffset(g) + i0 * ldq, ldb: ldq,
                                      beta: accumulate, c: gk + kOffset(g), ldc: ldk, singleThreaded: single)
                        }
                    }
                    i0 += rows
                }
            }
        }
    }
}
