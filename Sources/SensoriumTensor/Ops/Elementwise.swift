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

    /// Sums a broadcast gradient back to `target` (the inverse of broadcasting `target` to
    /// `self.shape`): leading axes are summed away and axes where `target` has extent 1 are summed
    /// with the extent kept. Returns `self` when the shapes already agree; never records a graph.
    public func sumToShape(_ target: [Int]) -> Tensor {
        if target == shape { return self }
        precondition(Tensor.broadcastShape(target, shape, op: "sumToShape") == shape,
                     "sumToShape: shape \(shape) is not a broadcast of \(target)")
        let lead = rank - target.count
        var axes = Array(0..<lead)
        for i in 0..<target.count where target[i] == 1 && shape[lead + i] != 1 { axes.append(lead + i) }
        let reduced = Tensor.sumKernel(self, axes: axes)
        return Tensor(storage: reduced.storage, shape: target)
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

// MARK: - Pointwise functions with derivatives

/// A scalar function applied element by element, with its derivative expressed through the input
/// `x` and the output `y`. Ops built on it are specialised per function, so the inner loops call
/// no closures.
@usableFromInline
protocol PointwiseFunction {
    /// y = f(x).
    func value(_ x: Float) -> Float
    /// dy/dx at `x`, where `y = value(x)`.
    func derivative(_ x: Float, _ y: Float) -> Float
}

extension Tensor {
    /// Applies `function` element by element and records its derivative for autodiff.
    @inlinable
    func pointwise<F: PointwiseFunction>(_ name: String, _ function: F) -> Tensor {
        let out = Tensor(uninitializedShape: shape)
        let src = storage.pointer, dst = out.storage.pointer
        Parallel.forRanges(count, minimumPerThread: 8_192) { range in
            for i in range { dst[i] = function.value(src[i]) }
        }
        return Tensor.recordOperation(name, result: out, inputs: [self]) { [self] g in
            let gx = Tensor(uninitializedShape: shape)
            let xs = storage.pointer, ys = out.storage.pointer, gs = g.storage.pointer, d = gx.storage.pointer
            Parallel.forRanges(count, minimumPerThread: 8_192) { range in
                for i in range { d[i] = gs[i] * function.derivative(xs[i], ys[i]) }
            }
            return [gx]
        }
    }

    /// Combines three tensors with NumPy broadcasting into a tensor of their common shape.
    @inline(__always) @usableFromInline
    static func ternaryKernel(_ a: Tensor, _ b: Tensor, _ c: Tensor, op: String,
                              _ f: (Float, Float, Float) -> Float) -> Tensor {
        let outShape = broadcastShape(broadcastShape(a.shape, b.shape, op: op), c.shape, op: op)
        let out = Tensor(uninitializedShape: outShape)
        let loop = StridedLoop(shape: outShape, strides: [
            contiguousStrides(outShape), broadcastStrides(from: a.shape, to: outShape),
            broadcastStrides(from: b.shape, to: outShape), broadcastStrides(from: c.shape, to: outShape),
        ])
        let sa = loop.innerStride(1), sb = loop.innerStride(2), sc = loop.innerStride(3)
        let pa = a.storage.pointer, pb = b.storage.pointer, pc = c.storage.pointer, dst = out.storage.pointer
        loop.forEachRow { offsets, n in
            let o = dst + offsets[0], x = pa + offsets[1], y = pb + offsets[2], z = pc + offsets[3]
            for i in 0..<n { o[i] = f(x[i * sa], y[i * sb], z[i * sc]) }
        }
        return out
    }
}

@usableFromInline struct ExpFunction: PointwiseFunction {
    @usableFromInline init() {}
    @inlinable func value(_ x: Float) -> Float { expf(x) }
    @inlinable func derivative(_ x: Float, _ y: Float) -> Float { y }
}

@usableFromInline struct LogFunction: PointwiseFunction {
    @usableFromInline init() {}
    @inlinable func value(_ x: Float) -> Float { logf(x) }
    @inlinable func derivative(_ x: Float, _ y: Float) -> Float { 1 / x }
}

@usableFromInline struct SqrtFunction: PointwiseFunction {
    @usableFromInline init() {}
    @inlinable func value(_ x: Float) -> Float { x.squareRoot() }
    @inlinable func derivative(_ x: Float, _ y: Float) -> Float { 0.5 / y }
}

@usableFromInline struct RsqrtFunction: PointwiseFunction {
    @usableFromInline init() {}
    @inlinable func value(_ x: Float) -> Float { 1 / x.squareRoot() }
    @inlinable func derivative(_ x: Float, _ y: Float) -> Float { -0.5 * y * y * y }
}

@usableFromInline struct SquareFunction: PointwiseFunction {
    @usableFromInline init() {}
    @inlinable func value(_ x: Float) -> Float { x * x }
    @inlinable func derivative(_ x: Float, _ y: Float) -> Float { 2 * x }
}

@usableFromInline struct AbsFunction: PointwiseFunction {
    @usableFromInline init() {}
    @inlinable func value(_ x: Float) -> Float { Swift.abs(x) }
    @inlinable func derivative(_ x: Float, _ y: Float) -> Float { x > 0 ? 1 : (x < 0 ? -1 : 0) }
}

@usableFromInline struct PowFunction: PointwiseFunction {
    @usableFromInline let exponent: Float
    @usableFromInline init(exponent: Float) { self.exponent = exponent }
    @inlinable func value(_ x: Float) -> Float {
        exponent == 2 ? x * x : (exponent == 1 ? x : powf(x, exponent))
    }
    @inlinable func derivative(_ x: Float, _ y: Float) -> Float {
        if exponent == 0 { return 0 }
        if exponent == 2 { return 2 * x }
        if exponent == 1 { return 1 }
        return exponent * powf(x, exponent - 1)
    }
}

@usableFromInline struct ClampFunction: PointwiseFunction {
    @usableFromInline let low: Float
    @usableFromInline let high: Float
    @usableFromInline init(low: Float, high: Float) { self.low = low; self.high = high }
    @inlinable func value(_ x: Float) -> Float {
        if x.isNaN { return x }
        return x < low ? low : (x > high ? high : x)
    }
    @inlinable func derivative(_ x: Float, _ y: Float) -> Float { x >= low && x <= high ? 1 : 0 }
}

extension Tensor {
    /// Negation, `-self`.
    public func neg() -> Tensor { -self }
    /// e^x element by element.
    public func exp() -> Tensor { pointwise("exp", ExpFunction()) }
    /// Natural logarithm element by element (-inf at 0, NaN below).
    public func log() -> Tensor { pointwise("log", LogFunction()) }
    /// Square root element by element.
    public func sqrt() -> Tensor { pointwise("sqrt", SqrtFunction()) }
    /// 1 / sqrt(x) element by element.
    public func rsqrt() -> Tensor { pointwise("rsqrt", RsqrtFunction()) }
    /// x² element by element.
    public func square() -> Tensor { pointwise("square", SquareFunction()) }
    /// |x| element by element; the gradient at 0 is 0 (like PyTorch).
    public func abs() -> Tensor { pointwise("abs", AbsFunction()) }

    /// x^exponent element by element (NaN for a negative base and a non-integer exponent).
    public func pow(_ exponent: Float) -> Tensor { pointwise("pow", PowFunction(exponent: exponent)) }

    /// Limits every element to `[min, max]`; either bound may be omitted. The gradient passes where
    /// `min <= x <= max` (bounds inclusive, like `torch.clamp`); NaN stays NaN.
    public func clamped(min low: Float? = nil, max high: Float? = nil) -> Tensor {
        precondition(low == nil || high == nil || low! <= high!,
                     "clamped: min \(low!) is greater than max \(high!)")
        return pointwise("clamp", ClampFunction(low: low ?? -.infinity, high: high ?? .infinity))
    }

    // MARK: Comparisons (no gradient)

    /// 1 where `self > other` (broadcasting), else 0. Not differentiable.
    public func gt(_ other: Tensor) -> Tensor { Tensor.broadcastKernel(self, other, op: "gt") { $0 > $1 ? 1 : 0 } }
    /// 1 where `self < other` (broadcasting), else 0. Not differentiable.
    public func lt(_ other: Tensor) -> Tensor { Tensor.broadcastKernel(self, other, op: "lt") { $0 < $1 ? 1 : 0 } }
    /// 1 where `self >= other` (broadcasting), else 0. Not differentiable.
    public func ge(_ other: Tensor) -> Tensor { Tensor.broadcastKernel(self, other, op: "ge") { $0 >= $1 ? 1 : 0 } }
    /// 1 where `self <= other` (broadcasting), else 0. Not differentiable.
    public func le(_ other: Tensor) -> Tensor { Tensor.broadcastKernel(self, other, op: "le") { $0 <= $1 ? 1 : 0 } }
    /// 1 where `self == other` (broadcasting), else 0. Not differentiable.
    public func eq(_ other: Tensor) -> Tensor { Tensor.broadcastKernel(self, other, op: "eq") { $0 == $1 ? 1 : 0 } }
    /// 1 where `self > value`, else 0. Not differentiable.
    public func gt(_ value: Float) -> Tensor { Tensor.mapKernel(self) { $0 > value ? 1 : 0 } }
    /// 1 where `self < value`, else 0. Not differentiable.
    public func lt(_ value: Float) -> Tensor { Tensor.mapKernel(self) { $0 < value ? 1 : 0 } }
    /// 1 where `self >= value`, else 0. Not differentiable.
    public func ge(_ value: Float) -> Tensor { Tensor.mapKernel(self) { $0 >= value ? 1 : 0 } }
    /// 1 where `self <= value`, else 0. Not differentiable.
    public func le(_ value: Float) -> Tensor { Tensor.mapKernel(self) { $0 <= value ? 1 : 0 } }
    /// 1 where `self == value`, else 0. Not differentiable.
    public func eq(_ value: Float) -> Tensor { Tensor.mapKernel(self) { $0 == value ? 1 : 0 } }

    /// Picks `a` where `condition` is nonzero and `b` elsewhere, broadcasting all three (like
    /// `torch.where`). Gradients flow to `a` and `b`, none to `condition`.
    public static func `where`(_ condition: Tensor, _ a: Tensor, _ b: Tensor) -> Tensor {
        let out = ternaryKernel(condition, a, b, op: "where") { c, x, y in c != 0 ? x : y }
        return recordOperation("where", result: out, inputs: [a, b]) { g in
            [a.requiresGrad ? broadcastKernel(condition, g, op: "where") { c, v in c != 0 ? v : 0 }.sumToShape(a.shape) : nil,
             b.requiresGrad ? broadcastKernel(condition, g, op: "where") { c, v in c != 0 ? 0 : v }.sumToShape(b.shape) : nil]
        }
    }
}

/// `a` raised to `b` element by element, with broadcasting (like `torch.pow(a, b)`). The gradient
/// for `b` is 0 where `a == 0` and `b >= 0`, and the gradient for `a` is 0 where `b == 0`.
public func pow(_ a: Tensor, _ b: Tensor) -> Tensor {
    let out = Tensor.broadcastKernel(a, b, op: "pow") { powf($0, $1) }
    return Tensor.recordOperation("pow", result: out, inputs: [a, b]) { g in
        let ga = a.requiresGrad ? Tensor.ternaryKernel(g, a, b, op: "pow") { g, x, e in
            e == 0 ? 0 : g * e * powf(x, e - 1)
        }.sumToShape(a.shape) : nil
        let gb = b.requiresGrad ? Tensor.ternaryKernel(g, a, b, op: "pow") { g, x, e in
            x == 0 && e >= 0 ? 0 : g * powf(x, e) * logf(x)
        }.sumToShape(b.shape) : nil
        return [ga, gb]
    }
}

/// Element-by-element minimum with broadcasting (NaN propagates). At ties the gradient is split
/// evenly between `a` and `b`, like `torch.minimum`.
public func minimum(_ a: Tensor, _ b: Tensor) -> Tensor {
    extremum(a, b, name: "minimum", takeLess: true)
}

/// Element-by-element maximum with broadcasting (NaN propagates). At ties the gradient is split
/// evenly between `a` and `b`, like `torch.maximum`.
public func maximum(_ a: Tensor, _ b: Tensor) -> Tensor {
    extremum(a, b, name: "maximum", takeLess: false)
}

private func extremum(_ a: Tensor, _ b: Tensor, name: String, takeLess: Bool) -> Tensor {
    let out = Tensor.broadcastKernel(a, b, op: name) { x, y in
        if x.isNaN || y.isNaN { return .nan }
        return takeLess ? (x < y ? x : y) : (x > y ? x : y)
    }
    return Tensor.recordOperation(name, result: out, inputs: [a, b]) { g in
        // Share of the gradient that goes to the first operand.
        func share(_ x: Float, _ y: Float) -> Float {
            if x == y { return 0.5 }
            return (takeLess ? x < y : x > y) ? 1 : 0
        }
        let ga = a.requiresGrad ? Tensor.ternaryKernel(g, a, b, op: name) { g, x, y in g * share(x, y) }.sumToShape(a.shape) : nil
        let gb = b.requiresGrad ? Tensor.ternaryKernel(g, b, a, op: name) { g, y, x in g * share(y, x) }.sumToShape(b.shape) : nil
        return [ga, gb]
    }
}

/// Picks `a` where `condition` is nonzero and `b` elsewhere, broadcasting all three (like
/// `torch.where`). Call it as `` `where`(c, a, b) `` or `Tensor.where(c, a, b)`.
public func `where`(_ condition: Tensor, _ a: Tensor, _ b: Tensor) -> Tensor {
    Tensor.where(condition, a, b)
}

#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif
