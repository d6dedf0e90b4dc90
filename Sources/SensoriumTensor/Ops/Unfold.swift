// Sliding space-time patches (tubelets) of a video, as one differentiable copy.
//
// PyTorch builds these with three chained `Tensor.unfold` views and an einops rearrange, which copies
// once into the token layout. The op below writes that layout directly: the output is the only
// allocation of the forward pass (no per-position copies, no intermediate views materialised), and the
// backward pass scatter-adds into one input-sized gradient.

/// The output geometry of ``unfoldPatches3d(_:kernel:stride:)`` for an input (B, C, T, H, W).
public struct PatchGrid3d: Equatable, Sendable {
    /// Patch positions along time, height and width: `(extent − kernel) / stride + 1` each.
    public var positions: [Int]
    /// Elements per patch: C · kT · kH · kW.
    public var patchSize: Int

    /// The grid of `kernel` (kT, kH, kW) patches taken every `stride` (sT, sH, sW) from an input of
    /// `shape` (B, C, T, H, W); nil when a kernel does not fit its axis.
    public init?(inputShape shape: [Int], kernel: [Int], stride: [Int]) {
        guard shape.count == 5, kernel.count == 3, stride.count == 3,
              kernel.allSatisfy({ $0 > 0 }), stride.allSatisfy({ $0 > 0 }) else { return nil }
        var positions: [Int] = []
        for axis in 0..<3 {
            let extent = shape[axis + 2]
            guard extent >= kernel[axis] else { return nil }
            positions.append((extent - kernel[axis]) / stride[axis] + 1)
        }
        self.positions = positions
        self.patchSize = shape[1] * kernel[0] * kernel[1] * kernel[2]
    }
}

/// Space-time patches of a video batch, flattened as the ViV1T tokenizer lays them out.
///
/// Equivalent to PyTorch's
/// `x.unfold(2, kT, sT).unfold(3, kH, sH).unfold(4, kW, sW)` followed by
/// `rearrange('b c nt nh nw pt ph pw -> b nt (nh nw) (c pt ph pw)')`.
///
/// - Parameters:
///   - x: (B, C, T, H, W).
///   - kernel: patch extent (kT, kH, kW).
///   - stride: step between patches (sT, sH, sW); patches may overlap. Trailing rows or columns that
///     no whole patch reaches are ignored, as in PyTorch.
/// - Returns: (B, T', H'·W', C·kT·kH·kW) with `T' = (T − kT) / sT + 1` (likewise H', W'); patch
///   index `h'·W' + w'`, element index `((c·kT + t)·kH + h)·kW + w`. Differentiable in `x`.
public func unfoldPatches3d(_ x: Tensor, kernel: [Int], stride: [Int]) -> Tensor {
    guard let grid = PatchGrid3d(inputShape: x.shape, kernel: kernel, stride: stride) else {
        preconditionFailure("unfoldPatches3d: kernel \(kernel) with stride \(stride) does not fit input of shape \(x.shape) (expected (B, C, T, H, W) with each kernel extent at most its axis and positive strides)")
    }
    let geometry = PatchGeometry(shape: x.shape, kernel: kernel, stride: stride, grid: grid)
    let out = Tensor(uninitializedShape: [x.shape[0], grid.positions[0], grid.positions[1] * grid.positions[2], grid.patchSize])
    geometry.gather(from: x.storage.pointer, into: out.storage.pointer)
    return Tensor.recordOperation("unfoldPatches3d", result: out, inputs: [x]) { [shape = x.shape] g in
        let gx = Tensor.zeros(shape)
        geometry.scatterAdd(from: g.storage.pointer, into: gx.storage.pointer)
        return [gx]
    }
}

/// Index arithmetic shared by the forward copy and the backward scatter (also used by
/// ``patchEmbedding3d(_:kernel:stride:normWeight:normBias:eps:weight:bias:rowsPerChunk:)``).
struct PatchGeometry {
    let batch: Int, channels: Int, time: Int, height: Int, width: Int
    let kT: Int, kH: Int, kW: Int
    let sT: Int, sH: Int, sW: Int
    let nT: Int, nH: Int, nW: Int
    let patchSize: Int

    init(shape: [Int], kernel: [Int], stride: [Int], grid: PatchGrid3d) {
        (batch, channels, time, height, width) = (shape[0], shape[1], shape[2], shape[3], shape[4])
        (kT, kH, kW) = (kernel[0], kernel[1], kernel[2])
        (sT, sH, sW) = (stride[0], stride[1], stride[2])
        (nT, nH, nW) = (grid.positions[0], grid.positions[1], grid.positions[2])
        patchSize = grid.patchSize
    }

    /// Number of patches (output rows): B · T' · H' · W'.
    var rows: Int { batch * nT * nH * nW }

