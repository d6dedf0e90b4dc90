// The benchmark workloads (Documentation/Performance.md); Benchmarks/pytorch_reference.py mirrors them.
import Foundation
import Sensorium

/// Options shared by the workloads.
struct BenchOptions {
    var runs: Int?
    /// Folder of the loader workload's synthetic mouse (generated when missing, then kept); `nil`: a
    /// per-run temporary folder, removed afterwards.
    var mouse: String?
}

/// A named workload: builds its inputs, times its step and fills the report.
struct Workload: Sendable {
    let name: String
    let defaultRuns: Int
    let summary: String
    let run: @Sendable (_ runs: Int, _ options: BenchOptions, _ report: inout Report) throws -> Void
}

let workloads: [Workload] = [
    Workload(name: "sgemm-1024", defaultRuns: 20, summary: "1024³ matmul, the BLAS ceiling", run: sgemm1024),
    Workload(name: "conv-spatial", defaultRuns: 5,
             summary: "conv3d (1,7,7) 32->32 pad (0,3,3) on 4x32x40x36x64, forward + backward", run: convSpatial),
    Workload(name: "conv-temporal", defaultRuns: 5,
             summary: "conv3d (7,1,1) 32->32 valid on 4x32x40x36x64, forward + backward", run: convTemporal),
    Workload(name: "factorized-small", defaultRuns: 5,
             summary: "training step: factorized core 32-32-32, Gaussian readout 1,000 neurons, shifter, Poisson, AdamW",
             run: factorizedSmall),
    Workload(name: "factorized-paper", defaultRuns: 3,
             summary: "inference: 8 clips x 80 frames, core 64-64-64, 8,000 neurons", run: factorizedPaper),
    Workload(name: "readout-8k", defaultRuns: 5,
             summary: "FullGaussian2d readout alone, 8,000 neurons, forward + backward", run: readout8k),
    Workload(name: "loader", defaultRuns: 3, summary: "clips per second from a synthetic mouse on disk", run: loaderWorkload),
    Workload(name: "dwiseneuro-step", defaultRuns: 3,
             summary: "training step: DwiseNeuro paper core (blocks recomputed in backward, as the dwiseneuro preset) + cortex + 8,000-neuron readout, 4 clips of 5x16x64x64",
             run: { runs, _, report in dwiseNeuroStep(batch: 4, runs: runs, report: &report) }),
    Workload(name: "swin-step", defaultRuns: 5,
             summary: "training step: dynamicV1FMSmall (Swin core 32 ch, 2 blocks, windows 4x6x8; hierarchical readout 512 neurons; shifter; Poisson; AdamW), 8 clips of 1x30x36x64",
             run: { runs, _, report in try swinStep(runs: runs, report: &report) }),
    Workload(name: "vivit-step", defaultRuns: 5,
             summary: "training step: viv1tSmall (ViViT 32 wide, 1+2 blocks, 120 patches), ViV1T readout 512 neurons, shifter, Poisson + correlation, AdamW groups; 6 clips of 5x40x36x64",
             run: vivitStep),
    // Diagnostics (not part of the table).
    Workload(name: "dwiseneuro-block-stages", defaultRuns: 3,
             summary: "diagnostic: each stage of DwiseNeuro's first two blocks on 4x64x16x64x64, forward and backward",
             run: { runs, _, report in dwiseNeuroBlockStages(batch: 4, runs: runs, report: &report) }),
    Workload(name: "dwiseneuro-step-keep", defaultRuns: 3,
             summary: "diagnostic: dwiseneuro-step with every block's activations kept for backward (gradientCheckpointing off, as before issue 21)",
             run: { runs, _, report in dwiseNeuroStep(batch: 4, runs: runs, gradientCheckpointing: false, report: &report) }),
    Workload(name: "core-layers", defaultRuns: 3,
             summary: "diagnostic: each convolution of factorized-small's core, forward and backward separately",
             run: { runs, _, report in coreLayers(batch: 4, frames: 40, channels: 32, runs: runs, report: &report) }),
    Workload(name: "core-layers-paper", defaultRuns: 3,
             summary: "diagnostic: each convolution of factorized-paper's core (2 clips of 80 frames), forward and backward",
             run: { runs, _, report in coreLayers(batch: 2, frames: 80, channels: 64, runs: runs, report: &report) }),
]

