import Foundation
import Logging
import SensoriumData
import SensoriumMetrics

/// The `demo` pipeline: write the default synthetic mice, train the factorised baseline on them,
/// evaluate the test tiers next to the ground-truth ceiling, and write `results.json`,
/// `evaluation.json`, `run.json` and `report.html`.
public enum DemoWorkflow {
    /// The synthetic mice the demo writes (and `sensorium synth` without size options).
    public static let defaultSyntheticConfiguration = SyntheticMouseConfiguration.default

    /// The demo's model and recipe: the factorised baseline's architecture (factorised 3-D core,
    /// Gaussian readouts with positions from cortical coordinates, MLP shifters, ELU + 1) at a size
    /// that trains on two CPU cores in a few minutes, with linear and energy units in its last
    /// layer and a learned causal filter after the ELU + 1; batches of 2 clips, AdamW (lr 1e-2 after
    /// a 2-epoch warm-up, cosine to zero over ``defaultEpochs`` epochs), validation every 5 epochs on
    /// a moving average of the weights, and readout biases set through the inverse output nonlinearity.
    public static var trainingConfiguration: TrainingRunConfiguration {
        let epochs = defaultEpochs
        var core = Factorized3dCore.Configuration()
        // 96 channels in the last layer (the readout's features): 64 instead of 32 gave + 0.010
        // validation ρ_st at full length, 96 instead of 64 another + 0.004 main ρ_ta
        // (Documentation/Validation.md).
        core.hiddenChannels = [16, 96]
        // Half of them energy units, |x| after normalisation instead of ELU: phase-invariant
        // features for the complex cells (+ 0.006 and + 0.009 main ρ_ta on two seeds).
        core.energyChannels = [0, 48]
        core.energyFunction = .absolute
        // The other half linear (no ELU): the readout sums linear filters that the output
        // nonlinearity rectifies, as a simple cell does (simple cells + 1.5 points of their ceiling).
        core.linearChannels = [0, 48]
        // A depth-wise temporal convolution in the last layer (one filter per channel, after the
        // spatial convolution has mixed them) keeps the wide layer cheap.
        core.temporalGroups = [1, 96]
        core.spatialInputKernel = [11, 11]
        core.temporalInputKernel = 11
        // 7 × 7 hidden kernels: receptive fields of 23 pixels instead of 19 (the synthetic
        // neurons' Gabor envelopes reach ±2σ ≈ 21–27 pixels), ahead of 5 × 5 at equal epochs.
        core.spatialHiddenKernels = [[7, 7]]
        core.temporalHiddenKernels = [5]
        core.stride = [2, 1]
        // The reference's stride indexing (both layers stride 2). Striding only the first layer
        // (`perLayerStride`) scores a little higher per epoch but costs 30 % more CPU per epoch
        // and is not ahead at equal CPU (Documentation/Validation.md, the demo recipe).
        core.perLayerStride = false
        // The behaviour channels are constant over the frame: the first spatial convolution takes
        // them as a per-frame bias (the same output, 16 % less CPU per epoch).
        core.constantInputChannels = true
        var model = VideoModelConfiguration.factorizedBaseline
        model.core = .factorized3d(core)
        // ELU + 1 followed by a learned causal filter over 8 frames: calcium smooths the firing
        // after the nonlinearity that makes it (+ 0.006 main ρ_ta, complex cells + 1.6 points).
        model.outputNonlinearity = .causalFilter(taps: 8, inner: .eluPlusOne())
        // Start the predictions at the mean response instead of mean + 1 (ELU + 1 of the mean):
        // a short run cannot spend its first few hundred steps pulling the biases down.
        model.biasThroughInverseNonlinearity = true
        // Start the readouts at the receptive fields mapped from the training data, with narrow
        // Gaussians: from random positions a short run does not find them.
        model.readoutPositionInitialization = .receptiveFieldMapping(ReceptiveFieldMap.Options())
        model.readout = model.readout.updating(GaussianReadoutConfiguration.self) { $0.initSigma = 0.05 }
        // Hide behaviour for the first quarter of the epochs so that the core learns the stimulus first.
        model.behaviorWarmupEpochs = epochs / 4
        var trainer = TrainerConfiguration.reference
        // Batches of 2 clips (four times the optimizer steps per epoch of the reference’s 8, for
        // about the same CPU per epoch), a learning rate that rises over 2 epochs to twice the
        // reference's and follows a cosine to zero at the last epoch, and validation on a moving
        // average of the weights; a fixed number of epochs that fits the demo's budget on two
        // quiet cores (the budget stays as a safety stop). `--epochs N` compresses the cosine to
        // N epochs (``TrainingRunConfiguration/limitEpochs(to:)``). What each change bought:
        // Documentation/Validation.md, the demo recipe.
        trainer.optimizer = .adamW(.init(learningRate: 1e-2, weightDecay: 0.01))
        trainer.schedule = .warmupCosine(.init(warmupEpochs: 2, cosineEpochs: Double(epochs - 2), minLearningRate: 0))
        trainer.movingAverage = .init(decay: 0.99, warmup: true)
        trainer.earlyStopping.maxEpochs = epochs
        trainer.earlyStopping.patience = 10
        trainer.earlyStopping.lrDecaySteps = 2
        // Validation every 5 epochs (once every 3,000 training clips; on the demo's mice it adds at
        // most about 2 s to a 23–28 s epoch).
        trainer.earlyStopping.interval = 5
        // Early stopping starts two epochs after behaviour appears.
        trainer.earlyStopping.warmupEpochs = model.behaviorWarmupEpochs + 2
        let data = TrainingDataSettings(batchSize: 2, frames: 80, validationBatchSize: 10, validationMaxFrames: 150)
        return TrainingRunConfiguration(model: model, trainer: trainer, data: data)
    }

