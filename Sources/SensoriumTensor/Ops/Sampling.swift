// Resampling: bilinear interpolation (F.interpolate) and bilinear grid sampling (F.grid_sample).

/// How `gridSample` treats sampling locations outside the input.
public enum GridSamplePadding: Sendable {
    /// Pixels outside the input read as zero.
    case zeros
    /// Locations are clipped to the input, so outside pixels repeat the border.
    case border
}

// MARK: - Bilinear interpolation

/// Source position of every output index along one axis: the two neighbours and their weights.
private struct LinearTaps {
    var lo: [Int]
    var hi: [Int]
    var wLo: [Float]
    var wHi: [Float]

    /// PyTorch's `area_pixel_compute_source_index` followed by the linear-mode neighbour rule.
    init(inputSize: Int, outputSize: Int, alignCorners: Bool) {
        lo = [Int](repeating: 0, count: outputSize)
        hi = lo
        wLo = [Float](repeating: 0, count: outputSize)
        wHi = wLo
        let scale: Float
        if alignCorners {
            scale = outputSize > 1 ? Float(inputSize - 1) / Float(outputSize - 1) : 0
        } else {
            scale = Float(inputSize) / Float(outputSize)
        }
        for o in 0..<outputSize {
            var src: Float
            if alignCorners {
                src = scale * Float(o)
            } else {
                src = scale * (Float(o) + 0.5) - 0.5
                if src < 0 { src = 0 }
            }
            let i0 = min(Int(src), inputSize - 1)
            let i1 = i0 + (i0 < inputSize - 1 ? 1 : 0)
            let l1 = src - Float(i0)
            lo[o] = i0
            hi[o] = i1
            wLo[o] = 1 - l1
            wHi[o] = l1
        }
    }
}

/// Bilinear resizing of the last two axes of an N, C, H, W tensor to `size` = [Hout, Wout], like
/// `F.interpolate(x, size, mode: "bilinear", align_corners:)`.
///
/// With `alignCorners` the corner pixels of input and output coincide; without it, pixel centres
/// are mapped (`src = (dst + 0.5) * in / out - 0.5`, clamped at 0). Differentiable in `x`.
public func interpolateBilinear(_ x: Tensor, size: [Int], alignCorners: Bool) -> Tensor {
    precondition(x.rank == 4, "interpolateBilinear: expected an N, C, H, W input, got shape \(x.shape)")
    precondition(size.count == 2 && size[0] > 0 && size[1] > 0,
                 "interpolateBilinear: size must be [Hout, Wout] with positive entries, got \(size) for input \(x.shape)")
    precondition(x.shape[2] > 0 && x.shape[3] > 0, "interpolateBilinear: empty spatial input \(x.shape)")
    let planes = x.shape[0] * x.shape[1]
    let inH = x.shape[2], inW = x.shape[3], outH = size[0], outW = size[1]
    let rows = LinearTaps(inputSize: inH, outputSize: outH, alignCorners: alignCorners)
    let cols = LinearTaps(inputSize: inW, outputSize: outW, alignCorners: alignCorners)
    let out = Tensor(uninitializedShape: [x.shape[0], x.shape[1], outH, outW])
    let src = x.storage.pointer, dst = out.storage.pointer
    let perPlane = outH * outW
    rows.lo.withUnsafeBufferPointer { h0 in rows.hi.withUnsafeBufferPointer { h1 in
    rows.wLo.withUnsafeBufferPointer { a0 in rows.wHi.withUnsafeBufferPointer { a1 in
    cols.lo.withUnsafeBufferPointer { w0 in cols.hi.withUnsafeBufferPointer { w1 in
    cols.wLo.withUnsafeBufferPointer { b0 in cols.wHi.withUnsafeBufferPointer { b1 in
        Parallel.forRanges(planes, minimumPerThread: max(1, 16_384 / max(perPlane, 1))) { range in
            for p in range {
                let plane = src + p * inH * inW
                let o = dst + p * perPlane
                for oh in 0..<outH {
                    let r0 = plane + h0[oh] * inW, r1 = plane + h1[oh] * inW
                    let ah = a0[oh], bh = a1[oh]
                    let orow = o + oh * outW
                    for ow in 0..<outW {
                        let c0 = w0[ow], c1 = w1[ow], aw = b0[ow], bw = b1[ow]
                        orow[ow] = ah * (aw * r0[c0] + bw * r0[c1]) + bh * (aw * r1[c0] + bw * r1[c1])
                    }
                }
            }
        }
    }}}}}}}}
    return Tensor.recordOperation("interpolateBilinear", result: out, inputs: [x]) { [shape = x.shape] g in
        let gx = Tensor.zeros(shape)
        let gp = g.storage.pointer, gxp = gx.storage.pointer
        rows.lo.withUnsafeBufferPointer { h0 in rows.hi.withUnsafeBufferPointer { h1 in
        rows.wLo.withUnsafeBufferPointer { a0 in rows.wHi.withUnsafeBufferPointer { a1 in
        cols.lo.withUnsafeBufferPointer { w0 in cols.hi.withUnsafeBufferPointer { w1 in
        cols.wLo.withUnsafeBufferPointer { b0 in cols.wHi.withUnsafeBufferPointer { b1 in
            Parallel.forRanges(planes, minimumPerThread: max(1, 16_384 / max(perPlane, 1))) { range in
                for p in range {
                    let plane = gxp + p * inH * inW
                    let gpl = gp + p * perPlane
                    for oh in 0..<outH {
                        let r0 = plane + h0[oh] * inW, r1 = plane + h1[oh] * inW
                        let ah = a0[oh], bh = a1[oh]
                        let grow = gpl + oh * outW
                        for ow in 0..<outW {
                            let c0 = w0[ow], c1 = w1[ow], aw = b0[ow], bw = b1[ow]
                            let v = grow[ow]
                            r0[c0] += ah * aw * v
                            r0[c1] += ah * bw * v
                            r1[c0] += bh * aw * v
                            r1[c1] += bh * bw * v
                        }
                    }
                }
            }
        }}}}}}}}
        return [gx]
    }
}

