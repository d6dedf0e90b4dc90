#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Whether a monitored quantity should go up or down.
public enum OptimizationMode: String, Codable, Sendable {
    /// Larger is better (correlations).
    case max
    /// Smaller is better (losses).
    case min
}

/// How ``ReduceLROnPlateau`` decides that a value improved on the best so far.
public enum ThresholdMode: String, Codable, Sendable {
    /// Relative: better than `best · (1 ± threshold)` (PyTorch's default `"rel"`).
    case relative = "rel"
    /// Absolute: better than `best ± threshold` (PyTorch `"abs"`, what the reference uses).
    case absolute = "abs"
}

/// Cuts the learning rate by `factor` when a monitored value has stopped improving for more than
/// `patience` evaluations, with PyTorch `torch.optim.lr_scheduler.ReduceLROnPlateau` semantics
/// (threshold modes, cooldown, minimum learning rate, and the `eps` below which a cut is skipped).
///
/// The reference recipe monitors the validation single-trial correlation: mode max, factor 0.3,
/// patience 5, absolute threshold 1e-6, minimum learning rate 1e-4.
public final class ReduceLROnPlateau {
    /// Settings of ``ReduceLROnPlateau``.
    public struct Configuration: Codable, Sendable, Equatable {
        /// Whether the monitored value should increase or decrease.
        public var mode: OptimizationMode
        /// Multiplier applied to the learning rate at each cut.
        public var factor: Double
        /// Number of evaluations without improvement tolerated; the cut happens on the next one.
        public var patience: Int
        /// Minimal improvement that counts.
        public var threshold: Double
        /// Whether `threshold` is relative or absolute.
        public var thresholdMode: ThresholdMode
        /// Evaluations to wait after a cut before counting bad evaluations again.
        public var cooldown: Int
        /// Lower bound of the learning rate.
        public var minLearningRate: Double
        /// A cut smaller than this is skipped.
        public var eps: Double

        /// The reference recipe: max, factor 0.3, patience 5, absolute threshold 1e-6, min 1e-4.
        public init(mode: OptimizationMode = .max, factor: Double = 0.3, patience: Int = 5,
                    threshold: Double = 1e-6, thresholdMode: ThresholdMode = .absolute,
                    cooldown: Int = 0, minLearningRate: Double = 1e-4, eps: Double = 1e-8) {
            precondition(factor < 1 && factor >= 0, "ReduceLROnPlateau: factor must be in [0, 1), got \(factor)")
            precondition(patience >= 0 && cooldown >= 0, "ReduceLROnPlateau: patience and cooldown must be non-negative")
            self.mode = mode
            self.factor = factor
            self.patience = patience
            self.threshold = threshold
            self.thresholdMode = thresholdMode
            self.cooldown = cooldown
            self.minLearningRate = minLearningRate
            self.eps = eps
        }

        /// PyTorch's constructor defaults (mode min, factor 0.1, patience 10, relative 1e-4, min 0).
        public static var pytorchDefaults: Configuration {
            Configuration(mode: .min, factor: 0.1, patience: 10, threshold: 1e-4, thresholdMode: .relative,
                          cooldown: 0, minLearningRate: 0, eps: 1e-8)
        }
    }

    /// The settings.
    public let configuration: Configuration
    /// The best value seen so far (starts at the worst possible value).
    public private(set) var best: Double
    /// Consecutive evaluations without improvement.
    public private(set) var badEvaluations = 0
    /// Evaluations left in the current cooldown.
    public private(set) var cooldownCounter = 0
    /// Number of evaluations so far.
    public private(set) var evaluations = 0

    /// A scheduler in its initial state.
    public init(configuration: Configuration = .init()) {
        self.configuration = configuration
        self.best = configuration.mode == .max ? -Double.infinity : Double.infinity
    }

    /// Whether `value` improves on `best`.
    public func isBetter(_ value: Double, than best: Double) -> Bool {
        let c = configuration
        switch (c.mode, c.thresholdMode) {
        case (.min, .relative): return value < best * (1 - c.threshold)
        case (.min, .absolute): return value < best - c.threshold
        case (.max, .relative): return value > best * (c.threshold + 1)
        case (.max, .absolute): return value > best + c.threshold
        }
    }

    /// Records one evaluation and returns the learning rate to use from now on.
    /// - Parameters:
    ///   - value: the monitored value.
    ///   - learningRate: the current learning rate.
    @discardableResult
    public func step(_ value: Double, learningRate: Double) -> Double {
        evaluations += 1
        if isBetter(value, than: best) {
            best = value
            badEvaluations = 0
        } else {
            badEvaluations += 1
        }
        if cooldownCounter > 0 {
            cooldownCounter -= 1
            badEvaluations = 0
        }
        guard badEvaluations > configuration.patience else { return learningRate }
        cooldownCounter = configuration.cooldown
        badEvaluations = 0
        let reduced = Swift.max(learningRate * configuration.factor, configuration.minLearningRate)
        return learningRate - reduced > configuration.eps ? reduced : learningRate
    }

    /// Records one evaluation and updates the optimizer's learning rate.
    public func step(_ value: Double, optimizer: Optimizer) {
        optimizer.learningRate = step(value, learningRate: optimizer.learningRate)
    }

