import Foundation
import Logging
import SensoriumData
import SensoriumTraining

/// The SDK's version, written into the files it produces (ensemble manifests, submissions).
public enum SensoriumVersion {
    /// The version string (also `sensorium --version`).
    public static let current = "0.1.0"
}

/// `ensemble.json`: what `sensorium train --seeds … / --folds …` wrote, so that `evaluate`,
/// `predict` and `submit` can load the members as one ensemble.
///
/// ```json
/// {"format": "sensorium.ensemble", "formatVersion": 1, "sdkVersion": "0.1.0",
///  "members": [{"folder": "seed-1", "seed": 1}, {"folder": "seed-2", "seed": 2}],
///  "mice": [{"name": "mouse-0", "unitIDs": [0, 1, …]}],
///  "configuration": {"model": {…}, "trainer": {…}, "data": {…}}}
/// ```
/// `folder` is relative to the manifest's folder; `fold`/`folds` are present for members trained on
/// fold `fold` of a `folds`-fold split (``TrainingDataSettings/folds``). `configuration` is the
/// configuration every member shares before its seed and fold are set. `mice` records the unit ids
/// of the mice trained on, which the loader checks against the mice it predicts.
public struct EnsembleManifest: Codable, Sendable, Equatable {
    /// One member run.
    public struct Member: Codable, Sendable, Equatable {
        /// The member's run folder, relative to the manifest's folder.
        public var folder: String
        /// The seed of its trainer and initial weights.
        public var seed: UInt64
        /// Its validation fold and the number of folds, for k-fold members.
        public var fold: Int?
        public var folds: Int?

        public init(folder: String, seed: UInt64, fold: Int? = nil, folds: Int? = nil) {
            self.folder = folder
            self.seed = seed
            self.fold = fold
            self.folds = folds
        }
    }

    /// A mouse the members were trained on, with its unit ids in readout order.
    public struct Mouse: Codable, Sendable, Equatable {
        public var name: String
        public var unitIDs: [Int]

        public init(name: String, unitIDs: [Int]) {
            self.name = name
            self.unitIDs = unitIDs
        }
    }

    /// The file's format name, `"sensorium.ensemble"`.
    public static let formatName = "sensorium.ensemble"
    /// The current format version.
    public static let currentVersion = 1
    /// The manifest's file name in an ensemble folder.
    public static let fileName = "ensemble.json"

    public var format: String
    public var formatVersion: Int
    public var sdkVersion: String
    public var members: [Member]
    public var mice: [Mouse]
    public var configuration: TrainingRunConfiguration

    public init(members: [Member], mice: [Mouse], configuration: TrainingRunConfiguration) {
        format = Self.formatName
        formatVersion = Self.currentVersion
        sdkVersion = SensoriumVersion.current
        self.members = members
        self.mice = mice
        self.configuration = configuration
    }

    /// Reads a manifest; throws `SensoriumError` naming the file when it is not one (or of a newer
    /// version).
    public static func load(from url: URL) throws -> EnsembleManifest {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw SensoriumError.file(path: url.path, message: "cannot read the ensemble manifest (\(error.localizedDescription))")
        }
        let manifest: EnsembleManifest
        do { manifest = try JSONDecoder().decode(EnsembleManifest.self, from: data) } catch {
            throw SensoriumError.file(path: url.path, message: "expected an ensemble manifest (\(fileName)), found something else: \(SensoriumError.describe(error))")
        }
        guard manifest.format == formatName else {
            throw SensoriumError.file(path: url.path, message: "expected format \"\(formatName)\", found \"\(manifest.format)\"")
        }
        guard manifest.formatVersion <= currentVersion else {
            throw SensoriumError.file(path: url.path, message: "ensemble manifest version \(manifest.formatVersion) is newer than this SDK reads (\(currentVersion)); update the SDK")
        }
        guard !manifest.members.isEmpty else {
            throw SensoriumError.file(path: url.path, message: "expected at least one member, found none")
        }
        return manifest
    }

    /// Writes the manifest (pretty-printed, sorted keys, atomically).
    public func write(to url: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        do {
            try encoder.encode(self).write(to: url, options: .atomic)
        } catch {
            throw SensoriumError.file(path: url.path, message: "cannot write the ensemble manifest (\(error.localizedDescription))")
        }
    }
}

