import Foundation
import SensoriumTensor
import SensoriumLayers
import SensoriumMetrics

// The training components named by type in a trainer configuration: optimizers, learning-rate
// schedules and losses, each a family with its registry (see `ComponentRegistry`).

// MARK: - Optimizers

/// The configuration of an optimizer, by which a trainer configuration names it.
public protocol OptimizerConfiguration: ComponentConfiguration {
    /// The initial learning rate.
    var learningRate: Double { get }
    /// Builds the optimizer for the trainable parameters of `module`.
    func makeOptimizer(for module: Module) -> ParameterOptimizer
}

/// The family of optimizers. Built-in: `adamW` (the reference), `adam`, `sgd`.
public enum OptimizerKind: ComponentKind {
    public typealias Base = any OptimizerConfiguration
    public static let name = "optimizer"
    public static let registry = ComponentRegistry<OptimizerKind>(builtIns: [
        AdamW.Configuration.self, Adam.Configuration.self, SGD.Configuration.self,
    ])
}

/// An optimizer configuration of any registered type.
public typealias AnyOptimizerConfiguration = Configured<OptimizerKind>

// The Adam family's configurations are OptimizerConfigurations through AdamFamilyConfiguration.
extension AdamW.Configuration {
    public static var typeName: String { "adamW" }
    public static var defaults: Self { Self() }
    public func makeOptimizer(for module: Module) -> ParameterOptimizer { AdamW(module, configuration: self) }
}

extension Adam.Configuration {
    public static var typeName: String { "adam" }
    public static var defaults: Self { Self() }
    public func makeOptimizer(for module: Module) -> ParameterOptimizer { Adam(module, configuration: self) }
}

extension SGD.Configuration: OptimizerConfiguration {
    public static var typeName: String { "sgd" }
    public static var defaults: Self { Self() }
    public func makeOptimizer(for module: Module) -> ParameterOptimizer { SGD(module, configuration: self) }
}

extension Configured where Kind == OptimizerKind {
    /// ``AdamW``.
    public static func adamW(_ c: AdamW.Configuration = .init()) -> Configured { Configured(c) }
    /// ``Adam``.
    public static func adam(_ c: Adam.Configuration = .init()) -> Configured { Configured(c) }
    /// ``SGD``.
    public static func sgd(_ c: SGD.Configuration = .init()) -> Configured { Configured(c) }
    /// The initial learning rate.
    public var learningRate: Double { base.learningRate }
    /// Builds the optimizer for the trainable parameters of `module`.
    public func makeOptimizer(for module: Module) -> ParameterOptimizer { base.makeOptimizer(for: module) }
}

// MARK: - Learning-rate schedules

/// A learning-rate schedule as the ``Trainer`` runs it: asked for a rate before every optimizer
/// step, told every validation result (outside early stopping's warm-up), saved in checkpoints.
public protocol LearningRateSchedule: AnyObject {
    /// The learning rate of the step at `progress` epochs (each step `stepFraction` of an epoch)
    /// for the base rate `base`; nil leaves the optimizer's rate as it is.
    func learningRate(base: Double, progress: Double, stepFraction: Double) -> Double?
    /// The same for optimizer step `step` (0-based, counted over the whole run), which the
    /// ``Trainer`` calls; by default the step is ignored (``learningRate(base:progress:stepFraction:)``).
    func learningRate(base: Double, progress: Double, stepFraction: Double, step: Int) -> Double?
    /// Called after a validation with the monitored objective.
    func validated(_ objective: Double, optimizer: Optimizer)
    /// The schedule's state for checkpoints (nil: stateless).
    func stateRecord() -> StateRecord?
    /// Restores a state saved by ``stateRecord()``.
    func loadState(_ record: StateRecord) throws
    /// Called when early stopping ends a decay step and training goes on (after the best weights
    /// were restored when `restoreBest`).
    func decayStepEnded(optimizer: Optimizer)
}

extension LearningRateSchedule {
    public func decayStepEnded(optimizer: Optimizer) {}
    public func learningRate(base: Double, progress: Double, stepFraction: Double) -> Double? { nil }
    public func learningRate(base: Double, progress: Double, stepFraction: Double, step: Int) -> Double? {
        learningRate(base: base, progress: progress, stepFraction: stepFraction)
    }
    public func validated(_ objective: Double, optimizer: Optimizer) {}
    public func stateRecord() -> StateRecord? { nil }
    public func loadState(_ record: StateRecord) throws {}
}

/// The configuration of a learning-rate schedule, by which a trainer configuration names it.
public protocol ScheduleConfiguration: ComponentConfiguration {
    /// A new schedule in its initial state.
    func makeSchedule() -> any LearningRateSchedule
}

/// The family of learning-rate schedules. Built-in: `reduceOnPlateau` (the reference),
/// `warmupCosine`, `constant`, `cosineRestart` (Dynamic-V1FM's), `decayOnPlateau` (ViV1T: cut when early stopping ends a decay step).
public enum ScheduleKind: ComponentKind {
    public typealias Base = any ScheduleConfiguration
    public static let name = "schedule"
    public static let registry = ComponentRegistry<ScheduleKind>(builtIns: [
        ReduceLROnPlateau.Configuration.self, WarmupCosineSchedule.self, ConstantSchedule.Configuration.self,
        CosineRestartSchedule.self,
        DecayOnPlateau.Configuration.self,
    ])
}

/// A schedule configuration of any registered type.
public typealias AnyScheduleConfiguration = Configured<ScheduleKind>

extension ReduceLROnPlateau: LearningRateSchedule {
    public func validated(_ objective: Double, optimizer: Optimizer) { step(objective, optimizer: optimizer) }
    public func stateRecord() -> StateRecord? { stateRecord() as StateRecord }
}

