import Foundation
import Testing
@testable import Sensorium
@testable import SensoriumTraining

/// Ensembles from the CLI (`train --seeds`, `evaluate`/`predict`/`submit` with an ensemble), the
/// submission file and its checks, and the FEVE / oracle summaries.
@Suite("EnsembleWorkflowTests", .serialized)
struct EnsembleWorkflowTests {
    static let mouseName = "synthetic7-0-Video"

    /// Two seeds train, evaluate and submit from the CLI; the ensemble's predictions are the mean
    /// of the members'; FEVE and the oracle correlation in results.json match the metrics library.
    @Test func ensembleOfTwoSeedsTrainsEvaluatesAndSubmits() throws {
        let folder = try temporaryFolder("ensemble")
        defer { try? FileManager.default.removeItem(at: folder) }
        let mice = folder.appendingPathComponent("mice").path
        #expect(try SensoriumTool.run(["synth", "--tiny", "--output", mice]).status == 0)
        let config = folder.appendingPathComponent("config.json")
        try Data(CLITests.tinyConfiguration.utf8).write(to: config)
        let ensemble = folder.appendingPathComponent("ensemble").path

        // --seed and --seeds exclude each other.
        let clash = try SensoriumTool.run(["train", mice, "-o", ensemble, "-c", config.path, "--seeds", "1,2", "--seed", "3"])
        #expect(clash.status != 0 && clash.stderr.contains("--seeds"), "\(clash.all)")

        let train = try SensoriumTool.run(["train", mice, "-o", ensemble, "-c", config.path, "--seeds", "1,2", "--plain"])
        #expect(train.status == 0, "\(train.all)")
        let manifest = try EnsembleManifest.load(from: URL(fileURLWithPath: RunFolder.file(ensemble, EnsembleManifest.fileName)))
        #expect(manifest.members.map(\.folder) == ["seed-1", "seed-2"] && manifest.members.map(\.seed) == [1, 2])
        #expect(manifest.formatVersion == 1 && manifest.configuration.data.frames == 30)
        let dataset = try MouseDataset(path: RunFolder.file(mice, Self.mouseName))
        #expect(manifest.mice == [EnsembleManifest.Mouse(name: Self.mouseName, unitIDs: dataset.unitIDs)])
        for member in manifest.members {
            let saved = try TrainingRunConfiguration.load(from: URL(fileURLWithPath: RunFolder.file(RunFolder.file(ensemble, member.folder), TrainingWorkflow.configurationFile)))
            #expect(saved.trainer.seed == member.seed && saved.model.seed == member.seed)
        }
        // Different seeds, different weights.
        let a = try Checkpoint.modelState(from: URL(fileURLWithPath: RunFolder.file(RunFolder.file(ensemble, "seed-1"), RunFolder.modelFile)))
        let b = try Checkpoint.modelState(from: URL(fileURLWithPath: RunFolder.file(RunFolder.file(ensemble, "seed-2"), RunFolder.modelFile)))
        #expect(a.keys.sorted() == b.keys.sorted() && a.keys.contains { a[$0]!.scalars != b[$0]!.scalars })
        // Resuming a finished ensemble keeps its members.
        let resumed = try SensoriumTool.run(["train", mice, "-o", ensemble, "--seeds", "1,2", "--resume", "--plain"])
        #expect(resumed.status == 0 && resumed.stdout.contains("seed-2: finished earlier, kept"), "\(resumed.all)")

        // Evaluate: members and ensemble side by side, FEVE and oracle.
        let evaluate = try SensoriumTool.run(["evaluate", "-m", ensemble, mice])
        #expect(evaluate.status == 0, "\(evaluate.all)")
        for text in ["Members and ensemble", "seed-1", "seed-2", "Ensemble of 2", "FEVE", "frac. oracle"] {
            #expect(evaluate.stdout.contains(text), "evaluate output misses '\(text)': \(evaluate.stdout)")
        }
        let results = try EvaluationResultsFile.load(from: URL(fileURLWithPath: RunFolder.file(ensemble, RunFolder.resultsFile)))
        #expect(results.model.model == "Ensemble of 2" && results.members.map(\.model) == ["seed-1", "seed-2"])
        #expect(results.model.main != nil && results.members.allSatisfy { $0.main != nil && $0.bonus != nil })
        let oracle = try #require(results.oracle.first)
        #expect(oracle.mouse == Self.mouseName && oracle.neurons == 24 && oracle.videos > 0)

        // The ensemble's predictions are the mean of the members'.
        let models = try EvaluationWorkflow.loadModels([ensemble])
        #expect(models.isEnsemble && models.members.count == 2)
        let datasets = try models.openDatasets([mice])
        let tiers: [MouseTier] = [.liveTestMain, .finalTestMain]

        // FEVE and the oracle correlation of results.json, against the metrics library on the
        // ensemble's aligned predictions of the main track's repeated videos.
        var responses: [ResponseMatrix] = [], predictions: [ResponseMatrix] = [], ids: [Int] = []
        var video = 0
        for tier in tiers {
            for group in try datasets[0].repeatGroups(in: tier) {
                for t in try Predictions.aligned(models.model, dataset: datasets[0], tier: tier, trials: group) {
                    responses.append(ResponseMatrix(values: t.recorded, rows: t.frames, neurons: t.neurons))
                    predictions.append(ResponseMatrix(values: t.predicted, rows: t.frames, neurons: t.neurons))
                    ids.append(video)
                }
                video += 1
            }
        }
        let conditions = repeatedConditions(responses: responses, predictions: predictions, videoIDs: ids, skipFrames: 0)
        let expected = fractionOfExplainableVarianceExplained(targets: conditions.responses, predictions: conditions.predictions)
        let expectedOracle = oracleCorrelation(conditions.responses)
        for j in 0..<24 where expected.fractionExplained[j].isFinite {
            #expect(abs(oracle.feve[j] - expected.fractionExplained[j]) < 1e-3 * max(1, abs(expected.fractionExplained[j])), "FEVE of neuron \(j)")
            #expect(abs(oracle.oracle[j] - expectedOracle[j]) < 1e-4, "oracle of neuron \(j)")
        }
        let evaluation = try EvaluationReport.load(from: URL(fileURLWithPath: RunFolder.file(ensemble, RunFolder.evaluationFile)))
        let st = try #require(evaluation.mice.first?.scores["main"]?.perNeuronSingleTrial)
        var xy = 0.0, xx = 0.0
        for j in 0..<24 where expectedOracle[j].isFinite && st[j].isFinite {
            xy += Double(expectedOracle[j]) * Double(st[j])
            xx += Double(expectedOracle[j]) * Double(expectedOracle[j])
        }
        #expect(abs(oracle.fractionOfOracle - xy / xx) < 1e-4 && abs(results.fractionOfOracle - xy / xx) < 1e-4)

        // The ensemble folder's report: members' rows above the ensemble's, with the oracle panels.
        #expect(try SensoriumTool.run(["report", ensemble]).status == 0)
        let page = try String(contentsOfFile: RunFolder.file(ensemble, RunFolder.reportFile), encoding: .utf8)
        for text in ["seed-1", "seed-2", "Ensemble of 2", "id=\"oracle-histogram\"", "id=\"oracle-table\""] {
            #expect(page.contains(text), "ensemble report misses \(text)")
        }

        // The HTML report of a member evaluated alone shows the oracle table and histogram.
        let member = RunFolder.file(ensemble, "seed-1")
        #expect(try SensoriumTool.run(["evaluate", "-m", member, mice]).status == 0)
        #expect(try SensoriumTool.run(["report", member]).status == 0)
        let html = try String(contentsOfFile: RunFolder.file(member, RunFolder.reportFile), encoding: .utf8)
        for id in ["oracle-table", "oracle-histogram", "feve-histogram", "model-vs-oracle-0"] {
            #expect(html.contains("id=\"\(id)\""), "report misses \(id)")
        }

        // Submit: the four parts, whole trials minus 50 frames, equal to the mean of the members.
        let submission = folder.appendingPathComponent("submission").path
        let submit = try SensoriumTool.run(["submit", "-m", ensemble, mice, "-o", submission])
        #expect(submit.status == 0, "\(submit.all)")
        let stored = try SubmissionWorkflow.read(URL(fileURLWithPath: RunFolder.file(submission, SubmissionWorkflow.hdf5FileName)))
        #expect(stored.framesSkipped == 50 && stored.models.count == 2)
        for part in SubmissionWorkflow.Part.all {
            let name = SubmissionParquet.fileName(tier: part.tier, track: part.track)
            #expect(FileManager.default.fileExists(atPath: RunFolder.file(submission, name)), "missing \(name)")
        }
        #expect(Set(stored.mice.map(\.part)) == Set(SubmissionWorkflow.Part.all))
        let memberModels = try manifest.members.map { try EvaluationWorkflow.loadModel(RunFolder.file(ensemble, $0.folder)).model }
        for part in stored.mice {
            #expect(part.mouse == Self.mouseName && part.neuronIDs == dataset.unitIDs.map(UInt32.init))
            #expect(part.trialIndices == dataset.trials(in: part.part.mouseTier))
            var mean: [Int: [Float]] = [:]
            for model in memberModels {
                try Predictions.forEach(model, datasets: [dataset], tiers: [part.part.mouseTier], maxFrames: nil) { p in
                    let previous = mean[p.trial] ?? [Float](repeating: 0, count: p.values.count)
                    mean[p.trial] = zip(previous, p.values).map { $0 + $1 / 2 }
                }
            }
            for (k, trial) in part.trialIndices.enumerated() {
                #expect(part.frames[k] == (try dataset.trialLength(trial)) - 50)
                let m = try #require(mean[trial])
                #expect(m.count == part.predictions[k].count)
                let worst = zip(m, part.predictions[k]).map { abs($0 - $1) }.max() ?? 0
                #expect(worst < 1e-5, "\(part.part.tier) \(part.part.track) trial \(trial): differs from the members' mean by \(worst)")
            }
        }

        // predict with two -m options gives the same ensemble.
        let predicted = folder.appendingPathComponent("predicted").path
        let predict = try SensoriumTool.run(["predict", "-m", RunFolder.file(ensemble, "seed-1"), "-m", RunFolder.file(ensemble, "seed-2"),
                                             mice, "-o", predicted, "--format", "hdf5", "--tiers", "final", "--max-frames", "0"])
        #expect(predict.status == 0, "\(predict.all)")
        let fromPredict = try Predictions.readHDF5(file: URL(fileURLWithPath: RunFolder.file(predicted, "predictions.h5")))
        let finalMain = try #require(stored.mice.first { $0.part.mouseTier == .finalTestMain })
        for p in fromPredict.first?.trials ?? [] where p.tier == .finalTestMain {
            let k = try #require(finalMain.trialIndices.firstIndex(of: p.trial))
            #expect(zip(p.values, finalMain.predictions[k]).allSatisfy { abs($0 - $1) < 1e-6 })
        }

        // A manifest whose unit ids differ from the folder's is refused, naming the mouse.
        var wrong = manifest
        wrong.mice[0].unitIDs[3] += 1000
        try wrong.write(to: URL(fileURLWithPath: RunFolder.file(ensemble, EnsembleManifest.fileName)))
        let refused = try SensoriumTool.run(["evaluate", "-m", ensemble, mice])
        #expect(refused.status != 0 && refused.stderr.contains("mouse \(Self.mouseName)") && refused.stderr.contains("other neurons"), "\(refused.all)")
    }

