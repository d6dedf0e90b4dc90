import Foundation
import SensoriumData

/// A model's predictions and the recorded responses of one trial, lined up frame by frame.
///
/// A model with a temporal burn-in predicts only the last `L'` of a trial's `L` frames; the scores
/// also skip the first frames of every trial. `AlignedTrial` does the bookkeeping: row `f` of
/// ``predicted`` and of ``recorded`` is frame ``firstFrame`` `+ f` of the trial, for every frame
/// that is both predicted and kept. Both are time-major `(frames, neurons)`, in the order of the
/// dataset's neurons (``/SensoriumData/MouseDataset/unitIDs``), normalised like the training targets.
///
/// ```swift
/// let trial = try Predictions.aligned(model, dataset: mouse, tier: .finalTestMain)[0]
/// let (predicted, recorded) = (trial.predictedTrace(neuron: 3), trial.recordedTrace(neuron: 3))
/// ```
public struct AlignedTrial: Sendable, Equatable {
    /// Mouse (folder) name.
    public var mouse: String
    /// Tier of the trial.
    public var tier: MouseTier
    /// File index of the trial.
    public var trial: Int
    /// Number of neurons (columns).
    public var neurons: Int
    /// Frames of the whole trial (as read, after the `maxFrames` cut).
    public var trialFrames: Int
    /// The trial frame of the first row.
    public var firstFrame: Int
    /// Number of aligned frames (rows).
    public var frames: Int
    /// Predicted responses, `(frames, neurons)` row-major.
    public var predicted: [Float]
    /// Recorded responses of the same frames, `(frames, neurons)` row-major.
    public var recorded: [Float]

    /// A trial; `predicted` and `recorded` hold `frames × neurons` values each.
    public init(mouse: String, tier: MouseTier, trial: Int, neurons: Int, trialFrames: Int, firstFrame: Int, frames: Int,
                predicted: [Float], recorded: [Float]) {
        precondition(predicted.count == frames * neurons && recorded.count == frames * neurons,
                     "AlignedTrial: \(predicted.count) predicted and \(recorded.count) recorded values for (\(frames), \(neurons))")
        self.mouse = mouse
        self.tier = tier
        self.trial = trial
        self.neurons = neurons
        self.trialFrames = trialFrames
        self.firstFrame = firstFrame
        self.frames = frames
        self.predicted = predicted
        self.recorded = recorded
    }

    /// The predicted response of `neuron` over the aligned frames (`frames` values).
    public func predictedTrace(neuron: Int) -> [Float] { column(predicted, neuron) }

    /// The recorded response of `neuron` over the aligned frames (`frames` values).
    public func recordedTrace(neuron: Int) -> [Float] { column(recorded, neuron) }

    private func column(_ values: [Float], _ neuron: Int) -> [Float] {
        precondition(neuron >= 0 && neuron < neurons, "AlignedTrial: neuron \(neuron) out of 0..<\(neurons)")
        return (0..<frames).map { values[$0 * neurons + neuron] }
    }
}

extension Predictions {
    /// Calls `body` with every trial of `trials` (default: every trial of `tier`) of `dataset`,
    /// predicted and lined up with its recorded responses (see ``AlignedTrial``): whole trials cut
    /// to at most `maxFrames` frames, rows from frame `skipFrames` on (or from the first predicted
    /// frame when the model's burn-in is longer). Trials are read ahead on a background thread;
    /// memory holds one trial at a time. With `precisionScaling` the predictions are multiplied by
    /// each neuron's response precision, as the evaluation does for models trained on raw responses.
    public static func forEachAligned<Model: TrainableModel>(
        _ model: Model, dataset: MouseDataset, tier: MouseTier, trials: [Int]? = nil, skipFrames: Int = 50,
        maxFrames: Int? = 300, precisionScaling: Bool = false, _ body: (AlignedTrial) throws -> Void
    ) throws where Model.Batch == MouseBatch {
        guard skipFrames >= 0 else { throw SensoriumError.invalidOptions("skipFrames must be ≥ 0, got \(skipFrames)") }
        if let m = maxFrames, m <= skipFrames {
            throw SensoriumError.invalidOptions("maxFrames (\(m)) must exceed skipFrames (\(skipFrames))")
        }
        if let video = model as? VideoModel { try video.checkCompatible(with: [dataset]) }
        let available = dataset.trials(in: tier)
        let chosen = trials ?? available
        if let missing = chosen.first(where: { !available.contains($0) }) {
            throw SensoriumError.invalidOptions("trial \(missing) of mouse \(dataset.name) is not in tier \(tier.rawValue)")
        }
        let n = dataset.neuronCount
        try forEachPredictedTrial(model, dataset: dataset, trials: chosen.map { (trial: $0, tier: tier) }, maxFrames: maxFrames,
                                  minimumFrames: minimumTrialFrames(model), prefetch: 2,
                                  precision: precisionScaling ? try PrecisionScaling(dataset: dataset) : nil) { p in
            let first = max(skipFrames, p.frames - p.predictedFrames)
            let count = max(p.frames - first, 0)
            let offset = p.predictedFrames - (p.frames - first)
            let recorded = Array(p.batch.responses[(first * n)..<((first + count) * n)])
            let predicted = Array(p.predictions[(offset * n)..<((offset + count) * n)])
            try body(AlignedTrial(mouse: dataset.name, tier: tier, trial: p.trial, neurons: n, trialFrames: p.frames,
                                  firstFrame: first, frames: count, predicted: predicted, recorded: recorded))
        }
    }

    /// The trials of ``forEachAligned(_:dataset:tier:trials:skipFrames:maxFrames:precisionScaling:_:)``
    /// as an array (every trial in memory: give `trials` for large tiers).
    public static func aligned<Model: TrainableModel>(
        _ model: Model, dataset: MouseDataset, tier: MouseTier, trials: [Int]? = nil, skipFrames: Int = 50,
        maxFrames: Int? = 300, precisionScaling: Bool = false
    ) throws -> [AlignedTrial] where Model.Batch == MouseBatch {
        var out: [AlignedTrial] = []
        try forEachAligned(model, dataset: dataset, tier: tier, trials: trials, skipFrames: skipFrames, maxFrames: maxFrames,
                           precisionScaling: precisionScaling) {
            out.append($0)
        }
        return out
    }
}
