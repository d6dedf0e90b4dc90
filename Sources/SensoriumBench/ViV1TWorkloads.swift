// ViV1T workload: one training step of the `viv1tSmall` preset's model and recipe.
import Foundation
import Sensorium

/// A ViV1T training step at the `viv1tSmall` size: 6 clips of 40 frames, 5 × 36 × 64 input
/// (frame, dilation, speed, pupil x, pupil y), ViViT core (tubelets 5 × 6 × 6 stride 1, 4, 4 →
/// 36 × 120 tokens of width 32; 1 spatial + 2 temporal parallel blocks, 4 heads × 16, feed-forward
/// 48), the ViV1T Gaussian readout of 512 neurons with the behaviour state vector (training mode:
/// positions sampled), the ViV1T shifter, `exp`, the Poisson + correlation loss, backward, and the
/// preset's AdamW step (core and readout groups). FLOPs: the matrix products of the tokenizer, the
/// blocks' projections and the attention, forward + backward (3 × forward).
func vivitStep(runs: Int, options: BenchOptions, report: inout Report) throws {
    let batch = 6, frames = 40, neurons = 512
    let run = RunPreset.viv1tSmall.configuration
    let core = run.model.core.base as! ViViTCore.Configuration
    let coordinates = Tensor.randomUniform([neurons, 3], low: -300, high: 300, generator: generator)
    let model = try VideoModel(configuration: run.model, mice: [MouseNeurons(key: "m", count: neurons, coordinates: coordinates)])
    model.train()
    let optimizer = run.trainer.optimizer.makeOptimizer(for: model)
    let loss = run.trainer.loss.makeLoss()
    let video = Tensor.randomNormal([batch, core.inputChannels, frames, 36, 64], generator: generator)
    let behavior = Tensor.randomUniform([batch, 2, frames], generator: generator)
    let pupil = Tensor.randomUniform([batch, 2, frames], generator: generator)
    let target = Tensor.randomUniform([batch, frames, neurons], generator: generator)
    let context = LossContext(mouse: "m", batchSize: batch, trialCount: 120, trainingTrialCount: 100)
    let input = ModelInput(video: video, behavior: behavior, pupilCenter: pupil, mouse: "m")
    let t = Timing.measure(runs: runs) {
        optimizer.zeroGrad()
        loss(predictions: model(input), targets: target, context: context).backward()
        optimizer.step()
    }
    report.add(timing: t, flops: 3 * vivitForwardFlops(core, batch: batch, frames: frames))
    report.add("parameters", model.trainableParameterCount)
}

/// Multiply-adds × 2 of the ViViT core's matrix products for one forward pass.
func vivitForwardFlops(_ c: ViViTCore.Configuration, batch: Int, frames: Int) -> Double {
    let steps = Double((frames - c.temporalPatch) / c.temporalStride + 1)
    let patches = Double(c.spatialPositions)
    let tokens = Double(batch) * steps * patches
    let emb = Double(c.embeddingDim), inner = Double(c.innerDim), mlp = Double(c.mlpDim)
    let tokenizer = tokens * Double(c.patchSize) * emb
    let projections = tokens * (emb * (3 * inner + mlp) + inner * emb + mlp * emb)
    // q kᵀ and P v over sequences of `length` tokens: 2 · length² · inner per sequence.
    let spatialAttention = Double(batch) * steps * 2 * patches * patches * inner
    let temporalAttention = Double(batch) * patches * 2 * steps * steps * inner
    let blocks = Double(c.spatialDepth) * (projections + spatialAttention) + Double(c.temporalDepth) * (projections + temporalAttention)
    return 2 * (tokenizer + blocks)
}
