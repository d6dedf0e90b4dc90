import Foundation
import SensoriumTensor
import SensoriumData

/// The predicted responses of one trial as SENSORIUM 2023 submissions hold them: `(neurons,
/// frames − skip)` float32, in unit-id order, for the frames after the first `skip`.
public struct TrialPrediction: Sendable, Equatable {
    /// Mouse (folder) name.
    public var mouse: String
    /// Tier of the trial.
    public var tier: MouseTier
    /// File index of the trial.
    public var trial: Int
    /// Number of neurons (rows).
    public var neurons: Int
    /// Number of predicted frames (columns): the trial's frames minus the skipped ones.
    public var frames: Int
    /// `(neurons, frames)`, row-major.
    public var values: [Float]

    public init(mouse: String, tier: MouseTier, trial: Int, neurons: Int, frames: Int, values: [Float]) {
        precondition(values.count == neurons * frames,
                     "TrialPrediction: \(values.count) values for (\(neurons), \(frames))")
        self.mouse = mouse
        self.tier = tier
        self.trial = trial
        self.neurons = neurons
        self.frames = frames
        self.values = values
    }

    /// The prediction as a `(neurons, frames)` tensor.
    public var tensor: Tensor { Tensor(values, shape: [neurons, frames]) }
}

/// The predictions of one mouse with its unit ids.
public struct MousePredictions: Sendable, Equatable {
    /// Mouse (folder) name.
    public var mouse: String
    /// `meta/neurons/unit_ids.npy`: the id of each prediction row.
    public var unitIDs: [Int]
    /// The trials, ordered by tier then trial index.
    public var trials: [TrialPrediction]

    public init(mouse: String, unitIDs: [Int], trials: [TrialPrediction]) {
        self.mouse = mouse
        self.unitIDs = unitIDs
        self.trials = trials
    }
}

/// What ``Predictions/write(_:datasets:npyFolder:hdf5File:tiers:skipFrames:maxFrames:precisionScaling:)`` wrote.
public struct PredictionSummary: Sendable, Equatable, Codable {
    /// Trials written per mouse.
    public var trialsPerMouse: [String: Int]
    /// The NPY folder, if written.
    public var npyFolder: String?
    /// The HDF5 file, if written.
    public var hdf5File: String?
}

/// Per-trial predictions of the test tiers, streamed to NPY files and/or one HDF5 file.
///
/// NPY layout (one folder):
/// ```
/// <folder>/<mouse>/unit_ids.npy            int64 (neurons)
/// <folder>/<mouse>/<tier>/<trial>.npy      float32 (neurons, frames − skip)
/// ```
/// HDF5 layout (one file; attributes `format` = "sensorium.predictions", `format_version` = 1,
/// `skip_frames`):
/// ```
/// /<mouse>/unit_ids                        int64 (neurons)
/// /<mouse>/<tier>/<trial>                  float32 (neurons, frames − skip)
/// ```
/// The HDF5 file is written under a temporary name and renamed when complete.
public final class PredictionWriter {
    /// The NPY folder, when writing NPY.
    public let npyFolder: URL?
    /// The HDF5 file, when writing HDF5.
    public let hdf5File: URL?
    /// Frames skipped at the start of every trial.
    public let skipFrames: Int
    private var file: HDF5File?
    private let temporaryPath: String?
    private var mice = Set<String>()
    private var finished = false

    /// A writer to either or both destinations (existing files are replaced).
    public init(npyFolder: URL?, hdf5File: URL?, skipFrames: Int = 50) throws {
        guard npyFolder != nil || hdf5File != nil else {
            throw SensoriumError.invalidOptions("predictions need an NPY folder, an HDF5 file or both")
        }
        self.npyFolder = npyFolder
        self.hdf5File = hdf5File
        self.skipFrames = skipFrames
        if let npyFolder {
            do {
                try FileManager.default.createDirectory(at: npyFolder, withIntermediateDirectories: true)
            } catch {
                throw SensoriumError.file(path: npyFolder.path, message: "cannot create the prediction folder: \(error.localizedDescription)")
            }
        }
        if let hdf5File {
            let directory = hdf5File.deletingLastPathComponent()
            try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let temporary = directory.appendingPathComponent(".\(hdf5File.lastPathComponent).tmp-\(getpid())").path
            temporaryPath = temporary
            do {
                let f = try HDF5File.create(temporary, overwrite: true)
                try f.setAttribute("format", "sensorium.predictions")
                try f.setAttribute("format_version", Int64(1))
                try f.setAttribute("skip_frames", Int64(skipFrames))
                file = f
            } catch {
                throw SensoriumError.file(path: hdf5File.path, message: "cannot create the prediction file: \(error)")
            }
        } else {
            temporaryPath = nil
        }
    }

    deinit {
        if !finished, let temporaryPath {
            file = nil
            try? FileManager.default.removeItem(atPath: temporaryPath)
        }
    }

