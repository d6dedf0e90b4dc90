/// Early stopping with restore-best and learning-rate decay steps, with the semantics of
/// `neuralpredictors.training.early_stopping` (the loop that drives the reference trainer).
///
/// It is a state machine without any knowledge of the model: the trainer reports the objective
/// before training and after every `interval` epochs, and follows the returned ``Decision``
/// (snapshot the weights as the new best, load the best weights back, stop).
///
/// The sequence, as in the reference:
/// 1. The objective is evaluated once before training; those weights are the first best.
/// 2. Every `interval` epochs the objective is evaluated. If it beats the best by more than
///    `tolerance` it becomes the best (weights are snapshotted) and the patience counter resets;
///    otherwise the counter grows.
/// 3. When the counter reaches `patience` (or `maxEpochs` is reached), a **decay step** ends: the
///    best weights are restored (when `restoreBest`, `lrDecaySteps > 1` and epochs remain) and
///    the counter resets. The learning rate itself is cut by the scheduler, not here.
/// 4. Training stops after `lrDecaySteps` decay steps, at `maxEpochs`, or at a non-finite
///    objective; with `restoreBest` the best weights are loaded at the end.
public struct EarlyStopping {
    /// Settings of ``EarlyStopping``.
    public struct Configuration: Codable, Sendable, Equatable {
        /// Epochs between two evaluations of the objective.
        public var interval: Int
        /// Evaluations without improvement that end a decay step.
        public var patience: Int
        /// Margin by which the objective must beat the best to count as an improvement.
        public var tolerance: Double
        /// Whether larger objectives are better.
        public var mode: OptimizationMode
        /// Load the best weights at the end of each decay step and at the end of training.
        public var restoreBest: Bool
        /// Number of decay steps before training stops.
        public var lrDecaySteps: Int
        /// Upper bound on the number of epochs.
        public var maxEpochs: Int
        /// Epochs trained before early stopping starts: their objectives are recorded but use up
        /// no patience, and the first evaluation at or after this epoch replaces the initial best
        /// (so training never goes back to weights from before). For a model whose inputs change
        /// during a warm-up (`VideoModelConfiguration.behaviorWarmupEpochs`). 0: the reference.
        public var warmupEpochs: Int
        /// Start counting decay steps again at every improvement, so that training stops only
        /// after `lrDecaySteps` decay steps in a row without improvement (ViV1T's `Scheduler`,
        /// which resets `num_reduce` on improvement). false: the reference (`neuralpredictors`).
        public var resetDecayStepsOnImprovement: Bool

        /// The reference recipe: interval 1, patience 5, tolerance 1e-6, maximise, restore best,
        /// 4 decay steps, at most 200 epochs.
        public init(interval: Int = 1, patience: Int = 5, tolerance: Double = 1e-6, mode: OptimizationMode = .max,
                    restoreBest: Bool = true, lrDecaySteps: Int = 4, maxEpochs: Int = 200, warmupEpochs: Int = 0,
                    resetDecayStepsOnImprovement: Bool = false) {
            precondition(interval >= 1, "EarlyStopping: interval must be at least 1, got \(interval)")
            precondition(patience >= 1, "EarlyStopping: patience must be at least 1, got \(patience)")
            precondition(lrDecaySteps >= 1, "EarlyStopping: lrDecaySteps must be at least 1, got \(lrDecaySteps)")
            precondition(maxEpochs >= 0, "EarlyStopping: maxEpochs must be non-negative, got \(maxEpochs)")
            precondition(warmupEpochs >= 0, "EarlyStopping: warmupEpochs must be non-negative, got \(warmupEpochs)")
            self.interval = interval
            self.patience = patience
            self.tolerance = tolerance
            self.mode = mode
            self.restoreBest = restoreBest
            self.lrDecaySteps = lrDecaySteps
            self.maxEpochs = maxEpochs
            self.warmupEpochs = warmupEpochs
            self.resetDecayStepsOnImprovement = resetDecayStepsOnImprovement
        }

        /// No early stopping: evaluate every epoch, train exactly `epochs` epochs, keep the final weights.
        public static func fixedEpochs(_ epochs: Int, mode: OptimizationMode = .max) -> Configuration {
            Configuration(interval: 1, patience: Int.max, tolerance: 0, mode: mode, restoreBest: false,
                          lrDecaySteps: 1, maxEpochs: epochs)
        }
    }

    /// What the trainer must do after reporting an objective.
    public struct Decision: Equatable, Sendable {
        /// The objective is the new best: snapshot the weights.
        public var improved = false
        /// Load the best snapshot into the model now.
        public var restoreBest = false
        /// A decay step ended with this evaluation.
        public var endedDecayStep = false
        /// Training is over.
        public var finished = false
    }

    /// The settings.
    public let configuration: Configuration
    /// Epochs completed.
    public private(set) var epoch = 0
    /// Decay steps completed (since the last improvement with
    /// ``Configuration/resetDecayStepsOnImprovement``).
    public private(set) var decayStep = 0
    /// Evaluations without improvement in the current decay step.
    public private(set) var patienceCounter = 0
    /// The best objective so far.
    public private(set) var bestObjective = Double.nan
    /// The epoch at which the best objective was reached (0: before training).
    public private(set) var bestEpoch = 0
    /// The last objective evaluated.
    public private(set) var currentObjective = Double.nan
    /// Whether the initial objective has been reported.
    public private(set) var started = false
    /// Whether training is over.
    public private(set) var isFinished = false
    /// Whether the first evaluation after the warm-up has yet to become the best (it sets
    /// `bestEpoch` to at least the warm-up's length).
    private var warmupBestPending: Bool { configuration.warmupEpochs > 0 && bestEpoch < configuration.warmupEpochs }