nonisolated(unsafe) let generator = RandomGenerator(seed: 1)

// MARK: BLAS and convolutions

func sgemm1024(runs: Int, options: BenchOptions, report: inout Report) {
    let a = Tensor.randomNormal([1024, 1024], generator: generator)
    let b = Tensor.randomNormal([1024, 1024], generator: generator)
    let t = Timing.measure(runs: runs) { _ = matmul(a, b) }
    report.add(timing: t, flops: 2 * 1024 * 1024 * 1024)
}

/// One convolution layer of the factorized core, forward and backward (input, weight and bias gradients).
func convLayer(kernel: [Int], padding: [Int], runs: Int, report: inout Report) {
    let channels = 32
    let x = Tensor.randomNormal([4, channels, 40, 36, 64], generator: generator, requiresGrad: true)
    let weight = Tensor.randomNormal([channels, channels] + kernel, std: 0.05, generator: generator, requiresGrad: true)
    let bias = Tensor.zeros([channels], requiresGrad: true)
    let probe = withNoGrad { conv3d(x, weight: weight, bias: bias, padding: padding) }
    let gradient = Tensor.randomNormal(probe.shape, generator: generator)
    let outPositions = probe.count / (probe.shape[0] * probe.shape[1])
    let forwardFlops = 2.0 * Double(4 * channels * outPositions) * Double(weight.count / channels)
    let t = Timing.measure(runs: runs) {
        x.zeroGrad(); weight.zeroGrad(); bias.zeroGrad()
        conv3d(x, weight: weight, bias: bias, padding: padding).backward(gradient)
    }
    report.add(timing: t, flops: 3 * forwardFlops)
}

func convSpatial(runs: Int, options: BenchOptions, report: inout Report) {
    convLayer(kernel: [1, 7, 7], padding: [0, 3, 3], runs: runs, report: &report)
}

func convTemporal(runs: Int, options: BenchOptions, report: inout Report) {
    convLayer(kernel: [7, 1, 1], padding: [0], runs: runs, report: &report)
}

/// Forward and backward of every convolution of factorized-small's core, timed separately.
func coreLayers(batch: Int, frames: Int, channels c: Int, runs: Int, report: inout Report) {
    var frames = frames, inChannels = 3
    var layers: [JSON] = []
    for (l, k) in [11, 7, 7].enumerated() {
        let shapes: [(String, [Int], [Int], [Int])] = [
            ("L\(l) spatial \(inChannels)->\(c) (1,\(k),\(k))", [batch, inChannels, frames, 36, 64], [c, inChannels, 1, k, k], [0, k / 2, k / 2]),
            ("L\(l) temporal \(c)->\(c) (\(k),1,1)", [batch, c, frames, 36, 64], [c, c, k, 1, 1], [0]),
        ]
        for (label, input, kernel, padding) in shapes {
            let x = Tensor.randomNormal(input, generator: generator, requiresGrad: l > 0)
            let w = Tensor.randomNormal(kernel, std: 0.05, generator: generator, requiresGrad: true)
            let b = Tensor.zeros([c], requiresGrad: true)
            var y = conv3d(x, weight: w, bias: b, padding: padding)
            let g = Tensor.randomNormal(y.shape, generator: generator)
            var forward = Timing(), backward = Timing()
            y.backward(g)
            for _ in 0..<runs {
                x.zeroGrad(); w.zeroGrad(); b.zeroGrad()
                let f = Timing.measure(runs: 1, warmup: 0) { y = conv3d(x, weight: w, bias: b, padding: padding) }
                let bw = Timing.measure(runs: 1, warmup: 0) { y.backward(g) }
                forward.wall += f.wall; forward.cpu += f.cpu
                backward.wall += bw.wall; backward.cpu += bw.cpu
            }
            let positions = y.count / (batch * c)
            let flops = 2 * Double(batch * c * positions) * Double(w.count / c)
            let backwardFlops = (x.requiresGrad ? 2 : 1) * flops
            layers.append(.object([
                ("layer", .string(label)), ("output", .string("\(y.shape)")),
                ("forward_s", .number(median(forward.wall))), ("forward_cpu_s", .number(median(forward.cpu))),
                ("backward_s", .number(median(backward.wall))), ("backward_cpu_s", .number(median(backward.cpu))),
                ("forward_gflop_per_cpu_s", .number(flops / median(forward.cpu) / 1e9)),
                ("backward_gflop_per_cpu_s", .number(backwardFlops / median(backward.cpu) / 1e9)),
            ]))
        }
        inChannels = c
        frames -= k - 1
    }
    report.add("layers", .array(layers))
}

