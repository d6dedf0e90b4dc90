import Foundation
import Testing
import SensoriumData
@testable import SensoriumTraining
@testable import Sensorium

/// DwiseNeuro's distillation stage on real batches: the workflow's data for `sampling: mixedMice`
/// with a teacher file is `MixedMouseTrainingData` wrapped in `DistillationData`, and the trainer
/// runs on it (two synthetic mice, CutMix on, padded square canvas).
@Suite struct DwiseNeuroWorkflowTests {
    @Test func mixedBatchesWithATeacherTrain() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("sensorium-dwise-run-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: root) }
        var model = MixedMice.configuration(seed: 3)
        model.padFramesToSquare = true
        var data = TrainingDataSettings(batchSize: 4, frames: 4, validationBatchSize: 4, validationMaxFrames: 12, workers: 1,
                                        prefetch: 0, sampling: .mixedMice)
        data.frameStep = 2
        data.clipPosition = .last
        data.samplesPerMouse = 2
        data.cutMixProbability = 0.5
        let datasets = try TrainingWorkflow.openDatasets(MixedMouseTrainingDataTests.mice.same, model: model, settings: data,
                                                         forTraining: false)
        let teacherFile = root.appendingPathComponent("teacher.h5")
        try VideoModel(configuration: MixedMice.configuration(seed: 4), datasets: datasets).save(to: teacherFile)
        data.teacherModel = teacherFile.path
        let student = try VideoModel(configuration: model, datasets: datasets)
        let source = try TrainingWorkflow.trainingData(datasets: datasets, settings: data, model: student, logger: quietLogger)
        let wrapper = try #require(source.base as? DistillationData<AnyTrainingData<MouseBatch>>)
        #expect(wrapper.source.base is MixedMouseTrainingData && wrapper.ratio == 0.36)

        // Every batch: own blocks weigh 1, every other block the distillation weight.
        let round = try #require(try source.trainingRounds(epoch: 0, generator: RandomGenerator(seed: 5)).rounds()())
        let batch = round[0]
        let mixture = try #require(batch.mixture)
        let weights = try #require(batch.responseWeights)
        let others = Double(batch.batchSize * (mixture.mice.count - 1))
        let distilled = Float(0.36 / 0.64 * Double(batch.batchSize) / others)
        for s in 0..<batch.batchSize {
            for (m, count) in mixture.neuronCounts.enumerated() {
                let w = mixture.sampleMouse[s] == m ? 1 : distilled
                #expect((0..<count).allSatisfy { weights[s * batch.neuronCount + mixture.neuronOffsets[m] + $0] == w })
            }
        }

        var trainer = TrainerConfiguration(optimizer: .adamW(.init(learningRate: 1e-3, weightDecay: 0.05)), schedule: .constant,
                                           loss: .samplePoisson(), earlyStopping: .fixedEpochs(1), movingAverage: .dwiseNeuro)
        trainer.validationSkipFrames = 4
        let run = Trainer(model: student, data: source, configuration: trainer, logger: quietLogger)
        let summary = try run.fit()
        #expect(summary.steps == 1)
        let losses = run.history.compactMap(\.trainingLoss)
        #expect(losses.count == 1 && losses[0].isFinite)
        let scored = try #require(run.history.last?.validation).perMouse.map(\.mouse)
        #expect(Set(scored) == Set(datasets.map(\.name)))
    }
}
