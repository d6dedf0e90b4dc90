// Combining correlation accumulators filled on different processes (data-parallel validation):
// exact pooled sums, exchanged in two rounds (first-order sums for the global mean, then sums about it).

extension CorrelationAccumulator {
    /// The per-neuron sums of responses and of predictions, `2 × neurons` values (`Σr` then `Σo`),
    /// about zero. Summed over accumulators, they give the pooled means.
    public func firstOrderSums() -> [Double] {
        let n = neurons, count = Double(sampleCount)
        var out = [Double](repeating: 0, count: 2 * n)
        guard sampleCount > 0 else { return out }
        for j in 0..<n {
            out[j] = state[2 * n + j] + count * state[j]
            out[n + j] = state[3 * n + j] + count * state[n + j]
        }
        return out
    }

    /// The per-neuron sums about the given means, `5 × neurons` values: `Σ(r−m_r)`, `Σ(o−m_o)`,
    /// `Σ(r−m_r)²`, `Σ(o−m_o)²`, `Σ(r−m_r)(o−m_o)`. Summed over accumulators and given to
    /// ``init(neurons:sampleCount:meanResponses:meanPredictions:centeredSums:)``, they reproduce the
    /// accumulator of all rows pooled (exactly in real arithmetic).
    public func centeredSums(meanResponses: [Double], meanPredictions: [Double]) -> [Double] {
        let n = neurons
        precondition(meanResponses.count == n && meanPredictions.count == n,
                     "CorrelationAccumulator.centeredSums: \(meanResponses.count) and \(meanPredictions.count) means for \(n) neurons")
        var out = [Double](repeating: 0, count: 5 * n)
        guard sampleCount > 0 else { return out }
        let count = Double(sampleCount)
        for j in 0..<n {
            // Sums about the shift a, moved to the mean m: with d = a − m,
            // Σ(x−m) = Σ(x−a) + n·d, Σ(x−m)² = Σ(x−a)² + 2d·Σ(x−a) + n·d², and the cross term likewise.
            let dr = state[j] - meanResponses[j], dp = state[n + j] - meanPredictions[j]
            let sr = state[2 * n + j], sp = state[3 * n + j]
            out[j] = sr + count * dr
            out[n + j] = sp + count * dp
            out[2 * n + j] = state[4 * n + j] + 2 * dr * sr + count * dr * dr
            out[3 * n + j] = state[5 * n + j] + 2 * dp * sp + count * dp * dp
            out[4 * n + j] = state[6 * n + j] + dp * sr + dr * sp + count * dr * dp
        }
        return out
    }

    /// The accumulator of `sampleCount` pooled rows, from their means and the sums about them
    /// (the layout of ``centeredSums(meanResponses:meanPredictions:)``).
    public init(neurons: Int, sampleCount: Int, meanResponses: [Double], meanPredictions: [Double], centeredSums: [Double]) {
        precondition(meanResponses.count == neurons && meanPredictions.count == neurons && centeredSums.count == 5 * neurons,
                     "CorrelationAccumulator: \(meanResponses.count) and \(meanPredictions.count) means and \(centeredSums.count) sums for \(neurons) neurons")
        self.init(neurons: neurons)
        guard sampleCount > 0 else { return }
        self.sampleCount = sampleCount
        state = meanResponses + meanPredictions + centeredSums
    }
}
