import Foundation
import Logging
import SensoriumTensor
import SensoriumLayers

/// The one error type of `SensoriumTraining`: why training could not go on, or a checkpoint, a
/// trainer configuration or a saved state could not be written or read.
public enum TrainingError: Error, CustomStringConvertible, Equatable {
    /// A batch's loss was NaN or infinite (usually NaN targets or a diverged model).
    case nonFiniteLoss(epoch: Int, round: Int, mouse: String, value: Float)
    /// A checkpoint does not fit this trainer (different model, optimizer or data).
    case incompatibleCheckpoint(String)
    /// Validation met NaN or infinite values in the scored frames (a correlation over them would
    /// read as 0 and early stopping would keep untrained weights).
    case nonFiniteValidation(mouse: String, targets: Int, predictions: Int)
    /// A checkpoint or trainer-configuration file that could not be written or read.
    case file(path: String, message: String)
    /// A saved optimizer, schedule, moving-average or early-stopping state that cannot be loaded.
    case invalidState(String)

    public var description: String {
        switch self {
        case let .nonFiniteLoss(epoch, round, mouse, value):
            return "training: the loss of mouse \(mouse) in epoch \(epoch), round \(round) is \(value); check the targets for NaN and lower the learning rate"
        case let .incompatibleCheckpoint(message):
            return "training: the checkpoint does not fit this trainer: \(message)"
        case let .nonFiniteValidation(mouse, targets, predictions):
            return "validation of mouse \(mouse): \(targets) recorded responses and \(predictions) predictions in the scored frames are NaN or infinite; "
                + (targets > 0 ? "check the data (sensorium inspect)" : "the model diverged (lower the learning rate)")
        case let .file(path, message):
            return "checkpoint \(path): \(message)"
        case let .invalidState(message):
            return "training state: \(message)"
        }
    }
}

/// When ``Trainer/fit(until:)`` should return before training is over (the run can be resumed).
public enum StopCondition: Sendable, Equatable {
    /// Once this many optimizer steps have been taken in total.
    case steps(Int)
    /// Once this many epochs have been completed in total.
    case epochs(Int)
    /// Once this call has run for this long (checked after every step).
    case duration(Duration)
}

/// Fits a ``TrainableModel`` to a ``TrainingData`` source with the reference recipe or an
/// alternative chosen in its ``TrainerConfiguration``.
///
/// One optimizer step per **round** (one batch of every mouse, gradients accumulated, not
/// averaged), the objective (validation single-trial correlation, neuron-weighted over mice)
/// evaluated before training and after every epoch, the learning rate scheduled, early stopping
/// with restore-best and decay steps. Every random choice of the data comes from a generator
/// derived from the configuration's seed and the epoch number, and the model's own generators are
/// saved with its weights, so a run is reproducible and a resumed run is bit-for-bit the run that
/// was not interrupted.
///
/// ```swift
/// let trainer = Trainer(model: model, data: data, configuration: .reference, logger: logger)
/// trainer.observers.append(ProgressBar())
/// trainer.checkpointURL = URL(fileURLWithPath: "run/checkpoint.h5")
/// if FileManager.default.fileExists(atPath: "run/checkpoint.h5") { try trainer.restore(from: trainer.checkpointURL!) }
/// let summary = try trainer.fit()
/// ```
public final class Trainer<Model: TrainableModel, Source: TrainingData> where Model.Batch == Source.Batch {
    /// The model being trained.
    public let model: Model
    /// The data source.
    public let data: Source
    /// The recipe.
    public let configuration: TrainerConfiguration
    /// The optimizer built from the configuration.
    public let optimizer: ParameterOptimizer
    /// The data term of the loss.
    public let loss: any TrainingLoss
    /// Where messages go (the library never configures the logging system).
    public let logger: Logger
    /// Receivers of progress reports.
    public var observers: [any TrainingObserver] = []
    /// When set, checkpoints are written there (atomically) at the configured intervals, when a
    /// stop condition interrupts training, and at the end.
    public var checkpointURL: URL?
    /// Free text saved in checkpoints next to the configuration; by default the model's own
    /// ``TrainableModel/checkpointMetadata`` (a `VideoModel`'s architecture, so that the model
    /// can be rebuilt from the checkpoint alone).
    public var metadata: String?
    /// One report per epoch so far (epoch 0 first).
    public private(set) var history: [EpochReport] = []
    /// The ranks of a data-parallel run (see ``init(model:data:configuration:loss:logger:communicator:synchronizedBatchNorm:)``);
    /// a ``SingleProcessCommunicator`` by default.
    public private(set) var communicator: any Communicator = SingleProcessCommunicator()

