// vol2col / col2vol: the data movement that turns a 3-D convolution into GEMMs.

/// Sizes of one 3-D convolution (1-D and 2-D convolutions use extent 1 on the leading axes).
///
/// Layouts follow PyTorch: input (N, C, T, H, W), weight (O, C/groups, kT, kH, kW),
/// output (N, O, oT, oH, oW).
struct ConvGeometry {
    let batch: Int
    let inChannels: Int
    let outChannels: Int
    let groups: Int
    let inT: Int, inH: Int, inW: Int
    let kT: Int, kH: Int, kW: Int
    let sT: Int, sH: Int, sW: Int
    let pT: Int, pH: Int, pW: Int
    let dT: Int, dH: Int, dW: Int
    let outT: Int, outH: Int, outW: Int

    init(batch: Int, inChannels: Int, outChannels: Int, groups: Int, input: [Int], kernel: [Int],
         stride: [Int], padding: [Int], dilation: [Int]) {
        self.batch = batch
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.groups = groups
        (inT, inH, inW) = (input[0], input[1], input[2])
        (kT, kH, kW) = (kernel[0], kernel[1], kernel[2])
        (sT, sH, sW) = (stride[0], stride[1], stride[2])
        (pT, pH, pW) = (padding[0], padding[1], padding[2])
        (dT, dH, dW) = (dilation[0], dilation[1], dilation[2])
        func out(_ i: Int, _ k: Int, _ s: Int, _ p: Int, _ d: Int) -> Int { (i + 2 * p - d * (k - 1) - 1) / s + 1 }
        outT = out(inT, kT, sT, pT, dT)
        outH = out(inH, kH, sH, pH, dH)
        outW = out(inW, kW, sW, pW, dW)
    }

    /// Input channels per group.
    var groupInChannels: Int { inChannels / groups }
    /// Output channels per group.
    var groupOutChannels: Int { outChannels / groups }
    /// Elements of one input channel volume.
    var inVolume: Int { inT * inH * inW }
    /// Output positions per channel.
    var outVolume: Int { outT * outH * outW }
    /// Kernel taps per channel.
    var kernelVolume: Int { kT * kH * kW }
    /// Rows of the column matrix of one group: (channel, kt, kh, kw), the weight's inner layout.
    var columnRows: Int { groupInChannels * kernelVolume }
}

enum Im2col {
    /// Fills `cols` (columnRows × count, row-major) with the input patches of output positions
    /// `start ..< start + count` (flat over oT·oH·oW) for the `groupInChannels` channels starting at `input`.
    ///
    /// Row r = ((c·kT + kt)·kH + kh)·kW + kw; out-of-range (padding) taps are zero.
    static func vol2col(_ g: ConvGeometry, input: UnsafePointer<Float>, cols: UnsafeMutablePointer<Float>,
                        start: Int, count: Int, parallel: Bool) {
        let rows = g.columnRows
        Parallel.forRanges(rows, minimumPerThread: parallel ? max(1, 65_536 / max(count, 1)) : Int.max) { range in
            for r in range {
                var q = r
                let kw = q % g.kW; q /= g.kW
                let kh = q % g.kH; q /= g.kH
                let kt = q % g.kT
                let c = q / g.kT
                let plane = input + c * g.inVolume
                let dst = cols + r * count
                walkRows(g, start: start, count: count) { d, segment, ot, oh, ow in
                    let it = ot * g.sT - g.pT + kt * g.dT
                    let ih = oh * g.sH - g.pH + kh * g.dH
                    let out = dst + d
                    guard it >= 0 && it < g.inT && ih >= 0 && ih < g.inH else {
                        out.update(repeating: 0, count: segment)
                        return
                    }
                    let src = plane + (it * g.inH + ih) * g.inW
                    let iw0 = ow * g.sW - g.pW + kw * g.dW
                    if g.sW == 1 {
                        let lo = min(segment, max(0, -iw0))
                        let hi = max(lo, min(segment, g.inW - iw0))
                        if lo > 0 { out.update(repeating: 0, count: lo) }
                        if hi > lo { (out + lo).update(from: src + iw0 + lo, count: hi - lo) }
                        if segment > hi { (out + hi).update(repeating: 0, count: segment - hi) }
                    } else {
                        // Valid outputs i satisfy 0 ≤ iw0 + i·sW < inW: one zero run, one strided copy, one zero run.
                        let (lo, hi) = stridedRange(iw0, stride: g.sW, width: g.inW, segment: segment)
                        if lo > 0 { out.update(repeating: 0, count: lo) }
                        let step = g.sW
                        var p = src + iw0 + lo * step
                        for i in lo..<hi { out[i] = p.pointee; p += step }
                        if segment > hi { (out + hi).update(repeating: 0, count: segment - hi) }
                    }
                }
            }
        }
    }

