import Foundation
import Logging
import SensoriumData

/// How the training data is cut and served in a CLI training run.
public struct TrainingDataSettings: Codable, Sendable, Equatable {
    /// Clips per training batch (8 in the reference).
    public var batchSize: Int
    /// Frames per training clip (80 in the reference).
    public var frames: Int
    /// Input frames between two clip frames (1: consecutive, the reference; DwiseNeuro 2). A clip
    /// spans `(frames − 1)·frameStep + 1` frames of its trial.
    public var frameStep: Int = 1
    /// Where a clip's window may lie: `reference` (first frame uniform in `0 ..< L − span`) or
    /// `last` (DwiseNeuro: end frame uniform in `span − 1 ... L − 1`).
    public var clipPosition: ClipPosition = .reference
    /// For batches that mix mice (``/SensoriumTraining/MixedMouseTrainingData``): samples of each
    /// mouse per epoch (nil: the largest number of training trials among the mice; DwiseNeuro 7,200).
    public var samplesPerMouse: Int?
    /// Probability that a training clip is CutMixed with another clip of the same mouse (0: off;
    /// DwiseNeuro 0.5).
    public var cutMixProbability: Double = 0
    /// k of a k-fold split grouped by video identity (``/SensoriumData/FoldSplit``): training on
    /// the pool ``foldTiers`` minus fold ``fold``, validation on fold ``fold``; nil: the tiers
    /// (train, ``validationTier``).
    public var folds: Int?
    /// The validation fold i of the split, `0 ..< folds`.
    public var fold: Int = 0
    /// The labelled tiers the folds split (DwiseNeuro: train and oracle).
    public var foldTiers: [MouseTier] = [.train, .oracle]
    /// The tier scored for early stopping.
    public var validationTier: MouseTier
    /// Whole validation trials per batch (a batch is cut to its shortest trial).
    public var validationBatchSize: Int
    /// Cap on validation trial length (nil: whole trials).
    public var validationMaxFrames: Int?
    /// Background threads building batches, and batches built ahead.
    public var workers: Int
    public var prefetch: Int
    /// How training batches are drawn: one mouse per batch, round-robin (the reference), or
    /// batches that mix mice (DwiseNeuro).
    public var sampling: TrainingSampling
    /// A trained model file (`model.h5`) whose predictions of the other mice join the targets
    /// (DwiseNeuro's distillation stage, ``DistillationData``); nil: no distillation.
    public var teacherModel: String?
    /// The share of the loss given to the teacher's predictions, in [0, 1) (0.36 in DwiseNeuro).
    public var distillationRatio: Double
    /// One optimizer step per single-mouse batch instead of per round of one batch of every mouse
    /// (``/SensoriumTraining/MouseTrainingData/stepEveryBatch``; Dynamic-V1FM's). Default false.
    public var stepEveryBatch: Bool = false

    /// The reference's data settings.
    public init(batchSize: Int = 8, frames: Int = 80, validationTier: MouseTier = .oracle, validationBatchSize: Int = 8,
                validationMaxFrames: Int? = nil, workers: Int = 1, prefetch: Int = 2, sampling: TrainingSampling = .roundRobin,
                teacherModel: String? = nil, distillationRatio: Double = 0.36) {
        self.batchSize = batchSize
        self.frames = frames
        self.validationTier = validationTier
        self.validationBatchSize = validationBatchSize
        self.validationMaxFrames = validationMaxFrames
        self.workers = workers
        self.prefetch = prefetch
        self.sampling = sampling
        self.teacherModel = teacherModel
        self.distillationRatio = distillationRatio
    }

    enum CodingKeys: String, CodingKey {
        case frameStep, clipPosition, samplesPerMouse, cutMixProbability, folds, fold, foldTiers
        case batchSize, frames, validationTier, validationBatchSize, validationMaxFrames, workers, prefetch
        case sampling, teacherModel, distillationRatio, stepEveryBatch
    }

