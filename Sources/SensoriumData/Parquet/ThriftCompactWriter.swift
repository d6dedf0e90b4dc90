/// An encoder of the Apache Thrift compact protocol, the encoding of Parquet's file metadata and
/// page headers: integers as ZigZag varints, field headers as deltas of the field id packed with
/// the field type in one byte, structs ended by a stop byte.
///
/// ```swift
/// var w = ThriftCompactWriter()
/// w.fieldI32(1, 2)          // 0x15 0x04
/// w.structEnd()             // 0x00
/// ```
struct ThriftCompactWriter {
    /// Compact-protocol type codes (4 bits).
    enum TypeCode: UInt8 {
        case boolTrue = 1, boolFalse = 2, byte = 3, i16 = 4, i32 = 5, i64 = 6, double = 7,
             binary = 8, list = 9, set = 10, map = 11, structure = 12
    }

    /// The encoded bytes.
    private(set) var bytes: [UInt8] = []
    /// The last field id written in the current struct (field headers encode the delta from it).
    private var lastFieldID: Int16 = 0
    /// The enclosing structs' last field ids.
    private var fieldIDStack: [Int16] = []

    init() {}

    // MARK: Primitive encodings

    /// Appends `value` as an unsigned LEB128 varint (7 bits per byte, low group first).
    mutating func varint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    /// The ZigZag mapping of a signed integer (0, -1, 1, -2, … → 0, 1, 2, 3, …).
    static func zigzag(_ value: Int64) -> UInt64 {
        UInt64(bitPattern: (value << 1) ^ (value >> 63))
    }

    /// Appends a signed integer as a ZigZag varint (the compact protocol's i16, i32 and i64).
    mutating func zigzagVarint(_ value: Int64) {
        varint(Self.zigzag(value))
    }

    /// Appends a length-prefixed byte string (the compact protocol's binary and string).
    mutating func binary(_ value: [UInt8]) {
        varint(UInt64(value.count))
        bytes.append(contentsOf: value)
    }

    // MARK: Fields and containers

    /// Appends a field header: one byte `(delta << 4) | type` when the id is 1…15 above the previous
    /// field's, else the type byte followed by the id as a ZigZag varint.
    mutating func fieldHeader(_ id: Int16, _ type: TypeCode) {
        let delta = Int(id) - Int(lastFieldID)
        if delta > 0 && delta <= 15 {
            bytes.append(UInt8(delta << 4) | type.rawValue)
        } else {
            bytes.append(type.rawValue)
            zigzagVarint(Int64(id))
        }
        lastFieldID = id
    }

    /// Appends a list header: one byte `(size << 4) | elementType` for fewer than 15 elements,
    /// else `0xF0 | elementType` followed by the size as a varint.
    mutating func listHeader(count: Int, elementType: TypeCode) {
        if count < 15 {
            bytes.append(UInt8(count << 4) | elementType.rawValue)
        } else {
            bytes.append(0xF0 | elementType.rawValue)
            varint(UInt64(count))
        }
    }

    /// Starts a nested struct (its field ids count from 0 again).
    mutating func structBegin() {
        fieldIDStack.append(lastFieldID)
        lastFieldID = 0
    }

    /// Ends the current struct with a stop byte and restores the enclosing struct's field ids.
    mutating func structEnd() {
        bytes.append(0)
        lastFieldID = fieldIDStack.popLast() ?? 0
    }

    // MARK: Typed fields

    /// An i32 field (also Thrift enums).
    mutating func fieldI32(_ id: Int16, _ value: Int32) {
        fieldHeader(id, .i32)
        zigzagVarint(Int64(value))
    }

    /// An i64 field.
    mutating func fieldI64(_ id: Int16, _ value: Int64) {
        fieldHeader(id, .i64)
        zigzagVarint(value)
    }

    /// An i8 field (one raw byte).
    mutating func fieldByte(_ id: Int16, _ value: Int8) {
        fieldHeader(id, .byte)
        bytes.append(UInt8(bitPattern: value))
    }

    /// A bool field: the value is the field header's type code.
    mutating func fieldBool(_ id: Int16, _ value: Bool) {
        fieldHeader(id, value ? .boolTrue : .boolFalse)
    }

    /// A string field (UTF-8 bytes).
    mutating func fieldString(_ id: Int16, _ value: String) {
        fieldHeader(id, .binary)
        binary(Array(value.utf8))
    }

    /// A struct field whose body `body` writes (without its stop byte).
    mutating func fieldStruct(_ id: Int16, _ body: (inout ThriftCompactWriter) -> Void) {
        fieldHeader(id, .structure)
        structBegin()
        body(&self)
        structEnd()
    }

    /// A list-of-structs field.
    mutating func fieldStructList<T>(_ id: Int16, _ elements: [T], _ body: (inout ThriftCompactWriter, T) -> Void) {
        fieldHeader(id, .list)
        listHeader(count: elements.count, elementType: .structure)
        for e in elements {
            structBegin()
            body(&self, e)
            structEnd()
        }
    }

    /// A list-of-i32 field (also lists of Thrift enums).
    mutating func fieldI32List(_ id: Int16, _ elements: [Int32]) {
        fieldHeader(id, .list)
        listHeader(count: elements.count, elementType: .i32)
        for e in elements { zigzagVarint(Int64(e)) }
    }

    /// A list-of-strings field.
    mutating func fieldStringList(_ id: Int16, _ elements: [String]) {
        fieldHeader(id, .list)
        listHeader(count: elements.count, elementType: .binary)
        for e in elements { binary(Array(e.utf8)) }
    }
}
