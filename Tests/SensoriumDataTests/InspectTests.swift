import Foundation
import Testing
import SensoriumTensor
@testable import SensoriumData

@Suite struct MouseFolderInspectorTests {
    @Test func cleanSyntheticFolder() {
        let c = SyntheticMouseConfiguration.tiny
        let report = MouseFolderInspector.inspect(path: tinySyntheticMouse, clipFrames: 40)
        #expect(report.isUsable)
        #expect(report.problems.filter { $0.severity >= .warning }.isEmpty, "\(report.problems)")
        #expect(report.neurons == c.neurons && report.trials == c.trialsPerMouse)
        #expect(report.frameHeight == c.height && report.frameWidth == c.width && report.paddedLength == c.paddedLength)
        #expect(report.tierCounts[.oracle] == c.oracleClips * c.repeats)
        #expect(report.trialsScanned == c.trialsPerMouse)
        let train = report.lengths[.train]
        #expect(train?.maximum == c.maximumLength && train?.unpadded == 0)
        #expect(report.repeats[.oracle]?.clips == c.oracleClips)
        #expect(report.repeats[.oracle]?.minRepeats == c.repeats)
        #expect(report.repeatsFromMetadata)
        #expect(report.statisticsPresent[.responses] == ["mean", "std", "min", "max", "median"])
        let text = report.description
        #expect(text.contains("oracle") && text.contains("statistics responses: mean, std, min, max, median"))
    }

    @Test func reportsEveryProblemAtOnce() throws {
        let path = try MiniMouse().write()
        defer { try? FileManager.default.removeItem(atPath: path) }
        try FileManager.default.removeItem(atPath: path + "/data/responses/3.npy")
        try NPYFile.write(NPYArray(floats: [1], shape: [1]), to: path + "/data/behavior/notes.npy")
        try FileManager.default.removeItem(atPath: path + "/meta/statistics/pupil_center/all/std.npy")
        try NPYFile.write(NPYArray(floats: [0, 0, 0, 1, .nan, 1, 2, 2, 2], shape: [3, 3]), to: path + "/meta/neurons/cell_motor_coordinates.npy")
        let report = MouseFolderInspector.inspect(path: path)
        #expect(!report.isUsable)
        let errors = report.problems.filter { $0.severity == .error }
        #expect(errors.count >= 4, "\(report.problems)")
        #expect(errors.contains { $0.path.hasSuffix("data/responses") && $0.message.contains("3.npy") })
        #expect(errors.contains { $0.path.hasSuffix("data/behavior") && $0.message.contains("notes.npy") })
        #expect(errors.contains { $0.path.hasSuffix("pupil_center/all/std.npy") })
        #expect(errors.contains { $0.path.hasSuffix("cell_motor_coordinates.npy") })
        #expect(report.problems.first?.severity == .error)
        #expect(report.trials == 5)
    }

    @Test func warningsAndNotes() throws {
        var mini = MiniMouse()
        mini.tiers = ["train", "train", "oracle", "oracle", "live_test_main"]
        let path = try mini.write()
        defer { try? FileManager.default.removeItem(atPath: path) }
        // Dummy all-zero responses in the test tier, statistics one frame short, a negative response.
        try NPYFile.write(NPYArray(floats: [Float](repeating: 0, count: 18), shape: [3, 6]), to: path + "/data/responses/4.npy")
        try NPYFile.write(NPYArray(floats: [Float](repeating: 1, count: 10), shape: [2, 5]), to: path + "/meta/statistics/behavior/all/std.npy")
        var r = mini.array([3, 6]) { $0[1] < 6 ? mini.response(0, $0[0], $0[1]) : .nan }
        r[1] = -2
        try NPYFile.write(NPYArray(floats: r, shape: [3, 6]), to: path + "/data/responses/0.npy")
        let report = MouseFolderInspector.inspect(path: path, clipFrames: 5)
        #expect(report.isUsable, "\(report.problems)")
        let p = report.problems
        #expect(p.contains { $0.severity == .note && $0.message.contains("all-zero responses") })
        #expect(p.contains { $0.severity == .warning && $0.path.hasSuffix("behavior/all/std.npy") && $0.message.contains("covers 5 frames") })
        #expect(p.contains { $0.severity == .warning && $0.message.contains("below −0.001") })
        #expect(p.contains { $0.severity == .warning && $0.message.contains("shorter than 5-frame") })
        #expect(p.contains { $0.severity == .note && $0.path.hasSuffix("config.json") })
        #expect(report.repeats[.liveTestMain]?.maxRepeats == 1)
        #expect(p.contains { $0.message.contains("live_test_main has no repeated clip") })
        // The statistic cut every trial at frame 5.
        #expect(report.lengths[.train]?.maximum == 5)
    }

    @Test func missingFolder() {
        let report = MouseFolderInspector.inspect(path: "/tmp/sensorium-no-such-mouse")
        #expect(!report.isUsable && report.problems.count == 1)
        #expect(report.description.contains("found nothing"))
    }

    @Test func metadataOnlyScan() throws {
        let report = MouseFolderInspector.inspect(path: tinySyntheticMouse, scanTrials: 0)
        #expect(report.trialsScanned == 0 && report.isUsable)
        #expect(report.lengths.isEmpty)
    }
}
