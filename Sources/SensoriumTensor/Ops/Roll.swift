// Cyclic shift along axes (torch.roll).

extension Tensor {
    /// The elements shifted cyclically by `shifts[i]` positions along `axes[i]`, like
    /// `torch.roll(x, shifts, dims)`: `out[…, (j + s) mod n, …] = x[…, j, …]`. Shifts may be negative
    /// or larger than the axis; axes must be distinct (negative axes count from the end).
    /// Same shape as `self`; differentiable (the gradient is rolled back).
    public func rolled(shifts: [Int], axes: [Int]) -> Tensor {
        precondition(shifts.count == axes.count,
                     "roll: \(shifts.count) shifts for \(axes.count) axes (shape \(shape))")
        let resolved = axes.map { Tensor.normalizeAxis($0, rank: rank, op: "roll") }
        precondition(Set(resolved).count == resolved.count, "roll: repeated axis in \(axes) (shape \(shape))")
        var perAxis = [Int](repeating: 0, count: rank)
        for (axis, s) in zip(resolved, shifts) where shape[axis] > 0 {
            perAxis[axis] = ((s % shape[axis]) + shape[axis]) % shape[axis]
        }
        if perAxis.allSatisfy({ $0 == 0 }) { return self }
        let out = Tensor.rollKernel(self, perAxis)
        let inverse = zip(perAxis, shape).map { s, n in s == 0 ? 0 : n - s }
        return Tensor.recordOperation("roll", result: out, inputs: [self]) { g in [Tensor.rollKernel(g, inverse)] }
    }

    /// `x` rolled by `shifts` (one per axis, each in `0..<extent`): at most 2^(rolled axes) block copies.
    static func rollKernel(_ x: Tensor, _ shifts: [Int]) -> Tensor {
        let out = Tensor(uninitializedShape: x.shape)
        if x.count == 0 { return out }
        let strides = x.strides
        let rolledAxes = (0..<x.rank).filter { shifts[$0] != 0 }
        for combination in 0..<(1 << rolledAxes.count) {
            var blockShape = x.shape
            var srcOffset = 0, dstOffset = 0
            for (bit, axis) in rolledAxes.enumerated() {
                let n = x.shape[axis], s = shifts[axis]
                if combination & (1 << bit) == 0 {
                    // x[0 ..< n − s] goes to out[s ..< n].
                    blockShape[axis] = n - s
                    dstOffset += s * strides[axis]
                } else {
                    // x[n − s ..< n] goes to out[0 ..< s].
                    blockShape[axis] = s
                    srcOffset += (n - s) * strides[axis]
                }
            }
            stridedCopy(shape: blockShape, src: x.storage.pointer + srcOffset, srcStrides: strides,
                        dst: out.storage.pointer + dstOffset, dstStrides: strides)
        }
        return out
    }
}
