// The SENSORIUM 2023 correlation metrics (paper eq. 1 and 2) and a plain Pearson correlation.
//
// Conventions follow the reference scorer (`sensorium/utility/scores.py` on top of
// `neuralpredictors.measures.np_functions.corr`): population standard deviations (ddof 0) with
// `eps = 1e-8` added to each, so a neuron whose response or prediction is constant scores exactly
// 0; any remaining NaN (from NaN inputs) is replaced by 0, like `np.nan_to_num`.

public import SensoriumTensor

/// The `eps` the reference adds to each standard deviation (`neuralpredictors` `corr`).
public let defaultCorrelationEpsilon: Double = 1e-8

/// The frames the reference drops from the start of every trial before scoring ("burn-in").
public let defaultSkipFrames = 50

/// Streaming per-neuron Pearson correlation over pooled samples, accumulated in Double.
///
/// Add the (response, prediction) rows of as many trials as needed, then read `correlations()`.
/// Every neuron is correlated over all rows added, which is exactly the pooled
/// "all trials and frames" sum of eq. 1. Sums are taken relative to the first row added, which
/// keeps the one-pass variance accurate and makes a constant neuron's covariance exactly zero.
///
/// ```swift
/// var acc = CorrelationAccumulator(neurons: 7400)
/// for trial in testTrials { acc.add(responses: trial.responses, predictions: trial.predictions) }
/// let perNeuron = acc.correlations()
/// ```
public struct CorrelationAccumulator: Sendable {
    /// Number of neurons (columns of every block added).
    public let neurons: Int
    /// Number of rows (samples per neuron) added so far.
    public internal(set) var sampleCount = 0
    // Seven slices of `neurons` values: shift r, shift o, Σr, Σo, Σr², Σo², Σro (relative to the shifts).
    var state: [Double]

    /// An empty accumulator for `neurons` neurons.
    public init(neurons: Int) {
        precondition(neurons >= 0, "CorrelationAccumulator: negative neuron count \(neurons)")
        self.neurons = neurons
        self.state = [Double](repeating: 0, count: 7 * neurons)
    }

    /// Adds `rows` rows of responses and predictions, each row-major `rows × neurons`.
    public mutating func add(responses: UnsafeBufferPointer<Float>, predictions: UnsafeBufferPointer<Float>, rows: Int) {
        precondition(responses.count >= rows * neurons && predictions.count >= rows * neurons,
                     "CorrelationAccumulator.add: buffers of \(responses.count) and \(predictions.count) values are too short for [\(rows), \(neurons)]")
        guard rows > 0, let r = responses.baseAddress, let p = predictions.baseAddress else { return }
        accumulate(r, p, rows: rows)
    }

    /// Adds `rows` rows of responses and predictions given in Double, each row-major `rows × neurons`.
    public mutating func add(responses: UnsafeBufferPointer<Double>, predictions: UnsafeBufferPointer<Double>, rows: Int) {
        precondition(responses.count >= rows * neurons && predictions.count >= rows * neurons,
                     "CorrelationAccumulator.add: buffers of \(responses.count) and \(predictions.count) values are too short for [\(rows), \(neurons)]")
        guard rows > 0, let r = responses.baseAddress, let p = predictions.baseAddress else { return }
        accumulate(r, p, rows: rows)
    }

    /// Adds every row of a response block and the prediction block of the same shape.
    public mutating func add(responses: ResponseMatrix, predictions: ResponseMatrix) {
        precondition(responses.rows == predictions.rows && responses.neurons == neurons && predictions.neurons == neurons,
                     "CorrelationAccumulator.add: responses [\(responses.rows), \(responses.neurons)] and predictions [\(predictions.rows), \(predictions.neurons)] do not match each other or \(neurons) neurons")
        responses.values.withUnsafeBufferPointer { r in
            predictions.values.withUnsafeBufferPointer { p in add(responses: r, predictions: p, rows: responses.rows) }
        }
    }

    /// Adds every row of two `[rows, neurons]` tensors of the same shape.
    public mutating func add(responses: Tensor, predictions: Tensor) {
        precondition(responses.rank == 2 && responses.shape == predictions.shape && responses.shape[1] == neurons,
                     "CorrelationAccumulator.add: responses \(responses.shape) and predictions \(predictions.shape) must both be [rows, \(neurons)]")
        responses.withUnsafeBufferPointer { r in
            predictions.withUnsafeBufferPointer { p in add(responses: r, predictions: p, rows: responses.shape[0]) }
        }
    }

