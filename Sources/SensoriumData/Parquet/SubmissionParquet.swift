import Foundation

/// The competition's submission table, written as a Brotli-compressed Parquet file natively (no
/// Python, no Arrow).
///
/// The table is the one the reference kit's `sensorium/utility/submission.py` builds with pandas
/// and writes with `df.to_parquet(path, compression='brotli', engine='pyarrow', index=False)`:
///
/// | column          | Arrow type (as pyarrow infers it)   | Parquet                                   |
/// |-----------------|-------------------------------------|-------------------------------------------|
/// | `mouse`         | string                              | optional BYTE_ARRAY (STRING)              |
/// | `trial_indices` | int64                               | optional INT64                            |
/// | `prediction`    | list<list<double>> (neurons×frames) | two nested three-level LISTs of DOUBLE    |
/// | `neuron_ids`    | list<uint32>                        | three-level LIST of INT32 (UINT_32)       |
///
/// The kit converts its float32 predictions with `.tolist()`, so pyarrow stores them as doubles;
/// this writer widens each `Float` exactly the same way. Pages are v1 data pages with PLAIN values
/// and RLE / bit-packed hybrid levels, each compressed with Brotli. `pandas.read_parquet` gives
/// the same columns and dtypes as for the kit's file (proved by `make test-parquet`, which reads
/// the files with pyarrow and pandas); the footer carries no Arrow or pandas schema metadata,
/// which these types do not need.
public enum SubmissionParquet {
    /// Rows per row group of ``write(_:to:)`` (one row group, as pyarrow writes tables of the
    /// competition's size).
    static let defaultRowsPerRowGroup = 1 << 20
    /// Values per data page of the prediction column (pages end at row boundaries).
    static let defaultValuesPerPage = 1 << 20

    /// The table's schema.
    static let schema = ParquetSchema(fields: [
        .leaf("mouse", .optional, .byteArray, logical: .string),
        .leaf("trial_indices", .optional, .int64),
        .list("prediction", element: .list("element", element: .leaf("element", .optional, .double))),
        .list("neuron_ids", element: .leaf("element", .optional, .int32, logical: .integer(bitWidth: 32, signed: false))),
    ])

    /// Writes `rows` as a submission file at `url`, atomically (a temporary file beside it,
    /// renamed when complete).
    ///
    /// - Throws: ``DataError`` naming the mouse, trial and shapes when a row is malformed: no
    ///   neurons or no frames, a ragged prediction (neurons with different frame counts), a
    ///   neuron id count that differs from the prediction's neuron count, a NaN or infinite
    ///   value, a negative trial index, an empty mouse name or a (mouse, trial) given twice;
    ///   ``DataError`` with kind `writeFailed` when the file cannot be written. Nothing is
    ///   written unless every row is valid.
    public static func write(_ rows: [SubmissionRow], to url: URL) throws {
        try write(rows, to: url, rowsPerRowGroup: defaultRowsPerRowGroup, valuesPerPage: defaultValuesPerPage)
    }

    /// ``write(_:to:)`` with a Brotli quality (0…11; default 5, about 8 MB/s of predictions per
    /// core, files about as small as pyarrow's default quality 8 makes them, which is six times
    /// slower). ``SubmissionParquetWriter`` writes row by row for tables too large for memory.
    public static func write(_ rows: [SubmissionRow], to url: URL, brotliQuality: Int) throws {
        try write(rows, to: url, rowsPerRowGroup: defaultRowsPerRowGroup, valuesPerPage: defaultValuesPerPage,
                  brotliQuality: brotliQuality)
    }

    /// `write(_:to:)` with the row group and page sizes (tests write several of each).
    static func write(_ rows: [SubmissionRow], to url: URL, rowsPerRowGroup: Int, valuesPerPage: Int,
                      compression: ParquetFileWriter.Compression = .brotli,
                      brotliQuality: Int = Int(BrotliCompressor.defaultQuality)) throws {
        try validate(rows, path: url.path)
        let writer = try SubmissionParquetWriter(url: url, rowsPerRowGroup: rowsPerRowGroup, valuesPerPage: valuesPerPage,
                                                 compression: compression, brotliQuality: brotliQuality)
        for row in rows { try writer.append(row) }
        try writer.finish()
    }

