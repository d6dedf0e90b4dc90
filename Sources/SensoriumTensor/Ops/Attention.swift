// Scaled dot-product attention on BLAS, with its backward pass.

internal import COpenBLAS

#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// Scaled dot-product attention, like `F.scaled_dot_product_attention(q, k, v)` without a mask:
/// `softmax(q kᵀ · scale) v`, with `scale = 1 / sqrt(d)` unless given.
///
/// Shapes: `q` (..., L, d), `k` (..., S, d), `v` (..., S, dv), with identical leading (batch)
/// axes; the result is (..., L, dv). Differentiable in `q`, `k` and `v`.
public func scaledDotProductAttention(_ q: Tensor, _ k: Tensor, _ v: Tensor, scale: Float? = nil) -> Tensor {
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

    // Attention weights P = softmax(q kᵀ · alpha), kept for the backward pass.
    let probs = TensorStorage(uninitializedCount: batches * L * S)
    let out = Tensor(uninitializedShape: batchShape + [L, dv])
    let qp = q.storage.pointer, kp = k.storage.pointer, vp = v.storage.pointer
    let pp = probs.pointer, op = out.storage.pointer
    for b in 0..<batches {
        gemm(transA: false, transB: true, m: L, n: S, k: d, alpha: alpha,
             a: qp + b * L * d, lda: d, b: kp + b * S * d, ldb: d, c: pp + b * L * S, ldc: S)
    }
    softmaxRows(pp, rows: batches * L, width: S)
    for b in 0..<batches {
        gemm(transA: false, transB: false, m: L, n: dv, k: S, alpha: 1,
             a: pp + b * L * S, lda: S, b: vp + b * S * dv, ldb: dv, c: op + b * L * dv, ldc: dv)
    }

    return Tensor.recordOperation("scaledDotProductAttention", result: out, inputs: [q, k, v]) { g in
        let gp = g.storage.pointer
        let gq: Tensor? = q.requiresGrad ? Tensor(uninitializedShape: q.shape) : nil
        let gk: Tensor? = k.requiresGrad ? Tensor(uninitializedShape: k.shape) : nil
        let gv: Tensor? = v.requiresGrad ? Tensor(uninitializedShape: v.shape) : nil
        let pp = probs.pointer
        if let gv {
            // dV = Pᵀ g
            for b in 0..<batches {
                gemm(transA: true, transB: false, m: S, n: dv, k: L, alpha: 1,
                     a: pp + b * L * S, lda: S, b: gp + b * L * dv, ldb: dv, c: gv.storage.pointer + b * S * dv, ldc: dv)
            }
        }
        if gq != nil || gk != nil {
            // dP = g vᵀ, then dScores = P ∘ (dP - rowsum(dP ∘ P)).
            let ds = TensorStorage(uninitializedCount: batches * L * S)
            let dp = ds.pointer
            for b in 0..<batches {
                gemm(transA: false, transB: true, m: L, n: S, k: dv, alpha: 1,
                     a: gp + b * L * dv, lda: dv, b: vp + b * S * dv, ldb: dv, c: dp + b * L * S, ldc: S)
            }
            let rows = batches * L
            Parallel.forRanges(rows, minimumPerThread: max(1, 16_384 / S)) { range in
                for r in range {
                    let prow = pp + r * S, drow = dp + r * S
                    var dot: Float = 0
                    for j in 0..<S { dot += prow[j] * drow[j] }
                    for j in 0..<S { drow[j] = prow[j] * (drow[j] - dot) }
                }
            }
            for b in 0..<batches {
                if let gq {
                    // dQ = alpha · dScores k
                    gemm(transA: false, transB: false, m: L, n: d, k: S, alpha: alpha,
                         a: dp + b * L * S, lda: S, b: kp + b * S * d, ldb: d, c: gq.storage.pointer + b * L * d, ldc: d)
                }
                if let gk {
                    // dK = alpha · dScoresᵀ q
                    gemm(transA: true, transB: false, m: S, n: d, k: L, alpha: alpha,
                         a: dp + b * L * S, lda: S, b: qp + b * L * d, ldb: d, c: gk.storage.pointer + b * S * d, ldc: d)
                }
            }
        }
        return [gq, gk, gv]
    }
}

/// C (m×n) = alpha · op(A) op(B) for row-major matrices (C is overwritten).
private func gemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                  a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                  c: UnsafeMutablePointer<Float>, ldc: Int) {
    if m == 0 || n == 0 { return }
    if k == 0 {
        c.update(repeating: 0, count: (m - 1) * ldc + n)
        return
    }
    cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                Int32(m), Int32(n), Int32(k), alpha, a, Int32(max(lda, 1)), b, Int32(max(ldb, 1)),
                0, c, Int32(max(ldc, 1)))
}

/// Numerically stable softmax of each contiguous row of `width` elements, in place.
private func softmaxRows(_ p: UnsafeMutablePointer<Float>, rows: Int, width: Int) {
    Parallel.forRanges(rows, minimumPerThread: max(1, 8_192 / max(width, 1))) { range in
        for r in range {
            let row = p + r * width
            var peak = -Float.infinity
            for j in 0..<width where row[j] > peak { peak = row[j] }
            if peak == -.infinity { peak = 0 }
            var total: Float = 0
            for j in 0..<width {
                let e = expf(row[j] - peak)
                row[j] = e
                total += e
            }
            let inv = 1 / total
            for j in 0..<width { row[j] *= inv }
        }
    }
}