    @inline(__always)
    private mutating func accumulate<T: BinaryFloatingPoint>(_ r: UnsafePointer<T>, _ p: UnsafePointer<T>, rows: Int) {
        let n = neurons
        let first = sampleCount == 0
        sampleCount += rows
        state.withUnsafeMutableBufferPointer { buf in
            let s = buf.baseAddress!
            let shiftR = s, shiftO = s + n, sumR = s + 2 * n, sumO = s + 3 * n
            let sumRR = s + 4 * n, sumOO = s + 5 * n, sumRO = s + 6 * n
            if first {
                for j in 0..<n { shiftR[j] = Double(r[j]); shiftO[j] = Double(p[j]) }
            }
            // Neuron ranges are disjoint, so threads never write the same accumulator.
            Parallel.forRanges(n, minimumPerThread: max(64, 65_536 / max(rows, 1))) { range in
                for row in 0..<rows {
                    let rr = r + row * n, pp = p + row * n
                    for j in range {
                        let x = Double(rr[j]) - shiftR[j]
                        let y = Double(pp[j]) - shiftO[j]
                        sumR[j] += x
                        sumO[j] += y
                        sumRR[j] += x * x
                        sumOO[j] += y * y
                        sumRO[j] += x * y
                    }
                }
            }
        }
    }

    /// The per-neuron correlations `cov / ((σ_r + eps)(σ_o + eps))` (population σ), with NaN
    /// replaced by 0. All zeros when nothing was added.
    public func correlations(eps: Double = defaultCorrelationEpsilon) -> [Float] {
        correlationsDouble(eps: eps).map { Float($0) }
    }

    /// The per-neuron correlations in Double.
    public func correlationsDouble(eps: Double = defaultCorrelationEpsilon) -> [Double] {
        let n = neurons
        guard sampleCount > 0 else { return [Double](repeating: 0, count: n) }
        let count = Double(sampleCount)
        var out = [Double](repeating: 0, count: n)
        for j in 0..<n {
            let meanR = state[2 * n + j] / count, meanO = state[3 * n + j] / count
            let varR = max(state[4 * n + j] / count - meanR * meanR, 0)
            let varO = max(state[5 * n + j] / count - meanO * meanO, 0)
            let cov = state[6 * n + j] / count - meanR * meanO
            let c = cov / ((varR.squareRoot() + eps) * (varO.squareRoot() + eps))
            out[j] = c.isNaN ? 0 : c
        }
        return out
    }
}

/// The rows of one trial that are scored: the response window after `skipFrames`, and the
/// prediction rows aligned with it at the end (the reference keeps the last `T − skip` output frames).
struct ScoredWindow {
    var responseStart: Int
    var predictionStart: Int
    var count: Int

    init(responseFrames: Int, predictionFrames: Int, skipFrames: Int, trial: Int, op: String) {
        count = max(responseFrames - skipFrames, 0)
        precondition(predictionFrames >= count && predictionFrames <= responseFrames,
                     "\(op): trial \(trial) has \(responseFrames) response frames and \(predictionFrames) prediction frames; predictions need between \(count) (frames after skipping \(skipFrames)) and \(responseFrames) frames")
        responseStart = responseFrames - count
        predictionStart = predictionFrames - count
    }
}

private func checkTrials<R: ResponseBlocks, P: ResponseBlocks>(_ responses: R, _ predictions: P, op: String) -> Int {
    precondition(responses.blockCount == predictions.blockCount,
                 "\(op): \(responses.blockCount) response trials but \(predictions.blockCount) prediction trials")
    guard responses.blockCount > 0 else { return 0 }
    let neurons = responses.neurons(of: 0)
    for i in 0..<responses.blockCount {
        precondition(responses.neurons(of: i) == neurons && predictions.neurons(of: i) == neurons,
                     "\(op): trial \(i) has responses [\(responses.rows(of: i)), \(responses.neurons(of: i))] and predictions [\(predictions.rows(of: i)), \(predictions.neurons(of: i))]; expected \(neurons) neurons in both")
    }
    return neurons
}

