/// The parsed header of an `.npy` file.
public struct NPYHeader: Hashable, Sendable {
    /// Format version found in the preamble.
    public var version: NPYVersion
    /// Element type.
    public var dtype: NPYDType
    /// Byte order of the elements.
    public var byteOrder: NPYByteOrder
    /// Whether elements are stored in column-major (Fortran) order.
    public var fortranOrder: Bool
    /// Extent of each axis.
    public var shape: [Int]
    /// Offset of the first data byte from the start of the file.
    public var dataOffset: Int

    /// Number of elements (product of `shape`).
    public var count: Int { shape.reduce(1, *) }

    /// `descr` as NumPy writes it, e.g. `<f4`.
    public var descr: String { String(byteOrder.character) + dtype.typeCode }
}

/// The 6-byte magic that starts every `.npy` file.
let npyMagic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]

enum NPYHeaderCodec {
    /// Bytes before the header text: magic, version, and the header length field.
    static func preambleLength(_ version: NPYVersion) -> Int { version.major == 1 ? 10 : 12 }

    /// Parses a `descr` string such as `<f4`, `|b1`, `<U12`, `|S3`.
    static func parseDescr(_ descr: String, path: String) throws -> (NPYDType, NPYByteOrder) {
        var chars = Substring(descr)
        var order: NPYByteOrder? = nil
        if let first = chars.first, "<>|=".contains(first) {
            switch first {
            case "<": order = .little
            case ">": order = .big
            case "|": order = .notApplicable
            default: order = NPYByteOrder.native
            }
            chars = chars.dropFirst()
        }
        guard let kind = chars.first else { throw DataError.npyUnsupportedDType(path: path, descr: descr) }
        let sizeText = chars.dropFirst()
        if kind == "O" { throw DataError.npyObjectArray(path: path) }
        if kind == "?" && sizeText.isEmpty { return (.bool, .notApplicable) }
        guard !sizeText.isEmpty, sizeText.allSatisfy({ $0.isASCII && $0.isNumber }),
              let size = Int(sizeText), size <= 1 << 32 else {
            throw DataError.npyUnsupportedDType(path: path, descr: descr)
        }
        let dtype: NPYDType
        switch (kind, size) {
        case ("f", 2): dtype = .float16
        case ("f", 4): dtype = .float32
        case ("f", 8): dtype = .float64
        case ("i", 1): dtype = .int8
        case ("i", 2): dtype = .int16
        case ("i", 4): dtype = .int32
        case ("i", 8): dtype = .int64
        case ("u", 1): dtype = .uint8
        case ("u", 2): dtype = .uint16
        case ("u", 4): dtype = .uint32
        case ("u", 8): dtype = .uint64
        case ("b", 1): dtype = .bool
        case ("U", _): dtype = .unicode(length: size)
        case ("S", _), ("a", _): dtype = .bytes(length: size)
        default: throw DataError.npyUnsupportedDType(path: path, descr: descr)
        }
        if !dtype.hasByteOrder { return (dtype, .notApplicable) }
        let resolved = (order == nil || order == .notApplicable) ? NPYByteOrder.native : order!
        return (dtype, resolved)
    }

    /// Parses the header dictionary text.
    static func parseDictionary(_ text: String, path: String) throws -> (descr: String, fortranOrder: Bool, shape: [Int]) {
        var parser = PyLiteralParser(text: Array(text.utf8), path: path, header: text)
        let dict = try parser.parseDictionary()
        var descr: String? = nil
        var fortran: Bool? = nil
        var shape: [Int]? = nil
        for (key, value) in dict {
            switch key {
            case "descr":
                switch value {
                case .string(let s): descr = s
                case .list: throw DataError.npyUnsupportedDType(path: path, descr: "structured dtype (list descr)")
                default: throw parser.failure("'descr' is not a string")
                }
            case "fortran_order":
                guard case .bool(let b) = value else { throw parser.failure("'fortran_order' is not True or False") }
                fortran = b
            case "shape":
                guard case .tuple(let items) = value else { throw parser.failure("'shape' is not a tuple") }
                var dims: [Int] = []
                for item in items {
                    guard case .int(let d) = item else { throw parser.failure("'shape' holds a non-integer") }
                    guard d >= 0 else { throw parser.failure("'shape' holds the negative extent \(d)") }
                    dims.append(d)
                }
                shape = dims
            default:
                throw parser.failure("unexpected key '\(key)', expected only 'descr', 'fortran_order', 'shape'")
            }
        }
        guard let descr else { throw parser.failure("missing key 'descr'") }
        guard let fortran else { throw parser.failure("missing key 'fortran_order'") }
        guard let shape else { throw parser.failure("missing key 'shape'") }
        return (descr, fortran, shape)
    }

