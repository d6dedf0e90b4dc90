import Foundation
import Logging
import SensoriumData
import SensoriumMetrics

/// The `compare` pipeline: the factorised baseline and other model configurations trained on the
/// same mice for the same time each, evaluated on the test tiers, and set side by side in the
/// layout of Table 1 of the SENSORIUM 2023 retrospective (ρ_st and ρ_ta of the main and bonus
/// tracks, with the fraction of the ground-truth ceiling when the mice are synthetic).
///
/// Every model is one ``DemoWorkflow/trainAndEvaluate(dataPaths:output:training:modelName:budget:evaluation:synthSeconds:logger:observers:progress:title:)``
/// into `output/models/<name>` (its run folder, `results.json`, `evaluation.json`, `report.html`);
/// the comparison is written as `comparison.md`, `comparison.json` and `comparison.html` at the top.
public enum CompareWorkflow {
    /// One model to compare: a name for its row and its complete configuration.
    public struct Entry: Sendable {
        /// The row's name (a preset name, or a configuration file's name without `.json`).
        public var name: String
        /// The model, recipe and data pipeline.
        public var configuration: TrainingRunConfiguration

        /// An entry.
        public init(name: String, configuration: TrainingRunConfiguration) {
            self.name = name
            self.configuration = configuration
        }

        /// The configuration of a file or a registered preset (``TrainingRunConfiguration/load(fileOrPreset:)``),
        /// named by the preset or by the file's name without its extension.
        public static func load(_ fileOrPreset: String) throws -> Entry {
            let configuration = try TrainingRunConfiguration.load(fileOrPreset: fileOrPreset)
            let isPreset = RunPreset.registered.contains { $0.name == fileOrPreset }
                && !FileManager.default.fileExists(atPath: (fileOrPreset as NSString).expandingTildeInPath)
            let name = isPreset ? fileOrPreset
                : ((fileOrPreset as NSString).lastPathComponent as NSString).deletingPathExtension
            return Entry(name: name, configuration: configuration)
        }
    }

    /// One row of the comparison: the model's name, its folder and the results its run wrote.
    public struct Row: Codable, Sendable {
        /// The row's name.
        public var name: String
        /// What the model is (core and readout).
        public var model: String
        /// Its folder, relative to the comparison's output folder.
        public var folder: String
        /// Its `results.json` (scores with the ceiling, epochs, seconds, parameters).
        public var results: DemoWorkflow.Results
    }

    /// `comparison.json`.
    public struct Results: Codable, Sendable {
        /// One row per model, in the order given (the baseline first).
        public var rows: [Row]
        /// The ground-truth ceiling (synthetic mice only).
        public var ceiling: Table1Summary?
        /// The training time limit of every model, in minutes (nil: none).
        public var budgetMinutes: Double?
        /// The mice, and whether they were synthesised for this comparison.
        public var mice: [String]
        public var synthesized: Bool
        /// Seconds spent writing the synthetic mice (0 when given or reused).
        public var synthSeconds: Double
        /// Wall-clock and CPU seconds of the whole comparison.
        public var seconds: Double
        public var cpuSeconds: Double

        enum CodingKeys: String, CodingKey {
            case rows, ceiling, budgetMinutes = "budget_minutes", mice, synthesized, synthSeconds = "synth_seconds"
            case seconds, cpuSeconds = "cpu_seconds"
        }
    }

    /// The comparison's files in the output folder.
    public static let markdownFile = "comparison.md"
    public static let jsonFile = "comparison.json"
    public static let htmlFile = "comparison.html"
    /// The folder of the models' runs inside the output folder.
    public static let modelsFolder = "models"

    /// The default first row: the `demo` preset (the factorised baseline at a size for two cores).
    public static var baseline: Entry { Entry(name: RunPreset.demo.name, configuration: RunPreset.demo.configuration) }

    /// The evaluation of every model: the test tiers of both tracks with the ceiling; no
    /// validation tier and no per-neuron diagnostics (their scores are not in the table).
    public static var evaluationOptions: EvaluationOptions {
        EvaluationOptions(validationTier: nil, perNeuron: false)
    }

