import Testing
import Foundation
@testable import SensoriumData

/// The submission table's API: file names, refusals of malformed rows, the file's framing.
@Suite("Parquet submission table")
struct ParquetSubmissionTests {
    static func row(_ mouse: String = "m", trial: Int = 0, neurons: Int = 2, frames: Int = 3) -> SubmissionRow {
        SubmissionRow(mouse: mouse, trialIndex: trial,
                      prediction: (0..<neurons).map { n in (0..<frames).map { Float(n * frames + $0) / 7 } },
                      neuronIDs: (0..<neurons).map { UInt32($0 + 10) })
    }

    static func temporaryFolder() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("sensorium-parquet-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    @Test func fileNamesFollowTheReferenceCode() {
        #expect(SubmissionParquet.fileName(tier: "live_test", track: "main") == "predictions_file_live_test_main_main_track.parquet.brotli")
        #expect(SubmissionParquet.fileName(tier: "final_test", track: "main") == "predictions_file_final_test_main_main_track.parquet.brotli")
        #expect(SubmissionParquet.fileName(tier: "live_test", track: "bonus") == "predictions_file_live_test_bonus_ood_track.parquet.brotli")
        #expect(SubmissionParquet.fileName(tier: "final_test", track: "bonus") == "predictions_file_final_test_bonus_ood_track.parquet.brotli")
        #expect(SubmissionParquet.fileName(tier: "final_test", track: "ood") == "predictions_file_final_test_bonus_ood_track.parquet.brotli")
    }

    /// Writes `rows` and returns the error (nil when written), checking that a refused table
    /// leaves no file, temporary or final.
    static func refusal(_ rows: [SubmissionRow]) throws -> DataError? {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("t.parquet")
        do {
            try SubmissionParquet.write(rows, to: url)
            return nil
        } catch let error as DataError {
            #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path).isEmpty)
            #expect(error.path == url.path)
            return error
        }
    }

    @Test func raggedPredictionIsRefusedNamingMouseTrialAndShapes() throws {
        var bad = Self.row("mouseB", trial: 17, neurons: 3, frames: 4)
        bad.prediction[2].removeLast()
        let error = try #require(try Self.refusal([Self.row(), bad]))
        #expect(error.kind == .wrongShape)
        #expect(error.object == "mouse mouseB trial 17")
        #expect(error.description.contains("3 neurons × 4 frames"))
        #expect(error.description.contains("3 frames for neuron 2"))
    }

    @Test func neuronIDCountMustMatch() throws {
        var bad = Self.row("m2", trial: 5, neurons: 4, frames: 2)
        bad.neuronIDs.removeLast()
        let error = try #require(try Self.refusal([bad]))
        #expect(error.kind == .wrongShape)
        #expect(error.object == "mouse m2 trial 5")
        #expect(error.description.contains("4 neuron ids"))
        #expect(error.description.contains("4 × 2"))
        #expect(error.found == "3")
    }

    @Test func nonFiniteValuesAreRefused() throws {
        for value in [Float.nan, .infinity, -.infinity] {
            var bad = Self.row("m", trial: 1, neurons: 2, frames: 3)
            bad.prediction[1][2] = value
            let error = try #require(try Self.refusal([bad]))
            #expect(error.kind == .invalidValue)
            #expect(error.description.contains("neuron 1, frame 2"))
            #expect(error.description.contains("2 × 3"))
        }
    }

    @Test func otherMalformedRowsAreRefused() throws {
        #expect(try Self.refusal([Self.row(neurons: 0)])?.kind == .wrongShape)
        #expect(try Self.refusal([Self.row(frames: 0)])?.kind == .wrongShape)
        #expect(try Self.refusal([Self.row(trial: -1)])?.kind == .invalidArgument)
        #expect(try Self.refusal([Self.row("")])?.kind == .invalidArgument)
        #expect(try Self.refusal([Self.row("a", trial: 3), Self.row("b", trial: 3), Self.row("a", trial: 3)])?.kind == .inconsistent)
    }

    @Test func streamingWriterLeavesNothingBehindOnErrorOrWithoutFinish() throws {
        let folder = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("t.parquet")
        do {
            let writer = try SubmissionParquetWriter(url: url, rowsPerRowGroup: 1)
            try writer.append(Self.row("a", trial: 0))   // written as a row group at once
            try writer.append(Self.row("a", trial: 1))
            var bad = Self.row("a", trial: 2, neurons: 3, frames: 2)
            bad.neuronIDs = [1]
            #expect(throws: DataError.self) { try writer.append(bad) }
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path).isEmpty)
        do {
            let writer = try SubmissionParquetWriter(url: url, rowsPerRowGroup: 1)
            try writer.append(Self.row("a", trial: 0))
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path).isEmpty)
        #expect(throws: DataError.self) { try SubmissionParquetWriter(url: url, brotliQuality: 12) }
        let writer = try SubmissionParquetWriter(url: url, rowsPerRowGroup: 1)
        try writer.append(Self.row("a", trial: 0))
        try writer.finish()
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == ["t.parquet"])
    }

    @Test func fileIsFramedAndReplacedAtomically() throws {
        let folder = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent(SubmissionParquet.fileName(tier: "live_test", track: "main"))
        try Data("old".utf8).write(to: url)
        try SubmissionParquet.write([Self.row("a", trial: 0), Self.row("b", trial: 1)], to: url)
        let bytes = [UInt8](try Data(contentsOf: url))
        #expect(Array(bytes.prefix(4)) == Array("PAR1".utf8))
        #expect(Array(bytes.suffix(4)) == Array("PAR1".utf8))
        let footerLength = bytes.suffix(8).prefix(4).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        #expect(footerLength > 0 && footerLength < bytes.count - 12)
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == [url.lastPathComponent])
    }
}
