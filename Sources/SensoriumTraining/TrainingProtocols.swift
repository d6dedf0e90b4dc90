import SensoriumMetrics
import SensoriumTensor
import SensoriumLayers

/// One batch of a training or validation set: clips of one mouse and the responses recorded
/// while the mouse watched them.
///
/// The ``Trainer`` only needs to know which mouse a batch belongs to, its size and its targets;
/// everything else (videos, behaviour, pupil position) is for the model.
public protocol TrainingBatch {
    /// Name of the mouse the batch comes from; models use it to pick the mouse's readout.
    var mouse: String { get }
    /// Number of clips in the batch.
    var batchSize: Int { get }
    /// The recorded responses, time-major `(batch, frames, neurons)` like the model's predictions.
    func targetTensor() -> Tensor
    /// The weight of every target entry, `(batch, 1, neurons)` (the same for every frame), or nil
    /// when every entry weighs 1. An entry of weight 0 is not scored and gets no gradient (the
    /// neurons of other mice in a batch that mixes mice).
    func targetWeights() -> Tensor?
    /// The total weight of the batch's samples, the normaliser of a per-sample loss
    /// (``SamplePoissonLoss``): for each sample, the sum over the groups of neurons it is scored on
    /// (its mouse, and in distillation the other mice) of the group's weight. ``batchSize`` without
    /// weights.
    func sampleWeightTotal() -> Double
    /// The parts of a validation batch scored as one mouse each: `(mouse, predictions (B', T', N_m),
    /// targets (B', T, N_m))`. By default the whole batch as ``mouse``; a batch that mixes mice
    /// gives each sample's predictions and targets of its own mouse, grouped by mouse.
    func scoredParts(predictions: Tensor, targets: Tensor) -> [(mouse: String, predictions: Tensor, targets: Tensor)]
}

extension TrainingBatch {
    /// No weights: every entry counts once.
    public func targetWeights() -> Tensor? { nil }
    /// ``batchSize``.
    public func sampleWeightTotal() -> Double { Double(batchSize) }
    /// The whole batch, as ``mouse``.
    public func scoredParts(predictions: Tensor, targets: Tensor) -> [(mouse: String, predictions: Tensor, targets: Tensor)] {
        [(mouse, predictions, targets)]
    }
}

/// A model the ``Trainer`` can fit: a ``/SensoriumLayers/Module`` (for its parameters, buffers, state dictionary
/// and train/eval mode) that predicts the responses of a batch.
///
/// ```swift
/// final class MyModel: Module, TrainableModel {
///     let core: Linear
///     let readouts: [String: Linear]
///     func forward(_ batch: MyBatch) -> Tensor {
///         readouts[batch.mouse]!(core(batch.inputs).elu()).elu() + 1
///     }
/// }
/// ```
public protocol TrainableModel<Batch>: Module {
    /// The batches the model reads.
    associatedtype Batch: TrainingBatch

    /// Predicted responses `(batch, frames', neurons)`, aligned with the **last** `frames'` frames
    /// of the batch's targets (a model whose temporal convolutions consume a burn-in predicts
    /// fewer frames than it sees).
    func forward(_ batch: Batch) -> Tensor

    /// The regularisation term added to the loss of `batch` (for example the core's Laplace and
    /// group-sparsity penalties plus the batch mouse's readout penalty), or nil for none.
    func regularizer(for batch: Batch) -> Tensor?

    /// The generators the model draws from while training (dropout, readout position sampling).
    /// Their states are saved in checkpoints so that resuming continues the same random streams.
    var randomGenerators: [RandomGenerator] { get }

    /// Called by the ``Trainer`` before it trains epoch `epoch` (0 for the first), also when a run
    /// resumes; a model whose inputs change over training (a warm-up) sets itself up here.
    func epochWillStart(_ epoch: Int)

    /// What the model saves in training checkpoints to be rebuilt from them alone (for
    /// `VideoModel`, its architecture as JSON), or nil. The ``Trainer`` writes it.
    var checkpointMetadata: String? { get }
}

extension TrainableModel {
    /// Nothing to prepare by default.
    public func epochWillStart(_ epoch: Int) {}
    /// No regularisation by default.
    public func regularizer(for batch: Batch) -> Tensor? { nil }
    /// No random draws by default.
    public var randomGenerators: [RandomGenerator] { [] }
    /// Nothing to rebuild the model from by default.
    public var checkpointMetadata: String? { nil }
}

/// The rounds of one training epoch: each round holds one batch of every mouse and is one
/// optimizer step (the reference's gradient accumulation over mice).
///
/// Rounds are produced lazily by an iterator that can start at any round, so that a run resumed
/// from a checkpoint taken in the middle of an epoch skips the rounds already trained without
/// loading them.
public struct TrainingRounds<Batch> {
    /// Number of rounds in the epoch.
    public let count: Int
    private let makeIterator: (Int) throws -> () throws -> [Batch]?

