internal import CHDF5

/// The location an operation works on, for error messages.
struct HDF5Context {
    let file: String
    let object: String

    func error(_ kind: DataError.Kind, _ call: String, expected: String, found: String) -> DataError {
        DataError(kind, path: file, object: object, operation: call, expected: expected, found: found)
    }

    /// An error for a failed libhdf5 call, carrying (and clearing) the thread's HDF5 error stack.
    /// `expected` says what the call should have given (default: an intact, readable object).
    func failure(_ call: String, kind: DataError.Kind = .callFailed, expected: String? = nil) -> DataError {
        var buffer = [CChar](repeating: 0, count: 2048)
        let n = buffer.withUnsafeMutableBufferPointer { swift_H5E_collect($0.baseAddress, $0.count) }
        let stack = n > 0 ? hdf5String(buffer) : ""
        // libhdf5 says "checksum" for both metadata ("incorrect metadata checksum") and Fletcher32
        // data ("data error detected by Fletcher32 checksum") mismatches.
        let corrupt = stack.lowercased().contains("checksum")
        let found = stack.isEmpty ? "a failure without a libhdf5 error stack" : "libhdf5 errors: " + stack
        if corrupt {
            return error(.corrupted, call, expected: "matching metadata and data checksums",
                         found: "a checksum mismatch, the file is corrupted; " + found)
        }
        return error(kind, call, expected: expected ?? "\(call) to succeed", found: found)
    }

    @discardableResult
    func check(_ status: herr_t, _ call: String) throws -> herr_t {
        if status < 0 { throw failure(call) }
        return status
    }

    func checkID(_ id: hid_t, _ call: String, kind: DataError.Kind = .callFailed) throws -> hid_t {
        if id < 0 { throw failure(call, kind: kind) }
        return id
    }

    func attribute(_ name: String) -> HDF5Context {
        HDF5Context(file: file, object: object + "@" + name)
    }

    func child(_ path: String) -> HDF5Context {
        HDF5Context(file: file, object: hdf5Join(object, path))
    }
}

/// Turns off HDF5's error printing on the calling thread (the setting is per thread in thread-safe
/// builds). Every public entry point calls it first.
@inline(__always)
func hdf5Enter() { swift_H5E_silence() }

/// `base` joined with a relative `path`; absolute paths are returned as they are.
func hdf5Join(_ base: String, _ path: String) -> String {
    if path.hasPrefix("/") { return path }
    if path.isEmpty || path == "." { return base }
    return base.hasSuffix("/") ? base + path : base + "/" + path
}

/// Runs `body` with `id` and closes it afterwards with `close` (ignoring close failures).
@inline(__always)
func hdf5Using<R>(_ id: hid_t, _ close: (hid_t) -> herr_t, _ body: (hid_t) throws -> R) rethrows -> R {
    defer { _ = close(id) }
    return try body(id)
}

// MARK: Element types

/// Scalar types stored in HDF5 datasets and attributes.
public enum HDF5ScalarKind: Sendable, Equatable {
    case float32, float64, int8, int16, int32, int64, uint8, uint16, uint32, uint64
}

/// A Swift number type that maps to an HDF5 native type (`Float`, `Double`, `Int8`...`Int64`, `Int`,
/// `UInt8`...`UInt64`). libhdf5 converts between numeric types on read.
public protocol HDF5Scalar: Sendable {
    /// The HDF5 type used for values of this type.
    static var hdf5Kind: HDF5ScalarKind { get }
}

extension Float: HDF5Scalar { public static var hdf5Kind: HDF5ScalarKind { .float32 } }
extension Double: HDF5Scalar { public static var hdf5Kind: HDF5ScalarKind { .float64 } }
extension Int8: HDF5Scalar { public static var hdf5Kind: HDF5ScalarKind { .int8 } }
extension Int16: HDF5Scalar { public static var hdf5Kind: HDF5ScalarKind { .int16 } }
extension Int32: HDF5Scalar { public static var hdf5Kind: HDF5ScalarKind { .int32 } }
extension Int64: HDF5Scalar { public static var hdf5Kind: HDF5ScalarKind { .int64 } }
extension Int: HDF5Scalar {
    public static var hdf5Kind: HDF5ScalarKind { MemoryLayout<Int>.size == 8 ? .int64 : .int32 }
}
extension UInt8: HDF5Scalar { public static var hdf5Kind: HDF5ScalarKind { .uint8 } }
extension UInt16: HDF5Scalar { public static var hdf5Kind: HDF5ScalarKind { .uint16 } }
extension UInt32: HDF5Scalar { public static var hdf5Kind: HDF5ScalarKind { .uint32 } }
extension UInt64: HDF5Scalar { public static var hdf5Kind: HDF5ScalarKind { .uint64 } }

extension HDF5ScalarKind {
    /// The HDF5 native type id (owned by the library; never closed).
    var nativeType: hid_t {
        switch self {
        case .float32: return swift_H5T_NATIVE_FLOAT()
        case .float64: return swift_H5T_NATIVE_DOUBLE()
        case .int8: return swift_H5T_NATIVE_INT8()
        case .int16: return swift_H5T_NATIVE_INT16()
        case .int32: return swift_H5T_NATIVE_INT32()
        case .int64: return swift_H5T_NATIVE_INT64()
        case .uint8: return swift_H5T_NATIVE_UINT8()
        case .uint16: return swift_H5T_NATIVE_UINT16()
        case .uint32: return swift_H5T_NATIVE_UINT32()
        case .uint64: return swift_H5T_NATIVE_UINT64()
        }
    }
}

