import Foundation
import SensoriumData

/// The `submit` command as a function: predictions of the live and final test tiers of both
/// tracks, cut to the scored frames, checked, and written as one self-describing HDF5 file and as
/// the competition's parquet files.
///
/// **What is predicted.** Every trial of the four test tiers, whole (the reference kit's
/// `generate_submission` predicts whole trials at batch size 1; `maxFrames` can cap them), and the
/// last `frames − skipFrames` predicted frames kept: a `(neurons, frames − 50)` float32 matrix per
/// trial, rows in the order of the mouse's `meta/neurons/unit_ids.npy`.
///
/// **Trial indices.** As the reference kit writes them (`trial_indices.append(idx)` in
/// `sensorium/utility/submission.py`): the dataset item index of the trial, which in the 2023
/// folder layout is the file number of the trial (`data/videos/<index>.npy`), the index
/// ``/SensoriumData/MouseDataset/trials(in:)`` returns. (The kit's README speaks of trial ids;
/// its code, which the scorer was fed with, writes these indices.)
///
/// **Checks.** Every prediction is compared with its trial before anything is written: the
/// shape must be `(neurons, frames − skipFrames)` for the trial's true length (capped at
/// `maxFrames`), and every value finite. A failure throws naming the mouse, trial, expected and
/// found shape; the files are assembled in a staging folder inside the output folder and moved
/// into place only when every part passed, so a refused submission leaves no file behind.
///
/// **HDF5 layout** (`submission.h5`):
/// ```
/// /                                   attributes: format = "sensorium.submission", format_version = 1,
///                                     sdk_version, frames_skipped, max_frames (0: whole trials),
///                                     models (one line per model file; several for an ensemble),
///                                     ensemble_members (count)
/// /<tier>/<track>                     tier "live_test" | "final_test", track "main" | "bonus";
///                                     attributes: tier (e.g. "final_test_main"), parquet_file
/// /<tier>/<track>/<mouse>/trial_indices   int64 (trials), in prediction order
/// /<tier>/<track>/<mouse>/neuron_ids      uint32 (neurons), the unit ids of the rows
/// /<tier>/<track>/<mouse>/predictions/<trial index>   float32 (neurons, frames − frames_skipped)
/// ```
/// Mice without trials in a tier have no group there.
public enum SubmissionWorkflow {
    /// The HDF5 file's name in the output folder.
    public static let hdf5FileName = "submission.h5"
    /// The HDF5 file's format name and version.
    public static let formatName = "sensorium.submission"
    public static let formatVersion = 1

    /// One of the four submission files: a test tier of a track.
    public struct Part: Sendable, Equatable, Hashable {
        /// `"live_test"` or `"final_test"`.
        public var tier: String
        /// `"main"` or `"bonus"`.
        public var track: String
        /// The dataset tier.
        public var mouseTier: MouseTier

        /// The four parts: live and final test of the main and the bonus track.
        public static let all: [Part] = [
            Part(tier: "live_test", track: "main", mouseTier: .liveTestMain),
            Part(tier: "live_test", track: "bonus", mouseTier: .liveTestBonus),
            Part(tier: "final_test", track: "main", mouseTier: .finalTestMain),
            Part(tier: "final_test", track: "bonus", mouseTier: .finalTestBonus),
        ]
    }

    /// How predictions are made and cut.
    public struct Options: Sendable, Equatable {
        /// Frames dropped at the start of every trial (50: the competition scored from frame 50 on).
        public var skipFrames: Int
        /// Trials cut to at most this many frames before predicting (nil: whole trials, as the reference kit).
        public var maxFrames: Int?
        /// Multiply predictions by each neuron's response precision (``PrecisionScaling``).
        public var precisionScaling: Bool
        /// Also write the parquet files.
        public var parquet: Bool

        public init(skipFrames: Int = 50, maxFrames: Int? = nil, precisionScaling: Bool = false, parquet: Bool = true) {
            self.skipFrames = skipFrames
            self.maxFrames = maxFrames
            self.precisionScaling = precisionScaling
            self.parquet = parquet
        }
    }

    /// Produces the predictions of every trial of one tier of one mouse, in trial order.
    public typealias TrialPredictor = (_ dataset: MouseDataset, _ tier: MouseTier, _ body: (TrialPrediction) throws -> Void) throws -> Void

    /// The predictor of a model: ``Predictions/forEach(_:datasets:tiers:skipFrames:maxFrames:prefetch:precisionScaling:_:)``.
    public static func predictor(_ model: any TrainableModel<MouseBatch>, options: Options) -> TrialPredictor {
        { dataset, tier, body in
            try Predictions.forEach(model, datasets: [dataset], tiers: [tier], skipFrames: options.skipFrames,
                                    maxFrames: options.maxFrames, precisionScaling: options.precisionScaling, body)
        }
    }

