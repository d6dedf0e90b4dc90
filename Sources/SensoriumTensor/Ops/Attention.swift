// Scaled dot-product attention on BLAS, with an optional additive bias and mask, and its backward pass.

#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// Scaled dot-product attention, like `F.scaled_dot_product_attention(q, k, v, attn_mask: bias + mask)`:
/// `softmax(q kᵀ · scale + bias + mask) v`, with `scale = 1 / sqrt(d)` unless given.
///
/// Shapes: `q` (…, L, d), `k` (…, S, d), `v` (…, S, dv), with identical leading (batch) axes; the
/// result is (…, L, dv). `bias` and `mask` are (…, L, S) with leading axes that broadcast to the
/// batch axes by NumPy rules (missing or size-1 axes repeat), e.g. a relative-position bias
/// (heads, L, S) for q of shape (windows, heads, L, d), or a window mask (windows, 1, L, S) for q
/// of shape (batch, windows, heads, L, d).
///
/// Differentiable in `q`, `k`, `v` and `bias` (its gradient sums over the batch entries it was
/// broadcast to); `mask` is a constant and receives no gradient. Masking with `-infinity` every key
/// of a query gives NaN for that query, as in PyTorch.
///
/// Memory: the score matrices are computed one batch matrix at a time per thread. When a gradient
/// will be needed, only the log-sum-exp of every score row is kept (batch · L floats), not the
/// probabilities; the backward pass recomputes each matrix's probabilities from q, k, the bias,
/// the mask and those log-sum-exps (one more GEMM per matrix), one batch matrix per thread at a time.
public func scaledDotProductAttention(_ q: Tensor, _ k: Tensor, _ v: Tensor, bias: Tensor? = nil, mask: Tensor? = nil,
                                      scale: Float? = nil) -> Tensor {
    precondition(q.rank >= 2 && k.rank == q.rank && v.rank == q.rank,
                 "scaledDotProductAttention: q, k, v need the same rank >= 2, got \(q.shape), \(k.shape), \(v.shape)")
    let batchShape = Array(q.shape.dropLast(2))
    precondition(Array(k.shape.dropLast(2)) == batchShape && Array(v.shape.dropLast(2)) == batchShape,
                 "scaledDotProductAttention: leading axes differ: q \(q.shape), k \(k.shape), v \(v.shape)")
    let L = q.shape[q.rank - 2], d = q.shape[q.rank - 1]
    let S = k.shape[k.rank - 2], dv = v.shape[v.rank - 1]
    precondition(k.shape[k.rank - 1] == d, "scaledDotProductAttention: q \(q.shape) and k \(k.shape) differ in the last axis")
    precondition(v.shape[v.rank - 2] == S, "scaledDotProductAttention: k \(k.shape) and v \(v.shape) differ in sequence length")
    precondition(S > 0, "scaledDotProductAttention: k \(k.shape) has no keys")
    let batches = batchShape.reduce(1, *)
    let alpha = scale ?? 1 / Float(d).squareRoot()
    let biasOffsets = bias.map { attentionTermOffsets($0, batchShape: batchShape, L: L, S: S, name: "bias", q: q.shape) }
    let maskOffsets = mask.map { attentionTermOffsets($0, batchShape: batchShape, L: L, S: S, name: "mask", q: q.shape) }

    let inputs = [q, k, v] + (bias.map { [$0] } ?? [])
    let keepForBackward = GradMode.isEnabled && inputs.contains { $0.requiresGrad }
    let matrix = L * S
    // Attention weights P = softmax(q kᵀ · alpha + bias + mask), one matrix at a time; for the
    // backward pass only each row's log-sum-exp.
    let logSumExp: TensorStorage? = keepForBackward ? TensorStorage(uninitializedCount: batches * L) : nil
    let out = Tensor(uninitializedShape: batchShape + [L, dv])
    let qp = q.storage.pointer, kp = k.storage.pointer, vp = v.storage.pointer, op = out.storage.pointer
    let bp = bias?.storage.pointer, mp = mask?.storage.pointer
    let chunks = batchChunkCount(batches, work: matrix * (d + dv))
    // With several chunks on their own threads, each GEMM runs on one thread.
    let single = chunks > 1
    forBatchChunks(batches, chunks: chunks) { range in
        let scratch = TensorStorage(uninitializedCount: matrix)
        for b in range {
            let pb = scratch.pointer
            BLAS.gemm(transB: true, m: L, n: S, k: d, alpha: alpha, a: qp + b * L * d, lda: d,
                      b: kp + b * S * d, ldb: d, beta: 0, c: pb, ldc: S, singleThreaded: single)
            if let bp, let biasOffsets { addMatrix(bp + biasOffsets[b], to: pb, count: matrix) }
            if let mp, let maskOffsets { addMatrix(mp + maskOffsets[b], to: pb, count: matrix) }
            if let logSumExp {
                let lse = logSumExp.pointer + b * L
                for r in 0..<L { lse[r] = softmaxRow(pb + r * S, width: S) }
            } else {
                softmaxRows(pb, rows: L, width: S)
            }
            BLAS.gemm(m: L, n: dv, k: S, a: pb, lda: S, b: vp + b * S * dv, ldb: dv,
                      beta: 0, c: op + b * L * dv, ldc: dv, singleThreaded: single)
        }
    }
    guard let logSumExp else { return out }

    return Tensor.recordOperation("scaledDotProductAttention", result: out, inputs: inputs) { g in
        let gp = g.storage.pointer
        let gq: Tensor? = q.requiresGrad ? Tensor(uninitializedShape: q.shape) : nil
        let gk: Tensor? = k.requiresGrad ? Tensor(uninitializedShape: k.shape) : nil
        let gv: Tensor? = v.requiresGrad ? Tensor(uninitializedShape: v.shape) : nil
        let needBias = bias?.requiresGrad ?? false
        let needScores = gq != nil || gk != nil || needBias
        let lsep = logSumExp.pointer
        let bp = bias?.storage.pointer, mp = mask?.storage.pointer
        let biasCount = bias?.count ?? 0
        // Per chunk, a partial bias gradient (a bias broadcast over batch entries sums their gradients).
        let partialBias: TensorStorage? = needBias ? TensorStorage(count: chunks * biasCount, repeating: 0) : nil
        Parallel.forRanges(chunks, minimumPerThread: 1) { chunkRange in
            for chunk in chunkRange {
                let scratch = needScores ? TensorStorage(uninitializedCount: matrix) : nil
                let probabilities = TensorStorage(uninitializedCount: matrix)
                for b in (batches * chunk / chunks)..<(batches * (chunk + 1) / chunks) {
                    // The probabilities again: the scores, then exp(score − the row's log-sum-exp).
                    let pb = probabilities.pointer, gb = gp + b * L * dv
                    BLAS.gemm(transB: true, m: L, n: S, k: d, alpha: alpha, a: qp + b * L * d, lda: d,
                              b: kp + b * S * d, ldb: d, beta: 0, c: pb, ldc: S, singleThreaded: single)
                    if let bp, let biasOffsets { addMatrix(bp + biasOffsets[b], to: pb, count: matrix) }
                    if let mp, let maskOffsets { addMatrix(mp + maskOffsets[b], to: pb, count: matrix) }
                    for r in 0..<L { expRowShifted(pb + r * S, width: S, shift: lsep[b * L + r]) }
                    if let gv {
                        // dV = Pᵀ g
                        BLAS.gemm(transA: true, m: S, n: dv, k: L, a: pb, lda: S, b: gb, ldb: dv,
                                  beta: 0, c: gv.storage.pointer + b * S * dv, ldc: dv, singleThreaded: single)
                    }
                    guard let scratch else { continue }
                    // dP = g vᵀ, then dScores = P ∘ (dP − rowsum(dP ∘ P)).
                    let ds = scratch.pointer
                    BLAS.gemm(transB: true, m: L, n: S, k: dv, a: gb, lda: dv, b: vp + b * S * dv, ldb: dv,
                              beta: 0, c: ds, ldc: S, singleThreaded: single)
                    for r in 0..<L {
                        let prow = pb + r * S, drow = ds + r * S
                        var dot: Float = 0
                        for j in 0..<S { dot += prow[j] * drow[j] }
                        for j in 0..<S { drow[j] = prow[j] * (drow[j] - dot) }
                    }
                    if let gq {
                        // dQ = alpha · dScores k
                        BLAS.gemm(m: L, n: d, k: S, alpha: alpha, a: ds, lda: S, b: kp + b * S * d, ldb: d,
                                  beta: 0, c: gq.storage.pointer + b * L * d, ldc: d, singleThreaded: single)
                    }
                    if let gk {
                        // dK = alpha · dScoresᵀ q
                        BLAS.gemm(transA: true, m: S, n: d, k: L, alpha: alpha, a: ds, lda: S, b: qp + b * L * d, ldb: d,
                                  beta: 0, c: gk.storage.pointer + b * S * d, ldc: d, singleThreaded: single)
                    }
                    if let partialBias, let biasOffsets {
                        addMatrix(ds, to: partialBias.pointer + chunk * biasCount + biasOffsets[b], count: matrix)
                    }
                }
            }
        }
        var grads: [Tensor?] = [gq, gk, gv]
        if let bias {
            if let partialBias {
                let gb = Tensor(storage: TensorStorage(uninitializedCount: biasCount), shape: bias.shape)
                gb.storage.pointer.update(from: partialBias.pointer, count: biasCount)
                for c in 1..<max(chunks, 1) { addMatrix(partialBias.pointer + c * biasCount, to: gb.storage.pointer, count: biasCount) }
                grads.append(gb)
            } else {
                grads.append(nil)
            }
        }
        return grads
    }
}

