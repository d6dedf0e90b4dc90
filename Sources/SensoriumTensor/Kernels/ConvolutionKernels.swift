// GEMM drivers for 3-D convolution (1-D and 2-D go through the same code with unit leading axes).
//
// Depth-wise convolutions (one input channel per group) use direct kernels
// (DepthwiseConvolution.swift), temporal (kT,1,1) kernels one deep GEMM per frame
// (TemporalConvolution.swift). Otherwise, three lowerings:
// - Pointwise-in-space kernels (kH = kW = 1, unit spatial and temporal stride, no spatial padding):
//   1×1×1 and temporal (k,1,1) convolutions. Output frame t reads input frame t + kt·dT − pT for
//   every tap, and the frames of one channel are contiguous, so each tap is a plain GEMM on shifted
//   views of the input: no column matrix at all.
// - Per-frame spatial kernels (kT = 1, unit stride, e.g. (1,k,k)): each frame is copied once into a
//   zero-padded buffer of width Wp. On that buffer, tap (kh, kw) reads the output's flat positions
//   shifted by kh·dH·Wp + kw·dW, so each tap is again a GEMM on a shifted view (the output is
//   computed on rows of width Wp and cropped). Replaces a kH·kW-times larger column matrix.
//   Kernel rows 5 to 7 wide over at least 8 input channels per group take a fast algorithm along
//   the width instead (F(2, kW) Winograd, WidthWinograd.swift: 8 products per two outputs of a
//   7-wide row instead of 14), forward, input gradient and weight gradient.
// - Everything else: vol2col of a bounded chunk of output positions, then one GEMM per group.
//
// Batch elements (and chunks of positions) run on separate threads, each calling single-threaded
// OpenBLAS; this keeps both cores busy during vol2col/col2vol and avoids two-thread BLAS on the
// many small GEMMs. With a single batch element, chunks run in order and BLAS threads itself.
import Dispatch
import Synchronization

enum ConvolutionKernels {
    /// Blocking and threading parameters (task-local so tests can force small chunks and threading).
    struct Tuning: Sendable {
        /// Upper bound on the elements of one column buffer (per thread).
        var columnBudget = 1 << 18
        /// Output positions per work item of the pointwise-in-space path, at most; fewer when the
        /// channels are many, so one item's slices of input and output stay near 1 MiB.
        var pointwiseChunk = 4_096
        /// Below this many multiply-adds a whole convolution runs on the calling thread.
        var parallelWorkThreshold = 1 << 20
        /// Whether per-frame convolutions whose kernel rows are 5 to 7 wide use the width Winograd
        /// algorithm (`WidthWinograd`); off, they use the direct shifted GEMMs.
        var widthWinograd = true
        /// Outputs per tile of the width Winograd algorithm, F(m, kW): 2, whose float32 error stays
        /// near the direct path's (4 does less work but misses a PyTorch core fixture; WidthWinograd.swift).
        var widthWinogradTile = 2
    }

    @TaskLocal static var tuning = Tuning()

    static var columnBudget: Int { tuning.columnBudget }
    /// Positions per work item of the pointwise-in-space path for this geometry.
    static func pointwiseChunk(_ g: ConvGeometry) -> Int {
        min(tuning.pointwiseChunk, max(256, 262_144 / max(g.inChannels + g.outChannels, 1)))
    }
    static var parallelWorkThreshold: Int { tuning.parallelWorkThreshold }

    // MARK: Path selection

    /// Whether the convolution takes the shifted-GEMM path (no column matrix).
    static func isPointwiseInSpace(_ g: ConvGeometry) -> Bool {
        g.kH == 1 && g.kW == 1 && g.sT == 1 && g.sH == 1 && g.sW == 1 && g.pH == 0 && g.pW == 0
    }

    /// Whether the convolution takes the per-frame shifted-GEMM path (no column matrix).
    ///
    /// Thin input groups fold each kernel row into the GEMM depth (`foldsKernelRows`); fewer than
    /// 4 output channels per group make every GEMM too thin, and those use vol2col.
    static func isFrameShifted(_ g: ConvGeometry) -> Bool {
        g.kT == 1 && g.sT == 1 && g.pT == 0 && g.sH == 1 && g.sW == 1 && g.kH * g.kW > 1
            && g.groupOutChannels >= 4 && (g.groupInChannels >= 4 || foldsKernelRows(g))
    }

