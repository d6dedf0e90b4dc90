/// The Thrift structures of a Parquet file this writer emits (field ids of parquet.thrift):
/// `PageHeader` / `DataPageHeader` before each page and the footer's `FileMetaData` with its
/// `RowGroup`, `ColumnChunk`, `ColumnMetaData` and `KeyValue` entries.
enum ParquetThriftStructures {
    /// Encoding ids (`Encoding`): PLAIN = 0, RLE = 3.
    static let plainEncoding: Int32 = 0
    static let rleEncoding: Int32 = 3

    /// A v1 data page header (`PageHeader` with type DATA_PAGE = 0 and a `DataPageHeader`), a
    /// complete struct with its stop byte.
    static func dataPageHeader(valueCount: Int, uncompressedSize: Int, compressedSize: Int) -> [UInt8] {
        var w = ThriftCompactWriter()
        w.fieldI32(1, 0)                              // type = DATA_PAGE
        w.fieldI32(2, Int32(uncompressedSize))        // uncompressed_page_size
        w.fieldI32(3, Int32(compressedSize))          // compressed_page_size
        w.fieldStruct(5) { w in                       // data_page_header
            w.fieldI32(1, Int32(valueCount))          // num_values
            w.fieldI32(2, plainEncoding)              // encoding
            w.fieldI32(3, rleEncoding)                // definition_level_encoding
            w.fieldI32(4, rleEncoding)                // repetition_level_encoding
        }
        w.structEnd()
        return w.bytes
    }

    /// What the footer records about one column chunk.
    struct ColumnChunk: Sendable {
        var column: ParquetSchema.Column
        var codec: Int32
        var valueCount: Int
        var uncompressedSize: Int
        var compressedSize: Int
        var dataPageOffset: Int
    }

    /// What the footer records about one row group.
    struct RowGroup: Sendable {
        var columns: [ColumnChunk]
        var rowCount: Int
    }

    /// The footer (`FileMetaData`), a complete struct with its stop byte.
    static func fileMetaData(schema: ParquetSchema, rowCount: Int, rowGroups: [RowGroup],
                             keyValueMetadata: [(key: String, value: String)], createdBy: String) -> [UInt8] {
        var w = ThriftCompactWriter()
        w.fieldI32(1, 1)                                              // version
        schema.encodeElements(into: &w, fieldID: 2)                   // schema
        w.fieldI64(3, Int64(rowCount))                                // num_rows
        w.fieldStructList(4, rowGroups) { w, group in                 // row_groups
            w.fieldStructList(1, group.columns) { w, chunk in         // columns
                w.fieldI64(2, Int64(chunk.dataPageOffset))            // file_offset
                w.fieldStruct(3) { w in                               // meta_data
                    w.fieldI32(1, chunk.column.physicalType.rawValue) // type
                    let hasLevels = chunk.column.maxDefinitionLevel > 0 || chunk.column.maxRepetitionLevel > 0
                    w.fieldI32List(2, hasLevels ? [plainEncoding, rleEncoding] : [plainEncoding]) // encodings
                    w.fieldStringList(3, chunk.column.path)           // path_in_schema
                    w.fieldI32(4, chunk.codec)                        // codec
                    w.fieldI64(5, Int64(chunk.valueCount))            // num_values
                    w.fieldI64(6, Int64(chunk.uncompressedSize))      // total_uncompressed_size
                    w.fieldI64(7, Int64(chunk.compressedSize))        // total_compressed_size
                    w.fieldI64(9, Int64(chunk.dataPageOffset))        // data_page_offset
                }
            }
            w.fieldI64(2, Int64(group.columns.reduce(0) { $0 + $1.uncompressedSize }))  // total_byte_size
            w.fieldI64(3, Int64(group.rowCount))                                        // num_rows
            if let first = group.columns.first {
                w.fieldI64(5, Int64(first.dataPageOffset))                              // file_offset
            }
            w.fieldI64(6, Int64(group.columns.reduce(0) { $0 + $1.compressedSize }))    // total_compressed_size
        }
        if !keyValueMetadata.isEmpty {
            w.fieldStructList(5, keyValueMetadata) { w, kv in         // key_value_metadata
                w.fieldString(1, kv.key)
                w.fieldString(2, kv.value)
            }
        }
        w.fieldString(6, createdBy)                                   // created_by
        w.structEnd()
        return w.bytes
    }
}