    /// Trains and evaluates every entry on the mice of `dataPaths` (when empty: `synthetic` mice
    /// written into `output/data`, reused when already complete), each for at most `budget`, and
    /// writes the comparison. Entries with the same name get `-2`, `-3`, … in their folder's name.
    public static func run(dataPaths: [String], entries: [Entry], output: String,
                           synthetic: SyntheticMouseConfiguration = DemoWorkflow.defaultSyntheticConfiguration,
                           budget: Duration?, evaluation: EvaluationOptions = evaluationOptions, logger: Logger,
                           observers: @escaping () -> [any TrainingObserver] = { [] },
                           progress: ((String) -> Void)? = nil) throws -> Results {
        guard !entries.isEmpty else { throw SensoriumError.invalidOptions("compare needs at least one model configuration") }
        let start = ContinuousClock.now
        let startCPU = ProcessorTime.seconds()
        let root = (output as NSString).expandingTildeInPath
        try RunFolder.create(root)
        var paths = dataPaths
        var synthSeconds = 0.0
        if paths.isEmpty {
            let folder = RunFolder.file(root, DemoWorkflow.dataFolder)
            progress?("Writing synthetic mice (\(synthetic.mice) × \(synthetic.neurons) neurons) into \(folder)")
            let data = try DemoWorkflow.prepareData(synthetic, folder: folder, logger: logger)
            paths = data.paths
            synthSeconds = data.seconds
        }
        var rows: [Row] = []
        var ceiling: Table1Summary?
        var used: [String: Int] = [:]
        for (index, entry) in entries.enumerated() {
            used[entry.name, default: 0] += 1
            let folder = RunFolder.file(modelsFolder, folderName(entry.name) + (used[entry.name]! > 1 ? "-\(used[entry.name]!)" : ""))
            progress?("Model \(index + 1) of \(entries.count): \(entry.name)")
            let outcome = try DemoWorkflow.trainAndEvaluate(
                dataPaths: paths, output: RunFolder.file(root, folder), training: entry.configuration, modelName: entry.name,
                budget: budget, evaluation: evaluation, synthSeconds: synthSeconds, logger: logger, observers: observers(),
                progress: progress,
                title: "Sensorium compare: \(entry.name) on \(dataPaths.isEmpty ? "the demo's synthetic mice" : "\(paths.count) mice")")
            if ceiling == nil { ceiling = outcome.evaluation.ceiling }
            let model = "\(entry.configuration.model.core.typeName) core, \(entry.configuration.model.readout.typeName) readout"
            rows.append(Row(name: entry.name, model: model, folder: folder, results: outcome.results))
        }
        let results = Results(rows: rows, ceiling: ceiling, budgetMinutes: budget.map { ProgressBar.seconds($0) / 60 },
                              mice: rows.first?.results.mice ?? [], synthesized: dataPaths.isEmpty, synthSeconds: synthSeconds,
                              seconds: ProgressBar.seconds(.now - start), cpuSeconds: ProcessorTime.seconds() - startCPU)
        try write(results, to: root)
        return results
    }

    /// Writes `comparison.md`, `comparison.json` and `comparison.html` into `folder`.
    public static func write(_ results: Results, to folder: String) throws {
        let files: [(String, Data)] = [
            (markdownFile, Data(markdown(results).utf8)),
            (jsonFile, try ReportJSON.encoder().encode(results)),
        ]
        for (name, data) in files {
            let path = RunFolder.file(folder, name)
            do { try data.write(to: URL(fileURLWithPath: path), options: .atomic) } catch {
                throw SensoriumError.file(path: path, message: "cannot write the comparison (\(error.localizedDescription))")
            }
        }
        try HTMLReport.write(report(results), to: URL(fileURLWithPath: RunFolder.file(folder, htmlFile)))
    }

    /// The comparison as a Markdown table in Table 1's layout: one row per model (ρ_st and ρ_ta of
    /// the main and bonus tracks, each with its fraction of the ceiling when known), the ceiling
    /// row, then what each model's run did (parameters, epochs, steps, CPU and wall seconds, best
    /// validation ρ_st).
    public static func markdown(_ results: Results) -> String {
        func number(_ x: Double) -> String { x.isFinite ? String(format: "%.3f", x) : "–" }
        func score(_ x: Double, _ fraction: Double) -> String {
            number(x) + (fraction.isFinite && results.ceiling != nil ? String(format: " (%.0f %%)", 100 * fraction) : "")
        }
        func seconds(_ x: Double?) -> String { x.map { String(format: "%.0f", $0) } ?? "–" }
        var lines: [String] = []
        let budget = results.budgetMinutes.map { String(format: "%g min of training each", $0) } ?? "no time limit"
        lines.append("Models trained on \(results.mice.joined(separator: ", ")) (\(budget)); test tiers of both tracks"
            + (results.ceiling != nil ? "; in parentheses the fraction of the ground-truth ceiling." : "."))
        lines.append("")
        lines.append("| model | main ρ_st | main ρ_ta | bonus ρ_st | bonus ρ_ta |")
        lines.append("|---|---|---|---|---|")
        for row in results.rows {
            let r = row.results
            lines.append("| \(row.name) | \(score(r.main.singleTrial, r.main.fractionOfCeilingSingleTrial)) | "
                + "\(score(r.main.toAverage, r.main.fractionOfCeilingToAverage)) | "
                + "\(score(r.bonus.singleTrial, r.bonus.fractionOfCeilingSingleTrial)) | "
                + "\(score(r.bonus.toAverage, r.bonus.fractionOfCeilingToAverage)) |")
        }
        if let c = results.ceiling {
            func cell(_ x: Double?) -> String { x.map(number) ?? "–" }
            lines.append("| *ground-truth ceiling* | \(cell(c.mainTrack?.singleTrial)) | \(cell(c.mainTrack?.toAverage)) | "
                + "\(cell(c.bonusTrack?.singleTrial)) | \(cell(c.bonusTrack?.toAverage)) |")
        }
        lines.append("")
        lines.append("| model | components | parameters | epochs | steps | training CPU s | training s | evaluation CPU s | evaluation s | best validation ρ_st |")
        lines.append("|---|---|---|---|---|---|---|---|---|---|")
        for row in results.rows {
            let r = row.results
            lines.append("| \(row.name) | \(row.model) | \(ProgressBar.grouped(r.parameters)) | \(r.epochs) | \(r.steps) | "
                + "\(seconds(r.trainCPUSeconds)) | \(seconds(r.trainSeconds)) | \(seconds(r.evalCPUSeconds)) | \(seconds(r.evalSeconds)) | "
                + "\(number(r.bestValidationSingleTrial)) |")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The comparison as a ``RunReport`` for ``HTMLReport``: every model's Table 1 row, the
    /// ceiling (with each model's fraction of it), and each model's run as facts.
    public static func report(_ results: Results) -> RunReport {
        let table = results.rows.map { row in
            Table1Summary(model: row.name,
                          mainTrack: track(row.results.main), bonusTrack: track(row.results.bonus),
                          bonusFamilies: row.results.bonusFamilies.keys.sorted().compactMap { family in
                              row.results.bonusFamilies[family].flatMap(track).map { StimulusFamilyScores(family: family, scores: $0) }
                          })
        }
        let budget = results.budgetMinutes.map { String(format: "%g minutes of training each", $0) } ?? "no time limit"
        var report = RunReport(title: "Sensorium compare: \(results.rows.map(\.name).joined(separator: ", "))",
                               subtitle: "\(results.mice.count) mice (\(results.mice.joined(separator: ", "))), \(budget)",
                               table: table, ceiling: results.ceiling)
        for row in results.rows {
            let r = row.results
            report.facts.append(.init(row.name, String(
                format: "%@; %@ parameters; %d epochs (%d steps); training %.0f s (%.0f CPU s); evaluation %.0f s (%.0f CPU s); best validation ρ_st %.3f; %@",
                row.model, ProgressBar.grouped(r.parameters), r.epochs, r.steps, r.trainSeconds, r.trainCPUSeconds ?? .nan,
                r.evalSeconds, r.evalCPUSeconds ?? .nan, r.bestValidationSingleTrial, row.folder)))
        }
        report.facts.append(.init("whole comparison", String(format: "%.0f s (%.0f CPU s), of which %.0f s writing synthetic mice",
                                                              results.seconds, results.cpuSeconds, results.synthSeconds)))
        return report
    }

    static func track(_ r: DemoWorkflow.TrackResult) -> TrackScores? {
        r.singleTrial.isNaN && r.toAverage.isNaN ? nil : TrackScores(singleTrial: r.singleTrial, toAverage: r.toAverage)
    }

    /// A folder name for a row: letters, digits, `-`, `_` and `.` kept, anything else `_`.
    static func folderName(_ name: String) -> String {
        let kept = String(name.map { $0.isLetter || $0.isNumber || "-_.".contains($0) ? $0 : "_" })
        return kept.isEmpty || kept.allSatisfy({ $0 == "." }) ? "model" : kept
    }
}
