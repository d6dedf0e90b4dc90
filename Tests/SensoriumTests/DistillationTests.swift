import Foundation
import Testing
import SensoriumTensor
import SensoriumLayers
import SensoriumReadouts
import SensoriumData
@testable import SensoriumTraining
@testable import Sensorium

/// DwiseNeuro's distillation stage (`DistillationData`): the teacher's predictions fill the other
/// mice's blocks with the weight r/(1−r) · W / P, so that they are the share r of the loss.
@Suite struct DistillationTests {
    /// Targets and weights of one batch equal the formula; own blocks are untouched; the rounds of
    /// the wrapper are the distilled batches.
    @Test func weightsAndTargetsFollowTheFormula() throws {
        let teacher = try MixedMice.model(seed: 11)
        let batch = MixedMice.batch(sampleMouse: [0, 2, 1, 2], seed: 31)
        let data = try DistillationData(source: MemoryMouseData(batches: [batch], validation: [batch]), teacher: teacher, ratio: 0.36)
        let out = data.distill(batch)
        let mixture = try #require(out.mixture)
        #expect(mixture == batch.mixture)
        let expectedTeacher = withNoGrad {
            teacher.forwardAllMice(ModelInput(video: batch.videoTensor(), behavior: batch.behaviorTensor(),
                                              pupilCenter: batch.pupilCenterTensor(), mouse: "mixed"), mixture: mixture)
        }.scalars
        // B = 4 samples scored on their own mouse (W = 4), P = 4 · 2 empty sample-mouse blocks.
        let distilled = Float(0.36 / 0.64 * 4.0 / 8.0)
        let w = try #require(out.responseWeights)
        let offsets = mixture.neuronOffsets
        for s in 0..<4 {
            for (m, count) in mixture.neuronCounts.enumerated() {
                let own = mixture.sampleMouse[s] == m
                for j in offsets[m]..<(offsets[m] + count) {
                    #expect(w[s * 16 + j] == (own ? 1 : distilled))
                    for k in 0..<6 {
                        let i = (s * 6 + k) * 16 + j
                        #expect(out.responses[i] == (own ? batch.responses[i] : expectedTeacher[i]))
                    }
                }
            }
        }
        #expect(abs(out.sampleWeightTotal() - (4 + 8 * Double(distilled))) < 1e-6)
        // The wrapper's rounds are the distilled batches; validation passes through.
        let round = try #require(try data.trainingRounds(epoch: 0, generator: RandomGenerator(seed: 1)).rounds()())
        #expect(round[0].responses == out.responses && round[0].responseWeights == out.responseWeights)
        var validation: [MouseBatch] = []
        try data.forEachValidationBatch { validation.append($0) }
        #expect(validation.count == 1 && validation[0].responses == batch.responses && validation[0].responseWeights == batch.responseWeights)
        #expect(throws: SensoriumError.self) { try DistillationData(source: MemoryMouseData(batches: [], validation: []), teacher: teacher, ratio: 1) }
    }

    /// With r = 0 the distilled batch gives the undistilled loss (the filled blocks weigh 0).
    @Test func zeroRatioLeavesTheLoss() throws {
        let teacher = try MixedMice.model(seed: 12)
        let student = try MixedMice.model(seed: 13)
        student.eval()
        let batch = MixedMice.batch(sampleMouse: [1, 0, 2], seed: 32)
        let out = try DistillationData(source: MemoryMouseData(batches: [], validation: []), teacher: teacher, ratio: 0).distill(batch)
        #expect(out.responses != batch.responses, "the teacher's predictions are in the targets")
        let predictions = withNoGrad { student.forward(batch) }
        func loss(_ b: MouseBatch) -> Float {
            SamplePoissonLoss()(predictions: predictions, targets: b.targetTensor(),
                                context: LossContext(mouse: b.mouse, batchSize: 3, trialCount: 10, weights: b.targetWeights(),
                                                     sampleWeightTotal: b.sampleWeightTotal()))
                .item
        }
        #expect(loss(out) == loss(batch))
    }

    /// When every sample-mouse block has the same loss (mice of equal size, per-entry loss 1), the
    /// distilled blocks are the share r of the total.
    @Test func distilledShareIsTheRatio() throws {
        let mice: [(name: String, neurons: Int)] = [("p", 6), ("q", 6), ("r", 6), ("s", 6)]
        let teacher = try MixedMice.model(seed: 14, mice: mice)
        let batch = MixedMice.batch(sampleMouse: [0, 3, 1, 1, 2], mice: mice, seed: 33)
        for ratio in [0.36, 0.5, 0.1] {
            let out = try DistillationData(source: MemoryMouseData(batches: [], validation: []), teacher: teacher, ratio: ratio).distill(batch)
            let weights = try #require(out.targetWeights())
            // Own entries keep weight 1; the mask keeps only the distilled ones.
            let distilledOnly = Tensor(weights.scalars.map { $0 == 1 ? 0 : $0 }, shape: weights.shape)
            let ones = Tensor.ones([5, 6, 24]), zeros = Tensor.zeros([5, 6, 24])
            func loss(_ w: Tensor) -> Double {
                Double(SamplePoissonLoss()(predictions: ones, targets: zeros,
                                           context: LossContext(mouse: "m", batchSize: 5, trialCount: 10, weights: w,
                                                                sampleWeightTotal: out.sampleWeightTotal())).item)
            }
            #expect(abs(loss(distilledOnly) / loss(weights) - ratio) < 1e-6, "ratio \(ratio)")
        }
    }

