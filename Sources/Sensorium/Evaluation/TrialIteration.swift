import Foundation
import SensoriumTensor
import SensoriumData

/// One whole trial run through a model: the batch (responses time-major `(1, L, N)`) and the
/// predictions `(L', N)` for its last `L'` frames.
struct PredictedTrial {
    let batch: MouseBatch
    let trial: Int
    let tier: MouseTier
    /// (L', N) row-major, aligned with the last L' frames.
    let predictions: [Float]
    let predictedFrames: Int
    var frames: Int { batch.frames }
    var neurons: Int { batch.neuronCount }
}

/// Runs a model over whole trials of one mouse, one trial per batch (the reference's submission
/// loader: batch size 1, trials cut to their true length, capped at `maxFrames`), in evaluation
/// mode without gradients, with the next trials read ahead on a background thread; with
/// `precision` the predictions are multiplied by the response precision (``PrecisionScaling``).
func forEachPredictedTrial<Model: TrainableModel>(
    _ model: Model, dataset: MouseDataset, trials: [(trial: Int, tier: MouseTier)], maxFrames: Int?,
    minimumFrames: Int, prefetch: Int, precision: PrecisionScaling? = nil, _ body: (PredictedTrial) throws -> Void
) throws where Model.Batch == MouseBatch {
    guard !trials.isEmpty else { return }
    let loader = MouseLoader(dataset: dataset, tier: trials[0].tier, batchSize: 1, mode: .fullTrials(maxFrames: maxFrames),
                             shuffle: false, generator: RandomGenerator(seed: 0))
    // One plan per trial, in the given order (a loader plans its own tier in ascending order only).
    guard let template = loader.planEpoch().first else { return }
    let plans = trials.map { entry -> BatchPlan in
        var plan = template
        plan.mouseIndex = 0
        plan.trials = [entry.trial]
        plan.draws = [0]
        return plan
    }
    let stream = BatchStream(plans: plans, makers: [loader.maker], prefetch: max(prefetch, 0), workers: 1)
    defer { stream.cancel() }
    let wasTraining = model.isTraining
    model.eval()
    defer { model.train(wasTraining) }
    for entry in trials {
        guard let batch = try stream.next() else { break }
        guard batch.frames >= minimumFrames else {
            throw SensoriumError.trialTooShort(mouse: dataset.name, trial: entry.trial, frames: batch.frames, needed: minimumFrames)
        }
        let output = withNoGrad { model.forward(batch) }
        guard output.rank == 3, output.shape[0] == 1, output.shape[2] == batch.neuronCount, output.shape[1] <= batch.frames else {
            throw SensoriumError.wrongPredictionShape(mouse: dataset.name, trial: entry.trial, shape: output.shape,
                                                       expected: "(1, ≤ \(batch.frames), \(batch.neuronCount))")
        }
        var predictions = output.scalars
        precision?.apply(to: &predictions, firstFrame: batch.frames - output.shape[1])
        try body(PredictedTrial(batch: batch, trial: entry.trial, tier: entry.tier, predictions: predictions,
                                predictedFrames: output.shape[1]))
    }
}

/// The smallest trial length a model can run on (its burn-in plus one frame), when known.
func minimumTrialFrames<Model: TrainableModel>(_ model: Model) -> Int {
    if let video = model as? VideoModel { return video.burnInFrames + 1 }
    return 1
}
