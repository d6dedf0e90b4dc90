/// The noise ceiling of one tier: how well the true (noise-free) rate correlates with the noisy
/// responses, i.e. the best score any model can reach.
public struct NoiseCeiling: Sendable, Codable, Equatable {
    /// Single-trial correlation ρ_st of the true rate with the responses, mean over neurons.
    public let singleTrial: Double
    /// Correlation to average ρ_ta (rates and responses averaged over repeats first), mean over
    /// neurons; nil for tiers without repeats.
    public let toAverage: Double?
    /// Per-neuron ρ_st.
    public let perNeuronSingleTrial: [Double]
    /// Per-neuron ρ_ta.
    public let perNeuronToAverage: [Double]?
}

/// Access to the ground truth a synthetic mouse folder carries (`data/rates/<i>.npy`).
public enum SyntheticGroundTruth {
    /// Whether the folder has the synthetic ground truth.
    public static func hasRates(_ dataset: MouseDataset) -> Bool {
        MouseFiles.isDirectory(dataset.layout.root + "/data/rates")
    }

    /// The noise-free rates of a trial, normalised like the responses (the same per-frame
    /// precision), cut to the trial's length, time-major (length, neurons).
    public static func rates(of dataset: MouseDataset, trial: Int) throws -> [Float] {
        let length = try dataset.trialLength(trial)
        return try ratesInDiskLayout(dataset, trial: trial, length: length).transposedToTimeMajor(dataset.neuronCount, length)
    }

    /// (neurons, length) normalised rates.
    static func ratesInDiskLayout(_ dataset: MouseDataset, trial: Int, length: Int) throws -> DiskRows {
        let a = try MouseFiles.readNumeric(dataset.layout.extraTrialFile("rates", trial: trial), expected: "synthetic rates (neurons, T)")
        guard a.shape.count == 2, a.shape[0] == dataset.neuronCount else {
            throw DataError(.wrongShape, path: a.path, expected: "shape (\(dataset.neuronCount), T)", found: MouseFiles.describe(a.shape))
        }
        let frames = a.shape[1]
        let values = dataset.normalizer.apply(.responses, values: a.values, rows: dataset.neuronCount, frames: frames)
        return DiskRows(values: values, rows: dataset.neuronCount, frames: frames, length: min(length, frames))
    }

    struct DiskRows {
        let values: [Float]
        let rows: Int, frames: Int, length: Int
        func transposedToTimeMajor(_ rows: Int, _ length: Int) -> [Float] {
            var out = [Float](repeating: 0, count: rows * length)
            for r in 0..<rows { for t in 0..<length { out[t * rows + r] = values[r * frames + t] } }
            return out
        }
    }

    /// Per-neuron running sums for Pearson correlations over pooled samples.
    struct CorrelationAccumulator {
        var n: [Double], sx: [Double], sy: [Double], sxx: [Double], syy: [Double], sxy: [Double]
        init(_ count: Int) {
            n = [Double](repeating: 0, count: count)
            sx = n; sy = n; sxx = n; syy = n; sxy = n
        }
        mutating func add(_ i: Int, _ x: Double, _ y: Double) {
            n[i] += 1; sx[i] += x; sy[i] += y; sxx[i] += x * x; syy[i] += y * y; sxy[i] += x * y
        }
        /// Correlation with population standard deviations plus 1e-8 (neuralpredictors' `corr`).
        func correlations() -> [Double] {
            (0..<n.count).map { i in
                guard n[i] > 0 else { return 0 }
                let mx = sx[i] / n[i], my = sy[i] / n[i]
                let vx = max(0, sxx[i] / n[i] - mx * mx), vy = max(0, syy[i] / n[i] - my * my)
                let c = (sxy[i] / n[i] - mx * my) / ((vx.squareRoot() + 1e-8) * (vy.squareRoot() + 1e-8))
                return c.isNaN ? 0 : c
            }
        }
    }

    /// ρ_st and ρ_ta of the true rates against the responses of `tier`, skipping the first
    /// `skip` frames of every trial (50, as the competition's metrics do).
    public static func noiseCeiling(of dataset: MouseDataset, tier: MouseTier, skip: Int = 50) throws -> NoiseCeiling {
        let neurons = dataset.neuronCount
        var single = CorrelationAccumulator(neurons)
        let trials = dataset.trials(in: tier)
        for trial in trials {
            let t = try dataset.loadNormalized(trial)
            let rates = try ratesInDiskLayout(dataset, trial: trial, length: t.length)
            for i in 0..<neurons {
                for f in skip..<max(skip, t.length) {
                    single.add(i, Double(rates.values[i * rates.frames + f]), Double(t.responses[i * t.responseFrames + f]))
                }
            }
        }
        let perSingle = single.correlations()
        var perAverage: [Double]?
        if tier.hasRepeats {
            var average = CorrelationAccumulator(neurons)
            for group in try dataset.repeatGroups(in: tier) {
                var loaded: [(NormalizedTrial, DiskRows)] = []
                for trial in group {
                    let t = try dataset.loadNormalized(trial)
                    loaded.append((t, try ratesInDiskLayout(dataset, trial: trial, length: t.length)))
                }
                let length = loaded.map(\.0.length).min() ?? 0
                let k = Double(loaded.count)
                for i in 0..<neurons {
                    for f in skip..<max(skip, length) {
                        var r = 0.0, y = 0.0
                        for (t, rates) in loaded {
                            r += Double(rates.values[i * rates.frames + f])
                            y += Double(t.responses[i * t.responseFrames + f])
                        }
                        average.add(i, r / k, y / k)
                    }
                }
            }
            perAverage = average.correlations()
        }
        func mean(_ v: [Double]) -> Double { v.isEmpty ? 0 : v.reduce(0, +) / Double(v.count) }
        return NoiseCeiling(singleTrial: mean(perSingle), toAverage: perAverage.map(mean),
                            perNeuronSingleTrial: perSingle, perNeuronToAverage: perAverage)
    }
}