    /// The learning-rate schedule of the configuration.
    public let schedule: any LearningRateSchedule
    /// The schedule when it is a plateau scheduler (the reference's).
    public var plateau: ReduceLROnPlateau? { schedule as? ReduceLROnPlateau }
    /// The moving average of the weights, when the configuration asks for one.
    public let movingAverage: ExponentialMovingAverage?
    /// The early-stopping state.
    public private(set) var earlyStopping: EarlyStopping
    /// Optimizer steps taken so far.
    public private(set) var globalStep = 0
    /// Rounds already trained in the current epoch (non-zero only when interrupted mid-epoch).
    public private(set) var roundInEpoch = 0

    private var epochLossSum = 0.0
    private var epochSeconds = 0.0
    private var currentEpochStart: ContinuousClock.Instant?
    private var bestState: [String: Tensor]?
    private var bestAverage: [String: Tensor]?
    private let baseLearningRate: Double

    /// A trainer for `model` on `data`.
    /// - Parameters:
    ///   - configuration: the recipe (the reference by default).
    ///   - loss: the data term; by default ``ScaledPoissonLoss`` with the configuration's eps and scaling.
    ///   - logger: where messages go.
    public init(model: Model, data: Source, configuration: TrainerConfiguration = .reference,
                loss: (any TrainingLoss)? = nil, logger: Logger = Logger(label: "sensorium.trainer")) {
        self.model = model
        self.data = data
        self.configuration = configuration
        self.optimizer = configuration.optimizer.makeOptimizer(for: model)
        self.loss = loss ?? configuration.loss.makeLoss()
        self.logger = logger
        self.metadata = model.checkpointMetadata
        self.baseLearningRate = configuration.optimizer.learningRate
        schedule = configuration.schedule.makeSchedule()
        movingAverage = configuration.movingAverage.map { ExponentialMovingAverage(module: model, configuration: $0) }
        earlyStopping = EarlyStopping(configuration: configuration.earlyStopping)
    }

    /// Sets the ranks of a data-parallel run and, when `synchronizedBatchNorm`, gives every batch
    /// normalisation of the model a reducer over them.
    func setCommunicator(_ communicator: any Communicator, synchronizedBatchNorm: Bool) {
        self.communicator = communicator
        let reducer = communicator.size > 1 && synchronizedBatchNorm ? CommunicatorStatisticsReducer(communicator: communicator) : nil
        model.apply { ($0 as? BatchNorm)?.statisticsReducer = reducer }
    }

    /// Whether training is over (early stopping finished it).
    public var isFinished: Bool { earlyStopping.isFinished }

    // MARK: Training

