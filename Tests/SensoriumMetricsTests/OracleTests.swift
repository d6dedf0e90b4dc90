import Foundation
import Testing
@testable import SensoriumMetrics

@Suite struct OracleTests {
    /// Three conditions with 3, 2 and 4 repeats, 2 neurons; expected values from numpy with the
    /// `neuralpredictors.measures.np_functions` formulas on the same float32 data.
    static func conditions() -> (targets: [ResponseMatrix], predictions: [ResponseMatrix]) {
        var t: [ResponseMatrix] = [], p: [ResponseMatrix] = []
        for (c, n) in [3, 2, 4].enumerated() {
            var tv = [Float](), pv = [Float]()
            for r in 0..<n {
                for j in 0..<2 {
                    tv.append(Float(sin(0.7 * Double(c * 10 + r) + Double(j)) + 1.5 + 0.5 * Double(c) * Double(j + 1)))
                    pv.append(Float(0.8 * (1.5 + 0.5 * Double(c) * Double(j + 1)) + 0.1 * cos(Double(r + j))))
                }
            }
            t.append(ResponseMatrix(values: tv, rows: n, neurons: 2))
            p.append(ResponseMatrix(values: pv, rows: n, neurons: 2))
        }
        return (t, p)
    }

    static func close(_ a: [Float], _ b: [Double], tol: Double = 1e-5) -> Bool {
        a.count == b.count && zip(a, b).allSatisfy { abs(Double($0) - $1) <= tol * max(1, abs($1)) }
    }

    @Test func explainedVarianceMatchesReference() {
        let (t, p) = Self.conditions()
        let fev = fractionOfExplainableVarianceExplained(targets: t, predictions: p)
        #expect(Self.close(fev.fractionExplainable, [0.42378462, 0.53761204]))
        #expect(Self.close(fev.fractionExplained, [-3.95559036, -2.88746993]))
        #expect(Self.close(explainableVariance(t), [0.42378462, 0.53761203]))
        // Predicting every repeat exactly gives MSE 0, so FEVE = 1 + noise / (total − noise) = 1 / FEV.
        let perfect = fractionOfExplainableVarianceExplained(targets: t, predictions: t)
        #expect(Self.close(perfect.fractionExplained, [1 / 0.42378462, 1 / 0.53761204]))
    }

    @Test func oracleCorrelationsMatchReference() {
        let (t, _) = Self.conditions()
        #expect(Self.close(oracleCorrelation(t), [0.33125415, 0.44950483]))
        #expect(Self.close(conservativeOracleCorrelation(t), [0.70331503, 0.76460498]))
    }

    /// Two videos: A with repeats of 3, 4 and 2 frames, B with one of 3 frames; skip 1, one neuron.
    @Test func conditionsFromVideoTrials() {
        func m(_ v: [Float]) -> ResponseMatrix { ResponseMatrix(values: v, rows: v.count, neurons: 1) }
        let trials = [m([9, 1, 2]), m([9, 5]), m([9, 3, 4, 7]), m([9, 6, 8])]
        let ids = ["A", "A", "A", "B"]
        let c = repeatedConditions(trials, videoIDs: ids, skipFrames: 1)
        // A frame 0: [1, 5, 3]; A frame 1: [2, 4]; A frame 2: [7] dropped; B: single repeats dropped.
        #expect(c == [m([1, 5, 3]), m([2, 4])])
        let all = repeatedConditions(trials, videoIDs: ids, skipFrames: 1, minimumRepeats: 1)
        #expect(all == [m([1, 5, 3]), m([2, 4]), m([7]), m([6]), m([8])])
        // Predictions holding only the scored frames line up with the kept response frames.
        let preds = [m([10, 20]), m([50]), m([30, 40, 70]), m([60, 80])]
        let both = repeatedConditions(responses: trials, predictions: preds, videoIDs: ids, skipFrames: 1)
        #expect(both.predictions == [m([10, 50, 30]), m([20, 40])])
    }
}