    /// Multiply-adds of the forward pass.
    static func work(_ g: ConvGeometry) -> Int {
        g.batch * g.outChannels * g.outVolume * g.columnRows
    }

    /// Output positions per chunk of the column path.
    static func columnChunk(_ g: ConvGeometry) -> Int {
        let positions = g.outVolume
        let chunk = max(columnBudget / max(g.columnRows, 1), g.outW)
        return min(positions, max(chunk, 1))
    }

    // MARK: Forward

    /// Computes the convolution into `out` (N, O, oT, oH, oW), overwriting it.
    static func forward(_ g: ConvGeometry, x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                        bias: UnsafePointer<Float>?, out: UnsafeMutablePointer<Float>) {
        if DepthwiseConvolution.applies(g) {
            DepthwiseConvolution.forward(g, x: x, weight: weight, bias: bias, out: out)
        } else if TemporalConvolution.applies(g) {
            TemporalConvolution.forward(g, x: x, weight: weight, bias: bias, out: out)
        } else if isPointwiseInSpace(g) {
            pointwiseForward(g, x: x, weight: weight, bias: bias, out: out)
        } else if isFrameShifted(g) {
            frameForward(g, x: x, weight: weight, bias: bias, out: out)
        } else {
            columnForward(g, x: x, weight: weight, bias: bias, out: out)
        }
    }

    /// Fills output channel rows `start ..< start + count` of batch element `n` with the bias (or zero).
    @inline(__always)
    static func fillBias(_ g: ConvGeometry, bias: UnsafePointer<Float>?, out: UnsafeMutablePointer<Float>,
                         n: Int, start: Int, count: Int) {
        let positions = g.outVolume
        for o in 0..<g.outChannels {
            (out + (n * g.outChannels + o) * positions + start).update(repeating: bias?[o] ?? 0, count: count)
        }
    }

    static func pointwiseForward(_ g: ConvGeometry, x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                                 bias: UnsafePointer<Float>?, out: UnsafeMutablePointer<Float>) {
        let packed = packTapMajor(g, weight: weight)
        defer { packed.deallocate() }
        let positions = g.outVolume, inVolume = g.inVolume
        let plane = g.inH * g.inW
        let cg = g.groupInChannels, og = g.groupOutChannels
        let chunk = min(positions, pointwiseChunk(g))
        let chunksPerBatch = (positions + chunk - 1) / chunk
        let items = g.batch * chunksPerBatch
        runItems(items, parallel: work(g) >= parallelWorkThreshold) { _, range, single in
            for item in range {
                let n = item / chunksPerBatch
                let j0 = (item % chunksPerBatch) * chunk, j1 = min(positions, j0 + chunk)
                fillBias(g, bias: bias, out: out, n: n, start: j0, count: j1 - j0)
                for kt in 0..<g.kT {
                    let shift = (kt * g.dT - g.pT) * plane
                    let lo = max(j0, -shift), hi = min(j1, inVolume - shift)
                    guard hi > lo else { continue }
                    for group in 0..<g.groups {
                        BLAS.gemm(m: og, n: hi - lo, k: cg,
                                  a: packed + (kt * g.outChannels + group * og) * cg, lda: cg,
                                  b: x + (n * g.inChannels + group * cg) * inVolume + lo + shift, ldb: inVolume,
                                  beta: 1, c: out + (n * g.outChannels + group * og) * positions + lo, ldc: positions,
                                  singleThreaded: single)
                    }
                }
            }
        }
    }