    /// Trains until early stopping ends the run, or until `stop` (then the run can be continued by
    /// calling `fit` again, or resumed from the checkpoint in a new process).
    @discardableResult
    public func fit(until stop: StopCondition? = nil) throws -> TrainingSummary {
        let callStart = ContinuousClock.now
        notify { $0.trainingWillStart(TrainingStartReport(completedEpochs: earlyStopping.epoch, globalStep: globalStep,
                                                         maxEpochs: configuration.earlyStopping.maxEpochs,
                                                         trainableParameters: model.trainableParameterCount)) }
        if communicator.size > 1 { try synchronizeReplicas() }
        if !earlyStopping.started {
            let t0 = ContinuousClock.now
            let validation = try evaluate()
            let decision = earlyStopping.start(objective: validation.correlation)
            try apply(decision)
            logger.debug("initial validation correlation \(String(format: "%.4f", validation.correlation))")
            record(EpochReport(epoch: 0, trainingLoss: nil, validation: validation, learningRate: optimizer.learningRate,
                               bestObjective: earlyStopping.bestObjective, bestEpoch: earlyStopping.bestEpoch,
                               improved: true, restoredBest: decision.restoreBest, decayStep: earlyStopping.decayStep,
                               patienceCounter: earlyStopping.patienceCounter, seconds: ProgressBar.seconds(.now - t0)))
            if decision.finished { try finish() }
            if let checkpointURL { try saveCheckpoint(to: checkpointURL) }
        }

        func interrupted() throws -> Bool {
            switch stop {
            case nil: return false
            case .steps(let n)?: return globalStep >= n
            case .epochs(let n)?: return earlyStopping.epoch >= n
            case .duration(let d)?:
                // Clocks differ between ranks: rank 0 decides.
                return try distributedDecision(ContinuousClock.now - callStart >= d)
            }
        }

        while !earlyStopping.isFinished {
            if try interrupted() { return try interrupt(callStart) }
            let epochIndex = earlyStopping.epoch
            currentEpochStart = .now
            model.epochWillStart(epochIndex)
            let rounds = try data.trainingRounds(epoch: epochIndex, generator: epochGenerator(epochIndex))
            let next = try rounds.rounds(from: min(roundInEpoch, rounds.count))
            while let round = try next() {
                let report = try trainRound(round, epoch: epochIndex, roundsInEpoch: rounds.count)
                notify { $0.stepDidEnd(report) }
                if let every = configuration.checkpointEverySteps, globalStep % every == 0,
                   roundInEpoch < rounds.count, let checkpointURL {
                    try saveCheckpoint(to: checkpointURL)
                }
                if try roundInEpoch < rounds.count && interrupted() { return try interrupt(callStart) }
            }
            try endEpoch(rounds: rounds.count)
        }
        let summary = makeSummary(callStart, finished: true)
        notify { $0.trainingDidEnd(summary) }
        return summary
    }

    /// Seconds spent on the current epoch so far (earlier calls included).
    private var currentEpochSeconds: Double {
        epochSeconds + (currentEpochStart.map { ProgressBar.seconds(.now - $0) } ?? 0)
    }

    private func interrupt(_ callStart: ContinuousClock.Instant) throws -> TrainingSummary {
        if let checkpointURL { try saveCheckpoint(to: checkpointURL) }
        epochSeconds = currentEpochSeconds
        currentEpochStart = nil
        logger.debug("training interrupted after step \(globalStep) (epoch \(earlyStopping.epoch), round \(roundInEpoch))")
        let summary = makeSummary(callStart, finished: false)
        notify { $0.trainingDidEnd(summary) }
        return summary
    }

    private func makeSummary(_ callStart: ContinuousClock.Instant, finished: Bool) -> TrainingSummary {
        TrainingSummary(epochs: earlyStopping.epoch, steps: globalStep, bestObjective: earlyStopping.bestObjective,
                        bestEpoch: earlyStopping.bestEpoch, finished: finished,
                        seconds: ProgressBar.seconds(.now - callStart))
    }

    /// The generator of epoch `epoch`'s data: a pure function of the seed and the epoch.
    public func epochGenerator(_ epoch: Int) -> RandomGenerator {
        RandomGenerator(seed: configuration.seed &+ 0x9E37_79B9_7F4A_7C15 &* UInt64(epoch + 1))
    }

