import Testing
import Foundation
@testable import SensoriumData

/// Submission tables read back by an independent reader: `Tools/check-parquet.py` reads each file
/// with pyarrow and pandas, compares every value with the JSON dump of the rows written here,
/// compares the schema and dtypes with the file pyarrow writes for the same rows the way the
/// reference kit does, and checks that perturbed dumps are detected. Runs when
/// `SENSORIUM_PARQUET_PYTHON` names a Python with pyarrow and pandas (`make test-parquet` makes
/// one under .build and sets it).
@Suite("Parquet independent reader",
       .enabled(if: ProcessInfo.processInfo.environment["SENSORIUM_PARQUET_PYTHON"] != nil,
                "set SENSORIUM_PARQUET_PYTHON (make test-parquet)"))
struct ParquetInteropTests {
    /// A deterministic prediction with awkward values: signs, -0, subnormals, extremes.
    static func prediction(neurons: Int, frames: Int, seed: Int) -> [[Float]] {
        let specials: [Float] = [-0.0, .leastNonzeroMagnitude, -.greatestFiniteMagnitude, .greatestFiniteMagnitude,
                                 1e-30, -1, .ulpOfOne]
        return (0..<neurons).map { n in
            (0..<frames).map { f in
                let k = (n * 31 + f * 7 + seed * 13)
                if k % 11 == 0 { return specials[(k / 11) % specials.count] }
                return Float(sin(Double(k) * 0.37)) * Float(1 + k % 5)
            }
        }
    }

    static func rows(mouse: String, trials: [Int], neurons: Int, frames: Int, ids: [UInt32]? = nil) -> [SubmissionRow] {
        trials.map { t in
            SubmissionRow(mouse: mouse, trialIndex: t, prediction: prediction(neurons: neurons, frames: frames, seed: t),
                          neuronIDs: ids ?? (0..<neurons).map { UInt32($0 * 3 + 1) })
        }
    }

    static func dump(_ rows: [SubmissionRow], rowGroups: Int, codec: String) -> [String: Any] {
        [
            "row_groups": rowGroups,
            "codec": codec,
            "rows": rows.map { r -> [String: Any] in
                ["mouse": r.mouse, "trial_index": r.trialIndex,
                 "prediction_bits": r.prediction.map { $0.map { Int($0.bitPattern) } },
                 "neuron_ids": r.neuronIDs.map { Int($0) }]
            },
        ]
    }

    @Test func pyarrowAndPandasReadEveryValue() throws {
        let python = try #require(ProcessInfo.processInfo.environment["SENSORIUM_PARQUET_PYTHON"])
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("sensorium-parquet-interop-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }

        let longName = "mouse_" + String(repeating: "ä→", count: 200) + "_end"
        let edgeIDs: [UInt32] = [0, UInt32.max, 2_147_483_648, 7]
        var several = Self.rows(mouse: "dynamic29156-11-10-Video-8744edeac3b4d1ce16b680916b5267ce", trials: [0, 3, 9, 12, 40],
                                neurons: 6, frames: 5)
        several += Self.rows(mouse: "single", trials: [5_000_000_000], neurons: 4, frames: 9, ids: edgeIDs)
        several += Self.rows(mouse: longName, trials: [2, 1], neurons: 1, frames: 1)
        let large = Self.rows(mouse: "large", trials: Array(0..<40), neurons: 50, frames: 30)
        // name, rows, rows per row group, values per page, compression
        let cases: [(String, [SubmissionRow], Int, Int, ParquetFileWriter.Compression)] = [
            ("several", several, 2, 40, .brotli),
            ("one-row-group", several, SubmissionParquet.defaultRowsPerRowGroup, SubmissionParquet.defaultValuesPerPage, .brotli),
            ("single", Array(several.suffix(3).prefix(1)), 1, 1, .brotli),
            ("large", large, 16, 4_000, .brotli),
            ("uncompressed", several, 3, 1, .uncompressed),
            ("empty", [], 4, 4, .brotli),
        ]
        var arguments = ["--self-check"]
        for (name, rows, rowsPerGroup, valuesPerPage, compression) in cases {
            let file = folder.appendingPathComponent("\(name).parquet.brotli")
            try SubmissionParquet.write(rows, to: file, rowsPerRowGroup: rowsPerGroup, valuesPerPage: valuesPerPage,
                                        compression: compression)
            let groups = (rows.count + rowsPerGroup - 1) / rowsPerGroup
            let json = try JSONSerialization.data(withJSONObject: Self.dump(rows, rowGroups: groups,
                                                                            codec: compression == .brotli ? "BROTLI" : "UNCOMPRESSED"))
            let dumpURL = folder.appendingPathComponent("\(name).json")
            try json.write(to: dumpURL)
            arguments += [file.path, dumpURL.path]
        }
        // The streaming writer, row by row (row groups of 3, Brotli quality 9).
        let streamed = folder.appendingPathComponent("streamed.parquet.brotli")
        let writer = try SubmissionParquetWriter(url: streamed, rowsPerRowGroup: 3, brotliQuality: 9)
        for row in several { try writer.append(row) }
        try writer.finish()
        let streamedDump = folder.appendingPathComponent("streamed.json")
        try JSONSerialization.data(withJSONObject: Self.dump(several, rowGroups: 3, codec: "BROTLI")).write(to: streamedDump)
        arguments += [streamed.path, streamedDump.path]

        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Tools/check-parquet.py")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [script.path] + arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        print(text)
        #expect(process.terminationStatus == 0, "check-parquet.py failed:\n\(text)")
        // Every file passed, and every perturbation of every non-empty dump was detected.
        #expect(text.components(separatedBy: "every value equal").count - 1 == cases.count + 1)
        #expect(text.components(separatedBy: "is detected").count - 1 == 5 * cases.count)
    }
}
