import SensoriumTensor

/// What a loader cuts out of each trial.
public enum ClipMode: Sendable, Equatable {
    /// A random window of `frames` frames per trial (training; 80 in the baselines). The start is
    /// uniform in `0 ..< length − frames` (upper bound exclusive, as in the reference, so a clip
    /// never ends on the last frame); a trial exactly `frames` long starts at 0 (the reference
    /// would fail), a shorter one throws `DataError.trialTooShort`.
    case clips(frames: Int)
    /// Whole trials cut to their true length, optionally capped at `maxFrames` (300 for
    /// scoring). Samples of one batch are cut to the shortest of them; use batch size 1 (the
    /// reference's submission loader) to keep every frame.
    case fullTrials(maxFrames: Int?)
    /// `frames` frames taken every `step` input frames from a random window of each trial (the
    /// window spans `(frames − 1)·step + 1` frames), placed by `position`; the targets are the
    /// responses at the same frames. DwiseNeuro: 16 frames, step 2, `.last`.
    /// `.clips(frames: f)` is `.strided(frames: f, step: 1, position: .reference)`.
    case strided(frames: Int, step: Int, position: ClipPosition)

    /// Frames per clip, the step between them and the placement rule; nil for full trials.
    public var clipShape: (frames: Int, step: Int, position: ClipPosition)? {
        switch self {
        case .clips(let frames): return (frames, 1, .reference)
        case .strided(let frames, let step, let position): return (frames, step, position)
        case .fullTrials: return nil
        }
    }

    /// Frames of a trial a clip covers, `(frames − 1)·step + 1`; nil for full trials.
    public var clipSpan: Int? { clipShape.map { ($0.frames - 1) * $0.step + 1 } }
}

/// Where a random clip window of span `s` may lie in a trial of length `L`.
public enum ClipPosition: String, Sendable, Equatable, Codable, CaseIterable {
    /// The reference's `randint(0, L − s)`: the first frame uniform in `0 ..< L − s` (a clip
    /// never ends on the last frame; a trial exactly `s` long starts at 0).
    case reference
    /// DwiseNeuro's `position="last"`: the last frame (the end frame) uniform in `s − 1 ... L − 1`.
    case last
}

/// One batch to build: which trials, and one random draw per trial for its clip start.
public struct BatchPlan: Sendable, Equatable {
    /// Index of the mouse in a cycler (0 for a single loader).
    public var mouseIndex: Int
    /// File indices of the trials.
    public var trials: [Int]
    /// One 64-bit draw per trial, turned into a start frame once the trial's length is known.
    public var draws: [UInt64]
    /// Per trial, its CutMix (nil: none); empty when no sample is CutMixed.
    public var cutMix: [CutMixDraw?]

    /// A plan; `draws` must have one entry per trial, `cutMix` one per trial or none.
    public init(mouseIndex: Int = 0, trials: [Int], draws: [UInt64], cutMix: [CutMixDraw?] = []) {
        precondition(draws.count == trials.count, "BatchPlan: \(draws.count) draws for \(trials.count) trials")
        precondition(cutMix.isEmpty || cutMix.count == trials.count, "BatchPlan: \(cutMix.count) CutMix draws for \(trials.count) trials")
        self.mouseIndex = mouseIndex
        self.trials = trials
        self.draws = draws
        self.cutMix = cutMix
    }
}

/// Builds batches from plans; pure and thread-safe, used by prefetch workers.
public struct BatchMaker: Sendable {
    /// The mouse.
    public let dataset: MouseDataset
    /// What to cut from each trial.
    public let mode: ClipMode

    /// A builder of batches of `dataset`.
    public init(dataset: MouseDataset, mode: ClipMode) {
        self.dataset = dataset
        self.mode = mode
    }

    /// Builds the batch a plan describes.
    public func makeBatch(_ plan: BatchPlan) throws -> MouseBatch {
        switch mode {
        case .clips, .strided:
            // Each sample is read, normalised and copied into the batch on its own thread (reading
            // a trial is a few MB of copying and scanning, the window a small part of it).
            let (frames, step, _) = mode.clipShape!
            var builder = MouseBatchBuilder(mouse: dataset, batchSize: plan.trials.count, frames: frames, step: step)
            let maker = self
            if plan.trials.count > 1 && Parallel.threadCount > 1 {
                try builder.fillConcurrently { k in try maker.clipSample(plan, k) }
            } else {
                for k in plan.trials.indices { builder.add(try clipSample(plan, k)) }
            }
            return builder.finish()
        case .fullTrials(let maxFrames):
            if plan.trials.count == 1 {
                let t = try dataset.loadNormalized(plan.trials[0])
                return MouseBatch.assemble(mouse: dataset, items: [(t, 0)], frames: min(t.length, maxFrames ?? .max))
            }
            // Lengths first (each trial read once, lengths cached), then one trial in memory at a time.
            var frames = try plan.trials.map { try dataset.trialLength($0) }.min() ?? 0
            if let cap = maxFrames { frames = min(frames, cap) }
            var builder = MouseBatchBuilder(mouse: dataset, batchSize: plan.trials.count, frames: frames)
            for index in plan.trials { builder.add(try dataset.loadNormalized(index), start: 0) }
            return builder.finish()
        }
    }

