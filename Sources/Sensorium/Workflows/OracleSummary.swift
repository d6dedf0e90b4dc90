import Foundation
import SensoriumMetrics

/// FEV, FEVE and the oracle correlation of one mouse, per neuron and summarised, with the model's
/// fraction of the oracle.
///
/// The per-neuron values are ``NeuronDiagnostics``' (computed as `neuralpredictors`' `fev` and
/// `oracle_corr_jackknife` over the repeated videos of the main track's test tiers). Means and
/// medians are over the neurons with finite values. The **fraction of the oracle** is SENSORIUM
/// 2022's (`get_fraction_oracles`): the least-squares slope through the origin of the model's
/// per-neuron single-trial correlation ρ_st on the oracle correlation,
/// `Σ oracle · ρ_st / Σ oracle²` over neurons where both are finite.
public struct OracleSummary: Codable, Sendable, Equatable {
    /// The mouse.
    public var mouse: String
    /// Neurons, and those with finite FEVE / finite oracle and ρ_st.
    public var neurons: Int
    public var finiteFEVE: Int
    public var finiteOracle: Int
    /// Videos and trials the measures pool.
    public var videos: Int
    public var trials: Int
    /// Mean FEV (fraction of the variance that is explainable).
    public var meanFEV: Double
    /// Mean and median FEVE (fraction of the explainable variance the model explains).
    public var meanFEVE: Double
    public var medianFEVE: Double
    /// Mean oracle correlation and the model's mean ρ_st over the same neurons.
    public var meanOracle: Double
    public var meanModelSingleTrial: Double
    /// The slope of the model's ρ_st on the oracle correlation (see the type's description).
    public var fractionOfOracle: Double
    /// Per neuron: FEV, FEVE, oracle correlation and the model's ρ_st (NaN where undefined).
    public var fev: [Float]
    public var feve: [Float]
    public var oracle: [Float]
    public var modelSingleTrial: [Float]

    /// The summary of one mouse's diagnostics; `singleTrial` is the model's per-neuron ρ_st on the
    /// same tiers (the evaluation's `"main"` group).
    public init(_ d: NeuronDiagnostics, singleTrial: [Float]) {
        precondition(singleTrial.count == d.oracleCorrelation.count,
                     "OracleSummary: \(singleTrial.count) correlations for \(d.oracleCorrelation.count) neurons")
        mouse = d.mouse
        neurons = d.oracleCorrelation.count
        videos = d.videos
        trials = d.trials
        fev = d.fractionExplainable
        feve = d.fractionExplained
        oracle = d.oracleCorrelation
        modelSingleTrial = singleTrial
        func finite(_ v: [Float]) -> [Double] { v.map(Double.init).filter(\.isFinite) }
        func mean(_ v: [Double]) -> Double { v.isEmpty ? .nan : v.reduce(0, +) / Double(v.count) }
        let feveValues = finite(feve).sorted()
        finiteFEVE = feveValues.count
        meanFEV = mean(finite(fev))
        meanFEVE = mean(feveValues)
        medianFEVE = feveValues.isEmpty ? .nan
            : (feveValues.count % 2 == 1 ? feveValues[feveValues.count / 2]
                : (feveValues[feveValues.count / 2 - 1] + feveValues[feveValues.count / 2]) / 2)
        let pairs = zip(oracle, singleTrial).map { (Double($0), Double($1)) }.filter { $0.0.isFinite && $0.1.isFinite }
        finiteOracle = pairs.count
        meanOracle = mean(pairs.map(\.0))
        meanModelSingleTrial = mean(pairs.map(\.1))
        fractionOfOracle = OracleSummary.slopeThroughOrigin(pairs)
    }

    /// `Σ x·y / Σ x²` (NaN without pairs or with Σ x² = 0).
    public static func slopeThroughOrigin(_ pairs: [(Double, Double)]) -> Double {
        var xy = 0.0, xx = 0.0
        for (x, y) in pairs { xy += x * y; xx += x * x }
        return xx > 0 ? xy / xx : .nan
    }

    /// The fraction of the oracle over the neurons of all `mice` together.
    public static func pooledFractionOfOracle(_ mice: [OracleSummary]) -> Double {
        slopeThroughOrigin(mice.flatMap { m in
            zip(m.oracle, m.modelSingleTrial).map { (Double($0), Double($1)) }.filter { $0.0.isFinite && $0.1.isFinite }
        })
    }

    /// The summaries of an evaluation's diagnostics (mice without per-neuron ρ_st on the main
    /// track are left out).
    public static func summaries(of report: EvaluationReport) -> [OracleSummary] {
        (report.diagnostics ?? []).compactMap { d in
            guard let st = report.mice.first(where: { $0.mouse == d.mouse })?.scores["main"]?.perNeuronSingleTrial,
                  st.count == d.oracleCorrelation.count else { return nil }
            return OracleSummary(d, singleTrial: st)
        }
    }

    /// A table: per mouse the videos, mean FEV, mean and median FEVE, mean oracle, mean ρ_st and
    /// the fraction of the oracle, then all mice pooled.
    public static func formatted(_ mice: [OracleSummary], digits: Int = 3) -> String {
        guard !mice.isEmpty else { return "FEVE and oracle: no repeated videos in the main track's tiers" }
        let width = max(mice.map(\.mouse.count).max() ?? 0, "Mouse".count, "all mice".count)
        func pad(_ s: String, _ w: Int, left: Bool = true) -> String {
            let fill = String(repeating: " ", count: max(0, w - s.count))
            return left ? fill + s : s + fill
        }
        func f(_ x: Double) -> String { x.isFinite ? String(format: "%.\(digits)f", x) : "–" }
        let headers = ["videos", "FEV", "FEVE", "FEVE med", "oracle", "ρ_st", "frac. oracle"]
        var lines = [pad("Mouse", width, left: false) + "  " + headers.map { pad($0, max(8, $0.count)) }.joined(separator: "  ")]
        for m in mice {
            let cells = [String(m.videos), f(m.meanFEV), f(m.meanFEVE), f(m.medianFEVE), f(m.meanOracle), f(m.meanModelSingleTrial),
                         f(m.fractionOfOracle)]
            lines.append(pad(m.mouse, width, left: false) + "  " + zip(cells, headers).map { pad($0, max(8, $1.count)) }.joined(separator: "  "))
        }
        if mice.count > 1 {
            lines.append(pad("all mice", width, left: false) + "  " + headers.enumerated().map { i, h in
                pad(i == headers.count - 1 ? f(pooledFractionOfOracle(mice)) : "", max(8, h.count))
            }.joined(separator: "  "))
        }
        return lines.joined(separator: "\n")
    }
}
