// Gradients of per-frame spatial convolutions ((1, kH, kW) kernels, unit stride).
//
// - Input gradient: the gradient of a stride-1 convolution is itself a stride-1 convolution of
//   the output gradient with the kernel flipped in space and its channel axes swapped, padded by
//   dilation·(k − 1) − padding. It runs through the forward kernel (`frameForward`), so it gets the
//   same shifted GEMMs, instead of scattering kH·kW products into a padded gradient frame.
// - Weight gradient: one GEMM of depth `extent` (the whole frame) per tap and frame,
//   ΔW_tap (C × O) += padded[shift …] (C × extent) · gradRowsᵀ, reading the padded frame in place
//   (its channels are rows `f.padded` apart). With OpenBLAS's small A·Bᵀ kernels (`BLAS.gemm`
//   cuts the depth for them) nothing is packed. Thin inputs (kernel rows folded into the depth,
//   `foldsKernelRows`) instead copy the padded frame kW times, shifted by kw·dW (`shifted`, rows
//   (c, kw) of length Lq), and run one GEMM per kernel row:
//   ΔW_kh (C·kW × O) += shifted[kh·dH·Wp …] (C·kW × extent) · gradRowsᵀ.

extension ConvolutionKernels {
    /// The geometry of the input gradient as a forward convolution of the output gradient, or nil
    /// when the required padding would be negative.
    static func inputGradientGeometry(_ g: ConvGeometry) -> ConvGeometry? {
        let ph = g.dH * (g.kH - 1) - g.pH, pw = g.dW * (g.kW - 1) - g.pW
        guard ph >= 0, pw >= 0, g.kT == 1, g.sT == 1, g.sH == 1, g.sW == 1, g.pT == 0 else { return nil }
        let gi = ConvGeometry(batch: g.batch, inChannels: g.outChannels, outChannels: g.inChannels, groups: g.groups,
                              input: [g.outT, g.outH, g.outW], kernel: [1, g.kH, g.kW], stride: [1, 1, 1],
                              padding: [0, ph, pw], dilation: [1, g.dH, g.dW])
        guard gi.outT == g.inT, gi.outH == g.inH, gi.outW == g.inW else { return nil }
        return gi
    }

    /// The weight (O, Cg, kH, kW) flipped in space with its channel axes swapped: (C, Og, kH, kW)
    /// per group.
    static func flippedSwapped(_ g: ConvGeometry, weight: UnsafePointer<Float>) -> UnsafeMutablePointer<Float> {
        let cg = g.groupInChannels, og = g.groupOutChannels, taps = g.kH * g.kW
        let out = UnsafeMutablePointer<Float>.allocate(capacity: max(g.inChannels * og * taps, 1))
        for group in 0..<g.groups {
            for o in 0..<og {
                for c in 0..<cg {
                    let src = weight + ((group * og + o) * cg + c) * taps
                    let dst = out + ((group * cg + c) * og + o) * taps
                    for tap in 0..<taps { dst[taps - 1 - tap] = src[tap] }
                }
            }
        }
        return out
    }

    /// Input gradient of a per-frame convolution through the forward kernel; false when the
    /// geometry does not allow it.
    static func frameInputGradient(_ g: ConvGeometry, weight: UnsafePointer<Float>, gradOut: UnsafePointer<Float>,
                                   gradInput: UnsafeMutablePointer<Float>) -> Bool {
        guard let gi = inputGradientGeometry(g) else { return false }
        let flipped = flippedSwapped(g, weight: weight)
        defer { flipped.deallocate() }
        frameForward(gi, x: gradOut, weight: flipped, bias: nil, out: gradInput)
        return true
    }