    /// A fresh state.
    public init(configuration: Configuration = .init()) {
        self.configuration = configuration
    }

    /// Whether the epochs completed so far are still inside the warm-up (no early stopping yet).
    public var isWarmingUp: Bool { epoch < configuration.warmupEpochs }

    /// Whether `value` beats the best by more than the tolerance.
    public func isImprovement(_ value: Double) -> Bool {
        switch configuration.mode {
        case .max: return value > bestObjective + configuration.tolerance
        case .min: return value < bestObjective - configuration.tolerance
        }
    }

    /// Reports the objective of the initial weights (before any training).
    public mutating func start(objective: Double) -> Decision {
        precondition(!started, "EarlyStopping.start: already started")
        started = true
        bestObjective = objective
        currentObjective = objective
        var d = Decision()
        d.improved = true
        if !objective.isFinite || configuration.maxEpochs <= 0 { finish(&d) }
        return d
    }

    /// Records that an epoch of training finished; returns whether the objective must be evaluated
    /// now (and reported with ``record(objective:)``).
    public mutating func epochCompleted() -> Bool {
        precondition(started && !isFinished, "EarlyStopping.epochCompleted: not running")
        epoch += 1
        return epoch % configuration.interval == 0
    }

    /// Reports the objective evaluated after ``epochCompleted()`` asked for it.
    public mutating func record(objective: Double) -> Decision {
        precondition(started && !isFinished, "EarlyStopping.record: not running")
        currentObjective = objective
        var d = Decision()
        if isWarmingUp || warmupBestPending {
            // During the warm-up nothing counts; the first evaluation after it is the new start
            // (also when training ends inside the warm-up: trained weights beat the initial ones).
            if !isWarmingUp || epoch >= configuration.maxEpochs {
                bestObjective = objective
                bestEpoch = epoch
                d.improved = true
            }
            if !objective.isFinite || epoch >= configuration.maxEpochs { finish(&d) }
            return d
        }
        if isImprovement(objective) {
            bestObjective = objective
            bestEpoch = epoch
            patienceCounter = 0
            if configuration.resetDecayStepsOnImprovement { decayStep = 0 }
            d.improved = true
        } else {
            patienceCounter += 1
        }
        if !objective.isFinite {
            finish(&d)
            return d
        }
        if patienceCounter >= configuration.patience || epoch >= configuration.maxEpochs {
            d.endedDecayStep = true
            if epoch < configuration.maxEpochs && configuration.lrDecaySteps > 1 && configuration.restoreBest {
                d.restoreBest = true
            }
            decayStep += 1
            patienceCounter = 0
            if decayStep >= configuration.lrDecaySteps || epoch >= configuration.maxEpochs { finish(&d) }
        }
        return d
    }

    private mutating func finish(_ d: inout Decision) {
        isFinished = true
        d.finished = true
        if configuration.restoreBest { d.restoreBest = true }
    }

    /// The state for checkpoints.
    public func stateRecord() -> StateRecord {
        var r = StateRecord()
        r.integers["epoch"] = Int64(epoch)
        r.integers["decay_step"] = Int64(decayStep)
        r.integers["patience_counter"] = Int64(patienceCounter)
        r.integers["best_epoch"] = Int64(bestEpoch)
        r.integers["started"] = started ? 1 : 0
        r.integers["finished"] = isFinished ? 1 : 0
        r.reals["best_objective"] = bestObjective
        r.reals["current_objective"] = currentObjective
        return r
    }

    /// Restores a state saved by ``stateRecord()``.
    public mutating func loadState(_ r: StateRecord) throws {
        guard let epoch = r.integers["epoch"], let decay = r.integers["decay_step"],
              let patience = r.integers["patience_counter"], let bestEpoch = r.integers["best_epoch"],
              let started = r.integers["started"], let finished = r.integers["finished"],
              let best = r.reals["best_objective"], let current = r.reals["current_objective"] else {
            throw TrainingError.invalidState("early stopping state is incomplete: \(r.integers.keys.sorted() + r.reals.keys.sorted())")
        }
        self.epoch = Int(epoch)
        self.decayStep = Int(decay)
        self.patienceCounter = Int(patience)
        self.bestEpoch = Int(bestEpoch)
        self.started = started != 0
        self.isFinished = finished != 0
        self.bestObjective = best
        self.currentObjective = current
    }
}

// MARK: - Decoding with defaults for missing keys

extension EarlyStopping.Configuration {
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = Self()
        self.init()
        interval = try c.value(.interval, or: d.interval)
        patience = try c.value(.patience, or: d.patience)
        tolerance = try c.value(.tolerance, or: d.tolerance)
        mode = try c.value(.mode, or: d.mode)
        restoreBest = try c.value(.restoreBest, or: d.restoreBest)
        lrDecaySteps = try c.value(.lrDecaySteps, or: d.lrDecaySteps)
        maxEpochs = try c.value(.maxEpochs, or: d.maxEpochs)
        warmupEpochs = try c.value(.warmupEpochs, or: d.warmupEpochs)
        resetDecayStepsOnImprovement = try c.value(.resetDecayStepsOnImprovement, or: d.resetDecayStepsOnImprovement)
        try c.require(interval >= 1, .interval, "must be at least 1")
        try c.require(patience >= 1, .patience, "must be at least 1")
        try c.require(lrDecaySteps >= 1, .lrDecaySteps, "must be at least 1")
        try c.require(maxEpochs >= 0, .maxEpochs, "must be non-negative")
        try c.require(warmupEpochs >= 0, .warmupEpochs, "must be non-negative")
    }
}
