// Measures over repeated presentations: explainable variance, FEVE and oracle correlations
// (the formulas of `neuralpredictors.measures.np_functions`), plus the grouping of video trials
// into (video, frame) conditions they work on.

/// Groups repeated video trials into conditions: one `repeats × neurons` matrix per (video, frame).
///
/// Trials sharing an id in `videoIDs` are repeats of one video. After dropping the first
/// `skipFrames` frames of every trial, frame `f` of a video becomes one condition whose rows are
/// that frame in each repeat reaching it (repeats may differ in length). Conditions with fewer than
/// `minimumRepeats` rows are left out (a variance over repeats needs at least 2).
/// Conditions come video by video (in order of first appearance), frame by frame.
public func repeatedConditions<B: ResponseBlocks, ID: Hashable>(
    _ trials: B, videoIDs: [ID], skipFrames: Int = defaultSkipFrames, minimumRepeats: Int = 2
) -> [ResponseMatrix] {
    repeatedConditions(responses: trials, predictions: trials, videoIDs: videoIDs, skipFrames: skipFrames,
                       minimumRepeats: minimumRepeats).responses
}

/// Groups repeated responses and the matching predictions into (video, frame) conditions, as
/// `repeatedConditions(_:videoIDs:skipFrames:minimumRepeats:)` does; predictions are aligned with
/// the kept response frames at the end of each trial, as in `singleTrialCorrelation`.
public func repeatedConditions<R: ResponseBlocks, P: ResponseBlocks, ID: Hashable>(
    responses: R, predictions: P, videoIDs: [ID], skipFrames: Int = defaultSkipFrames, minimumRepeats: Int = 2
) -> (responses: [ResponseMatrix], predictions: [ResponseMatrix]) {
    let op = "repeatedConditions"
    precondition(responses.blockCount == predictions.blockCount,
                 "\(op): \(responses.blockCount) response trials but \(predictions.blockCount) prediction trials")
    precondition(videoIDs.count == responses.blockCount, "\(op): \(videoIDs.count) video ids for \(responses.blockCount) trials")
    guard responses.blockCount > 0 else { return ([], []) }
    let neurons = responses.neurons(of: 0)
    var outR: [ResponseMatrix] = [], outP: [ResponseMatrix] = []
    for group in repeatGroups(videoIDs) {
        let windows = group.map { trial -> ScoredWindow in
            precondition(responses.neurons(of: trial) == neurons && predictions.neurons(of: trial) == neurons,
                         "\(op): trial \(trial) has \(responses.neurons(of: trial)) response and \(predictions.neurons(of: trial)) prediction neurons, expected \(neurons)")
            return ScoredWindow(responseFrames: responses.rows(of: trial), predictionFrames: predictions.rows(of: trial),
                                skipFrames: skipFrames, trial: trial, op: op)
        }
        let frames = windows.map(\.count).max() ?? 0
        for f in 0..<frames {
            let members = zip(group, windows).filter { $0.1.count > f }
            guard members.count >= max(minimumRepeats, 1) else { continue }
            var r = [Float](), p = [Float]()
            r.reserveCapacity(members.count * neurons)
            p.reserveCapacity(members.count * neurons)
            for (trial, w) in members {
                responses.withBlock(trial) { b in
                    r.append(contentsOf: b[((w.responseStart + f) * neurons)..<((w.responseStart + f + 1) * neurons)])
                }
                predictions.withBlock(trial) { b in
                    p.append(contentsOf: b[((w.predictionStart + f) * neurons)..<((w.predictionStart + f + 1) * neurons)])
                }
            }
            outR.append(ResponseMatrix(values: r, rows: members.count, neurons: neurons))
            outP.append(ResponseMatrix(values: p, rows: members.count, neurons: neurons))
        }
    }
    return (outR, outP)
}

/// Per-neuron variance statistics of repeated responses, in Double.
struct RepeatStatistics {
    /// Variance over all rows of all conditions (ddof 1).
    var total: [Double]
    /// Mean over conditions of the variance over repeats within a condition (ddof 1).
    var noise: [Double]
}

private func checkConditions<B: ResponseBlocks>(_ c: B, op: String, minimumRepeats: Int) -> Int {
    precondition(c.blockCount > 0, "\(op): no conditions given")
    let neurons = c.neurons(of: 0)
    for i in 0..<c.blockCount {
        precondition(c.neurons(of: i) == neurons, "\(op): condition \(i) has \(c.neurons(of: i)) neurons, expected \(neurons)")
        precondition(c.rows(of: i) >= minimumRepeats,
                     "\(op): condition \(i) has \(c.rows(of: i)) repeats, at least \(minimumRepeats) are needed")
    }
    return neurons
}

