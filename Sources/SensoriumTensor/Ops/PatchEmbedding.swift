// Patch embedding without the patch tensor: unfold → LayerNorm(patch) → Linear, fused.
//
// ViV1T's tokenizer unfolds a 140-frame clip into 116 × 435 patches of 6,125 values (1.2 GB in float32),
// normalises each patch and projects it to 112 values. Composed from separate ops, the autodiff graph
// keeps the patch tensor and its normalised copy until backward (2.5 GB per clip) and creates two
// more of that size in backward. Here patches are gathered a chunk of rows at a time into scratch
// space, normalised and multiplied there (one GEMM per chunk); only the per-patch mean and inverse
// standard deviation are kept, and backward regathers each chunk.

#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// `linear(layerNorm(unfoldPatches3d(x, kernel:, stride:)), weight, bias)` without materialising the
/// patches: the same function and gradients with memory independent of the patch count beyond the
/// output and two floats per patch.
///
/// - Parameters:
///   - x: (B, C, T, H, W).
///   - kernel, stride: the patches, as in ``unfoldPatches3d(_:kernel:stride:)``; K = C·kT·kH·kW.
///   - normWeight, normBias: the LayerNorm's affine parameters over the K patch values, (K) each, or nil.
///   - eps: added to each patch's variance (biased) before the square root.
///   - weight: the Linear weight (E, K); bias: (E) or nil.
///   - rowsPerChunk: patches processed at once (memory 3 · rowsPerChunk · K floats; not results).
/// - Returns: (B, T', H'·W', E). Differentiable in `x`, `normWeight`, `normBias`, `weight` and `bias`.
public func patchEmbedding3d(_ x: Tensor, kernel: [Int], stride: [Int], normWeight: Tensor?, normBias: Tensor?,
                             eps: Float = 1e-5, weight: Tensor, bias: Tensor?, rowsPerChunk: Int = 256) -> Tensor {
    let op = "patchEmbedding3d"
    guard let grid = PatchGrid3d(inputShape: x.shape, kernel: kernel, stride: stride) else {
        preconditionFailure("\(op): kernel \(kernel) with stride \(stride) does not fit input of shape \(x.shape) (expected (B, C, T, H, W))")
    }
    let K = grid.patchSize
    precondition(weight.rank == 2 && weight.shape[1] == K,
                 "\(op): weight must be (E, \(K)) for patches of \(K) values from x \(x.shape), got \(weight.shape)")
    let E = weight.shape[0]
    if let bias { precondition(bias.shape == [E], "\(op): bias must be (\(E)) for weight \(weight.shape), got \(bias.shape)") }
    if let normWeight { precondition(normWeight.shape == [K], "\(op): normWeight must be (\(K)), got \(normWeight.shape)") }
    if let normBias { precondition(normBias.shape == [K], "\(op): normBias must be (\(K)), got \(normBias.shape)") }
    precondition(rowsPerChunk > 0, "\(op): rowsPerChunk must be positive, got \(rowsPerChunk)")

    let geometry = PatchGeometry(shape: x.shape, kernel: kernel, stride: stride, grid: grid)
    let rows = geometry.rows
    let chunk = min(rowsPerChunk, max(rows, 1))
    let out = Tensor(uninitializedShape: [x.shape[0], grid.positions[0], grid.positions[1] * grid.positions[2], E])
    let mean = TensorStorage(uninitializedCount: rows), rstd = TensorStorage(uninitializedCount: rows)
    let gamma = normWeight?.storage.pointer, beta = normBias?.storage.pointer
    do {
        let scratch = TensorStorage(uninitializedCount: chunk * K)
        var r0 = 0
        while r0 < rows {
            let n = min(chunk, rows - r0)
            let s = scratch.pointer
            geometry.gatherRows(r0..<(r0 + n), from: x.storage.pointer, into: s)
            PatchNormalization.statistics(s, rows: n, width: K, eps: eps, mean: mean.pointer + r0, rstd: rstd.pointer + r0)
            PatchNormalization.normalize(s, rows: n, width: K, mean: mean.pointer + r0, rstd: rstd.pointer + r0,
                                         gamma: gamma, beta: beta)
            BLAS.gemm(transB: true, m: n, n: E, k: K, a: s, lda: K, b: weight.storage.pointer, ldb: K,
                      beta: 0, c: out.storage.pointer + r0 * E, ldc: E)
            r0 += n
        }
    }
    if let bias {
        let o = out.storage.pointer, b = bias.storage.pointer
        for r in 0..<rows { for e in 0..<E { o[r * E + e] += b[e] } }
    }

    let inputs: [Tensor] = [x, weight] + [normWeight, normBias, bias].compactMap { $0 }
    return Tensor.recordOperation(op, result: out, inputs: inputs) { g in
        let gx: Tensor? = x.requiresGrad ? Tensor.zeros(x.shape) : nil
        let gw: Tensor? = weight.requiresGrad ? Tensor.zeros(weight.shape) : nil
        let gGamma: Tensor? = normWeight?.requiresGrad == true ? Tensor.zeros([K]) : nil
        let gBeta: Tensor? = normBias?.requiresGrad == true ? Tensor.zeros([K]) : nil
        let gBias: Tensor? = bias?.requiresGrad == true ? g.reshaped([rows, E]).sumToShape([E]).copy() : nil
        let needInputSide = gx != nil || gGamma != nil || gBeta != nil
        let xhat = TensorStorage(uninitializedCount: chunk * K)
        let work = TensorStorage(uninitializedCount: chunk * K)
        let gp = g.storage.pointer
        var r0 = 0
        while r0 < rows {
            let n = min(chunk, rows - r0)
            let h = xhat.pointer, w = work.pointer
            geometry.gatherRows(r0..<(r0 + n), from: x.storage.pointer, into: h)
            PatchNormalization.normalize(h, rows: n, width: K, mean: mean.pointer + r0, rstd: rstd.pointer + r0,
                                         gamma: nil, beta: nil)
            if let gw {
                // dW += dYᵀ · LN(patch), with LN(patch) = x̂ γ + β rebuilt in `work`.
                PatchNormalization.affine(h, into: w, rows: n, width: K, gamma: gamma, beta: beta)
                BLAS.gemm(transA: true, m: E, n: K, k: n, a: gp + r0 * E, lda: E, b: w, ldb: K,
                          beta: 1, c: gw.storage.pointer, ldc: K)
            }
            if needInputSide {
                // d LN(patch) = dY · W
                BLAS.gemm(m: n, n: K, k: E, a: gp + r0 * E, lda: E, b: weight.storage.pointer, ldb: K,
                          beta: 0, c: w, ldc: K)
                if let gGamma { PatchNormalization.accumulateColumns(w, times: h, rows: n, width: K, into: gGamma.storage.pointer) }
                if let gBeta { PatchNormalization.accumulateColumns(w, times: nil, rows: n, width: K, into: gBeta.storage.pointer) }
                if let gx {
                    PatchNormalization.inputGradient(w, xhat: h, rows: n, width: K, rstd: rstd.pointer + r0, gamma: gamma)
                    geometry.scatterAddRows(r0..<(r0 + n), from: w, into: gx.storage.pointer)
                }
            }
            r0 += n
        }
        var grads: [Tensor?] = [gx, gw]
        if normWeight != nil { grads.append(gGamma) }
        if normBias != nil { grads.append(gBeta) }
        if bias != nil { grads.append(gBias) }
        return grads
    }
}

