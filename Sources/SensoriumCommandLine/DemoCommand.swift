import ArgumentParser
import Foundation
import Sensorium

/// `sensorium demo`: the whole pipeline on synthetic mice.
struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Synthesize mice, train the factorised baseline, evaluate it against the ground truth, write a report.",
        discussion: """
        Writes <output>/data (the synthetic mice; reused when already complete), <output>/run (the \
        training run), <output>/evaluation.json, <output>/results.json and <output>/report.html.
        """
    )

    @OptionGroup var global: GlobalOptions

    @Option(name: .shortAndLong, help: "Output folder.")
    var output: String = "demo-output"

    @Option(parsing: .unconditional, help: "Stop training after this many minutes, keeping the best weights so far (as `train --max-minutes`; opening the data and building the model count).")
    var maxMinutes: Double = Double(DemoWorkflow.defaultTrainingBudget.components.seconds) / 60

    @Option(parsing: .unconditional, help: .hidden)
    var budget: Double?

    @Option(parsing: .unconditional, help: "At most this many training epochs (default: \(DemoWorkflow.trainingConfiguration.trainer.earlyStopping.maxEpochs), which fit the time limit on two quiet cores; the learning-rate schedule is compressed to them).")
    var epochs: Int?

    @Option(parsing: .unconditional, help: "Seed of the trainer and of the model's initial weights (default: \(DemoWorkflow.trainingConfiguration.trainer.seed)).")
    var seed: UInt64?

    @Option(name: .shortAndLong, help: "A JSON training configuration (model, trainer, data), or a preset name, instead of the demo's (default: the `demo` preset).")
    var config: String?

    @Flag(help: "A much smaller, faster run (tiny mice, a few epochs) to check the installation.")
    var quick = false

    @Flag(help: "Plain progress lines even on a terminal.")
    var plain = false

    func validate() throws {
        if !(maxMinutes > 0 && maxMinutes.isFinite) { throw ValidationError("--max-minutes must be a positive number of minutes; got \(maxMinutes)") }
        if let budget, !(budget > 0 && budget.isFinite) { throw ValidationError("--budget must be a positive number of seconds; got \(budget)") }
        if let epochs, epochs < 1 { throw ValidationError("--epochs must be at least 1; got \(epochs)") }
    }

    func run() throws {
        let logger = global.makeLogger("demo")
        // `--budget SECONDS` was the demo's time limit before it took minutes like `train`.
        if let budget {
            logger.warning("--budget (seconds) is deprecated: use --max-minutes (--budget \(Int(budget)) is --max-minutes \(String(format: "%g", budget / 60)))")
        }
        let seconds = budget ?? maxMinutes * 60
        var synthetic = DemoWorkflow.defaultSyntheticConfiguration
        var training = try config.map(TrainingRunConfiguration.load(fileOrPreset:))
            ?? DemoWorkflow.trainingConfiguration
        if quick {
            synthetic = .tiny
            // The demo's frame size: its model's kernels and strides need frames of about this size.
            synthetic.height = DemoWorkflow.defaultSyntheticConfiguration.height
            synthetic.width = DemoWorkflow.defaultSyntheticConfiguration.width
            synthetic.neurons = 32
            synthetic.trainTrials = 16
            training.data.frames = 40
            training.data.batchSize = 4
            training.limitEpochs(to: 3)
        }
        if let epochs { training.limitEpochs(to: epochs) }
        if let seed {
            training.trainer.seed = seed
            training.model.seed = seed
        }
        let outcome = try DemoWorkflow.run(
            output: output, synthetic: synthetic, training: training, budget: .milliseconds(Int64(seconds * 1000)),
            logger: logger, observers: [ProgressBar(style: plain ? .lines : .automatic)],
            progress: { emit("==> " + $0) })
        let r = outcome.results
        emit("")
        emit(outcome.evaluation.formatted())
        emit("")
        emit(String(format: "Main track ρ_ta: %.3f of the ceiling %.3f (%.0f%%); training %.0f s, evaluation %.0f s",
                     r.main.toAverage, r.main.ceilingToAverage, 100 * r.main.fractionOfCeilingToAverage,
                     r.trainSeconds, r.evalSeconds))
        let folder = (output as NSString).expandingTildeInPath
        emit("wrote \(RunFolder.file(folder, RunFolder.resultsFile)) and \(RunFolder.file(folder, RunFolder.reportFile))")
    }
}
