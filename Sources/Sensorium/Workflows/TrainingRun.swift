import Foundation
import Logging
import SensoriumData

/// How the training data is cut and served in a CLI training run.
public struct TrainingDataSettings: Codable, Sendable, Equatable {
    /// Clips per training batch (8 in the reference).
    public var batchSize: Int
    /// Frames per training clip (80 in the reference).
    public var frames: Int
    /// The tier scored for early stopping.
    public var validationTier: MouseTier
    /// Whole validation trials per batch (a batch is cut to its shortest trial).
    public var validationBatchSize: Int
    /// Cap on validation trial length (nil: whole trials).
    public var validationMaxFrames: Int?
    /// Background threads building batches, and batches built ahead.
    public var workers: Int
    public var prefetch: Int

    /// The reference's data settings.
    public init(batchSize: Int = 8, frames: Int = 80, validationTier: MouseTier = .oracle, validationBatchSize: Int = 8,
                validationMaxFrames: Int? = nil, workers: Int = 1, prefetch: Int = 2) {
        self.batchSize = batchSize
        self.frames = frames
        self.validationTier = validationTier
        self.validationBatchSize = validationBatchSize
        self.validationMaxFrames = validationMaxFrames
        self.workers = workers
        self.prefetch = prefetch
    }

    enum CodingKeys: String, CodingKey {
        case batchSize, frames, validationTier, validationBatchSize, validationMaxFrames, workers, prefetch
    }

    /// Every key optional (missing keys keep the reference values); values are checked.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = TrainingDataSettings()
        batchSize = try c.decodeIfPresent(Int.self, forKey: .batchSize) ?? d.batchSize
        frames = try c.decodeIfPresent(Int.self, forKey: .frames) ?? d.frames
        validationTier = try c.decodeIfPresent(MouseTier.self, forKey: .validationTier) ?? d.validationTier
        validationBatchSize = try c.decodeIfPresent(Int.self, forKey: .validationBatchSize) ?? d.validationBatchSize
        validationMaxFrames = try c.decodeIfPresent(Int.self, forKey: .validationMaxFrames)
        workers = try c.decodeIfPresent(Int.self, forKey: .workers) ?? d.workers
        prefetch = try c.decodeIfPresent(Int.self, forKey: .prefetch) ?? d.prefetch
        func require(_ ok: Bool, _ key: CodingKeys, _ message: String) throws {
            if !ok { throw DecodingError.dataCorruptedError(forKey: key, in: c, debugDescription: "\(key.stringValue) \(message)") }
        }
        try require(batchSize >= 1, .batchSize, "must be at least 1")
        try require(frames >= 1, .frames, "must be at least 1")
        try require(validationBatchSize >= 1, .validationBatchSize, "must be at least 1")
        try require(validationMaxFrames.map { $0 >= 1 } ?? true, .validationMaxFrames, "must be at least 1")
        try require(workers >= 1, .workers, "must be at least 1")
        try require(prefetch >= 0, .prefetch, "must be 0 or more")
    }
}

/// Everything a CLI training run is configured by: the model, the trainer and the data pipeline.
/// JSON (every key optional; missing keys keep the factorised baseline and the reference recipe):
///
/// ```json
/// {"model":   {"core": {"type": "factorized3d", "hiddenChannels": [16, 32]}, "readout": {"type": "gaussian"}},
///  "trainer": {"seed": 7, "earlyStopping": {"maxEpochs": 30}},
///  "data":    {"batchSize": 8, "frames": 80}}
/// ```
public struct TrainingRunConfiguration: Codable, Sendable, Equatable {
    /// The model (``VideoModelConfiguration``).
    public var model: VideoModelConfiguration
    /// The trainer (``/SensoriumTraining/TrainerConfiguration``).
    public var trainer: TrainerConfiguration
    /// The data pipeline.
    public var data: TrainingDataSettings