    static func columnForward(_ g: ConvGeometry, x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                              bias: UnsafePointer<Float>?, out: UnsafeMutablePointer<Float>) {
        let positions = g.outVolume, inVolume = g.inVolume
        let rows = g.columnRows
        let cg = g.groupInChannels, og = g.groupOutChannels
        let chunk = columnChunk(g)
        let chunksPerBatch = (positions + chunk - 1) / chunk
        let items = g.batch * chunksPerBatch
        runItems(items, parallel: work(g) >= parallelWorkThreshold) { _, range, single in
            let colsBuffer = Scratch(rows * chunk)
            defer { withExtendedLifetime(colsBuffer) {} }
            let cols = colsBuffer.pointer
            for item in range {
                let n = item / chunksPerBatch
                let j0 = (item % chunksPerBatch) * chunk, count = min(positions, j0 + chunk) - j0
                fillBias(g, bias: bias, out: out, n: n, start: j0, count: count)
                for group in 0..<g.groups {
                    Im2col.vol2col(g, input: x + (n * g.inChannels + group * cg) * inVolume, cols: cols,
                                   start: j0, count: count, parallel: !single)
                    BLAS.gemm(m: og, n: count, k: rows, a: weight + group * og * rows, lda: rows,
                              b: cols, ldb: count, beta: 1,
                              c: out + (n * g.outChannels + group * og) * positions + j0, ldc: positions,
                              singleThreaded: single)
                }
            }
        }
    }

    // MARK: Backward

    /// Gradients of the convolution. Each non-nil destination is overwritten.
    static func backward(_ g: ConvGeometry, x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                         gradOut: UnsafePointer<Float>, gradInput: UnsafeMutablePointer<Float>?,
                         gradWeight: UnsafeMutablePointer<Float>?, gradBias: UnsafeMutablePointer<Float>?) {
        if let gradBias { biasGradient(g, gradOut: gradOut, gradBias: gradBias) }
        guard gradInput != nil || gradWeight != nil else { return }
        if DepthwiseConvolution.applies(g) {
            DepthwiseConvolution.backward(g, x: x, weight: weight, gradOut: gradOut, gradInput: gradInput,
                                          gradWeight: gradWeight)
        } else if TemporalConvolution.applies(g) {
            TemporalConvolution.backward(g, x: x, weight: weight, gradOut: gradOut, gradInput: gradInput,
                                         gradWeight: gradWeight)
        } else if isPointwiseInSpace(g) {
            if let gradWeight { pointwiseWeightGradient(g, x: x, gradOut: gradOut, gradWeight: gradWeight) }
            if let gradInput { pointwiseInputGradient(g, weight: weight, gradOut: gradOut, gradInput: gradInput) }
        } else if isFrameShifted(g) {
            if let gradWeight { frameWeightGradient(g, x: x, gradOut: gradOut, gradWeight: gradWeight) }
            if let gradInput, !frameInputGradient(g, weight: weight, gradOut: gradOut, gradInput: gradInput) {
                frameBackward(g, x: x, weight: weight, gradOut: gradOut, gradInput: gradInput, gradWeight: nil)
            }
        } else {
            columnBackward(g, x: x, weight: weight, gradOut: gradOut, gradInput: gradInput, gradWeight: gradWeight)
        }
    }

    static func biasGradient(_ g: ConvGeometry, gradOut: UnsafePointer<Float>, gradBias: UnsafeMutablePointer<Float>) {
        let positions = g.outVolume
        Parallel.forRanges(g.outChannels, minimumPerThread: max(1, 262_144 / max(positions * g.batch, 1))) { channels in
            for o in channels {
                var total = 0.0
                for n in 0..<g.batch {
                    let row = gradOut + (n * g.outChannels + o) * positions
                    var lanes = SIMD8<Float>()
                    var j = 0
                    while j + 8 <= positions {
                        lanes += UnsafeRawPointer(row + j).loadUnaligned(as: SIMD8<Float>.self)
                        j += 8
                        // Fold into Double every 4096 elements to bound rounding error.
                        if j & 4095 == 0 { total += Double(lanes.sum()); lanes = SIMD8<Float>() }
                    }
                    var tail = lanes.sum()
                    while j < positions { tail += row[j]; j += 1 }
                    total += Double(tail)
                }
                gradBias[o] = Float(total)
            }
        }
    }

