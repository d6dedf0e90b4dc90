import Foundation
import SensoriumLayers
import SensoriumMetrics

/// Everything that decides what a ``Trainer`` does, as plain values: it is saved in every
/// checkpoint (as JSON) and can be read from a JSON configuration file in which every key is
/// optional (missing keys keep the reference recipe's values).
///
/// The default is the reference recipe (`sensorium_2023` `standard_trainer`): AdamW (lr 5e-3,
/// weight decay 0.01), ReduceLROnPlateau on the validation correlation (×0.3, patience 5, absolute
/// threshold 1e-6, min 1e-4), early stopping (patience 5, 4 decay steps, restore best, at most 200
/// epochs), the summed Poisson loss scaled by `sqrt(K / B)`, seed 42. The optimizer, schedule and
/// loss are components named by `"type"`: users register their own (``OptimizerKind``,
/// ``ScheduleKind``, ``LossKind``).
///
/// ```json
/// {"seed": 7, "optimizer": {"type": "sgd", "learningRate": 0.05, "momentum": 0.9},
///  "schedule": {"type": "warmupCosine", "warmupEpochs": 2, "cosineEpochs": 20},
///  "earlyStopping": {"maxEpochs": 22, "restoreBest": false}, "gradientClipNorm": 1.0}
/// ```
public struct TrainerConfiguration: Codable, Sendable, Equatable {
    /// Seed of the per-epoch data generators (shuffles and clip offsets).
    public var seed: UInt64
    /// The optimizer and its hyper-parameters (any registered ``OptimizerKind``).
    public var optimizer: AnyOptimizerConfiguration
    /// The learning-rate schedule (any registered ``ScheduleKind``).
    public var schedule: AnyScheduleConfiguration
    /// The loss (any registered ``LossKind``; the reference's scaled Poisson loss by default).
    public var loss: AnyLossConfiguration
    /// Early stopping, decay steps and the maximum number of epochs.
    public var earlyStopping: EarlyStopping.Configuration
    /// Clip the global gradient norm of every step to this value (nil: no clipping).
    public var gradientClipNorm: Double?
    /// Keep an exponential moving average of the weights, validate and return it (nil: off).
    public var movingAverage: ExponentialMovingAverage.Configuration?
    /// Frames skipped at the start of every validation clip (the reference scores from frame 50).
    public var validationSkipFrames: Int
    /// Write the checkpoint (when the trainer has a checkpoint URL) every this many epochs.
    public var checkpointEveryEpochs: Int
    /// Also write it every this many optimizer steps (nil: only at epoch ends).
    public var checkpointEverySteps: Int?

    /// The reference recipe, with any value overridden.
    public init(seed: UInt64 = 42,
                optimizer: AnyOptimizerConfiguration = .adamW(),
                schedule: AnyScheduleConfiguration = .reduceOnPlateau(),
                loss: AnyLossConfiguration = .poisson(),
                earlyStopping: EarlyStopping.Configuration = .init(),
                gradientClipNorm: Double? = nil,
                movingAverage: ExponentialMovingAverage.Configuration? = nil,
                validationSkipFrames: Int = 50,
                checkpointEveryEpochs: Int = 1, checkpointEverySteps: Int? = nil) {
        precondition(gradientClipNorm.map { $0 > 0 } ?? true, "TrainerConfiguration: gradientClipNorm must be positive")
        precondition(checkpointEveryEpochs >= 1 && (checkpointEverySteps.map { $0 >= 1 } ?? true),
                     "TrainerConfiguration: checkpoint intervals must be at least 1")
        precondition(validationSkipFrames >= 0, "TrainerConfiguration: validationSkipFrames must be non-negative")
        self.seed = seed
        self.optimizer = optimizer
        self.schedule = schedule
        self.loss = loss
        self.earlyStopping = earlyStopping
        self.gradientClipNorm = gradientClipNorm
        self.movingAverage = movingAverage
        self.validationSkipFrames = validationSkipFrames
        self.checkpointEveryEpochs = checkpointEveryEpochs
        self.checkpointEverySteps = checkpointEverySteps
    }

    /// The reference recipe (`sensorium_2023` benchmarks).
    public static var reference: TrainerConfiguration { TrainerConfiguration() }

    /// The first-place team's recipe adapted to this trainer: AdamW with weight decay 0.05,
    /// 3 warm-up + 18 cosine epochs, EMA 0.999, no early stopping.
    public static var warmupCosineRecipe: TrainerConfiguration {
        TrainerConfiguration(optimizer: .adamW(.init(learningRate: 5e-3, weightDecay: 0.05)),
                             schedule: .warmupCosine(.init(warmupEpochs: 3, cosineEpochs: 18, minLearningRate: 1e-6)),
                             earlyStopping: .fixedEpochs(21), movingAverage: .init(decay: 0.999, warmup: true))
    }

