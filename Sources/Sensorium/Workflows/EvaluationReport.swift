import Foundation
import SensoriumMetrics

/// The result of evaluating a model on the test tiers: the Table 1 row, the ground-truth ceiling
/// (synthetic data) and the per-neuron scores of every mouse and test set. Written by
/// `sensorium evaluate` as `evaluation.json`.
public struct EvaluationReport: Codable, Sendable {
    /// The Table 1 row of the model (final test tiers; bonus = mean over its OOD families).
    public var summary: Table1Summary
    /// The same row for the true rates of synthetic mice (nil for recorded data).
    public var ceiling: Table1Summary?
    /// Per-neuron scores of every (tier, mouse, stimulus family) test set.
    public var sets: [TestSetScores]
    /// Seconds spent evaluating.
    public var seconds: Double

    /// A report.
    public init(summary: Table1Summary, ceiling: Table1Summary?, sets: [TestSetScores], seconds: Double) {
        self.summary = summary
        self.ceiling = ceiling
        self.sets = sets
        self.seconds = seconds
    }

    /// Per-neuron scores of one test set (the trials of one tier of one mouse, optionally one
    /// stimulus family of it).
    public struct TestSetScores: Codable, Sendable, Equatable {
        /// The tier (`MouseTier` raw value).
        public var tier: String
        /// The mouse.
        public var mouse: String
        /// The stimulus family (bonus tiers), or nil for all trials of the tier.
        public var family: String?
        /// Trials and unique clips scored.
        public var trials: Int
        public var clips: Int
        /// Per-neuron single-trial correlation ρ_st and correlation to average ρ_ta.
        public var singleTrial: [Float]
        public var toAverage: [Float]
        /// The same for the true rates (synthetic data).
        public var ceilingSingleTrial: [Float]?
        public var ceilingToAverage: [Float]?

        /// Scores of one set.
        public init(tier: String, mouse: String, family: String?, trials: Int, clips: Int, singleTrial: [Float],
                    toAverage: [Float], ceilingSingleTrial: [Float]? = nil, ceilingToAverage: [Float]? = nil) {
            self.tier = tier
            self.mouse = mouse
            self.family = family
            self.trials = trials
            self.clips = clips
            self.singleTrial = singleTrial
            self.toAverage = toAverage
            self.ceilingSingleTrial = ceilingSingleTrial
            self.ceilingToAverage = ceilingToAverage
        }

        /// Mean of the per-neuron ρ_st.
        public var meanSingleTrial: Double { Self.mean(singleTrial) }
        /// Mean of the per-neuron ρ_ta.
        public var meanToAverage: Double { Self.mean(toAverage) }

        static func mean(_ v: [Float]) -> Double { v.isEmpty ? 0 : v.reduce(0.0) { $0 + Double($1) } / Double(v.count) }
    }

    /// Reads `evaluation.json`; throws `ReportError` naming the file.
    public static func load(from url: URL) throws -> EvaluationReport {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw ReportError(path: url.path, message: "cannot read the file (\(error.localizedDescription))")
        }
        do { return try ReportJSON.decoder().decode(EvaluationReport.self, from: data) } catch {
            throw ReportError(path: url.path, message: "expected an evaluation report (JSON), found something else: \(ReportError.describe(error))")
        }
    }

    /// Writes the report as JSON (atomically).
    public func write(to url: URL) throws {
        do {
            try ReportJSON.encoder().encode(self).write(to: url, options: .atomic)
        } catch {
            throw ReportError(path: url.path, message: "cannot write the evaluation (\(error.localizedDescription))")
        }
    }

    /// The scores as text: the Table 1 layout with the ceiling below and the per-family bonus scores.
    public func formatted() -> String {
        var rows = [summary]
        if let ceiling { rows.append(ceiling) }
        var text = Table1Summary.formatTable(rows)
        if let ceiling {
            func pct(_ a: Double?, _ b: Double?) -> String {
                guard let a, let b, b > 0 else { return "–" }
                return String(format: "%.0f%%", 100 * a / b)
            }
            let width = max(rows.map(\.model.count).max() ?? 0, "Model".count)
            let cells = [pct(summary.mainTrack?.singleTrial, ceiling.mainTrack?.singleTrial),
                         pct(summary.mainTrack?.toAverage, ceiling.mainTrack?.toAverage),
                         pct(summary.bonusTrack?.singleTrial, ceiling.bonusTrack?.singleTrial),
                         pct(summary.bonusTrack?.toAverage, ceiling.bonusTrack?.toAverage)]
            let label = "of ceiling"
            text += "\n" + label + String(repeating: " ", count: max(0, width - label.count)) + "  "
                + cells.map { String(repeating: " ", count: max(0, 7 - $0.count)) + $0 }.joined(separator: "  ")
        }
        if !summary.bonusFamilies.isEmpty {
            let ceilingFamilies = Dictionary(ceiling?.bonusFamilies.map { ($0.family, $0.scores) } ?? [], uniquingKeysWith: { a, _ in a })
            let width = max(summary.bonusFamilies.map(\.family.count).max() ?? 0, "Bonus family".count)
            func pad(_ s: String, _ n: Int, left: Bool = false) -> String {
                let fill = String(repeating: " ", count: max(0, n - s.count))
                return left ? fill + s : s + fill
            }
            text += "\n\n" + pad("Bonus family", width) + "  " + pad("ρ_st", 7, left: true) + "  " + pad("ρ_ta", 7, left: true)
            if !ceilingFamilies.isEmpty { text += "  " + pad("ceil ρ_st", 9, left: true) + "  " + pad("ceil ρ_ta", 9, left: true) }
            for f in summary.bonusFamilies {
                text += "\n" + pad(f.family, width) + "  " + pad(String(format: "%.3f", f.scores.singleTrial), 7, left: true)
                    + "  " + pad(String(format: "%.3f", f.scores.toAverage), 7, left: true)
                if let c = ceilingFamilies[f.family] {
                    text += "  " + pad(String(format: "%.3f", c.singleTrial), 9, left: true)
                        + "  " + pad(String(format: "%.3f", c.toAverage), 9, left: true)
                }
            }
        }
        return text
    }

    /// Puts the scores into a run report: the Table 1 rows, the ceiling and the per-neuron ρ_st of
    /// the main-track test set of every mouse (or the first test set of a mouse without one).
    public func merge(into report: inout RunReport) {
        report.table = [summary]
        report.ceiling = ceiling
        var correlations: [NeuronCorrelations] = []
        var mice: [String] = []
        for set in sets where !mice.contains(set.mouse) { mice.append(set.mouse) }
        for mouse in mice {
            let candidates = sets.filter { $0.mouse == mouse && $0.family == nil }
            let chosen = candidates.first { $0.tier == "final_test_main" } ?? candidates.first ?? sets.first { $0.mouse == mouse }
            if let chosen {
                correlations.append(NeuronCorrelations(mouse: mouse, label: "\(chosen.tier) ρ_st", values: chosen.singleTrial))
            }
        }
        report.neuronCorrelations = correlations
    }
}