    /// `--folds k`: one member per fold of a k-fold split, each trained with its fold.
    @Test func foldsTrainOneMemberPerFold() throws {
        let folder = try temporaryFolder("ensemble-folds")
        defer { try? FileManager.default.removeItem(at: folder) }
        let mice = folder.appendingPathComponent("mice").path
        #expect(try SensoriumTool.run(["synth", "--tiny", "--output", mice]).status == 0)
        let config = folder.appendingPathComponent("config.json")
        try Data(CLITests.tinyConfiguration.utf8).write(to: config)
        let ensemble = folder.appendingPathComponent("folds").path
        let train = try SensoriumTool.run(["train", mice, "-o", ensemble, "-c", config.path, "--folds", "2", "--plain"])
        #expect(train.status == 0, "\(train.all)")
        let manifest = try EnsembleManifest.load(from: URL(fileURLWithPath: RunFolder.file(ensemble, EnsembleManifest.fileName)))
        #expect(manifest.members == [.init(folder: "fold-0", seed: 42, fold: 0, folds: 2), .init(folder: "fold-1", seed: 42, fold: 1, folds: 2)])
        for member in manifest.members {
            let saved = try TrainingRunConfiguration.load(from: URL(fileURLWithPath: RunFolder.file(RunFolder.file(ensemble, member.folder), TrainingWorkflow.configurationFile)))
            #expect(saved.data.folds == 2 && saved.data.fold == member.fold)
        }
        #expect(try SensoriumTool.run(["evaluate", "-m", RunFolder.file(ensemble, EnsembleManifest.fileName), mice]).status == 0)
        // Starting again over an ensemble needs --overwrite.
        let again = try SensoriumTool.run(["train", mice, "-o", ensemble, "-c", config.path, "--folds", "2"])
        #expect(again.status != 0 && again.stderr.contains("--overwrite"), "\(again.all)")
    }

