import Foundation
import SensoriumData
import SensoriumMetrics

/// The evaluation of a ``ModelSet``: the set's scores (the ensemble's, or the single model's),
/// each member's scores beside them, and FEVE and the oracle correlation per mouse.
public struct ModelSetEvaluation: Sendable {
    /// The set's report: the ensemble's (or the single model's), with per-neuron scores and
    /// ``NeuronDiagnostics``.
    public var report: EvaluationReport
    /// Each member's report (empty for a single model), without per-neuron scores.
    public var members: [EvaluationReport]
    /// FEVE and oracle summaries of the set's predictions, per mouse.
    public var oracle: [OracleSummary]

    /// The Table 1 layout with one row per member, the ensemble and the ceiling, the bonus
    /// families, validation, then the FEVE and oracle table.
    public func formatted(digits: Int = 3) -> String {
        var text = ""
        if !members.isEmpty {
            text += "Members and ensemble:\n" + Table1Summary.formatTable(members.map(\.summary) + [report.summary], digits: digits) + "\n\n"
        }
        text += report.formatted(digits: digits)
        text += "\n\n" + OracleSummary.formatted(oracle, digits: digits)
        return text
    }

    /// The `results.json` content.
    public var results: EvaluationResultsFile {
        EvaluationResultsFile(model: report.results(), members: members.map { $0.results() }, oracle: oracle)
    }
}

/// `results.json` as `sensorium evaluate` writes it: the keys of ``EvaluationResults`` for the
/// model or ensemble evaluated (`model`, `main`, `bonus`, `bonus_families`, `validation`,
/// `eval_seconds`; each track `{"single_trial", "to_average", "ceiling_single_trial",
/// "ceiling_to_average"}`), plus
/// - `format` (`"sensorium.evaluation_results"`), `format_version` (1), `sdk_version`;
/// - `members`: the same keys for every ensemble member (empty for one model);
/// - `oracle`: one ``OracleSummary`` per mouse (FEV, FEVE, oracle correlation, the model's ρ_st
///   per neuron and their means, the fraction of the oracle), and `fraction_of_oracle` over all
///   mice's neurons.
public struct EvaluationResultsFile: Codable, Sendable {
    public static let formatName = "sensorium.evaluation_results"
    public static let currentVersion = 1

    public var model: EvaluationResults
    public var members: [EvaluationResults]
    public var oracle: [OracleSummary]
    public var fractionOfOracle: Double
    public var formatVersion: Int
    public var sdkVersion: String

    public init(model: EvaluationResults, members: [EvaluationResults], oracle: [OracleSummary]) {
        self.model = model
        self.members = members
        self.oracle = oracle
        fractionOfOracle = OracleSummary.pooledFractionOfOracle(oracle)
        formatVersion = Self.currentVersion
        sdkVersion = SensoriumVersion.current
    }

    enum CodingKeys: String, CodingKey {
        case format, members, oracle
        case formatVersion = "format_version", sdkVersion = "sdk_version", fractionOfOracle = "fraction_of_oracle"
    }

    public func encode(to encoder: Encoder) throws {
        try model.encode(to: encoder)
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(Self.formatName, forKey: .format)
        try c.encode(formatVersion, forKey: .formatVersion)
        try c.encode(sdkVersion, forKey: .sdkVersion)
        try c.encode(members, forKey: .members)
        try c.encode(oracle, forKey: .oracle)
        try c.encode(fractionOfOracle, forKey: .fractionOfOracle)
    }

    public init(from decoder: Decoder) throws {
        model = try EvaluationResults(from: decoder)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let format = try c.decode(String.self, forKey: .format)
        guard format == Self.formatName else {
            throw DecodingError.dataCorruptedError(forKey: .format, in: c, debugDescription: "expected \"\(Self.formatName)\", found \"\(format)\"")
        }
        formatVersion = try c.decode(Int.self, forKey: .formatVersion)
        sdkVersion = try c.decode(String.self, forKey: .sdkVersion)
        members = try c.decode([EvaluationResults].self, forKey: .members)
        oracle = try c.decode([OracleSummary].self, forKey: .oracle)
        fractionOfOracle = try c.decode(Double.self, forKey: .fractionOfOracle)
    }

    /// Writes the file (pretty-printed, sorted keys; NaN as `"nan"`), atomically.
    public func write(to url: URL) throws {
        do {
            try ReportJSON.encoder().encode(self).write(to: url, options: .atomic)
        } catch {
            throw SensoriumError.file(path: url.path, message: "cannot write the results (\(error.localizedDescription))")
        }
    }

    /// Reads a file written by ``write(to:)``.
    public static func load(from url: URL) throws -> EvaluationResultsFile {
        do {
            return try ReportJSON.decoder().decode(EvaluationResultsFile.self, from: Data(contentsOf: url))
        } catch {
            throw SensoriumError.file(path: url.path, message: "expected evaluation results (\(RunFolder.resultsFile)): \(SensoriumError.describe(error))")
        }
    }
}

extension EvaluationWorkflow {
    /// Scores a model set: the set's model (the ensemble's averaged predictions, or the single
    /// model) with per-neuron scores and diagnostics as
    /// ``evaluate(_:datasets:modelName:options:output:progress:)``, then every member of an
    /// ensemble alone (named by ``ModelSet/memberNames``). With `output`, writes the set's
    /// `evaluation.json` and `results.json` (``EvaluationResultsFile``) there.
    public static func evaluate(models set: ModelSet, datasets: [MouseDataset], modelName: String? = nil,
                                options: EvaluationOptions, output: String?,
                                progress: ((EvaluationProgress) -> Void)? = nil) throws -> ModelSetEvaluation {
        let name = modelName ?? (set.isEnsemble ? "Ensemble of \(set.members.count)" : "Model")
        let report = try evaluateAny(set.model, datasets: datasets, modelName: name, options: options, progress: progress)
        var members: [EvaluationReport] = []
        if set.isEnsemble {
            var memberOptions = options
            memberOptions.perNeuron = false
            for (member, memberName) in zip(set.members, set.memberNames) {
                members.append(try Evaluation.evaluate(member.model, datasets: datasets, modelName: memberName,
                                                       options: memberOptions, progress: progress))
            }
        }
        let evaluation = ModelSetEvaluation(report: report, members: members, oracle: OracleSummary.summaries(of: report))
        if let output {
            let folder = (output as NSString).expandingTildeInPath
            try RunFolder.create(folder)
            try report.writeJSON(to: URL(fileURLWithPath: RunFolder.file(folder, RunFolder.evaluationFile)))
            try evaluation.results.write(to: URL(fileURLWithPath: RunFolder.file(folder, RunFolder.resultsFile)))
        }
        return evaluation
    }

    /// ``evaluate(_:datasets:modelName:options:output:progress:)`` for a model of any type.
    static func evaluateAny(_ model: any TrainableModel<MouseBatch>, datasets: [MouseDataset], modelName: String,
                            options: EvaluationOptions, progress: ((EvaluationProgress) -> Void)?) throws -> EvaluationReport {
        try evaluate(model, datasets: datasets, modelName: modelName, options: options, output: nil, progress: progress)
    }
}