    /// Writes one row group of `group` (columns in schema order; prediction pages of about
    /// `valuesPerPage` values, whole rows each).
    static func writeRowGroup(_ group: ArraySlice<SubmissionRow>, to writer: ParquetFileWriter, valuesPerPage: Int) throws {
        try writer.beginRowGroup(rowCount: group.count)
        try writer.writePage(ParquetPage(levels: .flat(rowCount: group.count),
                                         values: .byteArray(group.map { Array($0.mouse.utf8) }), rowCount: group.count))
        try writer.endColumnChunk()
        try writer.writePage(ParquetPage(levels: .flat(rowCount: group.count),
                                         values: .int64(group.map { Int64($0.trialIndex) }), rowCount: group.count))
        try writer.endColumnChunk()
        var pageStart = group.startIndex
        while pageStart < group.endIndex {
            var pageEnd = pageStart
            var valueCount = 0
            while pageEnd < group.endIndex && (pageEnd == pageStart || valueCount + group[pageEnd].valueCount <= valuesPerPage) {
                valueCount += group[pageEnd].valueCount
                pageEnd += 1
            }
            let pageRows = group[pageStart..<pageEnd]
            var values = [Double]()
            values.reserveCapacity(valueCount)
            for row in pageRows {
                for neuron in row.prediction { values.append(contentsOf: neuron.lazy.map(Double.init)) }
            }
            try writer.writePage(ParquetPage(levels: .nestedList(lengths: pageRows.map { $0.prediction.map(\.count) }),
                                             values: .double(values), rowCount: pageRows.count))
            pageStart = pageEnd
        }
        try writer.endColumnChunk()
        var ids = [Int32]()
        ids.reserveCapacity(group.reduce(0) { $0 + $1.neuronIDs.count })
        for row in group { ids.append(contentsOf: row.neuronIDs.lazy.map { Int32(bitPattern: $0) }) }
        try writer.writePage(ParquetPage(levels: .list(lengths: group.map(\.neuronIDs.count)), values: .int32(ids),
                                         rowCount: group.count))
        try writer.endColumnChunk()
        try writer.endRowGroup()
    }

    /// Refuses malformed rows before anything is written.
    static func validate(_ rows: [SubmissionRow], path: String) throws {
        var seen = Set<String>()
        for row in rows { try validate(row, path: path, seen: &seen) }
    }

    /// Refuses a malformed row, or one whose (mouse, trial) is in `seen` (which it joins).
    static func validate(_ row: SubmissionRow, path: String, seen: inout Set<String>) throws {
        let object = "mouse \(row.mouse) trial \(row.trialIndex)"
        func fail(_ kind: DataError.Kind, _ expected: String, _ found: String) -> DataError {
            DataError(kind, path: path, object: object, expected: expected, found: found)
        }
        guard !row.mouse.isEmpty else { throw fail(.invalidArgument, "a mouse name", "an empty name") }
        guard row.trialIndex >= 0 else { throw fail(.invalidArgument, "a trial index ≥ 0", "\(row.trialIndex)") }
        guard seen.insert("\(row.mouse)\u{0}\(row.trialIndex)").inserted else {
            throw fail(.inconsistent, "each (mouse, trial) once", "a second row for it")
        }
        let neurons = row.prediction.count
        let frames = row.prediction.first?.count ?? 0
        guard neurons > 0, frames > 0 else {
            throw fail(.wrongShape, "a prediction of at least one neuron × one frame", "\(neurons) × \(frames)")
        }
        if let ragged = row.prediction.firstIndex(where: { $0.count != frames }) {
            throw fail(.wrongShape, "a prediction of \(neurons) neurons × \(frames) frames (every neuron as many frames as neuron 0)",
                       "\(row.prediction[ragged].count) frames for neuron \(ragged)")
        }
        guard row.neuronIDs.count == neurons else {
            throw fail(.wrongShape, "\(neurons) neuron ids (one per row of the \(neurons) × \(frames) prediction)",
                       "\(row.neuronIDs.count)")
        }
        for (n, neuron) in row.prediction.enumerated() {
            if let f = neuron.firstIndex(where: { !$0.isFinite }) {
                throw fail(.invalidValue, "finite values in the \(neurons) × \(frames) prediction",
                           "\(neuron[f]) at neuron \(n), frame \(f)")
            }
        }
    }

    /// The file name the reference kit gives a tier's and track's submission:
    /// `predictions_file_<tier>_<track>_<suffix>_track.parquet.brotli` (suffix `main` for the main
    /// track, `ood` for the bonus track), e.g. `predictions_file_live_test_main_main_track.parquet.brotli`
    /// and `predictions_file_final_test_bonus_ood_track.parquet.brotli`.
    ///
    /// These are the names `sensorium/utility/submission.py` writes (it names the tier
    /// `<tier>_<track>` and then inserts that into `predictions_file_{tier}_{track}_track`, with
    /// the bonus track called `ood`). The kit's README asks for other names
    /// (`predictions_live_main.parquet.brotli`, `predictions_final_main.parquet.brotli`,
    /// `predictions_live_test_bonus_ood.parquet.brotli`, …); the code's names are used here.
    ///
    /// - Parameters:
    ///   - tier: `"live_test"` or `"final_test"`.
    ///   - track: `"main"` or `"bonus"` (`"ood"` is accepted for the bonus track, as the kit does).
    public static func fileName(tier: String, track: String) -> String {
        let trackName = track == "ood" ? "bonus" : track
        let suffix = trackName == "bonus" ? "ood" : trackName
        return "predictions_file_\(tier)_\(trackName)_\(suffix)_track.parquet.brotli"
    }
}

extension SubmissionRow {
    /// Values in the prediction (neurons × frames).
    var valueCount: Int { prediction.reduce(0) { $0 + $1.count } }
}