// MARK: The factorized model

/// Forward FLOPs (2 × multiply-adds) of the core's convolutions: spatial kernels 11, 7, 7 padded to
/// keep 36 × 64, temporal kernels 11, 7, 7 valid.
func coreFlops(batch: Int, frames: Int, channels: [Int], height: Int = 36, width: Int = 64) -> Double {
    var total = 0.0
    var inChannels = 3, t = frames
    let kernels = [11, 7, 7]
    for (layer, c) in channels.enumerated() {
        let k = kernels[layer]
        let plane = height * width
        let spatial: Int = batch * c * t * plane * inChannels * k * k
        t -= k - 1
        let temporal: Int = batch * c * t * plane * c * k
        total += 2 * Double(spatial + temporal)
        inChannels = c
    }
    return total
}

/// The SENSORIUM 2023 factorized baseline with the benchmark's kernels: core, Gaussian readout
/// (full covariance, free positions), MLP shifter (2-5-5-2), ELU + 1.
final class FactorizedModel {
    let core: Factorized3dCore
    let readout: FullGaussian2d
    let shifter: MLPShifter
    let output = ELUPlusOne()

    init(channels: [Int], neurons: Int) {
        var c = Factorized3dCore.Configuration(inputChannels: 3, hiddenChannels: channels, spatialInputKernel: [11, 11],
                                               temporalInputKernel: 11, spatialHiddenKernel: [7, 7], temporalHiddenKernel: 7)
        c.padding = true
        core = Factorized3dCore(c, generator: generator)
        readout = FullGaussian2d(inputChannels: channels.last!, neuronCount: neurons, covariance: .full,
                                 positions: .free(), generator: generator)
        shifter = MLPShifter(inputFeatures: 2, hiddenChannels: 5, layers: 3, generator: generator)
    }

    /// Responses (N, T', neurons) for video (N, 3, T, H, W) and pupil centres (N, T', 2).
    func callAsFunction(_ video: Tensor, pupilCenter: Tensor) -> Tensor {
        let features = core(video)
        return output(readout(features, shift: shifter(pupilCenter)))
    }

    var parameters: [(path: String, tensor: Tensor)] {
        core.namedParameters().map { ("core." + $0.path, $0.tensor) }
            + readout.namedParameters().map { ("readout." + $0.path, $0.tensor) }
            + shifter.namedParameters().map { ("shifter." + $0.path, $0.tensor) }
    }

    func train(_ mode: Bool) {
        core.train(mode); readout.train(mode); shifter.train(mode)
    }
}

func factorizedSmall(runs: Int, options: BenchOptions, report: inout Report) {
    let batch = 4, frames = 40, neurons = 1000, channels = [32, 32, 32]
    let model = FactorizedModel(channels: channels, neurons: neurons)
    model.train(true)
    let optimizer = AdamW(parameters: model.parameters, configuration: .init(learningRate: 1e-3, weightDecay: 1e-2))
    let outFrames = frames - 10 - 6 - 6
    let video = Tensor.randomNormal([batch, 3, frames, 36, 64], generator: generator)
    let pupil = Tensor.randomNormal([batch, outFrames, 2], generator: generator)
    let target = Tensor.randomUniform([batch, outFrames, neurons], generator: generator)
    let t = Timing.measure(runs: runs) {
        optimizer.zeroGrad()
        let loss = poissonLoss(model(video, pupilCenter: pupil), target: target)
        loss.backward()
        optimizer.step()
    }
    // Forward and backward (input and weight gradients) of the convolutions; the first spatial
    // convolution needs no input gradient.
    let first = 2.0 * Double(batch * channels[0] * frames * 36 * 64 * 3 * 121)
    report.add(timing: t, flops: 3 * coreFlops(batch: batch, frames: frames, channels: channels) - first)
}