    private enum CodingKeys: String, CodingKey {
        case seed, optimizer, schedule, loss, earlyStopping, gradientClipNorm, movingAverage, scaleLoss, poissonEps
        case validationSkipFrames, checkpointEveryEpochs, checkpointEverySteps
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = TrainerConfiguration()
        seed = try c.decodeIfPresent(UInt64.self, forKey: .seed) ?? d.seed
        optimizer = try c.decodeIfPresent(AnyOptimizerConfiguration.self, forKey: .optimizer) ?? d.optimizer
        schedule = try c.decodeIfPresent(AnyScheduleConfiguration.self, forKey: .schedule) ?? d.schedule
        loss = try c.decodeIfPresent(AnyLossConfiguration.self, forKey: .loss) ?? d.loss
        earlyStopping = try c.decodeIfPresent(EarlyStopping.Configuration.self, forKey: .earlyStopping) ?? d.earlyStopping
        gradientClipNorm = try c.decodeIfPresent(Double.self, forKey: .gradientClipNorm)
        movingAverage = try c.decodeIfPresent(ExponentialMovingAverage.Configuration.self, forKey: .movingAverage)
        validationSkipFrames = try c.decodeIfPresent(Int.self, forKey: .validationSkipFrames) ?? d.validationSkipFrames
        checkpointEveryEpochs = try c.decodeIfPresent(Int.self, forKey: .checkpointEveryEpochs) ?? d.checkpointEveryEpochs
        checkpointEverySteps = try c.decodeIfPresent(Int.self, forKey: .checkpointEverySteps)
        try c.require(gradientClipNorm.map { $0 > 0 } ?? true, .gradientClipNorm, "must be positive")
        try c.require(validationSkipFrames >= 0, .validationSkipFrames, "must be non-negative")
        try c.require(checkpointEveryEpochs >= 1, .checkpointEveryEpochs, "must be at least 1")
        try c.require(checkpointEverySteps.map { $0 >= 1 } ?? true, .checkpointEverySteps, "must be at least 1")
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(seed, forKey: .seed)
        try c.encode(optimizer, forKey: .optimizer)
        try c.encode(schedule, forKey: .schedule)
        try c.encode(loss, forKey: .loss)
        try c.encode(earlyStopping, forKey: .earlyStopping)
        try c.encodeIfPresent(gradientClipNorm, forKey: .gradientClipNorm)
        try c.encodeIfPresent(movingAverage, forKey: .movingAverage)
        try c.encode(validationSkipFrames, forKey: .validationSkipFrames)
        try c.encode(checkpointEveryEpochs, forKey: .checkpointEveryEpochs)
        try c.encodeIfPresent(checkpointEverySteps, forKey: .checkpointEverySteps)
    }

    /// The configuration as pretty-printed JSON with sorted keys.
    public func jsonString() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        // Encoding plain values cannot fail.
        return String(decoding: (try? encoder.encode(self)) ?? Data(), as: UTF8.self)
    }

    /// Reads a configuration from JSON: missing keys keep the reference values, unknown keys are
    /// errors naming the nearest known key (``/SensoriumLayers/JSONValue/decodeOverDefaults(_:defaults:what:)``).
    public static func fromJSON(_ json: String) throws -> TrainerConfiguration {
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        guard case .object(var given) = try decoder.decode(JSONValue.self, from: Data(json.utf8)) else {
            throw ComponentError.invalid(kind: "trainer", type: "TrainerConfiguration", message: "expected a JSON object")
        }
        // Configurations written before losses were components name the Poisson loss's options.
        let scale = given.removeValue(forKey: CodingKeys.scaleLoss.rawValue)
        let eps = given.removeValue(forKey: CodingKeys.poissonEps.rawValue)
        if given[CodingKeys.loss.rawValue] == nil, scale != nil || eps != nil {
            var loss: [String: JSONValue] = ["type": .string(ScaledPoissonLoss.Configuration.typeName)]
            if let scale { loss["scaled"] = scale }
            if let eps { loss["eps"] = eps }
            given[CodingKeys.loss.rawValue] = .object(loss)
        }
        return try JSONValue.object(given).decodeOverDefaults(TrainerConfiguration.self, defaults: .reference, what: "trainer")
    }

    /// Reads a configuration file (JSON).
    public static func load(from url: URL) throws -> TrainerConfiguration {
        let read = readConfigurationFile(url)
        guard let text = read.text else { throw TrainingError.file(path: url.path, message: read.problem ?? "") }
        do {
            return try fromJSON(text)
        } catch let error as DecodingError {
            throw TrainingError.file(path: url.path, message: "expected a trainer configuration in JSON, found a problem: \(describeDecodingError(error))")
        } catch let error as ComponentError {
            throw TrainingError.file(path: url.path, message: "expected a trainer configuration in JSON, found a problem: \(error)")
        }
    }

}

// MARK: - Lenient decoding of the component configurations

extension KeyedDecodingContainer {
    /// The value at `key`, or `fallback` when the key is absent.
    func value<T: Decodable>(_ key: Key, or fallback: T) throws -> T {
        try decodeIfPresent(T.self, forKey: key) ?? fallback
    }

    /// Throws a data-corrupted error naming `key` unless `condition` holds.
    func require(_ condition: Bool, _ key: Key, _ message: String) throws {
        if !condition {
            throw DecodingError.dataCorruptedError(forKey: key, in: self, debugDescription: "\(key.stringValue) \(message)")
        }
    }
}
