// Reductions over any set of axes, softmax and log-softmax.
//
// Every reduction is planned on `ReductionSegments`: size-1 axes are dropped and neighbouring
// axes of the same kind merged, so reducing a contiguous block of axes is one (outer, reduce, inner)
// loop, split across cores over the outer × inner outputs (or over the reduced row itself when there
// are too few outputs).

extension Tensor {
    /// Normalised, sorted, de-duplicated axes; all axes when `axes` is nil.
    static func reductionAxes(_ axes: [Int]?, rank: Int, op: String) -> [Int] {
        guard let axes else { return Array(0..<rank) }
        return Array(Set(axes.map { normalizeAxis($0, rank: rank, op: op) })).sorted()
    }

    /// Shape with the reduced axes kept as 1.
    static func keptShape(_ shape: [Int], axes: [Int]) -> [Int] {
        var s = shape
        for a in axes { s[a] = 1 }
        return s
    }

    /// Shape with the reduced axes removed.
    static func droppedShape(_ shape: [Int], axes: [Int]) -> [Int] {
        shape.enumerated().filter { !axes.contains($0.offset) }.map(\.element)
    }

    /// Number of elements reduced over `axes`.
    static func reducedCount(_ shape: [Int], axes: [Int]) -> Int {
        axes.reduce(1) { $0 * shape[$1] }
    }

    // MARK: Kernels

    /// Sum of `n` contiguous elements: 8 SIMD lanes in Float within blocks of 128, blocks added in
    /// Double, so long rows keep their precision.
    @inline(__always) @usableFromInline
    static func rowSum(_ p: UnsafePointer<Float>, _ n: Int) -> Double {
        var total: Double = 0
        let raw = UnsafeRawPointer(p)
        var i = 0
        while i < n {
            let end = Swift.min(n, i + 128)
            var lanes = SIMD8<Float>()
            while i + 8 <= end {
                lanes += raw.loadUnaligned(fromByteOffset: i * MemoryLayout<Float>.stride, as: SIMD8<Float>.self)
                i += 8
            }
            var s = lanes.sum()
            while i < end { s += p[i]; i += 1 }
            total += Double(s)
        }
        return total
    }

    /// Largest (`takeMax`) or smallest of `n` > 0 contiguous elements, 8 lanes at a time; NaN when
    /// any element is NaN.
    @inline(__always) @usableFromInline
    static func rowExtremum(_ p: UnsafePointer<Float>, _ n: Int, takeMax: Bool) -> Float {
        let raw = UnsafeRawPointer(p)
        var i = 0
        var best = p[0]
        if n >= 8 {
            var acc = SIMD8<Float>(repeating: p[0])
            var nan = SIMD8<Float>()
            while i + 8 <= n {
                let v = raw.loadUnaligned(fromByteOffset: i * MemoryLayout<Float>.stride, as: SIMD8<Float>.self)
                acc = acc.replacing(with: v, where: takeMax ? v .> acc : v .< acc)
                nan = nan.replacing(with: 1, where: v .!= v)
                i += 8
            }
            for k in 0..<8 {
                if nan[k] != 0 { return .nan }
                if takeMax ? acc[k] > best : acc[k] < best { best = acc[k] }
            }
        }
        while i < n {
            let v = p[i]
            if v.isNaN { return .nan }
            if takeMax ? v > best : v < best { best = v }
            i += 1
        }
        return best
    }

