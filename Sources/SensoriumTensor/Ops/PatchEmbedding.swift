// Patch embedding without the patch tensor: unfold → LayerNorm(patch) → Linear, fused.
//
// ViV1T's tokenizer unfolds a 140-frame clip into 116 × 435 patches of 6,125 values (1.2 GB in float32),
// normalises each patch and projects it to 112 values. Composed from separate ops, the autodiff graph
// keeps the patch tensor and its normalised copy until backward (2.5 GB per clip) and creates two
// more of that size in backward. Here patches are gathered a piece of rows at a time into scratch
// space, normalised and multiplied there (one single-threaded GEMM per piece, pieces spread over the
// threads); only the per-patch mean and inverse standard deviation are kept. Backward regathers the
// pieces and forms one (E × K) product dYᵀ·x̂, from which the weight, γ and β gradients follow;
// the (patches × K) gradient of the normalised patches is formed only when x needs a gradient.

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
///   - rowsPerChunk: patches in flight at once over all threads (scratch memory rowsPerChunk · K
///     floats, twice that when x needs a gradient; not results).
/// - Returns: (B, T', H'·W', E). Differentiable in `x`, `normWeight`, `normBias`, `weight` and `bias`.
public func patchEmbedding3d(_ x: Tensor, kernel: [Int], stride: [Int], normWeight: Tensor?, normBias: Tensor?,
                             eps: Float = 1e-5, weight: Tensor, bias: Tensor?, rowsPerChunk: Int = 256) -> Tensor {
    let name = "patchEmbedding3d"
    guard let grid = PatchGrid3d(inputShape: x.shape, kernel: kernel, stride: stride) else {
        preconditionFailure("\(name): kernel \(kernel) with stride \(stride) does not fit input of shape \(x.shape) (expected (B, C, T, H, W))")
    }
    let K = grid.patchSize
    precondition(weight.rank == 2 && weight.shape[1] == K,
                 "\(name): weight must be (E, \(K)) for patches of \(K) values from x \(x.shape), got \(weight.shape)")
    let E = weight.shape[0]
    if let bias { precondition(bias.shape == [E], "\(name): bias must be (\(E)) for weight \(weight.shape), got \(bias.shape)") }
    if let normWeight { precondition(normWeight.shape == [K], "\(name): normWeight must be (\(K)), got \(normWeight.shape)") }
    if let normBias { precondition(normBias.shape == [K], "\(name): normBias must be (\(K)), got \(normBias.shape)") }
    precondition(rowsPerChunk > 0, "\(name): rowsPerChunk must be positive, got \(rowsPerChunk)")

    let geometry = PatchGeometry(shape: x.shape, kernel: kernel, stride: stride, grid: grid)
    let rows = geometry.rows
    // Rows in flight are split over the threads: each thread gathers, normalises and multiplies
    // its own pieces (single-threaded GEMMs), so memory stays at rowsPerChunk · K floats of scratch.
    let threads = max(1, min(Parallel.threadCount, rowsPerChunk))
    let pieceRows = max(1, min(rowsPerChunk / threads, rows))
    let pieces = (rows + pieceRows - 1) / pieceRows
    let parallel = pieces > 1 && rows * K >= 65_536
    let out = Tensor(uninitializedShape: [x.shape[0], grid.positions[0], grid.positions[1] * grid.positions[2], E])
    let mean = TensorStorage(uninitializedCount: rows), rstd = TensorStorage(uninitializedCount: rows)
    let gamma = normWeight?.storage.pointer, beta = normBias?.storage.pointer
    let xp = x.storage.pointer, wp = weight.storage.pointer, op = out.storage.pointer
    let bp = bias?.storage.pointer
    let mp = mean.pointer, sp = rstd.pointer
    WorkQueue.run(pieces, parallel: parallel) { piece in
        let r0 = piece * pieceRows, n = min(pieceRows, rows - r0)
        let scratch = TensorStorage(uninitializedCount: n * K)
        withExtendedLifetime(scratch) {
            let s = scratch.pointer
            geometry.copyRows(r0..<(r0 + n), from: xp, into: s)
            for r in 0..<n {
                PatchNormalization.normalizeRow(s + r * K, width: K, eps: eps, mean: mp + r0 + r, rstd: sp + r0 + r,
                                                gamma: gamma, beta: beta)
            }
            if let bp { for r in 0..<n { (op + (r0 + r) * E).update(from: bp, count: E) } }
            BLAS.gemm(transB: true, m: n, n: E, k: K, a: s, lda: K, b: wp, ldb: K,
                      beta: bp == nil ? 0 : 1, c: op + r0 * E, ldc: E, singleThreaded: parallel)
        }
    }

    let inputs: [Tensor] = [x, weight] + [normWeight, normBias, bias].compactMap { $0 }
    return Tensor.recordOperation(name, result: out, inputs: inputs) { g in
        // The statistics' storages, captured by the closure (the pointers alone would not keep them).
        let mp = mean.pointer, sp = rstd.pointer
        let needGamma = normWeight?.requiresGrad == true, needBeta = normBias?.requiresGrad == true
        let gp = g.storage.pointer
        // s[e] = Σ_r dY[r, e]: the bias gradient, and part of the weight and β gradients.
        let columnSums = g.reshaped([rows, E]).sumToShape([E]).copy()
        // M = dYᵀ · x̂ (E × K) over all patches, from fixed groups of rows (one partial per group,
        // summed in group order: the same result on any number of threads). With z = x̂ γ + β the
        // LayerNorm output, dW = dYᵀ z = M ∘ γ + s ⊗ β; dγ[j] = Σ_e W[e, j] M[e, j];
        // dβ[j] = Σ_e W[e, j] s[e]. No (patches × K) gradient is formed unless x needs one.
        let needM = weight.requiresGrad || needGamma
        var m: TensorStorage?
        if needM {
            let groupRows = max(pieceRows, 2_048, (rows + 15) / 16)
            let groups = (rows + groupRows - 1) / groupRows
            let partial = TensorStorage(uninitializedCount: groups * E * K)
            let pp = partial.pointer
            WorkQueue.run(groups, parallel: parallel) { group in
                let g0 = group * groupRows, g1 = min(g0 + groupRows, rows)
                let scratch = TensorStorage(uninitializedCount: min(pieceRows, g1 - g0) * K)
                withExtendedLifetime(scratch) {
                    let h = scratch.pointer
                    var r0 = g0
                    while r0 < g1 {
                        let n = min(pieceRows, g1 - r0)
                        geometry.copyRows(r0..<(r0 + n), from: xp, into: h)
                        for r in 0..<n {
                            PatchNormalization.standardizeRow(h + r * K, width: K, mean: mp[r0 + r], rstd: sp[r0 + r])
                        }
                        BLAS.gemm(transA: true, m: E, n: K, k: n, a: gp + r0 * E, lda: E, b: h, ldb: K,
                                  beta: r0 == g0 ? 0 : 1, c: pp + group * E * K, ldc: K, singleThreaded: parallel)
                        r0 += n
                    }
                }
            }
            for group in 1..<groups { PatchNormalization.add(pp + group * E * K, into: pp, count: E * K) }
            m = partial
        }
        let sums = columnSums.storage.pointer
        var gw: Tensor?
        if weight.requiresGrad, let m {
            let t = Tensor(uninitializedShape: weight.shape)
            let d = t.storage.pointer, mp = m.pointer
            for e in 0..<E {
                let row = d + e * K, src = mp + e * K
                if let gamma { for j in 0..<K { row[j] = src[j] * gamma[j] } } else { row.update(from: src, count: K) }
                if let beta { let se = sums[e]; for j in 0..<K { row[j] += se * beta[j] } }
            }
            gw = t
        }
        var gGamma: Tensor?
        if needGamma, let m {
            let t = Tensor.zeros([K])
            let d = t.storage.pointer, mp = m.pointer
            for e in 0..<E { for j in 0..<K { d[j] += wp[e * K + j] * mp[e * K + j] } }
            gGamma = t
        }
        var gBeta: Tensor?
        if needBeta {
            let t = Tensor.zeros([K])
            let d = t.storage.pointer
            for e in 0..<E { let se = sums[e]; for j in 0..<K { d[j] += wp[e * K + j] * se } }
            gBeta = t
        }
        var gx: Tensor?
        if x.requiresGrad {
            // dz = dY · W, dx̂ = dz ∘ γ, then LayerNorm's input gradient, scattered back onto the
            // (overlapping) patches' input elements: chunk by chunk, each step parallel inside.
            let t = Tensor.zeros(x.shape)
            let chunk = max(1, min(rowsPerChunk / 2, rows))
            let xhat = TensorStorage(uninitializedCount: chunk * K)
            let work = TensorStorage(uninitializedCount: chunk * K)
            withExtendedLifetime((xhat, work)) {
                let h = xhat.pointer, w = work.pointer
                var r0 = 0
                while r0 < rows {
                    let n = min(chunk, rows - r0)
                    geometry.gatherRows(r0..<(r0 + n), from: xp, into: h)
                    for r in 0..<n {
                        PatchNormalization.standardizeRow(h + r * K, width: K, mean: mp[r0 + r], rstd: sp[r0 + r])
                    }
                    BLAS.gemm(m: n, n: K, k: E, a: gp + r0 * E, lda: E, b: wp, ldb: K, beta: 0, c: w, ldc: K)
                    PatchNormalization.inputGradient(w, xhat: h, rows: n, width: K, rstd: sp + r0, gamma: gamma)
                    geometry.scatterAddRows(r0..<(r0 + n), from: w, into: t.storage.pointer)
                    r0 += n
                }
            }
            gx = t
        }
        var grads: [Tensor?] = [gx, gw]
        if normWeight != nil { grads.append(gGamma) }
        if normBias != nil { grads.append(gBeta) }
        if let bias { grads.append(bias.requiresGrad ? columnSums : nil) }
        return grads
    }
}

