import Foundation

/// Writes a Parquet file row group by row group, column chunk by column chunk, page by page:
/// `PAR1`, the column chunks (each page a Thrift `PageHeader` and its compressed body), the
/// footer (`FileMetaData`), the footer's length as 4 little-endian bytes, `PAR1`.
///
/// The file is written under a temporary name beside `path` and renamed onto `path` by
/// ``close()``, so no reader ever sees a partial file; a writer dropped without `close()`
/// removes its temporary file.
///
/// ```swift
/// let w = try ParquetFileWriter(path: "t.parquet", schema: schema, compression: .brotli)
/// try w.beginRowGroup(rowCount: 2)
/// try w.writePage(ParquetPage(levels: .flat(rowCount: 2), values: .int64([7, 8]), rowCount: 2))
/// try w.endColumnChunk()
/// try w.endRowGroup()
/// try w.close()
/// ```
final class ParquetFileWriter {
    /// Page compression (the Thrift `CompressionCodec` ids).
    enum Compression: Int32 {
        case uncompressed = 0
        case brotli = 4
    }

    static let magic: [UInt8] = Array("PAR1".utf8)

    let path: String
    let schema: ParquetSchema
    let columns: [ParquetSchema.Column]
    let compression: Compression
    let brotliQuality: Int32
    private let temporaryPath: String
    private var file: UnsafeMutablePointer<FILE>?
    private var offset = 0
    private var rowGroups: [ParquetThriftStructures.RowGroup] = []
    private var totalRows = 0
    // The row group being written.
    private var groupRows: Int?
    private var groupChunks: [ParquetThriftStructures.ColumnChunk] = []
    private var chunk: ParquetThriftStructures.ColumnChunk?
    private var chunkRows = 0

    /// Opens a temporary file beside `path` and writes the leading magic.
    init(path: String, schema: ParquetSchema, compression: Compression,
         brotliQuality: Int32 = BrotliCompressor.defaultQuality) throws {
        self.path = path
        self.schema = schema
        self.columns = schema.columns
        self.compression = compression
        self.brotliQuality = brotliQuality
        self.temporaryPath = "\(path).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        guard let f = fopen(temporaryPath, "wbx") else {
            throw DataError(.writeFailed, path: path, operation: "fopen", expected: "a writable file",
                            found: String(cString: strerror(errno)))
        }
        file = f
        try write(Self.magic)
    }

    deinit {
        if let file {
            fclose(file)
            unlink(temporaryPath)
        }
    }

    /// Starts a row group of `rowCount` rows; its column chunks follow in schema order.
    func beginRowGroup(rowCount: Int) throws {
        precondition(groupRows == nil, "ParquetFileWriter: beginRowGroup inside a row group")
        groupRows = rowCount
        groupChunks = []
    }

    /// Writes one data page of the current column (the row group's next column when no page
    /// of it has been written yet).
    func writePage(_ page: ParquetPage) throws {
        guard groupRows != nil else { preconditionFailure("ParquetFileWriter: writePage outside a row group") }
        let index = groupChunks.count
        precondition(index < columns.count, "ParquetFileWriter: more column chunks than the schema's \(columns.count) columns")
        let column = columns[index]
        precondition(page.values.physicalType == column.physicalType,
                     "ParquetFileWriter: \(page.values.physicalType) values for column \(column.path.joined(separator: ".")) of type \(column.physicalType)")
        precondition(page.levels.repetition.count == page.levels.count,
                     "ParquetFileWriter: \(page.levels.repetition.count) repetition levels, \(page.levels.count) definition levels")
        let present = page.levels.definition.reduce(0) { $0 + ($1 == column.maxDefinitionLevel ? 1 : 0) }
        precondition(present == page.values.count,
                     "ParquetFileWriter: \(present) values by the definition levels, \(page.values.count) given")
        let body = page.body(for: column)
        let stored: [UInt8]
        switch compression {
        case .uncompressed:
            stored = body
        case .brotli:
            guard let compressed = BrotliCompressor.compress(body, quality: brotliQuality) else {
                throw DataError(.writeFailed, path: path, operation: "BrotliEncoderCompress",
                                expected: "a compressed page of \(body.count) bytes", found: "a compression failure")
            }
            stored = compressed
        }
        guard body.count <= Int(Int32.max), stored.count <= Int(Int32.max) else {
            throw DataError(.invalidArgument, path: path, object: column.path.joined(separator: "."),
                            expected: "a page below 2 GiB", found: "\(body.count) bytes")
        }
        let header = ParquetThriftStructures.dataPageHeader(valueCount: page.levels.count, uncompressedSize: body.count,
                                                            compressedSize: stored.count)
        if chunk == nil {
            chunk = .init(column: column, codec: compression.rawValue, valueCount: 0, uncompressedSize: 0,
                          compressedSize: 0, dataPageOffset: offset)
            chunkRows = 0
        }
        chunk!.valueCount += page.levels.count
        chunk!.uncompressedSize += header.count + body.count
        chunk!.compressedSize += header.count + stored.count
        chunkRows += page.rowCount
        try write(header)
        try write(stored)
    }

    /// Ends the current column chunk (at least one page written; its pages' rows add up to the
    /// row group's).
    func endColumnChunk() throws {
        guard let done = chunk, let rows = groupRows else {
            preconditionFailure("ParquetFileWriter: endColumnChunk without a page")
        }
        precondition(chunkRows == rows, "ParquetFileWriter: column \(done.column.path.joined(separator: ".")) has \(chunkRows) rows, the row group \(rows)")
        groupChunks.append(done)
        chunk = nil
    }

    /// Ends the current row group (every column chunk written).
    func endRowGroup() throws {
        guard let rows = groupRows else { preconditionFailure("ParquetFileWriter: endRowGroup outside a row group") }
        precondition(groupChunks.count == columns.count,
                     "ParquetFileWriter: \(groupChunks.count) column chunks in a row group of \(columns.count) columns")
        rowGroups.append(.init(columns: groupChunks, rowCount: rows))
        totalRows += rows
        groupRows = nil
        groupChunks = []
    }

    /// Writes the footer and renames the file onto `path`.
    func close(keyValueMetadata: [(key: String, value: String)] = [], createdBy: String = "Sensorium for Swift") throws {
        precondition(groupRows == nil, "ParquetFileWriter: close inside a row group")
        let footer = ParquetThriftStructures.fileMetaData(schema: schema, rowCount: totalRows, rowGroups: rowGroups,
                                                          keyValueMetadata: keyValueMetadata, createdBy: createdBy)
        try write(footer)
        try write(PlainEncoder.littleEndian(UInt32(footer.count)))
        try write(Self.magic)
        guard let f = file else { return }
        file = nil
        if fclose(f) != 0 {
            let message = String(cString: strerror(errno))
            unlink(temporaryPath)
            throw DataError(.writeFailed, path: path, operation: "fclose", expected: "a complete file", found: message)
        }
        if rename(temporaryPath, path) != 0 {
            let message = String(cString: strerror(errno))
            unlink(temporaryPath)
            throw DataError(.writeFailed, path: path, operation: "rename", expected: "the file in place", found: message)
        }
    }

    private func write(_ bytes: [UInt8]) throws {
        guard let file else { preconditionFailure("ParquetFileWriter: write after close") }
        let written = bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, file) }
        guard written == bytes.count else {
            throw DataError(.writeFailed, path: path, operation: "fwrite", expected: "\(bytes.count) bytes written",
                            found: "\(written): \(String(cString: strerror(errno)))")
        }
        offset += bytes.count
    }
}
