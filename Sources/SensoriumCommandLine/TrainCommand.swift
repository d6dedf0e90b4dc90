import ArgumentParser
import Foundation
import Sensorium

/// `sensorium train`: trains a model on mouse folders.
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a model (built-in core + readout) on mouse folders.",
        discussion: """
        Writes into the output folder: configuration.json (the full configuration used), checkpoint.h5 \
        (the training state, written every epoch; continue an interrupted run with --resume), model.h5 \
        (the final weights, the best ones with early stopping) and run.json (history and readout \
        positions, for `sensorium report`). The configuration file is JSON with optional sections \
        "model", "trainer" and "data" (see Documentation/CLI.md); options given on the command line \
        override it. With --seeds and/or --folds an ensemble is trained: one run folder per member \
        inside the output folder (seed-1, fold-0, seed-1-fold-0, …) and ensemble.json, which \
        evaluate, predict and submit accept as --model.
        """
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: "Mouse folders, or folders holding mouse folders.")
    var data: [String]

    @Option(name: .shortAndLong, help: "The run folder to write (created if needed).")
    var output: String

    @Option(name: .shortAndLong, help: "A JSON configuration file (sections model, trainer, data), or the name of a preset (`sensorium presets` lists them; `demo` is the demo's small model) (default: the factorizedBaseline preset, the reference model and recipe).")
    var config: String?

    @Option(help: "Core: \(CoreKind.registry.typeNames.joined(separator: ", ")) (default: from the configuration, else factorized3d).")
    var core: String?

    @Option(help: "Readout: \(ReadoutKind.registry.typeNames.joined(separator: ", ")) (default: from the configuration, else gaussian).")
    var readout: String?

    @Option(parsing: .unconditional, help: "Seed of the trainer and of the model's initial weights (default: from the configuration, else \(TrainerConfiguration.reference.seed)).")
    var seed: UInt64?

    @Option(help: "Train an ensemble: one member per seed, comma-separated (e.g. 1,2,3); each seeds its trainer and initial weights.")
    var seeds: String?

    @Option(parsing: .unconditional, help: "Train an ensemble over a k-fold split grouped by video: one member per fold 0..<k (with --seeds: per seed and fold).")
    var folds: Int?

    @Option(parsing: .unconditional, help: "At most this many epochs (default: from the configuration, else \(TrainerConfiguration.reference.earlyStopping.maxEpochs); early stopping may end sooner).")
    var epochs: Int?

    @Option(parsing: .unconditional, help: "Clips per training batch (default: from the configuration, else \(TrainingDataSettings().batchSize)).")
    var batchSize: Int?

    @Option(parsing: .unconditional, help: "Frames per training clip (default: from the configuration, else \(TrainingDataSettings().frames)).")
    var frames: Int?

    @Option(help: "A trained model file (model.h5) to distil: its predictions of the other mice join the targets (DwiseNeuro's second stage).")
    var teacher: String?

    @Option(parsing: .unconditional, help: "With --teacher: the share of the loss given to the teacher's predictions, in [0, 1) (default 0.36).")
    var distillationRatio: Double?

    @Option(parsing: .unconditional, help: "Stop after this many minutes, keeping the best weights so far (default: no limit; continue later with --resume).")
    var maxMinutes: Double?

    @Option(parsing: .unconditional, help: "Stop after this many optimizer steps in total (the run can be resumed with --resume).")
    var maxSteps: Int?

    @Flag(help: "Continue the run in the output folder from its checkpoint, with its saved configuration (only --max-minutes or --max-steps may be given).")
    var resume = false

    @Flag(help: "Start again when the output folder already holds a run.")
    var overwrite = false

    @Flag(help: "Plain progress lines even on a terminal.")
    var plain = false

    @Flag(help: "Train as one rank of a data-parallel job (sensorium-mpi under mpiexec; --batch-size is per rank).")
    var distributed = false

    func validate() throws {
        if data.isEmpty { throw ValidationError("give at least one mouse folder") }
        if let core, !CoreKind.registry.typeNames.contains(core) {
            throw ValidationError("--core must be one of \(CoreKind.registry.typeNames.joined(separator: ", ")); got '\(core)'")
        }
        if let readout, !ReadoutKind.registry.typeNames.contains(readout) {
            throw ValidationError("--readout must be one of \(ReadoutKind.registry.typeNames.joined(separator: ", ")); got '\(readout)'")
        }
        if let epochs, epochs < 1 { throw ValidationError("--epochs must be at least 1; got \(epochs)") }
        if let batchSize, batchSize < 1 { throw ValidationError("--batch-size must be at least 1; got \(batchSize)") }
        if let frames, frames < 1 { throw ValidationError("--frames must be at least 1; got \(frames)") }
        if let maxMinutes, !(maxMinutes > 0 && maxMinutes.isFinite) {
            throw ValidationError("--max-minutes must be a positive number; got \(maxMinutes)")
        }
        if let teacher, teacher.isEmpty { throw ValidationError("--teacher must name a model file") }
        if let distillationRatio, !(distillationRatio >= 0 && distillationRatio < 1) {
            throw ValidationError("--distillation-ratio must be in [0, 1); got \(distillationRatio)")
        }
        if let maxSteps, maxSteps < 1 { throw ValidationError("--max-steps must be at least 1; got \(maxSteps)") }
        if resume && overwrite { throw ValidationError("--resume and --overwrite exclude each other") }
        let parsedSeeds = try seedList()
        if let folds, folds < 2 { throw ValidationError("--folds must be at least 2; got \(folds)") }
        if parsedSeeds != nil || folds != nil {
            if seed != nil { throw ValidationError("--seed and --seeds/--folds exclude each other: each ensemble member has its own seed") }
            if distributed { throw ValidationError("--distributed trains one model; run the ensemble's members as separate distributed runs") }
        }
        if resume {
            let fixed: [(String, Bool)] = [("--config", config != nil), ("--core", core != nil), ("--readout", readout != nil),
                                           ("--seed", seed != nil), ("--epochs", epochs != nil), ("--batch-size", batchSize != nil),
                                           ("--frames", frames != nil), ("--teacher", teacher != nil),
                                           ("--distillation-ratio", distillationRatio != nil)]
            if let given = fixed.first(where: \.1) {
                throw ValidationError("\(given.0) cannot be used with --resume: a resumed run keeps the configuration saved in its folder")
            }
        }
    }

    /// The seeds of --seeds (nil without it).
    func seedList() throws -> [UInt64]? {
        guard let seeds else { return nil }
        let parts = seeds.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        let values = parts.map { UInt64($0) }
        guard !parts.isEmpty, values.allSatisfy({ $0 != nil }) else {
            throw ValidationError("--seeds must be comma-separated non-negative integers such as 1,2,3; got '\(seeds)'")
        }
        guard Set(values).count == values.count else { throw ValidationError("--seeds repeats a seed: '\(seeds)'") }
        return values.map { $0! }
    }

    /// Whether the command trains an ensemble.
    var trainsEnsemble: Bool { seeds != nil || folds != nil }

    /// The configuration from the file and the options.
    func runConfiguration() throws -> TrainingRunConfiguration {
        var c = try config.map(TrainingRunConfiguration.load(fileOrPreset:)) ?? TrainingRunConfiguration()
        if let core, core != c.model.core.typeName {
            let channels = c.model.core.inputChannels
            c.model.core = try CoreKind.registry.defaults(type: core).withInputChannels(channels)
        }
        if let readout, readout != c.model.readout.typeName { c.model.readout = try ReadoutKind.registry.defaults(type: readout) }
        if let seed {
            c.trainer.seed = seed
            c.model.seed = seed
        }
        if let epochs { c.limitEpochs(to: epochs) }
        if let batchSize { c.data.batchSize = batchSize }
        if let frames { c.data.frames = frames }
        if let teacher { c.data.teacherModel = teacher }
        if let distillationRatio { c.data.distillationRatio = distillationRatio }
        return c
    }

    func run() throws {
        if trainsEnsemble { return try runEnsemble() }
        let logger = global.makeLogger("train")
        var request = TrainingWorkflow.Request(
            dataPaths: data, configuration: try runConfiguration(), output: output, resume: resume, overwrite: overwrite,
            stop: maxSteps.map { .steps($0) } ?? maxMinutes.map { .duration(.milliseconds(Int64($0 * 60_000))) })
        if distributed { request.communicator = try DistributedLaunch.communicator() }
        let outcome = try TrainingWorkflow.run(request, logger: logger, observers: [ProgressBar(style: plain ? .lines : .automatic)])
        guard request.communicator.isRoot else { return }
        let folder = (output as NSString).expandingTildeInPath
        // The progress display has printed the training summary; say what is where and what next.
        emit("wrote \(RunFolder.file(folder, RunFolder.modelFile)) (\(outcome.savedWeights.description)), "
             + "\(RunFolder.checkpointFile), \(RunFolder.runFile)")
        if !outcome.summary.finished { emit("continue the run with: \(outcome.resumeCommand)") }
    }

    /// `--seeds` / `--folds`: every member into its folder, then the manifest.
    func runEnsemble() throws {
        let logger = global.makeLogger("train")
        // A resumed ensemble keeps the configuration its manifest saved (give the same --seeds/--folds).
        let manifest = RunFolder.file((output as NSString).expandingTildeInPath, EnsembleManifest.fileName)
        let base = resume ? try EnsembleManifest.load(from: URL(fileURLWithPath: manifest)).configuration : try runConfiguration()
        let members = try EnsembleTraining.members(seeds: try seedList(), folds: folds, configuration: base)
        let outcome = try EnsembleTraining.train(
            dataPaths: data, configuration: base, members: members, output: output, resume: resume, overwrite: overwrite,
            stop: maxSteps.map { .steps($0) } ?? maxMinutes.map { .duration(.milliseconds(Int64($0 * 60_000))) },
            logger: logger, observers: [ProgressBar(style: plain ? .lines : .automatic)])
        for (member, result) in zip(outcome.manifest.members, outcome.members) {
            emit("\(member.folder): " + (result.map { "\($0.savedWeights.description)" + ($0.summary.finished ? "" : ", unfinished") } ?? "finished earlier, kept"))
        }
        emit("wrote \(outcome.manifestFile) (\(members.count) members); evaluate with: sensorium evaluate -m \(output) DATA")
    }
}
