import Foundation
import Testing
@testable import Sensorium
@testable import SensoriumTraining
import SensoriumTestSupport

/// Dynamic-V1FM's recipe (spec §2.1, §2.4): the mmcv CosineRestart schedule with linear warm-up,
/// the Poisson loss with eps on every term, the input normalisation, one optimizer step per
/// single-mouse batch, and the `dynamicV1FM` / `dynamicV1FMSmall` presets.
@Suite struct DynamicV1FMRecipeTests {
    // MARK: - Schedule

    /// mmcv 0.5 `LrUpdaterHook` (by epoch) + the reference's `CosineRestartLrUpdaterHook` with
    /// `warmup='linear', warmup_iters=600, warmup_ratio=1/3, periods=[80, 100], restart_weights=[1, 1],
    /// min_lr=[1e-3, 1e-6]`, written out for the paper's values: the rate of global iteration `i`
    /// in epoch `e`.
    static func paperRate(iteration i: Int, epoch e: Int, base: Double = 1e-3) -> Double {
        let regular: Double
        if e < 80 {
            regular = 1e-3 + 0.5 * (base - 1e-3) * (1 + cos(Double.pi * Double(e) / 80))
        } else {
            let alpha = min(1, Double(e - 80) / 100)
            regular = 1e-6 + 0.5 * (base - 1e-6) * (1 + cos(Double.pi * alpha))
        }
        guard i < 600 else { return regular }
        return regular * (1 - (1 - Double(i) / 600) * (1 - 1.0 / 3))
    }

