import Foundation
import Testing
@testable import Sensorium
@testable import SensoriumTraining
import SensoriumTestSupport

/// `sensorium import` on the model fixtures' PyTorch weights: every starter-kit model the fixtures
/// describe by their `make_video_model` call becomes a run folder whose model predicts what PyTorch
/// predicts; the GRU baseline then evaluates and predicts from the CLI.
@Suite("ImportTests", .serialized)
struct ImportTests {
    static let folder = ModelFixtureTests.folder
    /// Cases that record the kit's call (the ones a user could import from their notebook).
    static let cases = ModelFixtureTests.cases.filter {
        (try? Fixtures.json(folder.appendingPathComponent($0).appendingPathComponent("model.json")))?["make_video_model"] != nil
    }

    /// Synthetic mouse folders named and sized like the fixture's mice (neurons, frame size).
    static func mice(for fixture: ModelFixture, in root: URL) throws -> [String] {
        try fixture.mice.enumerated().map { index, mouse in
            var c = SyntheticMouseConfiguration.tiny
            c.seed = UInt64(11 + index)
            c.neurons = mouse.count
            c.height = mouse.frameSize![0]
            c.width = mouse.frameSize![1]
            let generated = try SyntheticMouseGenerator.generateMouse(index: 0, configuration: c, into: root.path)
            let target = root.appendingPathComponent(mouse.key).path
            try FileManager.default.moveItem(atPath: generated.path, toPath: target)
            return target
        }
    }

    @Test func someCasesRecordTheKitCall() {
        #expect(!Self.cases.isEmpty, "no model fixture with a make_video_model call in \(Self.folder.path)")
    }

    @Test(arguments: cases) func importedModelPredictsLikePyTorch(_ name: String) throws {
        let dir = Self.folder.appendingPathComponent(name)
        let fixture = try ModelFixture(folder: dir)
        let root = try temporaryFolder("import-\(name)")
        defer { try? FileManager.default.removeItem(at: root) }
        let mice = try Self.mice(for: fixture, in: root)
        let json = try Fixtures.json(dir.appendingPathComponent("model.json"))
        let arguments = root.appendingPathComponent("kit.json")
        try JSONSerialization.data(withJSONObject: try #require(json["make_video_model"])).write(to: arguments)
        let run = root.appendingPathComponent("run").path

        let imported = try SensoriumTool.run(["import", "--state", dir.appendingPathComponent("state").path,
                                              "--kit-arguments", arguments.path, "-o", run] + mice)
        #expect(imported.status == 0, "\(imported.all)")

        // The checkpoint rebuilds the model and predicts the fixture's outputs.
        let model = try VideoModel.load(from: URL(fileURLWithPath: RunFolder.file(run, RunFolder.modelFile)))
        for mouse in fixture.mice {
            let video = try Fixtures.tensor("video.\(mouse.key)", in: dir)
            let pupil = try Fixtures.tensor("pupil_center.\(mouse.key)", in: dir)
            let expected = try Fixtures.tensor("output.\(mouse.key)", in: dir)
            let output = withNoGrad { model(video: video, pupilCenter: model.shifter == nil ? nil : pupil, mouse: mouse.key) }
            expectClose(output, expected, atol: fixture.atol, rtol: fixture.rtol, "\(name) \(mouse.key) imported output")
        }

        // A GRU baseline evaluates and predicts from the CLI.
        guard let frameWise = model.core as? FrameWiseCore, frameWise.gruModule != nil else { return }
        let evaluated = try SensoriumTool.run(["evaluate", "-m", run, "--max-frames", "0", "--skip-frames", "10"] + mice)
        #expect(evaluated.status == 0, "\(evaluated.all)")
        #expect(evaluated.stdout.contains("ρ_st"), "\(evaluated.stdout)")
        let predictions = root.appendingPathComponent("predictions").path
        let predicted = try SensoriumTool.run(["predict", "-m", run, "--format", "npy", "--skip-frames", "10",
                                               "-o", predictions] + mice)
        #expect(predicted.status == 0, "\(predicted.all)")
        #expect(FileManager.default.fileExists(atPath: (predictions as NSString).appendingPathComponent(fixture.mice[0].key)))
    }

    @Test func unknownKitOptionsAreRefusedByName() throws {
        var arguments: [String: Any] = [
            "seed": 1, "core_type": "3D_factorised",
            "core_dict": ["input_channels": 3, "hidden_channels": [4], "spatial_input_kernel": [3, 3],
                          "temporal_input_kernel": 3, "layers": 1, "mystery_option": true],
            "readout_type": "gaussian", "readout_dict": ["bias": true, "grid_mean_predictor": NSNull()],
            "use_gru": false, "gru_dict": NSNull(), "use_shifter": false, "shifter_dict": NSNull(), "shifter_type": NSNull(),
        ]
        do {
            _ = try StarterKitArguments.configuration(arguments: arguments)
            Issue.record("an unknown option should be refused")
        } catch {
            #expect("\(error)".contains("mystery_option"))
        }
        arguments["core_dict"] = ["input_channels": 3, "hidden_channels": [4], "spatial_input_kernel": [3, 3],
                                  "temporal_input_kernel": 3, "layers": 1]
        let configuration = try StarterKitArguments.configuration(arguments: arguments)
        #expect(configuration.shifter == .none)
        let readout = try #require(configuration.readout.as(GaussianReadoutConfiguration.self))
        #expect(readout.positionNetwork == nil)
    }
}