    /// Caps training at `epochs` epochs. Warm-ups that would take a quarter of them or more are
    /// shortened to a quarter (behaviour) and two epochs more (early stopping), so that a short
    /// run still trains mostly with every input and keeps trained weights.
    public mutating func limitEpochs(to epochs: Int) {
        trainer.earlyStopping.maxEpochs = epochs
        let quarter = epochs / 4
        if model.behaviorWarmupEpochs > quarter {
            model.behaviorWarmupEpochs = quarter
            trainer.earlyStopping.warmupEpochs = quarter == 0 ? 0 : min(trainer.earlyStopping.warmupEpochs, quarter + 2)
        }
        trainer.earlyStopping.warmupEpochs = min(trainer.earlyStopping.warmupEpochs, max(0, epochs - 1))
    }

    /// A configuration; the defaults are the factorised baseline trained with the reference recipe.
    public init(model: VideoModelConfiguration = .factorizedBaseline, trainer: TrainerConfiguration = .reference,
                data: TrainingDataSettings = TrainingDataSettings()) {
        self.model = model
        self.trainer = trainer
        self.data = data
    }

    /// The configuration as pretty-printed JSON with sorted keys.
    public func jsonString() -> String {
        String(decoding: (try? ReportJSON.encoder().encode(self)) ?? Data("{}".utf8), as: UTF8.self)
    }

    /// Reads a configuration; `source` names it in errors (a file path).
    public static func fromJSON(_ json: String, source: String = "configuration") throws -> TrainingRunConfiguration {
        func fail(_ message: String) -> SensoriumError { SensoriumError.invalidConfiguration(source: source, message: message) }
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: Data(json.utf8))
        } catch {
            throw fail("expected JSON, found text that does not parse (\(error.localizedDescription))")
        }
        guard let top = object as? [String: Any] else { throw fail("expected a JSON object with keys model, trainer, data") }
        let known: Set<String> = ["model", "trainer", "data"]
        if let unknown = top.keys.sorted().first(where: { !known.contains($0) }) {
            throw fail("unknown key '\(unknown)'; expected model, trainer and/or data")
        }
        func section(_ key: String) throws -> String? {
            guard let value = top[key] else { return nil }
            guard value is [String: Any] else { throw fail("'\(key)' must be a JSON object") }
            return String(decoding: try JSONSerialization.data(withJSONObject: value), as: UTF8.self)
        }
        var configuration = TrainingRunConfiguration()
        if let model = try section("model") {
            configuration.model = try VideoModelConfiguration.fromJSON(model, source: source + " (model)")
        }
        if let trainer = try section("trainer") {
            do {
                configuration.trainer = try TrainerConfiguration.fromJSON(trainer)
            } catch let error as DecodingError {
                throw fail("trainer: \(SensoriumError.describe(error))")
            } catch let error as ComponentError {
                throw fail("\(error)")
            }
        }
        if let data = try section("data") {
            do {
                var given = try ReportJSON.decoder().decode(JSONValue.self, from: Data(data.utf8)).objectValue ?? [:]
                // The input channels are the model's (its core's input channels); configurations
                // written before that still name them here, which must then agree.
                let channels = configuration.model.core.inputChannels
                for (key, expected) in [("behaviorAsChannels", channels >= 3), ("pupilCenterAsChannels", channels >= 5)] {
                    guard let value = given.removeValue(forKey: key) else { continue }
                    guard value == .bool(expected) else {
                        throw fail("data.\(key) is \(value), but the model's core reads \(channels) input channels (1: frame, 3: + behaviour, 5: + pupil centre); the model configuration decides the input channels")
                    }
                }
                configuration.data = try JSONValue.object(given).decodeOverDefaults(TrainingDataSettings.self, defaults: TrainingDataSettings(), what: "data")
            } catch let error as DecodingError {
                throw fail("data: \(SensoriumError.describe(error))")
            } catch let error as ComponentError {
                throw fail("\(error)")
            }
        }
        return configuration
    }

    /// The configuration of the file at `path` when one exists there, else of the registered
    /// ``RunPreset`` called `path` (an error names both when neither exists).
    public static func load(fileOrPreset path: String) throws -> TrainingRunConfiguration {
        let expanded = (path as NSString).expandingTildeInPath
        if FileManager.default.fileExists(atPath: expanded) || path.contains("/") || path.hasSuffix(".json") {
            return try load(from: URL(fileURLWithPath: expanded))
        }
        guard let preset = RunPreset.registered.first(where: { $0.name == path }) else {
            throw SensoriumError.invalidConfiguration(
                source: path, message: "expected a configuration file or a preset name, found neither; the presets are \(RunPreset.registered.map(\.name).joined(separator: ", "))")
        }
        return preset.configuration
    }

    /// Reads a configuration file.
    public static func load(from url: URL) throws -> TrainingRunConfiguration {
        let read = readConfigurationFile(url)
        guard let text = read.text else { throw SensoriumError.invalidConfiguration(source: url.path, message: read.problem ?? "") }
        return try fromJSON(text, source: url.path)
    }
}