// MARK: - Grid sampling

/// Per-location bilinear sampling data for one batch element of `gridSample`.
///
/// Out-of-range corners (zeros padding) get weight 0 and a valid dummy offset, so the inner
/// loops over channels are branch-free.
private struct GridTaps {
    var offset: [Int32]     // 4 per location: nw, ne, sw, se (flat index in an H*W plane)
    var weight: [Float]     // 4 per location, already masked
    var valid: [Float]      // 4 per location: 1 when the corner is inside the input
    var frac: [Float]       // 2 per location: tx, ty (position within the cell)
    var mult: [Float]       // 2 per location: d(pixel coordinate)/d(grid coordinate), x then y

    init(count: Int) {
        offset = [Int32](repeating: 0, count: 4 * count)
        weight = [Float](repeating: 0, count: 4 * count)
        valid = weight
        frac = [Float](repeating: 0, count: 2 * count)
        mult = frac
    }

    /// Unnormalises `coord` in [-1, 1] to pixel units (PyTorch's `grid_sampler_compute_source_index`),
    /// returning the coordinate and its derivative with respect to `coord`.
    @inline(__always)
    static func sourceIndex(_ coord: Float, size: Int, padding: GridSamplePadding,
                            alignCorners: Bool) -> (Float, Float) {
        var c: Float
        var d: Float
        if alignCorners {
            d = Float(size - 1) / 2
            c = (coord + 1) / 2 * Float(size - 1)
        } else {
            d = Float(size) / 2
            c = ((coord + 1) * Float(size) - 1) / 2
        }
        if padding == .border {
            // Borders count as clipped, so the gradient there is zero (as in PyTorch).
            if c <= 0 {
                c = 0; d = 0
            } else if c >= Float(size - 1) {
                c = Float(size - 1); d = 0
            }
        }
        return (c, d)
    }

