import SensoriumLayers

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// mmcv's `CosineRestart` learning-rate policy with a linear warm-up, as Dynamic-V1FM (2nd place,
/// SENSORIUM 2023) trains with it (`lr_config` of `config/neuroencoding.py`). Registered as the
/// schedule `cosineRestart`; the defaults are that configuration.
///
/// The training is cut into consecutive periods of `periods[i]` epochs. Inside period `i`, which
/// starts at epoch `Pᵢ` (the sum of the earlier periods), the regular rate at epoch progress `p` is
///
///     minᵢ + ½ · wᵢ · (base − minᵢ) · (1 + cos(π · min(1, (p − Pᵢ) / periods[i])))
///
/// with `wᵢ = restartWeights[i]` and `minᵢ = minLearningRates[i]` (absolute rates, as mmcv's
/// `min_lr` list). `p` is the whole epoch number when ``byEpoch`` (mmcv's default, the rate changes
/// at epoch starts) and the fractional progress otherwise (the rate changes every step). After the
/// last period the rate stays at the last period's end value (mmcv raises there).
///
/// During the first `warmupIterations` optimizer steps (step `i` = 0, 1, …, counted over the whole
/// run) the rate is the regular rate times `1 − (1 − i / warmupIterations) · (1 − warmupRatio)`:
/// from `warmupRatio · regular` at the first step up to the regular rate at step `warmupIterations`.
///
/// Dynamic-V1FM: warm-up over 600 iterations from a third of the rate, periods 80 and 100 epochs
/// with minimum rates 1e-3 and 1e-6 for the base rate 1e-3 (constant for 80 epochs, then a cosine
/// down to 1e-6 over 100), by epoch.
public struct CosineRestartSchedule: Codable, Sendable, Equatable {
    /// Length of each period, in epochs.
    public var periods: [Int] = [80, 100]
    /// Weight of the cosine of each period (1: restart at the base rate).
    public var restartWeights: [Double] = [1, 1]
    /// The rate each period ends at (absolute).
    public var minLearningRates: [Double] = [1e-3, 1e-6]
    /// Length of the linear warm-up, in optimizer steps (0: none).
    public var warmupIterations: Int = 600
    /// The fraction of the regular rate the warm-up starts from.
    public var warmupRatio: Double = 1.0 / 3
    /// Whether the regular rate changes at epoch starts only (mmcv `by_epoch=True`) rather than at
    /// every step.
    public var byEpoch: Bool = true

    /// Dynamic-V1FM's schedule.
    public init() {}

    /// A schedule; `periods`, `restartWeights` and `minLearningRates` have one entry per period.
    public init(periods: [Int], restartWeights: [Double]? = nil, minLearningRates: [Double], warmupIterations: Int = 0,
                warmupRatio: Double = 1.0 / 3, byEpoch: Bool = true) {
        self.periods = periods
        self.restartWeights = restartWeights ?? Array(repeating: 1, count: periods.count)
        self.minLearningRates = minLearningRates
        self.warmupIterations = warmupIterations
        self.warmupRatio = warmupRatio
        self.byEpoch = byEpoch
        precondition(problem == nil, "CosineRestartSchedule: \(problem ?? "")")
    }

    /// The first thing wrong with the options, or nil.
    public var problem: String? {
        if periods.isEmpty || periods.contains(where: { $0 <= 0 }) { return "periods must be positive epoch counts, got \(periods)" }
        if restartWeights.count != periods.count { return "restartWeights needs one weight per period (\(periods.count)), got \(restartWeights.count)" }
        if minLearningRates.count != periods.count { return "minLearningRates needs one rate per period (\(periods.count)), got \(minLearningRates.count)" }
        if !(restartWeights + minLearningRates).allSatisfy(\.isFinite) { return "restartWeights and minLearningRates must be finite" }
        if warmupIterations < 0 { return "warmupIterations must be 0 or more, got \(warmupIterations)" }
        if !(warmupRatio > 0 && warmupRatio <= 1) { return "warmupRatio must be in (0, 1], got \(warmupRatio)" }
        return nil
    }

