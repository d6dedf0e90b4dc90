// A user-written readout plugged onto a built-in core and trained with the Trainer.
//
//   swift run -c release CustomReadout [--epochs N] [--neurons N] [--output DIR]
//   swift run CustomReadout             # debug build: tiny sizes
//
// The synthetic mouse goes to a temporary folder, removed at the end (--output DIR keeps it). The
// run prints the validation correlation before and after training: the readout learns from
// diffuse masks, so it needs a few epochs before it beats its untrained start.
//
// The readout is the "factorised" readout of Klindt et al. (2017): every neuron has a spatial mask
// over the core's feature map and a vector of channel weights; its response is
// Σ_c w[c, n] · Σ_{h,w} mask[n, h, w] · x[c, h, w] + bias[n], frame by frame. Conforming to
// `Readout` (and subclassing `Module`) is all it takes: parameters are found by reflection, the
// model and the Trainer do the rest.

import Foundation
import Sensorium

/// A spatial-mask × feature-vector readout (Klindt et al. 2017), one per mouse.
final class SpatialMaskReadout: Module, Readout {
    /// (neurons, H·W): where each neuron looks.
    let mask: Tensor
    /// (C, neurons): which features it weighs.
    let features: Tensor
    /// (neurons).
    let bias: Tensor
    let inputChannels: Int
    let neuronCount: Int
    let height: Int, width: Int
    /// Weight of the L1 penalty on the masks (sparse, localised receptive fields).
    let maskRegularization: Float

    init(inputChannels: Int, neuronCount: Int, height: Int, width: Int, maskRegularization: Float = 0.01,
         generator: RandomGenerator) {
        self.inputChannels = inputChannels
        self.neuronCount = neuronCount
        self.height = height
        self.width = width
        self.maskRegularization = maskRegularization
        // Small positive masks (a diffuse start), features 1/C, bias 0 (set from data below).
        mask = Tensor.randomUniform([neuronCount, height * width], low: 0, high: 2 / Float(height * width),
                                    generator: generator, requiresGrad: true)
        features = Tensor.full([inputChannels, neuronCount], 1 / Float(inputChannels), requiresGrad: true)
        bias = Tensor.zeros([neuronCount], requiresGrad: true)
        super.init()
    }

    func callAsFunction(_ x: Tensor, shift: Tensor?) -> Tensor {
        checkInput(x, shift: shift, readout: "SpatialMaskReadout")
        precondition(x.shape[3] == height && x.shape[4] == width,
                     "SpatialMaskReadout: expected features of \(height) × \(width), got \(x.shape)")
        let (n, c, t) = (x.shape[0], x.shape[1], x.shape[2])
        // (N, C, T, H·W) → (N, T, C, H·W), masked sums: (N, T, C, neurons).
        let frames = x.reshaped([n, c, t, height * width]).permuted([0, 2, 1, 3])
        let pooled = matmul(frames, mask.transposed(0, 1))
        // Weigh the channels of every neuron: (N, T, neurons).
        return (pooled * features).sum(axis: 2) + bias
    }

    func regularizer() -> Tensor { mask.abs().sum() * maskRegularization }

    func initializeBias(meanResponses: Tensor) { bias.assign(meanResponses) }
}