    @inline(__always)
    private mutating func setCorner(_ k: Int, inside: Bool, flat: Int, weight w: Float) {
        offset[k] = inside ? Int32(flat) : 0
        valid[k] = inside ? 1 : 0
        weight[k] = inside ? w : 0
    }

    /// Fills the taps for `locations` grid points starting at `grid`.
    mutating func fill(grid: UnsafePointer<Float>, locations: Int, height: Int, width: Int,
                       padding: GridSamplePadding, alignCorners: Bool) {
        for p in 0..<locations {
            let (ix, mx) = GridTaps.sourceIndex(grid[2 * p], size: width, padding: padding, alignCorners: alignCorners)
            let (iy, my) = GridTaps.sourceIndex(grid[2 * p + 1], size: height, padding: padding, alignCorners: alignCorners)
            mult[2 * p] = mx
            mult[2 * p + 1] = my
            guard ix.isFinite && iy.isFinite else {
                for k in 0..<4 { weight[4 * p + k] = 0; valid[4 * p + k] = 0; offset[4 * p + k] = 0 }
                frac[2 * p] = 0; frac[2 * p + 1] = 0
                continue
            }
            let fx = ix.rounded(.down), fy = iy.rounded(.down)
            let tx = ix - fx, ty = iy - fy
            frac[2 * p] = tx
            frac[2 * p + 1] = ty
            // Far-away points: clamp before converting so Int() cannot trap.
            let x0 = Int(max(min(fx, Float(width + 1)), -2)), y0 = Int(max(min(fy, Float(height + 1)), -2))
            let inX0 = x0 >= 0 && x0 < width, inX1 = x0 + 1 >= 0 && x0 + 1 < width
            let inY0 = y0 >= 0 && y0 < height, inY1 = y0 + 1 >= 0 && y0 + 1 < height
            setCorner(4 * p, inside: inX0 && inY0, flat: y0 * width + x0, weight: (1 - tx) * (1 - ty))
            setCorner(4 * p + 1, inside: inX1 && inY0, flat: y0 * width + x0 + 1, weight: tx * (1 - ty))
            setCorner(4 * p + 2, inside: inX0 && inY1, flat: (y0 + 1) * width + x0, weight: (1 - tx) * ty)
            setCorner(4 * p + 3, inside: inX1 && inY1, flat: (y0 + 1) * width + x0 + 1, weight: tx * ty)
        }
    }
}

