import SensoriumTensor
import SensoriumData

// What the trainer reads from a `MouseBatch` besides its responses: the weight of every target
// entry, the samples' total weight, and, for a batch that mixes mice, each sample's own block.

extension MouseBatch {
    /// ``/SensoriumData/MouseBatch/responseWeightTensor()``: `(B, 1, neurons)`, or nil (every entry weighs 1).
    public func targetWeights() -> Tensor? { responseWeightTensor() }

    /// The total sample weight, DwiseNeuro's normaliser `Σ_{sample, mouse} weight`: for every
    /// sample, the sum over the neuron blocks of the mixture (the whole response row without a
    /// mixture) of the block's mean weight. ``/SensoriumData/MouseBatch/batchSize`` without weights; `B` for a mixed batch
    /// that scores each sample on its own mouse only (own block 1, others 0).
    public func sampleWeightTotal() -> Double {
        guard let weights = responseWeights else { return Double(batchSize) }
        let blocks: [(offset: Int, count: Int)]
        if let mixture {
            blocks = zip(mixture.neuronOffsets, mixture.neuronCounts).map { ($0, $1) }
        } else {
            blocks = [(0, neuronCount)]
        }
        var total = 0.0
        for s in 0..<batchSize {
            let row = s * neuronCount
            for block in blocks where block.count > 0 {
                var sum = 0.0
                for j in block.offset..<(block.offset + block.count) { sum += Double(weights[row + j]) }
                total += sum / Double(block.count)
            }
        }
        return total
    }

    /// Without a mixture, the whole batch as ``/SensoriumData/MouseBatch/mouse``. With one, for every mouse of the mixture
    /// that has samples (in mixture order), its samples' predictions and targets of its own neuron
    /// block: `(mouse, (B_m, T', N_m), (B_m, T, N_m))`.
    public func scoredParts(predictions: Tensor, targets: Tensor) -> [(mouse: String, predictions: Tensor, targets: Tensor)] {
        guard let mixture else { return [(mouse, predictions, targets)] }
        precondition(predictions.rank == 3 && targets.rank == 3 && predictions.shape[0] == batchSize
                     && targets.shape[0] == batchSize && predictions.shape[2] == mixture.totalNeurons
                     && targets.shape[2] == mixture.totalNeurons,
                     "MouseBatch.scoredParts: predictions \(predictions.shape) and targets \(targets.shape) must be (\(batchSize), T, \(mixture.totalNeurons))")
        let offsets = mixture.neuronOffsets
        return mixture.mice.indices.compactMap { m in
            let samples = mixture.sampleMouse.indices.filter { mixture.sampleMouse[$0] == m }
            guard !samples.isEmpty else { return nil }
            return (mixture.mice[m], Self.block(predictions, samples: samples, offset: offsets[m], count: mixture.neuronCounts[m]),
                    Self.block(targets, samples: samples, offset: offsets[m], count: mixture.neuronCounts[m]))
        }
    }

    /// The neurons `offset ..< offset + count` of the given samples of `x` `(B, T, N)`: `(samples, T, count)` (a copy).
    static func block(_ x: Tensor, samples: [Int], offset: Int, count: Int) -> Tensor {
        let t = x.shape[1], n = x.shape[2]
        var out = [Float](repeating: 0, count: samples.count * t * count)
        x.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for (i, s) in samples.enumerated() {
                    for k in 0..<t {
                        let from = (s * t + k) * n + offset, to = (i * t + k) * count
                        dst.baseAddress!.advanced(by: to).update(from: src.baseAddress!.advanced(by: from), count: count)
                    }
                }
            }
        }
        return Tensor(out, shape: [samples.count, t, count])
    }
}