    @Test func cosineRestartDefaultsAreThePapersAndMatchTheFormula() {
        let s = CosineRestartSchedule.defaults
        #expect(s.periods == [80, 100] && s.minLearningRates == [1e-3, 1e-6] && s.restartWeights == [1, 1])
        #expect(s.warmupIterations == 600 && abs(s.warmupRatio - 1.0 / 3) < 1e-15 && s.byEpoch && s.totalEpochs == 180)
        // 57 steps per epoch (any count: the warm-up is in steps, the rest in epochs).
        let rounds = 57
        let fraction = 1 / Double(rounds)
        let steps = [0, 1, 2, 56, 57, 299, 300, 301, 599, 600, 601, 79 * rounds - 1, 79 * rounds + 56, 80 * rounds - 1,
                     80 * rounds, 80 * rounds + 1, 81 * rounds, 105 * rounds + 3, 130 * rounds, 179 * rounds, 180 * rounds - 1,
                     180 * rounds, 200 * rounds]
        for step in steps {
            let epoch = step / rounds
            let progress = Double(epoch) + Double(step % rounds) * fraction
            let expected = Self.paperRate(iteration: step, epoch: epoch)
            let given = s.learningRate(base: 1e-3, progress: progress, stepFraction: fraction, step: step)
            let derived = s.learningRate(base: 1e-3, progress: progress, stepFraction: fraction)
            #expect(abs(given - expected) <= 1e-15, "step \(step): \(given) vs \(expected)")
            #expect(derived == given, "step \(step): the step index derived from the progress")
        }
        // Landmarks: a third of the rate at the first step, two thirds halfway through the warm-up,
        // the full rate until epoch 80, the midpoint of the cosine at epoch 130, 1e-6 at the end.
        #expect(abs(s.learningRate(base: 1e-3, epoch: 0, progress: 0, step: 0) - 1e-3 / 3) < 1e-18)
        #expect(abs(s.learningRate(base: 1e-3, epoch: 5, progress: 5.2, step: 300) - 2e-3 / 3) < 1e-18)
        #expect(s.learningRate(base: 1e-3, epoch: 79, progress: 79.9, step: 10_000) == 1e-3)
        #expect(s.learningRate(base: 1e-3, epoch: 80, progress: 80, step: 10_000) == 1e-3)
        #expect(abs(s.learningRate(base: 1e-3, epoch: 130, progress: 130.5, step: 20_000) - (1e-3 + 1e-6) / 2) < 1e-15)
        #expect(abs(s.learningRate(base: 1e-3, epoch: 180, progress: 180, step: 30_000) - 1e-6) < 1e-18)
        // By epoch the rate holds within an epoch; per step it moves.
        #expect(s.learningRate(base: 1e-3, epoch: 100, progress: 100.9, step: 20_000)
                == s.learningRate(base: 1e-3, epoch: 100, progress: 100, step: 20_000))
        var perStep = s
        perStep.byEpoch = false
        let within = perStep.learningRate(base: 1e-3, epoch: 100, progress: 100.5, step: 20_000)
        #expect(abs(within - (1e-6 + 0.5 * (1e-3 - 1e-6) * (1 + cos(Double.pi * 20.5 / 100)))) < 1e-15)
    }

    @Test func cosineRestartRestartsAndWeighs() {
        // Three periods, the second restarting at weight ½ from base 1 to 0.2.
        let s = CosineRestartSchedule(periods: [2, 4, 2], restartWeights: [1, 0.5, 1], minLearningRates: [0.5, 0.2, 0.1])
        func rate(_ e: Double) -> Double { s.regularLearningRate(base: 1, progress: e) }
        #expect(rate(0) == 1 && abs(rate(1) - 0.75) < 1e-15)
        #expect(abs(rate(2) - (0.2 + 0.5 * 0.5 * 0.8 * 2)) < 1e-15)
        #expect(abs(rate(4) - (0.2 + 0.5 * 0.5 * 0.8)) < 1e-15)
        #expect(abs(rate(6) - 1) < 1e-15 && abs(rate(7) - 0.55) < 1e-15)
        #expect(abs(rate(8) - 0.1) < 1e-15 && abs(rate(50) - 0.1) < 1e-15, "after the last period: its end rate")
    }

    @Test func cosineRestartDecodesByNameAndRefusesBadOptions() throws {
        let trainer = try TrainerConfiguration.fromJSON(#"{"schedule": {"type": "cosineRestart", "periods": [3, 5], "minLearningRates": [0.01, 0], "restartWeights": [1, 1], "warmupIterations": 7}}"#)
        let curve = try #require(trainer.schedule.as(CosineRestartSchedule.self))
        #expect(curve.periods == [3, 5] && curve.minLearningRates == [0.01, 0] && curve.warmupIterations == 7
                && abs(curve.warmupRatio - 1.0 / 3) < 1e-15 && curve.byEpoch)
        #expect(try TrainerConfiguration.fromJSON(trainer.jsonString()) == trainer)
        #expect(try ScheduleKind.registry.defaults(type: "cosineRestart").as(CosineRestartSchedule.self) == CosineRestartSchedule())
        for bad in [#"{"periods": [3, 5, 2]}"#, #"{"periods": [0, 180], "minLearningRates": [1, 1], "restartWeights": [1, 1]}"#,
                    #"{"warmupRatio": 0}"#, #"{"warmupIterations": -1}"#, #"{"minLearningRate": 1e-6}"#] {
            let json = #"{"schedule": {"type": "cosineRestart", "# + bad.dropFirst() + "}"
            #expect(throws: (any Error).self, "\(bad)") { try TrainerConfiguration.fromJSON(json) }
        }
    }

    /// Through the ``Trainer``: every step's rate is the formula of its global step and epoch, and
    /// a run interrupted mid-epoch and resumed from its checkpoint takes the same rates.
    @Test func cosineRestartThroughTheTrainerAndAcrossAResume() throws {
        let schedule = CosineRestartSchedule(periods: [2, 3], minLearningRates: [0.03, 1e-4], warmupIterations: 4,
                                             warmupRatio: 0.25)
        var configuration = toyConfiguration(lr: 0.03)
        configuration.schedule = .cosineRestart(schedule)
        configuration.earlyStopping = .fixedEpochs(5)
        func expected(step: Int, epoch: Int) -> Double {
            let regular = epoch < 2 ? 0.03 : 1e-4 + 0.5 * (0.03 - 1e-4) * (1 + cos(Double.pi * min(1, Double(epoch - 2) / 3)))
            return step < 4 ? regular * (1 - (1 - Double(step) / 4) * 0.75) : regular
        }
        let straightObserver = RecordingObserver()
        let straight = Trainer(model: toyModel(seed: 5), data: ToyData(seed: 9, mice: toyMice), configuration: configuration,
                               logger: quietLogger)
        straight.observers = [straightObserver]
        try straight.fit()
        let steps = straightObserver.steps
        #expect(steps.count == 15, "3 rounds × 5 epochs")
        for report in steps {
            let rate = expected(step: report.globalStep - 1, epoch: report.epoch - 1)
            #expect(abs(report.learningRate - rate) < 1e-15, "step \(report.globalStep): \(report.learningRate) vs \(rate)")
        }
        #expect(Set(steps.map(\.learningRate)).count >= 6)

        let dir = try makeTrainerTestDirectory("cosine-restart")
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("run.h5")
        let first = Trainer(model: toyModel(seed: 5), data: ToyData(seed: 9, mice: toyMice), configuration: configuration,
                            logger: quietLogger)
        first.checkpointURL = url
        _ = try first.fit(until: .steps(5))
        let resumedObserver = RecordingObserver()
        let resumed = Trainer(model: toyModel(seed: 77), data: ToyData(seed: 9, mice: toyMice), configuration: configuration,
                              logger: quietLogger)
        resumed.observers = [resumedObserver]
        try resumed.restore(from: url)
        try resumed.fit()
        #expect(resumedObserver.steps.map(\.globalStep) == Array(6...15))
        #expect(resumedObserver.steps.map(\.learningRate) == steps.dropFirst(5).map(\.learningRate))
    }

    // MARK: - Loss

    /// `(ŷ + eps) − (y + eps)·log(ŷ + eps)` summed over batch × the last T' frames × neurons, and its
    /// gradient `1 − (y + eps) / (ŷ + eps)`; `scaled` multiplies by `sqrt(K / B)`.
    @Test func poissonWithEpsEverywhereMatchesTheFormulaAndItsGradient() throws {
        let g = RandomGenerator(seed: 11)
        let predictions = Tensor.randomUniform([3, 4, 5], low: 0.01, high: 3, generator: g)
        predictions.requiresGrad = true
        var targetValues = Tensor.randomUniform([3, 7, 5], low: 0, high: 4, generator: g).scalars
        for i in stride(from: 0, to: targetValues.count, by: 3) { targetValues[i] = 0 }
        let targets = Tensor(targetValues, shape: [3, 7, 5])
        let configured = try JSONDecoder().decode(AnyLossConfiguration.self,
                                                  from: Data(#"{"type": "poisson", "epsPlacement": "everywhere", "scaled": false}"#.utf8))
        let loss = configured.makeLoss()
        let context = LossContext(mouse: "m", batchSize: 3, trialCount: 12)
        let value = loss(predictions: predictions, targets: targets, context: context)
        let eps = 1e-8
        var expected = 0.0
        for b in 0..<3 {
            for t in 0..<4 {
                for n in 0..<5 {
                    let yhat = Double(predictions.scalars[(b * 4 + t) * 5 + n]), y = Double(targetValues[(b * 7 + t + 3) * 5 + n])
                    expected += (yhat + eps) - (y + eps) * log(yhat + eps)
                }
            }
        }
        #expect(value.shape == [] && abs(Double(value.item) - expected) <= 1e-5 * abs(expected), "\(value.item) vs \(expected)")
        value.backward()
        let gradient = try #require(predictions.grad).scalars
        for b in 0..<3 {
            for t in 0..<4 {
                for n in 0..<5 {
                    let i = (b * 4 + t) * 5 + n
                    let yhat = Double(predictions.scalars[i]), y = Double(targetValues[(b * 7 + t + 3) * 5 + n])
                    let d = 1 - (y + eps) / (yhat + eps)
                    #expect(abs(Double(gradient[i]) - d) <= 1e-5 * max(1, abs(d)), "∂/∂ŷ at \(i)")
                }
            }
        }
        // Scaled: × sqrt(12 / 3) = 2; the reference placement differs by eps·count − eps·Σ log(ŷ + eps).
        let scaled = ScaledPoissonLoss(eps: 1e-8, scaled: true, epsPlacement: .everywhere)
        let twice = withNoGrad { scaled(predictions: predictions, targets: targets, context: context) }
        #expect(abs(twice.item - 2 * value.item) <= 1e-6 * abs(twice.item))
        let reference = withNoGrad { ScaledPoissonLoss(eps: 1e-8, scaled: false)(predictions: predictions, targets: targets, context: context) }
        #expect(abs(Double(reference.item) - expected) <= 1e-5 * abs(expected), "eps 1e-8 changes the sum by ≈ 1e-7")
        // A finite-difference check with a larger eps, where the placement matters.
        let visible = ScaledPoissonLoss(eps: 0.5, scaled: false, epsPlacement: .everywhere)
        let x = Tensor.randomUniform([2, 3, 4], low: 0.2, high: 2, generator: g)
        x.requiresGrad = true
        let y = Tensor.randomUniform([2, 5, 4], low: 0, high: 3, generator: g)
        for result in GradientCheck.check([x], epsilon: 1e-2, { visible(predictions: $0[0], targets: y, context: context) }) {
            #expect(result.passed, "\(result)")
        }
        #expect(try LossKind.registry.defaults(type: "poisson").as(ScaledPoissonLoss.Configuration.self)?.epsPlacement == .log)
    }

    // MARK: - Inputs

    /// The data options the preset's model derives give the spec's normalisation (§2.1) on a
    /// synthetic mouse: video `(x − mean) / std`, behaviour `x / std` (not centred), pupil centre
    /// z-scored, responses × `1 / std` with the 1 %-of-mean threshold; the frame alone as video,
    /// behaviour and pupil centre as separate inputs.
    @Test func dynamicV1FMInputsAreNormalisedAsTheSpecSays() throws {
        let options = try VideoModelConfiguration.dynamicV1FM.dataOptions()
        #expect(options == MouseDataOptions(normalize: true, behaviorAsChannels: false, pupilCenterAsChannels: false,
                                            centerBehavior: false))
        #expect(try VideoModelConfiguration.dynamicV1FMSmall.dataOptions() == options)
        let path = TinyMouse.root + "/" + SyntheticMouseGenerator.mouseName(index: 0, configuration: TinyMouse.configuration)
        let normalized = try MouseDataset(path: path, options: options)
        let raw = try MouseDataset(path: path, options: MouseDataOptions(normalize: false, behaviorAsChannels: false))
        let stats = normalized.statistics
        func values(_ field: MouseField, _ name: KeyPath<FieldStatistics, StatisticArray?>) throws -> [Float] {
            try #require(stats[field][keyPath: name]).values
        }
        let videoMean = try values(.videos, \.mean), videoStd = try values(.videos, \.std)
        let behaviorStd = try values(.behavior, \.std)
        let pupilMean = try values(.pupilCenter, \.mean), pupilStd = try values(.pupilCenter, \.std)
        let responseStd = try values(.responses, \.std)
        // Scalars in SENSORIUM 2023; the synthetic mice's may vary by pixel and frame: the statistic
        // of pixel p at frame t, whatever the file's shape (the normaliser broadcasts it).
        let hw = normalized.frameHeight * normalized.frameWidth
        func videoStatistic(_ values: [Float], _ shape: [Int], pixel p: Int, frame t: Int) -> Float {
            switch shape.count {
            case _ where values.count == 1: return values[0]
            case 1: return values[t]
            case 2: return values[p]
            default: return values[p * shape[2] + t]
            }
        }
        let videoMeanShape = try #require(stats[.videos].mean).shape, videoStdShape = try #require(stats[.videos].std).shape
        // Per row (SENSORIUM 2023) or per row and frame (the synthetic mice): the value of row r at frame t.
        func at(_ field: MouseField, _ values: [Float], _ row: Int, _ t: Int) throws -> Float {
            let shape = try #require(stats[field].std).shape
            return shape.count == 2 ? values[row * shape[1] + t] : values[row]
        }
        // Per neuron (SENSORIUM 2023) or per neuron and frame (the synthetic mice); nanmean over all.
        let responseShape = try #require(stats[.responses].std).shape
        #expect(responseShape.first == normalized.neuronCount && responseShape.count <= 2)
        let statisticFrames = responseShape.count == 2 ? responseShape[1] : 0
        let finite = responseStd.filter { !$0.isNaN }
        let threshold = 0.01 * finite.reduce(0, +) / Float(finite.count)
        let precision = responseStd.map { $0 > threshold ? 1 / $0 : 1 / threshold }
        func close(_ a: Float, _ b: Float) -> Bool { abs(a - b) <= 1e-5 * max(1, abs(b)) }
        for trial in normalized.trials(in: .train).prefix(2) + normalized.trials(in: .oracle).prefix(1) {
            let n = try normalized.readTrial(trial), r = try raw.readTrial(trial)
            #expect(n.length == r.length && n.video.count == r.video.count, "one frame channel")
            var videoMatches = true
            for t in 0..<n.length {
                for p in 0..<hw {
                    let m = videoStatistic(videoMean, videoMeanShape, pixel: p, frame: t)
                    let sd = videoStatistic(videoStd, videoStdShape, pixel: p, frame: t)
                    videoMatches = videoMatches && close(n.video[t * hw + p], (r.video[t * hw + p] - m) / sd)
                }
            }
            #expect(videoMatches, "video (x − mean) / std, trial \(trial), statistics of shape \(videoMeanShape)")
            for row in 0..<2 {
                for t in 0..<n.length {
                    let i = row * n.length + t
                    #expect(close(n.behavior[i], r.behavior[i] / (try at(.behavior, behaviorStd, row, t))),
                            "behaviour row \(row) at \(t), trial \(trial)")
                    #expect(close(n.pupilCenter[i], (r.pupilCenter[i] - (try at(.pupilCenter, pupilMean, row, t)))
                                  / (try at(.pupilCenter, pupilStd, row, t))), "pupil row \(row) at \(t), trial \(trial)")
                }
            }
            for t in 0..<n.length {
                for k in 0..<n.neuronCount {
                    let i = t * n.neuronCount + k
                    let p = statisticFrames == 0 ? precision[k] : precision[k * statisticFrames + t]
                    #expect(close(n.responses[i], r.responses[i] * p), "response \(k) at \(t), trial \(trial)")
                }
            }
        }
        // A batch carries behaviour and pupil centre for the core and the shifter.
        let loader = MouseLoader(dataset: normalized, tier: .train, batchSize: 2, mode: .clips(frames: 30),
                                 generator: RandomGenerator(seed: 1))
        let batch = try #require(try loader.epoch(prefetch: 0).next())
        #expect(batch.videoTensor().shape == [2, 1, 30, 18, 32] && batch.behaviorTensor().shape == [2, 2, 30]
                && batch.pupilCenterTensor().shape == [2, 2, 30])
    }

    // MARK: - One step per single-mouse batch

    @Test func stepEveryBatchKeepsTheBatchesAndMakesEachAStep() throws {
        var synthetic = SyntheticMouseConfiguration.tiny
        synthetic.mice = 2
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sensorium-dv1fm-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let paths = try SyntheticMouseGenerator.generate(configuration: synthetic, into: dir.path).map(\.path)
        let options = try VideoModelConfiguration.dynamicV1FMSmall.dataOptions()
        let datasets = try paths.map { try MouseDataset(path: $0, options: options) }
        let data = MouseTrainingData(datasets: datasets, batchSize: 2, frames: 30, prefetch: 0)
        func batches(_ stepEveryBatch: Bool) throws -> (count: Int, rounds: [[String]], firstClip: [Float]) {
            data.stepEveryBatch = stepEveryBatch
            let rounds = try data.trainingRounds(epoch: 0, generator: RandomGenerator(seed: 3))
            let next = try rounds.rounds()
            var names: [[String]] = []
            var first: [Float] = []
            while let round = try next() {
                names.append(round.map(\.mouse))
                if first.isEmpty { first = round[0].video }
            }
            #expect(names.count == rounds.count)
            return (rounds.count, names, first)
        }
        let together = try batches(false), apart = try batches(true)
        #expect(together.count == 3 && together.rounds.allSatisfy { $0.count == 2 })
        #expect(apart.count == 6 && apart.rounds.allSatisfy { $0.count == 1 })
        #expect(apart.rounds.flatMap { $0 } == together.rounds.flatMap { $0 }, "same batches, same round-robin order")
        #expect(apart.firstClip == together.firstClip)
        // Resuming mid-epoch skips whole steps.
        data.stepEveryBatch = true
        let resumed = try data.trainingRounds(epoch: 0, generator: RandomGenerator(seed: 3)).rounds(from: 3)
        var rest: [[String]] = []
        while let round = try resumed() { rest.append(round.map(\.mouse)) }
        #expect(rest == Array(apart.rounds.dropFirst(3)))
        // The data settings carry the option through JSON.
        let run = try TrainingRunConfiguration.fromJSON(#"{"data": {"stepEveryBatch": true}}"#)
        #expect(run.data.stepEveryBatch && !TrainingDataSettings().stepEveryBatch)
    }

    // MARK: - Presets

    @Test func dynamicV1FMPresetIsThePapersConfiguration() throws {
        let run = try RunPreset.named("dynamicV1FM").configuration
        let core = try #require(run.model.core.as(SwinCore.Configuration.self))
        #expect(core == SwinCore.Configuration(inChannels: 1, behaviorDim: 4, patchSize: [2, 2, 2], windowSize: [8, 7, 7],
                                               embedDim: 224, numBlocks: 4, numHeads: 4, mlpDim: 488, dropout: 0, dropPath: 0))
        let readout = try #require(run.model.readout.as(HierarchicalGaussianReadout.Configuration.self))
        #expect(readout == HierarchicalGaussianReadout.Configuration() && readout.fusion == .adaptive && readout.activeLevels == nil
                && readout.levels == [2, 4, 8, 16] && readout.covariance == .full && readout.initSigma == 0.2)
        let shifter = try #require(run.model.shifter?.as(MLPShifter.Configuration.self))
        #expect(shifter.layers == 3 && shifter.hiddenChannels == 16 && shifter.inputFeatures == 2)
        #expect(run.model.outputNonlinearity == .eluPlusOne() && !run.model.centerBehavior && run.model.behaviorWarmupEpochs == 0
                && run.model.biasInitializationTrials == 32 && run.model.seed == 42)
        let adamW = try #require(run.trainer.optimizer.as(AdamW.Configuration.self))
        #expect(adamW.learningRate == 1e-3 && adamW.beta1 == 0.9 && adamW.beta2 == 0.999 && adamW.weightDecay == 0.05)
        #expect(run.trainer.schedule.as(CosineRestartSchedule.self) == CosineRestartSchedule())
        let loss = try #require(run.trainer.loss.as(ScaledPoissonLoss.Configuration.self))
        #expect(loss.eps == 1e-8 && !loss.scaled && loss.epsPlacement == .everywhere)
        #expect(run.trainer.earlyStopping == .fixedEpochs(180) && run.trainer.gradientClipNorm == nil
                && run.trainer.movingAverage == nil && run.trainer.seed == 42)
        #expect(run.data.batchSize == 32 && run.data.frames == 30 && run.data.validationTier == .oracle && run.data.stepEveryBatch)
        #expect(try TrainingRunConfiguration.fromJSON(run.jsonString()) == run)
    }

    /// The preset's model, built for the paper's ten mice, has exactly the keys and shapes of
    /// `dynamic_v1fm_paper_keys.json` (the adaptive model) and its parameter count.
    @Test func dynamicV1FMPresetBuildsThePaperModel() throws {
        let folder = Fixtures.folder(environmentKey: "SENSORIUM_WINNER_FIXTURES", defaultSubfolder: "winners")
        let json = try Fixtures.json(folder.appendingPathComponent("dynamic_v1fm_paper_keys.json"))
        let mice = try #require(json["mice"] as? [[String: Any]])
        let neurons = try mice.map { m -> MouseNeurons in
            let key = try #require(m["data_key"] as? String), count = try #require((m["neurons"] as? NSNumber)?.intValue)
            return MouseNeurons(key: key, count: count, coordinates: nil, frameSize: [36, 64])
        }
        let model = try VideoModel(configuration: .dynamicV1FM, mice: neurons)
        let keys = try #require(json["keys"] as? [[String: Any]])
        var expected: [String: [Int]] = [:]
        for entry in keys {
            expected[try #require(entry["key"] as? String)] = try #require(entry["shape"] as? [Int])
        }
        let ours = Dictionary(uniqueKeysWithValues: model.namedStateTensors().map { ($0.path, $0.tensor.shape) })
        #expect(Set(ours.keys) == Set(expected.keys),
                "missing \(Set(expected.keys).subtracting(ours.keys).sorted().prefix(5)), extra \(Set(ours.keys).subtracting(expected.keys).sorted().prefix(5))")
        for (key, shape) in expected where ours[key] != nil && ours[key] != shape {
            Issue.record("\(key): \(ours[key]!) vs \(shape)")
        }
        #expect(model.parameterCount == (json["num_parameters"] as? NSNumber)?.intValue)
    }

    /// The small preset builds on a synthetic mouse and takes training steps with the schedule's
    /// warm-up rates, one step per batch.
    @Test func dynamicV1FMSmallPresetTrains() throws {
        var run = try RunPreset.named("dynamicV1FMSmall").configuration
        #expect(run.model.core.as(SwinCore.Configuration.self)?.embedDim == 32 && run.data.frames == 30 && run.data.stepEveryBatch)
        #expect(run.trainer.schedule.typeName == "cosineRestart" && run.trainer.loss.as(ScaledPoissonLoss.Configuration.self)?.epsPlacement == .everywhere)
        run.model.biasInitializationTrials = 2
        let dataset = try MouseDataset(path: TinyMouse.root + "/" + SyntheticMouseGenerator.mouseName(index: 0, configuration: TinyMouse.configuration),
                                       options: run.model.dataOptions())
        let model = try VideoModel(configuration: run.model, datasets: [dataset])
        try model.initializeFromData([dataset])
        let data = MouseTrainingData(datasets: [dataset], batchSize: 2, frames: run.data.frames, validationTier: .oracle,
                                     validationBatchSize: 2, validationMaxFrames: 40, prefetch: 0)
        data.stepEveryBatch = run.data.stepEveryBatch
        let observer = RecordingObserver()
        let trainer = Trainer(model: model, data: data, configuration: run.trainer, logger: quietLogger)
        trainer.observers = [observer]
        try trainer.fit(until: .steps(2))
        #expect(observer.steps.count == 2 && observer.steps.allSatisfy { $0.loss.isFinite && $0.loss > 0 })
        let schedule = try #require(run.trainer.schedule.as(CosineRestartSchedule.self))
        let base = try #require(run.trainer.optimizer.as(AdamW.Configuration.self)?.learningRate)
        for report in observer.steps {
            #expect(abs(report.learningRate - base * (1 - (1 - Double(report.globalStep - 1) / Double(schedule.warmupIterations)) * 2 / 3)) < 1e-15)
        }
    }
}
