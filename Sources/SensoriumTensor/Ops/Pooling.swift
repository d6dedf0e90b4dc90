// Differentiable average, max and adaptive-average pooling over 2 or 3 trailing axes
// (PyTorch `F.avg_pool2d/3d`, `F.max_pool2d/3d` without padding, floor mode; `F.adaptive_avg_pool2d/3d`).

/// 2-D average pooling (`F.avg_pool2d` with no padding, floor mode).
///
/// - Parameters:
///   - x: (N, C, H, W) or (C, H, W).
///   - kernelSize: one value for both axes, or (kH, kW).
///   - stride: one value or (sH, sW); `nil` means the kernel size (PyTorch's default).
/// - Returns: (..., H', W') with H' = ⌊(H − kH) / sH⌋ + 1.
public func avgPool2d(_ x: Tensor, kernelSize: [Int], stride: [Int]? = nil) -> Tensor {
    Pooling.fixed(op: "avgPool2d", x, kernelSize: kernelSize, stride: stride, rank: 2, max: false)
}

/// 2-D max pooling (`F.max_pool2d` with no padding, dilation 1, floor mode).
///
/// The gradient goes to the first maximal element of each window (NaN counts as maximal).
/// - Parameters: as `avgPool2d`.
public func maxPool2d(_ x: Tensor, kernelSize: [Int], stride: [Int]? = nil) -> Tensor {
    Pooling.fixed(op: "maxPool2d", x, kernelSize: kernelSize, stride: stride, rank: 2, max: true)
}

/// 3-D average pooling over (T, H, W) (`F.avg_pool3d` with no padding, floor mode).
///
/// - Parameters:
///   - x: (N, C, T, H, W) or (C, T, H, W).
///   - kernelSize: one value for all axes, or (kT, kH, kW).
///   - stride: one value or three; `nil` means the kernel size.
public func avgPool3d(_ x: Tensor, kernelSize: [Int], stride: [Int]? = nil) -> Tensor {
    Pooling.fixed(op: "avgPool3d", x, kernelSize: kernelSize, stride: stride, rank: 3, max: false)
}

/// 3-D max pooling over (T, H, W) (`F.max_pool3d` with no padding, dilation 1, floor mode).
public func maxPool3d(_ x: Tensor, kernelSize: [Int], stride: [Int]? = nil) -> Tensor {
    Pooling.fixed(op: "maxPool3d", x, kernelSize: kernelSize, stride: stride, rank: 3, max: true)
}

/// Adaptive 2-D average pooling (`F.adaptive_avg_pool2d`): output cell i of an axis of length L
/// averages input indices ⌊i·L/S⌋ ..< ⌈(i+1)·L/S⌉ for output size S.
///
/// - Parameters:
///   - x: (N, C, H, W) or (C, H, W).
///   - outputSize: one value for both axes, or (H', W').
public func adaptiveAvgPool2d(_ x: Tensor, outputSize: [Int]) -> Tensor {
    Pooling.adaptive(op: "adaptiveAvgPool2d", x, outputSize: outputSize, rank: 2)
}

/// Adaptive 3-D average pooling over (T, H, W) (`F.adaptive_avg_pool3d`).
///
/// - Parameters:
///   - x: (N, C, T, H, W) or (C, T, H, W).
///   - outputSize: one value for all axes, or (T', H', W').
public func adaptiveAvgPool3d(_ x: Tensor, outputSize: [Int]) -> Tensor {
    Pooling.adaptive(op: "adaptiveAvgPool3d", x, outputSize: outputSize, rank: 3)
}

/// Pooling windows along three axes (unit leading axes for 2-D pooling): output index i of axis a
/// covers input indices `starts[a][i] ..< ends[a][i]`.
struct PoolWindows {
    var input: [Int]
    var starts: [[Int]]
    var ends: [[Int]]

    var output: [Int] { starts.map(\.count) }
    var inVolume: Int { input[0] * input[1] * input[2] }
    var outVolume: Int { starts[0].count * starts[1].count * starts[2].count }
}