    /// Starts a mouse: writes its unit ids.
    public func beginMouse(_ mouse: String, unitIDs: [Int]) throws {
        precondition(!finished, "PredictionWriter: already finished")
        guard mice.insert(mouse).inserted else { return }
        if let npyFolder {
            let dir = npyFolder.appendingPathComponent(mouse)
            try? FileManager.default.removeItem(at: dir)
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            try NPY.write(NPYArray(ints: unitIDs), to: dir.appendingPathComponent("unit_ids.npy").path)
        }
        if let file {
            try file.createDataset("\(mouse)/unit_ids", values: unitIDs.map(Int64.init), shape: [unitIDs.count])
        }
    }

    /// Writes one trial (its mouse must have been started).
    public func write(_ p: TrialPrediction) throws {
        precondition(mice.contains(p.mouse), "PredictionWriter: call beginMouse(\"\(p.mouse)\", unitIDs:) first")
        if let npyFolder {
            let dir = npyFolder.appendingPathComponent(p.mouse).appendingPathComponent(p.tier.rawValue)
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            try NPY.write(NPYArray(floats: p.values, shape: [p.neurons, p.frames]), to: dir.appendingPathComponent("\(p.trial).npy").path)
        }
        if let file {
            try file.createDataset("\(p.mouse)/\(p.tier.rawValue)/\(p.trial)", values: p.values, shape: [p.neurons, p.frames])
        }
    }

    /// Completes the files (the HDF5 file is moved into place).
    public func finish() throws {
        guard !finished else { return }
        finished = true
        guard let file, let temporaryPath, let hdf5File else { return }
        try file.flush()
        self.file = nil
        if FileManager.default.fileExists(atPath: hdf5File.path) { try FileManager.default.removeItem(at: hdf5File) }
        do {
            try FileManager.default.moveItem(atPath: temporaryPath, toPath: hdf5File.path)
        } catch {
            try? FileManager.default.removeItem(atPath: temporaryPath)
            throw SensoriumError.file(path: hdf5File.path, message: "cannot move the finished file into place: \(error.localizedDescription)")
        }
    }
}

/// Predictions of the test tiers: running a model, writing and reading prediction files.
public enum Predictions {
    /// The four test tiers of SENSORIUM 2023.
    public static let testTiers: [MouseTier] = [.liveTestMain, .liveTestBonus, .finalTestMain, .finalTestBonus]

    /// Calls `body` with the prediction of every trial of `tiers` of every mouse, in mouse, tier and
    /// trial order: whole trials (at most `maxFrames` frames; the competition considered the first
    /// 300), the last `frames − skipFrames` predicted frames, as `(neurons, frames − skipFrames)`.
    /// With `precisionScaling` each neuron's predictions are multiplied by its response precision
    /// (``PrecisionScaling``: for models trained on raw responses).
    public static func forEach<Model: TrainableModel>(
        _ model: Model, datasets: [MouseDataset], tiers: [MouseTier] = testTiers, skipFrames: Int = 50,
        maxFrames: Int? = 300, prefetch: Int = 2, precisionScaling: Bool = false, _ body: (TrialPrediction) throws -> Void
    ) throws where Model.Batch == MouseBatch {
        guard skipFrames >= 0 else { throw SensoriumError.invalidOptions("skipFrames must be ≥ 0, got \(skipFrames)") }
        if let m = maxFrames, m <= skipFrames {
            throw SensoriumError.invalidOptions("maxFrames (\(m)) must exceed skipFrames (\(skipFrames))")
        }
        if let video = model as? VideoModel { try video.checkCompatible(with: datasets) }
        for dataset in datasets {
            let trials = tiers.flatMap { tier in dataset.trials(in: tier).map { (trial: $0, tier: tier) } }
            let n = dataset.neuronCount
            let factors = precisionScaling ? try PrecisionScaling(dataset: dataset) : nil
            try forEachPredictedTrial(model, dataset: dataset, trials: trials, maxFrames: maxFrames,
                                      minimumFrames: minimumTrialFrames(model), prefetch: prefetch,
                                      precision: factors) { p in
                let count = max(p.frames - skipFrames, 0)
                guard p.predictedFrames >= count else {
                    throw SensoriumError.predictionTooShort(mouse: dataset.name, trial: p.trial, frames: p.frames,
                                                             predicted: p.predictedFrames, skipFrames: skipFrames)
                }
                var values = [Float](repeating: 0, count: n * count)
                let first = p.predictedFrames - count
                p.predictions.withUnsafeBufferPointer { y in
                    values.withUnsafeMutableBufferPointer { v in
                        for f in 0..<count {
                            let row = y.baseAddress! + (first + f) * n
                            for j in 0..<n { v[j * count + f] = row[j] }
                        }
                    }
                }
                try body(TrialPrediction(mouse: dataset.name, tier: p.tier, trial: p.trial, neurons: n, frames: count, values: values))
            }
        }
    }

