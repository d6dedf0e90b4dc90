import Foundation

/// Writes a submission table row by row, holding only one row group in memory: for tables too
/// large to build as one `[SubmissionRow]` (the competition's are gigabytes of predictions).
///
/// Each row is checked as ``SubmissionParquet/write(_:to:)`` checks it when appended; rows are
/// written in row groups of `rowsPerRowGroup`. The file appears at `url` only when ``finish()``
/// succeeds (it is written under a temporary name); a writer dropped before, or after an error,
/// leaves nothing behind.
///
/// ```swift
/// let writer = try SubmissionParquetWriter(url: url)
/// for row in rows { try writer.append(row) }
/// try writer.finish()
/// ```
public final class SubmissionParquetWriter {
    private let url: URL
    private let writer: ParquetFileWriter
    private let rowsPerRowGroup: Int
    private let valuesPerPage: Int
    private var pending: [SubmissionRow] = []
    private var seen = Set<String>()
    private var finished = false

    /// Opens a temporary file beside `url`.
    ///
    /// - Parameters:
    ///   - rowsPerRowGroup: rows buffered before they are written (memory: that many predictions).
    ///   - brotliQuality: Brotli quality 0…11. The default, 5, compresses float predictions about
    ///     as well as pyarrow's default 8 several times faster (about 8 MB/s of doubles per core).
    public convenience init(url: URL, rowsPerRowGroup: Int = 16, brotliQuality: Int = 5) throws {
        try self.init(url: url, rowsPerRowGroup: rowsPerRowGroup, valuesPerPage: SubmissionParquet.defaultValuesPerPage,
                      compression: .brotli, brotliQuality: brotliQuality)
    }

    init(url: URL, rowsPerRowGroup: Int, valuesPerPage: Int, compression: ParquetFileWriter.Compression, brotliQuality: Int) throws {
        guard rowsPerRowGroup > 0, valuesPerPage > 0, (0...11).contains(brotliQuality) else {
            throw DataError(.invalidArgument, path: url.path, expected: "rowsPerRowGroup ≥ 1, valuesPerPage ≥ 1, brotliQuality in 0...11",
                            found: "\(rowsPerRowGroup), \(valuesPerPage), \(brotliQuality)")
        }
        self.url = url
        self.rowsPerRowGroup = rowsPerRowGroup
        self.valuesPerPage = valuesPerPage
        writer = try ParquetFileWriter(path: url.path, schema: SubmissionParquet.schema, compression: compression,
                                       brotliQuality: Int32(brotliQuality))
    }

    /// Checks `row` and buffers it, writing a row group when `rowsPerRowGroup` rows are waiting.
    /// - Throws: ``DataError`` naming the mouse, trial and shapes of a malformed row (see
    ///   ``SubmissionParquet/write(_:to:)``); the writer is then unusable and writes nothing.
    public func append(_ row: SubmissionRow) throws {
        precondition(!finished, "SubmissionParquetWriter: append after finish")
        do {
            try SubmissionParquet.validate(row, path: url.path, seen: &seen)
        } catch {
            finished = true
            throw error
        }
        pending.append(row)
        if pending.count >= rowsPerRowGroup { try flush() }
    }

    /// Writes the remaining rows and the footer and moves the file to `url`.
    public func finish() throws {
        precondition(!finished, "SubmissionParquetWriter: finish called twice or after an error")
        finished = true
        try flush()
        try writer.close()
    }

    private func flush() throws {
        guard !pending.isEmpty else { return }
        try SubmissionParquet.writeRowGroup(pending[...], to: writer, valuesPerPage: valuesPerPage)
        pending.removeAll(keepingCapacity: true)
    }
}
