import Foundation
import Testing
@testable import Sensorium
@testable import SensoriumTraining

/// The `viv1t` and `viv1tSmall` presets: the paper's configuration field by field, and the small
/// one training end to end through the `train` workflow.
@Suite("ViV1T presets")
struct ViV1TPresetTests {
    @Test("viv1t holds the paper's model, recipe and data settings (winners-spec §3)")
    func paperFields() throws {
        let run = try RunPreset.named("viv1t").configuration
        let core = try #require(run.model.core.base as? ViViTCore.Configuration)
        var paper = ViViTCore.Configuration()
        paper.gradientCheckpointing = true
        #expect(core == paper)
        #expect(core.embeddingDim == 112 && core.heads == 11 && core.headDim == 48 && core.mlpDim == 136
                && core.spatialDepth == 3 && core.temporalDepth == 5 && core.temporalPatch == 25 && core.spatialPatch == 7
                && core.spatialStride == 2 && core.inputChannels == 5 && core.maxFrames == 300)
        #expect(run.model.readout.typeName == "viv1tGaussian" && run.model.shifter?.typeName == "viv1t"
                && run.model.outputNonlinearity.typeName == "exponential")
        #expect(run.model.minMaxBehavior && run.model.videoNormalization == .minMax)

        let t = run.trainer
        let adamW = try #require(t.optimizer.base as? AdamW.Configuration)
        #expect(adamW.learningRate == 3.6e-3 && adamW.weightDecay == 0.3939 && adamW.beta1 == 0.9 && adamW.beta2 == 0.999
                && adamW.eps == 1e-8)
        #expect(adamW.parameterGroups == [ParameterGroup(name: "core", prefixes: ["core."], learningRate: 4.8e-3, weightDecay: 0.1789)])
        #expect(t.schedule.typeName == "decayOnPlateau")
        let decay = try #require(t.schedule.base as? DecayOnPlateau.Configuration)
        #expect(decay.factor == 0.3)
        let loss = try #require(t.loss.base as? PoissonCorrelationLoss.Configuration)
        #expect(loss.correlationWeight == 1000 && loss.eps == Double(Float.ulpOfOne) && loss.scaled)
        #expect(t.gradientClipNorm == nil && t.movingAverage == nil && t.validationSkipFrames == 50)
        #expect(t.earlyStopping.patience == 5 && t.earlyStopping.lrDecaySteps == 3 && t.earlyStopping.maxEpochs == 400
                && t.earlyStopping.restoreBest && t.earlyStopping.resetDecayStepsOnImprovement)

        #expect(run.data.batchSize == 6 && run.data.frames == 140 && run.data.validationTier == .oracle
                && run.data.validationBatchSize == 1 && run.data.validationMaxFrames == 300)
        // The small preset differs in the core's sizes, the clip length, the epoch cap and the
        // validation length only.
        let small = RunPreset.viv1tSmall.configuration
        var expected = run
        expected.model.core = small.model.core
        expected.data.frames = small.data.frames
        expected.data.validationMaxFrames = small.data.validationMaxFrames
        expected.trainer.earlyStopping.maxEpochs = small.trainer.earlyStopping.maxEpochs
        #expect(small == expected)
        #expect(small.model.core.typeName == "vivit" && small.data.frames == 40 && small.trainer.earlyStopping.maxEpochs == 40
                && small.data.validationMaxFrames == 150)
    }

    @Test("the core group holds exactly the core's parameters of a built model")
    func coreGroupCoversTheCore() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("viv1t-groups-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        var synthetic = SyntheticMouseConfiguration.tiny
        synthetic.height = 36
        synthetic.width = 64
        let mice = try SyntheticMouseGenerator.generate(configuration: synthetic, into: root.path)
        let run = RunPreset.viv1tSmall.configuration
        let datasets = try mice.map { try MouseDataset(path: $0.path, options: try run.model.dataOptions()) }
        let model = try VideoModel(configuration: run.model, datasets: datasets)
        let optimizer = run.trainer.optimizer.makeOptimizer(for: model)
        let core = Set(model.core.namedTrainableParameters().map { "core." + $0.path })
        #expect(!core.isEmpty)
        for (i, p) in optimizer.parameters.enumerated() {
            let rate = optimizer.learningRate(ofParameterAt: i)
            #expect(rate == (core.contains(p.path) ? 4.8e-3 : 3.6e-3), "\(p.path)")
        }
        #expect(optimizer.parameters.contains { $0.path.hasPrefix("readout.") }
                && optimizer.parameters.contains { $0.path.hasPrefix("shifter.") })
    }

    @Test("viv1tSmall trains and evaluates through the train workflow on a small synthetic mouse")
    func smallTrains() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("viv1t-small-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        var synthetic = SyntheticMouseConfiguration.tiny
        synthetic.height = 36
        synthetic.width = 64
        let mice = try SyntheticMouseGenerator.generate(configuration: synthetic, into: root.appendingPathComponent("data").path)
        var run = RunPreset.viv1tSmall.configuration
        run.limitEpochs(to: 2)
        run.data.frames = 20
        var logger = quietLogger
        logger.logLevel = .error
        let outcome = try TrainingWorkflow.run(.init(dataPaths: mice.map(\.path), configuration: run,
                                                     output: root.appendingPathComponent("run").path), logger: logger)
        #expect(outcome.summary.finished && outcome.summary.epochs == 2 && outcome.summary.steps == 2)
        #expect(outcome.history.allSatisfy { $0.trainingLoss.map(\.isFinite) ?? true })
        #expect(outcome.summary.bestObjective.isFinite)
        let saved = try TrainingRunConfiguration.load(from: root.appendingPathComponent("run").appendingPathComponent(TrainingWorkflow.configurationFile))
        #expect(saved == run)
        // The trained model predicts whole trials in one pass (T' = T − 4 frames).
        let trial = try outcome.datasets[0].readTrial(outcome.datasets[0].trials(in: .oracle)[0])
        #expect(trial.length > 4)
    }
}
