import Foundation

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
}

/// The single place where the mouse code touches array files, so that the `.npy` codec
/// underneath can change without touching the rest of the module.
enum ArrayFileIO {
    /// Reads a numeric array (any real dtype) from an `.npy` file.
    static func readNumeric(_ path: String) throws -> LoadedArray {
        let array = try NPYShim.read(path)
        return LoadedArray(path: path, shape: array.shape, values: try array.numericValues(), descr: array.descr)
    }

    /// Reads a 1-D array of strings (unicode or bytes dtype).
    static func readStrings(_ path: String) throws -> (shape: [Int], values: [String]) {
        let array = try NPYShim.read(path)
        return (array.shape, try array.stringValues())
    }

    /// Writes float32 values in C order.
    static func writeFloat32(_ values: [Float], shape: [Int], to path: String) throws {
        try NPYShim.writeFloat32(values, shape: shape, to: path)
    }

    /// Writes int64 values in C order.
    static func writeInt64(_ values: [Int64], shape: [Int], to path: String) throws {
        try NPYShim.writeInt64(values, shape: shape, to: path)
    }

    /// Writes a 1-D unicode string array (`<U<n>`, n = longest string).
    static func writeStrings(_ values: [String], to path: String) throws {
        try NPYShim.writeStrings(values, to: path)
    }
}

// MARK: - Minimal .npy codec (temporary; replaced by SensoriumData's NPY reader when it lands)

/// Errors of the minimal codec. Each names the file and the problem.
struct NPYShimError: Error, CustomStringConvertible {
    let path: String
    let problem: String
    var description: String { "\(path): \(problem)" }
}

struct NPYShim {
    let path: String
    let shape: [Int]
    let descr: String
    let fortranOrder: Bool
    let data: Data