/// The element offset of the (L, S) matrix of `term` used for each flat batch index, by NumPy
/// broadcasting of `term`'s leading axes against `batchShape`.
private func attentionTermOffsets(_ term: Tensor, batchShape: [Int], L: Int, S: Int, name: String, q: [Int]) -> [Int] {
    let lead = Array(term.shape.dropLast(2))
    precondition(term.rank >= 2 && term.shape[term.rank - 2] == L && term.shape[term.rank - 1] == S
                  && lead.count <= batchShape.count,
                  "scaledDotProductAttention: \(name) \(term.shape) must be (…, \(L), \(S)) with leading axes broadcastable to \(batchShape) (q \(q))")
    let offset = batchShape.count - lead.count
    var strides = [Int](repeating: 0, count: batchShape.count)
    var acc = L * S
    for i in stride(from: lead.count - 1, through: 0, by: -1) {
        precondition(lead[i] == 1 || lead[i] == batchShape[i + offset],
                     "scaledDotProductAttention: \(name) \(term.shape) does not broadcast to the batch axes \(batchShape) (q \(q))")
        if lead[i] != 1 { strides[i + offset] = acc }
        acc *= lead[i]
    }
    let batches = batchShape.reduce(1, *)
    var offsets = [Int](repeating: 0, count: batches)
    for b in 0..<batches {
        var rest = b, total = 0
        for axis in stride(from: batchShape.count - 1, through: 0, by: -1) {
            total += (rest % batchShape[axis]) * strides[axis]
            rest /= batchShape[axis]
        }
        offsets[b] = total
    }
    return offsets
}