/// Training an ensemble from the CLI: one run per seed (and fold), each in its own folder inside
/// the output folder, and the ``EnsembleManifest`` beside them.
public enum EnsembleTraining {
    /// The members for `seeds` (nil: the configuration's seed) and, with `folds` = k, every fold
    /// `0 ..< k` of a k-fold split; seeds × folds members, named `seed-<s>`, `fold-<f>` or
    /// `seed-<s>-fold-<f>`.
    public static func members(seeds: [UInt64]?, folds: Int?, configuration: TrainingRunConfiguration) throws -> [EnsembleManifest.Member] {
        if let seeds {
            guard !seeds.isEmpty else { throw SensoriumError.invalidOptions("an ensemble needs at least one seed") }
            guard Set(seeds).count == seeds.count else {
                throw SensoriumError.invalidOptions("the seeds \(seeds.map(String.init).joined(separator: ",")) repeat a seed; members with one seed would be the same model")
            }
        }
        if let folds, folds < 2 { throw SensoriumError.invalidOptions("--folds must be at least 2, got \(folds)") }
        let seedList = seeds ?? [configuration.trainer.seed]
        var out: [EnsembleManifest.Member] = []
        for seed in seedList {
            if let folds {
                for fold in 0..<folds {
                    let name = seeds == nil ? "fold-\(fold)" : "seed-\(seed)-fold-\(fold)"
                    out.append(.init(folder: name, seed: seed, fold: fold, folds: folds))
                }
            } else {
                out.append(.init(folder: "seed-\(seed)", seed: seed))
            }
        }
        return out
    }

    /// The configuration of one member: the shared one with the member's seed (trainer and
    /// model) and fold.
    public static func configuration(of member: EnsembleManifest.Member, base: TrainingRunConfiguration) -> TrainingRunConfiguration {
        var c = base
        c.trainer.seed = member.seed
        c.model.seed = member.seed
        if let folds = member.folds, let fold = member.fold {
            c.data.folds = folds
            c.data.fold = fold
        }
        return c
    }

    /// What ``train(dataPaths:configuration:members:output:resume:overwrite:stop:logger:observers:)`` did.
    public struct Outcome {
        /// The manifest written.
        public var manifest: EnsembleManifest
        /// Its file.
        public var manifestFile: String
        /// The members' training outcomes, in member order (nil for a finished member that a
        /// resumed ensemble kept as it was).
        public var members: [TrainingWorkflow.Outcome?]
    }

    /// Whether the run folder holds a finished run (early stopping ended it).
    public static func isFinished(_ folder: String) -> Bool {
        let checkpoint = RunFolder.file(folder, RunFolder.checkpointFile)
        guard FileManager.default.fileExists(atPath: checkpoint),
              let state = try? Checkpoint.read(from: URL(fileURLWithPath: checkpoint)).children["early_stopping"] else { return false }
        return state.integers["finished"] == 1
    }

