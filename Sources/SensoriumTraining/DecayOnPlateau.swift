import SensoriumLayers

/// Cuts the learning rate when early stopping ends a decay step (a plateau of `patience`
/// evaluations without improvement, after which the best weights are restored), as ViV1T's
/// `Scheduler` does: restore the best checkpoint, then multiply every group's rate by `factor`
/// (never below `minLearningRate`).
///
/// Unlike ``ReduceLROnPlateau``, which counts bad evaluations itself, the cut is driven by
/// ``EarlyStopping``: the two can never disagree on when a plateau ends. Stateless (the rate lives
/// in the optimizer's state).
public final class DecayOnPlateau: LearningRateSchedule {
    /// Settings of ``DecayOnPlateau`` (`{"type": "decayOnPlateau"}`); the defaults are ViV1T's.
    public struct Configuration: ScheduleConfiguration, Equatable {
        public static var typeName: String { "decayOnPlateau" }
        public static var defaults: Self { Self() }
        /// Multiplier of the learning rate at each cut (ViV1T: 0.3).
        public var factor: Double = 0.3
        /// Lower bound of the (default group's) learning rate (ViV1T: float32 epsilon).
        public var minLearningRate: Double = Double(Float.ulpOfOne)

        public init() {}
        public init(factor: Double = 0.3, minLearningRate: Double = Double(Float.ulpOfOne)) {
            self.factor = factor
            self.minLearningRate = minLearningRate
        }
        public func makeSchedule() -> any LearningRateSchedule { DecayOnPlateau(configuration: self) }

        enum CodingKeys: String, CodingKey { case factor, minLearningRate }

        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            let d = Self()
            self.init()
            factor = try c.value(.factor, or: d.factor)
            minLearningRate = try c.value(.minLearningRate, or: d.minLearningRate)
            try c.require(factor >= 0 && factor < 1, .factor, "must be in [0, 1)")
            try c.require(minLearningRate >= 0 && minLearningRate.isFinite, .minLearningRate, "must be finite and ≥ 0")
        }
    }

    /// The settings.
    public let configuration: Configuration

    /// A schedule.
    public init(configuration: Configuration = .init()) {
        self.configuration = configuration
    }

    public func decayStepEnded(optimizer: Optimizer) {
        optimizer.learningRate = Swift.max(optimizer.learningRate * configuration.factor, configuration.minLearningRate)
    }
}

extension Configured where Kind == ScheduleKind {
    /// ``DecayOnPlateau`` (ViV1T).
    public static func decayOnPlateau(_ c: DecayOnPlateau.Configuration = .init()) -> Configured { Configured(c) }
}
