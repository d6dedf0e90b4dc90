import ArgumentParser
import Foundation
import Sensorium

/// Which test tiers to use, shared by `evaluate` and `predict`.
extension EvaluationWorkflow.TierSelection: ExpressibleByArgument {}

/// `sensorium evaluate`: scores a trained model in the Table 1 layout.
struct EvaluateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Score a trained model on the test tiers and print the Table 1 layout.",
        discussion: """
        Prints the main track (natural movies) and bonus track (out-of-distribution stimuli) \
        single-trial correlation ρ_st and correlation to average ρ_ta, the bonus track per stimulus \
        family, and, for synthetic mice, the ground-truth ceiling; then FEVE, the oracle correlation and \
        the fraction of the oracle per mouse. --model takes a run folder, a checkpoint, an ensemble \
        (the folder `train --seeds/--folds` wrote, or its ensemble.json), or is given several times: \
        several models form an ensemble (their predictions averaged), scored beside each member. \
        evaluation.json and results.json are written into --output, or the run or ensemble folder.
        """
    )

    @OptionGroup var global: GlobalOptions

    @OptionGroup var inputs: TrainedModelInputs

    @Option(help: "Test tiers: final, live or all (live and final pooled).")
    var tiers: EvaluationWorkflow.TierSelection = .all

    @Option(name: .shortAndLong, help: "Folder for evaluation.json and results.json (default: the run or ensemble folder given as --model).")
    var output: String?

    @Option(parsing: .unconditional, help: "Frames skipped at the start of every trial.")
    var skipFrames: Int = 50

    @Option(parsing: .unconditional, help: "Score at most this many frames per trial (0: whole trials).")
    var maxFrames: Int = 300

    @Flag(help: "Do not score the ground-truth rates of synthetic mice.")
    var noCeiling = false

    @Flag(help: "Multiply each neuron's predictions by its response precision 1/std before scoring (DwiseNeuro's post-scaling, for models trained on raw responses; per-neuron correlations do not change).")
    var precisionScale = false

    @Option(help: "Model name in the table (default: Model, or Ensemble of N).")
    var name: String?

    @Option(help: "Stimulus families of the bonus-track trials, for folders without meta/trials/types.npy: a JSON map {mouse: {trial index: family}} or a CSV table mouse,trial,family. Without labels the bonus score is pooled (and the output says so).")
    var families: String?

    func validate() throws {
        if skipFrames < 0 { throw ValidationError("--skip-frames must be 0 or more; got \(skipFrames)") }
        if maxFrames < 0 { throw ValidationError("--max-frames must be 0 or more; got \(maxFrames)") }
        if maxFrames > 0 && maxFrames <= skipFrames {
            throw ValidationError("--max-frames (\(maxFrames)) must exceed --skip-frames (\(skipFrames))")
        }
    }

    func run() throws {
        let logger = global.makeLogger("evaluate")
        let familyMap = try families.map(StimulusFamilyMap.load(from:))   // a bad map fails before the models load
        let (models, datasets) = try inputs.load()
        logger.info("evaluating \(models.summary) on \(datasets.count) mice")
        let options = EvaluationOptions(skipFrames: skipFrames, maxFrames: maxFrames == 0 ? nil : maxFrames,
                                        mainTiers: tiers.mainTiers, bonusTiers: tiers.bonusTiers,
                                        groundTruthCeiling: !noCeiling, precisionScaling: precisionScale,
                                        stimulusFamilies: familyMap)
        let folder = output ?? models.defaultOutput
        let evaluation = try EvaluationWorkflow.evaluate(models: models, datasets: datasets, modelName: name, options: options,
                                                         output: folder)
        emit(evaluation.formatted())
        if let folder {
            let path = (folder as NSString).expandingTildeInPath
            emit("\nwrote \(RunFolder.file(path, RunFolder.evaluationFile)) and \(RunFolder.resultsFile)")
        }
    }
}
