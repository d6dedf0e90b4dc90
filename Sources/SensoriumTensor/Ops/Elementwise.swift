// Elementwise arithmetic with NumPy broadcasting, and the kernels other elementwise ops build on.

extension Tensor {
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

    /// Sum with NumPy broadcasting.
    public static func + (a: Tensor, b: Tensor) -> Tensor {
        let out = binaryKernel(a, b, op: "add", AddFunction())
        // Only the shapes are kept: neither operand's elements are needed for the gradients.
        let (needA, needB, shapeA, shapeB) = (a.requiresGrad, b.requiresGrad, a.shape, b.shape)
        return recordOperation("add", result: out, inputs: [a, b]) { g in
            [needA ? g.sumToShape(shapeA) : nil, needB ? g.sumToShape(shapeB) : nil]
        }
    }

    /// Difference with NumPy broadcasting.
    public static func - (a: Tensor, b: Tensor) -> Tensor {
        let out = binaryKernel(a, b, op: "sub", SubtractFunction())
        let (needA, needB, shapeA, shapeB) = (a.requiresGrad, b.requiresGrad, a.shape, b.shape)
        return recordOperation("sub", result: out, inputs: [a, b]) { g in
            [needA ? g.sumToShape(shapeA) : nil, needB ? (-g).sumToShape(shapeB) : nil]
        }
    }

    /// Elementwise product with NumPy broadcasting.
    public static func * (a: Tensor, b: Tensor) -> Tensor {
        let out = binaryKernel(a, b, op: "mul", MultiplyFunction())
        return recordOperation("mul", result: out, inputs: [a, b]) { g in
            [a.requiresGrad ? (g * b).sumToShape(a.shape) : nil, b.requiresGrad ? (g * a).sumToShape(b.shape) : nil]
        }
    }

    /// Elementwise quotient with NumPy broadcasting.
    public static func / (a: Tensor, b: Tensor) -> Tensor {
        let out = binaryKernel(a, b, op: "div", DivideFunction())
        let (needA, shapeA) = (a.requiresGrad, a.shape)
        return recordOperation("div", result: out, inputs: [a, b]) { g in
            [needA ? (g / b).sumToShape(shapeA) : nil,
             b.requiresGrad ? (-(g * out) / b).sumToShape(b.shape) : nil]
        }
    }

    /// Negation.
    public static prefix func - (x: Tensor) -> Tensor {
        let out = mapFunction(x, NegateFunction(), minimumPerThread: 32_768)
        return recordOperation("neg", result: out, inputs: [x]) { g in [-g] }
    }

    /// Adds a scalar to every element.
    public static func + (a: Tensor, s: Float) -> Tensor {
        recordOperation("add_scalar", result: mapFunction(a, AddScalarFunction(s), minimumPerThread: 32_768), inputs: [a]) { g in [g] }
    }
    public static func + (s: Float, a: Tensor) -> Tensor { a + s }
    public static func - (a: Tensor, s: Float) -> Tensor { a + (-s) }
    public static func - (s: Float, a: Tensor) -> Tensor { (-a) + s }
    /// Multiplies every element by a scalar.
    public static func * (a: Tensor, s: Float) -> Tensor {
        recordOperation("mul_scalar", result: mapFunction(a, MultiplyScalarFunction(s), minimumPerThread: 32_768), inputs: [a]) { g in [g * s] }
    }
    public static func * (s: Float, a: Tensor) -> Tensor { a * s }
    /// Divides every element by a scalar (as a multiplication by 1 / s).
    public static func / (a: Tensor, s: Float) -> Tensor { a * (1 / s) }
    /// Divides a scalar by every element.
    public static func / (s: Float, a: Tensor) -> Tensor {
        let out = mapFunction(a, ReciprocalScaleFunction(s), minimumPerThread: 32_768)
        return recordOperation("rdiv_scalar", result: out, inputs: [a]) { g in [-(g * out) / a] }
    }
}

// MARK: - Specialised arithmetic kernels

/// A binary function of two Floats with an 8-lane form, for `binaryKernel`. Kernels generic over it
/// are specialised per function, so their loops are vectorised and call nothing.
@usableFromInline
protocol BinaryFunction {
    func value(_ a: Float, _ b: Float) -> Float
    func value(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float>
}

extension BinaryFunction {
    /// The scalar form lane by lane, for functions without a vector formula.
    @inlinable @inline(__always)
    func value(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> {
        var out = a
        for k in 0..<8 { out[k] = value(a[k], b[k]) }
        return out
    }
}

/// A function of three Floats with an 8-lane form, for `ternaryKernel` (specialised like
/// `BinaryFunction`).
@usableFromInline
protocol TernaryFunction {
    func value(_ a: Float, _ b: Float, _ c: Float) -> Float
    func value(_ a: SIMD8<Float>, _ b: SIMD8<Float>, _ c: SIMD8<Float>) -> SIMD8<Float>
}

extension TernaryFunction {
    /// The scalar form lane by lane, for functions without a vector formula.
    @inlinable @inline(__always)
    func value(_ a: SIMD8<Float>, _ b: SIMD8<Float>, _ c: SIMD8<Float>) -> SIMD8<Float> {
        var out = a
        for k in 0..<8 { out[k] = value(a[k], b[k], c[k]) }
        return out
    }
}

@usableFromInline struct AddFunction: BinaryFunction {
    @usableFromInline init() {}
    @inlinable func value(_ a: Float, _ b: Float) -> Float { a + b }
    @inlinable func value(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> { a + b }
}

@usableFromInline struct SubtractFunction: BinaryFunction {
    @usableFromInline init() {}
    @inlinable func value(_ a: Float, _ b: Float) -> Float { a - b }
    @inlinable func value(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> { a - b }
}

@usableFromInline struct MultiplyFunction: BinaryFunction {
    @usableFromInline init() {}
    @inlinable func value(_ a: Float, _ b: Float) -> Float { a * b }
    @inlinable func value(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> { a * b }
}

@usableFromInline struct DivideFunction: BinaryFunction {
    @usableFromInline init() {}
    @inlinable func value(_ a: Float, _ b: Float) -> Float { a / b }
    @inlinable func value(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> { a / b }
}

extension Tensor {
    /// Combines two tensors with NumPy broadcasting through a specialised `BinaryFunction`.
    static func binaryKernel<F: BinaryFunction>(_ a: Tensor, _ b: Tensor, op: String, _ f: F) -> Tensor {
        let pa = a.storage.pointer, pb = b.storage.pointer
        if a.shape == b.shape {
            let out = Tensor(uninitializedShape: a.shape)
            let dst = out.storage.pointer
            Parallel.forRanges(out.count) { range in
                let start = range.lowerBound
                binaryRow(f, dst + start, pa + start, 1, pb + start, 1, range.count)
            }
            return out
        }
        let outShape = broadcastShape(a.shape, b.shape, op: op)
        let out = Tensor(uninitializedShape: outShape)
        let dst = out.storage.pointer
        let loop = StridedLoop(shape: outShape, strides: [
            contiguousStrides(outShape), broadcastStrides(from: a.shape, to: outShape),
            broadcastStrides(from: b.shape, to: outShape),
        ])
        let sa = loop.innerStride(1), sb = loop.innerStride(2)
        loop.forEachRow { offsets, n in
            binaryRow(f, dst + offsets[0], pa + offsets[1], sa, pb + offsets[2], sb, n)
        }
        return out
    }

