import Foundation
import SensoriumTensor
import SensoriumLayers
import SensoriumReadouts
import SensoriumData
import SensoriumTraining
@testable import Sensorium

/// Small DwiseNeuro models and hand-built batches that mix mice, for the mixed-batch,
/// distillation and preset tests.
enum MixedMice {
    /// Mice and neuron counts (odd sizes, so that a wrong block offset shows).
    static let mice: [(name: String, neurons: Int)] = [("a", 5), ("b", 7), ("c", 4)]

    /// DwiseNeuro's structure at a tiny size; `stochastic: false` sets every dropout to 0 so that
    /// training-mode passes are deterministic.
    static func configuration(seed: UInt64, stochastic: Bool = true, inChannels: Int = 5) -> VideoModelConfiguration {
        let drop: Float = stochastic ? 0.1 : 0
        var c = VideoModelConfiguration(
            seed: seed,
            core: AnyCoreConfiguration(DwiseNeuroCore.Configuration(
                inChannels: inChannels, features: [8, 8, 16], spatialStrides: [2, 1, 2], spatialKernel: 3, temporalKernel: 3,
                expansionRatio: 2, seReduceRatio: 4, dropPathRate: drop)),
            readout: .groupedConv(GroupedConvReadout.Configuration(groups: 2, dropout: stochastic ? 0.2 : 0, softplusBeta: 0.07)),
            shifter: nil, outputNonlinearity: .identity, biasInitializationTrials: 0)
        c.stage = AnyStageConfiguration(Cortex.Configuration(inputChannels: 16, features: [16, 32], groups: 2, dropPathRate: drop))
        return c
    }

    static func model(seed: UInt64, stochastic: Bool = true, mice: [(name: String, neurons: Int)] = mice) throws -> VideoModel {
        try VideoModel(configuration: configuration(seed: seed, stochastic: stochastic),
                       mice: mice.map { MouseNeurons(key: $0.name, count: $0.neurons) })
    }

    /// A batch of `sampleMouse.count` clips `(B, 5, frames, 12, 12)` mixing `mice` (in that block
    /// order): random inputs, random counts in each sample's own block and 0 elsewhere, weights 1
    /// on the own block and 0 elsewhere.
    static func batch(sampleMouse: [Int], mice: [(name: String, neurons: Int)] = mice, frames: Int = 6, size: Int = 12,
                      seed: UInt64) -> MouseBatch {
        let g = RandomGenerator(seed: seed)
        let b = sampleMouse.count
        let mixture = MouseMixture(mice: mice.map(\.name), neuronCounts: mice.map(\.neurons), sampleMouse: sampleMouse)
        let n = mixture.totalNeurons, offsets = mixture.neuronOffsets
        var responses = [Float](repeating: 0, count: b * frames * n), weights = [Float](repeating: 0, count: b * n)
        for (s, m) in sampleMouse.enumerated() {
            for j in offsets[m]..<(offsets[m] + mice[m].neurons) {
                weights[s * n + j] = 1
                for k in 0..<frames { responses[(s * frames + k) * n + j] = Float(Int(g.nextUniform() * 4)) }
            }
        }
        return MouseBatch(mouse: "mixed", trials: Array(0..<b), starts: Array(repeating: 0, count: b), batchSize: b,
                          channels: 5, frames: frames, height: size, width: size, neuronCount: n,
                          video: Tensor.randomNormal([b, 5, frames, size, size], generator: g).scalars,
                          responses: responses, behavior: Tensor.randomNormal([b, 2, frames], generator: g).scalars,
                          pupilCenter: Tensor.randomNormal([b, 2, frames], generator: g).scalars,
                          mixture: mixture, responseWeights: weights)
    }

    /// The model's prediction of `mouse` for all samples of `batch`, as a single-mouse forward.
    static func single(_ model: VideoModel, _ batch: MouseBatch, mouse: String) -> Tensor {
        model(ModelInput(video: batch.videoTensor(), behavior: batch.behaviorTensor(), pupilCenter: batch.pupilCenterTensor(),
                         mouse: mouse))
    }

    static func maxDifference(_ x: Tensor, _ y: Tensor) -> Float {
        precondition(x.shape == y.shape, "shapes \(x.shape) and \(y.shape)")
        return zip(x.scalars, y.scalars).map { abs($0 - $1) }.max() ?? 0
    }
}

/// Batches held in memory as a training-data source (one batch per round).
final class MemoryMouseData: TrainingData {
    let batches: [MouseBatch], validation: [MouseBatch]
    init(batches: [MouseBatch], validation: [MouseBatch]) {
        self.batches = batches
        self.validation = validation
    }
    func trainingRounds(epoch: Int, generator: RandomGenerator) throws -> TrainingRounds<MouseBatch> {
        TrainingRounds(batches.map { [$0] })
    }
    func forEachValidationBatch(_ body: (MouseBatch) throws -> Void) throws { for b in validation { try body(b) } }
    func trialCount(mouse: String) -> Int { 10 }
}
