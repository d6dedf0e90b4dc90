import Foundation

/// The files of a run folder written by the CLI (`train`, `evaluate`, `demo`):
///
/// | file | written by | holds |
/// |---|---|---|
/// | `checkpoint.h5` | train | the full training state (resume with `--resume`) |
/// | `model.h5` | train | the final (best) weights and the model's configuration |
/// | `run.json` | train | a ``RunReport``: history, readout positions, facts |
/// | `evaluation.json` | evaluate | an ``EvaluationReport``: Table 1 scores, ceiling, per-neuron correlations |
/// | `results.json` | demo | the demo's summary |
/// | `report.html` | report, demo | the HTML report |
public enum RunFolder {
    public static let checkpointFile = "checkpoint.h5"
    public static let modelFile = "model.h5"
    public static let runFile = "run.json"
    public static let evaluationFile = "evaluation.json"
    public static let resultsFile = "results.json"
    public static let reportFile = "report.html"

    /// Whether `path` is an existing directory.
    public static func isDirectory(_ path: String) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue
    }

    /// `name` inside `folder`.
    public static func file(_ folder: String, _ name: String) -> String {
        (folder as NSString).appendingPathComponent(name)
    }

    /// Creates `folder` (and its parents) if needed; throws `SensoriumError` when it cannot, or when
    /// a file is in the way.
    public static func create(_ folder: String) throws {
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        if fm.fileExists(atPath: folder, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else {
                throw SensoriumError.file(path: folder, message: "expected a folder for the output, found a file")
            }
            return
        }
        do {
            try fm.createDirectory(atPath: folder, withIntermediateDirectories: true)
        } catch {
            throw SensoriumError.file(path: folder, message: "cannot create the output folder (\(error.localizedDescription))")
        }
    }

    /// The report of a run: `path` is a run report JSON file, or a run folder whose `run.json`,
    /// `evaluation.json` and (for the history, when `run.json` is missing) `checkpoint.h5` are
    /// combined. Throws `SensoriumError` when nothing usable is there.
    public static func loadReport(_ path: String) throws -> RunReport {
        let fm = FileManager.default
        guard fm.fileExists(atPath: path) else {
            throw SensoriumError.file(path: path, message: "expected a run folder or a run report JSON file, found nothing")
        }
        guard isDirectory(path) else { return try RunReport.load(from: URL(fileURLWithPath: path)) }
        var report: RunReport
        var found = false
        let runPath = file(path, runFile)
        // The demo's folder: the run is in its run/ subfolder, the evaluation at the top.
        let demoRunPath = file(file(path, DemoWorkflow.runFolder), runFile)
        if fm.fileExists(atPath: runPath) {
            report = try RunReport.load(from: URL(fileURLWithPath: runPath))
            found = true
        } else if !fm.fileExists(atPath: file(path, checkpointFile)) && fm.fileExists(atPath: demoRunPath)
                    && (fm.fileExists(atPath: file(path, resultsFile))
                        || fm.fileExists(atPath: file(file(path, DemoWorkflow.dataFolder), DemoWorkflow.syntheticMarker))) {
            report = try RunReport.load(from: URL(fileURLWithPath: demoRunPath))
            found = true
        } else {
            report = RunReport(title: "Sensorium run \((path as NSString).lastPathComponent)")
            let checkpointPath = file(path, checkpointFile)
            if fm.fileExists(atPath: checkpointPath) {
                report.history = try TrainingHistory.read(from: URL(fileURLWithPath: checkpointPath))
                found = true
            }
        }
        if !found && fm.fileExists(atPath: file(path, EnsembleManifest.fileName)) {
            report = try EnsembleReporting.baseReport(folder: path)
            found = true
        }
        if !found {
            // No run here: name the run folders inside, if any, rather than write a report of nothing.
            let inside = ((try? fm.contentsOfDirectory(atPath: path)) ?? []).sorted().filter { name in
                [runFile, checkpointFile].contains { fm.fileExists(atPath: file(file(path, name), $0)) }
            }
            if !inside.isEmpty {
                throw SensoriumError.file(path: path, message: "expected a run folder (\(runFile) or \(checkpointFile)), found none; the run folders inside it are "
                    + inside.map { file(path, $0) }.joined(separator: ", ") + ": give one of them")
            }
        }
        let evaluationPath = file(path, evaluationFile)
        if fm.fileExists(atPath: evaluationPath) {
            let evaluation = try EvaluationReport.load(from: URL(fileURLWithPath: evaluationPath))
            evaluation.merge(into: &report)
            EnsembleReporting.addMembers(to: &report, folder: path)
            found = true
        }
        guard found else {
            throw SensoriumError.file(path: path, message: "expected \(runFile), \(evaluationFile) or \(checkpointFile) in the run folder, found none")
        }
        return report
    }
}

/// Reading the training history stored in a checkpoint.
public enum TrainingHistory {
    /// The epoch records of the training checkpoint at `url`.
    public static func read(from url: URL) throws -> [EpochReport] {
        let record = try Checkpoint.read(from: url)
        guard let json = record.strings["history"] else {
            throw SensoriumError.file(path: url.path, message: "expected a training checkpoint with a history, found a checkpoint without one")
        }
        do {
            return try ReportJSON.decoder().decode([EpochReport].self, from: Data(json.utf8))
        } catch {
            throw SensoriumError.file(path: url.path, message: "the training history is not readable: \(SensoriumError.describe(error))")
        }
    }
}