    static func pointwiseWeightGradient(_ g: ConvGeometry, x: UnsafePointer<Float>, gradOut: UnsafePointer<Float>,
                                        gradWeight: UnsafeMutablePointer<Float>) {
        let positions = g.outVolume, inVolume = g.inVolume
        let plane = g.inH * g.inW
        let cg = g.groupInChannels, og = g.groupOutChannels
        let chunk = min(positions, pointwiseChunk(g))
        let chunksPerBatch = (positions + chunk - 1) / chunk
        let items = g.batch * chunksPerBatch
        let size = g.kT * g.outChannels * cg
        let parallel = work(g) >= parallelWorkThreshold
        // One tap-major accumulator per piece, summed in piece order at the end (deterministic).
        let slots = max(1, pieces(items, parallel: parallel).count)
        let acc = UnsafeMutablePointer<Float>.allocate(capacity: size * slots)
        acc.initialize(repeating: 0, count: size * slots)
        defer { acc.deallocate() }
        runItems(items, parallel: parallel) { piece, range, single in
            let mine = acc + piece * size
            for item in range {
                let n = item / chunksPerBatch
                let j0 = (item % chunksPerBatch) * chunk, j1 = min(positions, j0 + chunk)
                for kt in 0..<g.kT {
                    let shift = (kt * g.dT - g.pT) * plane
                    let lo = max(j0, -shift), hi = min(j1, inVolume - shift)
                    guard hi > lo else { continue }
                    for group in 0..<g.groups {
                        BLAS.gemm(transB: true, m: og, n: cg, k: hi - lo,
                                  a: gradOut + (n * g.outChannels + group * og) * positions + lo, lda: positions,
                                  b: x + (n * g.inChannels + group * cg) * inVolume + lo + shift, ldb: inVolume,
                                  beta: 1, c: mine + (kt * g.outChannels + group * og) * cg, ldc: cg,
                                  singleThreaded: single)
                    }
                }
            }
        }
        for piece in 1..<slots {
            let other = acc + piece * size
            for i in 0..<size { acc[i] += other[i] }
        }
        unpackTapMajor(g, packed: acc, into: gradWeight)
    }

    static func pointwiseInputGradient(_ g: ConvGeometry, weight: UnsafePointer<Float>, gradOut: UnsafePointer<Float>,
                                       gradInput: UnsafeMutablePointer<Float>) {
        let packed = packTapMajor(g, weight: weight)
        defer { packed.deallocate() }
        let positions = g.outVolume, inVolume = g.inVolume
        let plane = g.inH * g.inW
        let cg = g.groupInChannels, og = g.groupOutChannels
        // Chunks of input positions, so every work item owns the gradient elements it writes.
        let chunk = min(inVolume, pointwiseChunk(g))
        let chunksPerBatch = (inVolume + chunk - 1) / chunk
        let items = g.batch * chunksPerBatch
        runItems(items, parallel: work(g) >= parallelWorkThreshold) { _, range, single in
            for item in range {
                let n = item / chunksPerBatch
                let i0 = (item % chunksPerBatch) * chunk, i1 = min(inVolume, i0 + chunk)
                for c in 0..<g.inChannels {
                    (gradInput + (n * g.inChannels + c) * inVolume + i0).update(repeating: 0, count: i1 - i0)
                }
                for kt in 0..<g.kT {
                    let shift = (kt * g.dT - g.pT) * plane
                    let lo = max(i0, shift), hi = min(i1, positions + shift)
                    guard hi > lo else { continue }
                    for group in 0..<g.groups {
                        BLAS.gemm(transA: true, m: cg, n: hi - lo, k: og,
                                  a: packed + (kt * g.outChannels + group * og) * cg, lda: cg,
                                  b: gradOut + (n * g.outChannels + group * og) * positions + lo - shift, ldb: positions,
                                  beta: 1, c: gradInput + (n * g.inChannels + group * cg) * inVolume + lo, ldc: inVolume,
                                  singleThreaded: single)
                    }
                }
            }
        }
    }

