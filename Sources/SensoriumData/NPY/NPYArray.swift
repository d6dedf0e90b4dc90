import SensoriumTensor

/// Raw element bytes of an `.npy` array: heap memory or a read-only memory map of the file.
final class NPYBuffer: @unchecked Sendable {
    // Immutable after creation (mapped memory is PROT_READ), hence safe to share.
    enum Owner {
        case heap
        case mapping(base: UnsafeMutableRawPointer, length: Int)
    }

    let base: UnsafeMutableRawPointer
    let byteCount: Int
    let owner: Owner

    /// Allocates `byteCount` bytes for the caller to fill completely.
    init(byteCount: Int) {
        self.byteCount = byteCount
        self.base = UnsafeMutableRawPointer.allocate(byteCount: max(byteCount, 1), alignment: 64)
        self.owner = .heap
    }

    init(bytes: UnsafeRawBufferPointer) {
        self.byteCount = bytes.count
        self.base = UnsafeMutableRawPointer.allocate(byteCount: max(bytes.count, 1), alignment: 64)
        if let src = bytes.baseAddress { self.base.copyMemory(from: src, byteCount: bytes.count) }
        self.owner = .heap
    }

    init(mapping: UnsafeMutableRawPointer, length: Int, dataOffset: Int, byteCount: Int) {
        self.base = mapping + dataOffset
        self.byteCount = byteCount
        self.owner = .mapping(base: mapping, length: length)
    }

    var isMapped: Bool {
        if case .mapping = owner { return true }
        return false
    }

    deinit {
        switch owner {
        case .heap: base.deallocate()
        case .mapping(let mapBase, let length): npyUnmap(mapBase, length)
        }
    }
}

/// An array read from (or to be written to) an `.npy` file: shape, dtype, memory layout and the raw
/// element bytes. Accessors convert to Swift arrays in row-major (C) order, whatever the layout on disk.
///
/// ```swift
/// let a = try NPYFile.read("meta/trials/tiers.npy")
/// let tiers = try a.strings()            // ["train", "oracle", ...]
/// let x = try NPYFile.read("x.npy").tensor()
/// ```
public struct NPYArray: Sendable {
    /// Extent of each axis.
    public let shape: [Int]
    /// Element type.
    public let dtype: NPYDType
    /// Byte order of the stored elements.
    public let byteOrder: NPYByteOrder
    /// Whether the stored elements are in column-major (Fortran) order.
    public let fortranOrder: Bool
    /// The file this array was read from, or `<memory>`; used in error messages.
    public let source: String
    let buffer: NPYBuffer

    init(shape: [Int], dtype: NPYDType, byteOrder: NPYByteOrder, fortranOrder: Bool, source: String, buffer: NPYBuffer) {
        self.shape = shape
        self.dtype = dtype
        self.byteOrder = dtype.hasByteOrder ? byteOrder : .notApplicable
        self.fortranOrder = fortranOrder
        self.source = source
        self.buffer = buffer
    }

    /// Number of elements.
    public var count: Int { shape.reduce(1, *) }
    /// Number of axes.
    public var rank: Int { shape.count }
    /// `descr` as NumPy writes it, e.g. `<f4`.
    public var descr: String { String(byteOrder.character) + dtype.typeCode }
    /// Whether the bytes are a memory map of the file rather than a heap copy.
    public var isMemoryMapped: Bool { buffer.isMapped }
    /// Size of the data section in bytes.
    public var byteCount: Int { buffer.byteCount }

