import SensoriumTensor

/// One sample of a batch mixing mice: a clip of `trial` of mouse `mouseIndex`, placed by `draw`,
/// CutMixed with a clip of the same mouse when `cutMix` is set.
public struct MixedSample: Sendable, Equatable {
    /// Index of the mouse in the maker's datasets.
    public var mouseIndex: Int
    /// File index of the trial.
    public var trial: Int
    /// The 64-bit draw placing the clip in its trial.
    public var draw: UInt64
    /// The sample's CutMix (nil: none).
    public var cutMix: CutMixDraw?

    /// A sample.
    public init(mouseIndex: Int, trial: Int, draw: UInt64, cutMix: CutMixDraw? = nil) {
        self.mouseIndex = mouseIndex
        self.trial = trial
        self.draw = draw
        self.cutMix = cutMix
    }
}

/// Builds batches whose samples come from different mice (DwiseNeuro's batches): thread-safe,
/// used by prefetch workers.
///
/// A batch holds video `(N, C, T, H, W)` on the common canvas and responses `(N, T, Σ neurons)`,
/// the neurons of ``datasets`` in order (the model's mice); each sample's own block holds its
/// responses and every other block zeros. Its ``MouseBatch/mixture`` names each sample's mouse,
/// its ``MouseBatch/responseWeights`` are 1 on the own block and 0 elsewhere, and its
/// ``MouseBatch/mouse`` is ``batchName(_:)`` of the mice.
public struct MixedBatchMaker: Sendable {
    /// The mice, in neuron-block order.
    public let datasets: [MouseDataset]
    /// Clips (``ClipMode/clips(frames:)`` or ``ClipMode/strided(frames:step:position:)``).
    public let mode: ClipMode

    /// A maker over `datasets`, which must give the same input channels on the same canvas (the
    /// model reads one input shape); throws `DataError` naming the first mouse that differs.
    public init(datasets: [MouseDataset], mode: ClipMode) throws {
        precondition(!datasets.isEmpty, "MixedBatchMaker: needs at least one mouse")
        precondition(mode.clipShape != nil, "MixedBatchMaker: mixed batches are made of clips, got \(mode)")
        let first = datasets[0]
        for d in datasets.dropFirst() {
            guard d.inputHeight == first.inputHeight && d.inputWidth == first.inputWidth
                    && d.options.inputChannels == first.options.inputChannels else {
                throw DataError(.inconsistent, path: d.layout.root,
                                     expected: "\(first.options.inputChannels) input channels on a \(first.inputHeight) × \(first.inputWidth) canvas like \(first.name) (batches that mix mice need one input shape)",
                                     found: "\(d.options.inputChannels) channels on \(d.inputHeight) × \(d.inputWidth)")
            }
        }
        self.datasets = datasets
        self.mode = mode
    }

    /// The ``MouseBatch/mouse`` of a batch mixing `mice`: their names joined by "+".
    public static func batchName(_ mice: [String]) -> String { mice.joined(separator: "+") }

    /// The mice's names, in block order.
    public var mice: [String] { datasets.map(\.name) }

    /// Builds the batch of `samples`.
    public func makeBatch(_ samples: [MixedSample]) throws -> MouseBatch {
        precondition(!samples.isEmpty, "MixedBatchMaker: an empty batch")
        precondition(samples.allSatisfy { datasets.indices.contains($0.mouseIndex) },
                     "MixedBatchMaker: sample mice \(samples.map(\.mouseIndex)) outside 0..<\(datasets.count)")
        let counts = datasets.map(\.neuronCount)
        let mixture = MouseMixture(mice: mice, neuronCounts: counts, sampleMouse: samples.map(\.mouseIndex))
        let offsets = mixture.neuronOffsets, total = mixture.totalNeurons
        let (frames, step, _) = mode.clipShape!
        var builder = MouseBatchBuilder(mouse: datasets[0], batchSize: samples.count, frames: frames, step: step,
                                        neuronsPerFrame: total)
        let mice = self.datasets, mode = self.mode
        func load(_ k: Int) throws -> BatchSample {
            let s = samples[k]
            return try BatchMaker.clipSample(dataset: mice[s.mouseIndex], mode: mode, trial: s.trial, draw: s.draw,
                                             cutMix: s.cutMix, responseOffset: offsets[s.mouseIndex])
        }
        if samples.count > 1 && Parallel.threadCount > 1 {
            try builder.fillConcurrently(load)
        } else {
            for k in samples.indices { builder.add(try load(k)) }
        }
        var weights = [Float](repeating: 0, count: samples.count * total)
        for (k, s) in samples.enumerated() {
            let m = s.mouseIndex
            for j in offsets[m]..<(offsets[m] + counts[m]) { weights[k * total + j] = 1 }
        }
        return builder.finish(mixture: mixture, responseWeights: weights, name: Self.batchName(self.mice))
    }
}
