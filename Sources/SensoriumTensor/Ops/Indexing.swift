// Indexing: strided slices, selection of rows by index, and torch.gather.

extension Tensor {
    /// For every outer position `o` and pair `k`, copies (or adds, when `accumulate`) the row
    /// `src[o, srcIndex[k], :]` into `dst[o, dstIndex[k], :]`, where both are (outer, extent, inner)
    /// blocks. Split across cores by outer position and column chunk, so repeated destination rows
    /// are safe with `accumulate`.
    static func axisRowCopy(src: UnsafePointer<Float>, srcExtent: Int, dst: UnsafeMutablePointer<Float>,
                            dstExtent: Int, outer: Int, inner: Int, srcIndex: [Int], dstIndex: [Int],
                            accumulate: Bool) {
        let pairs = srcIndex.count
        if pairs == 0 || inner == 0 || outer == 0 { return }
        let chunk = 4096
        let chunks = (inner + chunk - 1) / chunk
        let work = pairs * Swift.min(inner, chunk)
        Parallel.forRanges(outer * chunks, minimumPerThread: Swift.max(1, 32_768 / work)) { range in
            for unit in range {
                let o = unit / chunks
                let i0 = (unit % chunks) * chunk, width = Swift.min(inner, i0 + chunk) - i0
                for k in 0..<pairs {
                    let s = src + (o * srcExtent + srcIndex[k]) * inner + i0
                    let d = dst + (o * dstExtent + dstIndex[k]) * inner + i0
                    if accumulate {
                        for j in 0..<width { d[j] += s[j] }
                    } else {
                        d.update(from: s, count: width)
                    }
                }
            }
        }
    }

    /// Elements `range.lowerBound, +step, ...` below `range.upperBound` along `axis` (like
    /// `x[..., start:end:step, ...]` in PyTorch); `step` must be positive. Copies.
    public func sliced(axis: Int, range: Range<Int>, step: Int = 1) -> Tensor {
        let a = Tensor.normalizeAxis(axis, rank: rank, op: "slice")
        precondition(step > 0, "slice: step \(step) must be positive")
        precondition(range.lowerBound >= 0 && range.upperBound <= shape[a],
                     "slice: range \(range) out of bounds for axis \(axis) of shape \(shape)")
        var outShape = shape
        outShape[a] = (range.count + step - 1) / step
        var viewStrides = strides
        let base = range.lowerBound * viewStrides[a]
        viewStrides[a] *= step
        if outShape == shape { return self }
        let out = Tensor(uninitializedShape: outShape)
        Tensor.stridedCopy(shape: outShape, src: storage.pointer + base, srcStrides: viewStrides,
                           dst: out.storage.pointer, dstStrides: out.strides)
        return Tensor.recordOperation("slice", result: out, inputs: [self]) { [shape] g in
            let gx = Tensor.zeros(shape)
            Tensor.stridedCopy(shape: outShape, src: g.storage.pointer, srcStrides: g.strides,
                               dst: gx.storage.pointer + base, dstStrides: viewStrides)
            return [gx]
        }
    }

    /// The entries at `indices` along `axis`, in that order (repeats allowed; negative indices
    /// count from the end), like `torch.index_select`. Gradients of repeated entries add up.
    public func indexSelect(axis: Int, indices: [Int]) -> Tensor {
        let a = Tensor.normalizeAxis(axis, rank: rank, op: "indexSelect")
        let (outer, extent, inner) = Tensor.axisLayout(shape, axis: a)
        let resolved = indices.map { i -> Int in
            precondition(i >= -extent && i < extent,
                         "indexSelect: index \(i) out of range for axis \(axis) of shape \(shape)")
            return i < 0 ? i + extent : i
        }
        var outShape = shape
        outShape[a] = resolved.count
        let out = Tensor(uninitializedShape: outShape)
        let positions = Array(0..<resolved.count)
        Tensor.axisRowCopy(src: storage.pointer, srcExtent: extent, dst: out.storage.pointer, dstExtent: resolved.count,
                           outer: outer, inner: inner, srcIndex: resolved, dstIndex: positions, accumulate: false)
        return Tensor.recordOperation("indexSelect", result: out, inputs: [self]) { [shape] g in
            let gx = Tensor.zeros(shape)
            Tensor.axisRowCopy(src: g.storage.pointer, srcExtent: resolved.count, dst: gx.storage.pointer,
                               dstExtent: extent, outer: outer, inner: inner, srcIndex: positions,
                               dstIndex: resolved, accumulate: true)
            return [gx]
        }
    }

    /// `torch.gather`: picks along `axis` by `index` (a tensor of whole numbers stored as Float, of the
    /// same rank, no larger than `self` on the other axes). The result has `index`'s shape, with
    /// `out[..., i, ...] = self[..., index[..., i, ...], ...]` at position `i` of `axis`.
    /// Gradients are scattered back (and add up where indices repeat); none flow to `index`.
    public func gather(axis: Int, index: Tensor) -> Tensor {
        let a = Tensor.normalizeAxis(axis, rank: rank, op: "gather")
        precondition(index.rank == rank, "gather: index shape \(index.shape) and input shape \(shape) differ in rank")
        for d in 0..<rank where d != a {
            precondition(index.shape[d] <= shape[d],
                         "gather: index shape \(index.shape) exceeds input shape \(shape) on axis \(d)")
        }
        let extent = shape[a]
        let idx = index.storage.pointer
        for i in 0..<index.count {
            let v = idx[i]
            precondition(v >= 0 && v < Float(extent) && v == v.rounded(),
                         "gather: index value \(v) is not a valid position on axis \(axis) of shape \(shape)")
        }
        var inStrides = strides
        let axisStride = inStrides[a]
        inStrides[a] = 0
        let indexStrides = index.strides
        let out = Tensor(uninitializedShape: index.shape)
        if index.count > 0 {
            let loop = StridedLoop(shape: index.shape, strides: [indexStrides, inStrides])
            let si = loop.innerStride(0), sx = loop.innerStride(1)
            let src = storage.pointer, dst = out.storage.pointer
            loop.forEachRow { offsets, n in
                let o = dst + offsets[0], ix = idx + offsets[0], x = src + offsets[1]
                for i in 0..<n { o[i * si] = x[i * sx + Int(ix[i * si]) * axisStride] }
            }
        }
        return Tensor.recordOperation("gather", result: out, inputs: [self]) { [shape] g in
            let gx = Tensor.zeros(shape)
            if g.count > 0 {
                let loop = StridedLoop(shape: index.shape, strides: [indexStrides, inStrides])
                let si = loop.innerStride(0), sx = loop.innerStride(1)
                let gs = g.storage.pointer, dst = gx.storage.pointer, idx = index.storage.pointer
                loop.forEachRow(parallel: false) { offsets, n in
                    let gr = gs + offsets[0], ix = idx + offsets[0], x = dst + offsets[1]
                    for i in 0..<n { x[i * sx + Int(ix[i * si]) * axisStride] += gr[i * si] }
                }
            }
            return [gx]
        }
    }
}
