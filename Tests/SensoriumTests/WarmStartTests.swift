import Testing
import Foundation
import Logging
@testable import Sensorium
@testable import SensoriumTraining
import SensoriumTestSupport

/// Receptive-field mapping, readout positions from it, the behaviour warm-up and centred behaviour.
@Suite struct WarmStartTests {
    /// White-noise frames and neurons that respond to the DoG-band energy around a known pixel,
    /// 4 frames later, plus noise: the map must find the pixels.
    @Test func receptiveFieldMapFindsKnownCentres() throws {
        let h = 24, w = 32, n = 6, length = 120
        let centres: [(Int, Int)] = [(5, 6), (12, 16), (18, 26), (8, 24), (16, 8), (11, 11)]
        let g = RandomGenerator(seed: 11)
        let options = ReceptiveFieldMap.Options(lags: 3...5, pooling: 1, energySigma: 1.5)
        var accumulator = try ReceptiveFieldMap.Accumulator(height: h, width: w, neurons: n, options: options)
        let energy = EnergyMap(height: h, width: w, pooling: 1, centerSigma: options.centerSigma,
                               surroundSigma: options.surroundSigma, energySigma: options.energySigma)
        for _ in 0..<6 {
            // Noise with a few bright blobs moving around, so local energy varies a lot.
            var video = Tensor.randomNormal([length, h * w], generator: g).scalars
            for f in 0..<length {
                for _ in 0..<3 {
                    let r = Int(g.next() % UInt64(h)), c = Int(g.next() % UInt64(w))
                    for dr in -2...2 { for dc in -2...2 where (0..<h).contains(r + dr) && (0..<w).contains(c + dc) {
                        video[f * h * w + (r + dr) * w + c + dc] += 4 * (g.next() % 2 == 0 ? 1 : -1)
                    } }
                }
            }
            let local = energy.compute(video: video, frames: length)
            let noise = Tensor.randomNormal([length, n], generator: g).scalars
            var responses = [Float](repeating: 0, count: length * n)
            for f in 4..<length {
                for (i, (r, c)) in centres.enumerated() {
                    responses[f * n + i] = local[(f - 4) * h * w + r * w + c] * (1 + 0.2 * noise[f * n + i])
                }
            }
            accumulator.add(video: video, responses: responses, length: length)
        }
        let map = try #require(accumulator.finish())
        #expect(map.frames == 6 * (length - 5))
        for (i, (r, c)) in centres.enumerated() {
            let error = ((map.rows[i] - Double(r)) * (map.rows[i] - Double(r)) + (map.columns[i] - Double(c)) * (map.columns[i] - Double(c))).squareRoot()
            #expect(error < 1, "neuron \(i): found (\(map.rows[i]), \(map.columns[i])), true (\(r), \(c))")
            #expect(map.significance[i] > 4, "neuron \(i): significance \(map.significance[i])")
        }
    }

    /// The GEMM form of the energy map against the definition: separable Gaussian blurs with
    /// clamped edges, pixel by pixel.
    @Test func energyMapMatchesTheDirectBlurs() {
        let h = 10, w = 14, frames = 3, pooling = 2
        let energy = EnergyMap(height: h, width: w, pooling: pooling, centerSigma: 1, surroundSigma: 2.5, energySigma: 1.5)
        let video = Tensor.randomNormal([frames, h * w], generator: RandomGenerator(seed: 4)).scalars
        func blur(_ x: [Double], _ sigma: Double) -> [Double] {
            let radius = max(1, Int((2.5 * sigma).rounded(.up)))
            let taps = (-radius...radius).map { exp(-Double($0 * $0) / (2 * sigma * sigma)) }
            let total = taps.reduce(0, +)
            var across = x, out = x
            for i in 0..<h { for j in 0..<w {
                across[i * w + j] = taps.indices.reduce(0) { $0 + taps[$1] / total * x[i * w + min(w - 1, max(0, j + $1 - radius))] }
            } }
            for i in 0..<h { for j in 0..<w {
                out[i * w + j] = taps.indices.reduce(0) { $0 + taps[$1] / total * across[min(h - 1, max(0, i + $1 - radius)) * w + j] }
            } }
            return out
        }
        let computed = energy.compute(video: video, frames: frames)
        var expected: [Float] = []
        for f in 0..<frames {
            let frame = video[(f * h * w)..<((f + 1) * h * w)].map(Double.init)
            let band = zip(blur(frame, 1), blur(frame, 2.5)).map { ($0 - $1) * ($0 - $1) }
            let e = blur(band, 1.5)
            for r in 0..<(h / pooling) { for c in 0..<(w / pooling) {
                var sum = 0.0
                for dr in 0..<pooling { for dc in 0..<pooling { sum += e[(r * pooling + dr) * w + c * pooling + dc] } }
                expected.append(Float(sum / Double(pooling * pooling)))
            } }
        }
        expectClose(computed, expected, atol: 1e-5, rtol: 1e-4)
    }