    /// Sample `k` of a clip plan: its window loaded (and its CutMix partner's, when it has one).
    func clipSample(_ plan: BatchPlan, _ k: Int) throws -> BatchSample {
        try Self.clipSample(dataset: dataset, mode: mode, trial: plan.trials[k], draw: plan.draws[k],
                            cutMix: plan.cutMix.isEmpty ? nil : plan.cutMix[k])
    }

    /// A clip of `trial` placed by `draw`, CutMixed when `cutMix` is given.
    static func clipSample(dataset: MouseDataset, mode: ClipMode, trial: Int, draw: UInt64, cutMix: CutMixDraw?,
                           responseOffset: Int = 0) throws -> BatchSample {
        guard let position = mode.clipShape?.position, let span = mode.clipSpan else {
            preconditionFailure("BatchMaker: a clip sample needs a clip mode, got \(mode)")
        }
        let window = try dataset.loadClip(trial, frames: span, draw: draw, position: position)
        var sample = BatchSample(mouse: dataset, trial: window, start: 0, responseOffset: responseOffset)
        if let cutMix {
            let partner = try dataset.loadClip(cutMix.partnerTrial, frames: span, draw: cutMix.partnerDraw, position: position)
            sample.cutMix = (partner, cutMix.box(height: dataset.inputHeight, width: dataset.inputWidth))
        }
        return sample
    }

    /// The start of a window of `frames` frames from a 64-bit draw: the reference's
    /// `randint(0, length − frames)`, or with `.last` an end frame uniform in `frames − 1 ... length − 1`.
    static func clipStart(length: Int, frames: Int, draw: UInt64, trial: Int, dataset: MouseDataset,
                          position: ClipPosition = .reference) throws -> Int {
        if length >= frames && position == .last { return Int(draw % UInt64(length - frames + 1)) }
        if length > frames { return Int(draw % UInt64(length - frames)) }
        if length == frames { return 0 }
        throw DataError(.trialTooShort, path: dataset.layout.trialFile(.responses, trial: trial),
                             expected: "a trial of at least \(frames) frames for \(frames)-frame clips",
                             found: "\(length) frames")
    }
}

/// Batches of one mouse and one tier: random clips for training, or full trials for evaluation.
///
/// Every random choice (trial order, clip starts) comes from the loader's `RandomGenerator` and
/// is drawn on the calling thread when an epoch is planned, so results do not depend on
/// prefetching or the number of workers.
///
/// ```swift
/// let loader = MouseLoader(dataset: mouse, tier: .train, batchSize: 8, mode: .clips(frames: 80),
///                          generator: RandomGenerator(seed: 42))
/// let epoch = loader.epoch(prefetch: 2)
/// while let batch = try epoch.next() { … }
/// ```
public final class MouseLoader {
    /// The mouse.
    public let dataset: MouseDataset
    /// The tier iterated.
    public let tier: MouseTier
    /// Samples per batch (the last batch may be smaller unless `dropLast`).
    public let batchSize: Int
    /// Clips or full trials.
    public let mode: ClipMode
    /// Whether each epoch visits the trials in a new random order (the reference shuffles
    /// `train` and reads other tiers sequentially).
    public let shuffle: Bool
    /// Whether a last incomplete batch is dropped.
    public let dropLast: Bool
    /// The generator behind every random choice.
    public let generator: RandomGenerator
    /// Trials of the tier, ascending.
    public let trialIndices: [Int]
    /// Index given to this loader's plans (set by `MouseCycler`).
    public var mouseIndex = 0
    /// Probability that a training clip is CutMixed with another random clip of this loader's
    /// trials (``CutMixDraw``); 0 (the default) draws nothing for it. Clip modes only.
    public var cutMixProbability: Double = 0

    /// A loader over `tier` of `dataset`, or over the given `trials` of it (a fold of a split,
    /// ascending order is kept; `tier` then only sets the default of `shuffle`). `shuffle`
    /// defaults to `tier == .train`.
    public init(dataset: MouseDataset, tier: MouseTier, batchSize: Int = 8, mode: ClipMode = .clips(frames: 80),
                shuffle: Bool? = nil, dropLast: Bool = false, generator: RandomGenerator, trials: [Int]? = nil) {
        precondition(batchSize >= 1, "MouseLoader: batchSize must be at least 1, got \(batchSize)")
        if let shape = mode.clipShape {
            precondition(shape.frames >= 1 && shape.step >= 1,
                         "MouseLoader: clip length and step must be at least 1, got \(shape.frames) and \(shape.step)")
        }
        self.dataset = dataset
        self.tier = tier
        self.batchSize = batchSize
        self.mode = mode
        self.shuffle = shuffle ?? (tier == .train)
        self.dropLast = dropLast
        self.generator = generator
        self.trialIndices = trials ?? dataset.trials(in: tier)
    }

