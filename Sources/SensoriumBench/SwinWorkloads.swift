// Dynamic-V1FM workload: one training step of the `dynamicV1FMSmall` preset.
import Foundation
import Sensorium

/// A Dynamic-V1FM training step at the small preset's size (``RunPreset/dynamicV1FMSmall``): its
/// batch of 30-frame clips (1 × 36 × 64, behaviour and pupil centre), the Swin core (32 channels,
/// 2 blocks of 2 heads, windows 4 × 6 × 8), one mouse's hierarchical readout (512 neurons, the
/// demo's mice, adaptive fusion, training mode), the MLP shifter, `ELU + 1`, the preset's Poisson
/// loss, backward and its AdamW step.
func swinStep(runs: Int, report: inout Report) throws {
    let run = RunPreset.dynamicV1FMSmall.configuration
    let batch = run.data.batchSize, frames = run.data.frames, neurons = 512
    let mouse = MouseNeurons(key: "mouse", count: neurons, coordinates: Tensor.randomNormal([neurons, 3], generator: generator),
                             frameSize: [36, 64])
    let model = try VideoModel(configuration: run.model, mice: [mouse])
    model.train()
    let optimizer = run.trainer.optimizer.makeOptimizer(for: model)
    let loss = run.trainer.loss.makeLoss()
    let input = ModelInput(video: Tensor.randomNormal([batch, 1, frames, 36, 64], generator: generator),
                           behavior: Tensor.randomNormal([batch, 2, frames], generator: generator),
                           pupilCenter: Tensor.randomNormal([batch, 2, frames], generator: generator), mouse: "mouse")
    let target = Tensor.randomUniform([batch, frames, neurons], low: 0, high: 2, generator: generator)
    let context = LossContext(mouse: "mouse", batchSize: batch, trialCount: 100)
    var forward = Timing()
    let t = Timing.measure(runs: runs) {
        optimizer.zeroGrad()
        let f0 = wallSeconds()
        let predictions = model(input)
        forward.wall.append(wallSeconds() - f0)
        loss(predictions: predictions, targets: target, context: context).backward()
        optimizer.step()
    }
    report.add(timing: t)
    report.add("forward_median_s", median(Array(forward.wall.suffix(runs))))
    report.add("parameters", model.parameterCount)
    report.add("batch", "\(batch) clips x \(frames) frames x 36 x 64, \(neurons) neurons")
}
