import Foundation
import Testing
@testable import Sensorium
import SensoriumTestSupport

/// `train` checks every mouse folder whole before its first step: a bad file anywhere fails the run
/// at once, naming the file, and leaves no run folder behind.
@Suite struct TrainingPreflightTests {
    @Test func aBadTrialAnywhereFailsBeforeTheFirstStep() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("sensorium-preflight-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let mouse = try SyntheticMouseGenerator.generate(configuration: .tiny, into: root.appendingPathComponent("data").path)[0]
        let dataset = try MouseDataset(path: mouse.path)
        // A NaN in the middle of the last training trial (training used to read only trial 0 first).
        let trial = try #require(dataset.trials(in: .train).last)
        let file = dataset.layout.trialFile(.responses, trial: trial)
        let responses = try NPY.readTensor(file)
        var values = responses.scalars
        values[values.count / 4] = .nan
        try NPY.write(Tensor(values, shape: responses.shape), to: file)

        var configuration = TrainingRunConfiguration()
        configuration.model = try VideoModelConfiguration.fromJSON(
            #"{"core": {"type": "factorized3d", "hiddenChannels": [4], "spatialInputKernel": [3, 3], "temporalInputKernel": 3}}"#)
        configuration.data.frames = 20
        let output = root.appendingPathComponent("run").path
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        do {
            _ = try TrainingWorkflow.run(.init(dataPaths: [mouse.path], configuration: configuration, output: output), logger: logger)
            Issue.record("training on a folder with a NaN response started")
        } catch let error as SensoriumError {
            #expect(error.description.contains("responses/\(trial).npy") && error.description.contains("NaN"), "\(error)")
        }
        #expect(!FileManager.default.fileExists(atPath: output), "a refused run leaves no folder")
    }
}
