import Foundation
import SensoriumData
import SensoriumMetrics

/// One neuron's predicted and recorded response over one test trial, for the report's traces.
public struct NeuronTrace: Codable, Sendable, Equatable {
    /// Why the neuron was picked: "best", "median" or "worst" single-trial correlation.
    public var rank: String
    /// Index of the neuron in the mouse's neuron order, and its unit id.
    public var neuron: Int
    public var unitID: Int
    /// The neuron's single-trial correlation ρ_st on the diagnostics' tiers.
    public var correlation: Float
    /// The trial, its tier and the trial frame of the first value.
    public var trial: Int
    public var tier: MouseTier
    public var firstFrame: Int
    /// Predicted and recorded responses of the trial, frame by frame (normalised units).
    public var predicted: [Float]
    public var recorded: [Float]
    /// The recorded response averaged over every repeat of the trial's video (frames reached by
    /// at least two repeats), when the video was shown more than once.
    public var repeatAverage: [Float]?
}

/// Per-neuron measures of one mouse over repeated test videos: the fraction of explainable
/// variance (FEV), the fraction of it the model explains (FEVE), the leave-one-out oracle
/// correlation, and example traces of the best, median and worst neuron.
///
/// FEV, FEVE and the oracle correlation follow `neuralpredictors` (as
/// ``/SensoriumMetrics/fractionOfExplainableVarianceExplained(targets:predictions:)`` and
/// ``/SensoriumMetrics/oracleCorrelation(_:eps:)``), computed video by video so that memory holds
/// one video's repeats at a time.
public struct NeuronDiagnostics: Codable, Sendable, Equatable {
    /// The mouse.
    public var mouse: String
    /// The tiers the measures pool (the main track's test tiers of the evaluation).
    public var tiers: [MouseTier]
    /// Frames skipped at the start of every trial and the cap on trial length.
    public var skipFrames: Int
    public var maxFrames: Int?
    /// Videos and trials used.
    public var videos: Int
    public var trials: Int
    /// Per neuron: FEV, FEVE and oracle correlation (NaN for a neuron without explainable variance).
    public var fractionExplainable: [Float]
    public var fractionExplained: [Float]
    public var oracleCorrelation: [Float]
    /// Traces of the best, median and worst neuron by `correlations` (one trial each).
    public var traces: [NeuronTrace]

    /// Measures `model` on the repeated trials of `tiers` of `dataset`. `correlations` (one per
    /// neuron, e.g. the evaluation's per-neuron ρ_st) picks the example neurons.
    public static func measure<Model: TrainableModel>(
        _ model: Model, dataset: MouseDataset, tiers: [MouseTier], correlations: [Float],
        skipFrames: Int = 50, maxFrames: Int? = 300, precisionScaling: Bool = false
    ) throws -> NeuronDiagnostics where Model.Batch == MouseBatch {
        let n = dataset.neuronCount
        precondition(correlations.count == n, "NeuronDiagnostics: \(correlations.count) correlations for \(n) neurons")
        // Example neurons: best, median, worst finite correlation.
        let order = (0..<n).filter { correlations[$0].isFinite }.sorted { correlations[$0] > correlations[$1] }
        let picks: [(String, Int)] = order.isEmpty ? [] : [("best", order[0]), ("median", order[order.count / 2]), ("worst", order[order.count - 1])]
        var sums = RepeatSums(neurons: n)
        var traces: [NeuronTrace] = []
        var videos = 0, trials = 0
        for tier in tiers where !dataset.trials(in: tier).isEmpty {
            for group in try dataset.repeatGroups(in: tier) {
                let repeats = try Predictions.aligned(model, dataset: dataset, tier: tier, trials: group, skipFrames: skipFrames,
                                                      maxFrames: maxFrames, precisionScaling: precisionScaling)
                guard !repeats.isEmpty else { continue }
                let average = sums.addVideo(repeats)
                videos += 1
                trials += repeats.count
                if traces.isEmpty, let first = repeats.first {
                    traces = picks.map { rank, neuron in
                        NeuronTrace(rank: rank, neuron: neuron, unitID: dataset.unitIDs[neuron], correlation: correlations[neuron],
                                    trial: first.trial, tier: tier, firstFrame: first.firstFrame,
                                    predicted: first.predictedTrace(neuron: neuron), recorded: first.recordedTrace(neuron: neuron),
                                    repeatAverage: average.map { a in (0..<(a.count / n)).map { a[$0 * n + neuron] } })
                    }
                }
            }
        }
        let (fev, feve) = sums.explainedVariance()
        return NeuronDiagnostics(mouse: dataset.name, tiers: tiers, skipFrames: skipFrames, maxFrames: maxFrames, videos: videos,
                                 trials: trials, fractionExplainable: fev, fractionExplained: feve,
                                 oracleCorrelation: sums.oracle(), traces: traces)
    }
}

