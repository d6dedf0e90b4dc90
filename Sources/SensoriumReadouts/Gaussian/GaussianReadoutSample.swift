import SensoriumTensor

// The fused sample-and-dot of the Gaussian readouts.
//
// The composed form, `gridSample(x, grid)` followed by a product with the features and a sum over
// channels, materialises a (frames × channels × neurons) tensor (gigabytes for 8,000 neurons) and
// keeps it for the backward pass. The fused op reads the four bilinear corners of every
// (frame, neuron) straight from a channels-last copy of `x` and contracts them with the neuron's
// feature vector, so nothing larger than the input itself is ever allocated.

/// Bilinear sampling of a feature map at one position per (frame, neuron), contracted with one
/// feature vector per neuron: `out[m, n] = Σ_c sample(x[m, c], positions[m, n]) · features[c, n]`.
///
/// This is what `FullGaussian2d` computes after choosing positions, as one differentiable op:
/// `gridSample(x, grid: positions as (M, n, 1, 2), paddingMode: .zeros, alignCorners: true)`
/// multiplied by `features` and summed over channels, without the (M × C × n) intermediate.
///
/// - Parameters:
///   - x: the core output, either (M, C, H, W) (frame `m` is image `m`) or (N, C, T, H, W)
///     (frame `m = b·T + t`, so no transposition to (N, T, C, H, W) is needed).
///   - positions: (M, n, 2), the (x, y) position of each neuron in each frame, normalised so that
///     -1 and 1 are the centres of the first and last pixel (`alignCorners`, PyTorch's
///     `align_corners=True`) or the outer edges of the first and last pixel (`alignCorners: false`);
///     `x` runs along the width and `y` along the height. Corners outside the map read zeros.
///   - features: (C, n), one feature vector per neuron.
///   - alignCorners: how positions map to pixels (above).
/// - Returns: (M, n). Differentiable in `x`, `positions` and `features`.
public func gaussianReadoutSample(_ x: Tensor, positions: Tensor, features: Tensor, alignCorners: Bool = true) -> Tensor {
    precondition(x.rank == 4 || x.rank == 5,
                 "gaussianReadoutSample: expected x of shape (M, C, H, W) or (N, C, T, H, W), got \(x.shape)")
    let video = x.rank == 5
    let batch = x.shape[0], channels = x.shape[1]
    let time = video ? x.shape[2] : 1
    let height = x.shape[video ? 3 : 2], width = x.shape[video ? 4 : 3]
    let frames = batch * time
    precondition(positions.rank == 3 && positions.shape[0] == frames && positions.shape[2] == 2,
                 "gaussianReadoutSample: positions must be (frames, neurons, 2) with \(frames) frames for x of shape \(x.shape), got \(positions.shape)")
    let neurons = positions.shape[1]
    precondition(features.shape == [channels, neurons],
                 "gaussianReadoutSample: features must be (channels, neurons) = \([channels, neurons]) for x \(x.shape) and positions \(positions.shape), got \(features.shape)")
    let layout = FrameLayout(batch: batch, channels: channels, time: time, plane: height * width)
    let grid = SamplingGrid(width: width, height: height, alignCorners: alignCorners)

    // Channels-last copy of x: (frames, H·W, C); features transposed to (n, C).
    let xt = Tensor(uninitializedShape: [frames, height * width, channels])
    layout.toChannelsLast(x.storage.pointer, xt.storage.pointer)
    let ft = ReadoutKernels.transpose(features.storage.pointer, rows: channels, columns: neurons)
    let zero = Tensor.zeros([max(channels, 1)])

    let out = Tensor(uninitializedShape: [frames, neurons])
    let xtp = xt.storage.pointer, ftp = ft.storage.pointer, pp = positions.storage.pointer
    let op = out.storage.pointer, zp = UnsafePointer(zero.storage.pointer)
    let frameSize = height * width * channels
    Parallel.forRanges(frames, minimumPerThread: max(1, 16_384 / max(1, neurons * max(channels, 1)))) { range in
        for f in range {
            let frame = UnsafePointer(xtp + f * frameSize)
            let pos = pp + f * neurons * 2
            let row = op + f * neurons
            for j in 0..<neurons {
                let tap = grid.tap(pos[2 * j], pos[2 * j + 1])
                let w = tap.weights
                row[j] = ReadoutKernels.weightedDot(
                    tap.row(0, frame, channels, zp), tap.row(1, frame, channels, zp),
                    tap.row(2, frame, channels, zp), tap.row(3, frame, channels, zp),
                    w, UnsafePointer(ftp + j * channels), channels)
            }
        }
    }

    // The backward pass reads the channels-last copies; capturing the tensors keeps them alive.
    return Tensor.recordOperation("gaussianReadoutSample", result: out, inputs: [x, positions, features]) { [xt, ft, zero] g in
        let xtp = xt.storage.pointer, ftp = ft.storage.pointer, zp = UnsafePointer(zero.storage.pointer)
        let pp = positions.storage.pointer
        let needX = x.requiresGrad, needPositions = positions.requiresGrad, needFeatures = features.requiresGrad
        let gop = UnsafePointer(g.storage.pointer)
        let gxt: Tensor? = needX ? Tensor.zeros([frames, height * width, channels]) : nil
        let gpos: Tensor? = needPositions ? Tensor.zeros(positions.shape) : nil
        let work = frames * max(1, neurons) * max(1, channels)
        let chunks = max(1, min(Parallel.threadCount, frames, work / 65_536))
        // Feature gradients (n, C): chunk 0 writes the result, the others private partial sums.
        let gft: Tensor? = needFeatures ? Tensor.zeros([neurons, channels]) : nil
        let partials: Tensor? = needFeatures && chunks > 1 ? Tensor.zeros([chunks - 1, neurons, channels]) : nil
        let scratch = Tensor.zeros([chunks, max(channels, 1)])
        let gxtp = gxt?.storage.pointer, gpp = gpos?.storage.pointer
        let gftp = gft?.storage.pointer, partp = partials?.storage.pointer, scp = scratch.storage.pointer
        Parallel.forRanges(chunks, minimumPerThread: 1) { range in
            for k in range {
                let dump = scp + k * max(channels, 1)
                let featureSink: UnsafeMutablePointer<Float>? = k == 0 ? gftp : partp.map { $0 + (k - 1) * neurons * channels }
                for f in (frames * k / chunks)..<(frames * (k + 1) / chunks) {
                    let frame = UnsafePointer(xtp + f * frameSize)
                    let gframe = gxtp.map { $0 + f * frameSize }
                    let pos = pp + f * neurons * 2
                    for j in 0..<neurons {
                        let gv = gop[f * neurons + j]
                        let tap = grid.tap(pos[2 * j], pos[2 * j + 1])
                        let fj = UnsafePointer(ftp + j * channels)
                        if let gpp {
                            let d = ReadoutKernels.dots(tap.row(0, frame, channels, zp), tap.row(1, frame, channels, zp),
                                                        tap.row(2, frame, channels, zp), tap.row(3, frame, channels, zp),
                                                        fj, channels)
                            let dtx = (1 - tap.ty) * (d.1 - d.0) + tap.ty * (d.3 - d.2)
                            let dty = (1 - tap.tx) * (d.2 - d.0) + tap.tx * (d.3 - d.1)
                            gpp[(f * neurons + j) * 2] = gv * dtx * grid.scaleX
                            gpp[(f * neurons + j) * 2 + 1] = gv * dty * grid.scaleY
                        }
                        if gv == 0 { continue }
                        let w = tap.weights
                        if let gframe {
                            ReadoutKernels.axpy4(tap.mutableRow(0, gframe, channels, dump), tap.mutableRow(1, gframe, channels, dump),
                                                 tap.mutableRow(2, gframe, channels, dump), tap.mutableRow(3, gframe, channels, dump),
                                                 (gv * w.0, gv * w.1, gv * w.2, gv * w.3), fj, channels)
                        }
                        if let featureSink {
                            ReadoutKernels.accumulateWeighted(
                                featureSink + j * channels,
                                tap.row(0, frame, channels, zp), tap.row(1, frame, channels, zp),
                                tap.row(2, frame, channels, zp), tap.row(3, frame, channels, zp),
                                (gv * w.0, gv * w.1, gv * w.2, gv * w.3), channels)
                        }
                    }
                }
            }
        }
        var gradFeatures: Tensor?
        if let gft, let gftp {
            if let partp {
                let total = neurons * channels
                Parallel.forRanges(total) { range in
                    for k in 0..<(chunks - 1) {
                        let src = partp + k * total
                        for i in range { gftp[i] += src[i] }
                    }
                }
            }
            gradFeatures = ReadoutKernels.transpose(gft.storage.pointer, rows: neurons, columns: channels)
        }
        var gradX: Tensor?
        if let gxt {
            let gx = Tensor(uninitializedShape: x.shape)
            layout.fromChannelsLast(gxt.storage.pointer, gx.storage.pointer)
            gradX = gx
        }
        return [gradX, gpos, gradFeatures]
    }
}

