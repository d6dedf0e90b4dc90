import Testing
import Foundation
import Logging
@testable import Sensorium
@testable import SensoriumTraining

// MARK: - A tiny model and data source

/// A batch of the toy data: features `(B, T, F)` and Poisson counts `(B, T, N)`.
struct ToyBatch: TrainingBatch {
    let mouse: String
    let inputs: Tensor
    let targets: Tensor
    var batchSize: Int { inputs.shape[0] }
    func targetTensor() -> Tensor { targets }
}

/// Shared linear "core" with ELU, optional dropout, a linear readout per mouse, ELU + 1 output,
/// and a burn-in of `burnIn` frames (predictions cover the last `T − burnIn` frames).
final class ToyModel: Module, TrainableModel {
    let core: Linear
    let readouts: [String: Linear]
    let dropout: Dropout?
    @Transient var generator: RandomGenerator
    @Transient var burnIn: Int

    init(features: Int, hidden: Int, mice: [String: Int], seed: UInt64, dropout p: Float = 0, burnIn: Int = 2) {
        let g = RandomGenerator(seed: seed)
        core = Linear(features, hidden, generator: g)
        var r: [String: Linear] = [:]
        for name in mice.keys.sorted() { r[name] = Linear(hidden, mice[name]!, generator: g) }
        readouts = r
        let dropoutGenerator = RandomGenerator(seed: seed &+ 1000)
        generator = dropoutGenerator
        dropout = p > 0 ? Dropout(p: p, generator: dropoutGenerator) : nil
        self.burnIn = burnIn
        super.init()
    }

    func forward(_ batch: ToyBatch) -> Tensor {
        var h = core(batch.inputs).elu()
        if let dropout { h = dropout(h) }
        let out = readouts[batch.mouse]!(h).elu() + 1
        let t = out.shape[1]
        return burnIn > 0 ? out.sliced(axis: 1, range: burnIn..<t) : out
    }

    func regularizer(for batch: ToyBatch) -> Tensor? { core.weight.square().sum() * 1e-3 }

    var randomGenerators: [RandomGenerator] { [generator] }
}

/// Mice with random features and Poisson responses of a hidden linear-nonlinear model.
final class ToyData: TrainingData {
    struct Mouse {
        let name: String
        let neurons: Int
        let inputs: [Tensor]   // (T, F) per trial
        let targets: [Tensor]  // (T, N) per trial
        let train: [Int]
        let validation: [Int]
    }

    let mice: [Mouse]
    let batchSize: Int
    let frames: Int, features: Int

    init(seed: UInt64, mice spec: [(name: String, neurons: Int, train: Int)], validation: Int = 6,
         frames: Int = 12, features: Int = 5, batchSize: Int = 4, nanTargets: Bool = false) {
        let g = RandomGenerator(seed: seed)
        self.batchSize = batchSize
        self.frames = frames
        self.features = features
        var mice: [Mouse] = []
        for (name, neurons, train) in spec {
            let weights = Tensor.randomNormal([features, neurons], std: 0.8, generator: g)
            var inputs: [Tensor] = [], targets: [Tensor] = []
            for _ in 0..<(train + validation) {
                let x = Tensor.randomNormal([frames, features], generator: g)
                let rates = (matmul(x, weights)).softplus() * 2
                let counts = rates.scalars.map { nanTargets ? Float.nan : ToyData.poisson($0, g) }
                inputs.append(x)
                targets.append(Tensor(counts, shape: [frames, neurons]))
            }
            mice.append(Mouse(name: name, neurons: neurons, inputs: inputs, targets: targets,
                              train: Array(0..<train), validation: Array(train..<(train + validation))))
        }
        self.mice = mice
    }

    static func poisson(_ lambda: Float, _ g: RandomGenerator) -> Float {
        let limit = exp(-Double(lambda))
        var k = 0, p = 1.0
        repeat {
            k += 1
            p *= Double(g.nextUniform())
        } while p > limit
        return Float(k - 1)
    }