    /// One row of `binaryKernel`: contiguous and scalar-broadcast operands run 8 lanes at a time.
    @inline(__always)
    static func binaryRow<F: BinaryFunction>(_ f: F, _ o: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ sa: Int,
                                             _ y: UnsafePointer<Float>, _ sb: Int, _ n: Int) {
        #if DEBUG
        // Unoptimised builds: see "Debug builds" in Elementwise.swift.
        var k = 0
        while k < n { o[k] = f.value(x[k * sa], y[k * sb]); k += 1 }
        #else
        let rx = UnsafeRawPointer(x), ry = UnsafeRawPointer(y), ro = UnsafeMutableRawPointer(o)
        let width = MemoryLayout<SIMD8<Float>>.stride / 8
        var i = 0
        if sa == 1 && sb == 1 {
            while i + 8 <= n {
                let u = rx.loadUnaligned(fromByteOffset: i * width, as: SIMD8<Float>.self)
                let v = ry.loadUnaligned(fromByteOffset: i * width, as: SIMD8<Float>.self)
                ro.storeBytes(of: f.value(u, v), toByteOffset: i * width, as: SIMD8<Float>.self)
                i += 8
            }
            while i < n { o[i] = f.value(x[i], y[i]); i += 1 }
        } else if sa == 1 && sb == 0 {
            let s = y[0], v = SIMD8<Float>(repeating: s)
            while i + 8 <= n {
                let u = rx.loadUnaligned(fromByteOffset: i * width, as: SIMD8<Float>.self)
                ro.storeBytes(of: f.value(u, v), toByteOffset: i * width, as: SIMD8<Float>.self)
                i += 8
            }
            while i < n { o[i] = f.value(x[i], s); i += 1 }
        } else if sa == 0 && sb == 1 {
            let s = x[0], u = SIMD8<Float>(repeating: s)
            while i + 8 <= n {
                let v = ry.loadUnaligned(fromByteOffset: i * width, as: SIMD8<Float>.self)
                ro.storeBytes(of: f.value(u, v), toByteOffset: i * width, as: SIMD8<Float>.self)
                i += 8
            }
            while i < n { o[i] = f.value(s, y[i]); i += 1 }
        } else {
            for k in 0..<n { o[k] = f.value(x[k * sa], y[k * sb]) }
        }
        #endif
    }

    /// Applies a `PointwiseFunction` to every element, 8 lanes at a time (no autodiff). Work is
    /// split across cores above `minimumPerThread` elements per core (lower for costly functions).
    static func mapFunction<F: PointwiseFunction>(_ x: Tensor, _ function: F, minimumPerThread: Int = 8_192) -> Tensor {
        let out = Tensor(uninitializedShape: x.shape)
        let src = x.storage.pointer, dst = out.storage.pointer
        Parallel.forRanges(x.count, minimumPerThread: minimumPerThread) { range in
            var i = range.lowerBound
            #if DEBUG
            // Unoptimised builds: see "Debug builds" in Elementwise.swift.
            while i < range.upperBound { dst[i] = function.value(src[i]); i += 1 }
            #else
            while i + 8 <= range.upperBound {
                let v = UnsafeRawPointer(src + i).loadUnaligned(as: SIMD8<Float>.self)
                UnsafeMutableRawPointer(dst + i).storeBytes(of: function.value(v), as: SIMD8<Float>.self)
                i += 8
            }
            let rest = range.upperBound - i
            if rest > 0 { storePartial(function.value(loadPartial(src + i, rest)), dst + i, rest) }
            #endif
        }
        return out
    }

    /// Combines three tensors with NumPy broadcasting through a specialised `TernaryFunction`.
    static func ternaryKernel<F: TernaryFunction>(_ a: Tensor, _ b: Tensor, _ c: Tensor, op: String, _ f: F) -> Tensor {
        let pa = a.storage.pointer, pb = b.storage.pointer, pc = c.storage.pointer
        if a.shape == b.shape && a.shape == c.shape {
            let out = Tensor(uninitializedShape: a.shape)
            let dst = out.storage.pointer
            Parallel.forRanges(out.count) { range in
                let start = range.lowerBound
                ternaryRow(f, dst + start, pa + start, 1, pb + start, 1, pc + start, 1, range.count)
            }
            return out
        }
        let outShape = broadcastShape(broadcastShape(a.shape, b.shape, op: op), c.shape, op: op)
        let out = Tensor(uninitializedShape: outShape)
        let dst = out.storage.pointer
        let loop = StridedLoop(shape: outShape, strides: [
            contiguousStrides(outShape), broadcastStrides(from: a.shape, to: outShape),
            broadcastStrides(from: b.shape, to: outShape), broadcastStrides(from: c.shape, to: outShape),
        ])
        let sa = loop.innerStride(1), sb = loop.innerStride(2), sc = loop.innerStride(3)
        loop.forEachRow { offsets, n in
            ternaryRow(f, dst + offsets[0], pa + offsets[1], sa, pb + offsets[2], sb, pc + offsets[3], sc, n)
        }
        return out
    }