/// Where frame `m = b·T + t` and channel `c` of a (N, C, T, H, W) or (M, C, H, W) tensor live.
struct FrameLayout {
    let batch: Int, channels: Int, time: Int, plane: Int

    /// Offset of frame `m`, channel 0, in the channels-first tensor.
    @inline(__always) func base(_ m: Int) -> Int {
        let b = m / time, t = m - b * time
        return b * channels * time * plane + t * plane
    }
    /// Pixels per block of the layout copies.
    static let pixelBlock = 32

    /// Distance between consecutive channels of one frame.
    var channelStride: Int { time * plane }

    /// Copies channels-first `src` into `dst` laid out (frames, plane, channels).
    func toChannelsLast(_ src: UnsafeMutablePointer<Float>, _ dst: UnsafeMutablePointer<Float>) {
        let frames = batch * time, cs = channelStride, channels = self.channels, plane = self.plane
        Parallel.forRanges(frames, minimumPerThread: max(1, 65_536 / max(1, plane * channels))) { range in
            for m in range {
                let s = src + base(m), d = dst + m * plane * channels
                // Blocks of pixels, so the destination block stays in cache while every channel
                // is written into it.
                var p0 = 0
                while p0 < plane {
                    let p1 = Swift.min(p0 + FrameLayout.pixelBlock, plane)
                    for c in 0..<channels {
                        let sc = s + c * cs, dc = d + c
                        for p in p0..<p1 { dc[p * channels] = sc[p] }
                    }
                    p0 = p1
                }
            }
        }
    }

    /// Copies (frames, plane, channels) `src` back into the channels-first layout `dst`.
    func fromChannelsLast(_ src: UnsafeMutablePointer<Float>, _ dst: UnsafeMutablePointer<Float>) {
        let frames = batch * time, cs = channelStride, channels = self.channels, plane = self.plane
        Parallel.forRanges(frames, minimumPerThread: max(1, 65_536 / max(1, plane * channels))) { range in
            for m in range {
                let s = src + m * plane * channels, d = dst + base(m)
                var p0 = 0
                while p0 < plane {
                    let p1 = Swift.min(p0 + FrameLayout.pixelBlock, plane)
                    for c in 0..<channels {
                        let sc = s + c, dc = d + c * cs
                        for p in p0..<p1 { dc[p] = sc[p * channels] }
                    }
                    p0 = p1
                }
            }
        }
    }
}

/// Maps normalised positions to bilinear taps on an H × W map (zeros padding), as PyTorch's
/// `grid_sample` unnormalises them: `(g + 1) / 2 · (size − 1)` with `align_corners=True`,
/// `((g + 1) · size − 1) / 2` without.
struct SamplingGrid {
    let width: Int, height: Int
    let alignCorners: Bool
    /// d(pixel coordinate) / d(normalised coordinate) along x and y.
    let scaleX: Float, scaleY: Float

    init(width: Int, height: Int, alignCorners: Bool = true) {
        self.width = width
        self.height = height
        self.alignCorners = alignCorners
        scaleX = Float(alignCorners ? width - 1 : width) / 2
        scaleY = Float(alignCorners ? height - 1 : height) / 2
    }