    /// Sums the middle extent of a contiguous (outer, reduce, inner) block into (outer, inner).
    @usableFromInline
    static func sumBlock(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>,
                         outer: Int, reduce: Int, inner: Int) {
        if reduce == 0 {
            dst.update(repeating: 0, count: outer * inner)
            return
        }
        if inner == 1 {
            let threads = Parallel.threadCount
            if outer < threads && reduce >= 65_536 {
                // Few long rows: split each row across cores.
                for o in 0..<outer {
                    let row = src + o * reduce
                    var partial = [Double](repeating: 0, count: threads)
                    partial.withUnsafeMutableBufferPointer { parts in
                        let base = parts.baseAddress!
                        Parallel.forRanges(threads, minimumPerThread: 1) { range in
                            for c in range {
                                let start = reduce * c / threads, end = reduce * (c + 1) / threads
                                base[c] = rowSum(row + start, end - start)
                            }
                        }
                    }
                    dst[o] = Float(partial.reduce(0, +))
                }
            } else {
                Parallel.forRanges(outer, minimumPerThread: Swift.max(1, 32_768 / reduce)) { range in
                    for o in range { dst[o] = Float(rowSum(src + o * reduce, reduce)) }
                }
            }
            return
        }
        forEachColumnTile(outer: outer, inner: inner, workPerColumn: reduce) { o, i0, i1 in
            let width = i1 - i0
            withUnsafeTemporaryAllocation(of: Float.self, capacity: width) { accF in
                withUnsafeTemporaryAllocation(of: Double.self, capacity: width) { accD in
                    let f = accF.baseAddress!, d = accD.baseAddress!
                    d.initialize(repeating: 0, count: width)
                    var r = 0
                    while r < reduce {
                        let blockEnd = Swift.min(reduce, r + 64)
                        f.initialize(repeating: 0, count: width)
                        while r < blockEnd {
                            let row = src + (o * reduce + r) * inner + i0
                            for j in 0..<width { f[j] += row[j] }
                            r += 1
                        }
                        for j in 0..<width { d[j] += Double(f[j]) }
                    }
                    let out = dst + o * inner + i0
                    for j in 0..<width { out[j] = Float(d[j]) }
                }
            }
        }
    }

    /// Sum of `x` over `axes` (normalised, sorted), as a new contiguous tensor of the kept shape.
    /// Non-adjacent reduced blocks are reduced one after another, innermost first.
    static func sumKernel(_ x: Tensor, axes: [Int]) -> Tensor {
        let outShape = keptShape(x.shape, axes: axes)
        var segments = ReductionSegments(shape: x.shape, axes: axes)
        var current = x
        while let segment = segments.reduced.lastIndex(of: true) {
            let (outer, reduce, inner) = segments.block(segment)
            let next = Tensor(uninitializedShape: [outer * inner])
            sumBlock(current.storage.pointer, next.storage.pointer, outer: outer, reduce: reduce, inner: inner)
            current = next
            segments.collapse(segment)
        }
        if current === x { return x.copy().reshaped(outShape) }
        return Tensor(storage: current.storage, shape: outShape)
    }

    /// Largest (`takeMax`) or smallest element of the middle extent of a contiguous (outer, reduce,
    /// inner) block, with its position along that extent (first occurrence; NaN wins).
    @usableFromInline
    static func extremumBlock(_ src: UnsafePointer<Float>, values: UnsafeMutablePointer<Float>,
                              indices: UnsafeMutablePointer<Int>?, outer: Int, reduce: Int, inner: Int,
                              takeMax: Bool) {
        @inline(__always) func better(_ v: Float, _ best: Float) -> Bool {
            if v.isNaN { return !best.isNaN }
            return takeMax ? v > best : v < best
        }
        if inner == 1 {
            Parallel.forRanges(outer, minimumPerThread: Swift.max(1, 32_768 / reduce)) { range in
                for o in range {
                    // Vectorised extreme, then the first position holding it.
                    let row = src + o * reduce
                    let best = rowExtremum(row, reduce, takeMax: takeMax)
                    values[o] = best
                    guard let indices else { continue }
                    var index = 0
                    if best.isNaN {
                        while !row[index].isNaN { index += 1 }
                    } else {
                        while row[index] != best { index += 1 }
                    }
                    indices[o] = index
                }
            }
            return
        }
        forEachColumnTile(outer: outer, inner: inner, workPerColumn: reduce) { o, i0, i1 in
            let width = i1 - i0
            let v = values + o * inner + i0
            let first = src + o * reduce * inner + i0
            for j in 0..<width { v[j] = first[j] }
            if let indices {
                let idx = indices + o * inner + i0
                for j in 0..<width { idx[j] = 0 }
                for r in 1..<Swift.max(reduce, 1) {
                    let row = src + (o * reduce + r) * inner + i0
                    for j in 0..<width where better(row[j], v[j]) {
                        v[j] = row[j]
                        idx[j] = r
                    }
                }
            } else {
                for r in 1..<Swift.max(reduce, 1) {
                    let row = src + (o * reduce + r) * inner + i0
                    for j in 0..<width where better(row[j], v[j]) { v[j] = row[j] }
                }
            }
        }
    }