func factorizedPaper(runs: Int, options: BenchOptions, report: inout Report) {
    let batch = 8, frames = 80, neurons = 8000, channels = [64, 64, 64]
    let model = FactorizedModel(channels: channels, neurons: neurons)
    model.train(false)
    let outFrames = frames - 10 - 6 - 6
    let video = Tensor.randomNormal([batch, 3, frames, 36, 64], generator: generator)
    let pupil = Tensor.randomNormal([batch, outFrames, 2], generator: generator)
    let t = Timing.measure(runs: runs) {
        withNoGrad { _ = model(video, pupilCenter: pupil) }
    }
    report.add(timing: t, flops: coreFlops(batch: batch, frames: frames, channels: channels))
}

func readout8k(runs: Int, options: BenchOptions, report: inout Report) {
    let batch = 4, channels = 64, frames = 18, neurons = 8000
    let readout = FullGaussian2d(inputChannels: channels, neuronCount: neurons, covariance: .full,
                                 positions: .free(), generator: generator)
    readout.train(true)
    let x = Tensor.randomNormal([batch, channels, frames, 36, 64], generator: generator, requiresGrad: true)
    let shift = (Tensor.randomUniform([batch, frames, 2], generator: generator) - 0.5) * 0.2
    let gradient = Tensor.randomNormal([batch, frames, neurons], generator: generator)
    let parameters = readout.parameters()
    let t = Timing.measure(runs: runs) {
        x.zeroGrad()
        for p in parameters { p.zeroGrad() }
        readout(x, shift: shift).backward(gradient)
    }
    report.add(timing: t)
}

// MARK: Loader

/// The synthetic mouse of the loader workload: 1,000 neurons, 40 training trials of 300 frames.
let loaderConfiguration = SyntheticMouseConfiguration(
    seed: 11, mice: 1, neurons: 1000, trainTrials: 40, oracleClips: 1, repeats: 2, liveTestMainClips: 1,
    liveTestBonusClips: 1, finalTestMainClips: 1, finalTestBonusClipsPerFamily: 1, noneTrials: 1)

func loaderWorkload(runs: Int, options: BenchOptions, report: inout Report) throws {
    let temporary = options.mouse == nil
        ? FileManager.default.temporaryDirectory.appendingPathComponent("sensorium-bench-\(UUID().uuidString)").path : nil
    defer { if let temporary { try? FileManager.default.removeItem(atPath: temporary) } }
    let root = options.mouse ?? temporary!
    let name = SyntheticMouseGenerator.mouseName(index: 0, configuration: loaderConfiguration)
    let path = (root as NSString).appendingPathComponent(name)
    if !FileManager.default.fileExists(atPath: path + "/meta/trials/tiers.npy") {
        try SyntheticMouseGenerator.generateMouse(index: 0, configuration: loaderConfiguration, into: root, overwrite: true)
    }
    let dataset = try MouseDataset(path: path)
    let loader = MouseLoader(dataset: dataset, tier: .train, batchSize: 4, mode: .clips(frames: 40), dropLast: true,
                             generator: RandomGenerator(seed: 3))
    var clips = 0
    var failure: Error?
    let t = Timing.measure(runs: runs) {
        clips = 0
        do {
            let epoch = loader.epoch(prefetch: 0)
            while let batch = try epoch.next() {
                let tensors = [batch.videoTensor(), batch.responseTensor(), batch.behaviorTensor(), batch.pupilCenterTensor()]
                clips += tensors[0].shape[0]
            }
        } catch { failure = error }
    }
    if let failure { throw failure }
    report.add(timing: t)
    report.add("clips_per_s", Double(clips) / median(t.wall))
    report.add("clips_per_cpu_s", Double(clips) / median(t.cpu))
    report.add("mouse", temporary == nil ? path : "\(name) (temporary folder, removed)")
}