private func repeatStatistics<B: ResponseBlocks>(_ c: B, neurons: Int) -> RepeatStatistics {
    var grand = [Double](repeating: 0, count: neurons)
    var rows = 0
    for i in 0..<c.blockCount {
        let n = c.rows(of: i)
        c.withBlock(i) { b in addColumnSums(b, rows: n, neurons: neurons, into: &grand) }
        rows += n
    }
    for j in 0..<neurons { grand[j] /= Double(rows) }
    var totalSq = [Double](repeating: 0, count: neurons)
    var noise = [Double](repeating: 0, count: neurons)
    var mean = [Double](repeating: 0, count: neurons)
    var sq = [Double](repeating: 0, count: neurons)
    for i in 0..<c.blockCount {
        let n = c.rows(of: i)
        c.withBlock(i) { b in
            for j in 0..<neurons { mean[j] = 0; sq[j] = 0 }
            addColumnSums(b, rows: n, neurons: neurons, into: &mean)
            for j in 0..<neurons { mean[j] /= Double(n) }
            for r in 0..<n {
                for j in 0..<neurons {
                    let v = Double(b[r * neurons + j])
                    totalSq[j] += (v - grand[j]) * (v - grand[j])
                    sq[j] += (v - mean[j]) * (v - mean[j])
                }
            }
            for j in 0..<neurons { noise[j] += sq[j] / Double(n - 1) }
        }
    }
    return RepeatStatistics(total: totalSq.map { $0 / Double(rows - 1) },
                            noise: noise.map { $0 / Double(c.blockCount) })
}

/// Adds the column sums of a row-major `rows × neurons` block to `sums`.
private func addColumnSums(_ b: UnsafeBufferPointer<Float>, rows: Int, neurons: Int, into sums: inout [Double]) {
    for r in 0..<rows {
        for j in 0..<neurons { sums[j] += Double(b[r * neurons + j]) }
    }
}

/// Fraction of variance that is explainable (stimulus-driven), per neuron:
/// `(total − noise) / (total + eps)`, with the total variance over all responses and the noise
/// variance the mean over conditions of the variance over repeats (both ddof 1), as
/// `neuralpredictors` `explainable_var`. Each condition is a `repeats × neurons` block with at least
/// 2 repeats.
public func explainableVariance<B: ResponseBlocks>(_ conditions: B, eps: Double = 1e-9) -> [Float] {
    let neurons = checkConditions(conditions, op: "explainableVariance", minimumRepeats: 2)
    let s = repeatStatistics(conditions, neurons: neurons)
    return (0..<neurons).map { Float((s.total[$0] - s.noise[$0]) / (s.total[$0] + eps)) }
}

/// Per-neuron fraction of explainable variance (FEV) and fraction of explainable variance explained
/// by a model (FEVE).
public struct ExplainedVariance: Sendable, Equatable {
    /// FEV: `(total − noise) / total`.
    public var fractionExplainable: [Float]
    /// FEVE: `1 − (MSE − noise) / (total − noise)`.
    public var fractionExplained: [Float]
}

