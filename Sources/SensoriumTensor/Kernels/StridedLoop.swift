/// Iteration over an N-d index space where each operand has its own element strides (0 on a
/// broadcast axis). Adjacent axes that are contiguous for every operand are merged, and `body` is
/// called once per innermost row with the operands' starting offsets, so kernels run tight loops.
@usableFromInline
struct StridedLoop {
    @usableFromInline var shape: [Int]
    @usableFromInline var strides: [[Int]]

    /// - Parameters:
    ///   - shape: the index space.
    ///   - strides: per operand, one stride per axis of `shape`.
    @usableFromInline
    init(shape: [Int], strides: [[Int]]) {
        // Drop size-1 axes, then merge axes (i, i+1) where stride[i] == stride[i+1] * shape[i+1].
        var mergedShape: [Int] = []
        var mergedStrides = [[Int]](repeating: [], count: strides.count)
        for axis in 0..<shape.count where shape[axis] != 1 {
            if !mergedShape.isEmpty,
               (0..<strides.count).allSatisfy({ mergedStrides[$0].last! == strides[$0][axis] * shape[axis] }) {
                mergedShape[mergedShape.count - 1] *= shape[axis]
                for k in 0..<strides.count { mergedStrides[k][mergedStrides[k].count - 1] = strides[k][axis] }
            } else {
                mergedShape.append(shape[axis])
                for k in 0..<strides.count { mergedStrides[k].append(strides[k][axis]) }
            }
        }
        if mergedShape.isEmpty {
            mergedShape = [1]
            for k in 0..<strides.count { mergedStrides[k] = [0] }
        }
        self.shape = mergedShape
        self.strides = mergedStrides
    }

    /// Number of innermost rows.
    @usableFromInline var rowCount: Int { Tensor.elementCount(shape.dropLast()) }
    /// Length of each innermost row.
    @usableFromInline var rowLength: Int { shape.last! }
    /// Per-operand stride along the innermost row.
    @usableFromInline func innerStride(_ operand: Int) -> Int { strides[operand].last! }

    /// Offsets of each operand at the start of row `row`.
    @inlinable
    func rowOffsets(_ row: Int, into offsets: inout [Int]) {
        var r = row
        for k in 0..<offsets.count { offsets[k] = 0 }
        var axis = shape.count - 2
        while axis >= 0 {
            let i = r % shape[axis]
            r /= shape[axis]
            for k in 0..<offsets.count { offsets[k] += i * strides[k][axis] }
            axis -= 1
        }
    }

    /// Calls `body(rowOffsets, rowLength)` for every row; rows are split across cores when the
    /// total work is large. Rows must write disjoint memory.
    @inlinable
    func forEachRow(parallel: Bool = true, _ body: ([Int], Int) -> Void) {
        let rows = rowCount, length = rowLength
        let minimumRows = max(1, 32_768 / max(length, 1))
        let operandCount = strides.count
        Parallel.forRanges(rows, minimumPerThread: parallel ? minimumRows : Int.max) { range in
            var offsets = [Int](repeating: 0, count: operandCount)
            for row in range {
                rowOffsets(row, into: &offsets)
                body(offsets, length)
            }
        }
    }
}

extension Tensor {
    /// Strides that read a tensor of `shape` as if it had `target` shape (NumPy broadcasting:
    /// leading axes added, size-1 axes repeated with stride 0).
    static func broadcastStrides(from shape: [Int], to target: [Int]) -> [Int] {
        let own = contiguousStrides(shape)
        var result = [Int](repeating: 0, count: target.count)
        let offset = target.count - shape.count
        for axis in 0..<shape.count where shape[axis] != 1 {
            result[axis + offset] = own[axis]
        }
        return result
    }