    @Test func receptiveFieldMapRejectsBadOptionsAndTooShortTrials() throws {
        #expect(throws: SensoriumError.self) {
            _ = try ReceptiveFieldMap.Accumulator(height: 8, width: 8, neurons: 2, options: .init(centerSigma: 3, surroundSigma: 2))
        }
        var accumulator = try ReceptiveFieldMap.Accumulator(height: 8, width: 8, neurons: 2, options: .init(lags: 3...7))
        accumulator.add(video: [Float](repeating: 0, count: 6 * 64), responses: [Float](repeating: 0, count: 12), length: 6)
        #expect(accumulator.finish() == nil)
    }

    @Test func quadraticFitIgnoresOutliers() {
        let g = RandomGenerator(seed: 5)
        let points = (0..<60).map { _ in (Double(2 * g.nextUniform() - 1), Double(2 * g.nextUniform() - 1)) }
        func truth(_ p: (Double, Double)) -> (Double, Double) {
            (0.1 + 0.5 * p.0 + 0.08 * p.0 * p.0, -0.2 + 0.4 * p.1 + 0.05 * p.0 * p.1)
        }
        var targets = points.map(truth)
        for i in stride(from: 0, to: 60, by: 10) { targets[i] = (0.9, -0.9) }
        let fit = QuadraticMap.robustFit(points: points, targets: targets, using: Array(0..<60))
        #expect(fit.inliers.count == 54)
        for p in points {
            let (a, b) = fit.evaluate(p), (x, y) = truth(p)
            #expect(abs(a - x) < 1e-3 && abs(b - y) < 1e-3, "fit \(a), \(b) vs \(x), \(y)")
        }
        // Too few points: the median of what there is.
        let few = QuadraticMap.robustFit(points: points, targets: targets, using: [1, 2, 3])
        #expect(few.evaluate((0.5, 0.5)) == few.evaluate((-0.5, 0)))
    }

    /// A map whose centres are known pixels, for placing readouts.
    private func map(rows: [Double], columns: [Double], significance: Double = 10, height: Int = 18, width: Int = 32) -> ReceptiveFieldMap {
        ReceptiveFieldMap(height: height, width: width, rows: rows, columns: columns,
                          peakCorrelation: rows.map { _ in 0.3 }, significance: rows.map { _ in significance }, frames: 100)
    }

    @Test func freePositionsMoveToTheMappedCentresInTheCoreGrid() throws {
        // Core: 5×5 valid then 3×3 valid, stride 1: output 12 × 26 of 18 × 32, cropping 3 pixels.
        var configuration = TinyMouse.modelConfiguration()
        var readout = try #require(configuration.readout.as(GaussianReadoutConfiguration.self))
        readout.positionNetwork = nil
        configuration.readout = .gaussian(readout)
        let model = try VideoModel(configuration: configuration, mice: [MouseNeurons(key: "m", count: 3)])
        let grid = try #require(model.readout["m"] as? FullGaussian2d)
        let before = grid.meanPositions().scalars
        // Pixel (3, 3) is the core's first output pixel, (14, 28) its last; (8.5, 15.5) the middle.
        let fit = try model.initializeReadoutPositions(mouse: "m", map: map(rows: [3, 14, 8.5], columns: [3, 28, 15.5]))
        #expect(fit.reliableNeurons == 3 && fit.rmsResidual < 1e-6)
        expectClose(grid.meanPositions(), [-1, -1, 1, 1, 0, 0], atol: 1e-6)
        // Unreliable centres leave the positions alone.
        let other = try VideoModel(configuration: configuration, mice: [MouseNeurons(key: "m", count: 3)])
        let fit2 = try other.initializeReadoutPositions(mouse: "m", map: map(rows: [3, 14, 8.5], columns: [3, 28, 15.5], significance: 1))
        #expect(fit2.reliableNeurons == 0)
        expectClose((other.readout["m"] as! FullGaussian2d).meanPositions(), before, atol: 0)
    }

    @Test func positionNetworkLearnsTheRetinotopicMap() throws {
        let n = 40
        let g = RandomGenerator(seed: 9)
        var cortex = (0..<n).map { _ in (Double(600 * g.nextUniform() - 300), Double(600 * g.nextUniform() - 300)) }
        cortex[0] = (0, 0)
        // Retinotopy: a linear map from cortex to pixels, one centre far off.
        var rows = cortex.map { 8.5 + 4 * $0.1 / 300 }, columns = cortex.map { 15.5 + 9 * $0.0 / 300 }
        rows[0] = 3; columns[0] = 28
        let coordinates = Tensor(cortex.flatMap { [Float($0.0), Float($0.1), 200] }, shape: [n, 3])
        let model = try VideoModel(configuration: TinyMouse.modelConfiguration(),
                                   mice: [MouseNeurons(key: "m", count: n, coordinates: coordinates)])
        let fit = try model.initializeReadoutPositions(mouse: "m", map: map(rows: rows, columns: columns))
        #expect(fit.reliableNeurons == n - 1, "the far-off centre is an outlier")
        #expect(fit.rmsResidual < 0.03, "network vs map: \(fit.rmsResidual)")
        let positions = (model.readout["m"] as! FullGaussian2d).meanPositions().scalars
        // Neuron 0 follows the map, not its outlying centre.
        #expect(abs(Double(positions[0])) < 0.06 && abs(Double(positions[1])) < 0.06, "map at the middle: \(positions[0]), \(positions[1])")
    }

    @Test func initialisationNeedsAGaussianReadoutOfTheRightSize() throws {
        let model = try VideoModel(configuration: TinyMouse.modelConfiguration(), mice: [MouseNeurons(key: "m", count: 3)])
        #expect(throws: SensoriumError.self) {
            try model.initializeReadoutPositions(mouse: "m", map: map(rows: [1, 2], columns: [1, 2]))
        }
        var grouped = TinyMouse.modelConfiguration()
        grouped.readout = .groupedConv(.init(groups: 2))
        grouped.shifter = nil
        let other = try VideoModel(configuration: grouped, mice: [MouseNeurons(key: "m", count: 3)])
        #expect(throws: SensoriumError.self) {
            try other.initializeReadoutPositions(mouse: "m", map: map(rows: [1, 2, 3], columns: [1, 2, 3]))
        }
    }

    @Test func modelFromDataStartsAtTheMappedFields() throws {
        var configuration = TinyMouse.modelConfiguration()
        configuration.readoutPositionInitialization = .receptiveFieldMapping(.init(lags: 2...4))
        let dataset = try TinyMouse.dataset()
        let model = try VideoModel(configuration: configuration, datasets: [dataset])
        try model.initializeFromData([dataset])
        let reference = try VideoModel(configuration: TinyMouse.modelConfiguration(), datasets: [dataset])
        try reference.initializeFromData([dataset])
        let a = (model.readout[dataset.name] as! FullGaussian2d).meanPositions().scalars
        let b = (reference.readout[dataset.name] as! FullGaussian2d).meanPositions().scalars
        #expect(a != b)
        #expect(a.allSatisfy { $0.isFinite && abs($0) <= 1 })
        // The option survives the architecture's JSON, and user JSON may give any part of it.
        let json = try JSONEncoder().encode(configuration)
        #expect(try JSONDecoder().decode(VideoModelConfiguration.self, from: json) == configuration)
        let user = try VideoModelConfiguration.fromJSON(
            #"{"readoutPositionInitialization": {"type": "receptiveFieldMapping", "pooling": 3}, "centerBehavior": true, "behaviorWarmupEpochs": 4}"#)
        #expect(user.readoutPositionInitialization == .receptiveFieldMapping(.init(pooling: 3)))
        #expect(user.centerBehavior && user.behaviorWarmupEpochs == 4)
        #expect(try VideoModelConfiguration.fromJSON("{}").readoutPositionInitialization == .reference)
        #expect(throws: SensoriumError.self) {
            _ = try VideoModelConfiguration.fromJSON(#"{"readoutPositionInitialization": {"type": "nearest"}}"#)
        }
    }

    @Test func behaviourGateHidesBehaviourUntilTheWarmupEnds() throws {
        var configuration = TinyMouse.modelConfiguration()
        configuration.behaviorWarmupEpochs = 2
        let model = try VideoModel(configuration: configuration, mice: [MouseNeurons(key: "m", count: 3)])
        #expect(model.behaviorGate?.scalars == [0])
        let video = Tensor.randomNormal([2, 3, 4, 2, 2], generator: RandomGenerator(seed: 1))
        let gated = model.gatedBehavior(video).scalars, raw = video.scalars
        for b in 0..<2 {
            for c in 0..<3 {
                for k in 0..<16 {
                    let i = (b * 3 + c) * 16 + k
                    #expect(gated[i] == (c == 0 ? raw[i] : 0))
                }
            }
        }
        // Gradients still reach the video (saliency maps, most exciting inputs).
        let input = Tensor(raw, shape: video.shape, requiresGrad: true)
        model.gatedBehavior(input).sum().backward()
        #expect(input.grad?.scalars.enumerated().allSatisfy { ($0.offset / 16) % 3 == 0 ? $0.element == 1 : $0.element == 0 } == true)
        model.epochWillStart(1)
        #expect(model.behaviorGate?.scalars == [0])
        // An ensemble passes the epoch on to its members.
        Ensemble([model]).epochWillStart(2)
        #expect(model.behaviorGate?.scalars == [1])
        #expect(model.gatedBehavior(video).scalars == raw)
        // The gate is part of the saved state; a reference model has none.
        #expect(model.stateDict().keys.contains { $0.contains("behavior") })
        let reference = try VideoModel(configuration: TinyMouse.modelConfiguration(), mice: [MouseNeurons(key: "m", count: 3)])
        #expect(reference.behaviorGate == nil)
        #expect(!reference.stateDict().keys.contains { $0.contains("behavior") })
    }

    @Test func trainerOpensTheGateAfterTheWarmupAndEarlyStoppingWaits() throws {
        var configuration = TinyMouse.modelConfiguration()
        configuration.behaviorWarmupEpochs = 1
        let dataset = try TinyMouse.dataset()
        let model = try VideoModel(configuration: configuration, datasets: [dataset])
        try model.initializeFromData([dataset])
        let data = MouseTrainingData(datasets: [dataset], batchSize: 2, frames: 20, validationTier: .oracle,
                                     validationBatchSize: 2, validationMaxFrames: 30)
        var trainer = TrainerConfiguration.reference
        trainer.earlyStopping = .init(patience: 1, lrDecaySteps: 1, maxEpochs: 3, warmupEpochs: 2)
        trainer.validationSkipFrames = 10
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let fit = Trainer(model: model, data: data, configuration: trainer, logger: logger)
        _ = try fit.fit(until: .epochs(1))
        #expect(model.behaviorGate?.scalars == [0])
        _ = try fit.fit()
        #expect(fit.history.count >= 3, "patience 1 must not stop inside the warm-up")
        #expect(fit.history.first { $0.epoch == 2 }?.improved == true, "the first evaluation after the warm-up is the best")
    }

    @Test func resumingInsideTheWarmupGivesTheUninterruptedRun() throws {
        var configuration = TinyMouse.modelConfiguration()
        configuration.behaviorWarmupEpochs = 1
        configuration.readoutPositionInitialization = .receptiveFieldMapping(.init(lags: 2...4))
        let dataset = try TinyMouse.dataset()
        func data() -> MouseTrainingData {
            MouseTrainingData(datasets: [dataset], batchSize: 2, frames: 20, validationTier: .oracle,
                              validationBatchSize: 2, validationMaxFrames: 30)
        }
        var trainer = TrainerConfiguration.reference
        trainer.earlyStopping = .init(patience: 10, lrDecaySteps: 1, maxEpochs: 3, warmupEpochs: 2)
        trainer.validationSkipFrames = 10
        let straightModel = try VideoModel(configuration: configuration, datasets: [dataset])
        try straightModel.initializeFromData([dataset])
        let straight = Trainer(model: straightModel, data: data(), configuration: trainer, logger: quietLogger)
        try straight.fit()

        let dir = try makeTrainerTestDirectory("warmup-resume")
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("run.h5")
        let firstModel = try VideoModel(configuration: configuration, datasets: [dataset])
        try firstModel.initializeFromData([dataset])
        let first = Trainer(model: firstModel, data: data(), configuration: trainer, logger: quietLogger)
        first.checkpointURL = url
        try first.fit(until: .steps(1))  // inside epoch 0, behaviour hidden
        var other = configuration
        other.seed = 77
        other.readoutPositionInitialization = .reference
        let resumedModel = try VideoModel(configuration: other, datasets: [dataset])
        try resumedModel.initializeFromData([dataset])
        let resumed = Trainer(model: resumedModel, data: data(), configuration: trainer, logger: quietLogger)
        try resumed.restore(from: url)
        try resumed.fit()
        #expect(resumedModel.behaviorGate?.scalars == [1])
        let a = parameterBits(resumedModel), b = parameterBits(straightModel)
        #expect(a == b, "resumed warm-up run differs in \(a.keys.filter { a[$0] != b[$0] }.sorted())")
        #expect(resumed.history.map(\.validation) == straight.history.map(\.validation))
    }

    /// Two identical runs give identical bits: the convolution weight gradients reduce their
    /// per-piece partial sums in a fixed order whatever thread ran which piece.
    @Test func trainingIsBitwiseRepeatable() throws {
        let dataset = try TinyMouse.dataset()
        func run() throws -> [String: [UInt32]] {
            let model = try VideoModel(configuration: TinyMouse.modelConfiguration(), datasets: [dataset])
            try model.initializeFromData([dataset])
            let data = MouseTrainingData(datasets: [dataset], batchSize: 3, frames: 30, validationTier: .oracle,
                                         validationBatchSize: 2, validationMaxFrames: 30)
            var trainer = TrainerConfiguration.reference
            trainer.earlyStopping = .fixedEpochs(1)
            try Trainer(model: model, data: data, configuration: trainer, logger: quietLogger).fit()
            return parameterBits(model)
        }
        let a = try run(), b = try run()
        #expect(a == b, "differs in \(a.keys.filter { a[$0] != b[$0] }.sorted())")
    }

    @Test func earlyStoppingWarmupIgnoresEarlyObjectives() {
        var stopping = EarlyStopping(configuration: .init(patience: 2, lrDecaySteps: 1, maxEpochs: 20, warmupEpochs: 3))
        _ = stopping.start(objective: 0.5)
        var decisions: [EarlyStopping.Decision] = []
        for value in [0.1, 0.2, 0.3, 0.25, 0.2] {
            _ = stopping.epochCompleted()
            decisions.append(stopping.record(objective: value))
        }
        #expect(decisions[0] == .init() && decisions[1] == .init(), "epochs 1–2: nothing counts")
        #expect(decisions[2].improved && stopping.bestEpoch == 3 && stopping.bestObjective == 0.3)
        #expect(!decisions[3].finished && decisions[4].finished, "patience 2 after the warm-up")
        // The state round-trips through a checkpoint record.
        var copy = EarlyStopping(configuration: .init(warmupEpochs: 3))
        var fresh = EarlyStopping(configuration: .init(warmupEpochs: 3))
        _ = fresh.start(objective: 0)
        try? copy.loadState(fresh.stateRecord())
        _ = copy.epochCompleted(); _ = copy.epochCompleted(); _ = copy.epochCompleted()
        #expect(copy.record(objective: -1).improved, "still pending after a restore")
    }

    @Test func warmupEndingAtTheLastEpochKeepsTrainedWeights() {
        var stopping = EarlyStopping(configuration: .init(patience: 5, maxEpochs: 2, warmupEpochs: 5))
        _ = stopping.start(objective: 0.5)
        _ = stopping.epochCompleted()
        #expect(!stopping.record(objective: 0.1).improved)
        _ = stopping.epochCompleted()
        let last = stopping.record(objective: 0.2)
        #expect(last.improved && last.finished && stopping.bestEpoch == 2)
    }

    @Test func limitingEpochsShortensTheWarmups() {
        var demo = DemoWorkflow.trainingConfiguration
        #expect(demo.model.behaviorWarmupEpochs == 5 && demo.trainer.earlyStopping.warmupEpochs == 7)
        demo.limitEpochs(to: 3)
        #expect(demo.trainer.earlyStopping.maxEpochs == 3)
        #expect(demo.model.behaviorWarmupEpochs == 0 && demo.trainer.earlyStopping.warmupEpochs == 0)
        var medium = DemoWorkflow.trainingConfiguration
        medium.limitEpochs(to: 20)
        #expect(medium.model.behaviorWarmupEpochs == 5 && medium.trainer.earlyStopping.warmupEpochs == 7)
        var long = DemoWorkflow.trainingConfiguration
        long.limitEpochs(to: 100)
        #expect(long.model.behaviorWarmupEpochs == 5 && long.trainer.earlyStopping.warmupEpochs == 7)
        // The validation interval lands on the last epoch: the largest one that divides it.
        var run = TrainingRunConfiguration()
        run.trainer.earlyStopping.interval = 5
        for (epochs, interval) in [(70, 5), (36, 4), (37, 1), (3, 3), (1, 1)] {
            var r = run
            r.limitEpochs(to: epochs)
            #expect(r.trainer.earlyStopping.interval == interval, "\(epochs) epochs")
        }
    }

    @Test func limitingEpochsCompressesACosineScheduleToTheRun() throws {
        var run = TrainingRunConfiguration()
        run.trainer.schedule = .warmupCosine(.init(warmupEpochs: 3, cosineEpochs: 80, minLearningRate: 1e-5))
        run.limitEpochs(to: 20)
        let twenty = try #require(run.trainer.schedule.as(WarmupCosineSchedule.self))
        #expect(twenty.warmupEpochs == 3 && twenty.cosineEpochs == 17 && twenty.minLearningRate == 1e-5)
        // The learning rate reaches its floor at the run's last step.
        let last = twenty.learningRate(base: 5e-3, progress: 20, stepFraction: 0.1)
        #expect(abs(last - 1e-5) < 1e-12)
        run.limitEpochs(to: 8)
        let eight = try #require(run.trainer.schedule.as(WarmupCosineSchedule.self))
        #expect(eight.warmupEpochs == 2 && eight.cosineEpochs == 6)
        // A schedule that ends within the run, and a plateau schedule, are left as they are.
        var fits = TrainingRunConfiguration()
        fits.trainer.schedule = .warmupCosine(.init(warmupEpochs: 1, cosineEpochs: 11))
        fits.limitEpochs(to: 30)
        #expect(fits.trainer.schedule == .warmupCosine(.init(warmupEpochs: 1, cosineEpochs: 11)))
        var plateau = TrainingRunConfiguration()
        plateau.limitEpochs(to: 5)
        #expect(plateau.trainer.schedule == TrainerConfiguration.reference.schedule)
    }

    @Test func theDemoAnnealsWithinItsEpochsAndAShorterRunToo() throws {
        let demo = DemoWorkflow.trainingConfiguration
        #expect(demo.trainer.earlyStopping.maxEpochs == DemoWorkflow.defaultEpochs)
        let cosine = try #require(demo.trainer.schedule.as(WarmupCosineSchedule.self))
        #expect(cosine.totalEpochs == Double(DemoWorkflow.defaultEpochs))
        #expect(cosine.learningRate(base: 1e-2, progress: Double(DemoWorkflow.defaultEpochs), stepFraction: 0.1) == 0)
        #expect(demo.trainer.movingAverage != nil)
        // `sensorium demo --epochs 12`: warm-up 2 + cosine 10, behaviour hidden for a quarter of
        // the epochs, early stopping from two epochs after.
        var short = demo
        short.limitEpochs(to: 12)
        let compressed = try #require(short.trainer.schedule.as(WarmupCosineSchedule.self))
        #expect(compressed.warmupEpochs == 2 && compressed.cosineEpochs == 10)
        #expect(short.model.behaviorWarmupEpochs == 3 && short.trainer.earlyStopping.warmupEpochs == 5)
    }

    @Test func centredBehaviourSubtractsTheMeanAndMustMatchTheModel() throws {
        let raw = try MouseDataset(path: TinyMouse.dataset().layout.root, options: MouseDataOptions(normalize: false))
        let reference = try TinyMouse.dataset()
        let centred = try MouseDataset(path: reference.layout.root, options: MouseDataOptions(centerBehavior: true))
        let trial = reference.trials(in: .train)[0]
        let r = try raw.readTrial(trial), a = try reference.readTrial(trial), c = try centred.readTrial(trial)
        // Statistics per channel and frame, (2, T) (per channel, (2,), also allowed).
        let meanFile = try NPYFile.read(reference.layout.root + "/meta/statistics/behavior/all/mean.npy")
        let mean = try meanFile.floats()
        let std = try NPYFile.read(reference.layout.root + "/meta/statistics/behavior/all/std.npy").floats()
        let perFrame = meanFile.shape.count == 2 ? meanFile.shape[1] : 1
        for k in [0, 5, r.length - 1] {
            for ch in 0..<2 {
                let x = r.behavior[ch * r.length + k], s = ch * perFrame + (perFrame > 1 ? k : 0)
                #expect(abs(a.behavior[ch * r.length + k] - x / std[s]) < 1e-4 * max(1, abs(x / std[s])))
                #expect(abs(c.behavior[ch * r.length + k] - (x - mean[s]) / std[s]) < 1e-4 * max(1, abs(x / std[s])))
            }
        }
        #expect(c.video == a.video && c.responses == a.responses)
        // A model reading uncentred behaviour refuses centred data, and the evaluation opens
        // data the way the model reads it.
        #expect(throws: SensoriumError.self) {
            _ = try VideoModel(configuration: TinyMouse.modelConfiguration(), datasets: [centred])
        }
        var configuration = TinyMouse.modelConfiguration()
        configuration.centerBehavior = true
        let model = try VideoModel(configuration: configuration, datasets: [centred])
        try model.initializeFromData([centred])
        #expect(try EvaluationWorkflow.dataOptions(for: model).centerBehavior)
    }
}
