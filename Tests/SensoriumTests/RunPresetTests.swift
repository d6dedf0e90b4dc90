import Foundation
import Testing
@testable import Sensorium

@Suite("Run presets")
struct RunPresetTests {
    @Test("names are unique and every preset survives its own JSON (what `sensorium presets NAME` prints trains the same run)")
    func roundTrip() throws {
        let names = RunPreset.registered.map(\.name)
        #expect(Set(names).count == names.count, "duplicate preset names in \(names)")
        for preset in RunPreset.registered {
            let configuration = preset.configuration
            let decoded = try TrainingRunConfiguration.fromJSON(configuration.jsonString(), source: preset.name)
            #expect(decoded == configuration, "preset \(preset.name) changes through JSON")
            #expect(!preset.summary.isEmpty)
        }
    }

    @Test("--config takes a preset name or a file; an unknown name lists the presets")
    func fileOrPreset() throws {
        let preset = try TrainingRunConfiguration.load(fileOrPreset: "gruBaseline")
        #expect(preset == RunPreset.gruBaseline.configuration)
        #expect(preset.model.core.typeName != TrainingRunConfiguration().model.core.typeName)
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("presets-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("gruBaseline")
        try Data(#"{"trainer": {"seed": 3}}"#.utf8).write(to: file)
        #expect(try TrainingRunConfiguration.load(fileOrPreset: file.path).trainer.seed == 3)
        // A folder named like a preset (for example the run folder of that preset) does not hide it.
        let runs = folder.appendingPathComponent("runs")
        try FileManager.default.createDirectory(at: runs.appendingPathComponent("stacked2dGRU"), withIntermediateDirectories: true)
        #expect(try TrainingRunConfiguration.load(fileOrPreset: "stacked2dGRU", relativeTo: runs.path)
                == RunPreset.stacked2dGRU.configuration)
        // A file named like a preset is read as the file.
        #expect(try TrainingRunConfiguration.load(fileOrPreset: "gruBaseline", relativeTo: folder.path).trainer.seed == 3)
        #expect {
            try TrainingRunConfiguration.load(fileOrPreset: "noSuchPreset")
        } throws: { error in
            "\(error)".contains("factorizedBaseline") && "\(error)".contains("noSuchPreset")
        }
    }
}