    /// Max or min of `x` over `axes`: values in the kept shape, and for each the flat index into
    /// `x` of the element it came from.
    static func extremumKernel(_ x: Tensor, axes: [Int], takeMax: Bool, op: String,
                               wantSource: Bool = true) -> (values: Tensor, source: [Int]) {
        precondition(x.count > 0 && axes.allSatisfy { x.shape[$0] > 0 },
                     "\(op): cannot reduce an empty extent of shape \(x.shape) over axes \(axes)")
        let outShape = keptShape(x.shape, axes: axes)
        let values = Tensor(uninitializedShape: outShape)
        var source = [Int](repeating: 0, count: values.count)
        let segments = ReductionSegments(shape: x.shape, axes: axes)
        let blocks = segments.reducedBlockCount
        if blocks == 0 {
            values.storage.pointer.update(from: x.storage.pointer, count: x.count)
            for i in 0..<source.count { source[i] = i }
            return (values, source)
        }
        if blocks == 1 {
            let (outer, reduce, inner) = segments.block(segments.reduced.firstIndex(of: true)!)
            if !wantSource {
                extremumBlock(x.storage.pointer, values: values.storage.pointer, indices: nil,
                              outer: outer, reduce: reduce, inner: inner, takeMax: takeMax)
                return (values, [])
            }
            source.withUnsafeMutableBufferPointer { idx in
                extremumBlock(x.storage.pointer, values: values.storage.pointer, indices: idx.baseAddress!,
                              outer: outer, reduce: reduce, inner: inner, takeMax: takeMax)
            }
            for k in 0..<source.count {
                let o = k / inner, i = k % inner
                source[k] = (o * reduce + source[k]) * inner + i
            }
            return (values, source)
        }
        // Several separate blocks: move the reduced axes last, then reduce one block.
        let kept = (0..<x.rank).filter { !axes.contains($0) }
        let permutation = kept + axes
        let moved = permuteKernel(x, permutation)
        let reduce = reducedCount(x.shape, axes: axes)
        var along = [Int](repeating: 0, count: values.count)
        along.withUnsafeMutableBufferPointer { idx in
            extremumBlock(moved.storage.pointer, values: values.storage.pointer, indices: idx.baseAddress!,
                          outer: values.count, reduce: reduce, inner: 1, takeMax: takeMax)
        }
        // Map (kept position, position within the reduced axes) back to a flat index of `x`.
        let strides = x.strides
        for k in 0..<source.count {
            var flat = 0
            var o = k
            for axis in kept.reversed() {
                flat += (o % x.shape[axis]) * strides[axis]
                o /= x.shape[axis]
            }
            var r = along[k]
            for axis in axes.reversed() {
                flat += (r % x.shape[axis]) * strides[axis]
                r /= x.shape[axis]
            }
            source[k] = flat
        }
        return (values, source)
    }

    /// The result shape of a reduction, with or without the reduced axes.
    private func reductionResult(_ t: Tensor, axes: [Int], keepDims: Bool) -> Tensor {
        keepDims ? t : Tensor(storage: t.storage, shape: Tensor.droppedShape(shape, axes: axes))
    }

    // MARK: Sums and moments

    /// Sum over `axes` (all when nil); the reduced axes are dropped unless `keepDims`.
    public func sum(axes: [Int]? = nil, keepDims: Bool = false) -> Tensor {
        let ax = Tensor.reductionAxes(axes, rank: rank, op: "sum")
        let kept = Tensor.keptShape(shape, axes: ax)
        let out = reductionResult(Tensor.sumKernel(self, axes: ax), axes: ax, keepDims: keepDims)
        return Tensor.recordOperation("sum", result: out, inputs: [self]) { [shape] g in
            [g.reshaped(kept).expanded(to: shape)]
        }
    }

    /// Sum over one axis.
    public func sum(axis: Int, keepDims: Bool = false) -> Tensor { sum(axes: [axis], keepDims: keepDims) }

    /// Mean over `axes` (all when nil).
    public func mean(axes: [Int]? = nil, keepDims: Bool = false) -> Tensor {
        let ax = Tensor.reductionAxes(axes, rank: rank, op: "mean")
        let n = Tensor.reducedCount(shape, axes: ax)
        return sum(axes: ax, keepDims: keepDims) * (1 / Float(Swift.max(n, 1)))
    }

    /// Mean over one axis.
    public func mean(axis: Int, keepDims: Bool = false) -> Tensor { mean(axes: [axis], keepDims: keepDims) }