extension ReduceLROnPlateau.Configuration: ScheduleConfiguration {
    public static var typeName: String { "reduceOnPlateau" }
    public static var defaults: Self { Self() }
    public func makeSchedule() -> any LearningRateSchedule { ReduceLROnPlateau(configuration: self) }
}

/// ``WarmupCosineSchedule`` as the trainer runs it (stateless: a function of progress).
public final class WarmupCosine: LearningRateSchedule {
    /// The curve.
    public let curve: WarmupCosineSchedule
    public init(_ curve: WarmupCosineSchedule) { self.curve = curve }
    public func learningRate(base: Double, progress: Double, stepFraction: Double) -> Double? {
        curve.learningRate(base: base, progress: progress, stepFraction: stepFraction)
    }
}

extension WarmupCosineSchedule: ScheduleConfiguration {
    public static var typeName: String { "warmupCosine" }
    public static var defaults: Self { Self() }
    public func makeSchedule() -> any LearningRateSchedule { WarmupCosine(self) }
}

/// The optimizer's learning rate, unchanged.
public final class ConstantSchedule: LearningRateSchedule {
    /// No options.
    public struct Configuration: ScheduleConfiguration, Equatable {
        public static var typeName: String { "constant" }
    public static var defaults: Self { Self() }
        public init() {}
        public func makeSchedule() -> any LearningRateSchedule { ConstantSchedule() }
    }
    public init() {}
}

extension Configured where Kind == ScheduleKind {
    /// ``ReduceLROnPlateau`` (the reference).
    public static func reduceOnPlateau(_ c: ReduceLROnPlateau.Configuration = .init()) -> Configured { Configured(c) }
    /// ``WarmupCosineSchedule``.
    public static func warmupCosine(_ c: WarmupCosineSchedule = .init()) -> Configured { Configured(c) }
    /// A constant learning rate.
    public static var constant: Configured { Configured(ConstantSchedule.Configuration()) }
    /// A new schedule.
    public func makeSchedule() -> any LearningRateSchedule { base.makeSchedule() }
}

// MARK: - Losses

/// The configuration of a training loss, by which a trainer configuration names it.
public protocol LossConfiguration: ComponentConfiguration {
    /// A new loss.
    func makeLoss() -> any TrainingLoss
}

/// The family of training losses. Built-in: `poisson` (the reference's summed Poisson loss,
/// scaled by `sqrt(trials / batch)`), `samplePoisson` (DwiseNeuro's: per-sample sum, weighted,
/// averaged over the batch) and `poissonCorrelation` (ViV1T's Poisson + 1000 · Σ(1 − corr)).
public enum LossKind: ComponentKind {
    public typealias Base = any LossConfiguration
    public static let name = "loss"
    public static let registry = ComponentRegistry<LossKind>(builtIns: [
        ScaledPoissonLoss.Configuration.self, SamplePoissonLoss.Configuration.self, PoissonCorrelationLoss.Configuration.self,
    ])
}

/// A loss configuration of any registered type.
public typealias AnyLossConfiguration = Configured<LossKind>

extension ScaledPoissonLoss {
    /// The options of ``ScaledPoissonLoss``; the defaults are the reference trainer's (`PoissonLoss`
    /// with bias 1e-8, `scale_loss=True`).
    public struct Configuration: LossConfiguration, Equatable {
        public static var typeName: String { "poisson" }
    public static var defaults: Self { Self() }
        /// Added to the prediction inside the log.
        public var eps: Double = PoissonLossDefaults.trainerEps
        /// Multiply by `sqrt(trials / batchSize)`.
        public var scaled: Bool = true
        /// Where `eps` is added: `"log"` (inside the log only, the reference) or `"everywhere"`
        /// (`(ŷ + eps) − (y + eps)·log(ŷ + eps)`, Dynamic-V1FM).
        public var epsPlacement: PoissonEpsPlacement = .log
        public init() {}
        public init(eps: Double, scaled: Bool, epsPlacement: PoissonEpsPlacement = .log) {
            self.eps = eps
            self.scaled = scaled
            self.epsPlacement = epsPlacement
        }
        public func makeLoss() -> any TrainingLoss { ScaledPoissonLoss(eps: Float(eps), scaled: scaled, epsPlacement: epsPlacement) }
    }
}

extension Configured where Kind == LossKind {
    /// The reference's summed Poisson loss.
    public static func poisson(eps: Double = PoissonLossDefaults.trainerEps, scaled: Bool = true,
                               epsPlacement: PoissonEpsPlacement = .log) -> Configured {
        Configured(ScaledPoissonLoss.Configuration(eps: eps, scaled: scaled, epsPlacement: epsPlacement))
    }
    /// DwiseNeuro's per-sample Poisson loss (``SamplePoissonLoss``).
    public static func samplePoisson(eps: Double = PoissonLossDefaults.trainerEps) -> Configured {
        Configured(SamplePoissonLoss.Configuration(eps: eps))
    }
    /// A new loss.
    public func makeLoss() -> any TrainingLoss { base.makeLoss() }
}

extension SamplePoissonLoss {
    /// The options of ``SamplePoissonLoss``; the defaults are DwiseNeuro's (`eps` 1e-8).
    public struct Configuration: LossConfiguration, Equatable {
        public static var typeName: String { "samplePoisson" }
        public static var defaults: Self { Self() }
        /// Added to the prediction inside the log.
        public var eps: Double = PoissonLossDefaults.trainerEps
        public init() {}
        public init(eps: Double) { self.eps = eps }
        public func makeLoss() -> any TrainingLoss { SamplePoissonLoss(eps: Float(eps)) }
    }
}