    /// Checks one prediction against its trial: mouse, tier and trial as asked, shape
    /// `(neurons, L − skipFrames)` for the trial's true length `L` (at most `maxFrames`), finite values.
    public static func check(_ p: TrialPrediction, dataset: MouseDataset, tier: MouseTier, options: Options) throws {
        guard p.mouse == dataset.name, p.tier == tier, dataset.trials(in: tier).contains(p.trial) else {
            throw SensoriumError.invalidOptions("a prediction for mouse \(p.mouse), \(p.tier.rawValue) trial \(p.trial) came while predicting \(tier.rawValue) of mouse \(dataset.name)")
        }
        let length = min(try dataset.trialLength(p.trial), options.maxFrames ?? Int.max)
        let expected = [dataset.neuronCount, max(length - options.skipFrames, 0)]
        guard [p.neurons, p.frames] == expected, p.values.count == p.neurons * p.frames else {
            throw SensoriumError.wrongPredictionShape(
                mouse: dataset.name, trial: p.trial, shape: [p.neurons, p.frames],
                expected: "(\(expected[0]), \(expected[1])): \(expected[0]) neurons × (\(length) frames − \(options.skipFrames) skipped) of this \(tier.rawValue) trial")
        }
        if let bad = p.values.firstIndex(where: { !$0.isFinite }) {
            throw SensoriumError.wrongPredictionShape(
                mouse: dataset.name, trial: p.trial, shape: [p.neurons, p.frames],
                expected: "finite values, found \(p.values[bad]) at neuron \(bad / max(p.frames, 1)), frame \(bad % max(p.frames, 1))")
        }
    }

    /// What ``run(predictor:datasets:options:output:models:)`` wrote.
    public struct Summary: Sendable, Equatable {
        /// Trials per part and mouse.
        public var trials: [Part: [String: Int]]
        /// The HDF5 file.
        public var hdf5File: String
        /// The parquet files, by part (empty when not written).
        public var parquetFiles: [Part: String]
    }

    /// Predicts every test trial with `predictor`, checks each prediction, and writes the HDF5
    /// file (and the parquet files) into `output`. `models` names the model files for the
    /// file's attributes.
    @discardableResult
    public static func run(predictor: TrialPredictor, datasets: [MouseDataset], options: Options, output: String,
                           models: [String]) throws -> Summary {
        guard options.skipFrames >= 0 else { throw SensoriumError.invalidOptions("skipFrames must be ≥ 0, got \(options.skipFrames)") }
        if let m = options.maxFrames, m <= options.skipFrames {
            throw SensoriumError.invalidOptions("maxFrames (\(m)) must exceed skipFrames (\(options.skipFrames))")
        }
        guard !datasets.isEmpty else { throw SensoriumError.invalidOptions("no mouse datasets to predict") }
        let folder = (output as NSString).expandingTildeInPath
        try RunFolder.create(folder)
        let fm = FileManager.default
        let staging = RunFolder.file(folder, ".submission-staging-\(getpid())")
        try? fm.removeItem(atPath: staging)
        try RunFolder.create(staging)
        defer { try? fm.removeItem(atPath: staging) }

        var stagedFiles: [(from: String, to: String)] = []
        var trialCounts: [Part: [String: Int]] = [:]
        var parquetFiles: [Part: String] = [:]
        let hdf5Staged = RunFolder.file(staging, hdf5FileName)
        do {
            let file = try HDF5File.create(hdf5Staged, overwrite: true)
            try file.setAttribute("format", formatName)
            try file.setAttribute("format_version", Int64(formatVersion))
            try file.setAttribute("sdk_version", SensoriumVersion.current)
            try file.setAttribute("frames_skipped", Int64(options.skipFrames))
            try file.setAttribute("max_frames", Int64(options.maxFrames ?? 0))
            try file.setAttribute("models", models.joined(separator: "\n"))
            try file.setAttribute("ensemble_members", Int64(models.count))
            try file.setAttribute("precision_scaling", Int64(options.precisionScaling ? 1 : 0))
            // Each prediction goes to the HDF5 file and the parquet table as soon as it is
            // checked, so memory holds one trial at a time (a real part is gigabytes).
            for part in Part.all {
                let group = try file.createGroup("\(part.tier)/\(part.track)")
                try group.setAttribute("tier", part.mouseTier.rawValue)
                let parquetName = SubmissionParquet.fileName(tier: part.tier, track: part.track)
                let parquetStaged = RunFolder.file(staging, parquetName)
                let table = options.parquet ? try SubmissionParquetWriter(url: URL(fileURLWithPath: parquetStaged)) : nil
                for dataset in datasets where !dataset.trials(in: part.mouseTier).isEmpty {
                    let ids = try neuronIDs(of: dataset)
                    let base = "\(part.tier)/\(part.track)/\(dataset.name)"
                    var trials: [Int] = []
                    try predictor(dataset, part.mouseTier) { p in
                        try check(p, dataset: dataset, tier: part.mouseTier, options: options)
                        try file.createDataset("\(base)/predictions/\(p.trial)", values: p.values, shape: [p.neurons, p.frames])
                        try table?.append(parquetRow(p, mouse: dataset.name, neuronIDs: ids))
                        trials.append(p.trial)
                    }
                    let expected = dataset.trials(in: part.mouseTier)
                    guard trials.sorted() == expected else {
                        throw SensoriumError.invalidOptions("mouse \(dataset.name), \(part.mouseTier.rawValue): predictions for \(trials.count) trials, the tier has \(expected.count)")
                    }
                    try file.createDataset("\(base)/trial_indices", values: trials.map { Int64($0) }, shape: [trials.count])
                    try file.createDataset("\(base)/neuron_ids", values: ids, shape: [ids.count])
                    trialCounts[part, default: [:]][dataset.name] = trials.count
                }
                if let table {
                    try table.finish()
                    try group.setAttribute("parquet_file", parquetName)
                    stagedFiles.append((parquetStaged, RunFolder.file(folder, parquetName)))
                    parquetFiles[part] = RunFolder.file(folder, parquetName)
                }
            }
            try file.flush()
        }
        stagedFiles.insert((hdf5Staged, RunFolder.file(folder, hdf5FileName)), at: 0)
        // Every part passed: move the files into place.
        for (from, to) in stagedFiles {
            if fm.fileExists(atPath: to) { try fm.removeItem(atPath: to) }
            do { try fm.moveItem(atPath: from, toPath: to) } catch {
                throw SensoriumError.file(path: to, message: "cannot move the finished file into place: \(error.localizedDescription)")
            }
        }
        return Summary(trials: trialCounts, hdf5File: RunFolder.file(folder, hdf5FileName), parquetFiles: parquetFiles)
    }