    /// Batches per epoch.
    public var batchesPerEpoch: Int {
        dropLast ? trialIndices.count / batchSize : (trialIndices.count + batchSize - 1) / batchSize
    }

    /// The builder that turns this loader's plans into batches.
    public var maker: BatchMaker { BatchMaker(dataset: dataset, mode: mode) }

    /// Plans one epoch: the trial order (shuffled with the generator when `shuffle`), cut into
    /// batches, with one draw per trial for its clip start.
    public func planEpoch() -> [BatchPlan] {
        var order = trialIndices
        if shuffle {
            // Fisher-Yates with the loader's generator.
            if order.count > 1 {
                for i in stride(from: order.count - 1, to: 0, by: -1) {
                    let j = Int(generator.next() % UInt64(i + 1))
                    order.swapAt(i, j)
                }
            }
        }
        var plans: [BatchPlan] = []
        var i = 0
        while i < order.count {
            let end = min(order.count, i + batchSize)
            if dropLast && end - i < batchSize { break }
            let trials = Array(order[i..<end])
            var draws: [UInt64] = []
            var cutMix: [CutMixDraw?] = []
            if mode.clipShape != nil {
                draws = trials.map { _ in generator.next() }
                if cutMixProbability > 0 {
                    cutMix = trials.map { _ in
                        CutMixDraw.draw(probability: cutMixProbability, partners: trialIndices, height: dataset.inputHeight,
                                        width: dataset.inputWidth, generator: generator)
                    }
                }
            } else {
                draws = trials.map { _ in 0 }
            }
            plans.append(BatchPlan(mouseIndex: mouseIndex, trials: trials, draws: draws, cutMix: cutMix))
            i = end
        }
        return plans
    }

    /// One epoch of batches, built `prefetch` batches ahead on `workers` background threads
    /// (prefetch 0: built on the calling thread by `next()`).
    public func epoch(prefetch: Int = 2, workers: Int = 1) -> BatchStream {
        BatchStream(plans: planEpoch(), makers: [maker], prefetch: prefetch, workers: workers)
    }
}

/// A finite stream of batches built from plans, optionally prefetched.
public final class BatchStream {
    private let plans: [BatchPlan]
    private let makers: [BatchMaker]
    private let prefetcher: Prefetcher<MouseBatch>?
    private var position = 0

    /// Streams `plans`, each built by `makers[plan.mouseIndex]`.
    public init(plans: [BatchPlan], makers: [BatchMaker], prefetch: Int = 2, workers: Int = 1) {
        self.plans = plans
        self.makers = makers
        if prefetch > 0 {
            let p = plans, m = makers
            prefetcher = Prefetcher(count: plans.count, capacity: prefetch, workers: workers) { i in
                try m[p[i].mouseIndex].makeBatch(p[i])
            }
        } else {
            prefetcher = nil
        }
    }

    /// Number of batches in the stream.
    public var count: Int { plans.count }

    /// The plans, in order.
    public var batchPlans: [BatchPlan] { plans }

    /// The next batch with the index of its mouse, nil at the end.
    public func nextWithMouse() throws -> (mouseIndex: Int, batch: MouseBatch)? {
        guard position < plans.count else { return nil }
        let plan = plans[position]
        position += 1
        if let prefetcher {
            guard let b = try prefetcher.next() else { return nil }
            return (plan.mouseIndex, b)
        }
        return (plan.mouseIndex, try makers[plan.mouseIndex].makeBatch(plan))
    }

    /// The next batch, nil at the end.
    public func next() throws -> MouseBatch? { try nextWithMouse()?.batch }

    /// Stops background work early.
    public func cancel() { prefetcher?.cancel() }
}

/// Loaders for every tier of a mouse except `none` (the reference's per-tier dictionary):
/// `train` gets shuffled random clips, other tiers sequential ones; each loader its own
/// generator forked from `generator`.
public func makeTierLoaders(dataset: MouseDataset, batchSize: Int = 8, mode: ClipMode = .clips(frames: 80),
                            generator: RandomGenerator) -> [MouseTier: MouseLoader] {
    var out: [MouseTier: MouseLoader] = [:]
    for tier in MouseTier.allCases where tier != .none && !dataset.trials(in: tier).isEmpty {
        out[tier] = MouseLoader(dataset: dataset, tier: tier, batchSize: batchSize, mode: mode, generator: generator.fork())
    }
    return out
}