    static func read(_ path: String) throws -> NPYShim {
        guard FileManager.default.fileExists(atPath: path) else {
            throw NPYShimError(path: path, problem: "no such .npy file")
        }
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped)
        } catch {
            throw NPYShimError(path: path, problem: "cannot read: \(error.localizedDescription)")
        }
        let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]
        guard data.count >= 10, Array(data.prefix(6)) == magic else {
            throw NPYShimError(path: path, problem: "not an .npy file: expected magic \\x93NUMPY, found \(Array(data.prefix(6)))")
        }
        let major = data[data.startIndex + 6]
        let headerLength: Int
        let headerStart: Int
        switch major {
        case 1:
            headerLength = Int(data[data.startIndex + 8]) | Int(data[data.startIndex + 9]) << 8
            headerStart = 10
        case 2, 3:
            guard data.count >= 12 else { throw NPYShimError(path: path, problem: "truncated .npy header") }
            headerLength = (0..<4).reduce(0) { $0 | Int(data[data.startIndex + 8 + $1]) << (8 * $1) }
            headerStart = 12
        default:
            throw NPYShimError(path: path, problem: "unsupported .npy format version \(major), expected 1, 2 or 3")
        }
        guard data.count >= headerStart + headerLength else {
            throw NPYShimError(path: path, problem: "truncated .npy header: expected \(headerStart + headerLength) bytes, found \(data.count)")
        }
        let headerBytes = data.subdata(in: data.startIndex + headerStart ..< data.startIndex + headerStart + headerLength)
        guard let header = String(data: headerBytes, encoding: .utf8) ?? String(data: headerBytes, encoding: .isoLatin1) else {
            throw NPYShimError(path: path, problem: "unreadable .npy header")
        }
        func field(_ key: String) -> String? {
            guard let r = header.range(of: "'\(key)'") else { return nil }
            var rest = header[r.upperBound...].drop { $0 == " " || $0 == ":" }
            if rest.first == "(" {
                guard let close = rest.firstIndex(of: ")") else { return nil }
                return String(rest[rest.startIndex...close])
            }
            if rest.first == "'" {
                rest = rest.dropFirst()
                guard let close = rest.firstIndex(of: "'") else { return nil }
                return String(rest[rest.startIndex..<close])
            }
            let end = rest.firstIndex { $0 == "," || $0 == "}" } ?? rest.endIndex
            return rest[rest.startIndex..<end].trimmingCharacters(in: .whitespaces)
        }
        guard let descr = field("descr"), let shapeText = field("shape"), let order = field("fortran_order") else {
            throw NPYShimError(path: path, problem: "malformed .npy header: \(header.debugDescription)")
        }
        let dims = shapeText.trimmingCharacters(in: CharacterSet(charactersIn: "()"))
            .split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        var shape: [Int] = []
        for d in dims {
            guard let v = Int(d.hasSuffix("L") ? String(d.dropLast()) : d), v >= 0 else {
                throw NPYShimError(path: path, problem: "malformed shape \(shapeText) in .npy header")
            }
            shape.append(v)
        }
        let body = data.subdata(in: data.startIndex + headerStart + headerLength ..< data.endIndex)
        let shim = NPYShim(path: path, shape: shape, descr: descr, fortranOrder: order == "True", data: body)
        let expected = shape.reduce(1, *) * (try shim.itemSize())
        if body.count < expected {
            throw NPYShimError(path: path, problem: "truncated data: shape \(shape) of '\(descr)' needs \(expected) bytes, found \(body.count)")
        }
        if body.count > expected {
            throw NPYShimError(path: path, problem: "data size does not match the header: shape \(shape) of '\(descr)' needs \(expected) bytes, found \(body.count)")
        }
        return shim
    }

    private var typeChar: Character { descr.dropFirst().first ?? "?" }
    private var bigEndian: Bool { descr.first == ">" }

    func itemSize() throws -> Int {
        if descr.contains("O") { throw NPYShimError(path: path, problem: "object arrays (dtype '|O') need pickle and are not supported") }
        guard let n = Int(descr.dropFirst(2)) else {
            throw NPYShimError(path: path, problem: "unsupported dtype '\(descr)'")
        }
        return typeChar == "U" ? 4 * n : n
    }

    /// Element `i` of the file (in file order) as raw little-endian-corrected bits.
    private func rawInteger(_ bytes: UnsafeRawBufferPointer, _ i: Int, _ size: Int) -> UInt64 {
        var v: UInt64 = 0
        for b in 0..<size {
            let byte = UInt64(bytes[i * size + (bigEndian ? size - 1 - b : b)])
            v |= byte << (8 * UInt64(b))
        }
        return v
    }

    /// C-order index permutation for Fortran-ordered files.
    private func cOrderSource(_ count: Int) -> [Int]? {
        guard fortranOrder, shape.count > 1 else { return nil }
        var map = [Int](repeating: 0, count: count)
        let rank = shape.count
        var fStrides = [Int](repeating: 1, count: rank)
        for a in 1..<rank { fStrides[a] = fStrides[a - 1] * shape[a - 1] }
        var idx = [Int](repeating: 0, count: rank)
        for c in 0..<count {
            var f = 0
            for a in 0..<rank { f += idx[a] * fStrides[a] }
            map[c] = f
            var a = rank - 1
            while a >= 0 {
                idx[a] += 1
                if idx[a] < shape[a] { break }
                idx[a] = 0
                a -= 1
            }
        }
        return map
    }

    func numericValues() throws -> NumericValues {
        let size = try itemSize()
        let count = shape.reduce(1, *)
        let map = cOrderSource(count)
        return try data.withUnsafeBytes { (bytes: UnsafeRawBufferPointer) -> NumericValues in
            func src(_ c: Int) -> Int { map?[c] ?? c }
            switch (typeChar, size) {
            case ("f", 4):
                if !bigEndian, map == nil {
                    var out = [Float](repeating: 0, count: count)
                    out.withUnsafeMutableBytes { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[0..<count * 4])) }
                    return .float(out)
                }
                return .float((0..<count).map { Float(bitPattern: UInt32(truncatingIfNeeded: rawInteger(bytes, src($0), 4))) })
            case ("f", 8):
                return .double((0..<count).map { Double(bitPattern: rawInteger(bytes, src($0), 8)) })
            case ("f", 2):
                return .float((0..<count).map { Float(Float16(bitPattern: UInt16(truncatingIfNeeded: rawInteger(bytes, src($0), 2)))) })
            case ("b", 1):
                return .float((0..<count).map { rawInteger(bytes, src($0), 1) != 0 ? 1 : 0 })
            case ("u", 1), ("u", 2):
                return .float((0..<count).map { Float(rawInteger(bytes, src($0), size)) })
            case ("i", 1), ("i", 2):
                return .float((0..<count).map {
                    let v = rawInteger(bytes, src($0), size)
                    let shift = UInt64(64 - 8 * size)
                    return Float(Int64(bitPattern: v << shift) >> Int64(shift))
                })
            case ("u", 4), ("u", 8):
                return .double((0..<count).map { Double(rawInteger(bytes, src($0), size)) })
            case ("i", 4), ("i", 8):
                return .double((0..<count).map {
                    let v = rawInteger(bytes, src($0), size)
                    let shift = UInt64(64 - 8 * size)
                    return Double(Int64(bitPattern: v << shift) >> Int64(shift))
                })
            default:
                throw NPYShimError(path: path, problem: "expected a numeric array, found dtype '\(descr)'")
            }
        }
    }

    func stringValues() throws -> [String] {
        let size = try itemSize()
        let count = shape.reduce(1, *)
        return try data.withUnsafeBytes { (bytes: UnsafeRawBufferPointer) -> [String] in
            switch typeChar {
            case "U":
                let n = size / 4
                return (0..<count).map { i in
                    var scalars = String.UnicodeScalarView()
                    for k in 0..<n {
                        let v = UInt32(truncatingIfNeeded: rawInteger(UnsafeRawBufferPointer(rebasing: bytes[(i * size + 4 * k)..<(i * size + 4 * k + 4)]), 0, 4))
                        if v == 0 { break }
                        if let s = Unicode.Scalar(v) { scalars.append(s) }
                    }
                    return String(scalars)
                }
            case "S":
                return (0..<count).map { i in
                    let slice = bytes[(i * size)..<(i * size + size)].prefix { $0 != 0 }
                    return String(decoding: slice, as: UTF8.self)
                }
            default:
                throw NPYShimError(path: path, problem: "expected a string array (<U or |S), found dtype '\(descr)'")
            }
        }
    }

    private static func header(descr: String, shape: [Int]) -> Data {
        let shapeText = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
        var text = "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(shapeText), }"
        let unpadded = 10 + text.utf8.count + 1
        text += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        var out = Data([0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1, 0])
        let n = UInt16(text.utf8.count)
        out.append(UInt8(n & 0xFF)); out.append(UInt8(n >> 8))
        out.append(contentsOf: Array(text.utf8))
        return out
    }

    private static func write(_ data: Data, to path: String) throws {
        do {
            try data.write(to: URL(fileURLWithPath: path))
        } catch {
            throw NPYShimError(path: path, problem: "cannot write: \(error.localizedDescription)")
        }
    }

    static func writeFloat32(_ values: [Float], shape: [Int], to path: String) throws {
        precondition(values.count == shape.reduce(1, *), "writeFloat32: \(values.count) values do not fill shape \(shape)")
        var out = header(descr: "<f4", shape: shape)
        values.withUnsafeBytes { out.append(contentsOf: $0) }
        try write(out, to: path)
    }

    static func writeInt64(_ values: [Int64], shape: [Int], to path: String) throws {
        precondition(values.count == shape.reduce(1, *), "writeInt64: \(values.count) values do not fill shape \(shape)")
        var out = header(descr: "<i8", shape: shape)
        values.withUnsafeBytes { out.append(contentsOf: $0) }
        try write(out, to: path)
    }

    static func writeStrings(_ values: [String], to path: String) throws {
        let n = max(1, values.map { $0.unicodeScalars.count }.max() ?? 1)
        var out = header(descr: "<U\(n)", shape: [values.count])
        var body = [UInt32](repeating: 0, count: values.count * n)
        for (i, s) in values.enumerated() {
            for (k, u) in s.unicodeScalars.enumerated() { body[i * n + k] = u.value }
        }
        body.withUnsafeBytes { out.append(contentsOf: $0) }
        try write(out, to: path)
    }
}