    /// The demo's number of training epochs (a multiple of the validation interval, 5): what fits
    /// ``defaultTrainingBudget`` on two quiet cores with a margin of about 5 %, so that the run
    /// ends by its epoch count, with the cosine at zero, rather than by the clock. Each epoch is
    /// the 300 training clips of both mice (about 25 s on two quiet cores).
    public static let defaultEpochs = 20

    /// The demo's time budget for training; training stops there (keeping the best weights) if
    /// early stopping has not ended it before. With the evaluation (about 8 s) it stays inside 10
    /// minutes.
    public static let defaultTrainingBudget: Duration = .seconds(585)

    /// One track of `results.json`.
    public struct TrackResult: Codable, Sendable, Equatable {
        public var singleTrial: Double
        public var toAverage: Double
        public var ceilingSingleTrial: Double
        public var ceilingToAverage: Double
        /// The model's ρ_ta as a fraction of the ceiling's.
        public var fractionOfCeilingToAverage: Double
        /// The model's ρ_st as a fraction of the ceiling's.
        public var fractionOfCeilingSingleTrial: Double

        enum CodingKeys: String, CodingKey {
            case singleTrial = "single_trial", toAverage = "to_average"
            case ceilingSingleTrial = "ceiling_single_trial", ceilingToAverage = "ceiling_to_average"
            case fractionOfCeilingToAverage = "fraction_of_ceiling_to_average"
            case fractionOfCeilingSingleTrial = "fraction_of_ceiling_single_trial"
        }

        init(_ model: TrackScores?, _ ceiling: TrackScores?) {
            singleTrial = model?.singleTrial ?? .nan
            toAverage = model?.toAverage ?? .nan
            ceilingSingleTrial = ceiling?.singleTrial ?? .nan
            ceilingToAverage = ceiling?.toAverage ?? .nan
            fractionOfCeilingToAverage = toAverage / ceilingToAverage
            fractionOfCeilingSingleTrial = singleTrial / ceilingSingleTrial
        }
    }

    /// `results.json`: the required keys (`main`, `bonus`, `train_seconds`, `eval_seconds`) and more.
    public struct Results: Codable, Sendable {
        public var main: TrackResult
        public var bonus: TrackResult
        public var trainSeconds: Double
        public var evalSeconds: Double
        public var synthSeconds: Double
        public var epochs: Int
        public var steps: Int
        public var trainingFinished: Bool
        public var bestValidationSingleTrial: Double
        /// Per OOD stimulus family: the same keys as `main` and `bonus` (snake case, with the ceiling).
        public var bonusFamilies: [String: TrackResult]
        public var mice: [String]
        public var neurons: Int
        public var parameters: Int
        public var model: String
        public var evaluatedTiers: [String]
        /// CPU seconds (all threads) of the training run and of the evaluation: on a shared
        /// machine these, not the wall-clock seconds, measure the work done.
        public var trainCPUSeconds: Double?
        public var evalCPUSeconds: Double?

