// Direct kernels for convolutions with one input channel per group (depth-wise, any channel
// multiplier): every output channel reads a single input plane, so a GEMM would have m = 1 and
// k = taps. Instead each input plane is copied once into a zero-padded buffer, and every tap is a
// bounds-check-free multiply-add over whole output rows. Planes are split across threads.

enum DepthwiseConvolution {
    /// Whether the direct depth-wise kernels apply.
    static func applies(_ g: ConvGeometry) -> Bool { g.groupInChannels == 1 }

    /// For kernels that are 1×1 in space with unit spatial stride and no spatial padding, the same
    /// convolution with each frame seen as one row of H·W elements (longer vector loops).
    static func collapsed(_ g: ConvGeometry) -> ConvGeometry {
        guard g.kH == 1 && g.kW == 1 && g.sH == 1 && g.sW == 1 && g.pH == 0 && g.pW == 0 && g.inH > 1 else { return g }
        return ConvGeometry(batch: g.batch, inChannels: g.inChannels, outChannels: g.outChannels, groups: g.groups,
                            input: [g.inT, 1, g.inH * g.inW], kernel: [g.kT, 1, 1], stride: [g.sT, 1, 1],
                            padding: [g.pT, 0, 0], dilation: [g.dT, 1, 1])
    }

    /// Sizes of one zero-padded input plane.
    struct Padded {
        let t: Int, h: Int, w: Int
        var volume: Int { t * h * w }
        init(_ g: ConvGeometry) {
            t = g.inT + 2 * g.pT
            h = g.inH + 2 * g.pH
            w = g.inW + 2 * g.pW
        }
    }

    /// Copies an input plane into the interior of a zero-bordered padded buffer (borders untouched).
    @inline(__always)
    static func padIn(_ g: ConvGeometry, _ p: Padded, from src: UnsafePointer<Float>, to dst: UnsafeMutablePointer<Float>) {
        for it in 0..<g.inT {
            for ih in 0..<g.inH {
                (dst + ((it + g.pT) * p.h + ih + g.pH) * p.w + g.pW).update(from: src + (it * g.inH + ih) * g.inW, count: g.inW)
            }
        }
    }

    /// Offset in the padded plane of tap `tap` (flat over kT·kH·kW).
    @inline(__always)
    static func tapOffset(_ g: ConvGeometry, _ p: Padded, _ tap: Int) -> Int {
        let kw = tap % g.kW, kh = (tap / g.kW) % g.kH, kt = tap / (g.kW * g.kH)
        return (kt * g.dT * p.h + kh * g.dH) * p.w + kw * g.dW
    }

    /// `d[i] += w · s[i]` for i < n, eight lanes at a time.
    @inline(__always)
    static func axpy(_ w: Float, _ s: UnsafePointer<Float>, _ d: UnsafeMutablePointer<Float>, _ n: Int) {
        let lanes = SIMD8<Float>(repeating: w)
        var i = 0
        while i + 8 <= n {
            let sv = UnsafeRawPointer(s + i).loadUnaligned(as: SIMD8<Float>.self)
            let dv = UnsafeRawPointer(d + i).loadUnaligned(as: SIMD8<Float>.self)
            UnsafeMutableRawPointer(d + i).storeBytes(of: dv + lanes * sv, as: SIMD8<Float>.self)
            i += 8
        }
        while i < n {
            d[i] += w * s[i]
            i += 1
        }
    }

    /// Planes per thread so that each thread gets at least 1/16 of the threading threshold in multiply-adds.
    static func minimumPlanesPerThread(_ g: ConvGeometry) -> Int {
        max(1, ConvolutionKernels.parallelWorkThreshold / 16 / max(g.outVolume * g.kernelVolume, 1))
    }

    /// Offsets of every tap in the padded plane.
    static func tapOffsets(_ g: ConvGeometry, _ p: Padded) -> [Int] {
        (0..<g.kernelVolume).map { tapOffset(g, p, $0) }
    }

    /// Eight input elements for output columns `ow ..< ow + 8` of a row starting at `row`, at column stride `sW`.
    @inline(__always)
    static func load8(_ row: UnsafePointer<Float>, _ ow: Int, _ sW: Int) -> SIMD8<Float> {
        if sW == 1 { return UnsafeRawPointer(row + ow).loadUnaligned(as: SIMD8<Float>.self) }
        if sW == 2 { return UnsafeRawPointer(row + 2 * ow).loadUnaligned(as: SIMD16<Float>.self).evenHalf }
        var v = SIMD8<Float>()
        for lane in 0..<8 { v[lane] = row[(ow + lane) * sW] }
        return v
    }

    /// Elements allocated past a padded plane, so the 16-wide loads of stride-2 rows stay in bounds.
    static let slack = 16