enum Pooling {
    static func spatialShape(op: String, _ x: Tensor, rank: Int) -> (planes: Int, input: [Int]) {
        precondition(x.rank == rank + 1 || x.rank == rank + 2,
                     "\(op): input must be (N, C, \(rank) spatial axes) or (C, \(rank) spatial axes), got shape \(x.shape)")
        let input = [Int](repeating: 1, count: 3 - rank) + Array(x.shape.suffix(rank))
        return (Tensor.elementCount(Array(x.shape.dropLast(rank))), input)
    }

    static func expand(_ values: [Int], name: String, rank: Int, op: String, shape: [Int]) -> [Int] {
        precondition(values.count == 1 || values.count == rank,
                     "\(op): \(name) must have 1 or \(rank) values, got \(values) (input shape \(shape))")
        let full = values.count == 1 ? [Int](repeating: values[0], count: rank) : values
        return [Int](repeating: 1, count: 3 - rank) + full
    }

    static func fixed(op: String, _ x: Tensor, kernelSize: [Int], stride: [Int]?, rank: Int, max: Bool) -> Tensor {
        let (planes, input) = spatialShape(op: op, x, rank: rank)
        let k = expand(kernelSize, name: "kernelSize", rank: rank, op: op, shape: x.shape)
        let s = expand(stride ?? kernelSize, name: "stride", rank: rank, op: op, shape: x.shape)
        precondition(k.allSatisfy { $0 >= 1 } && s.allSatisfy { $0 >= 1 },
                     "\(op): kernelSize \(kernelSize) and stride \(stride ?? kernelSize) must be positive")
        precondition((0..<3).allSatisfy { input[$0] >= k[$0] },
                     "\(op): kernelSize \(kernelSize) is larger than the input \(x.shape)")
        var starts: [[Int]] = [], ends: [[Int]] = []
        for a in 0..<3 {
            let count = (input[a] - k[a]) / s[a] + 1
            starts.append((0..<count).map { $0 * s[a] })
            ends.append((0..<count).map { $0 * s[a] + k[a] })
        }
        let windows = PoolWindows(input: input, starts: starts, ends: ends)
        return max ? maxPool(op: op, x, windows: windows, planes: planes, rank: rank)
                   : averagePool(op: op, x, windows: windows, planes: planes, rank: rank)
    }

    static func adaptive(op: String, _ x: Tensor, outputSize: [Int], rank: Int) -> Tensor {
        let (planes, input) = spatialShape(op: op, x, rank: rank)
        let size = expand(outputSize, name: "outputSize", rank: rank, op: op, shape: x.shape)
        precondition(size.allSatisfy { $0 >= 1 }, "\(op): outputSize \(outputSize) must be positive (input shape \(x.shape))")
        var starts: [[Int]] = [], ends: [[Int]] = []
        for a in 0..<3 {
            let l = input[a], n = size[a]
            starts.append((0..<n).map { ($0 * l) / n })
            ends.append((0..<n).map { (($0 + 1) * l + n - 1) / n })
        }
        let windows = PoolWindows(input: input, starts: starts, ends: ends)
        return averagePool(op: op, x, windows: windows, planes: planes, rank: rank)
    }

    static func outputShape(_ x: Tensor, windows: PoolWindows, rank: Int) -> [Int] {
        Array(x.shape.dropLast(rank)) + Array(windows.output.suffix(rank))
    }