        enum CodingKeys: String, CodingKey {
            case main, bonus
            case trainSeconds = "train_seconds", evalSeconds = "eval_seconds", synthSeconds = "synth_seconds"
            case epochs, steps, trainingFinished = "training_finished"
            case bestValidationSingleTrial = "best_validation_single_trial"
            case bonusFamilies = "bonus_families", mice, neurons, parameters, model
            case evaluatedTiers = "evaluated_tiers"
            case trainCPUSeconds = "train_cpu_seconds", evalCPUSeconds = "eval_cpu_seconds"
        }
    }

    /// What the demo produced.
    public struct Outcome {
        public var results: Results
        public var evaluation: EvaluationReport
        public var report: RunReport
    }

    /// The folder of the synthetic mice inside the demo's output folder.
    public static let dataFolder = "data"
    /// The run folder inside the demo's output folder.
    public static let runFolder = "run"
    /// Marks a complete synthetic dataset: the configuration it was written with (JSON).
    public static let syntheticMarker = "synthetic-configuration.json"

    /// Writes the synthetic mice into `folder` unless a complete dataset with the same
    /// configuration is already there. Returns the mouse folders and the seconds spent.
    public static func prepareData(_ configuration: SyntheticMouseConfiguration, folder: String,
                                   logger: Logger) throws -> (paths: [String], seconds: Double, reused: Bool) {
        try RunFolder.create(folder)
        let marker = RunFolder.file(folder, syntheticMarker)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        let json = try encoder.encode(configuration)
        let paths = (0..<configuration.mice).map {
            RunFolder.file(folder, SyntheticMouseGenerator.mouseName(index: $0, configuration: configuration))
        }
        if let existing = try? Data(contentsOf: URL(fileURLWithPath: marker)), existing == json,
           paths.allSatisfy({ RunFolder.isDirectory($0) }) {
            logger.info("reusing the synthetic mice in \(folder)")
            return (paths, 0, true)
        }
        try? FileManager.default.removeItem(atPath: marker)
        let start = ContinuousClock.now
        for index in 0..<configuration.mice {
            logger.info("writing synthetic mouse \(index + 1) of \(configuration.mice)")
            try SyntheticMouseGenerator.generateMouse(index: index, configuration: configuration, into: folder, overwrite: true)
        }
        try json.write(to: URL(fileURLWithPath: marker), options: .atomic)
        return (paths, ProgressBar.seconds(.now - start), false)
    }

    /// Runs the demo into `output`: `output/data` (the synthetic mice), `output/run` (the
    /// training run) and, at the top, `results.json`, `evaluation.json` and `report.html`.
    public static func run(output: String, synthetic: SyntheticMouseConfiguration = defaultSyntheticConfiguration,
                           training: TrainingRunConfiguration = trainingConfiguration,
                           budget: Duration? = defaultTrainingBudget, evaluation options: EvaluationOptions = EvaluationOptions(),
                           logger: Logger, observers: [any TrainingObserver] = [],
                           progress: ((String) -> Void)? = nil) throws -> Outcome {
        let root = (output as NSString).expandingTildeInPath
        try RunFolder.create(root)
        progress?("Writing synthetic mice (\(synthetic.mice) × \(synthetic.neurons) neurons) into \(RunFolder.file(root, dataFolder))")
        let data = try prepareData(synthetic, folder: RunFolder.file(root, dataFolder), logger: logger)

        // The demo's own model is the factorised baseline; `--config` may name any other.
        let modelName = training == trainingConfiguration ? "Factorized baseline (demo)"
            : "\(training.model.core.typeName) core + \(training.model.readout.typeName) readout"
        return try trainAndEvaluate(dataPaths: data.paths, output: root, training: training, modelName: modelName,
                                    budget: budget, evaluation: options, synthSeconds: data.seconds, logger: logger,
                                    observers: observers, progress: progress)
    }

