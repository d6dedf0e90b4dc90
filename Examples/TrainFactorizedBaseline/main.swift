// Trains the SENSORIUM 2023 factorised baseline (at the demo's size) on synthetic mice and prints
// Table 1 next to the ground-truth ceiling, and how far training moved the model from its
// untrained start.
//
//   swift run -c release TrainFactorizedBaseline      # a small run (a minute or two)
//   swift run TrainFactorizedBaseline                 # debug build: fewer trials and epochs
//                                                     # (debug runs ~5-8x slower)
//   swift run -c release TrainFactorizedBaseline --mice 2 --neurons 256 --train-trials 50 \
//       --frames 300 --epochs 20 --benchmark          # the benchmark core on the default synthetic sizes
//
// Steps: write synthetic mice (ground-truth rates included) to a temporary folder (removed at the
// end; --output DIR keeps them there), build the demo's model from them (readouts started at
// receptive fields mapped from the data, biases from mean responses), train it with the demo's
// recipe for a few epochs, evaluate the test tiers and print the Table 1 layout next to the
// ground-truth ceiling. The scores are those of a model trained for a minute on little data:
// the point is the pipeline and that training improves on the untrained model, not the numbers
// (`make demo` trains the same model for 9 minutes to about 77 % of the ceiling).

import Foundation
import Sensorium

struct Options {
    var mice = 1
    var neurons = 48
    #if DEBUG
    // Unoptimised builds run about 5-8x slower than release: fewer training trials and epochs.
    var trainTrials = 24
    var epochs = 8
    #else
    var trainTrials = 60
    var epochs = 15
    #endif
    var frames = 120
    var height = 36, width = 64
    var repeats = 5
    var batchSize = 4
    var clipFrames = 60
    var seed: UInt64 = 42
    var benchmark = false
    var output: String?
    var modelConfiguration: String?
    var trainerConfiguration: String?

    static let usage = """
    usage: TrainFactorizedBaseline [--mice N] [--neurons N] [--train-trials N] [--frames N] [--size H W]
                                   [--repeats N] [--epochs N] [--batch-size N] [--clip-frames N] [--seed S]
                                   [--benchmark] [--model-config FILE] [--trainer-config FILE] [--output DIR]
      --model-config FILE    a VideoModelConfiguration as JSON (every key optional) instead of the baseline
      --trainer-config FILE  a TrainerConfiguration as JSON (every key optional) instead of the reference recipe
      --frames N    frames per trial (at least 80: 50 are skipped when scoring)
      --size H W    frame size (36 × 64 in SENSORIUM 2023)
      --benchmark   the benchmark core (32/64/128 channels, kernels 11/5) instead of a small one
      --output DIR  where to write the synthetic mice and the checkpoint, kept (default: a temporary folder, removed at the end)
    """

    init(arguments: [String]) throws {
        var i = 0
        func value(_ name: String) throws -> String {
            i += 1
            guard i < arguments.count else { throw OptionError("\(name) needs a value") }
            return arguments[i]
        }
        func int(_ name: String, minimum: Int = 1) throws -> Int {
            let text = try value(name)
            guard let v = Int(text), v >= minimum else { throw OptionError("\(name) needs an integer ≥ \(minimum), got '\(text)'") }
            return v
        }
        while i < arguments.count {
            switch arguments[i] {
            case "--mice": mice = try int("--mice")
            case "--neurons": neurons = try int("--neurons")
            case "--train-trials": trainTrials = try int("--train-trials", minimum: 2)
            case "--frames": frames = try int("--frames", minimum: 80)
            case "--size": height = try int("--size", minimum: 16); width = try int("--size", minimum: 16)
            case "--repeats": repeats = try int("--repeats")
            case "--epochs": epochs = try int("--epochs")
            case "--batch-size": batchSize = try int("--batch-size")
            case "--clip-frames": clipFrames = try int("--clip-frames", minimum: 20)
            case "--seed": seed = UInt64(try int("--seed", minimum: 0))
            case "--benchmark": benchmark = true
            case "--output": output = try value("--output")
            case "--model-config": modelConfiguration = try value("--model-config")
            case "--trainer-config": trainerConfiguration = try value("--trainer-config")
            case "-h", "--help": print(Options.usage); exit(0)
            default: throw OptionError("unknown argument '\(arguments[i])'")
            }
            i += 1
        }
    }
}

struct OptionError: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = message }
}

