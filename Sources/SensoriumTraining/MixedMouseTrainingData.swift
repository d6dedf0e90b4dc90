import SensoriumTensor
import SensoriumData

/// DwiseNeuro's data pipeline as a ``TrainingData`` source: every batch mixes mice, every round is
/// one batch (one optimizer step).
///
/// An epoch has ``samplesPerMouse`` samples of each mouse — each a uniformly random training
/// trial and a random window placed by the clip mode (DwiseNeuro: 16 frames every 2nd frame, the
/// end frame uniform in `30 ... L − 1`) — CutMixed with probability ``cutMixProbability`` with
/// another random window of the same mouse; the concatenation is shuffled and cut into batches of
/// ``batchSize`` (the last one smaller when the total is not a multiple). Batches carry the
/// ``/SensoriumData/MouseBatch/mixture`` of all ``datasets`` (in this order: the model's mice), responses
/// `(N, T, Σ neurons)` with each sample's own block filled and zeros elsewhere, and
/// ``/SensoriumData/MouseBatch/responseWeights`` 1 on the own block and 0 elsewhere (see ``/SensoriumData/MixedBatchMaker``).
///
/// Every random choice is drawn from the trainer's epoch generator when the epoch is planned, so
/// the batches are reproducible, independent of prefetching, and a run resumed at any round sees
/// the batches the uninterrupted run saw. Training trials are the `train` tier, or with a
/// ``split`` the pool minus the validation fold.
///
/// Validation is as in ``MouseTrainingData``: whole trials (optionally capped) of each mouse in
/// single-mouse batches, the ``validationTier`` or the split's validation fold.
public final class MixedMouseTrainingData: TrainingData {
    /// The mice, in neuron-block order (the model's mice).
    public let datasets: [MouseDataset]
    /// Samples per batch (32 in DwiseNeuro).
    public let batchSize: Int
    /// How a clip is cut from a trial (DwiseNeuro: `.strided(frames: 16, step: 2, position: .last)`).
    public let mode: ClipMode
    /// Samples of each mouse per epoch (7,200 in DwiseNeuro).
    public let samplesPerMouse: Int
    /// Probability that a sample is CutMixed (0.5 in DwiseNeuro; 0: never).
    public let cutMixProbability: Double
    /// The k-fold split grouped by video identity (nil: train tier for training, ``validationTier`` for validation).
    public let split: FoldSplit?
    /// The tier scored for early stopping without a split.
    public let validationTier: MouseTier
    /// Trials per validation batch (a batch is cut to its shortest trial).
    public let validationBatchSize: Int
    /// Cap on validation trial length (nil: whole trials).
    public let validationMaxFrames: Int?
    /// Batches built ahead on background threads (0: built on the calling thread).
    public var prefetch: Int
    /// Background threads building batches.
    public var workers: Int
    /// Training and validation trials of each mouse, ascending.
    public let trainingTrials: [[Int]], validationTrials: [[Int]]
    /// Builds the batches.
    public let maker: MixedBatchMaker

    /// A data source over `datasets`; throws `DataError` when the mice give different input
    /// shapes or a mouse has no training or validation trials.
    public init(datasets: [MouseDataset], batchSize: Int = 32, mode: ClipMode = .strided(frames: 16, step: 2, position: .last),
                samplesPerMouse: Int, cutMixProbability: Double = 0, split: FoldSplit? = nil,
                validationTier: MouseTier = .oracle, validationBatchSize: Int = 8, validationMaxFrames: Int? = nil,
                prefetch: Int = 2, workers: Int = 1) throws {
        precondition(!datasets.isEmpty, "MixedMouseTrainingData: needs at least one mouse")
        precondition(batchSize >= 1 && samplesPerMouse >= 1 && validationBatchSize >= 1,
                     "MixedMouseTrainingData: batch sizes and samples per mouse must be at least 1")
        precondition((0...1).contains(cutMixProbability), "MixedMouseTrainingData: CutMix probability \(cutMixProbability) outside [0, 1]")
        maker = try MixedBatchMaker(datasets: datasets, mode: mode)
        var training: [[Int]] = [], validation: [[Int]] = []
        for d in datasets {
            let (train, valid) = try split.map { try $0.trials(of: d) } ?? (d.trials(in: .train), d.trials(in: validationTier))
            let what = split.map { "fold \($0.fold) of \($0.folds) over \($0.pool.map(\.rawValue).joined(separator: "+"))" }
            guard !train.isEmpty else {
                throw DataError(.inconsistent, path: d.layout.tiersFile,
                                     expected: "training trials" + (what.map { " outside \($0)" } ?? " (tier train)"), found: "none")
            }
            guard !valid.isEmpty else {
                throw DataError(.inconsistent, path: d.layout.tiersFile,
                                     expected: "validation trials" + (what.map { " in \($0)" } ?? " (tier \(validationTier.rawValue))"), found: "none")
            }
            training.append(train)
            validation.append(valid)
        }
        self.datasets = datasets
        self.batchSize = batchSize
        self.mode = mode
        self.samplesPerMouse = samplesPerMouse
        self.cutMixProbability = cutMixProbability
        self.split = split
        self.validationTier = validationTier
        self.validationBatchSize = validationBatchSize
        self.validationMaxFrames = validationMaxFrames
        self.prefetch = prefetch
        self.workers = workers
        trainingTrials = training
        validationTrials = validation
    }

