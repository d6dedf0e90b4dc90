import Foundation
import Testing
import SensoriumTensor
import SensoriumLayers
import SensoriumReadouts
import SensoriumData
import SensoriumMetrics
@testable import SensoriumTraining
@testable import Sensorium

/// Batches that mix mice: the weighted losses, `VideoModel`'s forward over every mouse, validation
/// of mixed batches and a trainer step on them.
@Suite struct MixedBatchTests {
    // MARK: Losses

    /// DwiseNeuro's loss: Σ w (ŷ − y log(ŷ + 1e-8)) over neurons × frames, divided by the total
    /// sample weight (the batch size for own-mouse weights), with its gradient w (1 − y/(ŷ + eps)) / W.
    @Test func samplePoissonLossIsThePerSampleMeanOfTheWeightedSum() throws {
        let batch = MixedMice.batch(sampleMouse: [0, 2, 1], seed: 4)
        let g = RandomGenerator(seed: 5)
        let predictions = Tensor.randomUniform([3, 4, 16], low: 0.2, high: 2, generator: g, requiresGrad: true)
        let targets = batch.targetTensor(), weights = try #require(batch.targetWeights())
        #expect(weights.shape == [3, 1, 16])
        #expect(batch.sampleWeightTotal() == 3)
        let context = LossContext(mouse: batch.mouse, batchSize: 3, trialCount: 10, weights: weights,
                                  sampleWeightTotal: batch.sampleWeightTotal())
        let loss = SamplePoissonLoss()(predictions: predictions, targets: targets, context: context)
        let p = predictions.scalars, y = targets.scalars, w = weights.scalars
        var expected = 0.0
        for s in 0..<3 { for k in 0..<4 { for j in 0..<16 where w[s * 16 + j] != 0 {
            let o = Double(p[(s * 4 + k) * 16 + j]), t = Double(y[(s * 6 + 2 + k) * 16 + j])
            expected += o - t * log(o + 1e-8)
        }}}
        expected /= 3
        #expect(abs(Double(loss.item) - expected) <= 1e-5 * abs(expected))
        loss.backward()
        let grad = try #require(predictions.grad).scalars
        for s in 0..<3 { for k in 0..<4 { for j in 0..<16 {
            let i = (s * 4 + k) * 16 + j
            let want = w[s * 16 + j] == 0 ? 0 : (1 - y[(s * 6 + 2 + k) * 16 + j] / (p[i] + 1e-8)) / 3
            #expect(abs(grad[i] - want) <= 1e-6 + 1e-5 * abs(want))
        }}}
        for r in GradientCheck.check([predictions], { t in SamplePoissonLoss()(predictions: t[0], targets: targets, context: context) }) {
            #expect(r.passed, "\(r)")
        }
        // Without weights it is the per-sample sum averaged over the batch.
        let plain = SamplePoissonLoss()(predictions: predictions, targets: targets,
                                        context: LossContext(mouse: "m", batchSize: 3, trialCount: 10)).item
        let sum = poissonLoss3d(predictions, target: targets, eps: 1e-8, reduction: .sum).item
        #expect(abs(plain - sum / 3) <= 1e-5 * abs(sum))
        #expect(LossKind.registry.typeNames.contains("samplePoisson"))
    }