    static func columnBackward(_ g: ConvGeometry, x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                               gradOut: UnsafePointer<Float>, gradInput: UnsafeMutablePointer<Float>?,
                               gradWeight: UnsafeMutablePointer<Float>?) {
        let positions = g.outVolume, inVolume = g.inVolume
        let rows = g.columnRows
        let cg = g.groupInChannels, og = g.groupOutChannels
        let chunk = columnChunk(g)
        let chunksPerBatch = (positions + chunk - 1) / chunk
        let weightSize = g.outChannels * rows
        // Work items are whole batch elements, so col2vol of one item never meets another's writes.
        let parallel = work(g) >= parallelWorkThreshold
        // Weight-gradient accumulators per piece, summed in piece order (deterministic).
        let slots = max(1, pieces(g.batch, parallel: parallel).count)
        let acc: UnsafeMutablePointer<Float>? = gradWeight == nil ? nil
            : UnsafeMutablePointer<Float>.allocate(capacity: weightSize * slots)
        acc?.initialize(repeating: 0, count: weightSize * slots)
        defer { acc?.deallocate() }
        if let gradInput { gradInput.initialize(repeating: 0, count: g.batch * g.inChannels * inVolume) }
        runItems(g.batch, parallel: parallel) { piece, range, single in
            let colsBuffer = Scratch(rows * chunk)
            defer { withExtendedLifetime(colsBuffer) {} }
            let cols = colsBuffer.pointer
            let mine = acc.map { $0 + piece * weightSize }
            for n in range {
                for c in 0..<chunksPerBatch {
                    let j0 = c * chunk, count = min(positions, j0 + chunk) - j0
                    for group in 0..<g.groups {
                        let input = (n * g.inChannels + group * cg) * inVolume
                        let grad = gradOut + (n * g.outChannels + group * og) * positions + j0
                        if let mine {
                            Im2col.vol2col(g, input: x + input, cols: cols, start: j0, count: count, parallel: !single)
                            BLAS.gemm(transB: true, m: og, n: rows, k: count, a: grad, lda: positions,
                                      b: cols, ldb: count, beta: 1, c: mine + group * og * rows, ldc: rows,
                                      singleThreaded: single)
                        }
                        if let gradInput {
                            BLAS.gemm(transA: true, m: rows, n: count, k: og, a: weight + group * og * rows, lda: rows,
                                      b: grad, ldb: positions, beta: 0, c: cols, ldc: count, singleThreaded: single)
                            Im2col.col2vol(g, cols: cols, input: gradInput + input, start: j0, count: count,
                                           parallel: !single)
                        }
                    }
                }
            }
        }
        if let acc, let gradWeight {
            gradWeight.update(from: acc, count: weightSize)
            for piece in 1..<slots {
                let other = acc + piece * weightSize
                for i in 0..<weightSize { gradWeight[i] += other[i] }
            }
        }
    }

    // MARK: Per-frame shifted GEMMs

    /// Buffer sizes of the per-frame path: padded frame (Hp rows of width Wp per channel, plus a
    /// tail of pW zeros) and output rows of width Wp covering all output positions (`extent` per
    /// channel).
    ///
    /// Consecutive rows share their horizontal padding: row h's data sits at columns pW ..< pW + W
    /// and only Wp − W ≥ pW zeros separate it from row h + 1's, which is all a window reaching pW
    /// columns past either edge needs (a read past the right edge lands in the next row's left
    /// gap). So Wp = max(W + pW, oW) instead of W + 2·pW: every shifted GEMM computes pW fewer
    /// discarded columns per row (7 × 7 on 64 columns: 4.5 % instead of 9 % of its work).
    struct FrameLayout {
        let paddedH: Int, paddedW: Int
        /// Elements per channel: Hp·Wp and a tail of pW zeros for the last row's right gap.
        let padded: Int
        let extent: Int

        init(_ g: ConvGeometry) {
            paddedH = g.inH + 2 * g.pH
            paddedW = max(g.inW + g.pW, g.outW)
            padded = paddedH * paddedW + g.pW
            extent = (g.outH - 1) * paddedW + g.outW
        }
    }

    /// Copies input frame `t` of batch element `n` into the interior of the zero-bordered `padded` buffer.
    @inline(__always)
    static func copyFrameIn(_ g: ConvGeometry, _ f: FrameLayout, from x: UnsafePointer<Float>, n: Int, t: Int,
                            to padded: UnsafeMutablePointer<Float>) {
        let plane = g.inH * g.inW
        for c in 0..<g.inChannels {
            let src = x + (n * g.inChannels + c) * g.inVolume + t * plane
            let dst = padded + c * f.padded + g.pH * f.paddedW + g.pW
            for h in 0..<g.inH { (dst + h * f.paddedW).update(from: src + h * g.inW, count: g.inW) }
        }
    }

    /// Whether the per-frame path folds the kW taps of a kernel row into the GEMM depth (thin
    /// channel groups, whose per-tap GEMMs would be only `groupInChannels` deep).
    static func foldsKernelRows(_ g: ConvGeometry) -> Bool { g.groupInChannels < 8 && g.kW > 1 }