/// Row-wise LayerNorm kernels over contiguous rows of `width` floats.
private enum PatchNormalization {
    /// Mean and 1/√(biased variance + eps) of every row, accumulated in Double.
    static func statistics(_ p: UnsafeMutablePointer<Float>, rows: Int, width: Int, eps: Float,
                           mean: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>) {
        Parallel.forRanges(rows, minimumPerThread: max(1, 32_768 / max(width, 1))) { range in
            for r in range {
                let row = p + r * width
                var sum = 0.0
                for j in 0..<width { sum += Double(row[j]) }
                let m = sum / Double(width)
                var squares = 0.0
                for j in 0..<width {
                    let d = Double(row[j]) - m
                    squares += d * d
                }
                mean[r] = Float(m)
                rstd[r] = Float(1 / (squares / Double(width) + Double(eps)).squareRoot())
            }
        }
    }

    /// In place: (row − mean)·rstd, then ·γ + β when given.
    static func normalize(_ p: UnsafeMutablePointer<Float>, rows: Int, width: Int, mean: UnsafeMutablePointer<Float>,
                          rstd: UnsafeMutablePointer<Float>, gamma: UnsafeMutablePointer<Float>?, beta: UnsafeMutablePointer<Float>?) {
        Parallel.forRanges(rows, minimumPerThread: max(1, 32_768 / max(width, 1))) { range in
            for r in range {
                let row = p + r * width, m = mean[r], s = rstd[r]
                for j in 0..<width { row[j] = (row[j] - m) * s }
                if let gamma { for j in 0..<width { row[j] *= gamma[j] } }
                if let beta { for j in 0..<width { row[j] += beta[j] } }
            }
        }
    }