    /// The reference loss honours weights (all-one weights change nothing; weight-0 entries drop out).
    @Test func scaledPoissonLossHonoursWeights() {
        let g = RandomGenerator(seed: 8)
        let o = Tensor.randomUniform([2, 3, 4], low: 0.3, high: 2, generator: g)
        let y = Tensor.randomUniform([2, 3, 4], low: 0, high: 3, generator: g)
        let loss = ScaledPoissonLoss()
        let plain = loss(predictions: o, targets: y, context: LossContext(mouse: "m", batchSize: 2, trialCount: 32)).item
        let ones = loss(predictions: o, targets: y, context: LossContext(mouse: "m", batchSize: 2, trialCount: 32,
                                                                         weights: Tensor.ones([2, 1, 4]))).item
        #expect(abs(plain - ones) <= 1e-5 * abs(plain))
        var w = [Float](repeating: 1, count: 8)
        w[5] = 0
        let masked = loss(predictions: o, targets: y, context: LossContext(mouse: "m", batchSize: 2, trialCount: 32,
                                                                           weights: Tensor(w, shape: [2, 1, 4]))).item
        var dropped = 0.0
        for k in 0..<3 {
            let i = (1 * 3 + k) * 4 + 1
            dropped += Double(o.scalars[i] - y.scalars[i] * log(o.scalars[i] + 1e-8))
        }
        #expect(abs(Double(masked) - (Double(plain) - 4 * dropped)) <= 1e-4 * abs(Double(plain)))   // scale sqrt(32/2) = 4
    }

    // MARK: Forward over all mice

    /// Evaluation mode: block m of a mixed batch's output is the single-mouse forward of mouse m on
    /// the same samples, in the mixture's block order (here not the model's).
    @Test func mixedForwardIsEveryMouseOnEverySample() throws {
        let model = try MixedMice.model(seed: 3)
        model.eval()
        let order = [MixedMice.mice[2], MixedMice.mice[0], MixedMice.mice[1]]
        let batch = MixedMice.batch(sampleMouse: [0, 2, 1, 2], mice: order, seed: 6)
        let mixed = withNoGrad { model.forward(batch) }
        #expect(mixed.shape == [4, 6, 16])
        let offsets = batch.mixture!.neuronOffsets
        for (m, mouse) in order.enumerated() {
            let single = withNoGrad { MixedMice.single(model, batch, mouse: mouse.name) }
            let block = mixed.sliced(axis: 2, range: offsets[m]..<(offsets[m] + mouse.neurons))
            #expect(MixedMice.maxDifference(block, single) <= 1e-6, "mouse \(mouse.name)")
        }
    }

    /// Training mode: the core runs once on the whole mixed batch, so its BatchNorm statistics (and
    /// the running statistics it leaves) are those of a single-mouse forward of the same samples.
    @Test func mixedForwardInTrainingModeSeesOneBatch() throws {
        let batch = MixedMice.batch(sampleMouse: [1, 0, 0, 2, 1], seed: 9)
        let mixedModel = try MixedMice.model(seed: 4, stochastic: false)
        mixedModel.train()
        let mixed = mixedModel.forward(batch)
        let offsets = batch.mixture!.neuronOffsets
        for (m, mouse) in MixedMice.mice.enumerated() {
            let singleModel = try MixedMice.model(seed: 4, stochastic: false)
            singleModel.train()
            let single = MixedMice.single(singleModel, batch, mouse: mouse.name)
            let block = mixed.sliced(axis: 2, range: offsets[m]..<(offsets[m] + mouse.neurons))
            #expect(MixedMice.maxDifference(block, single) <= 1e-5, "mouse \(mouse.name)")
            // Same running statistics: one pass of the core over the five samples.
            let a = mixedModel.stateDict(), b = singleModel.stateDict()
            for key in a.keys where key.hasSuffix("running_mean") || key.hasSuffix("running_var") {
                #expect(MixedMice.maxDifference(a[key]!, b[key]!) <= 1e-6, "\(key)")
            }
        }
        // The loss reaches every readout (the own blocks of the samples of each mouse).
        let loss = SamplePoissonLoss()(predictions: mixed, targets: batch.targetTensor(),
                                       context: LossContext(mouse: batch.mouse, batchSize: 5, trialCount: 10,
                                                            weights: batch.targetWeights(), sampleWeightTotal: 5))
        loss.backward()
        for mouse in mixedModel.mice {
            #expect(mixedModel.readout[mouse]!.parameters().allSatisfy { $0.grad != nil }, "readout \(mouse)")
        }
    }

