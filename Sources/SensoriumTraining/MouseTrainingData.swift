import SensoriumTensor
import SensoriumData

extension MouseBatch: TrainingBatch {
    /// The responses `(batch, frames, neurons)`.
    public func targetTensor() -> Tensor { responseTensor() }
}

/// The reference's data pipeline as a ``TrainingData`` source: random clips of the `train` tier of
/// several mice, interleaved round-robin with one batch of every mouse per round (the reference's
/// `LongCycler` with one optimizer step per round), and a deterministic validation set.
///
/// Each epoch, every mouse starts a fresh shuffled pass over its training trials; a mouse with
/// fewer batches than the largest one starts another shuffled pass within the epoch (as
/// `LongCycler` restarts exhausted loaders), and the epoch has as many rounds as the largest mouse
/// has batches. All shuffles and clip offsets are drawn from the generator the trainer passes for
/// the epoch, when the epoch is planned, so batches are reproducible and independent of
/// prefetching.
///
/// Validation differs from the reference on purpose: the reference scores random 80-frame crops
/// of the `oracle` tier, which makes the early-stopping objective noisy; here the validation
/// trials are read whole (cut to their true length, optionally capped), so the same weights always
/// get the same score.
public final class MouseTrainingData: TrainingData {
    /// The mice, in round order.
    public let datasets: [MouseDataset]
    /// Clips per training batch (8 in the reference benchmarks).
    public let batchSize: Int
    /// Frames per training clip (80 in the reference benchmarks).
    public let frames: Int
    /// The tier scored for early stopping (`oracle` in the reference).
    public let validationTier: MouseTier
    /// Trials per validation batch (a batch is cut to its shortest trial).
    public let validationBatchSize: Int
    /// Cap on validation trial length (nil: whole trials).
    public let validationMaxFrames: Int?
    /// Batches built ahead on background threads.
    public var prefetch: Int
    /// Background threads building batches.
    public var workers: Int
    /// Input frames between two clip frames (1: consecutive, the reference); a clip then spans
    /// `(frames − 1)·frameStep + 1` frames of its trial.
    public var frameStep = 1
    /// Where a clip's window may lie (``/SensoriumData/ClipPosition``; `.reference` by default).
    public var clipPosition = ClipPosition.reference
    /// Probability that a training clip is CutMixed with another clip of the same mouse (0: never).
    public var cutMixProbability = 0.0

    /// The k-fold split grouped by video identity (nil: the train tier for training, the
    /// ``validationTier`` for validation); set with ``setSplit(_:)``.
    public private(set) var split: FoldSplit?
    /// With a split, the training and validation trials of each mouse (in ``datasets`` order).
    public private(set) var splitTrials: [(training: [Int], validation: [Int])]?

    /// Trains on the split's pool minus its fold and validates on the fold (nil: the tiers);
    /// throws `DataError` when a mouse would have no training or validation trials.
    public func setSplit(_ split: FoldSplit?) throws {
        guard let split else {
            self.split = nil
            splitTrials = nil
            return
        }
        let trials = try datasets.map { try split.trials(of: $0) }
        for (d, t) in zip(datasets, trials) where t.training.isEmpty || t.validation.isEmpty {
            throw DataError(.inconsistent, path: d.layout.tiersFile,
                                 expected: "training and validation trials in fold \(split.fold) of \(split.folds)",
                                 found: "\(t.training.count) training and \(t.validation.count) validation trials")
        }
        self.split = split
        splitTrials = trials
    }

    /// How training clips are cut: `.clips(frames:)` for the reference settings, else `.strided`.
    public var clipMode: ClipMode {
        frameStep == 1 && clipPosition == .reference ? .clips(frames: frames)
            : .strided(frames: frames, step: frameStep, position: clipPosition)
    }

    /// This rank's share of a data-parallel run (nil: the whole batch). With a shard, ``batchSize``
    /// is the rank's batch: epochs are planned with the global batch `batchSize × shard.count`
    /// from the same generator on every rank, and each rank builds its part of every global batch
    /// (see ``DataShard``).
    public var shard: DataShard?

    /// Whether every single-mouse batch is an optimizer step of its own (Dynamic-V1FM's training:
    /// `LongCycler` with a step per batch) rather than one step per round of one batch of every
    /// mouse (the reference's gradient accumulation). The batches and their order are the same;
    /// an epoch then has `rounds × mice` steps. Default false.
    public var stepEveryBatch = false