    /// Rounds produced by an iterator.
    /// - Parameters:
    ///   - count: number of rounds in the epoch.
    ///   - makeIterator: given the first round to produce, returns a function yielding the rounds
    ///     from that one on, in order, and nil after the last.
    public init(count: Int, makeIterator: @escaping (_ firstRound: Int) throws -> () throws -> [Batch]?) {
        precondition(count >= 0, "TrainingRounds: negative round count \(count)")
        self.count = count
        self.makeIterator = makeIterator
    }

    /// Rounds held in memory.
    public init(_ rounds: [[Batch]]) {
        self.init(count: rounds.count) { first in
            var index = first
            return {
                guard index < rounds.count else { return nil }
                defer { index += 1 }
                return rounds[index]
            }
        }
    }

    /// An iterator over the rounds from `firstRound` on.
    public func rounds(from firstRound: Int = 0) throws -> () throws -> [Batch]? {
        precondition(firstRound >= 0 && firstRound <= count,
                     "TrainingRounds: first round \(firstRound) outside 0...\(count)")
        return try makeIterator(firstRound)
    }
}

/// Where the ``Trainer`` takes its data from: training epochs as rounds of one batch per mouse,
/// and the validation set.
///
/// **Reproducibility contract.** ``trainingRounds(epoch:generator:)`` must draw every random
/// choice of the epoch (shuffles, clip offsets) from `generator` and from nothing else. The
/// trainer derives that generator from its seed and the epoch number, so the same seed gives the
/// same batches, and a resumed run sees exactly the batches the uninterrupted run saw.
public protocol TrainingData<Batch>: AnyObject {
    /// The batches the data source produces.
    associatedtype Batch: TrainingBatch

    /// Plans training epoch `epoch` (0-based), drawing its randomness from `generator` only.
    func trainingRounds(epoch: Int, generator: RandomGenerator) throws -> TrainingRounds<Batch>

    /// Calls `body` with every validation batch, in a fixed order (no randomness: the objective of
    /// early stopping must not change between two evaluations of the same weights).
    func forEachValidationBatch(_ body: (Batch) throws -> Void) throws

    /// Number of trials in the mouse's dataset (all tiers), the `K` of the reference's loss scale
    /// `sqrt(K / batchSize)`.
    func trialCount(mouse: String) -> Int

    /// Number of trials the mouse trains on (its training tier), the `K` of ViV1T's loss scale.
    /// Defaults to ``trialCount(mouse:)``.
    func trainingTrialCount(mouse: String) -> Int

    /// Number of batches ``forEachValidationBatch(_:)`` yields, when known (for progress displays).
    var validationBatchCount: Int? { get }
}

extension TrainingData {
    public func trainingTrialCount(mouse: String) -> Int { trialCount(mouse: mouse) }

    /// Unknown by default.
    public var validationBatchCount: Int? { nil }
}

/// What a ``TrainingLoss`` knows about the batch it scores.
public struct LossContext: Equatable {
    /// Name of the mouse.
    public var mouse: String
    /// Number of clips in the batch.
    public var batchSize: Int
    /// Number of trials in the mouse's dataset (all tiers).
    public var trialCount: Int
    /// The batch's ``TrainingBatch/targetWeights()``, `(B, 1, N)`, or nil (every entry weighs 1).
    public var weights: Tensor?
    /// The batch's ``TrainingBatch/sampleWeightTotal()`` (`batchSize` without weights).
    public var sampleWeightTotal: Double

    /// Number of trials the mouse trains on (its training tier).
    public var trainingTrialCount: Int

    /// A context; `sampleWeightTotal` defaults to `batchSize`, `trainingTrialCount` to `trialCount`.
    public init(mouse: String, batchSize: Int, trialCount: Int, weights: Tensor? = nil, sampleWeightTotal: Double? = nil,
                trainingTrialCount: Int? = nil) {
        self.mouse = mouse
        self.batchSize = batchSize
        self.trialCount = trialCount
        self.weights = weights
        self.sampleWeightTotal = sampleWeightTotal ?? Double(batchSize)
        self.trainingTrialCount = trainingTrialCount ?? trialCount
    }

    public static func == (a: LossContext, b: LossContext) -> Bool {
        guard a.mouse == b.mouse, a.batchSize == b.batchSize, a.trialCount == b.trialCount,
              a.sampleWeightTotal == b.sampleWeightTotal,
              a.trainingTrialCount == b.trainingTrialCount else { return false }
        switch (a.weights, b.weights) {
        case (nil, nil): return true
        case let (x?, y?): return x.shape == y.shape && x.scalars == y.scalars
        default: return false
        }
    }
}

/// The data term of the training objective for one batch.
public protocol TrainingLoss: Sendable {
    /// The loss of `predictions` `(B, T', N)` against `targets` `(B, T, N)` (`T ≥ T'`; the
    /// predictions are aligned with the last `T'` target frames), a scalar tensor.
    func callAsFunction(predictions: Tensor, targets: Tensor, context: LossContext) -> Tensor
}