func run() throws {
    let options = try Options(arguments: Array(CommandLine.arguments.dropFirst()))
    let clock = ContinuousClock()
    #if DEBUG
    print("Note: a debug build trains on fewer trials for fewer epochs and learns little; `swift run -c release TrainFactorizedBaseline` runs the full small example.")
    #endif

    // 1. Synthetic mice in the SENSORIUM 2023 folder layout.
    var synthetic = SyntheticMouseConfiguration()
    synthetic.seed = options.seed
    synthetic.mice = options.mice
    synthetic.neurons = options.neurons
    synthetic.trainTrials = options.trainTrials
    synthetic.frames = options.frames
    synthetic.lengthJitter = min(8, options.frames / 10)
    synthetic.height = options.height
    synthetic.width = options.width
    synthetic.repeats = options.repeats
    let folder = options.output ?? FileManager.default.temporaryDirectory
        .appendingPathComponent("sensorium-train-factorized-\(ProcessInfo.processInfo.processIdentifier)").path
    // A temporary folder goes at the end, however the run ends.
    defer { if options.output == nil { try? FileManager.default.removeItem(atPath: folder) } }
    print("Writing \(options.mice) synthetic mice (\(options.neurons) neurons, \(synthetic.trialsPerMouse) trials each) to \(folder)"
          + (options.output == nil ? " (removed at the end)" : ""))
    let written = try SyntheticMouseGenerator.generate(configuration: synthetic, into: folder, overwrite: true)
    let mice = try written.map { try MouseDataset(path: $0.path) }

    // 2. The factorised baseline at the demo's size, built from the data like the reference's
    //    make_video_model (the `demo` preset: `sensorium presets demo`).
    var run = try RunPreset.named("demo").configuration
    run.limitEpochs(to: options.epochs)
    var configuration = run.model
    configuration.seed = options.seed
    if let path = options.modelConfiguration {
        configuration = try VideoModelConfiguration.load(from: URL(fileURLWithPath: path))
    } else if options.benchmark {
        configuration.core = VideoModelConfiguration.factorizedBaseline.core
    }
    let model = try VideoModel(configuration: configuration, datasets: mice)
    try model.initializeFromData(mice)
    print("Model: \(model.trainableParameterCount) trainable parameters, burn-in \(model.burnInFrames) frames")

    // 3. Training with the demo's recipe (AdamW 5e-3, plateau schedule, early stopping keeping
    //    the best weights), capped at a few epochs.
    let data = MouseTrainingData(datasets: mice, batchSize: options.batchSize, frames: options.clipFrames)
    var recipe = run.trainer
    recipe.seed = options.seed
    if let path = options.trainerConfiguration {
        recipe = try TrainerConfiguration.load(from: URL(fileURLWithPath: path))
        recipe.earlyStopping.maxEpochs = options.epochs
    }
    let trainer = Trainer(model: model, data: data, configuration: recipe, logger: Logger(label: "TrainFactorizedBaseline"))
    trainer.observers.append(ProgressBar())
    trainer.checkpointURL = URL(fileURLWithPath: folder).appendingPathComponent("checkpoint.h5")
    let trainStart = clock.now
    let summary = try trainer.fit()
    let trainSeconds = (clock.now - trainStart).seconds
    let untrained = trainer.history.first?.validation?.correlation ?? .nan
    print(String(format: "Trained %d epochs (%d steps) in %.1f s: validation ρ_st %.3f untrained, %.3f after training (epoch %d)",
                 summary.epochs, summary.steps, trainSeconds, untrained, summary.bestObjective, summary.bestEpoch))
    if summary.bestEpoch == 0 {
        print("No epoch improved on the untrained model: train longer (--epochs) or on more data (--train-trials).")
    }

    // 4. Evaluation of the test tiers, next to the ground-truth ceiling.
    let report = try Evaluation.evaluate(model, datasets: mice, modelName: "Factorized baseline (ours)")
    print("")
    print(report.formatted())
    print(String(format: "\nEvaluated in %.1f s. The ceiling is what the true (noise-free) rates score on the same noisy trials;", report.seconds))
    print("the paper's Table 1 (Table1Summary.paperTable1) is on real mice and not comparable with these synthetic ones.")
    if options.output != nil { print("\nCheckpoint: \(trainer.checkpointURL!.path) (load it with EvaluateCheckpoint)") }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) * 1e-18 }
}

do {
    try run()
} catch {
    FileHandle.standardError.write(Data("TrainFactorizedBaseline: \(error)\n".utf8))
    exit(1)
}