/// Running sums over (video, frame) conditions, one video at a time: what FEV, FEVE (`fev`) and
/// the jackknife oracle correlation (`oracle_corr_jackknife`) need.
struct RepeatSums {
    let neurons: Int
    // All condition rows: count, Σy, Σy² (total variance) and Σ(y − p)² (MSE).
    var rows = 0
    var sum: [Double], sumSquares: [Double], squaredError: [Double]
    // Σ over conditions of the variance over repeats (ddof 1), and the number of conditions.
    var noise: [Double]
    var conditions = 0
    // Pearson sums of (response, mean of the other repeats) for the oracle correlation.
    var oracleN = 0
    var ox: [Double], oy: [Double], oxx: [Double], oyy: [Double], oxy: [Double]

    init(neurons: Int) {
        self.neurons = neurons
        let zero = [Double](repeating: 0, count: neurons)
        sum = zero; sumSquares = zero; squaredError = zero; noise = zero
        ox = zero; oy = zero; oxx = zero; oyy = zero; oxy = zero
    }

    /// Adds the repeats of one video; returns the recorded response averaged over repeats
    /// (frames reached by at least two repeats, time-major), or nil with a single repeat.
    mutating func addVideo(_ repeats: [AlignedTrial]) -> [Float]? {
        let n = neurons
        let frames = repeats.map(\.frames).max() ?? 0
        var average: [Float] = []
        var frameSum = [Double](repeating: 0, count: n), frameSquares = frameSum
        for f in 0..<frames {
            let members = repeats.filter { $0.frames > f }
            guard members.count >= 2 else { break }
            let k = Double(members.count)
            for j in 0..<n { frameSum[j] = 0; frameSquares[j] = 0 }
            for m in members {
                let base = f * n
                for j in 0..<n {
                    let y = Double(m.recorded[base + j]), p = Double(m.predicted[base + j])
                    frameSum[j] += y
                    frameSquares[j] += y * y
                    sum[j] += y
                    sumSquares[j] += y * y
                    squaredError[j] += (y - p) * (y - p)
                }
            }
            rows += members.count
            conditions += 1
            for j in 0..<n {
                noise[j] += max(0, (frameSquares[j] - frameSum[j] * frameSum[j] / k) / (k - 1))
                average.append(Float(frameSum[j] / k))
            }
            for m in members {
                let base = f * n
                for j in 0..<n {
                    let y = Double(m.recorded[base + j])
                    let others = (frameSum[j] - y) / (k - 1)
                    ox[j] += y; oy[j] += others; oxx[j] += y * y; oyy[j] += others * others; oxy[j] += y * others
                }
                oracleN += 1
            }
        }
        return average.isEmpty ? nil : average
    }

    /// FEV and FEVE per neuron (NaN without conditions).
    func explainedVariance() -> (fev: [Float], feve: [Float]) {
        guard rows > 1, conditions > 0 else {
            let nan = [Float](repeating: .nan, count: neurons)
            return (nan, nan)
        }
        var fev = [Float](), feve = [Float]()
        for j in 0..<neurons {
            let mean = sum[j] / Double(rows)
            let total = (sumSquares[j] - Double(rows) * mean * mean) / Double(rows - 1)
            let noiseVariance = noise[j] / Double(conditions)
            let mse = squaredError[j] / Double(rows)
            fev.append(Float((total - noiseVariance) / total))
            feve.append(Float(1 - (mse - noiseVariance) / (total - noiseVariance)))
        }
        return (fev, feve)
    }

    /// The jackknife oracle correlation per neuron (population σ plus 1e-8, as `corr`).
    func oracle() -> [Float] {
        guard oracleN > 0 else { return [Float](repeating: .nan, count: neurons) }
        let count = Double(oracleN)
        return (0..<neurons).map { j in
            let mx = ox[j] / count, my = oy[j] / count
            let vx = max(0, oxx[j] / count - mx * mx), vy = max(0, oyy[j] / count - my * my)
            let c = (oxy[j] / count - mx * my) / ((vx.squareRoot() + 1e-8) * (vy.squareRoot() + 1e-8))
            return Float(c)
        }
    }
}