/// Single-trial correlation ρ_st (paper eq. 1), one value per neuron.
///
/// Each trial is a `frames × neurons` block; trials may have different lengths. The first
/// `skipFrames` frames of every response trial are dropped, and the prediction of a trial is
/// aligned with the remaining frames at its end (so a prediction may have the full length, or only
/// the last `frames − skipFrames` frames, or anything in between as a model with temporal lag
/// outputs). All kept frames of all trials are pooled and correlated per neuron.
/// A neuron with constant response or prediction scores 0.
public func singleTrialCorrelation<R: ResponseBlocks, P: ResponseBlocks>(
    responses: R, predictions: P, skipFrames: Int = defaultSkipFrames, eps: Double = defaultCorrelationEpsilon
) -> [Float] {
    let op = "singleTrialCorrelation"
    precondition(skipFrames >= 0, "\(op): negative skipFrames \(skipFrames)")
    let neurons = checkTrials(responses, predictions, op: op)
    var acc = CorrelationAccumulator(neurons: neurons)
    for i in 0..<responses.blockCount {
        let w = ScoredWindow(responseFrames: responses.rows(of: i), predictionFrames: predictions.rows(of: i),
                             skipFrames: skipFrames, trial: i, op: op)
        guard w.count > 0 else { continue }
        responses.withBlock(i) { r in
            predictions.withBlock(i) { p in
                acc.add(responses: UnsafeBufferPointer(rebasing: r[(w.responseStart * neurons)...]),
                        predictions: UnsafeBufferPointer(rebasing: p[(w.predictionStart * neurons)...]),
                        rows: w.count)
            }
        }
    }
    return acc.correlations(eps: eps)
}

/// Single-trial correlation ρ_st (paper eq. 1) for trials given as `[frames, neurons]` tensors.
public func singleTrialCorrelation(
    responses: [Tensor], predictions: [Tensor], skipFrames: Int = defaultSkipFrames, eps: Double = defaultCorrelationEpsilon
) -> [Float] {
    singleTrialCorrelation(responses: TensorBlocks(responses), predictions: TensorBlocks(predictions),
                           skipFrames: skipFrames, eps: eps)
}

/// Correlation to average ρ_ta (paper eq. 2), one value per neuron.
///
/// Trials sharing a `videoIDs` entry are repeats of one video. Within each video, responses and
/// predictions (after skipping and aligning as in `singleTrialCorrelation`) are averaged over the
/// repeats frame by frame; when repeats differ in length, each frame is averaged over the repeats
/// that reach it. The per-video averages of all videos are then pooled and correlated per neuron
/// (the concatenate-then-correlate form of eq. 2, which the metrics fixture follows).
public func correlationToAverage<R: ResponseBlocks, P: ResponseBlocks, ID: Hashable>(
    responses: R, predictions: P, videoIDs: [ID], skipFrames: Int = defaultSkipFrames,
    eps: Double = defaultCorrelationEpsilon
) -> [Float] {
    let op = "correlationToAverage"
    precondition(skipFrames >= 0, "\(op): negative skipFrames \(skipFrames)")
    let neurons = checkTrials(responses, predictions, op: op)
    precondition(videoIDs.count == responses.blockCount,
                 "\(op): \(videoIDs.count) video ids for \(responses.blockCount) trials")
    var acc = CorrelationAccumulator(neurons: neurons)
    for group in repeatGroups(videoIDs) {
        let windows = group.map {
            ScoredWindow(responseFrames: responses.rows(of: $0), predictionFrames: predictions.rows(of: $0),
                         skipFrames: skipFrames, trial: $0, op: op)
        }
        let frames = windows.map(\.count).max() ?? 0
        guard frames > 0 else { continue }
        var sumR = [Double](repeating: 0, count: frames * neurons)
        var sumO = [Double](repeating: 0, count: frames * neurons)
        var repeats = [Int](repeating: 0, count: frames)
        for (trial, w) in zip(group, windows) where w.count > 0 {
            for f in 0..<w.count { repeats[f] += 1 }
            responses.withBlock(trial) { r in addRows(r, from: w.responseStart, rows: w.count, neurons: neurons, into: &sumR) }
            predictions.withBlock(trial) { p in addRows(p, from: w.predictionStart, rows: w.count, neurons: neurons, into: &sumO) }
        }
        for f in 0..<frames {
            let scale = 1 / Double(repeats[f])
            for j in 0..<neurons {
                sumR[f * neurons + j] *= scale
                sumO[f * neurons + j] *= scale
            }
        }
        sumR.withUnsafeBufferPointer { r in
            sumO.withUnsafeBufferPointer { p in acc.add(responses: r, predictions: p, rows: frames) }
        }
    }
    return acc.correlations(eps: eps)
}