    /// Every key optional (missing keys keep the reference values); values are checked.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = TrainingDataSettings()
        batchSize = try c.decodeIfPresent(Int.self, forKey: .batchSize) ?? d.batchSize
        frames = try c.decodeIfPresent(Int.self, forKey: .frames) ?? d.frames
        frameStep = try c.decodeIfPresent(Int.self, forKey: .frameStep) ?? d.frameStep
        clipPosition = try c.decodeIfPresent(ClipPosition.self, forKey: .clipPosition) ?? d.clipPosition
        samplesPerMouse = try c.decodeIfPresent(Int.self, forKey: .samplesPerMouse)
        cutMixProbability = try c.decodeIfPresent(Double.self, forKey: .cutMixProbability) ?? d.cutMixProbability
        folds = try c.decodeIfPresent(Int.self, forKey: .folds)
        fold = try c.decodeIfPresent(Int.self, forKey: .fold) ?? d.fold
        foldTiers = try c.decodeIfPresent([MouseTier].self, forKey: .foldTiers) ?? d.foldTiers
        validationTier = try c.decodeIfPresent(MouseTier.self, forKey: .validationTier) ?? d.validationTier
        validationBatchSize = try c.decodeIfPresent(Int.self, forKey: .validationBatchSize) ?? d.validationBatchSize
        validationMaxFrames = try c.decodeIfPresent(Int.self, forKey: .validationMaxFrames)
        workers = try c.decodeIfPresent(Int.self, forKey: .workers) ?? d.workers
        prefetch = try c.decodeIfPresent(Int.self, forKey: .prefetch) ?? d.prefetch
        sampling = try c.decodeIfPresent(TrainingSampling.self, forKey: .sampling) ?? d.sampling
        teacherModel = try c.decodeIfPresent(String.self, forKey: .teacherModel)
        distillationRatio = try c.decodeIfPresent(Double.self, forKey: .distillationRatio) ?? d.distillationRatio
        stepEveryBatch = try c.decodeIfPresent(Bool.self, forKey: .stepEveryBatch) ?? d.stepEveryBatch
        func require(_ ok: Bool, _ key: CodingKeys, _ message: String) throws {
            if !ok { throw DecodingError.dataCorruptedError(forKey: key, in: c, debugDescription: "\(key.stringValue) \(message)") }
        }
        try require(batchSize >= 1, .batchSize, "must be at least 1")
        try require(frames >= 1, .frames, "must be at least 1")
        try require(frameStep >= 1, .frameStep, "must be at least 1")
        try require(samplesPerMouse.map { $0 >= 1 } ?? true, .samplesPerMouse, "must be at least 1")
        try require((0...1).contains(cutMixProbability), .cutMixProbability, "must be in [0, 1]")
        try require(folds.map { $0 >= 2 } ?? true, .folds, "must be at least 2")
        try require(fold >= 0 && fold < (folds ?? 1), .fold, folds == nil ? "needs folds" : "must be in 0..<\(folds!)")
        try require(!foldTiers.isEmpty, .foldTiers, "must name at least one tier")
        try require(validationBatchSize >= 1, .validationBatchSize, "must be at least 1")
        try require(validationMaxFrames.map { $0 >= 1 } ?? true, .validationMaxFrames, "must be at least 1")
        try require(workers >= 1, .workers, "must be at least 1")
        try require(prefetch >= 0, .prefetch, "must be 0 or more")
        try require(teacherModel.map { !$0.isEmpty } ?? true, .teacherModel, "must be a model file path (or absent)")
        try require(distillationRatio >= 0 && distillationRatio < 1, .distillationRatio, "must be in [0, 1)")
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
    /// run still trains mostly with every input and keeps trained weights. A warm-up + cosine
    /// schedule (``/SensoriumTraining/WarmupCosineSchedule``) planned for more epochs is compressed
    /// to end with the run (its learning-rate warm-up cut to a quarter of the epochs at most), so
    /// that a shorter run still anneals. A validation interval that does not divide `epochs`
    /// becomes the largest one that does (so that the last epoch is validated and ends the run).
    public mutating func limitEpochs(to epochs: Int) {
        trainer.earlyStopping.maxEpochs = epochs
        let quarter = epochs / 4
        if model.behaviorWarmupEpochs > quarter {
            model.behaviorWarmupEpochs = quarter
            trainer.earlyStopping.warmupEpochs = quarter == 0 ? 0 : min(trainer.earlyStopping.warmupEpochs, quarter + 2)
        }
        trainer.earlyStopping.warmupEpochs = min(trainer.earlyStopping.warmupEpochs, max(0, epochs - 1))
        // Validation every `interval` epochs must land on the last epoch, or training would run
        // on to the next multiple (the reference's loop): the largest interval that divides it.
        if epochs >= 1 {
            trainer.earlyStopping.interval = (1...min(trainer.earlyStopping.interval, epochs)).last { epochs % $0 == 0 } ?? 1
        }
        if epochs >= 1, let cosine = trainer.schedule.as(WarmupCosineSchedule.self), cosine.totalEpochs > Double(epochs) {
            trainer.schedule = trainer.schedule.updating(WarmupCosineSchedule.self) {
                $0.warmupEpochs = min(cosine.warmupEpochs, Double(epochs) / 4)
                $0.cosineEpochs = Double(epochs) - $0.warmupEpochs
            }
        }
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
    /// ``RunPreset`` called `path` (a folder of that name does not hide the preset; an error names
    /// both when neither exists).
    public static func load(fileOrPreset path: String) throws -> TrainingRunConfiguration {
        try load(fileOrPreset: path, relativeTo: nil)
    }

    /// ``load(fileOrPreset:)`` with a relative `path` resolved against `base` (nil: the working directory).
    static func load(fileOrPreset path: String, relativeTo base: String?) throws -> TrainingRunConfiguration {
        var expanded = (path as NSString).expandingTildeInPath
        if let base, !expanded.hasPrefix("/") { expanded = (base as NSString).appendingPathComponent(expanded) }
        var isFolder: ObjCBool = false
        let exists = FileManager.default.fileExists(atPath: expanded, isDirectory: &isFolder)
        let preset = RunPreset.registered.first(where: { $0.name == path })
        // A file of that name wins; a folder named like a preset (a run's output) does not hide it.
        if (exists && !isFolder.boolValue) || preset == nil && (exists || path.contains("/") || path.hasSuffix(".json")) {
            return try load(from: URL(fileURLWithPath: expanded))
        }
        guard let preset else {
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
        /// The ranks of a data-parallel run (see Documentation/Distributed.md): every rank runs
        /// the same request; each trains on its shard of every global batch of
        /// `batchSize × size` clips, and rank 0 alone writes the run folder.
        public var communicator: any Communicator = SingleProcessCommunicator()

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
        /// Which weights `model.h5` holds.
        public var savedWeights: SavedWeights
        /// The command that continues this run (meaningful when ``summary`` is not finished).
        public var resumeCommand: String
    }

    /// Which weights a run saved as `model.h5`.
    public enum SavedWeights: Sendable, Equatable, CustomStringConvertible {
        /// The best weights early stopping kept, from the end of this epoch.
        case best(epoch: Int)
        /// The weights after the last completed epoch (early stopping keeps no best weights).
        case last(epoch: Int)
        /// The initial weights: no epoch was completed, or none improved on the untrained model.
        case untrained

        /// "best weights (epoch 12)", "weights after epoch 3", "untrained initial weights".
        public var description: String {
            switch self {
            case .best(let epoch): "best weights, epoch \(epoch)"
            case .last(let epoch): "weights after epoch \(epoch)"
            case .untrained: "UNTRAINED initial weights"
            }
        }
    }

    /// The `sensorium train` command line that continues the run in `output` on `dataPaths`.
    public static func resumeCommand(dataPaths: [String], output: String) -> String {
        func quoted(_ s: String) -> String {
            s.allSatisfy { $0.isLetter || $0.isNumber || "/._-~+=:,@".contains($0) } ? s : "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'"
        }
        return (["sensorium", "train"] + dataPaths.map(quoted) + ["-o", quoted(output), "--resume"]).joined(separator: " ")
    }

    /// A one-line description of the model: its components, size, and which preset it matches.
    public static func describeModel(_ model: VideoModel, configuration: VideoModelConfiguration) -> String {
        var text = "\(configuration.core.typeName) core, \(configuration.readout.typeName) readout: "
            + "\(ProgressBar.grouped(model.trainableParameterCount)) trainable parameters, burn-in \(model.burnInFrames) frames"
        if let preset = RunPreset.registered.first(where: { $0.configuration.model == configuration }) {
            text += " (the \(preset.name) preset"
            if preset.name == RunPreset.factorizedBaseline.name {
                text += "; `--config \(RunPreset.demo.name)` trains the demo's much smaller model"
            }
            text += ")"
        }
        return text
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
                let report = MouseFolderInspector.inspect(path: folder, scanTrials: nil, clipFrames: settings.clipSpan)
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
            guard settings.folds != nil || !d.trials(in: settings.validationTier).isEmpty else {
                throw DataError(.inconsistent, path: d.layout.tiersFile,
                                     expected: "\(settings.validationTier.rawValue) trials for validation", found: "none")
            }
        }
        return datasets
    }

    /// Checks that the model can take the training clips of `settings` (`data.frames` frames of
    /// each frame size): more frames than the model's burn-in, a shape its core can read, and no
    /// CutMix for a core that takes the behaviour planes as constant over a frame. A
    /// `SensoriumError` naming `data.frames` or `data.cutMixProbability` otherwise.
    public static func checkClips(of model: VideoModel, configuration: VideoModelConfiguration, settings: TrainingDataSettings,
                                  frameSizes: [[Int]]) throws {
        guard settings.frames > model.burnInFrames else {
            throw SensoriumError.invalidConfiguration(source: "data.frames",
                message: "clips of \(settings.frames) frames leave no prediction: the model's burn-in is \(model.burnInFrames) frames, so data.frames must be at least \(model.burnInFrames + 1)")
        }
        if settings.cutMixProbability > 0 && model.core.assumesConstantInputChannels {
            throw SensoriumError.invalidConfiguration(source: "data.cutMixProbability",
                message: "CutMix pastes its box over every input channel, the behaviour planes included (as DwiseNeuro does), so they are no longer constant over a frame, but the \(configuration.core.typeName) core's constantInputChannels takes them as constant; set data.cutMixProbability to 0 or model.core.constantInputChannels to false")
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
        var logger = logger
        // In a data-parallel run, rank 0 speaks for all.
        if !request.communicator.isRoot { logger.logLevel = max(logger.logLevel, .error) }
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
            if let state = try? Checkpoint.read(from: URL(fileURLWithPath: checkpoint)).children["early_stopping"],
               state.integers["finished"] == 1 {
                let epochs = state.integers["epoch"].map(String.init) ?? "?"
                let best = state.integers["best_epoch"].map(String.init) ?? "?"
                let objective = state.reals["best_objective"].map { String(format: "%.4f", $0) } ?? "?"
                throw SensoriumError.file(path: folder, message: "expected an unfinished run to resume, found a finished one (\(epochs) epochs, best validation correlation \(objective) at epoch \(best)); nothing was changed. To train longer, start a new run (another -o, or --overwrite) with a larger --epochs, or --config \(configurationPath) with its trainer.earlyStopping changed")
            }
            logger.info("resuming the run in \(folder) with its saved configuration")
        } else if fm.fileExists(atPath: checkpoint) && !request.overwrite {
            throw SensoriumError.file(path: folder, message: "expected an empty run folder, found a run (\(RunFolder.checkpointFile)); pass --resume to continue it or --overwrite to start again")
        }
        // The data is checked before the run folder exists, so a refused run leaves nothing behind.
        let datasets = try openDatasets(request.dataPaths, model: configuration.model, settings: configuration.data,
                                        forTraining: true)
        let communicator = request.communicator
        // Every rank has checked the folder before rank 0 writes into it.
        if communicator.size > 1 { try communicator.barrier() }
        let writes = communicator.isRoot
        // The model is pure (reads no data): built and checked against the clips before the run
        // folder exists, so a configuration that cannot train leaves nothing behind either.
        let model = try VideoModel(configuration: configuration.model, datasets: datasets)
        try checkClips(of: model, configuration: configuration.model, settings: configuration.data,
                       frameSizes: datasets.map { [$0.inputHeight, $0.inputWidth] })
        let createdFolder = !fm.fileExists(atPath: folder)
        if writes { try RunFolder.create(folder) }
        do {
            return try train(request, model: model, configuration: configuration, datasets: datasets, folder: folder,
                             runStart: runStart, logger: logger, observers: observers)
        } catch {
            // A run that failed before it trained a whole epoch leaves no folder behind (a folder
            // that was there before is kept; a checkpoint with trained epochs can be resumed).
            let trainedEpochs = (try? TrainingHistory.read(from: URL(fileURLWithPath: checkpoint)))?.filter { $0.epoch > 0 }.count ?? 0
            if writes && createdFolder && trainedEpochs == 0 { try? fm.removeItem(atPath: folder) }
            throw error
        }
    }

    private static func train(_ request: Request, model: VideoModel, configuration: TrainingRunConfiguration, datasets: [MouseDataset],
                              folder: String, runStart: ContinuousClock.Instant, logger: Logger,
                              observers: [any TrainingObserver]) throws -> Outcome {
        let fm = FileManager.default
        let checkpoint = RunFolder.file(folder, RunFolder.checkpointFile)
        let configurationPath = RunFolder.file(folder, configurationFile)
        let communicator = request.communicator
        let writes = communicator.isRoot
        let miceText = datasets.map { "\($0.name) (\($0.neuronCount) neurons, \($0.trials(in: .train).count) train trials)" }
            .joined(separator: ", ")
        logger.info("\(datasets.count) mice: \(miceText)")
        // The configuration's data-dependent starts (readout biases, receptive fields); a resumed
        // run loads its trained weights instead.
        if !request.resume { try model.initializeFromData(datasets) }
        let data = try trainingData(datasets: datasets, settings: configuration.data, model: model, logger: logger,
                                    communicator: communicator)
        let trainer = communicator.size > 1
            ? Trainer(model: model, data: data, configuration: configuration.trainer, logger: logger, communicator: communicator)
            : Trainer(model: model, data: data, configuration: configuration.trainer, logger: logger)
        trainer.checkpointURL = URL(fileURLWithPath: checkpoint)
        trainer.observers = observers
        if request.resume {
            try trainer.restore(from: URL(fileURLWithPath: checkpoint))
        } else if request.overwrite && writes {
            for name in [RunFolder.checkpointFile, RunFolder.modelFile, RunFolder.runFile, RunFolder.evaluationFile, RunFolder.reportFile] {
                try? fm.removeItem(atPath: RunFolder.file(folder, name))
            }
        }
        do {
            if writes { try Data(configuration.jsonString().utf8).write(to: URL(fileURLWithPath: configurationPath), options: .atomic) }
        } catch {
            throw SensoriumError.file(path: configurationPath, message: "cannot write the run configuration (\(error.localizedDescription))")
        }
        logger.notice("model: \(describeModel(model, configuration: configuration.model))")

        var stop = request.stop
        if case .duration(let budget)? = stop {
            // The limit counts from the start of the run: what is left of it is the training's.
            let left = max(.zero, budget - (.now - runStart))
            stop = .duration(left)
            for case let bar as ProgressBar in observers { bar.timeLimit = left }
        }
        let summary = try trainer.fit(until: stop)
        if communicator.size > 1 {
            // Rank 0 has written the last checkpoint; the other ranks are done.
            try communicator.barrier()
            guard writes else {
                model.eval()
                return Outcome(model: model, datasets: datasets, configuration: configuration, summary: summary,
                               history: trainer.history, seconds: ProgressBar.seconds(.now - runStart),
                               report: RunReport(title: request.title ?? "rank \(communicator.rank)"),
                               savedWeights: .last(epoch: summary.epochs),
                               resumeCommand: resumeCommand(dataPaths: request.dataPaths, output: request.output))
            }
        }
        if !summary.finished && configuration.trainer.earlyStopping.restoreBest {
            // Interrupted: the checkpoint keeps the current state for resuming; the saved model gets
            // the best weights so far, as a finished run would.
            if try restoreBestWeights(model, from: URL(fileURLWithPath: checkpoint)) {
                logger.debug("training stopped before the end; the model holds the best weights so far (epoch \(summary.bestEpoch))")
            }
        } else if !summary.finished, let average = trainer.movingAverage {
            // Without early stopping's best weights, an interrupted run saves the moving average,
            // as a finished one does.
            average.copyToModule()
        }
        let saved: SavedWeights
        if summary.epochs == 0 || (configuration.trainer.earlyStopping.restoreBest && summary.bestEpoch == 0) {
            saved = .untrained
            logger.warning(summary.epochs == 0
                ? "no epoch was completed before the stop: \(RunFolder.modelFile) holds the untrained initial weights"
                : "no epoch improved the validation correlation of the untrained model: \(RunFolder.modelFile) holds the initial weights")
        } else {
            saved = configuration.trainer.earlyStopping.restoreBest ? .best(epoch: summary.bestEpoch) : .last(epoch: summary.epochs)
        }
        model.eval()
        try model.save(to: URL(fileURLWithPath: RunFolder.file(folder, RunFolder.modelFile)))
        let resume = resumeCommand(dataPaths: request.dataPaths, output: request.output)

        var report = RunReport(title: request.title ?? "Sensorium run \((folder as NSString).lastPathComponent)")
        report.subtitle = describe(configuration: configuration, datasets: datasets)
        report.history = trainer.history
        report.readoutPositions = ReadoutPositions.annotate(ReadoutPositions.extract(from: model), with: datasets, model: model)
        report.validationSetup = .init(tier: configuration.data.validationTier, maxFrames: configuration.data.validationMaxFrames,
                                       skipFrames: configuration.trainer.validationSkipFrames)
        report.facts = [
            .init("mice", datasets.map(\.name).joined(separator: ", ")),
            .init("neurons", datasets.map { String($0.neuronCount) }.joined(separator: ", ")),
            .init("parameters", String(model.trainableParameterCount)),
            .init("epochs", String(summary.epochs)),
            .init("optimizer steps", String(summary.steps)),
            .init("best validation ρ_st", String(format: "%.4f (epoch %d)", summary.bestObjective, summary.bestEpoch)),
            .init("training finished", summary.finished ? "yes" : "no, stopped by the time limit; continue with `\(resume)`"),
            .init("model.h5 holds", saved.description),
            .init("training seconds", String(format: "%.1f", summary.seconds)),
            .init("seed (trainer / model)", "\(configuration.trainer.seed) / \(configuration.model.seed)"),
        ]
        try report.write(to: URL(fileURLWithPath: RunFolder.file(folder, RunFolder.runFile)))
        return Outcome(model: model, datasets: datasets, configuration: configuration, summary: summary,
                       history: trainer.history, seconds: ProgressBar.seconds(.now - runStart), report: report,
                       savedWeights: saved, resumeCommand: resume)
    }

    /// Loads the best weights kept by early stopping in the training checkpoint at `url` into
    /// `model`; false when the checkpoint has none.
    /// With a moving average, its weights at the best epoch are loaded (what validation scored).
    @discardableResult
    public static func restoreBestWeights(_ model: VideoModel, from url: URL) throws -> Bool {
        let record = try Checkpoint.read(from: url)
        let stopping = record.children["early_stopping"]
        if let average = stopping?.children["best_average"], !average.tensors.isEmpty {
            try model.loadStateDict(average.tensors)
            return true
        }
        guard let best = stopping?.children["best_model"], !best.tensors.isEmpty else { return false }
        try model.loadStateDict(best.tensors)
        return true
    }

    /// The training data of a run: the sampler `settings.sampling` names over `datasets`, wrapped in
    /// a ``DistillationData`` when `settings.teacherModel` names a teacher (whose mice must be the
    /// model's).
    public static func trainingData(datasets: [MouseDataset], settings: TrainingDataSettings, model: VideoModel,
                                    logger: Logger, communicator: any Communicator = SingleProcessCommunicator()) throws
        -> AnyTrainingData<MouseBatch> {
        var data: AnyTrainingData<MouseBatch>
        if communicator.size > 1 && (settings.sampling != .roundRobin || settings.teacherModel != nil || settings.stepEveryBatch) {
            throw SensoriumError.invalidOptions("distributed training shards the round-robin sampler with one step per round only; the \(settings.sampling.rawValue) sampling\(settings.teacherModel != nil ? " with a teacher" : "")\(settings.stepEveryBatch ? " with a step every batch" : "") runs in one process")
        }
        switch settings.sampling {
        case .roundRobin:
            let source = try settings.makeTrainingData(datasets: datasets)
            if communicator.size > 1 { source.shard = DataShard(rank: communicator.rank, count: communicator.size) }
            data = AnyTrainingData(source)
        case .mixedMice: data = AnyTrainingData(try settings.makeMixedTrainingData(datasets: datasets))
        }
        if let path = settings.teacherModel {
            let url = URL(fileURLWithPath: (path as NSString).expandingTildeInPath)
            let teacher = try VideoModel.load(from: url)
            guard Set(teacher.mice) == Set(model.mice) else {
                throw SensoriumError.incompatibleData("the teacher \(url.path) has the mice \(teacher.mice.sorted()), the model \(model.mice.sorted()); distillation needs the same mice")
            }
            try teacher.checkCompatible(with: datasets)
            logger.info("distilling \(url.path) (its predictions of the other mice are \(settings.distillationRatio) of the loss)")
            data = AnyTrainingData(try DistillationData(source: data, teacher: teacher, ratio: settings.distillationRatio))
        }
        return data
    }

    /// A one-line description of a run.
    public static func describe(configuration: TrainingRunConfiguration, datasets: [MouseDataset]) -> String {
        let neurons = datasets.reduce(0) { $0 + $1.neuronCount }
        return "\(configuration.model.core.typeName) core, \(configuration.model.readout.typeName) readouts; "
            + "\(datasets.count) mice, \(neurons) neurons; batch \(configuration.data.batchSize) × \(configuration.data.frames) frames"
    }
}
