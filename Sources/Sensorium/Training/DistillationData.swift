import SensoriumTensor
import SensoriumLayers
import SensoriumData
import SensoriumTraining

/// DwiseNeuro's second stage (knowledge distillation) as a ``/SensoriumTraining/TrainingData``
/// wrapper: every training batch of `source` gets, for each sample, a frozen teacher's predictions
/// of the mice that are **not** the sample's own (whose responses were not recorded for that clip)
/// as targets, on the same (possibly CutMixed) input, so the ``/SensoriumTraining/Trainer`` is unchanged.
///
/// For a batch whose existing sample weights add up to `W` (``/SensoriumTraining/TrainingBatch/sampleWeightTotal()``,
/// the batch size `B` when each sample is scored on its own mouse) and that has `P` sample-mouse
/// blocks of weight 0 (`P = (M − 1)·B` with `M` mice), each such block is filled with the
/// teacher's predictions and weighted `r / (1 − r) · W / P` (the reference's
/// `distill_ratio / (1 − distill_ratio) · mice_weights.sum() / distill_mask.sum()`). After the
/// per-sample normalisation of ``/SensoriumTraining/SamplePoissonLoss`` the distilled terms are
/// the share `r` of the loss (when every sample-mouse block has the same loss), `1 − r` the recorded.
///
/// A batch of one mouse (no ``/SensoriumData/MouseBatch/mixture``) is first widened to the
/// teacher's mice (its responses in its own block, weight 1 there and 0 elsewhere). Validation
/// batches pass through unchanged.
public final class DistillationData<Source: TrainingData>: TrainingData where Source.Batch == MouseBatch {
    /// The wrapped data.
    public let source: Source
    /// The frozen teacher (kept in evaluation mode, run without gradients).
    public let teacher: VideoModel
    /// The share `r` of the loss that goes to the distilled terms, in [0, 1) (0.36 in the reference).
    public let ratio: Double

    /// Distils `teacher` into the batches of `source`; throws when the ratio is outside [0, 1).
    public init(source: Source, teacher: VideoModel, ratio: Double = 0.36) throws {
        guard ratio >= 0 && ratio < 1 else {
            throw SensoriumError.invalidConfiguration(source: "(in code)", message: "the distillation ratio must be in [0, 1), got \(ratio)")
        }
        self.source = source
        self.teacher = teacher
        self.ratio = ratio
        teacher.eval()
    }

    public func trainingRounds(epoch: Int, generator: RandomGenerator) throws -> TrainingRounds<MouseBatch> {
        let rounds = try source.trainingRounds(epoch: epoch, generator: generator)
        return TrainingRounds(count: rounds.count) { [self] first in
            let next = try rounds.rounds(from: first)
            return { try next().map { $0.map(self.distill) } }
        }
    }

    public func forEachValidationBatch(_ body: (MouseBatch) throws -> Void) throws {
        try source.forEachValidationBatch(body)
    }

    public func trialCount(mouse: String) -> Int { source.trialCount(mouse: mouse) }

    public var validationBatchCount: Int? { source.validationBatchCount }