    /// Trains every member into `output/<member.folder>` and writes `output/ensemble.json` (after
    /// every member, so that an interrupted ensemble lists the members it has). With `resume`,
    /// finished members are kept, unfinished ones resumed and missing ones trained. `stop` applies
    /// to each member.
    public static func train(dataPaths: [String], configuration: TrainingRunConfiguration, members: [EnsembleManifest.Member],
                             output: String, resume: Bool = false, overwrite: Bool = false, stop: StopCondition? = nil,
                             logger: Logger, observers: [any TrainingObserver] = []) throws -> Outcome {
        guard !members.isEmpty else { throw SensoriumError.invalidOptions("an ensemble needs at least one member") }
        let folder = (output as NSString).expandingTildeInPath
        let manifestFile = RunFolder.file(folder, EnsembleManifest.fileName)
        let fm = FileManager.default
        var base = configuration
        if resume {
            let saved = try EnsembleManifest.load(from: URL(fileURLWithPath: manifestFile))
            base = saved.configuration
        } else if fm.fileExists(atPath: manifestFile) && !overwrite {
            throw SensoriumError.file(path: folder, message: "expected an empty output folder, found an ensemble (\(EnsembleManifest.fileName)); pass --resume to continue it or --overwrite to start again")
        }
        // The mice (and their unit ids) every member trains on.
        let datasets = try TrainingWorkflow.openDatasets(dataPaths, model: base.model, settings: base.data, forTraining: false)
        let mice = datasets.map { EnsembleManifest.Mouse(name: $0.name, unitIDs: $0.unitIDs) }
        var done: [EnsembleManifest.Member] = []
        var outcomes: [TrainingWorkflow.Outcome?] = []
        for (index, member) in members.enumerated() {
            let memberFolder = RunFolder.file(folder, member.folder)
            let described = [member.fold.map { "fold \($0) of \(member.folds ?? 0)" }, "seed \(member.seed)"].compactMap { $0 }.joined(separator: ", ")
            let hasCheckpoint = fm.fileExists(atPath: RunFolder.file(memberFolder, RunFolder.checkpointFile))
            if resume && isFinished(memberFolder) && fm.fileExists(atPath: RunFolder.file(memberFolder, RunFolder.modelFile)) {
                logger.info("member \(index + 1) of \(members.count) (\(described)) is finished; kept")
                outcomes.append(nil)
            } else {
                logger.notice("training member \(index + 1) of \(members.count) (\(described)) into \(memberFolder)")
                var request = TrainingWorkflow.Request(dataPaths: dataPaths, configuration: self.configuration(of: member, base: base),
                                                       output: memberFolder, resume: resume && hasCheckpoint,
                                                       overwrite: overwrite, stop: stop)
                request.title = "Ensemble member \(member.folder)"
                outcomes.append(try TrainingWorkflow.run(request, logger: logger, observers: observers))
            }
            done.append(member)
            try RunFolder.create(folder)
            try EnsembleManifest(members: done, mice: mice, configuration: base).write(to: URL(fileURLWithPath: manifestFile))
        }
        let manifest = EnsembleManifest(members: done, mice: mice, configuration: base)
        return Outcome(manifest: manifest, manifestFile: manifestFile, members: outcomes)
    }
}

/// The HTML report of an ensemble folder (`sensorium report ENSEMBLE`): the manifest's members
/// as facts and, after `evaluate`, every member's Table 1 row above the ensemble's.
public enum EnsembleReporting {
    /// A report for the ensemble in `folder` (which holds `ensemble.json`), before its evaluation is merged in.
    public static func baseReport(folder: String) throws -> RunReport {
        let manifest = try EnsembleManifest.load(from: URL(fileURLWithPath: RunFolder.file(folder, EnsembleManifest.fileName)))
        var report = RunReport(title: "Sensorium ensemble \((folder as NSString).lastPathComponent)")
        report.subtitle = "\(manifest.members.count) members: " + manifest.members.map { m in
            "\(m.folder) (seed \(m.seed)" + (m.fold.map { ", fold \($0) of \(m.folds ?? 0)" } ?? "") + ")"
        }.joined(separator: ", ")
        report.facts = [
            .init("members", manifest.members.map(\.folder).joined(separator: ", ")),
            .init("mice", manifest.mice.map { "\($0.name) (\($0.unitIDs.count) neurons)" }.joined(separator: ", ")),
            .init("model", "\(manifest.configuration.model.core.typeName) core, \(manifest.configuration.model.readout.typeName) readout"),
            .init("SDK version", manifest.sdkVersion),
        ]
        return report
    }

    /// Puts the members' rows of `results.json` (when `folder` has one with members) above the
    /// ensemble's row.
    public static func addMembers(to report: inout RunReport, folder: String) {
        let path = RunFolder.file(folder, RunFolder.resultsFile)
        guard FileManager.default.fileExists(atPath: path),
              let results = try? EvaluationResultsFile.load(from: URL(fileURLWithPath: path)), !results.members.isEmpty else { return }
        func scores(_ t: TrackResult?) -> TrackScores? { t.map { TrackScores(singleTrial: $0.singleTrial, toAverage: $0.toAverage) } }
        let rows = results.members.map { Table1Summary(model: $0.model, mainTrack: scores($0.main), bonusTrack: scores($0.bonus), bonusFamilies: []) }
        report.table = rows + report.table
    }
}