/// The `train` command as a function: builds a ``VideoModel`` for the mice, trains it with the
/// ``/SensoriumTraining/Trainer`` and writes the run folder (see ``RunFolder``).
public enum TrainingWorkflow {
    /// What to train and where.
    public struct Request {
        /// Mouse folders (or folders of mouse folders).
        public var dataPaths: [String]
        /// The run's configuration (ignored when resuming: the run's saved `configuration.json` is used).
        public var configuration: TrainingRunConfiguration
        /// The run folder.
        public var output: String
        /// Continue the run in `output` from its checkpoint.
        public var resume: Bool
        /// Replace a run already in `output`.
        public var overwrite: Bool
        /// Return early (the run can be resumed) once this is reached. A `.duration` counts from the
        /// start of the run, so it includes opening the data and building the model (for example
        /// mapping receptive fields).
        public var stop: StopCondition?
        /// Title of the run report.
        public var title: String?

        /// A request.
        public init(dataPaths: [String], configuration: TrainingRunConfiguration, output: String, resume: Bool = false,
                    overwrite: Bool = false, stop: StopCondition? = nil, title: String? = nil) {
            self.dataPaths = dataPaths
            self.configuration = configuration
            self.output = output
            self.resume = resume
            self.overwrite = overwrite
            self.stop = stop
            self.title = title
        }
    }

    /// What a training run produced.
    public struct Outcome {
        /// The trained model (best weights, evaluation mode).
        public var model: VideoModel
        /// The mice it was trained on.
        public var datasets: [MouseDataset]
        /// The configuration used.
        public var configuration: TrainingRunConfiguration
        /// The trainer's summary and history.
        public var summary: TrainingSummary
        public var history: [EpochReport]
        /// Seconds of the whole run: opening the data, building the model, training, saving.
        public var seconds: Double
        /// The run report written to `run.json`.
        public var report: RunReport
    }

    /// The file holding the run's configuration in a run folder.
    public static let configurationFile = "configuration.json"

    /// Opens the mice of `paths` the way `model` reads them (its input specification,
    /// ``VideoModelConfiguration/dataOptions()``), checking that they can be used for training
    /// (training trials at least one clip long, validation trials present). For training, every
    /// folder is first checked whole, as `sensorium inspect` checks it (every trial read: NaN or
    /// Inf outside the padding, broken statistics, inconsistent padding, stray files, …), so that a
    /// bad file fails the run before its first step rather than in a later epoch; this reads the
    /// data once (about 3.5 s for the demo's two mice in a release build).
    public static func openDatasets(_ paths: [String], model: VideoModelConfiguration, settings: TrainingDataSettings,
                                    forTraining: Bool) throws -> [MouseDataset] {
        let folders = try MouseFolders.resolve(paths)
        if forTraining {
            for folder in folders {
                let report = MouseFolderInspector.inspect(path: folder, scanTrials: nil, clipFrames: settings.frames)
                guard report.isUsable else {
                    let errors = report.problems.filter { $0.severity == .error }
                    throw SensoriumError.incompatibleData(
                        "mouse folder \(folder) cannot be trained on (\(errors.count) problem\(errors.count == 1 ? "" : "s"), as `sensorium inspect` reports): "
                            + errors.prefix(5).map(\.description).joined(separator: "; ") + (errors.count > 5 ? "; …" : ""))
                }
            }
        }
        let options = try model.dataOptions()
        let datasets = try folders.map { try MouseDataset(path: $0, options: options) }
        guard forTraining else { return datasets }
        for d in datasets {
            guard !d.trials(in: .train).isEmpty else {
                throw DataError(.inconsistent, path: d.layout.tiersFile, expected: "train trials", found: "none")
            }
            guard !d.trials(in: settings.validationTier).isEmpty else {
                throw DataError(.inconsistent, path: d.layout.tiersFile,
                                     expected: "\(settings.validationTier.rawValue) trials for validation", found: "none")
            }
        }
        return datasets
    }