/// Where the Poisson loss adds its `eps`.
public enum PoissonEpsPlacement: String, Codable, Sendable, CaseIterable {
    /// Inside the log only: `ŷ − y·log(ŷ + eps)` (`neuralpredictors` `PoissonLoss`, the reference).
    case log
    /// On every term: `(ŷ + eps) − (y + eps)·log(ŷ + eps)` (Dynamic-V1FM's `PossionNLLloss`).
    case everywhere
}

/// The reference's loss: the summed Poisson negative log-likelihood
/// `Σ ŷ − y·log(ŷ + eps)` over the last `T'` frames, multiplied by `sqrt(K / B)` (trials in the
/// mouse's dataset over batch size) when `scaled`. With ``PoissonEpsPlacement/everywhere`` the
/// terms are `(ŷ + eps) − (y + eps)·log(ŷ + eps)` (Dynamic-V1FM), whose gradient is
/// `1 − (y + eps) / (ŷ + eps)`. With target weights (``LossContext/weights``) each term is
/// multiplied by its weight (``/SensoriumMetrics/weightedPoissonLoss3d(_:target:weights:eps:)``).
public struct ScaledPoissonLoss: TrainingLoss {
    /// Added to the prediction inside the log (PyTorch `PoissonNLLLoss` eps).
    public var eps: Float
    /// Whether to multiply by `sqrt(trialCount / batchSize)` (the reference's `scale_loss=True`).
    public var scaled: Bool
    /// Where `eps` is added (inside the log only, the reference, by default).
    public var epsPlacement: PoissonEpsPlacement

    /// The reference's loss: eps ``/SensoriumMetrics/PoissonLossDefaults/trainerEps``, scaled.
    public init(eps: Float = Float(PoissonLossDefaults.trainerEps), scaled: Bool = true, epsPlacement: PoissonEpsPlacement = .log) {
        self.eps = eps
        self.scaled = scaled
        self.epsPlacement = epsPlacement
    }

    /// The scale factor for a batch.
    public func scale(for context: LossContext) -> Float {
        guard scaled else { return 1 }
        return Float((Double(context.trialCount) / Double(max(context.batchSize, 1))).squareRoot())
    }

    public func callAsFunction(predictions: Tensor, targets: Tensor, context: LossContext) -> Tensor {
        let loss: Tensor
        switch epsPlacement {
        case .log:
            loss = context.weights.map { weightedPoissonLoss3d(predictions, target: targets, weights: $0, eps: eps) }
                ?? poissonLoss3d(predictions, target: targets, eps: eps, reduction: .sum)
        case .everywhere:
            precondition(predictions.rank >= 2 && predictions.rank == targets.rank
                         && Array(predictions.shape.dropFirst(2)) == Array(targets.shape.dropFirst(2))
                         && predictions.shape[0] == targets.shape[0] && targets.shape[1] >= predictions.shape[1],
                         "ScaledPoissonLoss: predictions \(predictions.shape) and targets \(targets.shape) must match apart from targets having at least as many frames on axis 1")
            let frames = targets.shape[1], kept = predictions.shape[1]
            let aligned = kept == frames ? targets : targets.sliced(axis: 1, range: (frames - kept)..<frames)
            let shifted = predictions + eps
            let terms = shifted - (aligned.detached() + eps) * shifted.log()
            loss = (context.weights.map { terms * $0 } ?? terms).sum()
        }
        let s = scale(for: context)
        return s == 1 ? loss : loss * s
    }
}

/// DwiseNeuro's loss (`MicePoissonLoss` with `log_input=False`): the Poisson negative
/// log-likelihood `ŷ − y·log(ŷ + eps)` summed over neurons and the last `T'` frames of each
/// sample, weighted per sample and averaged: `Σ_{b,t,n} w[b,n] · (ŷ − y·log(ŷ + eps)) / W`, with
/// `W` = ``LossContext/sampleWeightTotal`` (the batch size without weights, so the loss is the
/// per-sample sum averaged over the batch). In a batch that mixes mice the weights are 1 on a
/// sample's own mouse and 0 elsewhere (only its own readout is scored); distillation gives the
/// other mice's blocks a weight that makes them a chosen share of the loss.
public struct SamplePoissonLoss: TrainingLoss {
    /// Added to the prediction inside the log (1e-8 in DwiseNeuro).
    public var eps: Float

    /// DwiseNeuro's loss.
    public init(eps: Float = Float(PoissonLossDefaults.trainerEps)) { self.eps = eps }

    public func callAsFunction(predictions: Tensor, targets: Tensor, context: LossContext) -> Tensor {
        let sum = context.weights.map { weightedPoissonLoss3d(predictions, target: targets, weights: $0, eps: eps) }
            ?? poissonLoss3d(predictions, target: targets, eps: eps, reduction: .sum)
        precondition(context.sampleWeightTotal > 0, "SamplePoissonLoss: the batch's sample weights add up to \(context.sampleWeightTotal)")
        return sum * Float(1 / context.sampleWeightTotal)
    }
}