    /// Kernel-row folding: `kW` copies of every padded input channel, each shifted by one kernel
    /// column (`(c·kW + kw)` rows of `length`), so one GEMM per kernel row covers all its columns.
    @inline(__always)
    static func foldKernelColumns(_ g: ConvGeometry, _ f: FrameLayout, padded: UnsafePointer<Float>,
                                  into shifted: UnsafeMutablePointer<Float>, length: Int) {
        for c in 0..<g.inChannels {
            for kw in 0..<g.kW {
                (shifted + (c * g.kW + kw) * length).update(from: padded + c * f.padded + kw * g.dW, count: length)
            }
        }
    }

    /// The weight (O, Cg, 1, kH, kW) as (kH, O, Cg·kW): one matrix per kernel row.
    static func packRowMajor(_ g: ConvGeometry, weight: UnsafePointer<Float>) -> UnsafeMutablePointer<Float> {
        let cg = g.groupInChannels, depth = cg * g.kW
        let packed = UnsafeMutablePointer<Float>.allocate(capacity: max(g.kH * g.outChannels * depth, 1))
        for o in 0..<g.outChannels {
            for c in 0..<cg {
                for kh in 0..<g.kH {
                    for kw in 0..<g.kW {
                        packed[(kh * g.outChannels + o) * depth + c * g.kW + kw] = weight[((o * cg + c) * g.kH + kh) * g.kW + kw]
                    }
                }
            }
        }
        return packed
    }

    static func frameForward(_ g: ConvGeometry, x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                             bias: UnsafePointer<Float>?, out: UnsafeMutablePointer<Float>) {
        if WidthWinograd.pays(g) {
            WidthWinograd.forward(g, x: x, weight: weight, bias: bias, out: out)
            return
        }
        let f = FrameLayout(g)
        let fold = foldsKernelRows(g)
        let packed = fold ? packRowMajor(g, weight: weight) : packTapMajor(g, weight: weight)
        defer { packed.deallocate() }
        let cg = g.groupInChannels, og = g.groupOutChannels
        let outPlane = g.outH * g.outW
        // Folded rows: the padded frame copied kW times, shifted by kw·dW (rows (c, kw) of length lq).
        let lq = (g.kH - 1) * g.dH * f.paddedW + f.extent
        let depth = cg * g.kW
        runItems(g.batch * g.outT, parallel: work(g) >= parallelWorkThreshold) { _, range, single in
            let buffers = (Scratch(g.inChannels * f.padded), Scratch(g.outChannels * f.extent),
                           Scratch(fold ? g.inChannels * g.kW * lq : 1))
            defer { withExtendedLifetime(buffers) {} }
            let padded = buffers.0.pointer, rows = buffers.1.pointer, shifted = buffers.2.pointer
            padded.initialize(repeating: 0, count: g.inChannels * f.padded)
            for item in range {
                let n = item / g.outT, t = item % g.outT
                copyFrameIn(g, f, from: x, n: n, t: t, to: padded)
                if fold {
                    foldKernelColumns(g, f, padded: padded, into: shifted, length: lq)
                    for kh in 0..<g.kH {
                        for group in 0..<g.groups {
                            BLAS.gemm(m: og, n: f.extent, k: depth, a: packed + (kh * g.outChannels + group * og) * depth,
                                      lda: depth, b: shifted + group * depth * lq + kh * g.dH * f.paddedW, ldb: lq,
                                      beta: kh == 0 ? 0 : 1, c: rows + group * og * f.extent, ldc: f.extent,
                                      singleThreaded: single)
                        }
                    }
                } else {
                    for kh in 0..<g.kH {
                        for kw in 0..<g.kW {
                            let tap = kh * g.kW + kw
                            let shift = kh * g.dH * f.paddedW + kw * g.dW
                            for group in 0..<g.groups {
                                BLAS.gemm(m: og, n: f.extent, k: cg, a: packed + (tap * g.outChannels + group * og) * cg, lda: cg,
                                          b: padded + group * cg * f.padded + shift, ldb: f.padded,
                                          beta: tap == 0 ? 0 : 1, c: rows + group * og * f.extent, ldc: f.extent,
                                          singleThreaded: single)
                            }
                        }
                    }
                }
                for o in 0..<g.outChannels {
                    let b = bias?[o] ?? 0
                    let dst = out + (n * g.outChannels + o) * g.outVolume + t * outPlane
                    let src = rows + o * f.extent
                    for h in 0..<g.outH {
                        let d = dst + h * g.outW, s = src + h * f.paddedW
                        for w in 0..<g.outW { d[w] = s[w] + b }
                    }
                }
            }
        }
    }