    /// Copies patches `range` (row r = ((b·T' + t')·H' + h')·W' + w') into consecutive rows of
    /// `patchSize` floats at `dst`; rows are independent and copied in parallel.
    func gatherRows(_ range: Range<Int>, from src: UnsafeMutablePointer<Float>, into dst: UnsafeMutablePointer<Float>) {
        Parallel.forRanges(range.count, minimumPerThread: max(1, 65_536 / max(patchSize, 1))) { local in
            copyRows((range.lowerBound + local.lowerBound)..<(range.lowerBound + local.upperBound),
                     from: UnsafePointer(src), into: dst + local.lowerBound * patchSize)
        }
    }

    /// ``gatherRows(_:from:into:)`` on the calling thread, for callers that run pieces of rows on
    /// threads of their own.
    func copyRows(_ range: Range<Int>, from src: UnsafePointer<Float>, into dst: UnsafeMutablePointer<Float>) {
        let plane = height * width, volume = time * plane
        for i in 0..<range.count {
            let r = range.lowerBound + i
            let pw = r % nW, ph = (r / nW) % nH, bt = r / (nW * nH)
            let b = bt / nT, t0 = (bt % nT) * sT
            var o = dst + i * patchSize
            let corner = src + b * channels * volume + t0 * plane + ph * sH * width + pw * sW
            for c in 0..<channels {
                for t in 0..<kT {
                    let frame = corner + c * volume + t * plane
                    for h in 0..<kH {
                        let line = frame + h * width
                        for w in 0..<kW { o[w] = line[w] }
                        o += kW
                    }
                }
            }
        }
    }

    /// Adds rows of patch gradients (as laid out by ``gatherRows(_:from:into:)``) into the input
    /// gradient. Patches overlap, so the work is split by channel, which no two patches' segments share.
    func scatterAddRows(_ range: Range<Int>, from src: UnsafeMutablePointer<Float>, into dst: UnsafeMutablePointer<Float>) {
        let plane = height * width, volume = time * plane
        let perChannel = kT * kH * kW
        Parallel.forRanges(channels, minimumPerThread: max(1, 65_536 / max(range.count * perChannel, 1))) { channelRange in
            for c in channelRange {
                for i in 0..<range.count {
                    let r = range.lowerBound + i
                    let pw = r % nW, ph = (r / nW) % nH, bt = r / (nW * nH)
                    let b = bt / nT, t0 = (bt % nT) * sT
                    var g = UnsafePointer(src + i * patchSize + c * perChannel)
                    let corner = dst + (b * channels + c) * volume + t0 * plane + ph * sH * width + pw * sW
                    for t in 0..<kT {
                        for h in 0..<kH {
                            let line = corner + t * plane + h * width
                            for w in 0..<kW { line[w] += g[w] }
                            g += kW
                        }
                    }
                }
            }
        }
    }

    /// Forward: one output row (patch) per (b, t', h', w'); rows are independent, so (b, t') pairs
    /// run in parallel. Each inner copy moves kW contiguous input elements.
    func gather(from src: UnsafeMutablePointer<Float>, into dst: UnsafeMutablePointer<Float>) {
        let plane = height * width, volume = time * plane
        let rowsPerFrame = nH * nW
        Parallel.forRanges(batch * nT, minimumPerThread: max(1, 65_536 / max(rowsPerFrame * patchSize, 1))) { range in
            for bt in range {
                let b = bt / nT, t0 = (bt % nT) * sT
                let input = src + b * channels * volume
                var row = dst + bt * rowsPerFrame * patchSize
                for ph in 0..<nH {
                    for pw in 0..<nW {
                        var o = row
                        let corner = t0 * plane + ph * sH * width + pw * sW
                        for c in 0..<channels {
                            let channel = input + c * volume + corner
                            for t in 0..<kT {
                                let frame = channel + t * plane
                                for h in 0..<kH {
                                    o.update(from: frame + h * width, count: kW)
                                    o += kW
                                }
                            }
                        }
                        row += patchSize
                    }
                }
            }
        }
    }

    /// Backward: every patch element adds into the input element it came from. Overlapping patches
    /// share input elements, so the work is split by (b, c) input volumes, which no two workers share.
    func scatterAdd(from src: UnsafeMutablePointer<Float>, into dst: UnsafeMutablePointer<Float>) {
        let plane = height * width, volume = time * plane
        let rowsPerFrame = nH * nW
        let perChannel = kT * kH * kW
        Parallel.forRanges(batch * channels, minimumPerThread: max(1, 65_536 / max(nT * rowsPerFrame * perChannel, 1))) { range in
            for bc in range {
                let b = bc / channels, c = bc % channels
                let gx = dst + bc * volume
                for pt in 0..<nT {
                    let frameRows = src + ((b * nT + pt) * rowsPerFrame) * patchSize + c * perChannel
                    for ph in 0..<nH {
                        for pw in 0..<nW {
                            var g = UnsafePointer(frameRows + (ph * nW + pw) * patchSize)
                            let corner = gx + pt * sT * plane + ph * sH * width + pw * sW
                            for t in 0..<kT {
                                for h in 0..<kH {
                                    let line = corner + t * plane + h * width
                                    for w in 0..<kW { line[w] += g[w] }
                                    g += kW
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