/// Correlation to average ρ_ta (paper eq. 2) for trials given as `[frames, neurons]` tensors.
public func correlationToAverage<ID: Hashable>(
    responses: [Tensor], predictions: [Tensor], videoIDs: [ID], skipFrames: Int = defaultSkipFrames,
    eps: Double = defaultCorrelationEpsilon
) -> [Float] {
    correlationToAverage(responses: TensorBlocks(responses), predictions: TensorBlocks(predictions),
                         videoIDs: videoIDs, skipFrames: skipFrames, eps: eps)
}

private func addRows(_ src: UnsafeBufferPointer<Float>, from start: Int, rows: Int, neurons: Int, into dst: inout [Double]) {
    let s = src.baseAddress! + start * neurons
    dst.withUnsafeMutableBufferPointer { d in
        let o = d.baseAddress!
        for i in 0..<(rows * neurons) { o[i] += Double(s[i]) }
    }
}

/// Indices of the trials of each distinct id, in order of first appearance.
func repeatGroups<ID: Hashable>(_ ids: [ID]) -> [[Int]] {
    var slot: [ID: Int] = [:]
    var groups: [[Int]] = []
    for (i, id) in ids.enumerated() {
        if let g = slot[id] {
            groups[g].append(i)
        } else {
            slot[id] = groups.count
            groups.append([i])
        }
    }
    return groups
}

/// The neuron-weighted mean of per-neuron scores from several mice: the mean over all neurons
/// of all mice pooled (how the reference averages over mice). NaN when there are no neurons.
public func neuronWeightedMean(_ perMouse: [[Float]]) -> Double {
    var sum = 0.0, count = 0
    for scores in perMouse {
        for s in scores { sum += Double(s) }
        count += scores.count
    }
    return count == 0 ? .nan : sum / Double(count)
}

/// Pearson correlation of `x` and `y` along `axis`, like `neuralpredictors` `corr`: population
/// standard deviations plus `eps`, computed in Double. The result has `axis` removed and no
/// gradient; NaN from NaN inputs is kept (unlike the SENSORIUM scores).
public func pearsonCorrelation(_ x: Tensor, _ y: Tensor, axis: Int, eps: Double = defaultCorrelationEpsilon) -> Tensor {
    precondition(x.shape == y.shape, "pearsonCorrelation: shapes \(x.shape) and \(y.shape) differ")
    let a = Tensor.normalizeAxis(axis, rank: x.rank, op: "pearsonCorrelation")
    let length = x.rank == 0 ? 1 : x.shape[a]
    let inner = x.rank == 0 ? 1 : x.shape[(a + 1)...].reduce(1, *)
    let outer = x.rank == 0 ? 1 : x.shape[..<a].reduce(1, *)
    var outShape = x.shape
    if x.rank > 0 { outShape.remove(at: a) }
    let out = Tensor(uninitializedShape: outShape)
    let px = x.storage.pointer, py = y.storage.pointer, po = out.storage.pointer
    let n = Double(length)
    Parallel.forRanges(outer * inner, minimumPerThread: max(1, 32_768 / max(length, 1))) { range in
        for k in range {
            let o = k / inner, i = k % inner
            let base = o * length * inner + i
            var mx = 0.0, my = 0.0
            for t in 0..<length {
                mx += Double(px[base + t * inner])
                my += Double(py[base + t * inner])
            }
            mx /= n; my /= n
            var sxx = 0.0, syy = 0.0, sxy = 0.0
            for t in 0..<length {
                let dx = Double(px[base + t * inner]) - mx
                let dy = Double(py[base + t * inner]) - my
                sxx += dx * dx; syy += dy * dy; sxy += dx * dy
            }
            po[k] = Float((sxy / n) / (((sxx / n).squareRoot() + eps) * ((syy / n).squareRoot() + eps)))
        }
    }
    return out
}

/// Pearson correlation of two equally long sequences (population σ plus `eps`), in Double; NaN is
/// replaced by 0 as in the SENSORIUM scores.
public func pearsonCorrelation(_ x: [Float], _ y: [Float], eps: Double = defaultCorrelationEpsilon) -> Double {
    precondition(x.count == y.count, "pearsonCorrelation: lengths \(x.count) and \(y.count) differ")
    var acc = CorrelationAccumulator(neurons: 1)
    x.withUnsafeBufferPointer { px in y.withUnsafeBufferPointer { py in acc.add(responses: px, predictions: py, rows: x.count) } }
    return acc.correlationsDouble(eps: eps)[0]
}