    /// Checks that the model can take the training clips of `settings` (`data.frames` frames of
    /// each frame size): more frames than the model's burn-in, and a shape its core can read.
    /// A `SensoriumError` naming `data.frames` (or the core's problem) otherwise.
    public static func checkClips(of model: VideoModel, configuration: VideoModelConfiguration, settings: TrainingDataSettings,
                                  frameSizes: [[Int]]) throws {
        guard settings.frames > model.burnInFrames else {
            throw SensoriumError.invalidConfiguration(source: "data.frames",
                message: "clips of \(settings.frames) frames leave no prediction: the model's burn-in is \(model.burnInFrames) frames, so data.frames must be at least \(model.burnInFrames + 1)")
        }
        let channels = configuration.core.inputChannels
        for size in Set(frameSizes) where size.count == 2 {
            if let problem = model.core.inputProblem(for: [1, channels, settings.frames, size[0], size[1]]) {
                throw SensoriumError.invalidConfiguration(source: "data.frames",
                    message: "the \(configuration.core.typeName) core cannot read clips of data.frames \(settings.frames): \(problem)")
            }
        }
    }

    /// Trains as `request` says, reporting to `observers`; writes `configuration.json`,
    /// `checkpoint.h5` (during training), `model.h5` and `run.json` into the run folder.
    public static func run(_ request: Request, logger: Logger, observers: [any TrainingObserver] = []) throws -> Outcome {
        let runStart = ContinuousClock.now
        let folder = (request.output as NSString).expandingTildeInPath
        let checkpoint = RunFolder.file(folder, RunFolder.checkpointFile)
        let configurationPath = RunFolder.file(folder, configurationFile)
        let fm = FileManager.default
        var configuration = request.configuration
        if request.resume {
            guard fm.fileExists(atPath: checkpoint) else {
                throw SensoriumError.file(path: checkpoint, message: "expected a training checkpoint to resume from, found nothing")
            }
            guard fm.fileExists(atPath: configurationPath) else {
                throw SensoriumError.file(path: configurationPath, message: "expected the run's configuration next to its checkpoint, found nothing")
            }
            configuration = try TrainingRunConfiguration.load(from: URL(fileURLWithPath: configurationPath))
            logger.info("resuming the run in \(folder) with its saved configuration")
        } else if fm.fileExists(atPath: checkpoint) && !request.overwrite {
            throw SensoriumError.file(path: folder, message: "expected an empty run folder, found a run (\(RunFolder.checkpointFile)); pass --resume to continue it or --overwrite to start again")
        }
        // The data is checked before the run folder exists, so a refused run leaves nothing behind.
        let datasets = try openDatasets(request.dataPaths, model: configuration.model, settings: configuration.data,
                                        forTraining: true)
        // The model is pure (reads no data): built and checked against the clips before the run
        // folder exists, so a configuration that cannot train leaves nothing behind either.
        let model = try VideoModel(configuration: configuration.model, datasets: datasets)
        try checkClips(of: model, configuration: configuration.model, settings: configuration.data, frameSizes: datasets.map { [$0.frameHeight, $0.frameWidth] })
        try RunFolder.create(folder)
        let miceText = datasets.map { "\($0.name) (\($0.neuronCount) neurons, \($0.trials(in: .train).count) train trials)" }
            .joined(separator: ", ")
        logger.info("\(datasets.count) mice: \(miceText)")
        // The configuration's data-dependent starts (readout biases, receptive fields); a resumed
        // run loads its trained weights instead.
        if !request.resume { try model.initializeFromData(datasets) }
        let settings = configuration.data
        let data = MouseTrainingData(datasets: datasets, batchSize: settings.batchSize, frames: settings.frames,
                                     validationTier: settings.validationTier, validationBatchSize: settings.validationBatchSize,
                                     validationMaxFrames: settings.validationMaxFrames, prefetch: settings.prefetch,
                                     workers: settings.workers)
        let trainer = Trainer(model: model, data: data, configuration: configuration.trainer, logger: logger)
        trainer.checkpointURL = URL(fileURLWithPath: checkpoint)
        trainer.observers = observers
        if request.resume {
            try trainer.restore(from: URL(fileURLWithPath: checkpoint))
        } else if request.overwrite {
            for name in [RunFolder.checkpointFile, RunFolder.modelFile, RunFolder.runFile, RunFolder.evaluationFile, RunFolder.reportFile] {
                try? fm.removeItem(atPath: RunFolder.file(folder, name))
            }
        }
        do {
            try Data(configuration.jsonString().utf8).write(to: URL(fileURLWithPath: configurationPath), options: .atomic)
        } catch {
            throw SensoriumError.file(path: configurationPath, message: "cannot write the run configuration (\(error.localizedDescription))")
        }
        logger.info("model: \(model.parameterCount) parameters (\(configuration.model.core.typeName) core, \(configuration.model.readout.typeName) readout), burn-in \(model.burnInFrames) frames")

        var stop = request.stop
        if case .duration(let budget)? = stop { stop = .duration(max(.zero, budget - (.now - runStart))) }
        let summary = try trainer.fit(until: stop)
        if !summary.finished && configuration.trainer.earlyStopping.restoreBest {
            // Interrupted: the checkpoint keeps the current state for resuming; the saved model gets
            // the best weights so far, as a finished run would.
            if try restoreBestWeights(model, from: URL(fileURLWithPath: checkpoint)) {
                logger.info("training stopped before the end; the model holds the best weights so far (epoch \(summary.bestEpoch))")
            }
        }
        model.eval()
        try model.save(to: URL(fileURLWithPath: RunFolder.file(folder, RunFolder.modelFile)))

        var report = RunReport(title: request.title ?? "Sensorium run \((folder as NSString).lastPathComponent)")
        report.subtitle = describe(configuration: configuration, datasets: datasets)
        report.history = trainer.history
        report.readoutPositions = ReadoutPositions.extract(from: model)
        report.facts = [
            .init("mice", datasets.map(\.name).joined(separator: ", ")),
            .init("neurons", datasets.map { String($0.neuronCount) }.joined(separator: ", ")),
            .init("parameters", String(model.trainableParameterCount)),
            .init("epochs", String(summary.epochs)),
            .init("optimizer steps", String(summary.steps)),
            .init("best validation ρ_st", String(format: "%.4f (epoch %d)", summary.bestObjective, summary.bestEpoch)),
            .init("training finished", summary.finished ? "yes" : "no (resume with --resume)"),
            .init("training seconds", String(format: "%.1f", summary.seconds)),
            .init("seed (trainer / model)", "\(configuration.trainer.seed) / \(configuration.model.seed)"),
        ]
        try report.write(to: URL(fileURLWithPath: RunFolder.file(folder, RunFolder.runFile)))
        return Outcome(model: model, datasets: datasets, configuration: configuration, summary: summary,
                       history: trainer.history, seconds: ProgressBar.seconds(.now - runStart), report: report)
    }

    /// Loads the best weights kept by early stopping in the training checkpoint at `url` into
    /// `model`; false when the checkpoint has none.
    @discardableResult
    public static func restoreBestWeights(_ model: VideoModel, from url: URL) throws -> Bool {
        let record = try Checkpoint.read(from: url)
        guard let best = record.children["early_stopping"]?.children["best_model"], !best.tensors.isEmpty else { return false }
        try model.loadStateDict(best.tensors)
        return true
    }

    /// A one-line description of a run.
    public static func describe(configuration: TrainingRunConfiguration, datasets: [MouseDataset]) -> String {
        let neurons = datasets.reduce(0) { $0 + $1.neuronCount }
        return "\(configuration.model.core.typeName) core, \(configuration.model.readout.typeName) readouts; "
            + "\(datasets.count) mice, \(neurons) neurons; batch \(configuration.data.batchSize) × \(configuration.data.frames) frames"
    }
}