    /// A prediction of the wrong shape is refused before anything is written, naming the mouse,
    /// trial and both shapes; members that predict different neurons are refused when loaded.
    @Test func wrongShapesAndDisagreeingMembersAreRefused() throws {
        let folder = try temporaryFolder("submission-check")
        defer { try? FileManager.default.removeItem(at: folder) }
        let mice = folder.appendingPathComponent("mice").path
        #expect(try SensoriumTool.run(["synth", "--tiny", "--output", mice]).status == 0)
        let dataset = try MouseDataset(path: RunFolder.file(mice, Self.mouseName))
        let configuration = try TrainingRunConfiguration.fromJSON(CLITests.tinyConfiguration)
        let model = try VideoModel(configuration: configuration.model, datasets: [dataset])
        model.eval()
        let options = SubmissionWorkflow.Options()
        let honest = SubmissionWorkflow.predictor(model, options: options)
        // One frame short for the second trial of final_test_main.
        let victim = dataset.trials(in: .finalTestMain)[1]
        let short: SubmissionWorkflow.TrialPredictor = { d, tier, body in
            try honest(d, tier) { p in
                guard p.trial == victim && tier == .finalTestMain else { return try body(p) }
                var cut = p
                cut.frames -= 1
                cut.values = (0..<p.neurons).flatMap { Array(p.values[($0 * p.frames)..<($0 * p.frames + p.frames - 1)]) }
                try body(cut)
            }
        }
        let output = folder.appendingPathComponent("out").path
        let length = try dataset.trialLength(victim)
        do {
            try SubmissionWorkflow.run(predictor: short, datasets: [dataset], options: options, output: output, models: ["m"])
            Issue.record("a prediction one frame short was accepted")
        } catch let error as SensoriumError {
            let message = error.description
            for text in ["mouse \(Self.mouseName)", "trial \(victim)", "[24, \(length - 51)]", "(24, \(length - 50))"] {
                #expect(message.contains(text), "message misses '\(text)': \(message)")
            }
        }
        let left = (try? FileManager.default.contentsOfDirectory(atPath: output)) ?? []
        #expect(left.isEmpty, "a refused submission left \(left)")
        // The honest predictor passes and writes the file.
        let summary = try SubmissionWorkflow.run(predictor: honest, datasets: [dataset], options: options, output: output, models: ["m"])
        #expect(FileManager.default.fileExists(atPath: summary.hdf5File))
        #expect(summary.trials[SubmissionWorkflow.Part.all[2]]?[Self.mouseName] == dataset.trials(in: .finalTestMain).count)

        // Members predicting different numbers of neurons cannot form an ensemble.
        let other = folder.appendingPathComponent("other").path
        #expect(try SensoriumTool.run(["synth", "--tiny", "--neurons", "20", "--output", other]).status == 0)
        let otherModel = try VideoModel(configuration: configuration.model, datasets: [try MouseDataset(path: RunFolder.file(other, Self.mouseName))])
        let first = folder.appendingPathComponent("first.h5"), second = folder.appendingPathComponent("second.h5")
        try model.save(to: first)
        try otherModel.save(to: second)
        #expect(throws: SensoriumError.self) { try EvaluationWorkflow.loadModels([first.path, second.path]) }
        do {
            _ = try EvaluationWorkflow.loadModels([first.path, second.path])
        } catch {
            #expect("\(error)".contains("same mice and neurons") && "\(error)".contains("(24)") && "\(error)".contains("(20)"), "\(error)")
        }
        #expect(try EvaluationWorkflow.loadModels([first.path, first.path]).isEnsemble)
    }