    /// All periods, in epochs (the length of the training the schedule is made for).
    public var totalEpochs: Int { periods.reduce(0, +) }

    /// The regular (post-warm-up) rate at epoch progress `progress` for the base rate `base`.
    public func regularLearningRate(base: Double, progress: Double) -> Double {
        var start = 0
        var index = periods.count - 1
        for (i, length) in periods.enumerated() {
            if progress < Double(start + length) {
                index = i
                break
            }
            if i < periods.count - 1 { start += length }
        }
        let alpha = Swift.min(1, Swift.max(0, (progress - Double(start)) / Double(periods[index])))
        let end = minLearningRates[index]
        return end + 0.5 * restartWeights[index] * (base - end) * (1 + cos(Double.pi * alpha))
    }

    /// The rate of optimizer step `step` (0-based over the whole run), taken at `progress` epochs
    /// (epochs completed plus the completed fraction of the current one) in epoch `epoch`
    /// (`⌊progress⌋`, given separately so that rounding in the progress cannot move an epoch start).
    public func learningRate(base: Double, epoch: Int, progress: Double, step: Int) -> Double {
        let regular = regularLearningRate(base: base, progress: byEpoch ? Double(epoch) : progress)
        guard step < warmupIterations else { return regular }
        let k = (1 - Double(step) / Double(warmupIterations)) * (1 - warmupRatio)
        return regular * (1 - k)
    }

    /// The rate of step `step` at `progress` epochs when each step of the epoch is `stepFraction`
    /// of it.
    public func learningRate(base: Double, progress: Double, stepFraction: Double, step: Int) -> Double {
        // Half a step guards the epoch's floor against rounding in `epoch + round · fraction`.
        let epoch = Int((progress + Swift.max(stepFraction, 0) / 2).rounded(.down))
        return learningRate(base: base, epoch: epoch, progress: progress, step: step)
    }

    /// The rate of the step at `progress` epochs when each step is `stepFraction` of an epoch and
    /// every epoch has the same number of steps (the step index is then `progress / stepFraction`).
    public func learningRate(base: Double, progress: Double, stepFraction: Double) -> Double {
        let step = stepFraction > 0 ? Int((progress / stepFraction).rounded()) : 0
        return learningRate(base: base, progress: progress, stepFraction: stepFraction, step: step)
    }
}

/// ``CosineRestartSchedule`` as the trainer runs it (stateless: a function of the step index and
/// the epoch progress, both restored with a checkpoint).
public final class CosineRestart: LearningRateSchedule {
    /// The curve.
    public let curve: CosineRestartSchedule
    public init(_ curve: CosineRestartSchedule) { self.curve = curve }

    public func learningRate(base: Double, progress: Double, stepFraction: Double) -> Double? {
        curve.learningRate(base: base, progress: progress, stepFraction: stepFraction)
    }

    public func learningRate(base: Double, progress: Double, stepFraction: Double, step: Int) -> Double? {
        curve.learningRate(base: base, progress: progress, stepFraction: stepFraction, step: step)
    }
}

extension CosineRestartSchedule: ScheduleConfiguration {
    public static var typeName: String { "cosineRestart" }
    public static var defaults: Self { Self() }
    public func makeSchedule() -> any LearningRateSchedule { CosineRestart(self) }
}

extension CosineRestartSchedule {
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = Self()
        self.init()
        periods = try c.value(.periods, or: d.periods)
        restartWeights = try c.value(.restartWeights, or: d.restartWeights)
        minLearningRates = try c.value(.minLearningRates, or: d.minLearningRates)
        warmupIterations = try c.value(.warmupIterations, or: d.warmupIterations)
        warmupRatio = try c.value(.warmupRatio, or: d.warmupRatio)
        byEpoch = try c.value(.byEpoch, or: d.byEpoch)
        if let problem {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "cosineRestart: \(problem)"))
        }
    }
}

extension Configured where Kind == ScheduleKind {
    /// ``CosineRestartSchedule`` (Dynamic-V1FM's by default).
    public static func cosineRestart(_ c: CosineRestartSchedule = .init()) -> Configured { Configured(c) }
}