/// The element type of a stored dataset or attribute.
public enum HDF5ElementType: Sendable, Equatable, CustomStringConvertible {
    /// IEEE float of `bytes` bytes.
    case float(bytes: Int)
    /// Two's complement integer of `bytes` bytes.
    case signedInteger(bytes: Int)
    /// Unsigned integer of `bytes` bytes.
    case unsignedInteger(bytes: Int)
    /// Strings: variable length, or fixed at `bytes` bytes.
    case string(variableLength: Bool, bytes: Int)
    /// Any other HDF5 class (compound, enum, reference, ...), by name.
    case other(String)

    /// Whether values can be read as numbers.
    public var isNumeric: Bool {
        switch self {
        case .float, .signedInteger, .unsignedInteger: return true
        default: return false
        }
    }

    public var description: String {
        switch self {
        case .float(let b): return "float\(b * 8)"
        case .signedInteger(let b): return "int\(b * 8)"
        case .unsignedInteger(let b): return "uint\(b * 8)"
        case .string(let v, let b): return v ? "variable-length string" : "string[\(b)]"
        case .other(let name): return name
        }
    }

    /// Describes an HDF5 datatype id.
    init(typeID t: hid_t) {
        let size = H5Tget_size(t)
        let cls = H5Tget_class(t)
        if cls == H5T_FLOAT {
            self = .float(bytes: size)
        } else if cls == H5T_INTEGER {
            self = H5Tget_sign(t) == H5T_SGN_NONE ? .unsignedInteger(bytes: size) : .signedInteger(bytes: size)
        } else if cls == H5T_STRING {
            self = .string(variableLength: H5Tis_variable_str(t) > 0, bytes: size)
        } else if cls == H5T_COMPOUND {
            self = .other("compound")
        } else if cls == H5T_ENUM {
            self = .other("enum")
        } else if cls == H5T_ARRAY {
            self = .other("array")
        } else if cls == H5T_VLEN {
            self = .other("vlen")
        } else if cls == H5T_REFERENCE {
            self = .other("reference")
        } else {
            self = .other("class \(cls.rawValue)")
        }
    }
}

// MARK: Strings

/// Creates a variable-length UTF-8 string type (as h5py writes `str`). Caller closes it.
func hdf5VariableStringType(_ ctx: HDF5Context) throws -> hid_t {
    let t = try ctx.checkID(H5Tcopy(swift_H5T_C_S1()), "H5Tcopy")
    guard H5Tset_size(t, swift_H5T_VARIABLE()) >= 0, H5Tset_cset(t, H5T_CSET_UTF8) >= 0 else {
        _ = H5Tclose(t)
        throw ctx.failure("H5Tset_size")
    }
    return t
}

/// Reads `count` strings from a dataset or attribute whose stored type is `fileType`, through `read`
/// (which receives the memory type and destination buffer).
func hdf5ReadStrings(count: Int, fileType: hid_t, ctx: HDF5Context,
                     read: (hid_t, UnsafeMutableRawPointer) -> herr_t, call: String) throws -> [String] {
    guard H5Tget_class(fileType) == H5T_STRING else {
        throw ctx.error(.wrongDType, call, expected: "strings", found: "\(HDF5ElementType(typeID: fileType))")
    }
    if H5Tis_variable_str(fileType) > 0 {
        let memType = try hdf5VariableStringType(ctx)
        defer { _ = H5Tclose(memType) }
        _ = H5Tset_cset(memType, H5Tget_cset(fileType))
        var pointers = [UnsafeMutablePointer<CChar>?](repeating: nil, count: max(count, 1))
        let status = pointers.withUnsafeMutableBytes { read(memType, $0.baseAddress!) }
        if status < 0 { throw ctx.failure(call) }
        defer { for p in pointers where p != nil { _ = H5free_memory(p) } }
        return pointers.prefix(count).map { $0.map { String(cString: $0) } ?? "" }
    }
    let width = H5Tget_size(fileType)
    let memType = try ctx.checkID(H5Tcopy(fileType), "H5Tcopy")
    defer { _ = H5Tclose(memType) }
    let spacePadded = H5Tget_strpad(fileType) == H5T_STR_SPACEPAD
    var bytes = [UInt8](repeating: 0, count: max(width * count, 1))
    let status = bytes.withUnsafeMutableBytes { read(memType, $0.baseAddress!) }
    if status < 0 { throw ctx.failure(call) }
    return (0..<count).map { i in
        var slice = bytes[(i * width)..<((i + 1) * width)]
        if let nul = slice.firstIndex(of: 0) { slice = slice[slice.startIndex..<nul] }
        if spacePadded { while slice.last == 0x20 { slice = slice.dropLast() } }
        return String(decoding: slice, as: UTF8.self)
    }
}

/// Decodes a NUL-terminated C string held in an array.
func hdf5String(_ chars: [CChar]) -> String {
    String(decoding: chars.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// Calls `body` with an array of C string pointers for `strings` (valid during the call).
func hdf5WithCStrings<R>(_ strings: [String], _ body: (UnsafeRawPointer) throws -> R) rethrows -> R {
    var pointers: [UnsafePointer<CChar>?] = strings.map { s in
        let units = Array(s.utf8CString)
        let p = UnsafeMutablePointer<CChar>.allocate(capacity: units.count)
        p.initialize(from: units, count: units.count)
        return UnsafePointer(p)
    }
    defer { for p in pointers { p.map { UnsafeMutablePointer(mutating: $0).deallocate() } } }
    if pointers.isEmpty { pointers.append(nil) }
    return try pointers.withUnsafeBytes { try body($0.baseAddress!) }
}