/// Row-wise LayerNorm kernels over contiguous rows of `width` floats.
private enum PatchNormalization {
    @inline(__always)
    static func load(_ p: UnsafePointer<Float>) -> SIMD16<Float> {
        UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self)
    }

    @inline(__always)
    static func store(_ v: SIMD16<Float>, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD16<Float>.self)
    }

    /// One row in place: its mean and 1/√(biased variance + eps) (16 Float lanes per pass, the lanes
    /// and the tail summed in Double), stored at `mean` and `rstd`, then (row − mean)·rstd, ·γ + β
    /// when given.
    @inline(__always)
    static func normalizeRow(_ row: UnsafeMutablePointer<Float>, width: Int, eps: Float, mean: UnsafeMutablePointer<Float>,
                             rstd: UnsafeMutablePointer<Float>, gamma: UnsafeMutablePointer<Float>?,
                             beta: UnsafeMutablePointer<Float>?) {
        let vectorEnd = width & ~15
        var lanes = SIMD16<Float>()
        var j = 0
        while j < vectorEnd { lanes += load(row + j); j += 16 }
        var sum = 0.0
        for l in 0..<16 { sum += Double(lanes[l]) }
        for t in vectorEnd..<width { sum += Double(row[t]) }
        let m = Float(sum / Double(width))
        let mv = SIMD16<Float>(repeating: m)
        lanes = SIMD16<Float>()
        j = 0
        while j < vectorEnd {
            let d = load(row + j) - mv
            lanes += d * d
            j += 16
        }
        var squares = 0.0
        for l in 0..<16 { squares += Double(lanes[l]) }
        for t in vectorEnd..<width { let d = Double(row[t] - m); squares += d * d }
        let s = Float(1 / (squares / Double(width) + Double(eps)).squareRoot())
        mean.pointee = m
        rstd.pointee = s
        let sv = SIMD16<Float>(repeating: s)
        j = 0
        switch (gamma, beta) {
        case let (g?, b?):
            while j < vectorEnd { store((load(row + j) - mv) * sv * load(g + j) + load(b + j), row + j); j += 16 }
            for t in vectorEnd..<width { row[t] = (row[t] - m) * s * g[t] + b[t] }
        case let (g?, nil):
            while j < vectorEnd { store((load(row + j) - mv) * sv * load(g + j), row + j); j += 16 }
            for t in vectorEnd..<width { row[t] = (row[t] - m) * s * g[t] }
        case let (nil, b?):
            while j < vectorEnd { store((load(row + j) - mv) * sv + load(b + j), row + j); j += 16 }
            for t in vectorEnd..<width { row[t] = (row[t] - m) * s + b[t] }
        case (nil, nil):
            while j < vectorEnd { store((load(row + j) - mv) * sv, row + j); j += 16 }
            for t in vectorEnd..<width { row[t] = (row[t] - m) * s }
        }
    }

    /// One row in place: (row − mean)·rstd (x̂, from the forward pass's statistics).
    @inline(__always)
    static func standardizeRow(_ row: UnsafeMutablePointer<Float>, width: Int, mean: Float, rstd: Float) {
        let vectorEnd = width & ~15
        let mv = SIMD16<Float>(repeating: mean), sv = SIMD16<Float>(repeating: rstd)
        var j = 0
        while j < vectorEnd { store((load(row + j) - mv) * sv, row + j); j += 16 }
        for t in vectorEnd..<width { row[t] = (row[t] - mean) * rstd }
    }

    /// dst[i] += src[i].
    static func add(_ src: UnsafePointer<Float>, into dst: UnsafeMutablePointer<Float>, count: Int) {
        let vectorEnd = count & ~15
        var j = 0
        while j < vectorEnd { store(load(dst + j) + load(src + j), dst + j); j += 16 }
        for t in vectorEnd..<count { dst[t] += src[t] }
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