    func batch(_ mouse: Mouse, _ trials: [Int]) -> ToyBatch {
        ToyBatch(mouse: mouse.name,
                 inputs: Tensor.stack(trials.map { mouse.inputs[$0] }, axis: 0),
                 targets: Tensor.stack(trials.map { mouse.targets[$0] }, axis: 0))
    }

    /// LongCycler semantics: every mouse starts a fresh shuffled pass each epoch; a mouse with
    /// fewer batches restarts (reshuffled) until the mouse with the most batches is done.
    func trainingRounds(epoch: Int, generator: RandomGenerator) throws -> TrainingRounds<ToyBatch> {
        func pass(_ indices: [Int]) -> [[Int]] {
            var p = indices
            for i in stride(from: p.count - 1, to: 0, by: -1) {
                let j = Int(generator.next() % UInt64(i + 1))
                p.swapAt(i, j)
            }
            return stride(from: 0, to: p.count, by: batchSize).map { Array(p[$0..<min($0 + batchSize, p.count)]) }
        }
        let count = mice.map { ($0.train.count + batchSize - 1) / batchSize }.max() ?? 0
        var plans: [[[Int]]] = []
        for m in mice {
            var batches: [[Int]] = []
            while batches.count < count { batches += pass(m.train) }
            plans.append(Array(batches.prefix(count)))
        }
        return TrainingRounds(count: count) { first in
            var r = first
            return {
                guard r < count else { return nil }
                defer { r += 1 }
                return self.mice.indices.map { self.batch(self.mice[$0], plans[$0][r]) }
            }
        }
    }

    func forEachValidationBatch(_ body: (ToyBatch) throws -> Void) throws {
        for m in mice {
            for start in stride(from: 0, to: m.validation.count, by: batchSize) {
                try body(batch(m, Array(m.validation[start..<min(start + batchSize, m.validation.count)])))
            }
        }
    }

    func trialCount(mouse: String) -> Int {
        let m = mice.first { $0.name == mouse }!
        return m.train.count + m.validation.count
    }
}

let toyMice: [(name: String, neurons: Int, train: Int)] = [("mouseA", 6, 12), ("mouseB", 4, 8)]

func toyModel(seed: UInt64, dropout: Float = 0.2) -> ToyModel {
    ToyModel(features: 5, hidden: 8, mice: ["mouseA": 6, "mouseB": 4], seed: seed, dropout: dropout)
}

func toyConfiguration(_ base: TrainerConfiguration = .reference, lr: Double = 0.03) -> TrainerConfiguration {
    var c = base
    c.optimizer = c.optimizer.updating(AdamW.Configuration.self) { $0.learningRate = lr }
    c.validationSkipFrames = 3
    return c
}

final class RecordingObserver: TrainingObserver {
    var starts = 0, steps: [StepReport] = [], epochs: [EpochReport] = [], ends: [TrainingSummary] = []
    func trainingWillStart(_ report: TrainingStartReport) { starts += 1 }
    func stepDidEnd(_ report: StepReport) { steps.append(report) }
    func epochDidEnd(_ report: EpochReport) { epochs.append(report) }
    func trainingDidEnd(_ summary: TrainingSummary) { ends.append(summary) }
}

let quietLogger: Logger = {
    var l = Logger(label: "sensorium.trainer.tests")
    l.logLevel = .error
    return l
}()

/// Every state entry (parameters and buffers) as bit patterns, for exact comparisons.
func parameterBits(_ model: Module) -> [String: [UInt32]] {
    var out: [String: [UInt32]] = [:]
    for (k, v) in model.stateDict() { out[k] = v.scalars.map(\.bitPattern) }
    return out
}

// MARK: - Tests

