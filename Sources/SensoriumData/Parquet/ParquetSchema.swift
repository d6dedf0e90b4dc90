/// The schema of a Parquet file: a tree of groups and primitive leaves, stored in the footer as a
/// depth-first list of schema elements. Each leaf is one column of the file; its maximum
/// definition level counts the optional and repeated nodes on its path, its maximum repetition
/// level the repeated ones.
struct ParquetSchema: Sendable {
    /// Parquet's physical types (the Thrift `Type` enum).
    enum PhysicalType: Int32, Sendable {
        case boolean = 0, int32 = 1, int64 = 2, int96 = 3, float = 4, double = 5, byteArray = 6, fixedLenByteArray = 7
    }

    /// How often a node occurs in its parent (the Thrift `FieldRepetitionType` enum).
    enum Repetition: Int32, Sendable {
        case required = 0, optional = 1, repeated = 2
    }

    /// The logical (annotation) types this writer uses, written both as a `LogicalType` union and
    /// as the legacy `ConvertedType` older readers understand.
    enum LogicalType: Sendable, Equatable {
        /// UTF-8 text in a BYTE_ARRAY.
        case string
        /// A three-level list group (`<name> (LIST) { repeated group list { <element> } }`).
        case list
        /// An integer of `bitWidth` bits, signed or not, in an INT32 or INT64.
        case integer(bitWidth: Int8, signed: Bool)

        /// The legacy converted type (UTF8 = 0, LIST = 3, UINT_8…64 = 11…14, INT_8…64 = 15…18).
        var convertedType: Int32 {
            switch self {
            case .string: return 0
            case .list: return 3
            case let .integer(bitWidth, signed):
                let step: Int32 = bitWidth == 8 ? 0 : bitWidth == 16 ? 1 : bitWidth == 32 ? 2 : 3
                return (signed ? 15 : 11) + step
            }
        }
    }

    /// A node of the schema tree.
    struct Node: Sendable {
        var name: String
        var repetition: Repetition
        var logicalType: LogicalType?
        /// The physical type of a leaf; nil for a group.
        var physicalType: PhysicalType?
        var children: [Node]

        /// A primitive column.
        static func leaf(_ name: String, _ repetition: Repetition, _ type: PhysicalType, logical: LogicalType? = nil) -> Node {
            Node(name: name, repetition: repetition, logicalType: logical, physicalType: type, children: [])
        }

        /// A group of nodes.
        static func group(_ name: String, _ repetition: Repetition, logical: LogicalType? = nil, _ children: [Node]) -> Node {
            Node(name: name, repetition: repetition, logicalType: logical, physicalType: nil, children: children)
        }

        /// An optional list in the standard three-level layout (what pyarrow writes by default):
        /// `optional group name (LIST) { repeated group list { element } }`, the element's node
        /// named `element`.
        static func list(_ name: String, element: Node) -> Node {
            var element = element
            element.name = "element"
            return .group(name, .optional, logical: .list, [.group("list", .repeated, [element])])
        }
    }

    /// A leaf column with its path and maximum levels.
    struct Column: Sendable, Equatable {
        var path: [String]
        var physicalType: PhysicalType
        var maxDefinitionLevel: Int
        var maxRepetitionLevel: Int
    }

    /// The top-level fields (children of the root, named `schema`).
    var fields: [Node]

    init(fields: [Node]) {
        self.fields = fields
    }

    /// The leaf columns in file order (depth-first).
    var columns: [Column] {
        var out: [Column] = []
        func visit(_ node: Node, path: [String], def: Int, rep: Int) {
            let d = def + (node.repetition == .required ? 0 : 1)
            let r = rep + (node.repetition == .repeated ? 1 : 0)
            if let type = node.physicalType {
                out.append(Column(path: path + [node.name], physicalType: type, maxDefinitionLevel: d, maxRepetitionLevel: r))
            } else {
                for c in node.children { visit(c, path: path + [node.name], def: d, rep: r) }
            }
        }
        for f in fields { visit(f, path: [], def: 0, rep: 0) }
        return out
    }

    /// Writes the schema as the footer's list of `SchemaElement` structs: the root, then every
    /// node depth-first.
    func encodeElements(into w: inout ThriftCompactWriter, fieldID: Int16) {
        var nodes: [(node: Node?, childCount: Int)] = [(nil, fields.count)]
        func visit(_ node: Node) {
            nodes.append((node, node.children.count))
            for c in node.children { visit(c) }
        }
        for f in fields { visit(f) }
        w.fieldStructList(fieldID, nodes) { w, entry in
            guard let node = entry.node else {
                w.fieldString(4, "schema")
                w.fieldI32(5, Int32(entry.childCount))
                return
            }
            if let type = node.physicalType { w.fieldI32(1, type.rawValue) }
            w.fieldI32(3, node.repetition.rawValue)
            w.fieldString(4, node.name)
            if node.physicalType == nil { w.fieldI32(5, Int32(node.children.count)) }
            if let logical = node.logicalType {
                w.fieldI32(6, logical.convertedType)
                w.fieldStruct(10) { w in
                    switch logical {
                    case .string:
                        w.fieldStruct(1) { _ in }
                    case .list:
                        w.fieldStruct(3) { _ in }
                    case let .integer(bitWidth, signed):
                        w.fieldStruct(10) { w in
                            w.fieldByte(1, bitWidth)
                            w.fieldBool(2, signed)
                        }
                    }
                }
            }
        }
    }
}