    /// Weight gradient of a per-frame convolution (kT = 1, unit stride), overwriting `gradWeight`.
    static func frameWeightGradient(_ g: ConvGeometry, x: UnsafePointer<Float>, gradOut: UnsafePointer<Float>,
                                    gradWeight: UnsafeMutablePointer<Float>) {
        if WidthWinograd.pays(g) {
            WidthWinograd.weightGradient(g, x: x, gradOut: gradOut, gradWeight: gradWeight)
            return
        }
        let f = FrameLayout(g)
        let fold = foldsKernelRows(g)
        let cg = g.groupInChannels, og = g.groupOutChannels
        let lq = (g.kH - 1) * g.dH * f.paddedW + f.extent
        let shiftedRows = g.inChannels * g.kW
        let outPlane = g.outH * g.outW
        let items = g.batch * g.outT
        let parallel = work(g) >= parallelWorkThreshold
        let slots = max(1, pieces(items, parallel: parallel).count)
        let weightSize = g.outChannels * cg * g.kH * g.kW
        // Per-piece accumulators (summed in piece order, so deterministic), laid out
        // (kh, group, c·kW + kw, o) when folding kernel rows, (kh, kw, group, c, o) otherwise.
        let acc = UnsafeMutablePointer<Float>.allocate(capacity: weightSize * slots)
        acc.initialize(repeating: 0, count: weightSize * slots)
        defer { acc.deallocate() }
        runItems(items, parallel: parallel) { piece, range, single in
            let buffers = (Scratch(g.inChannels * f.padded), Scratch(fold ? shiftedRows * lq : 1), Scratch(g.outChannels * f.extent))
            defer { withExtendedLifetime(buffers) {} }
            let padded = buffers.0.pointer, shifted = buffers.1.pointer, rows = buffers.2.pointer
            padded.initialize(repeating: 0, count: g.inChannels * f.padded)
            rows.initialize(repeating: 0, count: g.outChannels * f.extent)  // the columns past oW stay zero
            let mine = acc + piece * weightSize
            for item in range {
                let n = item / g.outT, t = item % g.outT
                for o in 0..<g.outChannels {
                    let src = gradOut + (n * g.outChannels + o) * g.outVolume + t * outPlane
                    let dst = rows + o * f.extent
                    for h in 0..<g.outH { (dst + h * f.paddedW).update(from: src + h * g.outW, count: g.outW) }
                }
                copyFrameIn(g, f, from: x, n: n, t: t, to: padded)
                if fold {
                    foldKernelColumns(g, f, padded: padded, into: shifted, length: lq)
                    for kh in 0..<g.kH {
                        for group in 0..<g.groups {
                            BLAS.gemm(transB: true, m: cg * g.kW, n: og, k: f.extent,
                                      a: shifted + group * cg * g.kW * lq + kh * g.dH * f.paddedW, lda: lq,
                                      b: rows + group * og * f.extent, ldb: f.extent, beta: 1,
                                      c: mine + (kh * g.groups + group) * cg * g.kW * og, ldc: og, singleThreaded: single)
                        }
                    }
                } else {
                    // Each tap reads the padded frame in place, shifted: the channel rows are already
                    // `f.padded` apart, so no copies (the folded layout copies the frame kW times).
                    for kh in 0..<g.kH {
                        for kw in 0..<g.kW {
                            let shift = kh * g.dH * f.paddedW + kw * g.dW
                            for group in 0..<g.groups {
                                BLAS.gemm(transB: true, m: cg, n: og, k: f.extent,
                                          a: padded + group * cg * f.padded + shift, lda: f.padded,
                                          b: rows + group * og * f.extent, ldb: f.extent, beta: 1,
                                          c: mine + ((kh * g.kW + kw) * g.groups + group) * cg * og, ldc: og,
                                          singleThreaded: single)
                            }
                        }
                    }
                }
            }
        }
        for piece in 1..<slots {
            let other = acc + piece * weightSize
            for i in 0..<weightSize { acc[i] += other[i] }
        }
        let taps = g.kH * g.kW
        for kh in 0..<g.kH {
            for kw in 0..<g.kW {
                for group in 0..<g.groups {
                    for c in 0..<cg {
                        let source = fold ? acc + ((kh * g.groups + group) * cg * g.kW + c * g.kW + kw) * og
                                          : acc + (((kh * g.kW + kw) * g.groups + group) * cg + c) * og
                        for o in 0..<og {
                            gradWeight[((group * og + o) * cg + c) * taps + kh * g.kW + kw] = source[o]
                        }
                    }
                }
            }
        }
    }
}
