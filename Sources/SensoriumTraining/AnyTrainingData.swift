import SensoriumTensor

/// Any ``TrainingData`` source of `Batch`es behind one type, so that code choosing a source at run
/// time (a round-robin or a mixed-mouse sampler, with or without a distillation wrapper) drives one
/// ``Trainer`` type. Every call is forwarded to the wrapped source.
public final class AnyTrainingData<Batch: TrainingBatch>: TrainingData {
    /// The wrapped source.
    public let base: AnyObject
    private let rounds: (Int, RandomGenerator) throws -> TrainingRounds<Batch>
    private let validation: ((Batch) throws -> Void) throws -> Void
    private let trials: (String) -> Int
    private let validationCount: () -> Int?

    /// Wraps `source`.
    public init<Source: TrainingData>(_ source: Source) where Source.Batch == Batch {
        base = source
        rounds = { try source.trainingRounds(epoch: $0, generator: $1) }
        validation = { try source.forEachValidationBatch($0) }
        trials = { source.trialCount(mouse: $0) }
        validationCount = { source.validationBatchCount }
    }

    public func trainingRounds(epoch: Int, generator: RandomGenerator) throws -> TrainingRounds<Batch> {
        try rounds(epoch, generator)
    }

    public func forEachValidationBatch(_ body: (Batch) throws -> Void) throws {
        try withoutActuallyEscaping(body) { try validation($0) }
    }

    public func trialCount(mouse: String) -> Int { trials(mouse) }

    public var validationBatchCount: Int? { validationCount() }
}