@Suite("Trainer")
struct TrainerTests {
    @Test func lossScaleAndAlignment() {
        let loss = ScaledPoissonLoss()
        let predictions = Tensor([1, 2], shape: [1, 2, 1])
        let targets = Tensor([5, 0, 3], shape: [1, 3, 1])
        let value = loss(predictions: predictions, targets: targets, context: LossContext(mouse: "m", batchSize: 2, trialCount: 32))
        // Last two target frames [0, 3]: (1 − 0) + (2 − 3 ln 2), times sqrt(32 / 2) = 4.
        #expect(abs(Double(value.item) - 4 * (3 - 3 * log(2.0))) < 1e-5)
        let unscaled = ScaledPoissonLoss(scaled: false)
        #expect(abs(Double(unscaled(predictions: predictions, targets: targets,
                                    context: LossContext(mouse: "m", batchSize: 2, trialCount: 32)).item) - (3 - 3 * log(2.0))) < 1e-6)
    }

    @Test func validationCorrelationPoolsFramesAfterTheSkip() {
        // Two clips, 5 target frames, predictions for the last 4; skip 2 → score the last 3 frames.
        let targets = Tensor((0..<20).map { Float(($0 * 7) % 11) }, shape: [2, 5, 2])
        let predictions = Tensor((0..<16).map { Float(($0 * 5) % 7) }, shape: [2, 4, 2])
        var acc = SingleTrialCorrelationAccumulator(skipFrames: 2)
        acc.add(mouse: "m", predictions: predictions, targets: targets)
        let got = acc.perNeuron()[0].correlations
        for n in 0..<2 {
            var r: [Float] = [], p: [Float] = []
            for s in 0..<2 {
                for f in 2..<5 { r.append(targets[s, f, n]) }
                for f in 1..<4 { p.append(predictions[s, f, n]) }
            }
            #expect(abs(Double(got[n]) - pearsonCorrelation(r, p)) < 1e-6)
        }
        let result = acc.result()
        #expect(result.perMouse.count == 1 && result.perMouse[0].neurons == 2)
        #expect(abs(result.correlation - Double(got[0] + got[1]) / 2) < 1e-6)
    }

    @Test func lossDecreasesAndValidationImproves() throws {
        let model = toyModel(seed: 3, dropout: 0)
        let data = ToyData(seed: 4, mice: toyMice)
        var c = toyConfiguration(lr: 0.03)
        c.earlyStopping = .fixedEpochs(15)
        let trainer = Trainer(model: model, data: data, configuration: c, logger: quietLogger)
        let observer = RecordingObserver()
        trainer.observers.append(observer)
        let summary = try trainer.fit()
        #expect(summary.finished && summary.epochs == 15 && summary.steps == 15 * 3)
        let losses = trainer.history.compactMap(\.trainingLoss)
        #expect(losses.count == 15)
        #expect(losses.last! < 0.8 * losses.first!, "training loss \(losses.first!) → \(losses.last!)")
        let initial = trainer.history[0].validation!.correlation
        let final = trainer.history.last!.validation!.correlation
        #expect(final > initial + 0.2, "validation correlation \(initial) → \(final)")
        #expect(observer.starts == 1 && observer.steps.count == 45 && observer.epochs.count == 16 && observer.ends.count == 1)
        #expect(observer.steps.map(\.globalStep) == Array(1...45))
        #expect(observer.steps[0].roundsInEpoch == 3)
    }

    @Test func sameSeedSameWeights() throws {
        func run(_ seed: UInt64) throws -> [String: [UInt32]] {
            let model = toyModel(seed: 5)
            var c = toyConfiguration()
            c.seed = seed
            c.earlyStopping = .fixedEpochs(3)
            try Trainer(model: model, data: ToyData(seed: 9, mice: toyMice), configuration: c, logger: quietLogger).fit()
            return parameterBits(model)
        }
        let a = try run(11), b = try run(11), other = try run(12)
        #expect(a == b)
        #expect(a != other)
    }

    /// Trains straight through, and again interrupted mid-epoch, checkpointed, rebuilt from fresh
    /// objects (different initial weights, fresh data object) and resumed: the final weights,
    /// histories and optimizer states are bitwise identical.
    private func checkExactResume(_ configuration: TrainerConfiguration, stop: StopCondition, label: String,
                                  expectRestoreMidRun: Bool = false) throws {
        let dir = try makeTrainerTestDirectory("resume")
        defer { try? FileManager.default.removeItem(at: dir) }

        let straightModel = toyModel(seed: 5)
        let straight = Trainer(model: straightModel, data: ToyData(seed: 9, mice: toyMice),
                               configuration: configuration, logger: quietLogger)
        let straightSummary = try straight.fit()

        let url = dir.appendingPathComponent("run.h5")
        let first = Trainer(model: toyModel(seed: 5), data: ToyData(seed: 9, mice: toyMice),
                            configuration: configuration, logger: quietLogger)
        first.checkpointURL = url
        let partial = try first.fit(until: stop)
        #expect(!partial.finished, "\(label): the stop condition did not interrupt")

        let resumedModel = toyModel(seed: 77)
        let resumed = Trainer(model: resumedModel, data: ToyData(seed: 9, mice: toyMice),
                              configuration: configuration, logger: quietLogger)
        resumed.checkpointURL = url
        try resumed.restore(from: url)
        let summary = try resumed.fit()

        #expect(summary.finished && summary.epochs == straightSummary.epochs && summary.steps == straightSummary.steps,
                "\(label): \(summary) vs \(straightSummary)")
        let sameWeights = parameterBits(resumedModel) == parameterBits(straightModel)
        #expect(sameWeights, "\(label): weights differ after resuming")
        let sameValidation = resumed.history.map(\.validation) == straight.history.map(\.validation)
        #expect(sameValidation, "\(label): validation histories differ")
        let sameLosses = resumed.history.map(\.trainingLoss) == straight.history.map(\.trainingLoss)
        #expect(sameLosses, "\(label): loss histories differ")
        let sameRates = resumed.history.map(\.learningRate) == straight.history.map(\.learningRate)
        #expect(sameRates, "\(label): learning rates differ")
        if expectRestoreMidRun {
            #expect(straight.history.dropLast().contains { $0.restoredBest }, "\(label): no decay step restored the best weights")
            #expect(Set(straight.history.map(\.learningRate)).count > 1, "\(label): the learning rate was never cut")
        }
        // Wall-clock times are the only thing allowed to differ.
        func withoutTimes(_ record: StateRecord) -> StateRecord {
            var r = record
            r.strings["history"] = nil
            r.children["trainer"]?.reals["epoch_seconds"] = nil
            return r
        }
        let sameState = withoutTimes(resumed.checkpointRecord()).isIdentical(to: withoutTimes(straight.checkpointRecord()))
        #expect(sameState, "\(label): trainer states differ")
        // The final checkpoint on disk is the finished run.
        let onDisk = try Checkpoint.read(from: url)
        #expect(onDisk.children["early_stopping"]?.integers["finished"] == 1)
    }

    @Test func resumeIsExactWithTheReferenceRecipe() throws {
        var c = toyConfiguration()
        // Large thresholds make the toy run plateau early: the learning rate is cut and a decay
        // step restores the best weights within a few epochs.
        c.schedule = .reduceOnPlateau(.init(patience: 1, threshold: 0.05))
        c.earlyStopping = .init(patience: 2, tolerance: 0.05, lrDecaySteps: 3, maxEpochs: 12)
        c.checkpointEverySteps = 2
        // 3 rounds per epoch: stop in the middle of epoch 3.
        try checkExactResume(c, stop: .steps(8), label: "reference", expectRestoreMidRun: true)
    }

    @Test func resumeIsExactWithAlternatives() throws {
        var c = toyConfiguration()
        c.optimizer = .sgd(.init(learningRate: 0.02, momentum: 0.9, nesterov: true, weightDecay: 1e-3))
        c.schedule = .warmupCosine(.init(warmupEpochs: 1, cosineEpochs: 3))
        c.earlyStopping = .fixedEpochs(4)
        c.gradientClipNorm = 5
        c.movingAverage = .init(decay: 0.9, warmup: true)
        try checkExactResume(c, stop: .epochs(2), label: "SGD + cosine + EMA + clipping")
        c.optimizer = .adam(.init(learningRate: 0.01, weightDecay: 1e-4))
        c.schedule = .constant
        c.earlyStopping = .init(patience: 1, lrDecaySteps: 2, maxEpochs: 5)
        try checkExactResume(c, stop: .steps(4), label: "Adam + EMA + restore best")
    }

    @Test func restoreBestLoadsTheBestWeights() throws {
        let model = toyModel(seed: 5)
        var c = toyConfiguration(lr: 0.03)
        c.earlyStopping = .init(patience: 2, lrDecaySteps: 1, maxEpochs: 6)
        let trainer = Trainer(model: model, data: ToyData(seed: 9, mice: toyMice), configuration: c, logger: quietLogger)
        let summary = try trainer.fit()
        let best = trainer.history.compactMap(\.validation).map(\.correlation).max()!
        #expect(summary.bestObjective == best)
        // The model holds the best weights: evaluating again gives the best objective.
        #expect(try trainer.evaluate().correlation == best)
        #expect(trainer.history.last!.restoredBest)
    }

    @Test func stopConditionsAndObserversAcrossCalls() throws {
        let trainer = Trainer(model: toyModel(seed: 5), data: ToyData(seed: 9, mice: toyMice),
                              configuration: toyConfiguration(), logger: quietLogger)
        let observer = RecordingObserver()
        trainer.observers.append(observer)
        var s = try trainer.fit(until: .steps(4))
        #expect(!s.finished && s.steps == 4 && trainer.roundInEpoch == 1)
        s = try trainer.fit(until: .epochs(3))
        #expect(!s.finished && s.epochs == 3 && s.steps == 9 && trainer.roundInEpoch == 0)
        s = try trainer.fit(until: .duration(.zero))
        #expect(!s.finished && s.steps == 9)
        #expect(observer.starts == 3 && observer.ends.count == 3)
        #expect(observer.epochs.map(\.epoch) == [0, 1, 2, 3])
    }

    @Test func nonFiniteValidationIsAnErrorNotAScoreOfZero() throws {
        // NaN in the scored validation frames used to read as a correlation of 0: early stopping
        // then kept the untrained weights and the run ended "successfully".
        let data = ToyData(seed: 9, mice: toyMice, nanTargets: true)
        let trainer = Trainer(model: toyModel(seed: 5), data: data, configuration: toyConfiguration(), logger: quietLogger)
        do {
            try trainer.fit()
            Issue.record("validating against NaN targets succeeded")
        } catch let error as TrainingError {
            guard case .nonFiniteValidation(let mouse, let targets, _) = error else {
                Issue.record("expected nonFiniteValidation, got \(error)")
                return
            }
            #expect(mouse == "mouseA" && targets > 0)
            #expect(error.description.contains("sensorium inspect"))
        }
        #expect(trainer.history.isEmpty, "no epoch may be scored")
    }

    @Test func nonFiniteLossStopsWithAClearError() throws {
        let data = ToyData(seed: 9, mice: toyMice, nanTargets: true)
        var c = toyConfiguration()
        c.validationSkipFrames = 100  // nothing to score, so the initial validation passes
        let trainer = Trainer(model: toyModel(seed: 5), data: data, configuration: c, logger: quietLogger)
        do {
            try trainer.fit()
            Issue.record("training on NaN targets succeeded")
        } catch let error as TrainingError {
            #expect(error.description.contains("mouseA") && error.description.contains("NaN"))
        }
    }

    @Test func incompatibleCheckpointIsRejectedAndLeavesTheTrainerUnchanged() throws {
        let dir = try makeTrainerTestDirectory("incompatible")
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("c.h5")
        let other = Trainer(model: ToyModel(features: 5, hidden: 3, mice: ["mouseA": 6, "mouseB": 4], seed: 1),
                            data: ToyData(seed: 9, mice: toyMice), configuration: toyConfiguration(), logger: quietLogger)
        try other.fit(until: .steps(1))
        try other.saveCheckpoint(to: url)
        let model = toyModel(seed: 5)
        let before = parameterBits(model)
        let trainer = Trainer(model: model, data: ToyData(seed: 9, mice: toyMice), configuration: toyConfiguration(), logger: quietLogger)
        #expect(throws: TrainingError.self) { try trainer.restore(from: url) }
        #expect(parameterBits(model) == before && trainer.globalStep == 0)
    }

    @Test func ensembleAveragesPredictions() throws {
        let a = toyModel(seed: 1, dropout: 0), b = toyModel(seed: 2, dropout: 0)
        let ensemble = Ensemble([a, b])
        let data = ToyData(seed: 9, mice: toyMice)
        var batches: [ToyBatch] = []
        try data.forEachValidationBatch { batches.append($0) }
        let pa = a.forward(batches[0]), pb = b.forward(batches[0]), pe = ensemble.forward(batches[0])
        for i in 0..<pe.count {
            #expect(abs(pe.scalars[i] - (pa.scalars[i] + pb.scalars[i]) / 2) < 1e-6)
        }
        let keys = ensemble.stateDict().keys
        #expect(keys.contains("members.0.core.weight") && keys.contains("members.1.readouts.mouseB.bias"))
        #expect(ensemble.randomGenerators.count == 2)
        let score = try validationCorrelation(of: ensemble, on: data, skipFrames: 3)
        #expect(score.perMouse.map(\.mouse) == ["mouseA", "mouseB"])

        // Members of different types.
        final class ConstantModel: Module, TrainableModel {
            func forward(_ batch: ToyBatch) -> Tensor {
                let t = batch.targets.shape
                return Tensor.full([t[0], t[1] - 2, t[2]], 3)
            }
        }
        let mixed = Ensemble<ToyBatch>(members: [a, ConstantModel()])
        let pm = mixed.forward(batches[0])
        for i in 0..<pm.count { #expect(abs(pm.scalars[i] - (pa.scalars[i] + 3) / 2) < 1e-6) }
        #expect(mixed.regularizer(for: batches[0]) != nil && mixed.stateDict().count == a.stateDict().count)
    }

    @Test func plainProgressLinesWhenNotATerminal() throws {
        let dir = try makeTrainerTestDirectory("progress")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("log.txt").path
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        let handle = try #require(FileHandle(forWritingAtPath: path))
        let trainer = Trainer(model: toyModel(seed: 5), data: ToyData(seed: 9, mice: toyMice),
                              configuration: toyConfiguration(), logger: quietLogger)
        trainer.observers.append(ProgressBar(output: handle))
        try trainer.fit(until: .epochs(2))
        try handle.close()
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        #expect(!lines.joined().contains("\u{1B}"), "escape codes in a file")
        #expect(lines.count == 5, "\(lines)")
        #expect(lines[1].hasPrefix("epoch 0 |") && lines[2].hasPrefix("epoch 1 | loss") && lines[3].contains("val corr"))
        #expect(lines[4].hasPrefix("training interrupted after 2 epochs"))
    }

    @Test func barRedrawsInPlace() throws {
        let dir = try makeTrainerTestDirectory("bar")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("bar.txt").path
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        let handle = try #require(FileHandle(forWritingAtPath: path))
        let trainer = Trainer(model: toyModel(seed: 5), data: ToyData(seed: 9, mice: toyMice),
                              configuration: toyConfiguration(), logger: quietLogger)
        trainer.observers.append(ProgressBar(style: .bar, output: handle))
        try trainer.fit(until: .epochs(1))
        try handle.close()
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text.contains("\r\u{1B}[2Kepoch 1/200 [") && text.contains("ETA") && text.contains(" 3/3 "))
    }
}

