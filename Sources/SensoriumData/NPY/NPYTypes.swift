/// Element type of an `.npy` array (the `descr` field of its header, without the byte order).
public enum NPYDType: Hashable, Sendable, CustomStringConvertible {
    /// IEEE half precision (`f2`).
    case float16
    /// IEEE single precision (`f4`).
    case float32
    /// IEEE double precision (`f8`).
    case float64
    /// Signed integers (`i1`, `i2`, `i4`, `i8`).
    case int8, int16, int32, int64
    /// Unsigned integers (`u1`, `u2`, `u4`, `u8`).
    case uint8, uint16, uint32, uint64
    /// NumPy `bool` (`b1`), one byte per element.
    case bool
    /// Fixed-width unicode strings of `length` UCS-4 code units (`U<length>`).
    case unicode(length: Int)
    /// Fixed-width byte strings of `length` bytes (`S<length>`).
    case bytes(length: Int)

    /// Bytes per element.
    public var itemSize: Int {
        switch self {
        case .int8, .uint8, .bool: return 1
        case .float16, .int16, .uint16: return 2
        case .float32, .int32, .uint32: return 4
        case .float64, .int64, .uint64: return 8
        case .unicode(let n): return 4 * n
        case .bytes(let n): return n
        }
    }

    /// The type code without byte order, as NumPy writes it (`f4`, `U7`, `b1`, ...).
    public var typeCode: String {
        switch self {
        case .float16: return "f2"
        case .float32: return "f4"
        case .float64: return "f8"
        case .int8: return "i1"
        case .int16: return "i2"
        case .int32: return "i4"
        case .int64: return "i8"
        case .uint8: return "u1"
        case .uint16: return "u2"
        case .uint32: return "u4"
        case .uint64: return "u8"
        case .bool: return "b1"
        case .unicode(let n): return "U\(n)"
        case .bytes(let n): return "S\(n)"
        }
    }

    /// Whether elements are numbers or booleans (everything but strings).
    public var isNumeric: Bool {
        switch self {
        case .unicode, .bytes: return false
        default: return true
        }
    }

    /// Whether byte order matters for this type (multi-byte numbers and unicode strings).
    public var hasByteOrder: Bool {
        switch self {
        case .int8, .uint8, .bool, .bytes: return false
        case .unicode: return true
        default: return itemSize > 1
        }
    }

    public var description: String { typeCode }
}

/// Byte order of an array's elements.
public enum NPYByteOrder: String, Hashable, Sendable {
    /// `<`
    case little
    /// `>`
    case big
    /// `|`: single-byte types, where order does not apply.
    case notApplicable

    /// The byte order of this machine.
    public static var native: NPYByteOrder {
        #if _endian(big)
        return .big
        #else
        return .little
        #endif
    }

    /// The character NumPy uses in `descr`.
    public var character: Character {
        switch self {
        case .little: return "<"
        case .big: return ">"
        case .notApplicable: return "|"
        }
    }
}

/// Version of the `.npy` format (1.0: 16-bit header length; 2.0: 32-bit; 3.0: 32-bit, UTF-8 header).
public struct NPYVersion: Hashable, Sendable, CustomStringConvertible {
    public var major: UInt8
    public var minor: UInt8

    public init(major: UInt8, minor: UInt8) {
        self.major = major
        self.minor = minor
    }

    /// Format 1.0.
    public static let v1 = NPYVersion(major: 1, minor: 0)
    /// Format 2.0.
    public static let v2 = NPYVersion(major: 2, minor: 0)
    /// Format 3.0.
    public static let v3 = NPYVersion(major: 3, minor: 0)

    public var description: String { "\(major).\(minor)" }
}

/// The ``DataError`` values the `.npy` codec throws, one constructor per problem, so that every
/// message of the codec is worded in one place.
extension DataError {
    /// The file does not exist.
    static func npyFileNotFound(path: String) -> DataError {
        DataError(.missingFile, path: path, expected: "an .npy file", found: "no such file")
    }

    /// A system call failed (`operation` is e.g. `open`, `read`, `mmap`).
    static func npyIO(path: String, operation: String, message: String) -> DataError {
        let writing = ["write", "rename"].contains(operation)
        return DataError(.callFailed, path: path, operation: operation,
                         expected: writing ? "a writable location for an .npy file" : "a readable .npy file",
                         found: message)
    }

    /// The file does not start with `\x93NUMPY`.
    static func npyBadMagic(path: String, found: [UInt8]) -> DataError {
        let hex = found.map { b -> String in
            let s = String(b, radix: 16)
            return b < 16 ? "0" + s : s
        }.joined(separator: " ")
        return DataError(.wrongFormat, path: path, expected: "an .npy file starting with the magic 93 4e 55 4d 50 59 (\\x93NUMPY)",
                         found: hex.isEmpty ? "an empty file" : hex)
    }

    /// A format version other than 1.0, 2.0, 3.0.
    static func npyUnsupportedVersion(path: String, major: Int, minor: Int) -> DataError {
        DataError(.wrongFormat, path: path, expected: ".npy format version 1.0, 2.0 or 3.0", found: "version \(major).\(minor)")
    }

    /// The file ends inside the preamble or header.
    static func npyTruncatedHeader(path: String, expectedBytes: Int, foundBytes: Int) -> DataError {
        DataError(.truncated, path: path, expected: "a complete .npy preamble and header of \(expectedBytes) bytes",
                  found: "\(foundBytes) bytes")
    }

    /// The header dictionary could not be parsed or lacks a required key.
    static func npyMalformedHeader(path: String, problem: String, header: String) -> DataError {
        DataError(.malformedHeader, path: path, expected: "a valid .npy header dictionary",
                  found: "\(problem) (header: \(header.debugDescription))")
    }

    /// A `descr` this reader does not support (structured, complex, datetime, ...).
    static func npyUnsupportedDType(path: String, descr: String) -> DataError {
        DataError(.unsupportedDType, path: path, expected: "one of the dtypes f2 f4 f8 i1 i2 i4 i8 u1 u2 u4 u8 b1 U<n> S<n>",
                  found: "dtype '\(descr)'")
    }

    /// An array of Python objects (`|O`), which needs pickle; refused.
    static func npyObjectArray(path: String) -> DataError {
        DataError(.unsupportedDType, path: path, expected: "numbers or strings",
                  found: "an object array (dtype '|O'), which needs pickle and is not supported")
    }

    /// The data section is shorter than shape × item size.
    static func npyTruncatedData(path: String, shape: [Int], descr: String, expectedBytes: Int, foundBytes: Int) -> DataError {
        DataError(.truncated, path: path, expected: "\(expectedBytes) bytes of data for shape \(shape) of '\(descr)'",
                  found: "\(foundBytes) bytes (truncated data)")
    }

    /// The data section is longer than shape × item size.
    static func npyDataSizeMismatch(path: String, shape: [Int], descr: String, expectedBytes: Int, foundBytes: Int) -> DataError {
        DataError(.sizeMismatch, path: path, expected: "\(expectedBytes) bytes of data for shape \(shape) of '\(descr)' (the header's size)",
                  found: "\(foundBytes) bytes")
    }

    /// An accessor asked for a type the array's dtype cannot be converted to.
    static func npyTypeMismatch(path: String, requested: String, found: String) -> DataError {
        DataError(.wrongDType, path: path, expected: requested, found: "dtype '\(found)'")
    }

    /// An element does not fit the requested type.
    static func npyValueOutOfRange(path: String, value: String, requested: String) -> DataError {
        DataError(.valueOutOfRange, path: path, expected: "values that fit \(requested)", found: "value \(value)")
    }
}
