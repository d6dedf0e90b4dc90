import SensoriumTensor

/// Element loads from raw `.npy` data (unaligned, optionally byte-swapped), and layout helpers.
protocol NPYLoadable {
    static func load(_ base: UnsafeRawPointer, _ index: Int, swapped: Bool) -> Self
}

extension NPYLoadable where Self: FixedWidthInteger {
    @inline(__always)
    static func load(_ base: UnsafeRawPointer, _ index: Int, swapped: Bool) -> Self {
        let v = base.loadUnaligned(fromByteOffset: index &* MemoryLayout<Self>.size, as: Self.self)
        return swapped ? v.byteSwapped : v
    }
}

extension Int8: NPYLoadable {}
extension Int16: NPYLoadable {}
extension Int32: NPYLoadable {}
extension Int64: NPYLoadable {}
extension UInt8: NPYLoadable {}
extension UInt16: NPYLoadable {}
extension UInt32: NPYLoadable {}
extension UInt64: NPYLoadable {}

extension Float: NPYLoadable {
    @inline(__always)
    static func load(_ base: UnsafeRawPointer, _ index: Int, swapped: Bool) -> Float {
        Float(bitPattern: UInt32.load(base, index, swapped: swapped))
    }
}

extension Double: NPYLoadable {
    @inline(__always)
    static func load(_ base: UnsafeRawPointer, _ index: Int, swapped: Bool) -> Double {
        Double(bitPattern: UInt64.load(base, index, swapped: swapped))
    }
}

/// IEEE binary16 bits (kept as bits so the code also builds where `Float16` is unavailable).
struct NPYHalf: NPYLoadable {
    var bits: UInt16

    @inline(__always)
    static func load(_ base: UnsafeRawPointer, _ index: Int, swapped: Bool) -> NPYHalf {
        NPYHalf(bits: UInt16.load(base, index, swapped: swapped))
    }

    /// Exact conversion to Float (subnormals, infinities and NaN payloads included).
    @inline(__always)
    var float: Float {
        let sign = UInt32(bits & 0x8000) << 16
        let exponent = UInt32(bits >> 10) & 0x1F
        let mantissa = UInt32(bits & 0x03FF)
        if exponent == 0x1F {
            return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13))
        }
        if exponent == 0 {
            // Zero or subnormal: mantissa * 2^-24.
            let magnitude = Float(mantissa) * 0x1p-24
            return sign != 0 ? -magnitude : magnitude
        }
        return Float(bitPattern: sign | ((exponent + 112) << 23) | (mantissa << 13))
    }

    /// Round-to-nearest-even conversion from Float.
    init(_ value: Float) {
        let f = value.bitPattern
        let sign = UInt16((f >> 16) & 0x8000)
        let exponent = Int((f >> 23) & 0xFF)
        let mantissa = f & 0x7F_FFFF
        if exponent == 0xFF {
            bits = sign | 0x7C00 | (mantissa != 0 ? UInt16(0x200 | (mantissa >> 13)) : 0)
            return
        }
        let e = exponent - 127 + 15
        if e >= 0x1F { bits = sign | 0x7C00; return }
        if e <= 0 {
            if e < -10 { bits = sign; return }
            let m = mantissa | 0x80_0000
            let shift = UInt32(14 - e)
            var half = m >> shift
            let rem = m & ((1 << shift) - 1)
            let halfway = UInt32(1) << (shift - 1)
            if rem > halfway || (rem == halfway && (half & 1) == 1) { half += 1 }
            bits = sign | UInt16(half)
            return
        }
        var half = UInt32(e) << 10 | (mantissa >> 13)
        let rem = mantissa & 0x1FFF
        if rem > 0x1000 || (rem == 0x1000 && (half & 1) == 1) { half += 1 }
        bits = sign | UInt16(half)
    }

    init(bits: UInt16) { self.bits = bits }
}

/// Loads `count` elements of `S` and stores `transform(element)` into `dst` (split across cores for
/// large arrays).
@inline(__always)
func npyConvert<S: NPYLoadable, D>(_ src: UnsafeRawPointer, count: Int, swapped: Bool,
                                   into dst: UnsafeMutablePointer<D>, _ transform: (S) -> D) {
    Parallel.forRanges(count, minimumPerThread: 1 << 18) { range in
        for k in range { (dst + k).initialize(to: transform(S.load(src, k, swapped: swapped))) }
    }
}

/// Rearranges column-major (Fortran) data of `shape` into row-major order.
func npyFortranToC<T>(_ src: UnsafePointer<T>, shape: [Int], into dst: UnsafeMutablePointer<T>) {
    let count = shape.reduce(1, *)
    guard count > 0 else { return }
    let n = shape.count
    if n <= 1 {
        dst.update(from: src, count: count)
        return
    }
    var fstride = [Int](repeating: 1, count: n)
    for a in 1..<n { fstride[a] = fstride[a - 1] * shape[a - 1] }
    let inner = shape[n - 1]
    let innerStride = fstride[n - 1]
    var index = [Int](repeating: 0, count: n - 1)
    var base = 0
    var out = 0
    while true {
        for j in 0..<inner { dst[out + j] = src[base + j * innerStride] }
        out += inner
        var a = n - 2
        while a >= 0 {
            index[a] += 1
            base += fstride[a]
            if index[a] < shape[a] { break }
            base -= fstride[a] * shape[a]
            index[a] = 0
            a -= 1
        }
        if a < 0 { break }
    }
}

/// Builds an array of `count` elements by letting `fill` initialise them in storage order, then
/// reorders Fortran-ordered data into C order.
func npyMaterialize<T>(count: Int, shape: [Int], fortran: Bool,
                       _ fill: (UnsafeMutablePointer<T>) throws -> Void) rethrows -> [T] {
    let storageOrder = try [T](unsafeUninitializedCapacity: count) { buf, initialized in
        if count > 0 { try fill(buf.baseAddress!) }
        initialized = count
    }
    guard fortran, shape.count > 1, count > 0 else { return storageOrder }
    return [T](unsafeUninitializedCapacity: count) { buf, initialized in
        storageOrder.withUnsafeBufferPointer { src in
            // Initialise first (trivial for numbers; Strings need real initialisation).
            buf.baseAddress!.initialize(from: src.baseAddress!, count: count)
            npyFortranToC(src.baseAddress!, shape: shape, into: buf.baseAddress!)
        }
        initialized = count
    }
}