    /// Variance over `axes` (all when nil), computed in two passes (mean, then squared deviations).
    ///
    /// - Parameter unbiased: divide by n − 1 (Bessel's correction, the `torch.var` default) rather
    ///   than n. With a single element the unbiased variance is NaN, as in PyTorch.
    public func variance(axes: [Int]? = nil, keepDims: Bool = false, unbiased: Bool = true) -> Tensor {
        let ax = Tensor.reductionAxes(axes, rank: rank, op: "variance")
        let n = Tensor.reducedCount(shape, axes: ax)
        let divisor = Float(n - (unbiased ? 1 : 0))
        let mean = Tensor.sumKernel(self, axes: ax)
        let scale = 1 / Float(Swift.max(n, 1))
        mean.withUnsafeMutableBufferPointer { m in for i in 0..<m.count { m[i] *= scale } }
        let deviation = Tensor.binaryKernel(self, mean, op: "variance", SubtractFunction())
        let squares = Tensor.mapFunction(deviation, SquareFunction())
        let total = Tensor.sumKernel(squares, axes: ax)
        total.withUnsafeMutableBufferPointer { v in for i in 0..<v.count { v[i] /= divisor } }
        let out = reductionResult(total, axes: ax, keepDims: keepDims)
        let kept = Tensor.keptShape(shape, axes: ax)
        return Tensor.recordOperation("variance", result: out, inputs: [self]) { g in
            let factor = 2 / divisor
            return [Tensor.binaryKernel(deviation, g.reshaped(kept) * factor, op: "variance", MultiplyFunction())]
        }
    }

    /// Variance over one axis.
    public func variance(axis: Int, keepDims: Bool = false, unbiased: Bool = true) -> Tensor {
        variance(axes: [axis], keepDims: keepDims, unbiased: unbiased)
    }

    /// Standard deviation over `axes` (all when nil): the square root of `variance`.
    public func std(axes: [Int]? = nil, keepDims: Bool = false, unbiased: Bool = true) -> Tensor {
        variance(axes: axes, keepDims: keepDims, unbiased: unbiased).sqrt()
    }

    /// Standard deviation over one axis.
    public func std(axis: Int, keepDims: Bool = false, unbiased: Bool = true) -> Tensor {
        std(axes: [axis], keepDims: keepDims, unbiased: unbiased)
    }

    // MARK: Extremes

    private func extremum(axes: [Int]?, keepDims: Bool, takeMax: Bool) -> Tensor {
        let op = takeMax ? "max" : "min"
        let ax = Tensor.reductionAxes(axes, rank: rank, op: op)
        let (values, source) = Tensor.extremumKernel(self, axes: ax, takeMax: takeMax, op: op)
        let out = reductionResult(values, axes: ax, keepDims: keepDims)
        return Tensor.recordOperation(op, result: out, inputs: [self]) { [shape] g in
            let gx = Tensor.zeros(shape)
            let d = gx.storage.pointer, gs = g.storage.pointer
            for k in 0..<source.count { d[source[k]] += gs[k] }
            return [gx]
        }
    }

    /// Largest element over `axes` (all when nil). NaN propagates. The gradient goes to the first
    /// maximal element of each reduced group (like `torch.max(x, dim)`), not split between ties.
    public func max(axes: [Int]? = nil, keepDims: Bool = false) -> Tensor {
        extremum(axes: axes, keepDims: keepDims, takeMax: true)
    }

    /// Largest element over one axis.
    public func max(axis: Int, keepDims: Bool = false) -> Tensor { max(axes: [axis], keepDims: keepDims) }

    /// Smallest element over `axes` (all when nil). NaN propagates. The gradient goes to the first
    /// minimal element of each reduced group.
    public func min(axes: [Int]? = nil, keepDims: Bool = false) -> Tensor {
        extremum(axes: axes, keepDims: keepDims, takeMax: false)
    }

    /// Smallest element over one axis.
    public func min(axis: Int, keepDims: Bool = false) -> Tensor { min(axes: [axis], keepDims: keepDims) }