    static func averagePool(op: String, _ x: Tensor, windows w: PoolWindows, planes: Int, rank: Int) -> Tensor {
        let out = Tensor(uninitializedShape: outputShape(x, windows: w, rank: rank))
        let inVolume = w.inVolume, outVolume = w.outVolume
        let (inH, inW) = (w.input[1], w.input[2])
        let src = x.storage.pointer, dst = out.storage.pointer
        Parallel.forRanges(planes, minimumPerThread: max(1, 32_768 / max(inVolume, 1))) { range in
            for p in range {
                let plane = src + p * inVolume
                var o = p * outVolume
                for ot in 0..<w.starts[0].count { for oh in 0..<w.starts[1].count { for ow in 0..<w.starts[2].count {
                    let (t0, t1) = (w.starts[0][ot], w.ends[0][ot])
                    let (h0, h1) = (w.starts[1][oh], w.ends[1][oh])
                    let (w0, w1) = (w.starts[2][ow], w.ends[2][ow])
                    var acc: Float = 0
                    for it in t0..<t1 {
                        for ih in h0..<h1 {
                            let row = plane + (it * inH + ih) * inW
                            for iw in w0..<w1 { acc += row[iw] }
                        }
                    }
                    dst[o] = acc / Float((t1 - t0) * (h1 - h0) * (w1 - w0))
                    o += 1
                } } }
            }
        }
        return Tensor.recordOperation(op, result: out, inputs: [x]) { [shape = x.shape] g in
            let gx = Tensor.zeros(shape)
            let pg = g.storage.pointer, pgx = gx.storage.pointer
            Parallel.forRanges(planes, minimumPerThread: max(1, 32_768 / max(inVolume, 1))) { range in
                for p in range {
                    let plane = pgx + p * inVolume
                    var o = p * outVolume
                    for ot in 0..<w.starts[0].count { for oh in 0..<w.starts[1].count { for ow in 0..<w.starts[2].count {
                        let (t0, t1) = (w.starts[0][ot], w.ends[0][ot])
                        let (h0, h1) = (w.starts[1][oh], w.ends[1][oh])
                        let (w0, w1) = (w.starts[2][ow], w.ends[2][ow])
                        let share = pg[o] / Float((t1 - t0) * (h1 - h0) * (w1 - w0))
                        for it in t0..<t1 {
                            for ih in h0..<h1 {
                                let row = plane + (it * inH + ih) * inW
                                for iw in w0..<w1 { row[iw] += share }
                            }
                        }
                        o += 1
                    } } }
                }
            }
            return [gx]
        }
    }

    static func maxPool(op: String, _ x: Tensor, windows w: PoolWindows, planes: Int, rank: Int) -> Tensor {
        let out = Tensor(uninitializedShape: outputShape(x, windows: w, rank: rank))
        let inVolume = w.inVolume, outVolume = w.outVolume
        precondition(inVolume <= Int(Int32.max), "\(op): input planes of \(inVolume) elements are too large (shape \(x.shape))")
        let (inH, inW) = (w.input[1], w.input[2])
        let src = x.storage.pointer, dst = out.storage.pointer
        // Flat index within its plane of each output's maximum, for the backward pass.
        var argmax = [Int32](repeating: 0, count: planes * outVolume)
        argmax.withUnsafeMutableBufferPointer { indices in
            let best = indices.baseAddress!
            Parallel.forRanges(planes, minimumPerThread: max(1, 32_768 / max(inVolume, 1))) { range in
                for p in range {
                    let plane = src + p * inVolume
                    var o = p * outVolume
                    for ot in 0..<w.starts[0].count { for oh in 0..<w.starts[1].count { for ow in 0..<w.starts[2].count {
                        let (t0, t1) = (w.starts[0][ot], w.ends[0][ot])
                        let (h0, h1) = (w.starts[1][oh], w.ends[1][oh])
                        let (w0, w1) = (w.starts[2][ow], w.ends[2][ow])
                        var value = -Float.infinity
                        var index = (t0 * inH + h0) * inW + w0
                        for it in t0..<t1 {
                            for ih in h0..<h1 {
                                let base = (it * inH + ih) * inW
                                for iw in w0..<w1 {
                                    let v = plane[base + iw]
                                    if v > value || v.isNaN { value = v; index = base + iw }
                                }
                            }
                        }
                        dst[o] = value
                        best[o] = Int32(truncatingIfNeeded: index)
                        o += 1
                    } } }
                }
            }
        }
        return Tensor.recordOperation(op, result: out, inputs: [x]) { [shape = x.shape] g in
            let gx = Tensor.zeros(shape)
            let pg = g.storage.pointer, pgx = gx.storage.pointer
            argmax.withUnsafeBufferPointer { indices in
                Parallel.forRanges(planes, minimumPerThread: max(1, 32_768 / max(outVolume, 1))) { range in
                    for p in range {
                        let plane = pgx + p * inVolume
                        for o in (p * outVolume)..<((p + 1) * outVolume) { plane[Int(indices[o])] += pg[o] }
                    }
                }
            }
            return [gx]
        }
    }
}