    private func trainRound(_ round: [Model.Batch], epoch: Int, roundsInEpoch: Int) throws -> StepReport {
        model.train()
        optimizer.zeroGrad()
        let fraction = 1 / Double(max(roundsInEpoch, 1))
        if let rate = schedule.learningRate(base: baseLearningRate, progress: Double(epoch) + Double(roundInEpoch) * fraction,
                                            stepFraction: fraction, step: globalStep) {
            optimizer.learningRate = rate
        }
        var roundLoss = 0.0
        if communicator.size > 1 {
            roundLoss = try accumulateDistributedGradients(round, epoch: epoch)
        } else {
        for batch in round {
            let targets = batch.targetTensor()
            let predictions = model.forward(batch)
            let context = LossContext(mouse: batch.mouse, batchSize: batch.batchSize, trialCount: data.trialCount(mouse: batch.mouse),
                                      weights: batch.targetWeights(), sampleWeightTotal: batch.sampleWeightTotal(),
                                      trainingTrialCount: data.trainingTrialCount(mouse: batch.mouse))
            var total = loss(predictions: predictions, targets: targets, context: context)
            if let regularizer = model.regularizer(for: batch) { total = total + regularizer }
            let value = total.item
            guard value.isFinite else {
                optimizer.zeroGrad()
                throw TrainingError.nonFiniteLoss(epoch: epoch + 1, round: roundInEpoch + 1, mouse: batch.mouse, value: value)
            }
            total.backward()
            roundLoss += Double(value)
        }
        }
        var norm: Double?
        if let maxNorm = configuration.gradientClipNorm {
            norm = Double(clipGradientNorm(optimizer.parameters.map(\.tensor), maxNorm: Float(maxNorm)))
        }
        let learningRate = optimizer.learningRate
        optimizer.step()
        optimizer.zeroGrad()
        movingAverage?.update()
        roundInEpoch += 1
        globalStep += 1
        epochLossSum += roundLoss
        return StepReport(epoch: epoch + 1, round: roundInEpoch, roundsInEpoch: roundsInEpoch, globalStep: globalStep,
                          loss: roundLoss, learningRate: learningRate, gradientNorm: norm)
    }

    private func endEpoch(rounds: Int) throws {
        let meanLoss = rounds > 0 ? epochLossSum / Double(rounds) : 0
        roundInEpoch = 0
        epochLossSum = 0
        var validation: ValidationResult?
        var decision = EarlyStopping.Decision()
        if earlyStopping.epochCompleted() {
            let result = try evaluate()
            validation = result
            if !earlyStopping.isWarmingUp {
                let before = optimizer.learningRate
                schedule.validated(result.correlation, optimizer: optimizer)
                if optimizer.learningRate != before {
                    logger.info("learning rate reduced from \(String(format: "%.3g", before)) to \(String(format: "%.3g", optimizer.learningRate))")
                }
            }
            decision = earlyStopping.record(objective: result.correlation)
            try apply(decision)
            if decision.endedDecayStep && !decision.finished {
                let before = optimizer.learningRate
                schedule.decayStepEnded(optimizer: optimizer)
                if optimizer.learningRate != before {
                    logger.info("learning rate reduced from \(before) to \(optimizer.learningRate) at the end of decay step \(earlyStopping.decayStep)")
                }
            }
        }
        let seconds = currentEpochSeconds
        epochSeconds = 0
        currentEpochStart = nil
        record(EpochReport(epoch: earlyStopping.epoch, trainingLoss: meanLoss, validation: validation,
                           learningRate: optimizer.learningRate, bestObjective: earlyStopping.bestObjective,
                           bestEpoch: earlyStopping.bestEpoch, improved: decision.improved,
                           restoredBest: decision.restoreBest, decayStep: earlyStopping.decayStep,
                           patienceCounter: earlyStopping.patienceCounter, seconds: seconds))
        if decision.finished { try finish() }
        if let checkpointURL,
           earlyStopping.isFinished || earlyStopping.epoch % configuration.checkpointEveryEpochs == 0 {
            try saveCheckpoint(to: checkpointURL)
        }
    }

