// A core written outside the SDK, plugged in by name: registered in one line, it then trains from
// a configuration file through the `sensorium` commands, is saved in the run's checkpoint, comes
// back from it, and predicts exactly what it predicted before.
//
//   swift run CustomCore            # tiny sizes (what `make test` runs)
//   swift run CustomCore --keep     # keep the synthetic mouse and the run folder, and say where
//
// Steps: 1. define `SeparableCore` and its `Configuration` (one struct, the home of its defaults);
// 2. register it; 3. write a configuration file naming it (`"core": {"type": "separableCore"}`);
// 4. `sensorium train --config` for a few epochs; 5. `VideoModel.load` rebuilds the model from the
// checkpoint through the registry; 6. save again, reload, and compare predictions bit for bit,
// also with what `sensorium predict` wrote.

import Foundation
import Sensorium
import SensoriumCommandLine

/// A small factorised core: a spatial convolution (1, k, k), ELU, a temporal convolution (kt, 1, 1),
/// ELU. Input (N, C, T, H, W); output (N, channels, T − kt + 1, H − k + 1, W − k + 1).
final class SeparableCore: Module, Core, UnaryLayer {
    /// The options, with their defaults (the one place they live).
    struct Configuration: CoreConfiguration, Equatable {
        static var typeName: String { "separableCore" }
        static var defaults: Self { Self() }
        var inputChannels = 3
        var channels = 8
        var spatialKernel = 5
        var temporalKernel = 5
        /// Weight of an L2 penalty on the spatial kernels.
        var spatialPenalty: Float = 0.01

        init() {}

        func makeCore(generator: RandomGenerator) throws -> any Core {
            guard channels > 0, spatialKernel > 0, temporalKernel > 0 else {
                throw ExampleError("separableCore: channels and kernels must be positive")
            }
            return SeparableCore(self, generator: generator)
        }
    }

    let spatial: Conv3d
    let temporal: Conv3d
    @Transient var configuration: Configuration

    init(_ c: Configuration, generator: RandomGenerator) {
        configuration = c
        spatial = Conv3d(c.inputChannels, c.channels, kernelSize: [1, c.spatialKernel, c.spatialKernel], generator: generator)
        temporal = Conv3d(c.channels, c.channels, kernelSize: [c.temporalKernel, 1, 1], generator: generator)
        super.init()
    }

    func callAsFunction(_ x: Tensor) -> Tensor { temporal(spatial(x).elu()).elu() }
    var outputChannels: Int { configuration.channels }
    func outputShape(for s: [Int]) -> [Int] { temporal.outputShape(for: spatial.outputShape(for: s)) }
    var burnInFrames: Int { configuration.temporalKernel - 1 }
    func regularizer() -> Tensor { spatial.weight.square().sum() * configuration.spatialPenalty }
}

struct ExampleError: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = message }
}

/// Runs a `sensorium` command in this process (the commands know the registered core).
func sensorium(_ arguments: [String]) throws {
    var command = try SensoriumCommand.parseAsRoot(arguments)
    try command.run()
}

func run() throws {
    let keep = CommandLine.arguments.contains("--keep")
    // 2. One line makes the core known to configuration files, checkpoints and the commands.
    CoreKind.registry.register(SeparableCore.Configuration.self)

    let root = FileManager.default.temporaryDirectory.appendingPathComponent("sensorium-custom-core-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    defer {
        if keep { print("Kept \(root.path)") } else { try? FileManager.default.removeItem(at: root) }
    }
    var synthetic = SyntheticMouseConfiguration.tiny
    synthetic.trainTrials = 16
    let mice = try SyntheticMouseGenerator.generate(configuration: synthetic, into: root.appendingPathComponent("data").path)
    let folder = mice[0].path

    // 3. A configuration file that names the core by its type.
    let configurationFile = root.appendingPathComponent("separable.json")
    try """
    {"model": {"seed": 3,
               "core": {"type": "separableCore", "channels": 6, "spatialKernel": 5, "temporalKernel": 3},
               "readout": {"type": "gaussian", "positionNetwork": {"hiddenFeatures": 8}},
               "biasThroughInverseNonlinearity": true},
     "trainer": {"earlyStopping": {"maxEpochs": 6}}}
    """.write(to: configurationFile, atomically: true, encoding: .utf8)

    // 4. Train a few epochs through the command line (early stopping keeps the best weights).
    let runFolder = root.appendingPathComponent("run").path
    try sensorium(["train", folder, "--output", runFolder, "--config", configurationFile.path,
                   "--batch-size", "2", "--frames", "30", "--plain", "--log-level", "warning"])

    // 5. The checkpoint rebuilds the model through the registry.
    let model = try VideoModel.load(from: URL(fileURLWithPath: RunFolder.file(runFolder, RunFolder.modelFile)))
    guard let core = model.core as? SeparableCore else { throw ExampleError("the checkpoint did not rebuild a SeparableCore") }
    print("Rebuilt \(model.architecture!.configuration.core.typeName) core with \(core.outputChannels) channels from \(runFolder)")

    // 6. Save, reload and predict: bit for bit the same.
    let dataset = try MouseDataset(path: folder)
    let loader = MouseLoader(dataset: dataset, tier: .finalTestMain, batchSize: 1, mode: .fullTrials(maxFrames: nil),
                             generator: RandomGenerator(seed: 1))
    guard let batch = try loader.epoch(prefetch: 0).next() else { throw ExampleError("no final-test trial") }
    let trial = batch.trials[0]
    let first = withNoGrad { model.forward(batch) }
    let copy = root.appendingPathComponent("copy.h5")
    try model.save(to: copy)
    let again = try VideoModel.load(from: copy)
    let second = withNoGrad { again.forward(batch) }
    guard first.shape == second.shape, first.scalars == second.scalars else {
        throw ExampleError("predictions changed after a save and a reload")
    }
    // `sensorium predict` with the same checkpoint writes the same numbers.
    let predictions = root.appendingPathComponent("predictions").path
    try sensorium(["predict", "-m", runFolder, folder, "-o", predictions, "--format", "npy", "--tiers", "final",
                   "--skip-frames", "\(model.burnInFrames)", "--max-frames", "0"])
    let written = try NPY.readTensor((predictions as NSString).appendingPathComponent("\(dataset.name)/final_test_main/\(trial).npy"))
    // The file is (neurons, frames) for the frames the model predicts.
    let ours = first.reshaped([first.shape[1], first.shape[2]]).transposed(0, 1)
    let frames = min(ours.shape[1], written.shape[1])
    guard ours.shape[0] == written.shape[0], frames > 0,
          ours.sliced(axis: 1, range: (ours.shape[1] - frames)..<ours.shape[1]).scalars
            == written.sliced(axis: 1, range: (written.shape[1] - frames)..<written.shape[1]).scalars else {
        throw ExampleError("sensorium predict wrote other numbers than the reloaded model (\(ours.shape) vs \(written.shape))")
    }
    print("Predictions of trial \(trial) (\(first.shape[1]) frames × \(first.shape[2]) neurons) are identical after save/load and from `sensorium predict`.")
}

do {
    try run()
} catch {
    FileHandle.standardError.write(Data("CustomCore: \(error)\n".utf8))
    exit(1)
}