    /// Predicts every trial of `tiers` and writes the predictions to an NPY folder and/or an HDF5
    /// file (layouts in ``PredictionWriter``); `precisionScaling` as in
    /// ``forEach(_:datasets:tiers:skipFrames:maxFrames:prefetch:precisionScaling:_:)``.
    @discardableResult
    public static func write<Model: TrainableModel>(
        _ model: Model, datasets: [MouseDataset], npyFolder: URL? = nil, hdf5File: URL? = nil,
        tiers: [MouseTier] = testTiers, skipFrames: Int = 50, maxFrames: Int? = 300, precisionScaling: Bool = false
    ) throws -> PredictionSummary where Model.Batch == MouseBatch {
        let writer = try PredictionWriter(npyFolder: npyFolder, hdf5File: hdf5File, skipFrames: skipFrames)
        var counts: [String: Int] = [:]
        for d in datasets {
            try writer.beginMouse(d.name, unitIDs: d.unitIDs)
            counts[d.name] = 0
        }
        try forEach(model, datasets: datasets, tiers: tiers, skipFrames: skipFrames, maxFrames: maxFrames,
                    precisionScaling: precisionScaling) { p in
            try writer.write(p)
            counts[p.mouse, default: 0] += 1
        }
        try writer.finish()
        return PredictionSummary(trialsPerMouse: counts, npyFolder: npyFolder?.path, hdf5File: hdf5File?.path)
    }

    /// Reads an NPY prediction folder written by ``PredictionWriter``.
    public static func readNPY(folder: URL) throws -> [MousePredictions] {
        let fm = FileManager.default
        func list(_ url: URL) -> [String] {
            ((try? fm.contentsOfDirectory(atPath: url.path)) ?? []).filter { !$0.hasPrefix(".") }.sorted()
        }
        var isDirectory: ObjCBool = false
        guard fm.fileExists(atPath: folder.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw SensoriumError.file(path: folder.path, message: "expected a prediction folder, found nothing")
        }
        var out: [MousePredictions] = []
        for mouse in list(folder) {
            let dir = folder.appendingPathComponent(mouse)
            let idsPath = dir.appendingPathComponent("unit_ids.npy").path
            guard fm.fileExists(atPath: idsPath) else { continue }
            let ids = try NPY.read(idsPath).ints()
            var trials: [TrialPrediction] = []
            for tier in MouseTier.allCases {
                let tierDir = dir.appendingPathComponent(tier.rawValue)
                let files = list(tierDir).compactMap { name -> Int? in
                    name.hasSuffix(".npy") ? Int(name.dropLast(4)) : nil
                }.sorted()
                for trial in files {
                    let path = tierDir.appendingPathComponent("\(trial).npy").path
                    let a = try NPY.read(path)
                    guard a.shape.count == 2, a.shape[0] == ids.count else {
                        throw SensoriumError.file(path: path, message: "expected a prediction of shape (\(ids.count), frames), found \(a.shape)")
                    }
                    trials.append(TrialPrediction(mouse: mouse, tier: tier, trial: trial, neurons: a.shape[0],
                                                  frames: a.shape[1], values: try a.floats()))
                }
            }
            out.append(MousePredictions(mouse: mouse, unitIDs: ids, trials: trials))
        }
        return out
    }

    /// Reads an HDF5 prediction file written by ``PredictionWriter``.
    public static func readHDF5(file url: URL) throws -> [MousePredictions] {
        let file = try HDF5File.open(url.path)
        guard (try? file.stringAttribute("format")) == "sensorium.predictions" else {
            throw SensoriumError.file(path: url.path, message: "expected an HDF5 file with format \"sensorium.predictions\"")
        }
        var out: [MousePredictions] = []
        for mouse in try file.children() where file.kind(of: mouse) == .group {
            let group = try file.group(mouse)
            guard group.exists("unit_ids") else { continue }
            let ids = try group.dataset("unit_ids").read(as: Int64.self).map { Int($0) }
            var trials: [TrialPrediction] = []
            for tier in MouseTier.allCases where group.kind(of: tier.rawValue) == .group {
                let tierGroup = try group.group(tier.rawValue)
                for trial in try tierGroup.children().compactMap(Int.init).sorted() {
                    let ds = try tierGroup.dataset(String(trial))
                    guard ds.shape.count == 2, ds.shape[0] == ids.count else {
                        throw SensoriumError.file(path: url.path, message: "\(ds.path): expected shape (\(ids.count), frames), found \(ds.shape)")
                    }
                    trials.append(TrialPrediction(mouse: mouse, tier: tier, trial: trial, neurons: ds.shape[0],
                                                  frames: ds.shape[1], values: try ds.read(as: Float.self)))
                }
            }
            out.append(MousePredictions(mouse: mouse, unitIDs: ids, trials: trials))
        }
        return out
    }
}