    /// The batch with the teacher's predictions in its weight-0 sample-mouse blocks and the
    /// distillation weight there (see the type's description).
    public func distill(_ batch: MouseBatch) -> MouseBatch {
        let wide = batch.mixture == nil ? widen(batch) : batch
        let mixture = wide.mixture!
        let b = wide.batchSize, t = wide.frames, n = wide.neuronCount
        let weights = wide.responseWeights ?? Self.ownWeights(mixture)
        let offsets = mixture.neuronOffsets
        // Weight of each sample-mouse block (its mean), the existing total and the empty blocks.
        var existing = 0.0
        var empty: [(sample: Int, mouse: Int)] = []
        for s in 0..<b {
            for (m, count) in mixture.neuronCounts.enumerated() where count > 0 {
                var sum = 0.0
                for j in offsets[m]..<(offsets[m] + count) { sum += Double(weights[s * n + j]) }
                if sum == 0 { empty.append((s, m)) } else { existing += sum / Double(count) }
            }
        }
        guard !empty.isEmpty else { return wide }
        let weight = Float(ratio / (1 - ratio) * existing / Double(empty.count))
        teacher.eval()
        let predictions = withNoGrad {
            teacher.forwardAllMice(ModelInput(video: wide.videoTensor(), behavior: wide.behaviorTensor(),
                                              pupilCenter: wide.pupilCenterTensor(), mouse: wide.mouse), mixture: mixture)
        }
        let tp = predictions.shape[1]
        precondition(predictions.shape == [b, tp, n] && tp <= t,
                     "DistillationData: the teacher's predictions \(predictions.shape) do not fit the batch (\(b), \(t), \(n))")
        var responses = wide.responses, newWeights = weights
        predictions.withUnsafeBufferPointer { p in
            for (s, m) in empty {
                let lo = offsets[m], count = mixture.neuronCounts[m]
                for j in lo..<(lo + count) { newWeights[s * n + j] = weight }
                for k in 0..<t {
                    let row = (s * t + k) * n
                    if k < t - tp {
                        for j in lo..<(lo + count) { responses[row + j] = 0 }
                    } else {
                        let from = (s * tp + k - (t - tp)) * n
                        for j in lo..<(lo + count) { responses[row + j] = p[from + j] }
                    }
                }
            }
        }
        return MouseBatch(mouse: wide.mouse, trials: wide.trials, starts: wide.starts, batchSize: b, channels: wide.channels,
                          frames: t, height: wide.height, width: wide.width, neuronCount: n, video: wide.video,
                          responses: responses, behavior: wide.behavior, pupilCenter: wide.pupilCenter,
                          mixture: mixture, responseWeights: newWeights)
    }

    /// Weight 1 on each sample's own block, 0 elsewhere.
    static func ownWeights(_ mixture: MouseMixture) -> [Float] {
        let n = mixture.totalNeurons, offsets = mixture.neuronOffsets
        var w = [Float](repeating: 0, count: mixture.sampleMouse.count * n)
        for (s, m) in mixture.sampleMouse.enumerated() {
            for j in offsets[m]..<(offsets[m] + mixture.neuronCounts[m]) { w[s * n + j] = 1 }
        }
        return w
    }

    /// A batch of one mouse as a mixture over the teacher's mice.
    func widen(_ batch: MouseBatch) -> MouseBatch {
        let mice = teacher.mice
        guard let own = mice.firstIndex(of: batch.mouse) else {
            preconditionFailure("DistillationData: the teacher has no readout for mouse \(batch.mouse); it knows \(mice)")
        }
        let counts = mice.map { teacher.readout[$0]!.neuronCount }
        precondition(counts[own] == batch.neuronCount,
                     "DistillationData: mouse \(batch.mouse) has \(batch.neuronCount) neurons in the batch, \(counts[own]) in the teacher")
        let mixture = MouseMixture(mice: mice, neuronCounts: counts, sampleMouse: Array(repeating: own, count: batch.batchSize))
        let n = mixture.totalNeurons, offset = mixture.neuronOffsets[own], c = batch.neuronCount
        var responses = [Float](repeating: 0, count: batch.batchSize * batch.frames * n)
        for row in 0..<(batch.batchSize * batch.frames) {
            for j in 0..<c { responses[row * n + offset + j] = batch.responses[row * c + j] }
        }
        var weights: [Float]
        if let given = batch.responseWeights {
            weights = [Float](repeating: 0, count: batch.batchSize * n)
            for s in 0..<batch.batchSize { for j in 0..<c { weights[s * n + offset + j] = given[s * c + j] } }
        } else {
            weights = Self.ownWeights(mixture)
        }
        return MouseBatch(mouse: batch.mouse, trials: batch.trials, starts: batch.starts, batchSize: batch.batchSize,
                          channels: batch.channels, frames: batch.frames, height: batch.height, width: batch.width,
                          neuronCount: n, video: batch.video, responses: responses, behavior: batch.behavior,
                          pupilCenter: batch.pupilCenter, mixture: mixture, responseWeights: weights)
    }
}
