// Temporal (kT, 1, 1) convolutions as one deep GEMM per frame.
//
// With the input of one batch element rearranged frame-major, X' = (T, C, H·W), the kT·C input
// rows that output frame t reads (frame t + kt, channel c, for every kt and c) are consecutive rows
// of X' starting at row t·C. So output frame t is a single GEMM
//     out[:, t, :] (O × HW) = Wt (O × kT·C) · X'[t·C ..< (t + kT)·C] (kT·C × HW)
// with K = kT·C instead of kT GEMMs of depth C accumulating into the output, and the output is
// written in place in its (O, T', HW) layout (row stride T'·HW). The input gradient follows the
// same pattern: the input gradient of frame t is a GEMM of the flipped, transposed weight with the
// (up to kT) frames of the frame-major output gradient that it reaches (frames beyond the output's
// ends would only contribute zeros: neither stored nor multiplied). The weight
// gradient needs no rearrangement: per output frame and tap it is one A·Bᵀ product of depth H·W
// (gradOut[:, t, :] with x[:, t + kt, :], both read in place), the same 32 × 32 × H·W pieces the
// frame-major layout would give OpenBLAS's small kernel, without copying the input.
//
// Frames are split across threads (single-threaded BLAS each); rearranged copies are made per
// batch element, so the scratch memory is about one batch element's input and output.

enum TemporalConvolution {
    /// Whether the convolution takes this path: one group, a temporal kernel of unit stride and
    /// dilation, no spatial extent or padding, and frames large enough for a GEMM.
    static func applies(_ g: ConvGeometry) -> Bool {
        g.groups == 1 && g.kT > 1 && g.sT == 1 && g.dT == 1
            && g.kH == 1 && g.kW == 1 && g.sH == 1 && g.sW == 1 && g.pH == 0 && g.pW == 0
            && g.inH * g.inW >= 64
    }

    /// The weight (O, C, kT) as (O, kT·C): column kt·C + c.
    static func packForward(_ g: ConvGeometry, weight: UnsafePointer<Float>) -> UnsafeMutablePointer<Float> {
        let c = g.inChannels, k = g.kT
        let packed = UnsafeMutablePointer<Float>.allocate(capacity: g.outChannels * k * c)
        for o in 0..<g.outChannels {
            for ci in 0..<c {
                for kt in 0..<k { packed[o * k * c + kt * c + ci] = weight[(o * c + ci) * k + kt] }
            }
        }
        return packed
    }

    /// The weight as (C, kT·O), flipped in time: column j·O + o holds W[o, c, kT − 1 − j].
    static func packInputGradient(_ g: ConvGeometry, weight: UnsafePointer<Float>) -> UnsafeMutablePointer<Float> {
        let c = g.inChannels, o = g.outChannels, k = g.kT
        let packed = UnsafeMutablePointer<Float>.allocate(capacity: c * k * o)
        for ci in 0..<c {
            for j in 0..<k {
                for oi in 0..<o { packed[ci * k * o + j * o + oi] = weight[(oi * c + ci) * k + (k - 1 - j)] }
            }
        }
        return packed
    }

    /// Row stride of the GEMMs' output rows: the plane rounded up to whole cache lines, plus one
    /// line, so that consecutive rows do not fall on the same L1 sets. (The output tensor's own rows
    /// are T·H·W floats apart, a multiple of 4 KiB for 24 frames of 36 × 64: GEMMs writing there ran
    /// ≈ 6 % slower in a standalone test of the small-matrix kernels.)
    static func rowStride(_ plane: Int) -> Int { (plane + 15) / 16 * 16 + 16 }

    /// Copies `count` rows of `plane` values (`stride` apart) to rows `rowStride` apart, adding
    /// `bias[row]` when given.
    static func storeRows(_ rows: UnsafePointer<Float>, stride: Int, count: Int, plane: Int,
                          bias: UnsafePointer<Float>?, into dst: UnsafeMutablePointer<Float>, rowStride: Int) {
        for r in 0..<count {
            let s = rows + r * stride, d = dst + r * rowStride
            if let bias {
                let b = bias[r]
                for p in 0..<plane { d[p] = s[p] + b }
            } else {
                d.update(from: s, count: plane)
            }
        }
    }

    /// Copies `channels` channel volumes of `frames` frames (channel-major, `plane` elements per
    /// frame) into frame-major order `dst[(f·channels + c)·plane]`, for destination frames
    /// `0 ..< total`, where destination frame f holds source frame f − `lead` (zeros outside).
    static func toFrameMajor(_ src: UnsafePointer<Float>, channels: Int, frames: Int, plane: Int, lead: Int, total: Int,
                             into dst: UnsafeMutablePointer<Float>, parallel: Bool) {
        Parallel.forRanges(total, minimumPerThread: parallel ? max(1, 65_536 / max(channels * plane, 1)) : Int.max) { range in
            for f in range {
                let s = f - lead
                let d = dst + f * channels * plane
                if s < 0 || s >= frames {
                    d.update(repeating: 0, count: channels * plane)
                    continue
                }
                for c in 0..<channels {
                    (d + c * plane).update(from: src + (c * frames + s) * plane, count: plane)
                }
            }
        }
    }