    /// The regulariser of a mixed batch counts the core, the stage and every readout once.
    @Test func mixedRegularizerCountsEveryMouseOnce() throws {
        let model = try MixedMice.model(seed: 2)
        let batch = MixedMice.batch(sampleMouse: [0, 1], seed: 1)
        let mixed = try #require(model.regularizer(for: batch)).item
        var expected = model.core.regularizer().item + model.stage!.regularizer().item
        for mouse in model.mice { expected += model.readout.regularizer(dataKey: mouse).item }
        #expect(abs(mixed - expected) <= 1e-6 * max(1, abs(expected)))
    }

    // MARK: Validation

    /// Validation scores each sample on its own mouse: the parts of a mixed batch are the own blocks.
    @Test func scoredPartsAreTheOwnBlocks() throws {
        let batch = MixedMice.batch(sampleMouse: [2, 0, 2], seed: 12)
        let g = RandomGenerator(seed: 2)
        let predictions = Tensor.randomUniform([3, 6, 16], generator: g)
        let parts = batch.scoredParts(predictions: predictions, targets: batch.targetTensor())
        #expect(parts.map(\.mouse) == ["a", "c"])
        #expect(parts[0].predictions.shape == [1, 6, 5] && parts[1].predictions.shape == [2, 6, 4])
        let p = predictions.scalars, y = batch.responses
        for k in 0..<6 { for j in 0..<4 {
            #expect(parts[1].predictions.scalars[(1 * 6 + k) * 4 + j] == p[(2 * 6 + k) * 16 + 12 + j])
            #expect(parts[1].targets.scalars[(0 * 6 + k) * 4 + j] == y[(0 * 6 + k) * 16 + 12 + j])
        }}
        // The validation objective of a model on mixed batches has one score per mouse.
        let model = try MixedMice.model(seed: 5)
        let data = MemoryMouseData(batches: [], validation: [batch, MixedMice.batch(sampleMouse: [1, 1, 0], seed: 13)])
        let result = try validationCorrelation(of: model, on: data, skipFrames: 0)
        #expect(Set(result.perMouse.map(\.mouse)) == ["a", "b", "c"])
        #expect(result.perMouse.first { $0.mouse == "b" }?.neurons == 7)
    }

    // MARK: Trainer

    /// The trainer passes the weights: its first step's loss is the per-sample loss of the own
    /// blocks only, computed by hand with the initial weights.
    @Test func trainerScoresOnlyTheOwnBlocks() throws {
        let batch = MixedMice.batch(sampleMouse: [0, 1, 2, 1], seed: 21)
        let reference = try MixedMice.model(seed: 6, stochastic: false)
        reference.train()
        let predictions = reference.forward(batch)
        let p = predictions.scalars, y = batch.responses, w = try #require(batch.responseWeights)
        var expected = 0.0
        for s in 0..<4 { for k in 0..<6 { for j in 0..<16 where w[s * 16 + j] != 0 {
            let i = (s * 6 + k) * 16 + j
            expected += Double(p[i]) - Double(y[i]) * log(Double(p[i]) + 1e-8)
        }}}
        expected /= 4

        let model = try MixedMice.model(seed: 6, stochastic: false)
        var c = TrainerConfiguration(optimizer: .adamW(.init(learningRate: 1e-3, weightDecay: 0.05)), schedule: .constant,
                                     loss: .samplePoisson(), earlyStopping: .fixedEpochs(1), validationSkipFrames: 0)
        c.movingAverage = .dwiseNeuro
        let trainer = Trainer(model: model, data: MemoryMouseData(batches: [batch], validation: [batch]), configuration: c,
                              logger: quietLogger)
        let observer = RecordingObserver()
        trainer.observers = [observer]
        try trainer.fit()
        let step = try #require(observer.steps.first)
        #expect(abs(step.loss - expected) <= 1e-5 * abs(expected), "trainer \(step.loss), by hand \(expected)")
    }
}