    static func forward(_ geometry: ConvGeometry, x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                        bias: UnsafePointer<Float>?, out: UnsafeMutablePointer<Float>) {
        let g = collapsed(geometry)
        let og = g.groupOutChannels, taps = g.kernelVolume
        let p = Padded(g)
        let (oT, oH, oW, sW) = (g.outT, g.outH, g.outW, g.sW)
        let rowStep = g.sH * p.w, frameStep = g.sT * p.h * p.w
        let offsets = tapOffsets(g, p)
        Parallel.forRanges(g.batch * g.outChannels, minimumPerThread: minimumPlanesPerThread(g)) { planes in
            let padded = UnsafeMutablePointer<Float>.allocate(capacity: p.volume + slack)
            padded.initialize(repeating: 0, count: p.volume + slack)
            defer { padded.deallocate() }
            offsets.withUnsafeBufferPointer { offsets in
                var loaded = -1
                for plane in planes {
                    let n = plane / g.outChannels, o = plane % g.outChannels
                    let input = n * g.inChannels + o / og
                    if input != loaded {
                        padIn(g, p, from: x + input * g.inVolume, to: padded)
                        loaded = input
                    }
                    let dst = out + plane * g.outVolume
                    let w = weight + o * taps
                    let b = bias?[o] ?? 0
                    for ot in 0..<oT {
                        for oh in 0..<oH {
                            let row = UnsafePointer(padded) + ot * frameStep + oh * rowStep
                            let d = dst + (ot * oH + oh) * oW
                            var ow = 0
                            while ow + 8 <= oW {
                                var acc = SIMD8<Float>(repeating: b)
                                for tap in 0..<taps { acc += w[tap] * load8(row + offsets[tap], ow, sW) }
                                UnsafeMutableRawPointer(d + ow).storeBytes(of: acc, as: SIMD8<Float>.self)
                                ow += 8
                            }
                            while ow < oW {
                                var acc = b
                                for tap in 0..<taps { acc += w[tap] * row[offsets[tap] + ow * sW] }
                                d[ow] = acc
                                ow += 1
                            }
                        }
                    }
                }
            }
        }
    }

    static func backward(_ geometry: ConvGeometry, x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                         gradOut: UnsafePointer<Float>, gradInput: UnsafeMutablePointer<Float>?,
                         gradWeight: UnsafeMutablePointer<Float>?) {
        let g = collapsed(geometry)
        let og = g.groupOutChannels, taps = g.kernelVolume
        let p = Padded(g)
        let (oT, oH, oW, sW) = (g.outT, g.outH, g.outW, g.sW)
        let rowStep = g.sH * p.w, frameStep = g.sT * p.h * p.w
        if let gradInput {
            // One input plane per work item: its output channels are the only writers. The gradient is
            // accumulated on the padded plane, then cropped.
            Parallel.forRanges(g.batch * g.inChannels, minimumPerThread: minimumPlanesPerThread(g)) { planes in
                let padded = UnsafeMutablePointer<Float>.allocate(capacity: p.volume + slack)
                defer { padded.deallocate() }
                for plane in planes {
                    let n = plane / g.inChannels, c = plane % g.inChannels
                    padded.update(repeating: 0, count: p.volume)
                    for o in (c * og)..<((c + 1) * og) {
                        let src = gradOut + (n * g.outChannels + o) * g.outVolume
                        for tap in 0..<taps {
                            let w = weight[o * taps + tap]
                            let base = padded + tapOffset(g, p, tap)
                            for ot in 0..<oT {
                                for oh in 0..<oH {
                                    let s = src + (ot * oH + oh) * oW
                                    let d = base + ot * frameStep + oh * rowStep
                                    if sW == 1 {
                                        axpy(w, s, d, oW)
                                    } else {
                                        for ow in 0..<oW { d[ow * sW] += w * s[ow] }
                                    }
                                }
                            }
                        }
                    }
                    let dst = gradInput + plane * g.inVolume
                    for it in 0..<g.inT {
                        for ih in 0..<g.inH {
                            (dst + (it * g.inH + ih) * g.inW)
                                .update(from: padded + ((it + g.pT) * p.h + ih + g.pH) * p.w + g.pW, count: g.inW)
                        }
                    }
                }
            }
        }
        if let gradWeight {
            // One output channel per work item, summed over the batch: eight-lane accumulators per tap,
            // folded into Double once per frame.
            let minimum = max(1, minimumPlanesPerThread(g) / max(g.batch, 1))
            let offsets = tapOffsets(g, p)
            Parallel.forRanges(g.outChannels, minimumPerThread: minimum) { channels in
                let padded = UnsafeMutablePointer<Float>.allocate(capacity: p.volume + slack)
                padded.initialize(repeating: 0, count: p.volume + slack)
                let lanes = UnsafeMutablePointer<SIMD8<Float>>.allocate(capacity: taps)
                let scalars = UnsafeMutablePointer<Float>.allocate(capacity: taps)
                let totals = UnsafeMutablePointer<Double>.allocate(capacity: taps)
                defer { padded.deallocate(); lanes.deallocate(); scalars.deallocate(); totals.deallocate() }
                offsets.withUnsafeBufferPointer { offsets in
                    for o in channels {
                        totals.initialize(repeating: 0, count: taps)
                        for n in 0..<g.batch {
                            padIn(g, p, from: x + (n * g.inChannels + o / og) * g.inVolume, to: padded)
                            let src = gradOut + (n * g.outChannels + o) * g.outVolume
                            for ot in 0..<oT {
                                lanes.initialize(repeating: SIMD8<Float>(), count: taps)
                                scalars.initialize(repeating: 0, count: taps)
                                for oh in 0..<oH {
                                    let s = src + (ot * oH + oh) * oW
                                    let row = UnsafePointer(padded) + ot * frameStep + oh * rowStep
                                    var ow = 0
                                    while ow + 8 <= oW {
                                        let gv = UnsafeRawPointer(s + ow).loadUnaligned(as: SIMD8<Float>.self)
                                        for tap in 0..<taps { lanes[tap] += gv * load8(row + offsets[tap], ow, sW) }
                                        ow += 8
                                    }
                                    while ow < oW {
                                        for tap in 0..<taps { scalars[tap] += s[ow] * row[offsets[tap] + ow * sW] }
                                        ow += 1
                                    }
                                }
                                for tap in 0..<taps { totals[tap] += Double(lanes[tap].sum() + scalars[tap]) }
                            }
                        }
                        for tap in 0..<taps { gradWeight[o * taps + tap] = Float(totals[tap]) }
                    }
                }
            }
        }
    }
}