    static func frameBackward(_ g: ConvGeometry, x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                              gradOut: UnsafePointer<Float>, gradInput: UnsafeMutablePointer<Float>?,
                              gradWeight: UnsafeMutablePointer<Float>?) {
        let f = FrameLayout(g)
        let packed = packTapMajor(g, weight: weight)
        defer { packed.deallocate() }
        let cg = g.groupInChannels, og = g.groupOutChannels
        let outPlane = g.outH * g.outW, inPlane = g.inH * g.inW
        let items = g.batch * g.outT
        let parallel = work(g) >= parallelWorkThreshold
        let weightSize = g.kernelVolume * g.outChannels * cg
        // Tap-major weight-gradient accumulators, one per piece, summed in piece order (deterministic).
        let slots = max(1, pieces(items, parallel: parallel).count)
        let acc: UnsafeMutablePointer<Float>? = gradWeight == nil ? nil
            : UnsafeMutablePointer<Float>.allocate(capacity: weightSize * slots)
        acc?.initialize(repeating: 0, count: weightSize * slots)
        defer { acc?.deallocate() }
        // Work items are frames; with kT = 1 each frame's input gradient depends on its own output gradient only.
        runItems(items, parallel: parallel) { piece, range, single in
            let padded = UnsafeMutablePointer<Float>.allocate(capacity: g.inChannels * f.padded)
            padded.initialize(repeating: 0, count: g.inChannels * f.padded)
            let rows = UnsafeMutablePointer<Float>.allocate(capacity: g.outChannels * f.extent)
            rows.initialize(repeating: 0, count: g.outChannels * f.extent)  // the columns past oW stay zero
            defer { padded.deallocate(); rows.deallocate() }
            let mine = acc.map { $0 + piece * weightSize }
            for item in range {
                let n = item / g.outT, t = item % g.outT
                for o in 0..<g.outChannels {
                    let src = gradOut + (n * g.outChannels + o) * g.outVolume + t * outPlane
                    let dst = rows + o * f.extent
                    for h in 0..<g.outH { (dst + h * f.paddedW).update(from: src + h * g.outW, count: g.outW) }
                }
                if let mine {
                    copyFrameIn(g, f, from: x, n: n, t: t, to: padded)
                    for tap in 0..<(g.kH * g.kW) {
                        let shift = (tap / g.kW) * g.dH * f.paddedW + (tap % g.kW) * g.dW
                        for group in 0..<g.groups {
                            BLAS.gemm(transB: true, m: og, n: cg, k: f.extent, a: rows + group * og * f.extent, lda: f.extent,
                                      b: padded + group * cg * f.padded + shift, ldb: f.padded,
                                      beta: 1, c: mine + (tap * g.outChannels + group * og) * cg, ldc: cg,
                                      singleThreaded: single)
                        }
                    }
                }
                if let gradInput {
                    // Scatter every tap into a padded input-gradient frame, then crop it.
                    padded.update(repeating: 0, count: g.inChannels * f.padded)
                    for tap in 0..<(g.kH * g.kW) {
                        let shift = (tap / g.kW) * g.dH * f.paddedW + (tap % g.kW) * g.dW
                        for group in 0..<g.groups {
                            BLAS.gemm(transA: true, m: cg, n: f.extent, k: og,
                                      a: packed + (tap * g.outChannels + group * og) * cg, lda: cg,
                                      b: rows + group * og * f.extent, ldb: f.extent,
                                      beta: 1, c: padded + group * cg * f.padded + shift, ldc: f.padded,
                                      singleThreaded: single)
                        }
                    }
                    for c in 0..<g.inChannels {
                        let dst = gradInput + (n * g.inChannels + c) * g.inVolume + t * inPlane
                        let src = padded + c * f.padded + g.pH * f.paddedW + g.pW
                        for h in 0..<g.inH { (dst + h * g.inW).update(from: src + h * f.paddedW, count: g.inW) }
                    }
                    // The next item's weight gradient expects zero borders again.
                    if gradWeight != nil { padded.update(repeating: 0, count: g.inChannels * f.padded) }
                }
            }
        }
        if let acc, let gradWeight {
            for piece in 1..<slots {
                let other = acc + piece * weightSize
                for i in 0..<weightSize { acc[i] += other[i] }
            }
            unpackTapMajor(g, packed: acc, into: gradWeight)
        }
    }

