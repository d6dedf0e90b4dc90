// Shape operations: views that share storage (reshape, squeeze, unsqueeze) and copies through
// strided kernels (permute, flip, pad, concatenate, split).

extension Tensor {
    /// The same elements under a new shape (one axis may be -1); shares storage.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        var target = newShape
        if let inferred = newShape.firstIndex(of: -1) {
            let known = newShape.enumerated().filter { $0.offset != inferred }.reduce(1) { $0 * $1.element }
            precondition(known > 0 && count % known == 0, "reshape: cannot reshape \(shape) to \(newShape)")
            target[inferred] = count / known
        }
        precondition(Tensor.elementCount(target) == count, "reshape: cannot reshape \(shape) to \(newShape)")
        if target == shape { return self }
        let out = Tensor(storage: storage, shape: target)
        return Tensor.recordOperation("reshape", result: out, inputs: [self]) { [shape] g in [g.reshaped(shape)] }
    }

    /// Broadcasts to `target` (NumPy rules), materialising the repeated elements.
    public func expanded(to target: [Int]) -> Tensor {
        if target == shape { return self }
        precondition(Tensor.broadcastShape(shape, target, op: "expand") == target,
                     "expand: cannot expand \(shape) to \(target)")
        let out = Tensor(uninitializedShape: target)
        let loop = StridedLoop(shape: target, strides: [
            Tensor.contiguousStrides(target), Tensor.broadcastStrides(from: shape, to: target),
        ])
        let si = loop.innerStride(1)
        let src = storage.pointer, dst = out.storage.pointer
        loop.forEachRow { offsets, n in
            let o = dst + offsets[0], x = src + offsets[1]
            for i in 0..<n { o[i] = x[i * si] }
        }
        return Tensor.recordOperation("expand", result: out, inputs: [self]) { [shape] g in [g.sumToShape(shape)] }
    }

    /// Removes axis `axis`, which must have extent 1; shares storage.
    public func squeezed(axis: Int) -> Tensor {
        let a = Tensor.normalizeAxis(axis, rank: rank, op: "squeeze")
        precondition(shape[a] == 1, "squeeze: axis \(axis) of shape \(shape) has extent \(shape[a]), not 1")
        var s = shape
        s.remove(at: a)
        return reshaped(s)
    }

    /// Removes every axis of extent 1; shares storage.
    public func squeezed() -> Tensor { reshaped(shape.filter { $0 != 1 }) }

    /// Inserts an axis of extent 1 at `axis` (in `-(rank+1)...rank`); shares storage.
    public func unsqueezed(axis: Int) -> Tensor {
        let a = axis < 0 ? axis + rank + 1 : axis
        precondition(a >= 0 && a <= rank, "unsqueeze: axis \(axis) out of range for shape \(shape)")
        var s = shape
        s.insert(1, at: a)
        return reshaped(s)
    }

    // MARK: Strided copies

    /// Copies (or adds, when `accumulate`) the elements of a view of `shape` read from `src` with
    /// `srcStrides` into a view written to `dst` with `dstStrides`. Strides may be negative or zero
    /// on the source side; destination positions must be distinct. Contiguous rows are block copies.
    static func stridedCopy(shape: [Int], src: UnsafePointer<Float>, srcStrides: [Int],
                            dst: UnsafeMutablePointer<Float>, dstStrides: [Int], accumulate: Bool = false) {
        if elementCount(shape) == 0 { return }
        let loop = StridedLoop(shape: shape, strides: [dstStrides, srcStrides])
        let sd = loop.innerStride(0), ss = loop.innerStride(1)
        loop.forEachRow { offsets, n in
            let o = dst + offsets[0], x = src + offsets[1]
            if accumulate {
                for i in 0..<n { o[i * sd] += x[i * ss] }
            } else if sd == 1 && ss == 1 {
                o.update(from: x, count: n)
            } else {
                for i in 0..<n { o[i * sd] = x[i * ss] }
            }
        }
    }

    /// `x` with its axes reordered by `permutation` (a permutation of `0..<rank`), as a new
    /// contiguous tensor. When the innermost axis moves, the copy runs in 32×32 tiles.
    static func permuteKernel(_ x: Tensor, _ permutation: [Int]) -> Tensor {
        let outShape = permutation.map { x.shape[$0] }
        let out = Tensor(uninitializedShape: outShape)
        if x.count == 0 { return out }
        let inStrides = x.strides
        let loop = StridedLoop(shape: outShape, strides: [contiguousStrides(outShape), permutation.map { inStrides[$0] }])
        let m = loop.shape.count
        let src = x.storage.pointer, dst = out.storage.pointer
        guard loop.innerStride(1) != 1, let p = (0..<m).first(where: { loop.strides[1][$0] == 1 }) else {
            stridedCopy(shape: outShape, src: src, srcStrides: permutation.map { inStrides[$0] },
                        dst: dst, dstStrides: contiguousStrides(outShape))
            return out
        }
        // Axis p is contiguous in the input and axis m-1 in the output: transpose tile by tile.
        let others = (0..<m).filter { $0 != p && $0 != m - 1 }
        let extentP = loop.shape[p], extentQ = loop.shape[m - 1]
        let outStrideP = loop.strides[0][p], inStrideQ = loop.strides[1][m - 1]
        let batch = others.reduce(1) { $0 * loop.shape[$1] }
        let tile = 32
        let tilesP = (extentP + tile - 1) / tile
        Parallel.forRanges(batch * tilesP, minimumPerThread: Swift.max(1, 32_768 / (tile * extentQ))) { range in
            for unit in range {
                var b = unit / tilesP
                let p0 = (unit % tilesP) * tile, p1 = Swift.min(extentP, p0 + tile)
                var outBase = 0, inBase = 0
                for axis in others.reversed() {
                    let i = b % loop.shape[axis]
                    b /= loop.shape[axis]
                    outBase += i * loop.strides[0][axis]
                    inBase += i * loop.strides[1][axis]
                }
                var q0 = 0
                while q0 < extentQ {
                    let q1 = Swift.min(extentQ, q0 + tile)
                    for pp in p0..<p1 {
                        let o = dst + outBase + pp * outStrideP, s = src + inBase + pp
                        for q in q0..<q1 { o[q] = s[q * inStrideQ] }
                    }
                    q0 = q1
                }
            }
        }
        return out
    }

    // MARK: Permutations

    /// The tensor with its axes reordered: axis `i` of the result is axis `axes[i]` of `self`
    /// (like `torch.permute`). Negative axes count from the end. Copies into contiguous storage.
    public func permuted(_ axes: [Int]) -> Tensor {
        let perm = axes.map { Tensor.normalizeAxis($0, rank: rank, op: "permute") }
        precondition(perm.count == rank && Set(perm).count == rank,
                     "permute: \(axes) is not a permutation of the axes of shape \(shape)")
        if perm == Array(0..<rank) { return self }
        let out = Tensor.permuteKernel(self, perm)
        var inverse = [Int](repeating: 0, count: rank)
        for (i, p) in perm.enumerated() { inverse[p] = i }
        return Tensor.recordOperation("permute", result: out, inputs: [self]) { g in [Tensor.permuteKernel(g, inverse)] }
    }

    /// The tensor with axes `a` and `b` swapped.
    public func transposed(_ a: Int, _ b: Int) -> Tensor {
        var perm = Array(0..<rank)
        let na = Tensor.normalizeAxis(a, rank: rank, op: "transpose"), nb = Tensor.normalizeAxis(b, rank: rank, op: "transpose")
        perm.swapAt(na, nb)
        return permuted(perm)
    }

    /// The transpose of a matrix (rank 2), or of the last two axes of a batch of matrices.
    public func transposed() -> Tensor {
        precondition(rank >= 2, "transposed: needs at least 2 axes, got shape \(shape)")
        return transposed(rank - 2, rank - 1)
    }

    // MARK: Flip and pad

    /// The elements in reverse order along each of `axes` (like `torch.flip`).
    public func flipped(axes: [Int]) -> Tensor {
        let ax = Tensor.reductionAxes(axes, rank: rank, op: "flip")
        let out = Tensor.flipKernel(self, axes: ax)
        return Tensor.recordOperation("flip", result: out, inputs: [self]) { g in [Tensor.flipKernel(g, axes: ax)] }
    }

    static func flipKernel(_ x: Tensor, axes: [Int]) -> Tensor {
        let out = Tensor(uninitializedShape: x.shape)
        if x.count == 0 { return out }
        var strides = x.strides
        var base = 0
        for a in axes {
            base += (x.shape[a] - 1) * strides[a]
            strides[a] = -strides[a]
        }
        stridedCopy(shape: x.shape, src: x.storage.pointer + base, srcStrides: strides,
                    dst: out.storage.pointer, dstStrides: out.strides)
        return out
    }

    /// Constant padding: `pads[i]` adds `before` and `after` elements of `value` around axis `i`.
    ///
    /// There is one pair per axis, starting from the first axis (unlike `torch.nn.functional.pad`,
    /// whose pairs start from the last axis); `pads` may be shorter than the rank, in which case the
    /// remaining trailing axes are not padded. Pads must be non-negative.
    public func padded(_ pads: [(before: Int, after: Int)], value: Float = 0) -> Tensor {
        precondition(pads.count <= rank, "pad: \(pads.count) pairs for shape \(shape) of rank \(rank)")
        precondition(pads.allSatisfy { $0.before >= 0 && $0.after >= 0 }, "pad: negative padding \(pads)")
        var outShape = shape
        var offset = 0
        for (i, pad) in pads.enumerated() { outShape[i] += pad.before + pad.after }
        let outStrides = Tensor.contiguousStrides(outShape)
        for (i, pad) in pads.enumerated() { offset += pad.before * outStrides[i] }
        let out = Tensor.full(outShape, value)
        Tensor.stridedCopy(shape: shape, src: storage.pointer, srcStrides: strides,
                           dst: out.storage.pointer + offset, dstStrides: outStrides)
        return Tensor.recordOperation("pad", result: out, inputs: [self]) { [shape] g in
            let gx = Tensor(uninitializedShape: shape)
            Tensor.stridedCopy(shape: shape, src: g.storage.pointer + offset, srcStrides: outStrides,
                               dst: gx.storage.pointer, dstStrides: gx.strides)
            return [gx]
        }
    }

    // MARK: Concatenate, stack, split

    /// Joins tensors along `axis`; all other extents must agree (like `torch.cat`).
    public static func concatenate(_ tensors: [Tensor], axis: Int = 0) -> Tensor {
        precondition(!tensors.isEmpty, "concatenate: no tensors")
        let first = tensors[0]
        let a = normalizeAxis(axis, rank: first.rank, op: "concatenate")
        var outShape = first.shape
        outShape[a] = 0
        for t in tensors {
            var s = t.shape
            precondition(t.rank == first.rank, "concatenate: shapes \(first.shape) and \(t.shape) differ in rank")
            s[a] = 0
            var expected = first.shape
            expected[a] = 0
            precondition(s == expected, "concatenate: shapes \(first.shape) and \(t.shape) differ outside axis \(axis)")
            outShape[a] += t.shape[a]
        }
        let out = Tensor(uninitializedShape: outShape)
        let outStrides = out.strides
        var offsets: [Int] = []
        var position = 0
        for t in tensors {
            offsets.append(position * outStrides[a])
            stridedCopy(shape: t.shape, src: t.storage.pointer, srcStrides: t.strides,
                        dst: out.storage.pointer + position * outStrides[a], dstStrides: outStrides)
            position += t.shape[a]
        }
        // Only the shapes are kept, not the parts' elements.
        let parts = tensors.map { ($0.shape, $0.requiresGrad) }
        return recordOperation("concatenate", result: out, inputs: tensors) { g in
            zip(parts, offsets).map { part, offset in
                let (shape, needed) = part
                guard needed else { return nil }
                let gt = Tensor(uninitializedShape: shape)
                stridedCopy(shape: shape, src: g.storage.pointer + offset, srcStrides: outStrides,
                            dst: gt.storage.pointer, dstStrides: gt.strides)
                return gt
            }
        }
    }

    /// Stacks tensors of equal shape along a new axis `axis` (in `-(rank+1)...rank`), like `torch.stack`.
    public static func stack(_ tensors: [Tensor], axis: Int = 0) -> Tensor {
        precondition(!tensors.isEmpty, "stack: no tensors")
        let shape = tensors[0].shape
        for t in tensors {
            precondition(t.shape == shape, "stack: shapes \(shape) and \(t.shape) differ")
        }
        return concatenate(tensors.map { $0.unsqueezed(axis: axis) }, axis: axis)
    }

    /// Splits into consecutive pieces of `sizes` along `axis`; the sizes must add up to the extent
    /// of that axis (like `torch.split` with a list of sizes). Each piece is a copy.
    public func split(sizes: [Int], axis: Int = 0) -> [Tensor] {
        let a = Tensor.normalizeAxis(axis, rank: rank, op: "split")
        precondition(sizes.allSatisfy { $0 >= 0 } && sizes.reduce(0, +) == shape[a],
                     "split: sizes \(sizes) do not add up to extent \(shape[a]) of axis \(axis) in shape \(shape)")
        var start = 0
        return sizes.map { size in
            defer { start += size }
            return sliced(axis: a, range: start..<(start + size))
        }
    }
}