    /// One row of `ternaryKernel`: when every operand is contiguous or a broadcast scalar, 8 lanes
    /// at a time.
    @inline(__always)
    static func ternaryRow<F: TernaryFunction>(_ f: F, _ o: UnsafeMutablePointer<Float>,
                                               _ x: UnsafePointer<Float>, _ sa: Int, _ y: UnsafePointer<Float>, _ sb: Int,
                                               _ z: UnsafePointer<Float>, _ sc: Int, _ n: Int) {
        var k = 0
        #if !DEBUG  // unoptimised builds: see "Debug builds" in Elementwise.swift
        if sa <= 1 && sb <= 1 && sc <= 1 {
            let width = MemoryLayout<SIMD8<Float>>.stride / 8
            @inline(__always) func lanes(_ p: UnsafePointer<Float>, _ stride: Int, _ i: Int) -> SIMD8<Float> {
                stride == 0 ? SIMD8(repeating: p[0]) : UnsafeRawPointer(p).loadUnaligned(fromByteOffset: i * width, as: SIMD8<Float>.self)
            }
            let ro = UnsafeMutableRawPointer(o)
            while k + 8 <= n {
                ro.storeBytes(of: f.value(lanes(x, sa, k), lanes(y, sb, k), lanes(z, sc, k)), toByteOffset: k * width, as: SIMD8<Float>.self)
                k += 8
            }
        }
        #endif
        while k < n { o[k] = f.value(x[k * sa], y[k * sb], z[k * sc]); k += 1 }
    }
}

// MARK: Debug builds
// Unoptimised (debug) builds run the elementwise kernels one element at a time: `SIMD8` arithmetic
// is generic library code that only optimisation turns into vector instructions, so without it a
// vector loop is hundreds of times slower than the same loop on `Float`, whose operators are always
// inlined. Every function's scalar form gives the same bits as its lanes, so results do not depend
// on the build. The scalar exp / log helpers (`fastExp`, `fastExpm1`, `fastLog`, …) are
// `@_transparent` so that, without optimisation too, they inline into one another (and into
// callers in this file): 2-3x faster in debug builds. Optimised builds inline them either way.

@usableFromInline struct NegateFunction: PointwiseFunction {
    @usableFromInline init() {}
    // As the lanes compute it (SIMD negation subtracts from 0, so -(+0) is +0).
    @inlinable func value(_ x: Float) -> Float { 0 - x }
    @inlinable func derivative(_ x: Float, _ y: Float) -> Float { -1 }
    @inlinable func value(_ x: SIMD8<Float>) -> SIMD8<Float> { -x }
    @inlinable func derivative(_ x: SIMD8<Float>, _ y: SIMD8<Float>) -> SIMD8<Float> { SIMD8(repeating: -1) }
}

@usableFromInline struct AddScalarFunction: PointwiseFunction {
    @usableFromInline let s: Float
    @usableFromInline init(_ s: Float) { self.s = s }
    @inlinable func value(_ x: Float) -> Float { x + s }
    @inlinable func derivative(_ x: Float, _ y: Float) -> Float { 1 }
    @inlinable func value(_ x: SIMD8<Float>) -> SIMD8<Float> { x + s }
    @inlinable func derivative(_ x: SIMD8<Float>, _ y: SIMD8<Float>) -> SIMD8<Float> { SIMD8(repeating: 1) }
}

@usableFromInline struct MultiplyScalarFunction: PointwiseFunction {
    @usableFromInline let s: Float
    @usableFromInline init(_ s: Float) { self.s = s }
    @inlinable func value(_ x: Float) -> Float { x * s }
    @inlinable func derivative(_ x: Float, _ y: Float) -> Float { s }
    @inlinable func value(_ x: SIMD8<Float>) -> SIMD8<Float> { x * s }
    @inlinable func derivative(_ x: SIMD8<Float>, _ y: SIMD8<Float>) -> SIMD8<Float> { SIMD8(repeating: s) }
}

@usableFromInline struct ReciprocalScaleFunction: PointwiseFunction {
    @usableFromInline let s: Float
    @usableFromInline init(_ s: Float) { self.s = s }
    @inlinable func value(_ x: Float) -> Float { s / x }
    @inlinable func derivative(_ x: Float, _ y: Float) -> Float { (0 - y) / x }  // as the lanes compute it
    @inlinable func value(_ x: SIMD8<Float>) -> SIMD8<Float> { s / x }
    @inlinable func derivative(_ x: SIMD8<Float>, _ y: SIMD8<Float>) -> SIMD8<Float> { -y / x }
}

// MARK: - Vector math

/// e^x and e^x − 1 on 8 lanes: x = n·ln2 + r with |r| <= ln2/2, e^r − 1 from a degree-7 polynomial
/// (Cephes `expf` coefficients), scaled by 2^n in two steps so results from 0 through denormals to
/// overflow (inf) come out right. About 2 ulp; NaN propagates.
@inline(__always) @usableFromInline
func simdExpParts(_ x: SIMD8<Float>) -> (scale1: SIMD8<Float>, scale2: SIMD8<Float>, rMinusOne: SIMD8<Float>) {
    let magic = SIMD8<Float>(repeating: 12_582_912)  // 1.5 * 2^23: adding it rounds to an integer
    // Clamp with selects (the generic pointwiseMin/Max are not inlined); NaN lanes pass through.
    let low = SIMD8<Float>(repeating: -104), high = SIMD8<Float>(repeating: 89)
    let v = simdSelect(x .> high, high, simdSelect(x .< low, low, x))
    let t = v * 1.442_695_04 + magic
    let n = t - magic
    let ni = unsafeBitCast(t, to: SIMD8<Int32>.self) &- unsafeBitCast(magic, to: SIMD8<Int32>.self)
    var r = v - n * 0.693_359_375
    r = r - n * -2.121_944_4e-4
    let z = r * r
    var p = SIMD8<Float>(repeating: 1.987_569_15e-4)
    p = p * r + 1.398_199_950_7e-3
    p = p * r + 8.333_451_907_3e-3
    p = p * r + 4.166_579_589_4e-2
    p = p * r + 1.666_666_545_9e-1
    p = p * r + 5.000_000_120_1e-1
    let em1 = p * z + r  // e^r - 1
    let n1 = ni &>> 1, n2 = ni &- n1
    let s1 = unsafeBitCast((n1 &+ 127) &<< 23, to: SIMD8<Float>.self)
    let s2 = unsafeBitCast((n2 &+ 127) &<< 23, to: SIMD8<Float>.self)
    return (s1, s2, em1)
}

/// e^x on 8 lanes (see `simdExpParts`).
@inline(__always) @usableFromInline
func simdExp(_ x: SIMD8<Float>) -> SIMD8<Float> {
    let (s1, s2, em1) = simdExpParts(x)
    let result = ((em1 + 1) * s1) * s2  // in this order: no premature overflow or underflow
    return simdSelect(x .!= x, x, result)
}

/// e^x − 1 on 8 lanes, accurate near 0.
@inline(__always) @usableFromInline
func simdExpm1(_ x: SIMD8<Float>) -> SIMD8<Float> {
    let (s1, s2, em1) = simdExpParts(x)
    let scale = s1 * s2  // finite for x <= 80; above that e^x - 1 is e^x to Float precision
    let result = simdSelect(x .> 80, ((em1 + 1) * s1) * s2 - 1, scale * em1 + (scale - 1))
    return simdSelect(x .!= x, x, result)
}

/// `mask ? a : b` lane by lane, as bit operations. `replacing(with:where:)` is written lane by lane
/// in the standard library, and inside larger loop bodies LLVM sometimes keeps it as one branch per
/// lane; this form always compiles to a blend.
@inline(__always) @usableFromInline
func simdSelect(_ mask: SIMDMask<SIMD8<Int32>>, _ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> {
    let m = unsafeBitCast(mask, to: SIMD8<Int32>.self)  // all ones where true
    let ai = unsafeBitCast(a, to: SIMD8<Int32>.self), bi = unsafeBitCast(b, to: SIMD8<Int32>.self)
    return unsafeBitCast(bi ^ ((ai ^ bi) & m), to: SIMD8<Float>.self)
}

/// Natural logarithm of 8 positive normal numbers (no special cases), plus `exponentOffset`·log 2:
/// x = m·2^e with m in [√½, √2), log(m) from the Cephes `logf` polynomial, log 2 split in two
/// parts. ``simdLog`` adds denormals (scaled by 2^23, offset −23), 0, inf and NaN.
@inline(__always) @usableFromInline
func simdLogOfNormal(_ x: SIMD8<Float>, exponentOffset: SIMD8<Float> = SIMD8(repeating: 0)) -> SIMD8<Float> {
    let bits = unsafeBitCast(x, to: SIMD8<Int32>.self)
    // The biased exponent k (0...255) as a Float without a conversion call: the bits 0x4B00_0000 | k
    // are the float 2^23 + k exactly.
    let biased = unsafeBitCast(((bits &>> 23) & 0xff) | 0x4B00_0000, to: SIMD8<Float>.self)
    var exponent = (biased - (8_388_608 + 126)) + exponentOffset
    var m = unsafeBitCast((bits & Int32(bitPattern: 0x807f_ffff)) | 0x3f00_0000, to: SIMD8<Float>.self)  // [0.5, 1)
    let below = m .< 0.707_106_781_186_547_5
    exponent = simdSelect(below, exponent - 1, exponent)
    m = simdSelect(below, m + m, m) - 1
    let z = m * m
    var y = logPolynomial(m) * m * z
    y = y + exponent * -2.121_944_4e-4
    y = y - 0.5 * z
    return m + y + exponent * 0.693_359_375
}

/// The Cephes `logf` polynomial of `simdLogOfNormal` (without its factor m·m²). Kept out of line on
/// purpose: inlined into a larger loop body, LLVM's SLP vectorizer splits this chain into scalar
/// lanes (SIMD arithmetic is written lane by lane in the standard library), which made the
/// logarithm several times slower than the call.
@inline(never) @usableFromInline
func logPolynomial(_ m: SIMD8<Float>) -> SIMD8<Float> {
    var y = SIMD8<Float>(repeating: 7.037_683_629_2e-2)
    y = y * m - 1.151_461_031_0e-1
    y = y * m + 1.167_699_874_0e-1
    y = y * m - 1.242_014_084_6e-1
    y = y * m + 1.424_932_278_7e-1
    y = y * m - 1.666_805_766_5e-1
    y = y * m + 2.000_071_476_5e-1
    y = y * m - 2.499_999_399_3e-1
    y = y * m + 3.333_333_117_4e-1
    return y
}

/// Natural logarithm on 8 lanes: x = m·2^e with m in [√½, √2), log(m) from the Cephes `logf`
/// polynomial. About 1 ulp; denormals handled; log 0 = −inf, log of a negative number or NaN = NaN,
/// log inf = inf.
@inline(__always) @usableFromInline
func simdLog(_ x: SIMD8<Float>) -> SIMD8<Float> {
    let smallest = SIMD8<Float>(repeating: .leastNormalMagnitude)
    let isDenormal = (x .< smallest) .& (x .> 0)
    let scaled = x.replacing(with: x * 8_388_608, where: isDenormal)  // * 2^23
    var result = simdLogOfNormal(scaled, exponentOffset: SIMD8<Float>(repeating: 0).replacing(with: -23, where: isDenormal))
    result = result.replacing(with: -.infinity, where: x .== 0)
    result = result.replacing(with: .infinity, where: x .== .infinity)
    result = result.replacing(with: .nan, where: (x .< 0) .| (x .!= x))
    return result
}

/// log(1 + u) on 8 lanes for u >= 0, accurate for tiny u (log(w)·u/(w − 1) with w = 1 + u).
@inline(__always) @usableFromInline
func simdLog1pNonNegative(_ u: SIMD8<Float>) -> SIMD8<Float> {
    let w = 1 + u
    let d = w - 1
    let safe = d.replacing(with: 1, where: d .== 0)
    return (simdLog(w) * (u / safe)).replacing(with: u, where: d .== 0)
}

/// `simdExpParts` for one value, operation for operation (so bit-identical to a lane).
@_transparent @usableFromInline
func scalarExpParts(_ x: Float) -> (scale1: Float, scale2: Float, rMinusOne: Float) {
    let magic: Float = 12_582_912
    let v = x < -104 ? -104 : (x > 89 ? 89 : x)
    let t = v * 1.442_695_04 + magic
    let n = t - magic
    let ni = Int32(bitPattern: t.bitPattern) &- Int32(bitPattern: magic.bitPattern)
    var r = v - n * 0.693_359_375
    r = r - n * -2.121_944_4e-4
    let z = r * r
    var p: Float = 1.987_569_15e-4
    p = p * r + 1.398_199_950_7e-3
    p = p * r + 8.333_451_907_3e-3
    p = p * r + 4.166_579_589_4e-2
    p = p * r + 1.666_666_545_9e-1
    p = p * r + 5.000_000_120_1e-1
    let em1 = p * z + r
    let n1 = ni &>> 1, n2 = ni &- n1
    let s1 = Float(bitPattern: UInt32(bitPattern: (n1 &+ 127) &<< 23))
    let s2 = Float(bitPattern: UInt32(bitPattern: (n2 &+ 127) &<< 23))
    return (s1, s2, em1)
}

/// e^x for one value, bit-identical to a lane of `simdExp`.
@_transparent @usableFromInline
func fastExp(_ x: Float) -> Float {
    if x.isNaN { return x }
    let (s1, s2, em1) = scalarExpParts(x)
    return ((em1 + 1) * s1) * s2
}

/// e^x − 1 for one value, bit-identical to a lane of `simdExpm1`.
@_transparent @usableFromInline
func fastExpm1(_ x: Float) -> Float {
    if x.isNaN { return x }
    let (s1, s2, em1) = scalarExpParts(x)
    if x > 80 { return ((em1 + 1) * s1) * s2 - 1 }
    let scale = s1 * s2
    return scale * em1 + (scale - 1)
}

/// Natural logarithm of one value, bit-identical to a lane of `simdLog`.
@_transparent @usableFromInline
func fastLog(_ x: Float) -> Float {
    if x < 0 || x.isNaN { return .nan }
    if x == 0 { return -.infinity }
    if x == .infinity { return .infinity }
    let isDenormal = x < .leastNormalMagnitude
    let bits = Int32(bitPattern: (isDenormal ? x * 8_388_608 : x).bitPattern)
    var exponent = Float(((bits &>> 23) & 0xff) &- 126)
    if isDenormal { exponent = exponent - 23 }
    var m = Float(bitPattern: UInt32(bitPattern: (bits & Int32(bitPattern: 0x807f_ffff)) | 0x3f00_0000))
    if m < 0.707_106_781_186_547_5 {
        exponent = exponent - 1
        m = m + m
    }
    m = m - 1
    let z = m * m
    var y: Float = 7.037_683_629_2e-2
    y = y * m - 1.151_461_031_0e-1
    y = y * m + 1.167_699_874_0e-1
    y = y * m - 1.242_014_084_6e-1
    y = y * m + 1.424_932_278_7e-1
    y = y * m - 1.666_805_766_5e-1
    y = y * m + 2.000_071_476_5e-1
    y = y * m - 2.499_999_399_3e-1
    y = y * m + 3.333_333_117_4e-1
    y = y * m * z
    y = y + exponent * -2.121_944_4e-4
    y = y - 0.5 * z
    return m + y + exponent * 0.693_359_375
}

/// log(1 + u) for one u >= 0, bit-identical to a lane of `simdLog1pNonNegative`.
@_transparent @usableFromInline
func fastLog1pNonNegative(_ u: Float) -> Float {
    let w = 1 + u
    let d = w - 1
    return d == 0 ? u : fastLog(w) * (u / d)
}

/// Loads `n` (< 8) elements into the low lanes of a zero vector.
@inline(__always) @usableFromInline
func loadPartial(_ p: UnsafePointer<Float>, _ n: Int) -> SIMD8<Float> {
    var v = SIMD8<Float>()
    for k in 0..<n { v[k] = p[k] }
    return v
}

/// Stores the low `n` (< 8) lanes of `v`.
@inline(__always) @usableFromInline
func storePartial(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>, _ n: Int) {
    for k in 0..<n { p[k] = v[k] }
}

/// Replaces `p[0..<n]` with e^p, 8 lanes at a time.
@inline(__always) @usableFromInline
func expInPlace(_ p: UnsafeMutablePointer<Float>, _ n: Int) {
    var i = 0
    #if DEBUG
    // Unoptimised builds: see "Debug builds" in Elementwise.swift.
    while i < n { p[i] = fastExp(p[i]); i += 1 }
    #else
    while i + 8 <= n {
        let v = UnsafeRawPointer(p + i).loadUnaligned(as: SIMD8<Float>.self)
        UnsafeMutableRawPointer(p + i).storeBytes(of: simdExp(v), as: SIMD8<Float>.self)
        i += 8
    }
    if i < n { storePartial(simdExp(loadPartial(p + i, n - i)), p + i, n - i) }
    #endif
}

// MARK: - Pointwise functions with derivatives

/// A scalar function applied element by element, with its derivative expressed through the input
/// `x` and the output `y`. Kernels call the 8-lane forms; by default those apply the scalar forms
/// lane by lane, and functions with a vectorised formula override them. Ops built on it are
/// specialised per function, so the inner loops call no closures.
@usableFromInline
protocol PointwiseFunction {
    /// y = f(x).
    func value(_ x: Float) -> Float
    /// dy/dx at `x`, where `y = value(x)`.
    func derivative(_ x: Float, _ y: Float) -> Float
    /// `value` on 8 lanes.
    func value(_ x: SIMD8<Float>) -> SIMD8<Float>
    /// `derivative` on 8 lanes.
    func derivative(_ x: SIMD8<Float>, _ y: SIMD8<Float>) -> SIMD8<Float>
    /// Whether `derivative` reads `x`; when false, the backward pass does not keep the input and
    /// passes the output (or other elements) as `x` (`derivative(y, y)` must equal `derivative(x, y)`).
    var derivativeReadsInput: Bool { get }
    /// Whether `derivative` reads `y`; when false, the backward pass does not keep the output and
    /// passes the input (or other elements) as `y`.
    var derivativeReadsOutput: Bool { get }
}

extension PointwiseFunction {
    @usableFromInline var derivativeReadsInput: Bool { true }
    @usableFromInline var derivativeReadsOutput: Bool { true }

    @inlinable @inline(__always)
    func value(_ x: SIMD8<Float>) -> SIMD8<Float> {
        var out = x
        for k in 0..<8 { out[k] = value(x[k]) }
        return out
    }

    @inlinable @inline(__always)
    func derivative(_ x: SIMD8<Float>, _ y: SIMD8<Float>) -> SIMD8<Float> {
        var out = x
        for k in 0..<8 { out[k] = derivative(x[k], y[k]) }
        return out
    }
}

extension Tensor {
    /// Applies `function` element by element and records its derivative for autodiff.
    func pointwise<F: PointwiseFunction>(_ name: String, _ function: F) -> Tensor {
        let out = Tensor.mapFunction(self, function)
        // Keep only what the derivative reads (the input's elements may be freed after the forward pass).
        let input: TensorStorage? = function.derivativeReadsInput ? storage : nil
        let output: TensorStorage? = function.derivativeReadsOutput ? out.storage : nil
        let shape = shape, count = count
        return Tensor.recordOperation(name, result: out, inputs: [self]) { g in
            let gx = Tensor(uninitializedShape: shape)
            let gs = g.storage.pointer, d = gx.storage.pointer
            // What the derivative does not read gets any valid elements of the same count.
            let xs = (input ?? output)?.pointer ?? UnsafeMutablePointer(mutating: gs)
            let ys = (output ?? input)?.pointer ?? UnsafeMutablePointer(mutating: gs)
            Parallel.forRanges(count, minimumPerThread: 8_192) { range in
                var i = range.lowerBound
                #if DEBUG
                // Unoptimised builds: see "Debug builds" in Elementwise.swift.
                while i < range.upperBound { d[i] = gs[i] * function.derivative(xs[i], ys[i]); i += 1 }
                #else
                while i + 8 <= range.upperBound {
                    let x = UnsafeRawPointer(xs + i).loadUnaligned(as: SIMD8<Float>.self)
                    let y = UnsafeRawPointer(ys + i).loadUnaligned(as: SIMD8<Float>.self)
                    let gv = UnsafeRawPointer(gs + i).loadUnaligned(as: SIMD8<Float>.self)
                    UnsafeMutableRawPointer(d + i).storeBytes(of: gv * function.derivative(x, y), as: SIMD8<Float>.self)
                    i += 8
                }
                let rest = range.upperBound - i
                if rest > 0 {
                    let dv = function.derivative(loadPartial(xs + i, rest), loadPartial(ys + i, rest))
                    storePartial(loadPartial(gs + i, rest) * dv, d + i, rest)
                }
                #endif
            }
            return [gx]
        }
    }
}

@usableFromInline struct ExpFunction: PointwiseFunction {
    @usableFromInline init() {}
    @inlinable func value(_ x: Float) -> Float { fastExp(x) }
    @inlinable func derivative(_ x: Float, _ y: Float) -> Float { y }
    @inlinable func value(_ x: SIMD8<Float>) -> SIMD8<Float> { simdExp(x) }
    @inlinable func derivative(_ x: SIMD8<Float>, _ y: SIMD8<Float>) -> SIMD8<Float> { y }
}

@usableFromInline struct LogFunction: PointwiseFunction {
    @usableFromInline init() {}
    @inlinable func value(_ x: Float) -> Float { fastLog(x) }
    @inlinable func derivative(_ x: Float, _ y: Float) -> Float { 1 / x }
    @inlinable func value(_ x: SIMD8<Float>) -> SIMD8<Float> { simdLog(x) }
    @inlinable func derivative(_ x: SIMD8<Float>, _ y: SIMD8<Float>) -> SIMD8<Float> { 1 / x }
}

@usableFromInline struct SqrtFunction: PointwiseFunction {
    @usableFromInline init() {}
    @inlinable func value(_ x: Float) -> Float { x.squareRoot() }
    @inlinable func derivative(_ x: Float, _ y: Float) -> Float { 0.5 / y }
    @inlinable func value(_ x: SIMD8<Float>) -> SIMD8<Float> { x.squareRoot() }
    @inlinable func derivative(_ x: SIMD8<Float>, _ y: SIMD8<Float>) -> SIMD8<Float> { 0.5 / y }
}

@usableFromInline struct RsqrtFunction: PointwiseFunction {
    @usableFromInline init() {}
    @inlinable func value(_ x: Float) -> Float { 1 / x.squareRoot() }
    @inlinable func derivative(_ x: Float, _ y: Float) -> Float { -0.5 * y * y * y }
    @inlinable func value(_ x: SIMD8<Float>) -> SIMD8<Float> { 1 / x.squareRoot() }
    @inlinable func derivative(_ x: SIMD8<Float>, _ y: SIMD8<Float>) -> SIMD8<Float> { -0.5 * y * y * y }
}

@usableFromInline struct SquareFunction: PointwiseFunction {
    @usableFromInline init() {}
    @inlinable func value(_ x: Float) -> Float { x * x }
    @inlinable func derivative(_ x: Float, _ y: Float) -> Float { 2 * x }
    @inlinable func value(_ x: SIMD8<Float>) -> SIMD8<Float> { x * x }
    @inlinable func derivative(_ x: SIMD8<Float>, _ y: SIMD8<Float>) -> SIMD8<Float> { 2 * x }
}

@usableFromInline struct AbsFunction: PointwiseFunction {
    @usableFromInline init() {}
    @inlinable func value(_ x: Float) -> Float { Swift.abs(x) }
    @inlinable func derivative(_ x: Float, _ y: Float) -> Float { x > 0 ? 1 : (x < 0 ? -1 : 0) }
    // Clearing the sign bit, as `Swift.abs` does (so -0 and NaN come out the same).
    @inlinable func value(_ x: SIMD8<Float>) -> SIMD8<Float> {
        unsafeBitCast(unsafeBitCast(x, to: SIMD8<UInt32>.self) & 0x7fff_ffff, to: SIMD8<Float>.self)
    }
    @inlinable func derivative(_ x: SIMD8<Float>, _ y: SIMD8<Float>) -> SIMD8<Float> {
        SIMD8<Float>().replacing(with: 1, where: x .> 0).replacing(with: -1, where: x .< 0)
    }
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
    @inlinable func value(_ x: SIMD8<Float>) -> SIMD8<Float> {
        x.replacing(with: low, where: x .< low).replacing(with: high, where: x .> high)
    }
    @inlinable func derivative(_ x: SIMD8<Float>, _ y: SIMD8<Float>) -> SIMD8<Float> {
        SIMD8<Float>().replacing(with: 1, where: (x .>= low) .& (x .<= high))
    }
}

// MARK: - Comparison, selection, power and extremum functions

/// 1 where a > b, else 0.
@usableFromInline struct GreaterFunction: BinaryFunction {
    @usableFromInline init() {}
    @inlinable func value(_ a: Float, _ b: Float) -> Float { a > b ? 1 : 0 }
    @inlinable func value(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> { SIMD8<Float>().replacing(with: 1, where: a .> b) }
}

/// 1 where a < b, else 0.
@usableFromInline struct LessFunction: BinaryFunction {
    @usableFromInline init() {}
    @inlinable func value(_ a: Float, _ b: Float) -> Float { a < b ? 1 : 0 }
    @inlinable func value(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> { SIMD8<Float>().replacing(with: 1, where: a .< b) }
}

/// 1 where a >= b, else 0.
@usableFromInline struct GreaterOrEqualFunction: BinaryFunction {
    @usableFromInline init() {}
    @inlinable func value(_ a: Float, _ b: Float) -> Float { a >= b ? 1 : 0 }
    @inlinable func value(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> { SIMD8<Float>().replacing(with: 1, where: a .>= b) }
}

/// 1 where a <= b, else 0.
@usableFromInline struct LessOrEqualFunction: BinaryFunction {
    @usableFromInline init() {}
    @inlinable func value(_ a: Float, _ b: Float) -> Float { a <= b ? 1 : 0 }
    @inlinable func value(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> { SIMD8<Float>().replacing(with: 1, where: a .<= b) }
}

/// 1 where a == b, else 0.
@usableFromInline struct EqualFunction: BinaryFunction {
    @usableFromInline init() {}
    @inlinable func value(_ a: Float, _ b: Float) -> Float { a == b ? 1 : 0 }
    @inlinable func value(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> { SIMD8<Float>().replacing(with: 1, where: a .== b) }
}

/// A binary function with a fixed second operand, as a (non-differentiable) pointwise function.
@usableFromInline struct FixedRightOperand<F: BinaryFunction>: PointwiseFunction {
    @usableFromInline let function: F
    @usableFromInline let right: Float
    @usableFromInline init(_ function: F, _ right: Float) { self.function = function; self.right = right }
    @inlinable func value(_ x: Float) -> Float { function.value(x, right) }
    @inlinable func derivative(_ x: Float, _ y: Float) -> Float { 0 }
    @inlinable func value(_ x: SIMD8<Float>) -> SIMD8<Float> { function.value(x, SIMD8(repeating: right)) }
    @inlinable func derivative(_ x: SIMD8<Float>, _ y: SIMD8<Float>) -> SIMD8<Float> { SIMD8() }
}

/// `a` where the condition `c` is nonzero (NaN counts as nonzero), else `b`.
@usableFromInline struct SelectFunction: TernaryFunction {
    @usableFromInline init() {}
    @inlinable func value(_ c: Float, _ a: Float, _ b: Float) -> Float { c != 0 ? a : b }
    @inlinable func value(_ c: SIMD8<Float>, _ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> {
        b.replacing(with: a, where: c .!= 0)
    }
}

/// `v` where the condition `c` is nonzero (`whereNonzero`) or zero (otherwise), else 0: the
/// gradient of one branch of `where`.
@usableFromInline struct MaskFunction: BinaryFunction {
    @usableFromInline let whereNonzero: Bool
    @usableFromInline init(whereNonzero: Bool) { self.whereNonzero = whereNonzero }
    @inlinable func value(_ c: Float, _ v: Float) -> Float { (c != 0) == whereNonzero ? v : 0 }
    @inlinable func value(_ c: SIMD8<Float>, _ v: SIMD8<Float>) -> SIMD8<Float> {
        whereNonzero ? SIMD8<Float>().replacing(with: v, where: c .!= 0) : v.replacing(with: 0, where: c .!= 0)
    }
}

/// a^b (`powf`).
@usableFromInline struct PowerFunction: BinaryFunction {
    @usableFromInline init() {}
    @inlinable func value(_ a: Float, _ b: Float) -> Float { powf(a, b) }
}

/// g·∂(x^e)/∂x = g·e·x^(e−1), and 0 where e == 0.
@usableFromInline struct PowerBaseGradientFunction: TernaryFunction {
    @usableFromInline init() {}
    @inlinable func value(_ g: Float, _ x: Float, _ e: Float) -> Float { e == 0 ? 0 : g * e * powf(x, e - 1) }
}

/// g·∂(x^e)/∂e = g·x^e·log x, and 0 where x == 0 and e >= 0.
@usableFromInline struct PowerExponentGradientFunction: TernaryFunction {
    @usableFromInline init() {}
    @inlinable func value(_ g: Float, _ x: Float, _ e: Float) -> Float { x == 0 && e >= 0 ? 0 : g * powf(x, e) * logf(x) }
}

/// The smaller (`takeLess`) or larger of a and b; NaN if either is NaN.
@usableFromInline struct ExtremumFunction: BinaryFunction {
    @usableFromInline let takeLess: Bool
    @usableFromInline init(takeLess: Bool) { self.takeLess = takeLess }
    @inlinable func value(_ a: Float, _ b: Float) -> Float {
        if a.isNaN || b.isNaN { return .nan }
        return (takeLess ? a < b : a > b) ? a : b
    }
    @inlinable func value(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> {
        b.replacing(with: a, where: takeLess ? a .< b : a .> b).replacing(with: .nan, where: (a .!= a) .| (b .!= b))
    }
}

/// g times the share of the gradient of `minimum` / `maximum` that goes to the operand x (against
/// y): 1 where x wins, 0.5 at ties, 0 otherwise.
@usableFromInline struct ExtremumShareFunction: TernaryFunction {
    @usableFromInline let takeLess: Bool
    @usableFromInline init(takeLess: Bool) { self.takeLess = takeLess }
    @inlinable func value(_ g: Float, _ x: Float, _ y: Float) -> Float {
        g * (x == y ? 0.5 : ((takeLess ? x < y : x > y) ? 1 : 0))
    }
    @inlinable func value(_ g: SIMD8<Float>, _ x: SIMD8<Float>, _ y: SIMD8<Float>) -> SIMD8<Float> {
        g * SIMD8<Float>().replacing(with: 1, where: takeLess ? x .< y : x .> y).replacing(with: 0.5, where: x .== y)
    }
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
    public func gt(_ other: Tensor) -> Tensor { Tensor.binaryKernel(self, other, op: "gt", GreaterFunction()) }
    /// 1 where `self < other` (broadcasting), else 0. Not differentiable.
    public func lt(_ other: Tensor) -> Tensor { Tensor.binaryKernel(self, other, op: "lt", LessFunction()) }
    /// 1 where `self >= other` (broadcasting), else 0. Not differentiable.
    public func ge(_ other: Tensor) -> Tensor { Tensor.binaryKernel(self, other, op: "ge", GreaterOrEqualFunction()) }
    /// 1 where `self <= other` (broadcasting), else 0. Not differentiable.
    public func le(_ other: Tensor) -> Tensor { Tensor.binaryKernel(self, other, op: "le", LessOrEqualFunction()) }
    /// 1 where `self == other` (broadcasting), else 0. Not differentiable.
    public func eq(_ other: Tensor) -> Tensor { Tensor.binaryKernel(self, other, op: "eq", EqualFunction()) }
    /// 1 where `self > value`, else 0. Not differentiable.
    public func gt(_ value: Float) -> Tensor { Tensor.mapFunction(self, FixedRightOperand(GreaterFunction(), value)) }
    /// 1 where `self < value`, else 0. Not differentiable.
    public func lt(_ value: Float) -> Tensor { Tensor.mapFunction(self, FixedRightOperand(LessFunction(), value)) }
    /// 1 where `self >= value`, else 0. Not differentiable.
    public func ge(_ value: Float) -> Tensor { Tensor.mapFunction(self, FixedRightOperand(GreaterOrEqualFunction(), value)) }
    /// 1 where `self <= value`, else 0. Not differentiable.
    public func le(_ value: Float) -> Tensor { Tensor.mapFunction(self, FixedRightOperand(LessOrEqualFunction(), value)) }
    /// 1 where `self == value`, else 0. Not differentiable.
    public func eq(_ value: Float) -> Tensor { Tensor.mapFunction(self, FixedRightOperand(EqualFunction(), value)) }

    /// Picks `a` where `condition` is nonzero and `b` elsewhere, broadcasting all three (like
    /// `torch.where`). Gradients flow to `a` and `b`, none to `condition`.
    public static func `where`(_ condition: Tensor, _ a: Tensor, _ b: Tensor) -> Tensor {
        let out = ternaryKernel(condition, a, b, op: "where", SelectFunction())
        return recordOperation("where", result: out, inputs: [a, b]) { g in
            [a.requiresGrad ? binaryKernel(condition, g, op: "where", MaskFunction(whereNonzero: true)).sumToShape(a.shape) : nil,
             b.requiresGrad ? binaryKernel(condition, g, op: "where", MaskFunction(whereNonzero: false)).sumToShape(b.shape) : nil]
        }
    }
}

/// `a` raised to `b` element by element, with broadcasting (like `torch.pow(a, b)`). The gradient
/// for `b` is 0 where `a == 0` and `b >= 0`, and the gradient for `a` is 0 where `b == 0`.
public func pow(_ a: Tensor, _ b: Tensor) -> Tensor {
    let out = Tensor.binaryKernel(a, b, op: "pow", PowerFunction())
    return Tensor.recordOperation("pow", result: out, inputs: [a, b]) { g in
        let ga = a.requiresGrad ? Tensor.ternaryKernel(g, a, b, op: "pow", PowerBaseGradientFunction()).sumToShape(a.shape) : nil
        let gb = b.requiresGrad ? Tensor.ternaryKernel(g, a, b, op: "pow", PowerExponentGradientFunction()).sumToShape(b.shape) : nil
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
    let out = Tensor.binaryKernel(a, b, op: name, ExtremumFunction(takeLess: takeLess))
    return Tensor.recordOperation(name, result: out, inputs: [a, b]) { g in
        let share = ExtremumShareFunction(takeLess: takeLess)
        let ga = a.requiresGrad ? Tensor.ternaryKernel(g, a, b, op: name, share).sumToShape(a.shape) : nil
        let gb = b.requiresGrad ? Tensor.ternaryKernel(g, b, a, op: name, share).sumToShape(b.shape) : nil
        return [ga, gb]
    }
}

/// Picks `a` where `condition` is nonzero and `b` elsewhere, broadcasting all three (like
/// `torch.where`). Call it as `where(c, a, b)` (in backticks) or `Tensor.where(c, a, b)`.
public func `where`(_ condition: Tensor, _ a: Tensor, _ b: Tensor) -> Tensor {
    Tensor.where(condition, a, b)
}

#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

// What each derivative reads (the backward pass keeps only that).
extension NegateFunction { @usableFromInline var derivativeReadsInput: Bool { false }; @usableFromInline var derivativeReadsOutput: Bool { false } }
extension AddScalarFunction { @usableFromInline var derivativeReadsInput: Bool { false }; @usableFromInline var derivativeReadsOutput: Bool { false } }
extension MultiplyScalarFunction { @usableFromInline var derivativeReadsInput: Bool { false }; @usableFromInline var derivativeReadsOutput: Bool { false } }
extension ExpFunction { @usableFromInline var derivativeReadsInput: Bool { false } }
extension LogFunction { @usableFromInline var derivativeReadsOutput: Bool { false } }
extension SqrtFunction { @usableFromInline var derivativeReadsInput: Bool { false } }
extension RsqrtFunction { @usableFromInline var derivativeReadsInput: Bool { false } }
extension SquareFunction { @usableFromInline var derivativeReadsOutput: Bool { false } }
extension AbsFunction { @usableFromInline var derivativeReadsOutput: Bool { false } }
extension PowFunction { @usableFromInline var derivativeReadsOutput: Bool { false } }
extension ClampFunction { @usableFromInline var derivativeReadsOutput: Bool { false } }