    /// Rounds (= batches) per epoch.
    public var batchesPerEpoch: Int { (datasets.count * samplesPerMouse + batchSize - 1) / batchSize }

    /// The batches of an epoch, drawing from `generator`: per mouse in order and per sample its
    /// trial, window and CutMix; then a Fisher–Yates shuffle of all samples, cut into batches.
    public func planEpoch(generator: RandomGenerator) -> [[MixedSample]] {
        var samples: [MixedSample] = []
        samples.reserveCapacity(datasets.count * samplesPerMouse)
        for (m, d) in datasets.enumerated() {
            let pool = trainingTrials[m]
            for _ in 0..<samplesPerMouse {
                let trial = pool[Int(generator.next() % UInt64(pool.count))]
                let draw = generator.next()
                let cutMix = CutMixDraw.draw(probability: cutMixProbability, partners: pool, height: d.inputHeight,
                                             width: d.inputWidth, generator: generator)
                samples.append(MixedSample(mouseIndex: m, trial: trial, draw: draw, cutMix: cutMix))
            }
        }
        if samples.count > 1 {
            for i in stride(from: samples.count - 1, to: 0, by: -1) {
                samples.swapAt(i, Int(generator.next() % UInt64(i + 1)))
            }
        }
        return stride(from: 0, to: samples.count, by: batchSize).map { Array(samples[$0..<min(samples.count, $0 + batchSize)]) }
    }

    public func trainingRounds(epoch: Int, generator: RandomGenerator) throws -> TrainingRounds<MouseBatch> {
        let plans = planEpoch(generator: generator)
        let maker = self.maker, prefetch = self.prefetch, workers = self.workers
        return TrainingRounds(count: plans.count) { first in
            let rest = Array(plans.dropFirst(first))
            if prefetch > 0 {
                let prefetcher = Prefetcher(count: rest.count, capacity: prefetch, workers: workers) { i in
                    try maker.makeBatch(rest[i])
                }
                return { try prefetcher.next().map { [$0] } }
            }
            var index = 0
            return {
                guard index < rest.count else { return nil }
                defer { index += 1 }
                return [try maker.makeBatch(rest[index])]
            }
        }
    }

    public func forEachValidationBatch(_ body: (MouseBatch) throws -> Void) throws {
        for (m, dataset) in datasets.enumerated() {
            let loader = MouseLoader(dataset: dataset, tier: validationTier, batchSize: validationBatchSize,
                                     mode: .fullTrials(maxFrames: validationMaxFrames), shuffle: false,
                                     generator: RandomGenerator(seed: 0), trials: validationTrials[m])
            let stream = loader.epoch(prefetch: prefetch, workers: workers)
            defer { stream.cancel() }
            while let batch = try stream.next() { try body(batch) }
        }
    }

    /// Validation batches over every mouse: its validation trials in batches of `validationBatchSize`.
    public var validationBatchCount: Int? {
        validationTrials.reduce(0) { $0 + ($1.count + validationBatchSize - 1) / validationBatchSize }
    }

    /// Trials (all tiers) of the mouse; for the name of a mixed batch, of all the mice together.
    public func trialCount(mouse: String) -> Int {
        if mouse == MixedBatchMaker.batchName(maker.mice) { return datasets.reduce(0) { $0 + $1.trialCount } }
        return datasets.first { $0.name == mouse }?.trialCount ?? 0
    }
}