    private func argExtremum(axis: Int?, keepDims: Bool, takeMax: Bool) -> Tensor {
        let op = takeMax ? "argmax" : "argmin"
        precondition(count > 0, "\(op): empty tensor of shape \(shape)")
        let outer: Int, reduce: Int, inner: Int
        let outShape: [Int]
        if let axis {
            let a = Tensor.normalizeAxis(axis, rank: rank, op: op)
            (outer, reduce, inner) = Tensor.axisLayout(shape, axis: a)
            precondition(reduce > 0, "\(op): axis \(axis) of shape \(shape) is empty")
            outShape = keepDims ? Tensor.keptShape(shape, axes: [a]) : Tensor.droppedShape(shape, axes: [a])
        } else {
            (outer, reduce, inner) = (1, count, 1)
            outShape = keepDims ? [Int](repeating: 1, count: rank) : []
        }
        let values = Tensor(uninitializedShape: [outer * inner])
        var indices = [Int](repeating: 0, count: outer * inner)
        indices.withUnsafeMutableBufferPointer { idx in
            Tensor.extremumBlock(storage.pointer, values: values.storage.pointer, indices: idx.baseAddress!,
                                 outer: outer, reduce: reduce, inner: inner, takeMax: takeMax)
        }
        return Tensor(indices.map { Float($0) }, shape: outShape)
    }

    /// Index of the largest element along `axis` (over the flattened tensor when nil), as a Float
    /// tensor; first occurrence wins ties, NaN counts as largest. Not differentiable.
    public func argmax(axis: Int? = nil, keepDims: Bool = false) -> Tensor {
        argExtremum(axis: axis, keepDims: keepDims, takeMax: true)
    }

    /// Index of the smallest element along `axis` (over the flattened tensor when nil), as a Float
    /// tensor; first occurrence wins ties, NaN counts as smallest. Not differentiable.
    public func argmin(axis: Int? = nil, keepDims: Bool = false) -> Tensor {
        argExtremum(axis: axis, keepDims: keepDims, takeMax: false)
    }

    // MARK: Log-sum-exp and softmax

    /// log(Σ exp(x)) over `axes` (all when nil), computed as m + log(Σ exp(x − m)) with m the
    /// maximum, so it neither overflows nor underflows. All −inf gives −inf.
    public func logSumExp(axes: [Int]? = nil, keepDims: Bool = false) -> Tensor {
        let ax = Tensor.reductionAxes(axes, rank: rank, op: "logSumExp")
        let kept = Tensor.keptShape(shape, axes: ax)
        let peak: Tensor
        if Tensor.reducedCount(shape, axes: ax) == 0 {
            peak = Tensor.zeros(kept)
        } else {
            peak = Tensor.extremumKernel(self, axes: ax, takeMax: true, op: "logSumExp", wantSource: false).values
            peak.withUnsafeMutableBufferPointer { m in for i in 0..<m.count where !m[i].isFinite { m[i] = 0 } }
        }
        let shifted = Tensor.binaryKernel(self, peak, op: "logSumExp", SubtractFunction())
        Tensor.expInPlace(shifted)
        let total = Tensor.sumKernel(shifted, axes: ax)
        let result = Tensor.binaryKernel(total, peak, op: "logSumExp", LogPlusFunction())
        let out = reductionResult(result, axes: ax, keepDims: keepDims)
        return Tensor.recordOperation("logSumExp", result: out, inputs: [self]) { [self] g in
            // d/dx = exp(x - result), 0 where the result is -inf (all inputs -inf).
            let finite = Tensor.mapFunction(result, NegativeInfinityToInfinityFunction())
            let weights = Tensor.binaryKernel(self, finite, op: "logSumExp", SubtractFunction())
            Tensor.expInPlace(weights)
            return [Tensor.binaryKernel(weights, g.reshaped(kept), op: "logSumExp", MultiplyFunction())]
        }
    }

    /// Replaces every element of `t` with its exponential (vectorised, parallel).
    static func expInPlace(_ t: Tensor) {
        let p = t.storage.pointer
        Parallel.forRanges(t.count, minimumPerThread: 16_384) { range in
            SensoriumTensor.expInPlace(p + range.lowerBound, range.count)
        }
    }

    /// Softmax along `axis` (max-subtracted, so it never overflows), like `torch.softmax(x, dim)`.
    public func softmax(axis: Int = -1) -> Tensor {
        let a = Tensor.normalizeAxis(axis, rank: rank, op: "softmax")
        let out = Tensor.softmaxKernel(self, axis: a, log: false)
        return Tensor.recordOperation("softmax", result: out, inputs: [self]) { g in
            // dx = y * (g - Σ g·y)
            let dot = Tensor.sumKernel(Tensor.binaryKernel(g, out, op: "softmax", MultiplyFunction()), axes: [a])
            let centred = Tensor.binaryKernel(g, dot, op: "softmax", SubtractFunction())
            return [Tensor.binaryKernel(out, centred, op: "softmax", MultiplyFunction())]
        }
    }

