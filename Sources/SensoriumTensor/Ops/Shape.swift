// Shape operations.

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
}
