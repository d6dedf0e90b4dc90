import Foundation
import SensoriumData
import SensoriumMetrics

/// The `evaluate` and `predict` commands as functions: load a trained model, open the mice the
/// way it was trained, score or predict the test tiers.
public enum EvaluationWorkflow {
    /// A model loaded for evaluation and where it came from.
    public struct LoadedModel {
        /// The model, in evaluation mode.
        public var model: VideoModel
        /// The checkpoint file read.
        public var checkpoint: String
        /// The run folder, when the model came from one.
        public var runFolder: String?
    }

    /// Loads a model from a run folder (its `model.h5`, else its `checkpoint.h5`) or a checkpoint
    /// file written by `VideoModel.save` or the CLI's training.
    public static func loadModel(_ path: String) throws -> LoadedModel {
        let path = (path as NSString).expandingTildeInPath
        let fm = FileManager.default
        var file = path
        var folder: String?
        if RunFolder.isDirectory(path) {
            folder = path
            let candidates = [RunFolder.modelFile, RunFolder.checkpointFile].map { RunFolder.file(path, $0) }
            guard let found = candidates.first(where: { fm.fileExists(atPath: $0) }) else {
                throw SensoriumError.file(path: path, message: "expected a run folder with \(RunFolder.modelFile) or \(RunFolder.checkpointFile), found neither")
            }
            file = found
        } else if !fm.fileExists(atPath: path) {
            throw SensoriumError.file(path: path, message: "expected a run folder or a model checkpoint (.h5), found nothing")
        }
        let model = try VideoModel.load(from: URL(fileURLWithPath: file))
        model.eval()
        return LoadedModel(model: model, checkpoint: file, runFolder: folder)
    }

    /// The data options a model reads: its configuration's input specification
    /// (``VideoModelConfiguration/dataOptions()``; a hand-assembled model reads frame + behaviour).
    public static func dataOptions(for model: VideoModel) throws -> MouseDataOptions {
        try (model.architecture?.configuration ?? VideoModelConfiguration()).dataOptions()
    }

    /// Opens the mice of `paths` for `model`, checking that it has a readout for each. Predictions
    /// are scored against the recorded responses: a model trained on targets through ReLU
    /// (``VideoModelConfiguration/responsesThroughReLU``) is evaluated without it.
    public static func openDatasets(_ paths: [String], for model: VideoModel) throws -> [MouseDataset] {
        var options = try dataOptions(for: model)
        options.responsesThroughReLU = false
        let datasets = try MouseFolders.resolve(paths).map { try MouseDataset(path: $0, options: options) }
        try model.checkCompatible(with: datasets)
        return datasets
    }

    /// Which tiers to score or predict.
    public enum TierSelection: String, CaseIterable, Sendable {
        /// The final test tiers (Table 1 of the retrospective).
        case final
        /// The live test tiers.
        case live
        /// Live and final pooled.
        case all

        /// The main-track tiers.
        public var mainTiers: [MouseTier] {
            switch self {
            case .final: [.finalTestMain]
            case .live: [.liveTestMain]
            case .all: [.liveTestMain, .finalTestMain]
            }
        }

        /// The bonus-track tiers.
        public var bonusTiers: [MouseTier] {
            switch self {
            case .final: [.finalTestBonus]
            case .live: [.liveTestBonus]
            case .all: [.liveTestBonus, .finalTestBonus]
            }
        }
    }

    /// Scores `model` on the test tiers of `datasets`, measures every mouse's
    /// ``NeuronDiagnostics`` on the main track's tiers (with per-neuron scores, when those tiers
    /// hold repeats), and writes `evaluation.json` into `output` when given.
    public static func evaluate<Model: TrainableModel>(_ model: Model, datasets: [MouseDataset], modelName: String,
                                                      options: EvaluationOptions, output: String?,
                                                      progress: ((EvaluationProgress) -> Void)? = nil) throws -> EvaluationReport
    where Model.Batch == MouseBatch {
        var report = try Evaluation.evaluate(model, datasets: datasets, modelName: modelName, options: options, progress: progress)
        if options.perNeuron && !options.mainTiers.isEmpty {
            report.diagnostics = try zip(datasets, report.mice).compactMap { dataset, mouse in
                guard let correlations = mouse.scores["main"]?.perNeuronSingleTrial else { return nil }
                return try NeuronDiagnostics.measure(model, dataset: dataset, tiers: options.mainTiers, correlations: correlations,
                                                     skipFrames: options.skipFrames, maxFrames: options.maxFrames,
                                                     precisionScaling: options.precisionScaling)
            }
        }
        if let output {
            let folder = (output as NSString).expandingTildeInPath
            try RunFolder.create(folder)
            try report.writeJSON(to: URL(fileURLWithPath: RunFolder.file(folder, RunFolder.evaluationFile)))
        }
        return report
    }
}

extension EvaluationReport {
    /// Reads `evaluation.json`; throws `SensoriumError` naming the file.
    public static func load(from url: URL) throws -> EvaluationReport {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw SensoriumError.file(path: url.path, message: "cannot read the file (\(error.localizedDescription))")
        }
        do { return try ReportJSON.decoder().decode(EvaluationReport.self, from: data) } catch {
            throw SensoriumError.file(path: url.path, message: "expected an evaluation report (JSON), found something else: \(SensoriumError.describe(error))")
        }
    }

    /// Writes the report as JSON (atomically); throws `SensoriumError` naming the file.
    public func writeJSON(to url: URL) throws {
        do {
            try ReportJSON.encoder().encode(self).write(to: url, options: .atomic)
        } catch {
            throw SensoriumError.file(path: url.path, message: "cannot write the evaluation (\(error.localizedDescription))")
        }
    }

    /// Puts the scores into a run report: the model's Table 1 row, the ceiling, and every mouse's
    /// per-neuron ρ_st on the main track (or the first group it has).
    public func merge(into report: inout RunReport) {
        report.table = [summary]
        report.ceiling = ceiling
        report.mice = mice
        report.evaluationOptions = options
        if let diagnostics { report.diagnostics = diagnostics }
        report.neuronCorrelations = mice.compactMap { m -> NeuronCorrelations? in
            let preferred = ["main", "final_test_main", "live_test_main", "bonus", "validation"]
            let name = preferred.first { m.scores[$0]?.perNeuronSingleTrial != nil }
                ?? m.scores.keys.sorted().first { m.scores[$0]?.perNeuronSingleTrial != nil }
            guard let name, let values = m.scores[name]?.perNeuronSingleTrial else { return nil }
            return NeuronCorrelations(mouse: m.mouse, label: "\(name) ρ_st", values: values)
        }
    }
}
