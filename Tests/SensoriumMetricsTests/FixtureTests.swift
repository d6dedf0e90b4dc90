import Foundation
import Testing
import SensoriumTensor
import SensoriumData
import SensoriumTestSupport
@testable import SensoriumMetrics

/// Runs every SENSORIUM metrics case under `SENSORIUM_METRICS_FIXTURES` (default
/// `../shared/fixtures/metrics`): ρ_st and ρ_ta per neuron against the reference scorer.
@Suite struct MetricsFixtureTests {
    static let folder = Fixtures.folder(environmentKey: "SENSORIUM_METRICS_FIXTURES", defaultSubfolder: "metrics")
    static let caseNames = Fixtures.cases(in: folder, marker: "case.json")

    @Test func fixtureFolderHasCases() {
        #expect(!Self.caseNames.isEmpty, "no metrics fixtures found in \(Self.folder.path)")
    }

    @Test(arguments: caseNames)
    func metricsCase(_ name: String) throws {
        let dir = Self.folder.appendingPathComponent(name)
        let json = try Fixtures.json(dir.appendingPathComponent("case.json"))
        guard json["op"] as? String == "sensorium_metrics" else {
            throw FixtureError.malformed("\(dir.path)/case.json: unknown op \(json["op"] ?? "nil"), expected sensorium_metrics")
        }
        let skip = json["skip"] as? Int ?? defaultSkipFrames
        let tol = json["tol"] as? [String: Double] ?? [:]
        let atol = Float(tol["atol"] ?? 1e-5), rtol = Float(tol["rtol"] ?? 1e-4)

        // Fixture layout (trials, neurons, frames); ours: one [frames, neurons] block per trial.
        func trials(_ array: String) throws -> [Tensor] {
            let x = try Fixtures.tensor(array, in: dir)
            guard x.rank == 3 else { throw FixtureError.malformed("\(dir.path)/\(array).npy: expected 3 axes, found \(x.shape)") }
            return x.permuted([0, 2, 1]).split(sizes: Array(repeating: 1, count: x.shape[0]), axis: 0)
                .map { $0.reshaped([x.shape[2], x.shape[1]]) }
        }
        let responses = try trials("responses"), predictions = try trials("predictions")
        let ids = try NPY.read(dir.appendingPathComponent("video_ids.npy").path).floats().map { Int($0) }

        let st = singleTrialCorrelation(responses: responses, predictions: predictions, skipFrames: skip)
        let ta = correlationToAverage(responses: responses, predictions: predictions, videoIDs: ids, skipFrames: skip)
        let stCheck = Closeness.compare(Tensor(st), try Fixtures.tensor("single_trial", in: dir), atol: atol, rtol: rtol)
        let taCheck = Closeness.compare(Tensor(ta), try Fixtures.tensor("to_average", in: dir), atol: atol, rtol: rtol)
        #expect(stCheck.passed, "\(name) single_trial: \(stCheck)")
        #expect(taCheck.passed, "\(name) to_average: \(taCheck)")
    }
}