    // MARK: Helpers

    /// The weight (O, Cg, taps) rearranged tap-major as (taps, O, Cg), so each tap is a matrix.
    static func packTapMajor(_ g: ConvGeometry, weight: UnsafePointer<Float>) -> UnsafeMutablePointer<Float> {
        let cg = g.groupInChannels, taps = g.kernelVolume
        let packed = UnsafeMutablePointer<Float>.allocate(capacity: max(taps * g.outChannels * cg, 1))
        for o in 0..<g.outChannels {
            for c in 0..<cg {
                for tap in 0..<taps { packed[(tap * g.outChannels + o) * cg + c] = weight[(o * cg + c) * taps + tap] }
            }
        }
        return packed
    }

    /// The inverse of `packTapMajor`: tap-major (taps, O, Cg) back to PyTorch's (O, Cg, taps).
    static func unpackTapMajor(_ g: ConvGeometry, packed: UnsafePointer<Float>, into weight: UnsafeMutablePointer<Float>) {
        let cg = g.groupInChannels, taps = g.kernelVolume
        for tap in 0..<taps {
            for o in 0..<g.outChannels {
                for c in 0..<cg { weight[(o * cg + c) * taps + tap] = packed[(tap * g.outChannels + o) * cg + c] }
            }
        }
    }

    /// Number of threads `runItems` uses for `items` work items.
    static func itemThreads(_ items: Int, parallel: Bool) -> Int {
        parallel ? max(1, min(Parallel.threadCount, items)) : 1
    }

    /// The consecutive pieces `runItems` cuts `0 ..< items` into: with several threads, guided
    /// scheduling (a piece is the remaining items over 2·threads, at least one), so the threads
    /// finish together; one piece otherwise. The same pieces for the same arguments, whichever
    /// thread ends up running which, so per-piece partial sums reduced in piece order are
    /// deterministic.
    static func pieces(_ items: Int, parallel: Bool) -> [Range<Int>] {
        let threads = itemThreads(items, parallel: parallel)
        guard items > 0 else { return [] }
        guard threads > 1 else { return [0..<items] }
        var out: [Range<Int>] = []
        var start = 0
        while start < items {
            let end = start + max(1, (items - start) / (2 * threads))
            out.append(start..<end)
            start = end
        }
        return out
    }

    /// Calls `body(piece index, range, singleThreadedBLAS)` on every piece of ``pieces(_:parallel:)``.
    ///
    /// With several threads, each worker takes the next piece from a shared counter until none is
    /// left, so a worker delayed by other processes on a busy machine does not hold the others up
    /// at the end; shrinking pieces make the threads also finish together on a quiet machine (with
    /// fixed pieces of a sixth of a share, one thread waited on average half a piece, ≈ 10 ms for a
    /// 7 × 7 layer of the factorized core, at the end of every call). Accumulate per piece index,
    /// not per thread: which thread runs a piece depends on timing, the pieces do not. With one
    /// thread, `body` runs once (piece 0) and BLAS may thread itself.
    static func runItems(_ items: Int, parallel: Bool,
                         _ body: (Int, Range<Int>, Bool) -> Void) {
        let threads = itemThreads(items, parallel: parallel)
        if threads <= 1 {
            if items > 0 { body(0, 0..<items, false) }
            return
        }
        let ranges = pieces(items, parallel: parallel)
        WorkQueue.drain(ranges.count, threads: threads) { piece in body(piece, ranges[piece], true) }
    }
}

/// A scratch buffer from the tensor storage cache (so reusing it costs no page faults); keep the
/// value alive (`withExtendedLifetime`) while `pointer` is in use.
struct Scratch {
    let storage: TensorStorage
    init(_ count: Int) { storage = TensorStorage(uninitializedCount: max(count, 1)) }
    var pointer: UnsafeMutablePointer<Float> { storage.pointer }
}