/// How many chunks of batch matrices to spread over the threads (at least 1).
private func batchChunkCount(_ batches: Int, work: Int) -> Int {
    max(1, min(Parallel.threadCount, batches, batches * work / 65_536))
}

/// Calls `body` on disjoint ranges of batch indices covering `0..<batches`, in parallel.
private func forBatchChunks(_ batches: Int, chunks: Int, _ body: (Range<Int>) -> Void) {
    Parallel.forRanges(chunks, minimumPerThread: 1) { range in
        for c in range { body((batches * c / chunks)..<(batches * (c + 1) / chunks)) }
    }
}

/// `dst[i] += src[i]` for `count` elements.
@inline(__always)
private func addMatrix(_ src: UnsafePointer<Float>, to dst: UnsafeMutablePointer<Float>, count: Int) {
    for i in 0..<count { dst[i] += src[i] }
}

/// `row[j] = exp(row[j] − shift)` for one row of `width` elements, in place.
@inline(__always)
func expRowShifted(_ row: UnsafeMutablePointer<Float>, width: Int, shift: Float) {
    var j = 0
    while j + 8 <= width {
        let v = UnsafeRawPointer(row + j).loadUnaligned(as: SIMD8<Float>.self)
        UnsafeMutableRawPointer(row + j).storeBytes(of: simdExp(v - shift), as: SIMD8<Float>.self)
        j += 8
    }
    while j < width {
        row[j] = fastExp(row[j] - shift)
        j += 1
    }
}

/// Numerically stable softmax of each contiguous row of `width` elements, in place.
private func softmaxRows(_ p: UnsafeMutablePointer<Float>, rows: Int, width: Int) {
    for r in 0..<rows { _ = softmaxRow(p + r * width, width: width) }
}

/// Numerically stable softmax of one row of `width` elements, in place; returns the row's
/// log-sum-exp (what memory-bounded attention keeps to recompute the probabilities).
/// Eight lanes at a time (``simdExp``); the tail with `fastExp`.
@inline(__always)
func softmaxRow(_ row: UnsafeMutablePointer<Float>, width: Int) -> Float {
    let vectorEnd = width & ~7
    var peaks = SIMD8<Float>(repeating: -.infinity)
    var j = 0
    while j < vectorEnd {
        let v = UnsafeRawPointer(row + j).loadUnaligned(as: SIMD8<Float>.self)
        peaks.replace(with: v, where: v .> peaks)
        j += 8
    }
    var peak = peaks.max()
    for t in vectorEnd..<width where row[t] > peak { peak = row[t] }
    if peak == -.infinity { peak = 0 }
    var sums = SIMD8<Float>()
    j = 0
    while j < vectorEnd {
        let e = simdExp(UnsafeRawPointer(row + j).loadUnaligned(as: SIMD8<Float>.self) - peak)
        UnsafeMutableRawPointer(row + j).storeBytes(of: e, as: SIMD8<Float>.self)
        sums += e
        j += 8
    }
    var total = sums.sum()
    for t in vectorEnd..<width {
        let e = fastExp(row[t] - peak)
        row[t] = e
        total += e
    }
    let inv = 1 / total
    j = 0
    while j < vectorEnd {
        let v = UnsafeRawPointer(row + j).loadUnaligned(as: SIMD8<Float>.self) * inv
        UnsafeMutableRawPointer(row + j).storeBytes(of: v, as: SIMD8<Float>.self)
        j += 8
    }
    for t in vectorEnd..<width { row[t] *= inv }
    return peak + logf(total)
}
