// Reductions over any set of axes.

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

    /// Sum over `axes` (all when nil).
    public func sum(axes: [Int]? = nil, keepDims: Bool = false) -> Tensor {
        let ax = Tensor.reductionAxes(axes, rank: rank, op: "sum")
        let kept = Tensor.keptShape(shape, axes: ax)
        let reduced = sumToShape(kept)
        let result = reduced === self ? copy() : reduced
        let out = keepDims ? result : Tensor(storage: result.storage, shape: Tensor.droppedShape(shape, axes: ax))
        return Tensor.recordOperation("sum", result: out, inputs: [self]) { [shape] g in
            [g.reshaped(kept).expanded(to: shape)]
        }
    }

    /// Sum over one axis.
    public func sum(axis: Int, keepDims: Bool = false) -> Tensor { sum(axes: [axis], keepDims: keepDims) }

    /// Mean over `axes` (all when nil).
    public func mean(axes: [Int]? = nil, keepDims: Bool = false) -> Tensor {
        let ax = Tensor.reductionAxes(axes, rank: rank, op: "mean")
        let n = ax.reduce(1) { $0 * shape[$1] }
        return sum(axes: ax, keepDims: keepDims) * (1 / Float(max(n, 1)))
    }

    /// Mean over one axis.
    public func mean(axis: Int, keepDims: Bool = false) -> Tensor { mean(axes: [axis], keepDims: keepDims) }
}