    /// The four corners around (gx, gy): pixel indices (or -1 outside the map) and fractions.
    @inline(__always) func tap(_ gx: Float, _ gy: Float) -> BilinearTap {
        let ix = alignCorners ? (gx + 1) / 2 * Float(width - 1) : ((gx + 1) * Float(width) - 1) / 2
        let iy = alignCorners ? (gy + 1) / 2 * Float(height - 1) : ((gy + 1) * Float(height) - 1) / 2
        guard ix.isFinite && iy.isFinite else { return BilinearTap(corners: (-1, -1, -1, -1), tx: 0, ty: 0) }
        let fx = ix.rounded(.down), fy = iy.rounded(.down)
        // Far-away points: clamp before converting so Int() cannot trap.
        let x0 = Int(Swift.max(Swift.min(fx, Float(width + 1)), -2))
        let y0 = Int(Swift.max(Swift.min(fy, Float(height + 1)), -2))
        let inX0 = x0 >= 0 && x0 < width, inX1 = x0 + 1 >= 0 && x0 + 1 < width
        let inY0 = y0 >= 0 && y0 < height, inY1 = y0 + 1 >= 0 && y0 + 1 < height
        return BilinearTap(corners: (inX0 && inY0 ? y0 * width + x0 : -1,
                                     inX1 && inY0 ? y0 * width + x0 + 1 : -1,
                                     inX0 && inY1 ? (y0 + 1) * width + x0 : -1,
                                     inX1 && inY1 ? (y0 + 1) * width + x0 + 1 : -1),
                           tx: ix - fx, ty: iy - fy)
    }
}

/// The corners of one bilinear sample: north-west, north-east, south-west, south-east.
struct BilinearTap {
    /// Pixel index of each corner in the H·W plane, or -1 when it lies outside (reads zero).
    let corners: (Int, Int, Int, Int)
    /// Position inside the cell along x and y.
    let tx: Float, ty: Float

    /// Bilinear weights of the four corners.
    @inline(__always) var weights: (Float, Float, Float, Float) {
        ((1 - tx) * (1 - ty), tx * (1 - ty), (1 - tx) * ty, tx * ty)
    }

    @inline(__always) func corner(_ k: Int) -> Int {
        switch k {
        case 0: return corners.0
        case 1: return corners.1
        case 2: return corners.2
        default: return corners.3
        }
    }

    /// The channel vector of corner `k` in a channels-last frame, or `zero` outside the map.
    @inline(__always) func row(_ k: Int, _ frame: UnsafePointer<Float>, _ channels: Int,
                               _ zero: UnsafePointer<Float>) -> UnsafePointer<Float> {
        let c = corner(k)
        return c >= 0 ? frame + c * channels : zero
    }

    /// The writable channel vector of corner `k`, or `dump` (a scratch row) outside the map.
    @inline(__always) func mutableRow(_ k: Int, _ frame: UnsafeMutablePointer<Float>, _ channels: Int,
                                      _ dump: UnsafeMutablePointer<Float>) -> UnsafeMutablePointer<Float> {
        let c = corner(k)
        return c >= 0 ? frame + c * channels : dump
    }
}

/// SIMD inner loops over channel vectors.
enum ReadoutKernels {
    @inline(__always) static func load(_ p: UnsafePointer<Float>, _ i: Int) -> SIMD8<Float> {
        UnsafeRawPointer(p + i).loadUnaligned(as: SIMD8<Float>.self)
    }
    @inline(__always) static func store(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>, _ i: Int) {
        UnsafeMutableRawPointer(p + i).storeBytes(of: v, as: SIMD8<Float>.self)
    }

    /// `Σ_c (w0·r0[c] + w1·r1[c] + w2·r2[c] + w3·r3[c]) · f[c]`.
    @inline(__always)
    static func weightedDot(_ r0: UnsafePointer<Float>, _ r1: UnsafePointer<Float>, _ r2: UnsafePointer<Float>,
                            _ r3: UnsafePointer<Float>, _ w: (Float, Float, Float, Float),
                            _ f: UnsafePointer<Float>, _ n: Int) -> Float {
        let w0 = SIMD8<Float>(repeating: w.0), w1 = SIMD8<Float>(repeating: w.1)
        let w2 = SIMD8<Float>(repeating: w.2), w3 = SIMD8<Float>(repeating: w.3)
        var acc = SIMD8<Float>()
        var c = 0
        while c + 8 <= n {
            let v = w0 * load(r0, c) + w1 * load(r1, c) + w2 * load(r2, c) + w3 * load(r3, c)
            acc += v * load(f, c)
            c += 8
        }
        var s = acc.sum()
        while c < n {
            s += (w.0 * r0[c] + w.1 * r1[c] + w.2 * r2[c] + w.3 * r3[c]) * f[c]
            c += 1
        }
        return s
    }