    /// The NumPy broadcast of two shapes; a precondition names both when they are incompatible.
    public static func broadcastShape(_ a: [Int], _ b: [Int], op: String) -> [Int] {
        let rank = Swift.max(a.count, b.count)
        var out = [Int](repeating: 1, count: rank)
        for i in 0..<rank {
            let da = i < rank - a.count ? 1 : a[i - (rank - a.count)]
            let db = i < rank - b.count ? 1 : b[i - (rank - b.count)]
            precondition(da == db || da == 1 || db == 1,
                         "\(op): shapes \(a) and \(b) cannot be broadcast together")
            out[i] = da == 1 ? db : da
        }
        return out
    }
}

/// The layout of a reduction: the tensor's axes with size-1 axes dropped and neighbouring axes of
/// the same kind (kept or reduced) merged, so that a reduction over a contiguous block of axes is
/// one (outer, reduce, inner) loop.
@usableFromInline
struct ReductionSegments {
    /// Merged extents, outermost first.
    @usableFromInline var sizes: [Int]
    /// Whether each merged extent is reduced.
    @usableFromInline var reduced: [Bool]

    /// - Parameters:
    ///   - shape: the tensor's shape.
    ///   - axes: normalised axes being reduced.
    @usableFromInline
    init(shape: [Int], axes: [Int]) {
        sizes = []
        reduced = []
        for axis in 0..<shape.count where shape[axis] != 1 {
            let isReduced = axes.contains(axis)
            if let last = reduced.last, last == isReduced {
                sizes[sizes.count - 1] *= shape[axis]
            } else {
                sizes.append(shape[axis])
                reduced.append(isReduced)
            }
        }
    }

    /// Number of separate reduced blocks.
    @usableFromInline var reducedBlockCount: Int { reduced.filter { $0 }.count }

    /// The (outer, reduce, inner) extents of the reduced block at merged index `segment`.
    @usableFromInline
    func block(_ segment: Int) -> (outer: Int, reduce: Int, inner: Int) {
        var outer = 1, inner = 1
        for k in 0..<segment { outer *= sizes[k] }
        for k in (segment + 1)..<sizes.count { inner *= sizes[k] }
        return (outer, sizes[segment], inner)
    }

    /// Removes the reduced block at `segment` (now of extent 1) and merges the kept extents around it.
    @usableFromInline
    mutating func collapse(_ segment: Int) {
        sizes.remove(at: segment)
        reduced.remove(at: segment)
        if segment > 0, segment < sizes.count, !reduced[segment - 1], !reduced[segment] {
            sizes[segment - 1] *= sizes[segment]
            sizes.remove(at: segment)
            reduced.remove(at: segment)
        }
    }
}

extension Tensor {
    /// The (outer, size, inner) extents around one axis of `shape`.
    @usableFromInline
    static func axisLayout(_ shape: [Int], axis: Int) -> (outer: Int, size: Int, inner: Int) {
        var outer = 1, inner = 1
        for k in 0..<axis { outer *= shape[k] }
        for k in (axis + 1)..<shape.count { inner *= shape[k] }
        return (outer, shape[axis], inner)
    }

    /// Calls `body(o, i0, i1)` over column tiles `[i0, i1)` of every row `o` of an `outer` × `inner`
    /// grid of outputs, split across cores. `workPerColumn` is the cost of one output, used to decide
    /// whether parallelism is worth it; tiles never exceed `tile` columns.
    @inlinable
    static func forEachColumnTile(outer: Int, inner: Int, workPerColumn: Int, tile: Int = 256,
                                  _ body: (Int, Int, Int) -> Void) {
        let total = outer * inner
        Parallel.forRanges(total, minimumPerThread: Swift.max(1, 32_768 / Swift.max(workPerColumn, 1))) { range in
            var flat = range.lowerBound
            while flat < range.upperBound {
                let o = flat / inner, i0 = flat % inner
                let i1 = Swift.min(inner, i0 + tile, i0 + (range.upperBound - flat))
                body(o, i0, i1)
                flat += i1 - i0
            }
        }
    }
}