func run() throws {
    var arguments = Array(CommandLine.arguments.dropFirst())
    func take(_ name: String) throws -> Int? {
        guard let i = arguments.firstIndex(of: name) else { return nil }
        guard i + 1 < arguments.count, let v = Int(arguments[i + 1]), v > 0 else {
            throw ExampleError("\(name) needs a positive integer")
        }
        arguments.removeSubrange(i...(i + 1))
        return v
    }
    if arguments.contains("-h") || arguments.contains("--help") {
        print("usage: CustomReadout [--epochs N] [--neurons N] [--output DIR]")
        return
    }
    var output: String?
    if let i = arguments.firstIndex(of: "--output") {
        guard i + 1 < arguments.count else { throw ExampleError("--output needs a folder") }
        output = arguments[i + 1]
        arguments.removeSubrange(i...(i + 1))
    }
    #if DEBUG
    var synthetic = SyntheticMouseConfiguration.tiny
    synthetic.frames = 80
    synthetic.neurons = 16
    var epochs = 8
    let (batchSize, clipFrames) = (2, 30)
    let channels = [4, 8]
    print("Note: a debug build runs tiny sizes; `swift run -c release CustomReadout` trains a real (small) model.")
    #else
    var synthetic = SyntheticMouseConfiguration()
    synthetic.mice = 1
    synthetic.neurons = 48
    synthetic.trainTrials = 24
    synthetic.frames = 120
    synthetic.lengthJitter = 8
    synthetic.repeats = 5
    var epochs = 12
    let (batchSize, clipFrames) = (4, 60)
    let channels = [8, 16]
    #endif
    epochs = try take("--epochs") ?? epochs
    synthetic.neurons = try take("--neurons") ?? synthetic.neurons
    guard arguments.isEmpty else { throw ExampleError("unknown arguments \(arguments)") }

    // Data.
    let folder = output ?? FileManager.default.temporaryDirectory
        .appendingPathComponent("sensorium-custom-readout-\(ProcessInfo.processInfo.processIdentifier)").path
    defer { if output == nil { try? FileManager.default.removeItem(atPath: folder) } }
    print("Writing a synthetic mouse to \(folder)" + (output == nil ? " (removed at the end)" : ""))
    let mice = try SyntheticMouseGenerator.generate(configuration: synthetic, into: folder, overwrite: true)
        .map { try MouseDataset(path: $0.path) }

    // A built-in core ...
    let generator = RandomGenerator(seed: 42)
    let core = Factorized3dCore(Factorized3dCore.Configuration(
        inputChannels: 3, hiddenChannels: channels, spatialInputKernel: [7, 7], temporalInputKernel: 7,
        spatialHiddenKernel: [3, 3], temporalHiddenKernel: 3), generator: generator)
    let featureShape = core.outputShape(for: [1, 3, clipFrames, synthetic.height, synthetic.width])

    // ... with our readout for every mouse, biases from the mean responses.
    let readouts = PerMouseReadouts()
    for mouse in mice {
        let readout = SpatialMaskReadout(inputChannels: core.outputChannels, neuronCount: mouse.neuronCount,
                                         height: featureShape[3], width: featureShape[4], generator: generator)
        readout.initializeBias(meanResponses: try VideoModel.meanResponses(of: mouse, trials: 8, generator: generator))
        readouts.insert(readout, for: mouse.name)
    }
    let model = VideoModel(core: core, readouts: readouts, shifters: nil, outputNonlinearity: ELUPlusOne(), generator: generator)
    print(model)

    // Training with the reference recipe, a few epochs.
    var recipe = TrainerConfiguration.reference
    recipe.earlyStopping.maxEpochs = epochs
    let trainer = Trainer(model: model, data: MouseTrainingData(datasets: mice, batchSize: batchSize, frames: clipFrames),
                          configuration: recipe, logger: Logger(label: "CustomReadout"))
    trainer.observers.append(ProgressBar())
    let summary = try trainer.fit()
    let untrained = trainer.history.first?.validation?.correlation ?? .nan
    print(String(format: "Trained %d epochs: validation ρ_st %.3f untrained, best %.3f (epoch %d, the weights kept)",
                 summary.epochs, untrained, summary.bestObjective, summary.bestEpoch))
    if summary.bestEpoch == 0 { print("No epoch beat the untrained readout: give more --epochs.") }

    // Evaluation, and a look at what one neuron learned.
    let report = try Evaluation.evaluate(model, datasets: mice, modelName: "Factorized core + spatial-mask readout")
    print("")
    print(report.formatted())
    let first = readouts[mice[0].name] as! SpatialMaskReadout
    let mask = first.mask.scalars.prefix(first.height * first.width)
    let peak = mask.indices.max { mask[$0] < mask[$1] }!
    print("\nNeuron 0 of \(mice[0].name) looks most at feature-map pixel (\(peak / first.width), \(peak % first.width)) of \(first.height) × \(first.width)")
}

struct ExampleError: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = message }
}

do {
    try run()
} catch {
    FileHandle.standardError.write(Data("CustomReadout: \(error)\n".utf8))
    exit(1)
}
