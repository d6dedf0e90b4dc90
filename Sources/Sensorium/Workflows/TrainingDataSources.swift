import SensoriumData
import SensoriumTraining

extension TrainingDataSettings {
    /// How training clips are cut: `.clips(frames:)` with the reference settings, else
    /// `.strided(frames:step:position:)`.
    public var clipMode: ClipMode {
        frameStep == 1 && clipPosition == .reference ? .clips(frames: frames)
            : .strided(frames: frames, step: frameStep, position: clipPosition)
    }

    /// Frames of a trial one training clip covers, `(frames − 1)·frameStep + 1`.
    public var clipSpan: Int { (frames - 1) * frameStep + 1 }

    /// The fold split the settings ask for (nil without ``folds``).
    public var foldSplit: FoldSplit? { folds.map { FoldSplit(folds: $0, fold: fold, pool: foldTiers) } }

    /// The reference data source (one batch per mouse per round) with these settings' clips,
    /// CutMix and fold split. Throws `DataError` when a split leaves a mouse without training
    /// or validation trials.
    public func makeTrainingData(datasets: [MouseDataset]) throws -> MouseTrainingData {
        let data = MouseTrainingData(datasets: datasets, batchSize: batchSize, frames: frames, validationTier: validationTier,
                                     validationBatchSize: validationBatchSize, validationMaxFrames: validationMaxFrames,
                                     prefetch: prefetch, workers: workers)
        data.frameStep = frameStep
        data.clipPosition = clipPosition
        data.cutMixProbability = cutMixProbability
        data.stepEveryBatch = stepEveryBatch
        try data.setSplit(foldSplit)
        return data
    }

    /// DwiseNeuro's data source (batches mixing mice, one per optimizer step) with these settings;
    /// ``samplesPerMouse`` nil takes the largest number of training trials among the mice. Throws
    /// `DataError` when the mice cannot be mixed or a mouse lacks training or validation trials.
    public func makeMixedTrainingData(datasets: [MouseDataset]) throws -> MixedMouseTrainingData {
        let split = foldSplit
        let perMouse = try samplesPerMouse ?? datasets.map { d in
            try split.map { try $0.trials(of: d).training.count } ?? d.trials(in: .train).count
        }.max() ?? 1
        return try MixedMouseTrainingData(datasets: datasets, batchSize: batchSize, mode: clipMode,
                                          samplesPerMouse: max(1, perMouse), cutMixProbability: cutMixProbability,
                                          split: split, validationTier: validationTier,
                                          validationBatchSize: validationBatchSize, validationMaxFrames: validationMaxFrames,
                                          prefetch: prefetch, workers: workers)
    }
}