    /// One row of a part's parquet table: the trial's prediction as neurons × frames.
    public static func parquetRow(_ p: TrialPrediction, mouse: String, neuronIDs: [UInt32]) -> SubmissionRow {
        SubmissionRow(mouse: mouse, trialIndex: p.trial,
                      prediction: (0..<p.neurons).map { Array(p.values[($0 * p.frames)..<(($0 + 1) * p.frames)]) },
                      neuronIDs: neuronIDs)
    }

    /// The unit ids as the competition's `neuron_ids` column (uint32); throws for ids outside its range.
    static func neuronIDs(of dataset: MouseDataset) throws -> [UInt32] {
        try dataset.unitIDs.map { id in
            guard let v = UInt32(exactly: id) else {
                throw SensoriumError.incompatibleData("mouse \(dataset.name): unit id \(id) does not fit the submission's uint32 neuron_ids")
            }
            return v
        }
    }

    /// One part of a submission HDF5 file as read back.
    public struct StoredMouse: Sendable, Equatable {
        public var part: Part
        public var mouse: String
        public var trialIndices: [Int]
        public var neuronIDs: [UInt32]
        /// `(neurons, frames)` row-major per trial, in `trialIndices` order, with the frames.
        public var predictions: [[Float]]
        public var frames: [Int]
    }

    /// Reads a submission HDF5 file written by ``run(predictor:datasets:options:output:models:)``.
    public static func read(_ url: URL) throws -> (framesSkipped: Int, models: [String], mice: [StoredMouse]) {
        let file = try HDF5File.open(url.path)
        guard (try? file.stringAttribute("format")) == formatName else {
            throw SensoriumError.file(path: url.path, message: "expected an HDF5 file with format \"\(formatName)\"")
        }
        let skipped = Int(try file.attribute("frames_skipped", as: Int64.self))
        let models = try file.stringAttribute("models").split(separator: "\n").map(String.init)
        var mice: [StoredMouse] = []
        for part in Part.all where file.exists("\(part.tier)/\(part.track)") {
            let group = try file.group("\(part.tier)/\(part.track)")
            for mouse in try group.children() {
                let g = try group.group(mouse)
                let trials = try g.dataset("trial_indices").read(as: Int64.self).map { Int($0) }
                let ids = try g.dataset("neuron_ids").read(as: UInt32.self)
                var predictions: [[Float]] = [], frames: [Int] = []
                for t in trials {
                    let ds = try g.dataset("predictions/\(t)")
                    predictions.append(try ds.read(as: Float.self))
                    frames.append(ds.shape.last ?? 0)
                }
                mice.append(StoredMouse(part: part, mouse: mouse, trialIndices: trials, neuronIDs: ids, predictions: predictions, frames: frames))
            }
        }
        return (skipped, models, mice)
    }
}

extension EvaluationWorkflow {
    /// `sensorium submit`: ``SubmissionWorkflow/run(predictor:datasets:options:output:models:)`` with
    /// the predictions of `models` (one model or the mean of an ensemble's).
    @discardableResult
    public static func submit(_ models: ModelSet, datasets: [MouseDataset], options: SubmissionWorkflow.Options,
                              output: String) throws -> SubmissionWorkflow.Summary {
        try SubmissionWorkflow.run(predictor: SubmissionWorkflow.predictor(models.model, options: options), datasets: datasets,
                                   options: options, output: output, models: models.members.map(\.checkpoint))
    }
}
