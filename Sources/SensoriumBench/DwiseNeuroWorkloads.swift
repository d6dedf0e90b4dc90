// DwiseNeuro workloads: the paper-size core block by block, and a whole training step.
import Foundation
import Sensorium

/// Forward and backward of each stage of the paper's first two inverted-residual blocks (64 → 64,
/// expansion 6, stride 2 then 1) on (batch, 64, 16, 64, 64), timed separately, eval-mode BatchNorm
/// excluded (training mode, as in a training step).
func dwiseNeuroBlockStages(batch: Int, runs: Int, report: inout Report) {
    var stages: [JSON] = []
    let blocks = [
        InvertedResidual3d(inChannels: 64, outChannels: 64, spatialStride: 2, generator: generator),
        InvertedResidual3d(inChannels: 64, outChannels: 64, spatialStride: 1, generator: generator),
    ]
    var side = 64
    for (b, block) in blocks.enumerated() {
        let encoding = PositionalEncoding3d(channels: 64)
        let steps: [(String, any UnaryLayer)] = [
            ("positional encoding", encoding),
            ("pointwise expansion + BN + SiLU", block.pointwiseExpansion),
            ("depth-wise spatial (1,3,3) s\(block.spatialStride) + BN + SiLU", block.spatialDepthwise),
            ("depth-wise temporal (5,1,1) + BN + SiLU", block.temporalDepthwise),
            ("squeeze-excitation", block.squeezeExcitation),
            ("pointwise projection + BN", block.pointwiseProjection),
        ]
        var x = Tensor.randomNormal([batch, 64, 16, side, side], generator: generator, requiresGrad: true)
        let blockInput = x
        for (label, layer) in steps {
            let input = x
            var y = layer(input)
            let g = Tensor.randomNormal(y.shape, generator: generator)
            var forward = Timing(), backward = Timing()
            for _ in 0..<runs {
                block.zeroGrad(); input.zeroGrad()
                let f = Timing.measure(runs: 1, warmup: 0) { y = layer(input) }
                let bw = Timing.measure(runs: 1, warmup: 0) { y.backward(g) }
                forward.wall += f.wall; backward.wall += bw.wall
            }
            stages.append(.object([("block", .integer(b)), ("stage", .string(label)), ("output", .string("\(y.shape)")),
                                   ("forward_s", .number(median(forward.wall))), ("backward_s", .number(median(backward.wall)))]))
            x = withNoGrad { y.copy() }
            x.requiresGrad = true
        }
        var y = block.shortcut(blockInput)
        let g = Tensor.randomNormal(y.shape, generator: generator)
        var forward = Timing(), backward = Timing()
        for _ in 0..<runs {
            blockInput.zeroGrad()
            let f = Timing.measure(runs: 1, warmup: 0) { y = block.shortcut(blockInput) }
            let bw = Timing.measure(runs: 1, warmup: 0) { y.backward(g) }
            forward.wall += f.wall; backward.wall += bw.wall
        }
        stages.append(.object([("block", .integer(b)), ("stage", .string("shortcut (nearest, tile, BN)")),
                               ("output", .string("\(y.shape)")), ("forward_s", .number(median(forward.wall))),
                               ("backward_s", .number(median(backward.wall)))]))
        side = (side + block.spatialStride - 1) / block.spatialStride
    }
    report.add("stages", .array(stages))
}

/// A DwiseNeuro training step at the paper's size: core, cortex and one 8,000-neuron readout,
/// forward and backward of a Poisson loss on (batch, 5, 16, 64, 64). With `gradientCheckpointing`
/// (the `dwiseneuro` preset's setting) the core's blocks recompute their activations in backward.
func dwiseNeuroStep(batch: Int, runs: Int, gradientCheckpointing: Bool = true, report: inout Report) {
    let core = DwiseNeuroCore(configuration: DwiseNeuroCore.Configuration(gradientCheckpointing: gradientCheckpointing),
                              generator: generator)
    let cortex = Cortex(configuration: Cortex.Configuration(), generator: generator)
    let readout = GroupedConvReadout(inputChannels: cortex.outputChannels, neuronCount: 8000, generator: generator)
    let x = Tensor.randomUniform([batch, 5, 16, 64, 64], low: 0, high: 1, generator: generator)
    let target = Tensor.randomUniform([batch, 16, 8000], low: 0, high: 1, generator: generator)
    let parameters = core.parameters() + cortex.parameters() + readout.parameters()
    var coreTime = Timing()
    let t = Timing.measure(runs: runs) {
        for p in parameters { p.grad = nil }
        let c0 = wallSeconds()
        let features = core(x)
        coreTime.wall.append(wallSeconds() - c0)
        let pooled = core.pool(features)
        let out = readout(cortex(pooled).reshaped([batch, 4096, 16, 1, 1]))
        (out - target * (out + 1e-8).log()).sum().backward()
    }
    report.add(timing: t)
    report.add("core_forward_median_s", median(coreTime.wall))
    report.add("parameters", core.parameterCount + cortex.parameterCount + readout.parameterCount)
    report.add("gradient_checkpointing", gradientCheckpointing ? 1 : 0)
}