    private func record(_ report: EpochReport) {
        history.append(report)
        notify { $0.epochDidEnd(report) }
    }

    /// Follows an early-stopping decision: snapshot the best weights, or load them back.
    private func apply(_ decision: EarlyStopping.Decision) throws {
        if decision.improved && configuration.earlyStopping.restoreBest {
            bestState = model.stateDict()
            bestAverage = movingAverage?.stateDict()
        }
        if decision.restoreBest, let bestState {
            try model.loadStateDict(bestState)
            if let bestAverage { try movingAverage?.load(bestAverage) }
            logger.debug("restored the best weights (epoch \(earlyStopping.bestEpoch), objective \(String(format: "%.4f", earlyStopping.bestObjective)))")
        }
    }

    /// At the end of training: with a moving average, the model keeps the averaged weights.
    private func finish() throws {
        movingAverage?.copyToModule()
        logger.debug("training finished after \(earlyStopping.epoch) epochs; best objective \(String(format: "%.4f", earlyStopping.bestObjective)) at epoch \(earlyStopping.bestEpoch)")
    }

    /// The validation score of the current weights (the averaged weights when a moving average is
    /// kept); observers see every scored batch (``TrainingObserver/validationDidProgress(_:)``).
    public func evaluate() throws -> ValidationResult {
        let epoch = earlyStopping.epoch
        let total = data.validationBatchCount
        let progress: (Int) -> Void = { [self] done in
            notify { $0.validationDidProgress(ValidationProgress(epoch: epoch, batchesDone: done, batchesTotal: total)) }
        }
        if let movingAverage {
            return try movingAverage.withAveragedWeights {
                try validationCorrelation(of: model, on: data, skipFrames: configuration.validationSkipFrames,
                                          communicator: communicator, progress: progress).decidedByRoot(communicator)
            }
        }
        return try validationCorrelation(of: model, on: data, skipFrames: configuration.validationSkipFrames,
                                         communicator: communicator, progress: progress).decidedByRoot(communicator)
    }

    private func notify(_ body: (any TrainingObserver) -> Void) {
        guard communicator.isRoot else { return }
        for o in observers { body(o) }
    }

    // MARK: Checkpoints

    /// The complete state of the run: model, optimizer, scheduler, early stopping (with the best
    /// weights), moving average, random generators, counters, history and configuration.
    public func checkpointRecord() -> StateRecord {
        var root = StateRecord()
        root.strings["kind"] = "training"
        root.strings["configuration"] = configuration.jsonString()
        if let metadata { root.strings["metadata"] = metadata }
        root.strings["history"] = Trainer.encodeHistory(history)
        root.children["model"] = StateRecord.moduleState(model)
        root.children["optimizer"] = optimizer.stateRecord()
        if let state = schedule.stateRecord() { root.children["scheduler"] = state }
        var stopping = earlyStopping.stateRecord()
        if let bestState {
            var best = StateRecord()
            best.tensors = bestState
            stopping.children["best_model"] = best
        }
        if let bestAverage {
            var best = StateRecord()
            best.tensors = bestAverage
            stopping.children["best_average"] = best
        }
        root.children["early_stopping"] = stopping
        if let movingAverage { root.children["moving_average"] = movingAverage.stateRecord() }
        var random = StateRecord()
        for (i, g) in model.randomGenerators.enumerated() { random.words["model.\(i)"] = g.state }
        root.children["random"] = random
        var counters = StateRecord()
        counters.integers["global_step"] = Int64(globalStep)
        counters.integers["round_in_epoch"] = Int64(roundInEpoch)
        counters.reals["epoch_loss_sum"] = epochLossSum
        counters.reals["epoch_seconds"] = currentEpochSeconds
        counters.words["seed"] = [configuration.seed]
        root.children["trainer"] = counters
        return root
    }