/// FEV and FEVE per neuron, as `neuralpredictors` `fev`: with `total` the variance of all target
/// rows and `noise` the mean over conditions of the variance over repeats (both ddof 1), and MSE
/// the mean squared prediction error over all rows, FEV = `(total − noise) / total` and FEVE =
/// `1 − (MSE − noise) / (total − noise)`. No epsilon: a neuron without explainable variance gives
/// NaN or ±infinity, as in the reference. Targets and predictions are matching `repeats × neurons`
/// conditions (see `repeatedConditions`), each with at least 2 repeats.
public func fractionOfExplainableVarianceExplained<T: ResponseBlocks, P: ResponseBlocks>(
    targets: T, predictions: P
) -> ExplainedVariance {
    let op = "fractionOfExplainableVarianceExplained"
    let neurons = checkConditions(targets, op: op, minimumRepeats: 2)
    precondition(predictions.blockCount == targets.blockCount,
                 "\(op): \(targets.blockCount) target conditions but \(predictions.blockCount) prediction conditions")
    var sq = [Double](repeating: 0, count: neurons)
    var rows = 0
    for i in 0..<targets.blockCount {
        let n = targets.rows(of: i)
        precondition(predictions.rows(of: i) == n && predictions.neurons(of: i) == neurons,
                     "\(op): condition \(i) has targets [\(n), \(neurons)] but predictions [\(predictions.rows(of: i)), \(predictions.neurons(of: i))]")
        targets.withBlock(i) { t in
            predictions.withBlock(i) { p in
                for r in 0..<n {
                    for j in 0..<neurons {
                        let d = Double(t[r * neurons + j]) - Double(p[r * neurons + j])
                        sq[j] += d * d
                    }
                }
            }
        }
        rows += n
    }
    let s = repeatStatistics(targets, neurons: neurons)
    var fev = [Float](), feve = [Float]()
    for j in 0..<neurons {
        let mse = sq[j] / Double(rows)
        fev.append(Float((s.total[j] - s.noise[j]) / s.total[j]))
        feve.append(Float(1 - (mse - s.noise[j]) / (s.total[j] - s.noise[j])))
    }
    return ExplainedVariance(fractionExplainable: fev, fractionExplained: feve)
}

/// Leave-one-out ("jackknife") oracle correlation per neuron, as `neuralpredictors`
/// `oracle_corr_jackknife`: every repeat is paired with the mean of the other repeats of its
/// condition (0 when it has no other repeat), and all pairs are correlated per neuron
/// (population σ plus `eps`). Underestimates the true oracle correlation.
public func oracleCorrelation<B: ResponseBlocks>(_ conditions: B, eps: Double = defaultCorrelationEpsilon) -> [Float] {
    let neurons = checkConditions(conditions, op: "oracleCorrelation", minimumRepeats: 1)
    var acc = CorrelationAccumulator(neurons: neurons)
    for i in 0..<conditions.blockCount {
        let n = conditions.rows(of: i)
        conditions.withBlock(i) { b in
            var sum = [Double](repeating: 0, count: neurons)
            addColumnSums(b, rows: n, neurons: neurons, into: &sum)
            var oracle = [Double](repeating: 0, count: n * neurons)
            if n > 1 {
                for r in 0..<n {
                    for j in 0..<neurons { oracle[r * neurons + j] = (sum[j] - Double(b[r * neurons + j])) / Double(n - 1) }
                }
            }
            let values = b.map { Double($0) }
            values.withUnsafeBufferPointer { v in
                oracle.withUnsafeBufferPointer { o in acc.add(responses: v, predictions: o, rows: n) }
            }
        }
    }
    return acc.correlations(eps: eps)
}

/// Conservative oracle correlation per neuron, as `neuralpredictors` `oracle_corr_conservative`:
/// `v_m / sqrt(v_m (v_m + v_n))` with `v_m` the variance of the condition means and `v_n` the mean
/// within-condition variance (both ddof 0). Overestimates the true oracle correlation; NaN for a
/// neuron whose condition means do not vary.
public func conservativeOracleCorrelation<B: ResponseBlocks>(_ conditions: B) -> [Float] {
    let neurons = checkConditions(conditions, op: "conservativeOracleCorrelation", minimumRepeats: 1)
    let c = conditions.blockCount
    var means = [Double](repeating: 0, count: c * neurons)
    var noise = [Double](repeating: 0, count: neurons)
    for i in 0..<c {
        let n = conditions.rows(of: i)
        conditions.withBlock(i) { b in
            var mean = [Double](repeating: 0, count: neurons)
            addColumnSums(b, rows: n, neurons: neurons, into: &mean)
            for j in 0..<neurons { mean[j] /= Double(n); means[i * neurons + j] = mean[j] }
            var sq = [Double](repeating: 0, count: neurons)
            for r in 0..<n {
                for j in 0..<neurons {
                    let d = Double(b[r * neurons + j]) - mean[j]
                    sq[j] += d * d
                }
            }
            for j in 0..<neurons { noise[j] += sq[j] / Double(n) }
        }
    }
    var out = [Float]()
    for j in 0..<neurons {
        var m = 0.0
        for i in 0..<c { m += means[i * neurons + j] }
        m /= Double(c)
        var v = 0.0
        for i in 0..<c { v += (means[i * neurons + j] - m) * (means[i * neurons + j] - m) }
        v /= Double(c)
        let vn = noise[j] / Double(c)
        out.append(Float(v / (v * (v + vn)).squareRoot()))
    }
    return out
}