    /// The header dictionary text NumPy would write, padded with spaces and a final newline so that
    /// preamble + header is a multiple of 64 bytes. Returns the version needed (1.0 unless the header
    /// exceeds 65535 bytes or `minimum` asks for more).
    static func encode(dtype: NPYDType, byteOrder: NPYByteOrder, fortranOrder: Bool, shape: [Int],
                       minimumVersion: NPYVersion) -> (version: NPYVersion, bytes: [UInt8]) {
        let order = dtype.hasByteOrder ? byteOrder : .notApplicable
        let shapeText: String
        switch shape.count {
        case 0: shapeText = "()"
        case 1: shapeText = "(\(shape[0]),)"
        default: shapeText = "(" + shape.map(String.init).joined(separator: ", ") + ")"
        }
        let dict = "{'descr': '\(order.character)\(dtype.typeCode)', 'fortran_order': \(fortranOrder ? "True" : "False"), 'shape': \(shapeText), }"
        var version = minimumVersion
        func padded(_ preamble: Int) -> [UInt8] {
            var text = Array(dict.utf8)
            let unpadded = preamble + text.count + 1
            let pad = (64 - unpadded % 64) % 64
            text.append(contentsOf: [UInt8](repeating: 0x20, count: pad))
            text.append(0x0A)
            return text
        }
        var text = padded(preambleLength(version))
        if version.major == 1 && text.count > Int(UInt16.max) {
            version = .v2
            text = padded(preambleLength(version))
        }
        var out = npyMagic
        out.append(version.major)
        out.append(version.minor)
        let n = text.count
        if version.major == 1 {
            out.append(UInt8(n & 0xFF)); out.append(UInt8((n >> 8) & 0xFF))
        } else {
            for i in 0..<4 { out.append(UInt8((n >> (8 * i)) & 0xFF)) }
        }
        out.append(contentsOf: text)
        return (version, out)
    }
}

/// A minimal parser for the Python literal subset used in `.npy` headers.
struct PyLiteralParser {
    enum Value {
        case string(String)
        case int(Int)
        case bool(Bool)
        case none
        case tuple([Value])
        case list([Value])
    }

    let text: [UInt8]
    let path: String
    let header: String
    var i = 0

    init(text: [UInt8], path: String, header: String) {
        self.text = text
        self.path = path
        self.header = header
    }

    func failure(_ problem: String) -> DataError {
        DataError.npyMalformedHeader(path: path, problem: problem, header: header)
    }

    mutating func skipSpace() {
        while i < text.count, text[i] == 0x20 || text[i] == 0x0A || text[i] == 0x09 || text[i] == 0x0D { i += 1 }
    }

    mutating func expect(_ c: UInt8) throws {
        skipSpace()
        guard i < text.count, text[i] == c else {
            let found = i < text.count ? "'\(String(decoding: [text[i]], as: UTF8.self))'" : "end of header"
            throw failure("expected '\(String(decoding: [c], as: UTF8.self))' at offset \(i), found \(found)")
        }
        i += 1
    }

    mutating func parseDictionary() throws -> [(String, Value)] {
        try expect(UInt8(ascii: "{"))
        var out: [(String, Value)] = []
        while true {
            skipSpace()
            guard i < text.count else { throw failure("unterminated dictionary") }
            if text[i] == UInt8(ascii: "}") { i += 1; break }
            guard case .string(let key) = try parseValue() else { throw failure("dictionary key is not a string") }
            try expect(UInt8(ascii: ":"))
            let value = try parseValue()
            if out.contains(where: { $0.0 == key }) { throw failure("duplicate key '\(key)'") }
            out.append((key, value))
            skipSpace()
            guard i < text.count else { throw failure("unterminated dictionary") }
            if text[i] == UInt8(ascii: ",") { i += 1; continue }
            if text[i] == UInt8(ascii: "}") { i += 1; break }
            throw failure("expected ',' or '}' at offset \(i)")
        }
        skipSpace()
        guard i == text.count else { throw failure("unexpected text after the dictionary at offset \(i)") }
        return out
    }

    mutating func parseValue() throws -> Value {
        skipSpace()
        guard i < text.count else { throw failure("expected a value, found end of header") }
        let c = text[i]
        switch c {
        case UInt8(ascii: "'"), UInt8(ascii: "\""):
            i += 1
            var bytes: [UInt8] = []
            while i < text.count, text[i] != c {
                if text[i] == UInt8(ascii: "\\"), i + 1 < text.count { i += 1 }
                bytes.append(text[i])
                i += 1
            }
            guard i < text.count else { throw failure("unterminated string") }
            i += 1
            return .string(String(decoding: bytes, as: UTF8.self))
        case UInt8(ascii: "("), UInt8(ascii: "["):
            let close = c == UInt8(ascii: "(") ? UInt8(ascii: ")") : UInt8(ascii: "]")
            i += 1
            var items: [Value] = []
            while true {
                skipSpace()
                guard i < text.count else { throw failure("unterminated \(c == UInt8(ascii: "(") ? "tuple" : "list")") }
                if text[i] == close { i += 1; break }
                items.append(try parseValue())
                skipSpace()
                guard i < text.count else { throw failure("unterminated sequence") }
                if text[i] == UInt8(ascii: ",") { i += 1; continue }
                if text[i] == close { i += 1; break }
                throw failure("expected ',' or closing bracket at offset \(i)")
            }
            return c == UInt8(ascii: "(") ? .tuple(items) : .list(items)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            let start = i
            if c == UInt8(ascii: "-") { i += 1 }
            while i < text.count, text[i] >= UInt8(ascii: "0"), text[i] <= UInt8(ascii: "9") { i += 1 }
            let digits = String(decoding: text[start..<i], as: UTF8.self)
            if i < text.count, text[i] == UInt8(ascii: "L") || text[i] == UInt8(ascii: "l") { i += 1 }  // Python 2 longs
            guard let v = Int(digits) else { throw failure("bad integer '\(digits)'") }
            return .int(v)
        default:
            for (word, value) in [("True", Value.bool(true)), ("False", .bool(false)), ("None", .none)] {
                let w = Array(word.utf8)
                if i + w.count <= text.count, Array(text[i..<(i + w.count)]) == w {
                    i += w.count
                    return value
                }
            }
            throw failure("unexpected character '\(String(decoding: [c], as: UTF8.self))' at offset \(i)")
        }
    }
}