    /// The summary's means, median and fraction of the oracle on hand-made values.
    @Test func oracleSummaryOfKnownValues() {
        let d = NeuronDiagnostics(mouse: "m", tiers: [.finalTestMain], skipFrames: 50, maxFrames: 300, videos: 2, trials: 4,
                                  fractionExplainable: [0.5, 0.3, .nan, 0.2], fractionExplained: [0.4, -0.2, .nan, 0.6],
                                  oracleCorrelation: [0.8, 0.5, .nan, 0.6], traces: [])
        let s = OracleSummary(d, singleTrial: [0.4, 0.2, 0.3, 0.3])
        #expect(s.finiteFEVE == 3 && s.finiteOracle == 3)
        #expect(abs(s.meanFEVE - 0.8 / 3) < 1e-6 && abs(s.medianFEVE - 0.4) < 1e-6)
        #expect(abs(s.meanFEV - 1.0 / 3) < 1e-6 && abs(s.meanOracle - 1.9 / 3) < 1e-6)
        let slope = (0.8 * 0.4 + 0.5 * 0.2 + 0.6 * 0.3) / (0.64 + 0.25 + 0.36)
        #expect(abs(s.fractionOfOracle - slope) < 1e-6)
        #expect(abs(OracleSummary.pooledFractionOfOracle([s, s]) - slope) < 1e-6)
    }
}