    /// Writes the checkpoint atomically to `url` (in a data-parallel run, rank 0 only writes).
    public func saveCheckpoint(to url: URL) throws {
        guard communicator.isRoot else { return }
        try Checkpoint.write(checkpointRecord(), to: url)
        logger.debug("checkpoint written", metadata: ["path": "\(url.path)", "step": "\(globalStep)"])
    }

    /// Resumes from a checkpoint file written by ``saveCheckpoint(to:)``.
    public func restore(from url: URL) throws {
        try restore(try Checkpoint.read(from: url))
        logger.info("resumed from \(url.path) at epoch \(earlyStopping.epoch), step \(globalStep)")
    }

    /// Resumes from a checkpoint record. On failure the trainer is left as it was.
    public func restore(_ record: StateRecord) throws {
        let saved = checkpointRecord()
        do {
            try load(record)
        } catch {
            try? load(saved)
            throw error
        }
    }

    private func load(_ root: StateRecord) throws {
        guard let modelRecord = root.children["model"], let optimizerRecord = root.children["optimizer"],
              let stoppingRecord = root.children["early_stopping"], let counters = root.children["trainer"] else {
            throw TrainingError.incompatibleCheckpoint("expected model, optimizer, early_stopping and trainer groups, found \(root.children.keys.sorted())")
        }
        if let stored = root.strings["configuration"], stored != configuration.jsonString() {
            logger.warning("the checkpoint was written with a different configuration; resuming with the current one")
        }
        if let seed = counters.words["seed"]?.first, seed != configuration.seed {
            logger.warning("the checkpoint was written with seed \(seed), this trainer uses \(configuration.seed): the data order will differ")
        }
        do {
            try model.loadStateDict(modelRecord.moduleStateDict)
        } catch {
            throw TrainingError.incompatibleCheckpoint("\(error)")
        }
        try optimizer.loadState(optimizerRecord)
        if schedule.stateRecord() != nil {
            guard let r = root.children["scheduler"] else {
                throw TrainingError.incompatibleCheckpoint("the configuration's \(configuration.schedule.typeName) schedule has a state, the checkpoint has none")
            }
            try schedule.loadState(r)
        }
        var stopping = EarlyStopping(configuration: configuration.earlyStopping)
        try stopping.loadState(stoppingRecord)
        if let movingAverage {
            guard let r = root.children["moving_average"] else {
                throw TrainingError.incompatibleCheckpoint("the configuration keeps a moving average, the checkpoint has none")
            }
            try movingAverage.loadState(r)
        }
        let generators = model.randomGenerators
        let words = root.children["random"]?.words ?? [:]
        guard words.count == generators.count else {
            throw TrainingError.incompatibleCheckpoint("the model has \(generators.count) random generators, the checkpoint \(words.count)")
        }
        for (i, g) in generators.enumerated() {
            guard let state = words["model.\(i)"], state.count == 5 else {
                throw TrainingError.incompatibleCheckpoint("no state for random generator model.\(i)")
            }
            g.state = state
        }
        earlyStopping = stopping
        bestState = stoppingRecord.children["best_model"]?.tensors
        bestAverage = stoppingRecord.children["best_average"]?.tensors
        globalStep = Int(counters.integers["global_step"] ?? 0)
        roundInEpoch = Int(counters.integers["round_in_epoch"] ?? 0)
        epochLossSum = counters.reals["epoch_loss_sum"] ?? 0
        epochSeconds = counters.reals["epoch_seconds"] ?? 0
        history = try Trainer.decodeHistory(root.strings["history"] ?? "[]")
    }

    static func encodeHistory(_ history: [EpochReport]) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return String(decoding: (try? encoder.encode(history)) ?? Data("[]".utf8), as: UTF8.self)
    }

    static func decodeHistory(_ json: String) throws -> [EpochReport] {
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        do {
            return try decoder.decode([EpochReport].self, from: Data(json.utf8))
        } catch {
            throw TrainingError.incompatibleCheckpoint("the training history is not readable: \(error)")
        }
    }
}