    /// The scheduler's state, for checkpoints.
    public func stateRecord() -> StateRecord {
        var r = StateRecord()
        r.reals["best"] = best
        r.integers["bad_evaluations"] = Int64(badEvaluations)
        r.integers["cooldown_counter"] = Int64(cooldownCounter)
        r.integers["evaluations"] = Int64(evaluations)
        return r
    }

    /// Restores a state saved by ``ReduceLROnPlateau/stateRecord()->StateRecord``.
    public func loadState(_ record: StateRecord) throws {
        guard let best = record.reals["best"], let bad = record.integers["bad_evaluations"],
              let cooldown = record.integers["cooldown_counter"], let evaluations = record.integers["evaluations"] else {
            throw TrainingError.invalidState("ReduceLROnPlateau state needs best, bad_evaluations, cooldown_counter and evaluations")
        }
        self.best = best
        self.badEvaluations = Int(bad)
        self.cooldownCounter = Int(cooldown)
        self.evaluations = Int(evaluations)
    }
}

/// A learning rate that rises linearly during a warm-up and then follows a half cosine down to a
/// floor, as a function of training progress measured in (fractional) epochs.
///
/// At progress `p` (epochs completed, including the fraction of the current epoch, measured at the
/// start of a step) and `δ` = one step's share of an epoch:
/// - warm-up (`p < warmupEpochs`): `base · (p + δ) / warmupEpochs`, or with ``warmupFromZero``
///   `base · p / warmupEpochs` (DwiseNeuro's `LambdaLR(i / N)`: step `i` of `N` warm-up steps
///   uses `base · i / N`, the first one 0);
/// - then `floor + (base − floor) · ½ (1 + cos(π · min(1, (p − warmupEpochs) / cosineEpochs)))`.
public struct WarmupCosineSchedule: Codable, Sendable, Equatable {
    /// Length of the linear warm-up, in epochs (0 for none).
    public var warmupEpochs: Double
    /// Length of the cosine decay after the warm-up, in epochs.
    public var cosineEpochs: Double
    /// The learning rate reached at the end of the decay.
    public var minLearningRate: Double
    /// Start the warm-up at 0 (step `i` uses `base · i / N`, the reference's `LambdaLR`) rather
    /// than at `base / N` (step `i` uses `base · (i + 1) / N`).
    public var warmupFromZero: Bool

    /// A schedule (the first-place recipe used 3 warm-up and 18 cosine epochs).
    public init(warmupEpochs: Double = 3, cosineEpochs: Double = 18, minLearningRate: Double = 0, warmupFromZero: Bool = false) {
        precondition(warmupEpochs >= 0 && cosineEpochs > 0, "WarmupCosineSchedule: warmup must be ≥ 0 and cosine > 0 epochs")
        self.warmupEpochs = warmupEpochs
        self.cosineEpochs = cosineEpochs
        self.minLearningRate = minLearningRate
        self.warmupFromZero = warmupFromZero
    }

    /// The learning rate for the step at `progress` epochs, each step being `stepFraction` of an epoch.
    public func learningRate(base: Double, progress: Double, stepFraction: Double) -> Double {
        if progress < warmupEpochs {
            return base * Swift.min(1, (progress + (warmupFromZero ? 0 : stepFraction)) / warmupEpochs)
        }
        let t = Swift.min(1, (progress - warmupEpochs) / cosineEpochs)
        return minLearningRate + (base - minLearningRate) * 0.5 * (1 + cos(Double.pi * t))
    }

    /// Warm-up plus decay, in epochs.
    public var totalEpochs: Double { warmupEpochs + cosineEpochs }
}

// MARK: - Decoding with defaults for missing keys

extension ReduceLROnPlateau.Configuration {
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = Self()
        self.init()
        mode = try c.value(.mode, or: d.mode)
        factor = try c.value(.factor, or: d.factor)
        patience = try c.value(.patience, or: d.patience)
        threshold = try c.value(.threshold, or: d.threshold)
        thresholdMode = try c.value(.thresholdMode, or: d.thresholdMode)
        cooldown = try c.value(.cooldown, or: d.cooldown)
        minLearningRate = try c.value(.minLearningRate, or: d.minLearningRate)
        eps = try c.value(.eps, or: d.eps)
        try c.require(factor >= 0 && factor < 1, .factor, "must be in [0, 1)")
        try c.require(patience >= 0, .patience, "must be non-negative")
        try c.require(cooldown >= 0, .cooldown, "must be non-negative")
    }
}

extension WarmupCosineSchedule {
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = Self()
        self.init()
        warmupEpochs = try c.value(.warmupEpochs, or: d.warmupEpochs)
        cosineEpochs = try c.value(.cosineEpochs, or: d.cosineEpochs)
        minLearningRate = try c.value(.minLearningRate, or: d.minLearningRate)
        warmupFromZero = try c.value(.warmupFromZero, or: d.warmupFromZero)
        try c.require(warmupEpochs >= 0, .warmupEpochs, "must be non-negative")
        try c.require(cosineEpochs > 0, .cosineEpochs, "must be positive")
    }
}