    /// The demo after its data (and one model of ``CompareWorkflow``): trains `training` on the
    /// mice of `dataPaths` into `output/run` for at most `budget`, evaluates the test tiers next to
    /// the ground-truth ceiling (when the mice are synthetic), and writes `results.json`,
    /// `evaluation.json` and `report.html` into `output`. `synthSeconds` is recorded in the results;
    /// `title` heads the run's report (default: the demo's).
    public static func trainAndEvaluate(dataPaths: [String], output: String, training: TrainingRunConfiguration,
                                        modelName: String, budget: Duration?, evaluation options: EvaluationOptions,
                                        synthSeconds: Double = 0, logger: Logger, observers: [any TrainingObserver] = [],
                                        progress: ((String) -> Void)? = nil, title: String? = nil) throws -> Outcome {
        let root = (output as NSString).expandingTildeInPath
        try RunFolder.create(root)
        progress?("Training \(training == trainingConfiguration ? "the factorised baseline" : "the " + modelName) (at most \(training.trainer.earlyStopping.maxEpochs) epochs"
            + (budget.map { ", stopping after \(String(format: "%g", ProgressBar.seconds($0) / 60)) min" } ?? "") + ")")
        let request = TrainingWorkflow.Request(dataPaths: dataPaths, configuration: training,
                                               output: RunFolder.file(root, runFolder), resume: false, overwrite: true,
                                               stop: budget.map { .duration($0) }, title: title ?? "Sensorium demo: \(modelName) on synthetic mice")
        let trainCPU = ProcessorTime.seconds()
        let trained = try TrainingWorkflow.run(request, logger: logger, observers: observers)
        let evalCPU = ProcessorTime.seconds()

        progress?("Evaluating the test tiers")
        let evaluation = try EvaluationWorkflow.evaluate(trained.model, datasets: trained.datasets, modelName: modelName,
                                                         options: options, output: root)
        let evalCPUSeconds = ProcessorTime.seconds() - evalCPU
        var report = trained.report
        evaluation.merge(into: &report)
        report.facts.append(.init("evaluation seconds", String(format: "%.1f", evaluation.seconds)))
        report.facts.append(.init("evaluated tiers", (options.mainTiers + options.bonusTiers).map(\.rawValue).joined(separator: ", ")))
        try report.write(to: URL(fileURLWithPath: RunFolder.file(RunFolder.file(root, runFolder), RunFolder.runFile)))
        try HTMLReport.write(report, to: URL(fileURLWithPath: RunFolder.file(root, RunFolder.reportFile)))

        var families: [String: TrackResult] = [:]
        let ceilingFamilies = Dictionary(evaluation.ceiling?.bonusFamilies.map { ($0.family, $0.scores) } ?? [], uniquingKeysWith: { a, _ in a })
        for f in evaluation.summary.bonusFamilies { families[f.family] = TrackResult(f.scores, ceilingFamilies[f.family]) }
        let results = Results(
            main: TrackResult(evaluation.summary.mainTrack, evaluation.ceiling?.mainTrack),
            bonus: TrackResult(evaluation.summary.bonusTrack, evaluation.ceiling?.bonusTrack),
            trainSeconds: trained.seconds, evalSeconds: evaluation.seconds, synthSeconds: synthSeconds,
            epochs: trained.summary.epochs, steps: trained.summary.steps, trainingFinished: trained.summary.finished,
            bestValidationSingleTrial: trained.summary.bestObjective, bonusFamilies: families,
            mice: trained.datasets.map(\.name), neurons: trained.datasets.reduce(0) { $0 + $1.neuronCount },
            parameters: trained.model.trainableParameterCount, model: modelName,
            evaluatedTiers: (options.mainTiers + options.bonusTiers).map(\.rawValue),
            trainCPUSeconds: evalCPU - trainCPU, evalCPUSeconds: evalCPUSeconds)
        do {
            try ReportJSON.encoder().encode(results).write(to: URL(fileURLWithPath: RunFolder.file(root, RunFolder.resultsFile)), options: .atomic)
        } catch {
            throw SensoriumError.file(path: RunFolder.file(root, RunFolder.resultsFile), message: "cannot write the results (\(error.localizedDescription))")
        }
        return Outcome(results: results, evaluation: evaluation, report: report)
    }
}