    /// dst = x̂ ·γ + β (each when given).
    static func affine(_ xhat: UnsafeMutablePointer<Float>, into dst: UnsafeMutablePointer<Float>, rows: Int, width: Int,
                       gamma: UnsafeMutablePointer<Float>?, beta: UnsafeMutablePointer<Float>?) {
        Parallel.forRanges(rows, minimumPerThread: max(1, 32_768 / max(width, 1))) { range in
            for r in range {
                let src = xhat + r * width, row = dst + r * width
                row.update(from: src, count: width)
                if let gamma { for j in 0..<width { row[j] *= gamma[j] } }
                if let beta { for j in 0..<width { row[j] += beta[j] } }
            }
        }
    }

    /// acc[j] += Σ_r a[r, j] · b[r, j] (or Σ_r a[r, j] without `b`).
    static func accumulateColumns(_ a: UnsafeMutablePointer<Float>, times b: UnsafeMutablePointer<Float>?, rows: Int, width: Int,
                                  into acc: UnsafeMutablePointer<Float>) {
        for r in 0..<rows {
            let ar = a + r * width
            if let b {
                let br = b + r * width
                for j in 0..<width { acc[j] += ar[j] * br[j] }
            } else {
                for j in 0..<width { acc[j] += ar[j] }
            }
        }
    }

    /// In place on `dy` (the gradient of the LayerNorm output): the gradient of its input,
    /// rstd · (dx̂ − mean(dx̂) − x̂ · mean(dx̂ ∘ x̂)) with dx̂ = dy ∘ γ.
    static func inputGradient(_ dy: UnsafeMutablePointer<Float>, xhat: UnsafeMutablePointer<Float>, rows: Int, width: Int,
                              rstd: UnsafeMutablePointer<Float>, gamma: UnsafeMutablePointer<Float>?) {
        Parallel.forRanges(rows, minimumPerThread: max(1, 32_768 / max(width, 1))) { range in
            for r in range {
                let d = dy + r * width, h = xhat + r * width
                if let gamma { for j in 0..<width { d[j] *= gamma[j] } }
                var m1 = 0.0, m2 = 0.0
                for j in 0..<width {
                    m1 += Double(d[j])
                    m2 += Double(d[j]) * Double(h[j])
                }
                let a = Float(m1 / Double(width)), b = Float(m2 / Double(width)), s = rstd[r]
                for j in 0..<width { d[j] = s * (d[j] - a - h[j] * b) }
            }
        }
    }
}
