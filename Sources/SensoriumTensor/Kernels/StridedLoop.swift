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
        let rank = max(a.count, b.count)
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
