// Loads a trained model and prints the Table 1 layout of SENSORIUM 2023 for some mice.
//
//   swift run -c release EvaluateCheckpoint checkpoint.h5 data/mouseA data/mouseB [--json report.json]
//                                           [--predictions DIR] [--max-frames N]
//   swift run -c release EvaluateCheckpoint state/ data/mouseA --config model.json
//       (a PyTorch state_dict folder from Tools/convert_pytorch_checkpoint.py, with the model's
//        VideoModelConfiguration as JSON)
//   swift run EvaluateCheckpoint        # no arguments: trains a tiny model on a synthetic mouse,
//                                       # saves a checkpoint, then loads and evaluates it
//
// The checkpoint is a model or training checkpoint written by `VideoModel.save(to:)` or by a
// Trainer (which saves `model.checkpointMetadata`): the model is rebuilt from it alone.

import Foundation
import Sensorium

struct Arguments {
    var checkpoint: String?
    var mice: [String] = []
    var configuration: String?
    var json: String?
    var predictions: String?
    var maxFrames: Int? = 300

    init(_ arguments: [String]) throws {
        var i = 0
        func value(_ name: String) throws -> String {
            i += 1
            guard i < arguments.count else { throw ExampleError("\(name) needs a value") }
            return arguments[i]
        }
        var positional: [String] = []
        while i < arguments.count {
            switch arguments[i] {
            case "--json": json = try value("--json")
            case "--predictions": predictions = try value("--predictions")
            case "--config": configuration = try value("--config")
            case "--max-frames":
                let text = try value("--max-frames")
                guard let n = Int(text), n > 50 else { throw ExampleError("--max-frames needs an integer > 50, got '\(text)'") }
                maxFrames = n
            case "-h", "--help":
                print("usage: EvaluateCheckpoint [CHECKPOINT MOUSE_FOLDER...] [--config model.json] [--json FILE] [--predictions DIR] [--max-frames N]")
                exit(0)
            case let a where a.hasPrefix("--"): throw ExampleError("unknown option '\(a)'")
            case let a: positional.append(a)
            }
            i += 1
        }
        if let first = positional.first {
            checkpoint = first
            mice = Array(positional.dropFirst())
            guard !mice.isEmpty else { throw ExampleError("give the mouse folders to evaluate after the checkpoint") }
        }
    }
}

struct ExampleError: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = message }
}

/// No arguments: a tiny synthetic mouse and a briefly trained model, saved as a training checkpoint.
func makeDemoCheckpoint() throws -> (checkpoint: String, mice: [String]) {
    let folder = FileManager.default.temporaryDirectory
        .appendingPathComponent("sensorium-evaluate-checkpoint-\(ProcessInfo.processInfo.processIdentifier)")
    var synthetic = SyntheticMouseConfiguration.tiny
    synthetic.frames = 80
    #if !DEBUG
    synthetic.neurons = 48
    synthetic.trainTrials = 16
    #endif
    print("No checkpoint given: training a tiny model on a synthetic mouse in \(folder.path) first (removed at the end).")
    let written = try SyntheticMouseGenerator.generate(configuration: synthetic, into: folder.path, overwrite: true)
    let mice = try written.map { try MouseDataset(path: $0.path) }
    // The demo's model and recipe (readouts started at mapped receptive fields; early stopping
    // keeps the best weights), a few epochs.
    var run = try RunPreset.named("demo").configuration
    run.limitEpochs(to: 8)
    let model = try VideoModel(configuration: run.model, datasets: mice)
    try model.initializeFromData(mice)
    let trainer = Trainer(model: model, data: MouseTrainingData(datasets: mice, batchSize: 2, frames: 30),
                          configuration: run.trainer, logger: Logger(label: "EvaluateCheckpoint"))
    let checkpoint = folder.appendingPathComponent("checkpoint.h5")
    trainer.checkpointURL = checkpoint
    try trainer.fit()
    let summary = trainer.history.last
    print(String(format: "  validation ρ_st %.3f untrained, best %.3f after %d epochs (epoch %d, the weights saved)",
                 trainer.history.first?.validation?.correlation ?? .nan, summary?.bestObjective ?? .nan,
                 trainer.history.count - 1, summary?.bestEpoch ?? 0))
    return (checkpoint.path, written.map(\.path))
}

func run() throws {
    let arguments = try Arguments(Array(CommandLine.arguments.dropFirst()))
    var checkpoint = arguments.checkpoint, folders = arguments.mice
    var temporary: String?
    if checkpoint == nil {
        (checkpoint, folders) = try makeDemoCheckpoint()
        temporary = URL(fileURLWithPath: checkpoint!).deletingLastPathComponent().path
    }
    defer { if let temporary { try? FileManager.default.removeItem(atPath: temporary) } }
    let path = checkpoint!
    let mice = try folders.map { try MouseDataset(path: $0) }

    let model: VideoModel
    var isDirectory: ObjCBool = false
    if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
        // A PyTorch state_dict folder: build the architecture from the data, then load the weights by key.
        guard let configurationPath = arguments.configuration else {
            throw ExampleError("\(path) is a folder (a PyTorch state_dict): give the model's configuration with --config")
        }
        let configuration = try VideoModelConfiguration.load(from: URL(fileURLWithPath: configurationPath))
        model = try VideoModel(configuration: configuration, datasets: mice)
        try model.loadPyTorchState(folder: URL(fileURLWithPath: path))
        print("Loaded the PyTorch state in \(path)")
    } else {
        model = try VideoModel.load(from: URL(fileURLWithPath: path))
        print("Loaded \(path): \(model.architecture!.configuration.core.typeName) core, \(model.mice.count) mice, \(model.trainableParameterCount) parameters")
    }
    try model.checkCompatible(with: mice)

    var options = EvaluationOptions()
    options.maxFrames = arguments.maxFrames
    let report = try Evaluation.evaluate(model, datasets: mice, modelName: "Checkpoint", options: options) { p in
        if p.trialsDone == p.trialsTotal { print("  scored \(p.trialsTotal) trials of \(p.mouse)") }
    }
    print("")
    print(report.formatted())
    for mouse in report.mice {
        if let main = mouse.scores["main"] {
            print(String(format: "  %@: %d neurons, main ρ_st %.3f over %d trials", mouse.mouse, mouse.neurons, main.singleTrial, main.trials))
        }
    }
    if let json = arguments.json {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(report).write(to: URL(fileURLWithPath: json))
        print("Report written to \(json)")
    }
    if let predictions = arguments.predictions {
        let dir = URL(fileURLWithPath: predictions)
        let summary = try Predictions.write(model, datasets: mice, npyFolder: dir.appendingPathComponent("npy"),
                                            hdf5File: dir.appendingPathComponent("predictions.h5"), maxFrames: arguments.maxFrames)
        print("Predictions of \(summary.trialsPerMouse.values.reduce(0, +)) test trials written to \(predictions)")
    }
}

do {
    try run()
} catch {
    FileHandle.standardError.write(Data("EvaluateCheckpoint: \(error)\n".utf8))
    exit(1)
}