/// `sensorium submit`'s parquet tables read back by an independent reader
/// (`Tools/check-parquet.py`: pyarrow and pandas) equal the predictions of the SDK's own HDF5 file,
/// with the reference kit's columns and types. Runs when `SENSORIUM_PARQUET_PYTHON` names a Python
/// with pyarrow and pandas (`make test-parquet`).
@Suite("Parquet submission read back", .serialized,
       .enabled(if: ProcessInfo.processInfo.environment["SENSORIUM_PARQUET_PYTHON"] != nil,
                "set SENSORIUM_PARQUET_PYTHON (make test-parquet)"))
struct SubmissionParquetReadBackTests {
    @Test func submitParquetEqualsTheHDF5Predictions() throws {
        let python = try #require(ProcessInfo.processInfo.environment["SENSORIUM_PARQUET_PYTHON"])
        let folder = try temporaryFolder("submission-parquet")
        defer { try? FileManager.default.removeItem(at: folder) }
        let mice = folder.appendingPathComponent("mice").path
        #expect(try SensoriumTool.run(["synth", "--tiny", "--output", mice]).status == 0)
        let dataset = try MouseDataset(path: RunFolder.file(mice, EnsembleWorkflowTests.mouseName))
        let configuration = try TrainingRunConfiguration.fromJSON(CLITests.tinyConfiguration)
        let model = try VideoModel(configuration: configuration.model, datasets: [dataset])
        let file = folder.appendingPathComponent("model.h5")
        try model.save(to: file)
        let output = folder.appendingPathComponent("submission").path
        let submit = try SensoriumTool.run(["submit", "-m", file.path, mice, "-o", output])
        #expect(submit.status == 0, "\(submit.all)")
        let stored = try SubmissionWorkflow.read(URL(fileURLWithPath: RunFolder.file(output, SubmissionWorkflow.hdf5FileName)))
        var arguments: [String] = []
        for part in SubmissionWorkflow.Part.all {
            let name = SubmissionParquet.fileName(tier: part.tier, track: part.track)
            let parquet = RunFolder.file(output, name)
            #expect(FileManager.default.fileExists(atPath: parquet), "missing \(name)")
            let rows: [[String: Any]] = stored.mice.filter { $0.part == part }.flatMap { m in
                m.trialIndices.enumerated().map { k, trial -> [String: Any] in
                    let frames = m.frames[k], values = m.predictions[k]
                    return ["mouse": m.mouse, "trial_index": trial, "neuron_ids": m.neuronIDs.map { Int($0) },
                            "prediction_bits": (0..<m.neuronIDs.count).map { n in values[(n * frames)..<((n + 1) * frames)].map { Int($0.bitPattern) } }]
                }
            }
            let dump = folder.appendingPathComponent("\(part.tier)-\(part.track).json")
            try JSONSerialization.data(withJSONObject: ["rows": rows, "row_groups": 1, "codec": "BROTLI"]).write(to: dump)
            arguments += [parquet, dump.path]
        }
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Tools/check-parquet.py")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [script.path] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "check-parquet.py failed:\n\(text)")
        #expect(text.components(separatedBy: "every value equal").count - 1 == 4, "\(text)")
    }
}
