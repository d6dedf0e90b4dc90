/// Numbers read from one array file, in C (row-major) order, in the precision NumPy would compute
/// with: `float` for float32-compatible dtypes (f2, f4, 8/16-bit integers, bool), `double` for
/// f8 and 32/64-bit integers (NumPy promotes those with float32 to float64).
enum NumericValues: Sendable {
    case float([Float])
    case double([Double])

    var count: Int {
        switch self {
        case .float(let v): return v.count
        case .double(let v): return v.count
        }
    }

    /// The values as Double (exact for both cases).
    var doubles: [Double] {
        switch self {
        case .float(let v): return v.map(Double.init)
        case .double(let v): return v
        }
    }

    /// The values rounded to Float.
    var floats: [Float] {
        switch self {
        case .float(let v): return v
        case .double(let v): return v.map { Float($0) }
        }
    }

    var isDouble: Bool {
        if case .double = self { return true }
        return false
    }
}

/// One numeric array read from disk.
struct LoadedArray: Sendable {
    /// The file it came from.
    let path: String
    let shape: [Int]
    let values: NumericValues
    /// The dtype as written in the file (`<f4`, `<f8`, ...), for messages.
    let descr: String

    /// Whether the stored dtype is a float (`descr` `<f4`, `>f8`, `|f2`, ...; packed mice use the
    /// same form for floats and `int32`-style names for integers).
    var isFloatingPoint: Bool { descr.count >= 3 && descr.dropFirst().first == "f" }
}

/// The single place where the mouse code touches array files (through `NPYFile`), so that the
/// rest of the module only sees `LoadedArray`s and `DataError`s.
enum ArrayFileIO {
    /// Reads a numeric array (any real or bool dtype) from an `.npy` file (memory-mapped when large).
    static func readNumeric(_ path: String) throws -> LoadedArray {
        let array = try NPYFile.read(path)
        guard array.dtype.isNumeric else {
            throw DataError.npyTypeMismatch(path: path, requested: "numbers", found: array.descr)
        }
        let values: NumericValues
        switch array.dtype {
        case .float64, .int32, .int64, .uint32, .uint64: values = .double(try array.doubles())
        default: values = .float(try array.floats())
        }
        return LoadedArray(path: path, shape: array.shape, values: values, descr: array.descr)
    }

    /// Reads an array of strings (unicode or bytes dtype).
    static func readStrings(_ path: String) throws -> (shape: [Int], values: [String]) {
        let array = try NPYFile.read(path)
        return (array.shape, try array.strings())
    }

    /// Writes float32 values in C order.
    static func writeFloat32(_ values: [Float], shape: [Int], to path: String) throws {
        try NPYFile.write(NPYArray(floats: values, shape: shape), to: path)
    }

    /// Writes int64 values in C order.
    static func writeInt64(_ values: [Int], shape: [Int], to path: String) throws {
        try NPYFile.write(NPYArray(ints: values, shape: shape), to: path)
    }

    /// Writes a 1-D unicode string array (`<U<n>`, n = longest string).
    static func writeStrings(_ values: [String], to path: String) throws {
        try NPYFile.write(NPYArray(strings: values), to: path)
    }
}
