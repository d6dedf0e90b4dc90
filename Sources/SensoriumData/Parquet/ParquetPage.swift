/// The values of one data page of a column, in the column's physical type.
enum ParquetValues: Sendable {
    case int32([Int32])
    case int64([Int64])
    case double([Double])
    case byteArray([[UInt8]])

    /// The number of (non-null) values.
    var count: Int {
        switch self {
        case let .int32(v): return v.count
        case let .int64(v): return v.count
        case let .double(v): return v.count
        case let .byteArray(v): return v.count
        }
    }

    /// The physical type these values are written as.
    var physicalType: ParquetSchema.PhysicalType {
        switch self {
        case .int32: return .int32
        case .int64: return .int64
        case .double: return .double
        case .byteArray: return .byteArray
        }
    }

    /// PLAIN encoding of the values.
    func appendPlain(to out: inout [UInt8]) {
        switch self {
        case let .int32(v): PlainEncoder.int32(v, into: &out)
        case let .int64(v): PlainEncoder.int64(v, into: &out)
        case let .double(v): PlainEncoder.double(v, into: &out)
        case let .byteArray(v): PlainEncoder.byteArrays(v, into: &out)
        }
    }
}

/// One v1 data page: its level entries and its values, which start at a row boundary.
struct ParquetPage: Sendable {
    var levels: ParquetLevels
    var values: ParquetValues
    /// The rows that start in this page.
    var rowCount: Int

    /// The uncompressed page body: repetition levels, definition levels (each a 4-byte length
    /// and the RLE / bit-packed hybrid; absent when the column's maximum level is 0), then the
    /// PLAIN values.
    func body(for column: ParquetSchema.Column) -> [UInt8] {
        var out: [UInt8] = []
        if column.maxRepetitionLevel > 0 {
            out += RLEHybridEncoder.levelsBlock(levels.repetition, maxLevel: column.maxRepetitionLevel)
        }
        if column.maxDefinitionLevel > 0 {
            out += RLEHybridEncoder.levelsBlock(levels.definition, maxLevel: column.maxDefinitionLevel)
        }
        values.appendPlain(to: &out)
        return out
    }
}