    static func forward(_ g: ConvGeometry, x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                        bias: UnsafePointer<Float>?, out: UnsafeMutablePointer<Float>) {
        let plane = g.inH * g.inW, c = g.inChannels, o = g.outChannels
        let depth = g.kT * c
        let frames = g.inT + 2 * g.pT
        let packed = packForward(g, weight: weight)
        defer { packed.deallocate() }
        let scratch = TensorStorage(uninitializedCount: frames * c * plane)
        let xt = scratch.pointer
        let parallel = ConvolutionKernels.work(g) >= ConvolutionKernels.parallelWorkThreshold
        let stride = rowStride(plane)
        for n in 0..<g.batch {
            toFrameMajor(x + n * c * g.inVolume, channels: c, frames: g.inT, plane: plane, lead: g.pT, total: frames,
                         into: xt, parallel: parallel)
            let outBase = out + n * o * g.outVolume
            ConvolutionKernels.runItems(g.outT, parallel: parallel) { _, range, single in
                let rows = Scratch(o * stride)
                defer { withExtendedLifetime(rows) {} }
                for t in range {
                    BLAS.gemm(m: o, n: plane, k: depth, a: packed, lda: depth, b: xt + t * c * plane, ldb: plane,
                              beta: 0, c: rows.pointer, ldc: stride, singleThreaded: single)
                    storeRows(rows.pointer, stride: stride, count: o, plane: plane, bias: bias,
                              into: outBase + t * plane, rowStride: g.outVolume)
                }
            }
        }
        withExtendedLifetime(scratch) {}
    }

    static func backward(_ g: ConvGeometry, x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                         gradOut: UnsafePointer<Float>, gradInput: UnsafeMutablePointer<Float>?,
                         gradWeight: UnsafeMutablePointer<Float>?) {
        let plane = g.inH * g.inW, c = g.inChannels, o = g.outChannels, k = g.kT
        let parallel = ConvolutionKernels.work(g) >= ConvolutionKernels.parallelWorkThreshold
        let items = max(g.outT, g.inT)
        let stride = rowStride(plane)
        // Weight-gradient accumulators per piece of the frames (the same pieces for every batch
        // element), summed in piece order: deterministic whichever thread runs which piece.
        let slots = max(1, ConvolutionKernels.pieces(items, parallel: parallel).count)
        let weightSize = o * k * c

        // Frame-major output gradient (input gradient; the taps that would read the zero frames
        // around it are skipped, so they are not stored). The weight gradient reads the input in
        // place: its GEMMs are HW deep whatever the layout.
        let gScratch = gradInput == nil ? nil : TensorStorage(uninitializedCount: g.outT * o * plane)
        let flipped = gradInput == nil ? nil : packInputGradient(g, weight: weight)
        defer { flipped?.deallocate() }
        let acc: UnsafeMutablePointer<Float>? = gradWeight == nil ? nil
            : UnsafeMutablePointer<Float>.allocate(capacity: weightSize * slots)
        acc?.initialize(repeating: 0, count: weightSize * slots)
        defer { acc?.deallocate() }

        for n in 0..<g.batch {
            let gt = gScratch?.pointer
            if let gt {
                toFrameMajor(gradOut + n * o * g.outVolume, channels: o, frames: g.outT, plane: plane, lead: 0,
                             total: g.outT, into: gt, parallel: parallel)
            }
            let gradOutBase = gradOut + n * o * g.outVolume
            ConvolutionKernels.runItems(items, parallel: parallel) { piece, range, single in
                let rows = gradInput == nil ? nil : Scratch(c * stride)
                defer { withExtendedLifetime(rows) {} }
                for i in range {
                    if let acc, i < g.outT {
                        // gWᵀ[kt] (C × O) += x[:, i + kt − pT, :] (C × HW) · gradOut[:, i, :]ᵀ (HW × O) for the
                        // taps that read a real input frame (accumulator rows kt·C + c).
                        for kt in 0..<k {
                            let frame = i + kt - g.pT
                            guard frame >= 0 && frame < g.inT else { continue }
                            BLAS.gemm(transB: true, m: c, n: o, k: plane, a: x + n * c * g.inVolume + frame * plane,
                                      lda: g.inVolume, b: gradOutBase + i * plane, ldb: g.outVolume, beta: 1,
                                      c: acc + piece * weightSize + kt * c * o, ldc: o, singleThreaded: single)
                        }
                    }
                    if let gt, let flipped, let gradInput, i < g.inT {
                        // gX[:, i, :] (C × HW) = Wflipped (C × kT·O) · G'[(i + pT + j − (kT − 1))·O, …] over
                        // the taps j whose frame of G' is a real output frame (the others would only
                        // add zeros: a quarter of the work for 7 taps on 24 frames).
                        let first = i + g.pT
                        let jlo = max(0, k - 1 - first), jhi = min(k, k - 1 + g.outT - first)
                        let dst = gradInput + n * c * g.inVolume + i * plane
                        if jhi > jlo, let rows {
                            BLAS.gemm(m: c, n: plane, k: (jhi - jlo) * o, a: flipped + jlo * o, lda: k * o,
                                      b: gt + (first + jlo - (k - 1)) * o * plane, ldb: plane, beta: 0, c: rows.pointer,
                                      ldc: stride, singleThreaded: single)
                            storeRows(rows.pointer, stride: stride, count: c, plane: plane, bias: nil, into: dst,
                                      rowStride: g.inVolume)
                        } else {
                            for ci in 0..<c { (dst + ci * g.inVolume).update(repeating: 0, count: plane) }
                        }
                    }
                }
            }
        }
        withExtendedLifetime(gScratch) {}
        if let acc, let gradWeight {
            for piece in 1..<slots {
                let other = acc + piece * weightSize
                for i in 0..<weightSize { acc[i] += other[i] }
            }
            for oi in 0..<o {
                for ci in 0..<c {
                    for kt in 0..<k { gradWeight[(oi * c + ci) * k + kt] = acc[(kt * c + ci) * o + oi] }
                }
            }
        }
    }
}
