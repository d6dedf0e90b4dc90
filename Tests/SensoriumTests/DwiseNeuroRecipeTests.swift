import Foundation
import Testing
import SensoriumTensor
import SensoriumLayers
import SensoriumReadouts
import SensoriumTestSupport
@testable import SensoriumTraining
@testable import Sensorium

/// A parameter and a BatchNorm (with its running statistics and step counter).
private final class NormalizedScalar: Module {
    let weight = Tensor([0, 0], shape: [2], requiresGrad: true)
    let bn = BatchNorm1d(2)
}

/// DwiseNeuro's recipe as this SDK runs it: the EMA of the whole state, the warm-up from 0 and
/// cosine per step, and the presets.
@Suite struct DwiseNeuroRecipeTests {
    /// After k updates the average is d^k·x₀ + Σᵢ (1 − d)·d^(k−i)·xᵢ for the parameter **and** the
    /// BatchNorm running statistics; the step counter is copied.
    @Test func movingAverageOfTheFullState() throws {
        let model = NormalizedScalar()
        let d = 0.9
        let ema = ExponentialMovingAverage(module: model, configuration: .init(decay: d, warmup: false, averageBuffers: true))
        let weights: [[Float]] = [[1, -2], [3, 0.5], [-1, 4], [2, 2]]
        let means: [[Float]] = [[0.5, 1], [0.25, -1], [2, 0], [1, 3]]
        var expectedWeight = [0.0, 0.0], expectedMean = [0.0, 0.0], expectedVar = [1.0, 1.0]
        for (i, (w, m)) in zip(weights, means).enumerated() {
            model.weight.assign(Tensor(w, shape: [2]))
            model.bn.runningMean!.assign(Tensor(m, shape: [2]))
            model.bn.runningVar!.assign(Tensor([Float(i + 2), 0.5], shape: [2]))
            model.bn.numBatchesTracked!.assign(Tensor([Float(i + 1)], shape: model.bn.numBatchesTracked!.shape))
            ema.update()
            for c in 0..<2 {
                expectedWeight[c] = d * expectedWeight[c] + (1 - d) * Double(w[c])
                expectedMean[c] = d * expectedMean[c] + (1 - d) * Double(m[c])
                expectedVar[c] = d * expectedVar[c] + (1 - d) * Double(c == 0 ? Float(i + 2) : 0.5)
            }
        }
        // The closed form over the four steps (x₀ = the initial state).
        let k = 4.0
        let closed0 = (0..<4).reduce(pow(d, k) * 0) { $0 + (1 - d) * pow(d, k - 1 - Double($1)) * Double(weights[$1][0]) }
        #expect(abs(closed0 - expectedWeight[0]) < 1e-12)
        let state = ema.stateDict()
        for c in 0..<2 {
            #expect(abs(Double(state["weight"]!.scalars[c]) - expectedWeight[c]) < 1e-6)
            #expect(abs(Double(state["bn.running_mean"]!.scalars[c]) - expectedMean[c]) < 1e-6)
            #expect(abs(Double(state["bn.running_var"]!.scalars[c]) - expectedVar[c]) < 1e-6)
        }
        #expect(state["bn.num_batches_tracked"]!.scalars == [4])
        // Without averageBuffers the running statistics are copied (the earlier behaviour).
        let copying = ExponentialMovingAverage(module: model, configuration: .init(decay: d))
        model.bn.runningMean!.assign(Tensor([7, 8], shape: [2]))
        copying.update()
        #expect(copying.stateDict()["bn.running_mean"]!.scalars == [7, 8])
        // The setting reads from JSON.
        let decoded = try JSONDecoder().decode(ExponentialMovingAverage.Configuration.self, from: Data(#"{"averageBuffers": true}"#.utf8))
        #expect(decoded == .init(decay: 0.999, warmup: false, averageBuffers: true))
        #expect(ExponentialMovingAverage.Configuration.dwiseNeuro == decoded)
    }

    /// The learning rate of every step of a run: step i of N warm-up steps uses base · i / N (the
    /// first 0), then step k of the T cosine steps eta_min + (base − eta_min)(1 + cos(πk/T))/2.
    @Test func warmupFromZeroThenCosinePerStep() throws {
        var c = toyConfiguration(lr: 0.03)
        c.schedule = .warmupCosine(.init(warmupEpochs: 1, cosineEpochs: 2, minLearningRate: 0.001, warmupFromZero: true))
        c.earlyStopping = .fixedEpochs(3)
        let trainer = Trainer(model: toyModel(seed: 3), data: ToyData(seed: 4, mice: toyMice), configuration: c, logger: quietLogger)
        let observer = RecordingObserver()
        trainer.observers = [observer]
        try trainer.fit()
        let rates = observer.steps.map(\.learningRate)
        #expect(rates.count == 9, "three rounds per epoch")
        let warmupSteps = 3.0, cosineSteps = 6.0
        for (i, rate) in rates.enumerated() {
            let expected = Double(i) < warmupSteps
                ? 0.03 * Double(i) / warmupSteps
                : 0.001 + (0.03 - 0.001) * (1 + cos(Double.pi * (Double(i) - warmupSteps) / cosineSteps)) / 2
            #expect(abs(rate - expected) < 1e-12, "step \(i): \(rate) vs \(expected)")
        }
        #expect(rates[0] == 0)
        // The option reads from JSON; without it the warm-up starts at base / N as before.
        let read = try TrainerConfiguration.fromJSON(#"{"schedule": {"type": "warmupCosine", "warmupFromZero": true}}"#)
        #expect(read.schedule == .warmupCosine(.init(warmupFromZero: true)))
        #expect(WarmupCosineSchedule(warmupEpochs: 1).learningRate(base: 1, progress: 0, stepFraction: 0.25) == 0.25)
    }

    /// The paper preset builds the reference's state dictionary for the reference's neuron counts
    /// (`dwiseneuro_paper_keys.json`), with our module names (`stage.` for `cortex.`,
    /// `readout.<mouse>.` for `readouts.<index>.`).
    @Test func paperPresetHasThePaperKeys() throws {
        let file = Fixtures.folder(environmentKey: "SENSORIUM_WINNER_FIXTURES", defaultSubfolder: "winners")
            .appendingPathComponent("dwiseneuro_paper_keys.json")
        let json = try Fixtures.json(file)
        let mice = try #require(json["mice"] as? [[String: Any]]).sorted { ($0["readout_index"] as! Int) < ($1["readout_index"] as! Int) }
        let names = mice.map { $0["mouse"] as! String }
        let preset = RunPreset.dwiseneuro.configuration
        let model = try DeferredInitialization.run {
            try VideoModel(configuration: preset.model, mice: mice.map { MouseNeurons(key: $0["mouse"] as! String, count: $0["neurons"] as! Int) })
        }
        var ours: [String: [Int]] = [:]
        for (path, tensor) in model.namedStateTensors() {
            var key = path
            if key.hasPrefix("stage.") { key = "cortex." + key.dropFirst(6) }
            if key.hasPrefix("readout.") {
                let rest = key.dropFirst(8)
                let mouse = try #require(names.firstIndex { rest.hasPrefix($0 + ".") })
                key = "readouts.\(mouse)." + rest.dropFirst(names[mouse].count + 1)
            }
            ours[key] = tensor.shape
        }
        var reference: [String: [Int]] = [:]
        for entry in try #require(json["keys"] as? [[String: Any]]) { reference[entry["key"] as! String] = entry["shape"] as? [Int] }
        #expect(ours == reference)
        #expect(model.parameterCount == json["num_parameters"] as? Int)

        // The recipe of the spec (§1.6).
        let t = preset.trainer
        #expect(t.optimizer == .adamW(.init(learningRate: 2.4e-3, weightDecay: 0.05)))
        #expect(t.schedule == .warmupCosine(.init(warmupEpochs: 3, cosineEpochs: 18, minLearningRate: 2.4e-5, warmupFromZero: true)))
        #expect(t.loss == .samplePoisson() && t.movingAverage == .dwiseNeuro)
        #expect(t.earlyStopping.maxEpochs == 21 && t.earlyStopping.restoreBest && t.earlyStopping.warmupEpochs == 3)
        #expect(preset.data.batchSize == 32 && preset.data.frames == 16 && preset.data.sampling == .mixedMice)
    }

    /// The small preset keeps the structure (core, cortex, grouped readouts, recipe) and runs a
    /// training step on a mixed batch of two mice (a 32 × 32 canvas and 8 frames keep the debug
    /// build fast; the preset's own canvas is the data pipeline's).
    @Test func smallPresetTrainsOnAMixedBatch() throws {
        let preset = RunPreset.dwiseneuroSmall.configuration
        #expect(preset.model.core.typeName == "dwiseneuro" && preset.model.stage?.typeName == "cortex"
                && preset.model.readout.typeName == "groupedConv")
        #expect(preset.trainer.loss == .samplePoisson() && preset.data.sampling == .mixedMice)
        let mice: [(name: String, neurons: Int)] = [("m0", 512), ("m1", 512)]
        let model = try VideoModel(configuration: preset.model, mice: mice.map { MouseNeurons(key: $0.name, count: $0.neurons) })
        let batch = MixedMice.batch(sampleMouse: [0, 1], mice: mice, frames: 8, size: 32, seed: 41)
        model.train()
        let out = model.forward(batch)
        #expect(out.shape == [2, 8, 1024])
        let loss = SamplePoissonLoss()(predictions: out, targets: batch.targetTensor(),
                                       context: LossContext(mouse: "mixed", batchSize: 2, trialCount: 1, weights: batch.targetWeights(),
                                                            sampleWeightTotal: batch.sampleWeightTotal()))
        #expect(loss.item.isFinite)
        loss.backward()
        #expect(model.parameters().allSatisfy { $0.grad != nil })
    }

    /// A run stopped early saves what validation scored: with a moving average, its weights at the
    /// best epoch (not the raw weights of that epoch).
    @Test func interruptedRunKeepsTheBestAverage() throws {
        let batch = MixedMice.batch(sampleMouse: [0, 1, 2], seed: 51)
        let model = try MixedMice.model(seed: 7, stochastic: false)
        var c = TrainerConfiguration(optimizer: .adamW(.init(learningRate: 1e-2, weightDecay: 0.05)), schedule: .constant,
                                     loss: .samplePoisson(), validationSkipFrames: 0)
        c.earlyStopping = .init(interval: 1, patience: 100, tolerance: 0, restoreBest: true, lrDecaySteps: 1, maxEpochs: 5,
                                warmupEpochs: 1)
        c.movingAverage = .init(decay: 0.5, warmup: false, averageBuffers: true)
        let trainer = Trainer(model: model, data: MemoryMouseData(batches: [batch, batch], validation: [batch]), configuration: c,
                              logger: quietLogger)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sensorium-ema-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        trainer.checkpointURL = dir.appendingPathComponent("checkpoint.h5")
        try trainer.fit(until: .epochs(1))
        let average = try #require(trainer.movingAverage).stateDict()
        let raw = model.stateDict()
        let restored = try MixedMice.model(seed: 8, stochastic: false)
        #expect(try TrainingWorkflow.restoreBestWeights(restored, from: trainer.checkpointURL!))
        let loaded = restored.stateDict()
        let key = "stage.layers.0.conv.weight"
        #expect(MixedMice.maxDifference(loaded[key]!, average[key]!) == 0)
        #expect(MixedMice.maxDifference(loaded[key]!, raw[key]!) > 0, "the average differs from the raw weights")
    }
}