    /// Runs `body` with the raw element bytes, in the stored order and byte order.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(start: buffer.base, count: buffer.byteCount))
    }

    private var swapped: Bool { byteOrder != .notApplicable && byteOrder != NPYByteOrder.native }

    // MARK: Construction

    /// An array over raw element bytes laid out as described. Throws when `bytes` does not hold
    /// exactly `shape` elements of `dtype`.
    public init(dtype: NPYDType, byteOrder: NPYByteOrder = .little, fortranOrder: Bool = false,
                shape: [Int], bytes: [UInt8]) throws {
        guard shape.allSatisfy({ $0 >= 0 }) else {
            throw DataError(.invalidArgument, path: "<memory>", expected: "non-negative extents", found: "shape \(shape)")
        }
        var expected = dtype.itemSize
        for d in shape {
            let (p, overflow) = expected.multipliedReportingOverflow(by: d)
            guard !overflow else {
                throw DataError(.invalidArgument, path: "<memory>", expected: "a shape whose byte size fits 64 bits", found: "shape \(shape)")
            }
            expected = p
        }
        guard bytes.count == expected else {
            throw DataError.npyDataSizeMismatch(path: "<memory>", shape: shape,
                                            descr: String(byteOrder.character) + dtype.typeCode,
                                            expectedBytes: expected, foundBytes: bytes.count)
        }
        let buffer = bytes.withUnsafeBytes { NPYBuffer(bytes: $0) }
        self.init(shape: shape, dtype: dtype, byteOrder: byteOrder, fortranOrder: fortranOrder,
                  source: "<memory>", buffer: buffer)
    }

    private static func checkCount(_ n: Int, _ shape: [Int], _ what: String) {
        precondition(shape.allSatisfy { $0 >= 0 } && n == shape.reduce(1, *),
                     "NPYArray(\(what):shape:): \(n) values do not fill shape \(shape)")
    }

    private static func fromPOD<T>(_ values: [T], shape: [Int], dtype: NPYDType) -> NPYArray {
        let buffer = values.withUnsafeBytes { NPYBuffer(bytes: $0) }
        return NPYArray(shape: shape, dtype: dtype, byteOrder: .native, fortranOrder: false,
                        source: "<memory>", buffer: buffer)
    }

    /// A float32 array holding `values` in row-major order.
    public init(floats values: [Float], shape: [Int]) {
        Self.checkCount(values.count, shape, "floats")
        self = Self.fromPOD(values, shape: shape, dtype: .float32)
    }

    /// A float32 array holding `values` (1-D).
    public init(floats values: [Float]) { self.init(floats: values, shape: [values.count]) }

    /// A float64 array holding `values` in row-major order.
    public init(doubles values: [Double], shape: [Int]) {
        Self.checkCount(values.count, shape, "doubles")
        self = Self.fromPOD(values, shape: shape, dtype: .float64)
    }

    /// An int64 array holding `values` in row-major order.
    public init(ints values: [Int], shape: [Int]) {
        Self.checkCount(values.count, shape, "ints")
        self = Self.fromPOD(values.map { Int64($0) }, shape: shape, dtype: .int64)
    }

    /// An int64 array holding `values` (1-D).
    public init(ints values: [Int]) { self.init(ints: values, shape: [values.count]) }

    /// An int32 array holding `values` in row-major order.
    public init(int32s values: [Int32], shape: [Int]) {
        Self.checkCount(values.count, shape, "int32s")
        self = Self.fromPOD(values, shape: shape, dtype: .int32)
    }

    /// A uint8 array holding `values` in row-major order.
    public init(uint8s values: [UInt8], shape: [Int]) {
        Self.checkCount(values.count, shape, "uint8s")
        self = Self.fromPOD(values, shape: shape, dtype: .uint8)
    }

    /// A bool (`|b1`) array holding `values` in row-major order.
    public init(bools values: [Bool], shape: [Int]) {
        Self.checkCount(values.count, shape, "bools")
        self = Self.fromPOD(values.map { $0 ? UInt8(1) : 0 }, shape: shape, dtype: .bool)
    }

    /// A fixed-width unicode (`<U n`) array holding `values`; `n` is the longest string's length in
    /// Unicode scalars (at least 1). Trailing NUL characters do not survive a round trip (as in NumPy).
    public init(strings values: [String], shape: [Int]) {
        Self.checkCount(values.count, shape, "strings")
        let scalars = values.map { Array($0.unicodeScalars).map { UInt32($0.value) } }
        let width = max(1, scalars.map(\.count).max() ?? 1)
        var units = [UInt32](repeating: 0, count: width * values.count)
        for (i, s) in scalars.enumerated() {
            for (j, u) in s.enumerated() { units[i * width + j] = u.littleEndian }
        }
        let buffer = units.withUnsafeBytes { NPYBuffer(bytes: $0) }
        self.init(shape: shape, dtype: .unicode(length: width), byteOrder: .little, fortranOrder: false,
                  source: "<memory>", buffer: buffer)
    }

    /// A unicode array holding `values` (1-D).
    public init(strings values: [String]) { self.init(strings: values, shape: [values.count]) }

    /// A float32 array with the tensor's shape and elements.
    public init(tensor: Tensor) {
        let buffer = tensor.withUnsafeBufferPointer { NPYBuffer(bytes: UnsafeRawBufferPointer($0)) }
        self.init(shape: tensor.shape, dtype: .float32, byteOrder: .native, fortranOrder: false,
                  source: "<memory>", buffer: buffer)
    }

    // MARK: Accessors

    private func mismatch(_ requested: String) -> DataError {
        DataError.npyTypeMismatch(path: source, requested: requested, found: descr)
    }

    /// Converts numeric and bool elements into `dst` (storage order) as Float.
    private func decodeFloats(into dst: UnsafeMutablePointer<Float>) throws {
        let src = UnsafeRawPointer(buffer.base), n = count, sw = swapped
        switch dtype {
        case .float32:
            if !sw {
                UnsafeMutableRawPointer(dst).copyMemory(from: src, byteCount: n * 4)
            } else {
                npyConvert(src, count: n, swapped: true, into: dst) { (x: Float) in x }
            }
        case .float64:
            if !sw && Int(bitPattern: src) % MemoryLayout<Double>.alignment == 0 {
                // Common case (datasets saved as float64): a plain typed loop, fast even in debug builds.
                let s = src.assumingMemoryBound(to: Double.self)
                Parallel.forRanges(n, minimumPerThread: 1 << 18) { r in
                    for k in r { (dst + k).initialize(to: Float(s[k])) }
                }
            } else {
                npyConvert(src, count: n, swapped: sw, into: dst) { (x: Double) in Float(x) }
            }
        case .float16: npyConvert(src, count: n, swapped: sw, into: dst) { (x: NPYHalf) in x.float }
        case .int8: npyConvert(src, count: n, swapped: sw, into: dst) { (x: Int8) in Float(x) }
        case .int16: npyConvert(src, count: n, swapped: sw, into: dst) { (x: Int16) in Float(x) }
        case .int32: npyConvert(src, count: n, swapped: sw, into: dst) { (x: Int32) in Float(x) }
        case .int64: npyConvert(src, count: n, swapped: sw, into: dst) { (x: Int64) in Float(x) }
        case .uint8: npyConvert(src, count: n, swapped: sw, into: dst) { (x: UInt8) in Float(x) }
        case .uint16: npyConvert(src, count: n, swapped: sw, into: dst) { (x: UInt16) in Float(x) }
        case .uint32: npyConvert(src, count: n, swapped: sw, into: dst) { (x: UInt32) in Float(x) }
        case .uint64: npyConvert(src, count: n, swapped: sw, into: dst) { (x: UInt64) in Float(x) }
        case .bool: npyConvert(src, count: n, swapped: false, into: dst) { (x: UInt8) in x != 0 ? 1 : 0 }
        case .unicode, .bytes: throw mismatch("floats")
        }
    }

    /// Converts numeric and bool elements into `dst` (storage order) as Double.
    private func decodeDoubles(into dst: UnsafeMutablePointer<Double>) throws {
        let src = UnsafeRawPointer(buffer.base), n = count, sw = swapped
        switch dtype {
        case .float32: npyConvert(src, count: n, swapped: sw, into: dst) { (x: Float) in Double(x) }
        case .float64: npyConvert(src, count: n, swapped: sw, into: dst) { (x: Double) in x }
        case .float16: npyConvert(src, count: n, swapped: sw, into: dst) { (x: NPYHalf) in Double(x.float) }
        case .int8: npyConvert(src, count: n, swapped: sw, into: dst) { (x: Int8) in Double(x) }
        case .int16: npyConvert(src, count: n, swapped: sw, into: dst) { (x: Int16) in Double(x) }
        case .int32: npyConvert(src, count: n, swapped: sw, into: dst) { (x: Int32) in Double(x) }
        case .int64: npyConvert(src, count: n, swapped: sw, into: dst) { (x: Int64) in Double(x) }
        case .uint8: npyConvert(src, count: n, swapped: sw, into: dst) { (x: UInt8) in Double(x) }
        case .uint16: npyConvert(src, count: n, swapped: sw, into: dst) { (x: UInt16) in Double(x) }
        case .uint32: npyConvert(src, count: n, swapped: sw, into: dst) { (x: UInt32) in Double(x) }
        case .uint64: npyConvert(src, count: n, swapped: sw, into: dst) { (x: UInt64) in Double(x) }
        case .bool: npyConvert(src, count: n, swapped: false, into: dst) { (x: UInt8) in x != 0 ? 1 : 0 }
        case .unicode, .bytes: throw mismatch("doubles")
        }
    }

    /// The elements as Float, in row-major order (converted from any numeric or bool dtype).
    public func floats() throws -> [Float] {
        try npyMaterialize(count: count, shape: shape, fortran: fortranOrder) { try decodeFloats(into: $0) }
    }

    /// The elements as Double, in row-major order (converted from any numeric or bool dtype).
    public func doubles() throws -> [Double] {
        try npyMaterialize(count: count, shape: shape, fortran: fortranOrder) { try decodeDoubles(into: $0) }
    }

    /// The elements as Int, in row-major order, from integer and bool dtypes. Float dtypes are refused
    /// (use `floats()`); uint64 values above `Int.max` throw `valueOutOfRange`.
    public func ints() throws -> [Int] {
        let src = UnsafeRawPointer(buffer.base), n = count, sw = swapped
        if case .uint64 = dtype {
            for k in 0..<n where UInt64.load(src, k, swapped: sw) > UInt64(Int.max) {
                throw DataError.npyValueOutOfRange(path: source, value: "\(UInt64.load(src, k, swapped: sw))", requested: "Int")
            }
        }
        return try npyMaterialize(count: n, shape: shape, fortran: fortranOrder) { (dst: UnsafeMutablePointer<Int>) in
            switch dtype {
            case .int8: npyConvert(src, count: n, swapped: sw, into: dst) { (x: Int8) in Int(x) }
            case .int16: npyConvert(src, count: n, swapped: sw, into: dst) { (x: Int16) in Int(x) }
            case .int32: npyConvert(src, count: n, swapped: sw, into: dst) { (x: Int32) in Int(x) }
            case .int64: npyConvert(src, count: n, swapped: sw, into: dst) { (x: Int64) in Int(x) }
            case .uint8, .bool: npyConvert(src, count: n, swapped: false, into: dst) { (x: UInt8) in Int(x) }
            case .uint16: npyConvert(src, count: n, swapped: sw, into: dst) { (x: UInt16) in Int(x) }
            case .uint32: npyConvert(src, count: n, swapped: sw, into: dst) { (x: UInt32) in Int(x) }
            case .uint64: npyConvert(src, count: n, swapped: sw, into: dst) { (x: UInt64) in Int(x) }
            case .float16, .float32, .float64, .unicode, .bytes: throw mismatch("ints")
            }
        }
    }

    /// The elements as Bool, in row-major order: bool arrays directly, numeric arrays as `x != 0`.
    public func bools() throws -> [Bool] {
        if case .bool = dtype {
            let src = UnsafeRawPointer(buffer.base)
            return npyMaterialize(count: count, shape: shape, fortran: fortranOrder) { (dst: UnsafeMutablePointer<Bool>) in
                npyConvert(src, count: count, swapped: false, into: dst) { (x: UInt8) in x != 0 }
            }
        }
        guard dtype.isNumeric else { throw mismatch("bools") }
        return try doubles().map { $0 != 0 }
    }

    /// The elements of a unicode (`U`) or byte-string (`S`) array, in row-major order, with trailing
    /// NULs removed (as NumPy does). Byte strings are decoded as UTF-8.
    public func strings() throws -> [String] {
        let src = UnsafeRawPointer(buffer.base), n = count, sw = swapped
        switch dtype {
        case .unicode(let width):
            return npyMaterialize(count: n, shape: shape, fortran: fortranOrder) { (dst: UnsafeMutablePointer<String>) in
                var scalars = String.UnicodeScalarView()
                for k in 0..<n {
                    var end = width
                    while end > 0 && UInt32.load(src, k * width + end - 1, swapped: sw) == 0 { end -= 1 }
                    scalars.removeAll(keepingCapacity: true)
                    for j in 0..<end {
                        let u = UInt32.load(src, k * width + j, swapped: sw)
                        scalars.append(Unicode.Scalar(u) ?? "\u{FFFD}")
                    }
                    (dst + k).initialize(to: String(scalars))
                }
            }
        case .bytes(let width):
            return npyMaterialize(count: n, shape: shape, fortran: fortranOrder) { (dst: UnsafeMutablePointer<String>) in
                let bytes = src.assumingMemoryBound(to: UInt8.self)
                for k in 0..<n {
                    var end = width
                    while end > 0 && bytes[k * width + end - 1] == 0 { end -= 1 }
                    (dst + k).initialize(to: String(decoding: UnsafeBufferPointer(start: bytes + k * width, count: end),
                                                    as: UTF8.self))
                }
            }
        default:
            throw mismatch("strings")
        }
    }

    /// The elements as a Float32 tensor of the same shape (a copy, in row-major order).
    public func tensor() throws -> Tensor {
        let storage = TensorStorage(uninitializedCount: count)
        if fortranOrder && rank > 1 {
            let values = try floats()
            values.withUnsafeBufferPointer { storage.pointer.update(from: $0.baseAddress!, count: values.count) }
        } else if count > 0 {
            try decodeFloats(into: storage.pointer)
        }
        return Tensor(storage: storage, shape: shape)
    }
}