    /// Adds the column-matrix gradient `cols` (columnRows × count) back onto the input gradient of the
    /// `groupInChannels` channels starting at `input`: the adjoint of `vol2col`.
    static func col2vol(_ g: ConvGeometry, cols: UnsafePointer<Float>, input: UnsafeMutablePointer<Float>,
                        start: Int, count: Int, parallel: Bool) {
        let kvol = g.kernelVolume
        // Channels write disjoint planes, so they can go to different threads.
        let minimum = parallel ? max(1, 65_536 / max(count * kvol, 1)) : Int.max
        Parallel.forRanges(g.groupInChannels, minimumPerThread: minimum) { channels in
            for c in channels {
                let plane = input + c * g.inVolume
                for tap in 0..<kvol {
                    var q = tap
                    let kw = q % g.kW; q /= g.kW
                    let kh = q % g.kH
                    let kt = q / g.kH
                    let src = cols + (c * kvol + tap) * count
                    walkRows(g, start: start, count: count) { d, segment, ot, oh, ow in
                        let it = ot * g.sT - g.pT + kt * g.dT
                        let ih = oh * g.sH - g.pH + kh * g.dH
                        guard it >= 0 && it < g.inT && ih >= 0 && ih < g.inH else { return }
                        let dst = plane + (it * g.inH + ih) * g.inW
                        let col = src + d
                        let iw0 = ow * g.sW - g.pW + kw * g.dW
                        if g.sW == 1 {
                            let lo = min(segment, max(0, -iw0))
                            let hi = max(lo, min(segment, g.inW - iw0))
                            let o = dst + iw0
                            for i in lo..<hi { o[i] += col[i] }
                        } else {
                            let (lo, hi) = stridedRange(iw0, stride: g.sW, width: g.inW, segment: segment)
                            let step = g.sW
                            var p = dst + iw0 + lo * step
                            for i in lo..<hi { p.pointee += col[i]; p += step }
                        }
                    }
                }
            }
        }
    }

    /// The outputs `lo ..< hi` of a run of `segment` whose input column `first + i·stride` lies in
    /// `0 ..< width` (stride ≥ 1).
    @inline(__always)
    static func stridedRange(_ first: Int, stride: Int, width: Int, segment: Int) -> (Int, Int) {
        // lo: smallest i with first + i·stride ≥ 0; hi: smallest i with first + i·stride ≥ width.
        let lo = first >= 0 ? 0 : min(segment, (-first + stride - 1) / stride)
        let hi = first >= width ? lo : max(lo, min(segment, (width - first + stride - 1) / stride))
        return (lo, hi)
    }

    /// Splits the flat output positions `start ..< start + count` into runs along oW and calls
    /// `body(offset in the run list, run length, ot, oh, first ow)` for each.
    @inline(__always)
    static func walkRows(_ g: ConvGeometry, start: Int, count: Int,
                         _ body: (Int, Int, Int, Int, Int) -> Void) {
        let plane = g.outH * g.outW
        var ot = start / plane
        let rem = start - ot * plane
        var oh = rem / g.outW
        var ow = rem - oh * g.outW
        var d = 0
        while d < count {
            let segment = min(g.outW - ow, count - d)
            body(d, segment, ot, oh, ow)
            d += segment
            ow += segment
            if ow == g.outW {
                ow = 0
                oh += 1
                if oh == g.outH { oh = 0; ot += 1 }
            }
        }
    }
}