    /// Log-softmax along `axis`, computed as x − m − log Σ exp(x − m) (stable for any input).
    public func logSoftmax(axis: Int = -1) -> Tensor {
        let a = Tensor.normalizeAxis(axis, rank: rank, op: "logSoftmax")
        let out = Tensor.softmaxKernel(self, axis: a, log: true)
        return Tensor.recordOperation("logSoftmax", result: out, inputs: [self]) { g in
            // dx = g - exp(y) * Σ g
            let total = Tensor.sumKernel(g, axes: [a])
            let probabilities = out.copy()
            Tensor.expInPlace(probabilities)
            let scaled = Tensor.binaryKernel(probabilities, total, op: "logSoftmax", MultiplyFunction())
            return [Tensor.binaryKernel(g, scaled, op: "logSoftmax", SubtractFunction())]
        }
    }

    /// Softmax or log-softmax along `axis` as an (outer, n, inner) loop.
    static func softmaxKernel(_ x: Tensor, axis: Int, log: Bool) -> Tensor {
        let out = Tensor(uninitializedShape: x.shape)
        let (outer, n, inner) = axisLayout(x.shape, axis: axis)
        if x.count == 0 { return out }
        let src = x.storage.pointer, dst = out.storage.pointer
        if inner == 1 {
            Parallel.forRanges(outer, minimumPerThread: Swift.max(1, 8_192 / Swift.max(n, 1))) { range in
                for o in range {
                    let row = src + o * n, y = dst + o * n
                    var peak = n > 0 ? rowExtremum(row, n, takeMax: true) : 0
                    if peak.isInfinite { peak = 0 }
                    for r in 0..<n { y[r] = row[r] - peak }
                    SensoriumTensor.expInPlace(y, n)
                    let total = Float(rowSum(y, n))
                    if log {
                        let shift = peak + logf(total)
                        for r in 0..<n { y[r] = row[r] - shift }
                    } else {
                        let scale = 1 / total
                        for r in 0..<n { y[r] *= scale }
                    }
                }
            }
            return out
        }
        forEachColumnTile(outer: outer, inner: inner, workPerColumn: 8 * n) { o, i0, i1 in
            let width = i1 - i0
            let base = o * n * inner + i0
            withUnsafeTemporaryAllocation(of: Float.self, capacity: 2 * width) { scratch in
                let peak = scratch.baseAddress!, total = peak + width
                for j in 0..<width { peak[j] = -.infinity; total[j] = 0 }
                for r in 0..<n {
                    let row = src + base + r * inner
                    for j in 0..<width where row[j] > peak[j] || row[j].isNaN { peak[j] = row[j] }
                }
                for j in 0..<width where peak[j].isInfinite { peak[j] = 0 }
                for r in 0..<n {
                    let row = src + base + r * inner, y = dst + base + r * inner
                    for j in 0..<width { y[j] = row[j] - peak[j] }
                    SensoriumTensor.expInPlace(y, width)
                    for j in 0..<width { total[j] += y[j] }
                }
                if log {
                    for j in 0..<width { total[j] = peak[j] + logf(total[j]) }
                    for r in 0..<n {
                        let row = src + base + r * inner, y = dst + base + r * inner
                        for j in 0..<width { y[j] = row[j] - total[j] }
                    }
                } else {
                    for j in 0..<width { total[j] = 1 / total[j] }
                    for r in 0..<n {
                        let y = dst + base + r * inner
                        for j in 0..<width { y[j] *= total[j] }
                    }
                }
            }
        }
        return out
    }
}

#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// log(a) + b.
@usableFromInline struct LogPlusFunction: BinaryFunction {
    @usableFromInline init() {}
    @inlinable func value(_ a: Float, _ b: Float) -> Float { logf(a) + b }
}

/// +inf where x is −inf, else x (not differentiable).
@usableFromInline struct NegativeInfinityToInfinityFunction: PointwiseFunction {
    @usableFromInline init() {}
    @inlinable func value(_ x: Float) -> Float { x == -.infinity ? .infinity : x }
    @inlinable func derivative(_ x: Float, _ y: Float) -> Float { 0 }
    @inlinable func value(_ x: SIMD8<Float>) -> SIMD8<Float> { x.replacing(with: .infinity, where: x .== -.infinity) }
}
