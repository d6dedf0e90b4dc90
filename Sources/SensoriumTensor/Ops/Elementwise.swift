// Elementwise arithmetic with NumPy broadcasting, and the kernels other elementwise ops build on.

extension Tensor {
    /// Applies `f` to every element; parallel over both cores for large tensors.
    @inline(__always) @usableFromInline
    static func mapKernel(_ x: Tensor, _ f: (Float) -> Float) -> Tensor {
        let out = Tensor(uninitializedShape: x.shape)
        let src = x.storage.pointer, dst = out.storage.pointer
        Parallel.forRanges(x.count) { range in
            for i in range { dst[i] = f(src[i]) }
        }
        return out
    }

    /// Combines two tensors of equal shape element by element.
    @inline(__always) @usableFromInline
    static func zipKernel(_ a: Tensor, _ b: Tensor, op: String, _ f: (Float, Float) -> Float) -> Tensor {
        precondition(a.count == b.count, "\(op): shapes \(a.shape) and \(b.shape) differ")
        let out = Tensor(uninitializedShape: a.shape)
        let pa = a.storage.pointer, pb = b.storage.pointer, dst = out.storage.pointer
        Parallel.forRanges(a.count) { range in
            for i in range { dst[i] = f(pa[i], pb[i]) }
        }
        return out
    }

    /// Combines two tensors with NumPy broadcasting.
    @inline(__always) @usableFromInline
    static func broadcastKernel(_ a: Tensor, _ b: Tensor, op: String, _ f: (Float, Float) -> Float) -> Tensor {
        if a.shape == b.shape { return zipKernel(a, b, op: op, f) }
        let outShape = broadcastShape(a.shape, b.shape, op: op)
        let out = Tensor(uninitializedShape: outShape)
        let loop = StridedLoop(shape: outShape, strides: [
            contiguousStrides(outShape), broadcastStrides(from: a.shape, to: outShape),
            broadcastStrides(from: b.shape, to: outShape),
        ])
        let sa = loop.innerStride(1), sb = loop.innerStride(2)
        let pa = a.storage.pointer, pb = b.storage.pointer, dst = out.storage.pointer
        loop.forEachRow { offsets, n in
            let o = dst + offsets[0], x = pa + offsets[1], y = pb + offsets[2]
            for i in 0..<n { o[i] = f(x[i * sa], y[i * sb]) }
        }
        return out
    }

    /// Sums a broadcast gradient back to `shape` (the inverse of broadcasting to `self.shape`).
    public func sumToShape(_ target: [Int]) -> Tensor {
        if target == shape { return self }
        precondition(Tensor.broadcastShape(target, shape, op: "sumToShape") == shape,
                     "sumToShape: shape \(shape) is not a broadcast of \(target)")
        let out = Tensor(storage: TensorStorage(count: Tensor.elementCount(target), repeating: 0), shape: target)
        let loop = StridedLoop(shape: shape, strides: [
            Tensor.contiguousStrides(shape), Tensor.broadcastStrides(from: target, to: shape),
        ])
        let so = loop.innerStride(1)
        let src = storage.pointer, dst = out.storage.pointer
        loop.forEachRow(parallel: false) { offsets, n in
            let x = src + offsets[0], o = dst + offsets[1]
            if so == 0 {
                var acc: Float = 0
                for i in 0..<n { acc += x[i] }
                o[0] += acc
            } else {
                for i in 0..<n { o[i * so] += x[i] }
            }
        }
        return out
    }

    /// An elementwise unary op: `forward` maps values, `derivative(x, y)` gives dy/dx from the input
    /// and the output.
    @inline(__always) @usableFromInline
    func unaryOp(_ name: String, _ forward: (Float) -> Float,
                 derivative: @escaping (Float, Float) -> Float) -> Tensor {
        let out = Tensor.mapKernel(self, forward)
        return Tensor.recordOperation(name, result: out, inputs: [self]) { [self] g in
            let local = Tensor.zipKernel(self, out, op: name, derivative)
            return [Tensor.zipKernel(g, local, op: name) { $0 * $1 }]
        }
    }

    public static func + (a: Tensor, b: Tensor) -> Tensor {
        let out = broadcastKernel(a, b, op: "add") { $0 + $1 }
        return recordOperation("add", result: out, inputs: [a, b]) { g in
            [a.requiresGrad ? g.sumToShape(a.shape) : nil, b.requiresGrad ? g.sumToShape(b.shape) : nil]
        }
    }

    public static func - (a: Tensor, b: Tensor) -> Tensor {
        let out = broadcastKernel(a, b, op: "sub") { $0 - $1 }
        return recordOperation("sub", result: out, inputs: [a, b]) { g in
            [a.requiresGrad ? g.sumToShape(a.shape) : nil, b.requiresGrad ? (-g).sumToShape(b.shape) : nil]
        }
    }

    public static func * (a: Tensor, b: Tensor) -> Tensor {
        let out = broadcastKernel(a, b, op: "mul") { $0 * $1 }
        return recordOperation("mul", result: out, inputs: [a, b]) { g in
            [a.requiresGrad ? (g * b).sumToShape(a.shape) : nil, b.requiresGrad ? (g * a).sumToShape(b.shape) : nil]
        }
    }

    public static func / (a: Tensor, b: Tensor) -> Tensor {
        let out = broadcastKernel(a, b, op: "div") { $0 / $1 }
        return recordOperation("div", result: out, inputs: [a, b]) { g in
            [a.requiresGrad ? (g / b).sumToShape(a.shape) : nil,
             b.requiresGrad ? (-(g * out) / b).sumToShape(b.shape) : nil]
        }
    }

    public static prefix func - (x: Tensor) -> Tensor {
        let out = mapKernel(x) { -$0 }
        return recordOperation("neg", result: out, inputs: [x]) { g in [-g] }
    }

    public static func + (a: Tensor, s: Float) -> Tensor {
        recordOperation("add_scalar", result: mapKernel(a) { $0 + s }, inputs: [a]) { g in [g] }
    }
    public static func + (s: Float, a: Tensor) -> Tensor { a + s }
    public static func - (a: Tensor, s: Float) -> Tensor { a + (-s) }
    public static func - (s: Float, a: Tensor) -> Tensor { (-a) + s }
    public static func * (a: Tensor, s: Float) -> Tensor {
        recordOperation("mul_scalar", result: mapKernel(a) { $0 * s }, inputs: [a]) { g in [g * s] }
    }
    public static func * (s: Float, a: Tensor) -> Tensor { a * s }
    public static func / (a: Tensor, s: Float) -> Tensor { a * (1 / s) }
    public static func / (s: Float, a: Tensor) -> Tensor {
        let out = mapKernel(a) { s / $0 }
        return recordOperation("rdiv_scalar", result: out, inputs: [a]) { g in [-(g * out) / a] }
    }
}