    /// The four dot products `⟨r_k, f⟩`.
    @inline(__always)
    static func dots(_ r0: UnsafePointer<Float>, _ r1: UnsafePointer<Float>, _ r2: UnsafePointer<Float>,
                     _ r3: UnsafePointer<Float>, _ f: UnsafePointer<Float>, _ n: Int) -> (Float, Float, Float, Float) {
        var a0 = SIMD8<Float>(), a1 = SIMD8<Float>(), a2 = SIMD8<Float>(), a3 = SIMD8<Float>()
        var c = 0
        while c + 8 <= n {
            let fv = load(f, c)
            a0 += load(r0, c) * fv
            a1 += load(r1, c) * fv
            a2 += load(r2, c) * fv
            a3 += load(r3, c) * fv
            c += 8
        }
        var s0 = a0.sum(), s1 = a1.sum(), s2 = a2.sum(), s3 = a3.sum()
        while c < n {
            s0 += r0[c] * f[c]; s1 += r1[c] * f[c]; s2 += r2[c] * f[c]; s3 += r3[c] * f[c]
            c += 1
        }
        return (s0, s1, s2, s3)
    }

    /// `d_k[c] += a_k · f[c]` for the four destination rows (rows may coincide only when they are
    /// the same scratch row, whose contents are discarded).
    @inline(__always)
    static func axpy4(_ d0: UnsafeMutablePointer<Float>, _ d1: UnsafeMutablePointer<Float>,
                      _ d2: UnsafeMutablePointer<Float>, _ d3: UnsafeMutablePointer<Float>,
                      _ a: (Float, Float, Float, Float), _ f: UnsafePointer<Float>, _ n: Int) {
        axpy(d0, a.0, f, n)
        axpy(d1, a.1, f, n)
        axpy(d2, a.2, f, n)
        axpy(d3, a.3, f, n)
    }

    /// `d[c] += a · f[c]`.
    @inline(__always)
    static func axpy(_ d: UnsafeMutablePointer<Float>, _ a: Float, _ f: UnsafePointer<Float>, _ n: Int) {
        let av = SIMD8<Float>(repeating: a)
        var c = 0
        while c + 8 <= n {
            store(load(UnsafePointer(d), c) + av * load(f, c), d, c)
            c += 8
        }
        while c < n { d[c] += a * f[c]; c += 1 }
    }

    /// `d[c] += a0·r0[c] + a1·r1[c] + a2·r2[c] + a3·r3[c]`.
    @inline(__always)
    static func accumulateWeighted(_ d: UnsafeMutablePointer<Float>, _ r0: UnsafePointer<Float>,
                                   _ r1: UnsafePointer<Float>, _ r2: UnsafePointer<Float>, _ r3: UnsafePointer<Float>,
                                   _ a: (Float, Float, Float, Float), _ n: Int) {
        let a0 = SIMD8<Float>(repeating: a.0), a1 = SIMD8<Float>(repeating: a.1)
        let a2 = SIMD8<Float>(repeating: a.2), a3 = SIMD8<Float>(repeating: a.3)
        var c = 0
        while c + 8 <= n {
            let v = a0 * load(r0, c) + a1 * load(r1, c) + a2 * load(r2, c) + a3 * load(r3, c)
            store(load(UnsafePointer(d), c) + v, d, c)
            c += 8
        }
        while c < n {
            d[c] += a.0 * r0[c] + a.1 * r1[c] + a.2 * r2[c] + a.3 * r3[c]
            c += 1
        }
    }

    /// A (columns, rows) tensor holding the transpose of the row-major (rows, columns) `src`.
    static func transpose(_ src: UnsafeMutablePointer<Float>, rows: Int, columns: Int) -> Tensor {
        let out = Tensor(uninitializedShape: [columns, rows])
        let d = out.storage.pointer
        Parallel.forRanges(columns, minimumPerThread: max(1, 65_536 / max(1, rows))) { range in
            for j in range {
                let dj = d + j * rows
                for i in 0..<rows { dj[i] = src[i * columns + j] }
            }
        }
        return out
    }
}