/// Bilinear sampling of an N, C, H, W tensor at the locations of an N, Hout, Wout, 2 grid, like
/// `F.grid_sample(x, grid, mode: "bilinear", padding_mode:, align_corners:)`.
///
/// `grid[..., 0]` is the horizontal (width) and `grid[..., 1]` the vertical (height) coordinate,
/// both normalised to [-1, 1]. With `alignCorners`, -1 and 1 are the centres of the corner pixels;
/// without it, the outer edges of the corner pixels. The result has shape N, C, Hout, Wout.
/// Differentiable in `x` and in `grid` (with `.border`, the gradient is zero where a coordinate
/// was clipped).
public func gridSample(_ x: Tensor, grid: Tensor, paddingMode: GridSamplePadding = .zeros,
                       alignCorners: Bool) -> Tensor {
    precondition(x.rank == 4, "gridSample: expected an N, C, H, W input, got shape \(x.shape)")
    precondition(grid.rank == 4 && grid.shape[3] == 2 && grid.shape[0] == x.shape[0],
                 "gridSample: grid must be N, Hout, Wout, 2 with N matching the input; got input \(x.shape) and grid \(grid.shape)")
    let n = x.shape[0], channels = x.shape[1], height = x.shape[2], width = x.shape[3]
    let outH = grid.shape[1], outW = grid.shape[2]
    let locations = outH * outW
    let planeSize = height * width
    let out = Tensor(uninitializedShape: [n, channels, outH, outW])
    let xp = x.storage.pointer, gp = grid.storage.pointer, op = out.storage.pointer
    let work = max(1, channels * locations)
    Parallel.forRanges(n, minimumPerThread: max(1, 16_384 / work)) { range in
        var taps = GridTaps(count: locations)
        for b in range {
            taps.fill(grid: gp + b * locations * 2, locations: locations, height: height, width: width,
                      padding: paddingMode, alignCorners: alignCorners)
            taps.offset.withUnsafeBufferPointer { off in taps.weight.withUnsafeBufferPointer { w in
                for c in 0..<channels {
                    let plane = xp + (b * channels + c) * planeSize
                    let orow = op + (b * channels + c) * locations
                    for p in 0..<locations {
                        let o = 4 * p
                        orow[p] = w[o] * plane[Int(off[o])] + w[o + 1] * plane[Int(off[o + 1])]
                            + w[o + 2] * plane[Int(off[o + 2])] + w[o + 3] * plane[Int(off[o + 3])]
                    }
                }
            }}
        }
    }
    return Tensor.recordOperation("gridSample", result: out, inputs: [x, grid]) { g in
        let needX = x.requiresGrad, needGrid = grid.requiresGrad
        let gx: Tensor? = needX ? Tensor.zeros(x.shape) : nil
        let gg: Tensor? = needGrid ? Tensor(uninitializedShape: grid.shape) : nil
        let gop = g.storage.pointer
        let gxp = gx?.storage.pointer, ggp = gg?.storage.pointer
        Parallel.forRanges(n, minimumPerThread: max(1, 16_384 / work)) { range in
            var taps = GridTaps(count: locations)
            var accX = [Float](repeating: 0, count: locations)
            var accY = accX
            for b in range {
                taps.fill(grid: gp + b * locations * 2, locations: locations, height: height, width: width,
                          padding: paddingMode, alignCorners: alignCorners)
                taps.offset.withUnsafeBufferPointer { off in taps.weight.withUnsafeBufferPointer { w in
                    if let gxp {
                        for c in 0..<channels {
                            let plane = gxp + (b * channels + c) * planeSize
                            let grow = gop + (b * channels + c) * locations
                            for p in 0..<locations {
                                let o = 4 * p, v = grow[p]
                                plane[Int(off[o])] += w[o] * v
                                plane[Int(off[o + 1])] += w[o + 1] * v
                                plane[Int(off[o + 2])] += w[o + 2] * v
                                plane[Int(off[o + 3])] += w[o + 3] * v
                            }
                        }
                    }
                    guard let ggp else { return }
                    taps.valid.withUnsafeBufferPointer { m in taps.frac.withUnsafeBufferPointer { t in
                    accX.withUnsafeMutableBufferPointer { ax in accY.withUnsafeMutableBufferPointer { ay in
                        for p in 0..<locations { ax[p] = 0; ay[p] = 0 }
                        for c in 0..<channels {
                            let plane = xp + (b * channels + c) * planeSize
                            let grow = gop + (b * channels + c) * locations
                            for p in 0..<locations {
                                let o = 4 * p
                                let nw = m[o] * plane[Int(off[o])], ne = m[o + 1] * plane[Int(off[o + 1])]
                                let sw = m[o + 2] * plane[Int(off[o + 2])], se = m[o + 3] * plane[Int(off[o + 3])]
                                let tx = t[2 * p], ty = t[2 * p + 1], v = grow[p]
                                ax[p] += v * ((1 - ty) * (ne - nw) + ty * (se - sw))
                                ay[p] += v * ((1 - tx) * (sw - nw) + tx * (se - ne))
                            }
                        }
                        let dst = ggp + b * locations * 2
                        for p in 0..<locations {
                            dst[2 * p] = ax[p] * taps.mult[2 * p]
                            dst[2 * p + 1] = ay[p] * taps.mult[2 * p + 1]
                        }
                    }}}}
                }}
            }
        }
        return [gx, gg]
    }
}