    /// A data source over `datasets` (each mouse needs at least one training trial).
    public init(datasets: [MouseDataset], batchSize: Int = 8, frames: Int = 80, validationTier: MouseTier = .oracle,
                validationBatchSize: Int = 8, validationMaxFrames: Int? = nil, prefetch: Int = 2, workers: Int = 1) {
        precondition(!datasets.isEmpty, "MouseTrainingData: needs at least one mouse")
        precondition(batchSize >= 1 && frames >= 1 && validationBatchSize >= 1,
                     "MouseTrainingData: batch sizes and frames must be at least 1")
        for d in datasets {
            precondition(!d.trials(in: .train).isEmpty, "MouseTrainingData: mouse \(d.name) has no train trials")
        }
        self.datasets = datasets
        self.batchSize = batchSize
        self.frames = frames
        self.validationTier = validationTier
        self.validationBatchSize = validationBatchSize
        self.validationMaxFrames = validationMaxFrames
        self.prefetch = prefetch
        self.workers = workers
    }

    /// The plans of epoch `epoch`: `rounds × mice` batches in round-robin order.
    public func planEpoch(generator: RandomGenerator) -> (rounds: Int, plans: [BatchPlan], makers: [BatchMaker]) {
        planEpoch(generator: generator, batchSize: batchSize)
    }

    func planEpoch(generator: RandomGenerator, batchSize: Int) -> (rounds: Int, plans: [BatchPlan], makers: [BatchMaker]) {
        let mode = clipMode, cutMix = cutMixProbability
        let loaders = datasets.indices.map { m -> MouseLoader in
            let loader = MouseLoader(dataset: datasets[m], tier: .train, batchSize: batchSize, mode: mode,
                                     shuffle: true, generator: generator.fork(), trials: splitTrials?[m].training)
            loader.cutMixProbability = cutMix
            return loader
        }
        // The one round-robin: every mouse's batches interleaved, shorter mice starting new passes.
        let cycler = MouseCycler(loaders: loaders)
        let rounds = cycler.stepsPerEpoch
        let plans = cycler.planEpoch()
        return (rounds, plans, loaders.map(\.maker))
    }

    public func trainingRounds(epoch: Int, generator: RandomGenerator) throws -> TrainingRounds<MouseBatch> {
        if let shard { return shardedRounds(generator: generator, shard: shard) }
        let (rounds, plans, makers) = planEpoch(generator: generator)
        let mice = datasets.count
        let perStep = stepEveryBatch ? 1 : mice
        let prefetch = self.prefetch, workers = self.workers
        return TrainingRounds(count: rounds * mice / perStep) { first in
            let stream = BatchStream(plans: Array(plans.dropFirst(first * perStep)), makers: makers,
                                     prefetch: prefetch, workers: workers)
            return {
                var round: [MouseBatch] = []
                round.reserveCapacity(perStep)
                for _ in 0..<perStep {
                    guard let batch = try stream.next() else { return round.isEmpty ? nil : round }
                    round.append(batch)
                }
                return round
            }
        }
    }

    public func forEachValidationBatch(_ body: (MouseBatch) throws -> Void) throws {
        for (m, dataset) in datasets.enumerated() {
            let loader = MouseLoader(dataset: dataset, tier: validationTier, batchSize: validationBatchSize,
                                     mode: .fullTrials(maxFrames: validationMaxFrames), shuffle: false,
                                     generator: RandomGenerator(seed: 0), trials: splitTrials?[m].validation)
            let stream = loader.epoch(prefetch: prefetch, workers: workers)
            defer { stream.cancel() }
            while let batch = try stream.next() { try body(batch) }
        }
    }

    /// Validation batches over every mouse: its validation trials in batches of `validationBatchSize`.
    public var validationBatchCount: Int? {
        datasets.indices.reduce(0) { total, m in
            let trials = splitTrials?[m].validation.count ?? datasets[m].trials(in: validationTier).count
            return total + (trials + validationBatchSize - 1) / validationBatchSize
        }
    }

    public func trialCount(mouse: String) -> Int {
        datasets.first { $0.name == mouse }?.trialCount ?? 0
    }

    /// The trials of the mouse's `train` tier.
    public func trainingTrialCount(mouse: String) -> Int {
        datasets.first { $0.name == mouse }?.trials(in: .train).count ?? 0
    }
}