    /// A batch of one mouse is widened to the teacher's mice before it is distilled.
    @Test func singleMouseBatchesAreWidened() throws {
        let teacher = try MixedMice.model(seed: 15)
        let mixed = MixedMice.batch(sampleMouse: [1, 1], seed: 34)
        // The same clips as a single-mouse batch of mouse b (7 neurons).
        let n = 16, offset = 5
        var responses = [Float](repeating: 0, count: 2 * 6 * 7)
        for row in 0..<12 { for j in 0..<7 { responses[row * 7 + j] = mixed.responses[row * n + offset + j] } }
        let single = MouseBatch(mouse: "b", trials: [0, 1], starts: [0, 0], batchSize: 2, channels: 5, frames: 6, height: 12,
                                width: 12, neuronCount: 7, video: mixed.video, responses: responses, behavior: mixed.behavior,
                                pupilCenter: mixed.pupilCenter)
        let data = try DistillationData(source: MemoryMouseData(batches: [], validation: []), teacher: teacher, ratio: 0.36)
        let fromSingle = data.distill(single), fromMixed = data.distill(mixed)
        #expect(fromSingle.mixture == fromMixed.mixture)
        #expect(fromSingle.responses == fromMixed.responses)
        #expect(fromSingle.responseWeights == fromMixed.responseWeights)
    }

    /// The run configuration names the teacher: the workflow wraps the data, and refuses a teacher
    /// of other mice.
    @Test func workflowBuildsTheDistillationFromTheTeacherFile() throws {
        let dataset = try TinyMouse.dataset()
        let configuration = MixedMice.configuration(seed: 3, inChannels: dataset.options.inputChannels)
        let model = try VideoModel(configuration: configuration, datasets: [dataset])
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sensorium-distill-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let teacherFile = dir.appendingPathComponent("teacher.h5")
        try VideoModel(configuration: MixedMice.configuration(seed: 4, inChannels: dataset.options.inputChannels), datasets: [dataset])
            .save(to: teacherFile)
        var settings = TrainingDataSettings(batchSize: 2, frames: 12)
        let plain = try TrainingWorkflow.trainingData(datasets: [dataset], settings: settings, model: model, logger: quietLogger)
        #expect(plain.base is MouseTrainingData)
        settings.teacherModel = teacherFile.path
        settings.distillationRatio = 0.25
        let distilled = try TrainingWorkflow.trainingData(datasets: [dataset], settings: settings, model: model, logger: quietLogger)
        let wrapper = try #require(distilled.base as? DistillationData<AnyTrainingData<MouseBatch>>)
        #expect(wrapper.ratio == 0.25 && wrapper.teacher.mice == [dataset.name])
        let round = try #require(try distilled.trainingRounds(epoch: 0, generator: RandomGenerator(seed: 3)).rounds()())
        #expect(round[0].mixture?.mice == [dataset.name] && round[0].responseWeights?.allSatisfy { $0 == 1 } == true,
                "one mouse: nothing to distil, own weights 1")

        let otherFile = dir.appendingPathComponent("other.h5")
        try VideoModel(configuration: MixedMice.configuration(seed: 5, inChannels: dataset.options.inputChannels),
                       mice: [MouseNeurons(key: "other", count: 3)]).save(to: otherFile)
        settings.teacherModel = otherFile.path
        #expect(throws: SensoriumError.self) {
            try TrainingWorkflow.trainingData(datasets: [dataset], settings: settings, model: model, logger: quietLogger)
        }

        // The settings read and check the keys.
        let json = #"{"data": {"teacherModel": "t.h5", "distillationRatio": 0.3, "sampling": "mixedMice"}}"#
        let read = try TrainingRunConfiguration.fromJSON(json)
        #expect(read.data.teacherModel == "t.h5" && read.data.distillationRatio == 0.3 && read.data.sampling == .mixedMice)
        #expect(throws: SensoriumError.self) { try TrainingRunConfiguration.fromJSON(#"{"data": {"distillationRatio": 1.0}}"#) }
        #expect(throws: SensoriumError.self) { try TrainingRunConfiguration.fromJSON(#"{"data": {"sampling": "shuffled"}}"#) }
    }

    /// `sensorium train --teacher PATH --distillation-ratio R`: values are checked, and a resumed
    /// run keeps its saved teacher.
    @Test func trainCommandTeacherOptions() throws {
        let cases: [([String], String)] = [
            (["train", "/tmp", "-o", "/tmp/x", "--teacher", "t.h5", "--distillation-ratio", "1"], "--distillation-ratio must be in [0, 1); got 1.0"),
            (["train", "/tmp", "-o", "/tmp/x", "--distillation-ratio", "-0.5"], "--distillation-ratio must be in [0, 1)"),
            (["train", "/tmp", "-o", "/tmp/x", "--resume", "--teacher", "t.h5"], "--teacher cannot be used with --resume"),
        ]
        for (arguments, expected) in cases {
            let result = try SensoriumTool.run(arguments)
            #expect(result.status != 0, "\(arguments) exited with 0")
            #expect(result.stderr.contains(expected), "\(arguments): stderr \(result.stderr)")
        }
    }
}