// MARK: - The real data pipeline

/// Mean frame value and behaviour per time step → per-mouse linear readout → ELU + 1.
final class PooledVideoModel: Module, TrainableModel {
    let readouts: [String: Linear]

    init(mice: [String: Int], channels: Int, seed: UInt64) {
        let g = RandomGenerator(seed: seed)
        var r: [String: Linear] = [:]
        for name in mice.keys.sorted() { r[name] = Linear(channels, mice[name]!, generator: g) }
        readouts = r
        super.init()
    }

    func forward(_ batch: MouseBatch) -> Tensor {
        let video = batch.videoTensor()                       // (B, C, T, H, W)
        let pooled = video.mean(axes: [3, 4]).permuted([0, 2, 1])  // (B, T, C)
        return readouts[batch.mouse]!(pooled).elu() + 1
    }
}

@Suite("Trainer on synthetic mice")
struct MouseTrainingDataTests {
    private func makeMice(_ dir: URL) throws -> [MouseDataset] {
        var c = SyntheticMouseConfiguration.tiny
        c.mice = 2
        try SyntheticMouseGenerator.generate(configuration: c, into: dir.path)
        let folders = try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
        return try folders.map { try MouseDataset(path: dir.appendingPathComponent($0).path) }
    }

    @Test func roundsValidationAndResume() throws {
        let dir = try makeTrainerTestDirectory("mice")
        defer { try? FileManager.default.removeItem(at: dir) }
        let mice = try makeMice(dir)
        let data = MouseTrainingData(datasets: mice, batchSize: 4, frames: 20, validationBatchSize: 3)
        #expect(data.trialCount(mouse: mice[0].name) == mice[0].trialCount)

        let rounds = try data.trainingRounds(epoch: 0, generator: RandomGenerator(seed: 1))
        #expect(rounds.count == 2)  // 6 train trials, batches of 4
        var all: [[MouseBatch]] = []
        let next = try rounds.rounds()
        while let r = try next() { all.append(r) }
        #expect(all.count == 2 && all.allSatisfy { $0.map(\.mouse) == mice.map(\.name) })
        #expect(all[0][0].videoShape == [4, 3, 20, 18, 32] && all[1][0].batchSize == 2)
        // Same generator state, same plan; starting at round 1 skips round 0 exactly.
        let again = try data.trainingRounds(epoch: 0, generator: RandomGenerator(seed: 1))
        let tail = try again.rounds(from: 1)
        let second = try #require(try tail())
        #expect(second.map(\.trials) == all[1].map(\.trials) && second.map(\.starts) == all[1].map(\.starts))
        #expect(second[0].video == all[1][0].video)
        #expect(try tail() == nil)
        let other = try data.trainingRounds(epoch: 0, generator: RandomGenerator(seed: 2))
        let otherFirst = try #require(try other.rounds()())
        #expect(otherFirst.map(\.trials) != all[0].map(\.trials) || otherFirst.map(\.starts) != all[0].map(\.starts))

        var validation: [(String, [Int])] = []
        try data.forEachValidationBatch { validation.append(($0.mouse, $0.trials)) }
        var validationAgain: [(String, [Int])] = []
        try data.forEachValidationBatch { validationAgain.append(($0.mouse, $0.trials)) }
        #expect(validation.map(\.0) == validationAgain.map(\.0) && validation.map(\.1) == validationAgain.map(\.1))
        for m in mice {
            #expect(validation.filter { $0.0 == m.name }.flatMap(\.1).sorted() == m.trials(in: .oracle))
        }

        // Train a few steps straight and interrupted + resumed: identical weights.
        let neurons = Dictionary(uniqueKeysWithValues: mice.map { ($0.name, $0.neuronCount) })
        var c = TrainerConfiguration.reference
        c.earlyStopping = .fixedEpochs(2)
        c.validationSkipFrames = 10
        let straightModel = PooledVideoModel(mice: neurons, channels: 3, seed: 3)
        let straight = Trainer(model: straightModel, data: data, configuration: c, logger: quietLogger)
        try straight.fit()
        #expect(straight.history.count == 3 && straight.globalStep == 4)

        let url = dir.appendingPathComponent("run.h5")
        let first = Trainer(model: PooledVideoModel(mice: neurons, channels: 3, seed: 3), data: data, configuration: c, logger: quietLogger)
        first.checkpointURL = url
        try first.fit(until: .steps(3))
        let resumedModel = PooledVideoModel(mice: neurons, channels: 3, seed: 99)
        let resumed = Trainer(model: resumedModel, data: MouseTrainingData(datasets: mice, batchSize: 4, frames: 20, validationBatchSize: 3),
                              configuration: c, logger: quietLogger)
        try resumed.restore(from: url)
        try resumed.fit()
        let same = parameterBits(resumedModel) == parameterBits(straightModel)
        #expect(same, "resumed run on synthetic mice differs")
        #expect(resumed.history.map(\.validation) == straight.history.map(\.validation))
    }
}
