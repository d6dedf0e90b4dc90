import ArgumentParser
import Foundation
import Sensorium

/// `sensorium submit`: the competition's submission files for the live and final test tiers.
struct SubmitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "submit",
        abstract: "Write submission files: predictions of the live and final test tiers of both tracks.",
        discussion: """
        Predicts every trial of live_test_main, live_test_bonus, final_test_main and final_test_bonus \
        (whole trials, as the reference kit), keeps the scored frames (frames − 50) and checks each \
        prediction's shape (neurons × (frames − 50)) against its trial before writing anything. Writes \
        <output>/submission.h5 (layout in Documentation/Submission.md: per tier, track and mouse the \
        trial indices, neuron ids and predictions; attributes name the frames skipped, the models \
        and the SDK version) and the competition's parquet files. Several --model options, or an \
        ensemble folder, submit the mean of the members' predictions.
        """
    )

    @OptionGroup var global: GlobalOptions

    @OptionGroup var inputs: TrainedModelInputs

    @Option(name: .shortAndLong, help: "Output folder.")
    var output: String

    @Option(parsing: .unconditional, help: "Frames skipped at the start of every trial (the competition scored from frame 50).")
    var skipFrames: Int = 50

    @Option(parsing: .unconditional, help: "Cut trials to at most this many frames before predicting (0: whole trials, as the reference kit).")
    var maxFrames: Int = 0

    @Flag(help: "Multiply each neuron's predictions by its response precision 1/std (DwiseNeuro's post-scaling, for models trained on raw responses).")
    var precisionScale = false

    @Flag(help: "Write only the HDF5 file, not the parquet files.")
    var noParquet = false

    func validate() throws {
        if skipFrames < 0 { throw ValidationError("--skip-frames must be 0 or more; got \(skipFrames)") }
        if maxFrames < 0 { throw ValidationError("--max-frames must be 0 or more; got \(maxFrames)") }
        if maxFrames > 0 && maxFrames <= skipFrames {
            throw ValidationError("--max-frames (\(maxFrames)) must exceed --skip-frames (\(skipFrames))")
        }
    }

    func run() throws {
        let logger = global.makeLogger("submit")
        let (models, datasets) = try inputs.load()
        logger.info("predicting the test tiers of \(datasets.count) mice with \(models.summary)")
        let options = SubmissionWorkflow.Options(skipFrames: skipFrames, maxFrames: maxFrames == 0 ? nil : maxFrames,
                                                 precisionScaling: precisionScale, parquet: !noParquet)
        let summary = try EvaluationWorkflow.submit(models, datasets: datasets, options: options, output: output)
        for part in SubmissionWorkflow.Part.all {
            let counts = summary.trials[part] ?? [:]
            let text = counts.keys.sorted().map { "\($0) \(counts[$0]!)" }.joined(separator: ", ")
            emit("\(part.tier) \(part.track): \(counts.values.reduce(0, +)) trials" + (text.isEmpty ? "" : " (\(text))"))
        }
        emit("wrote \(summary.hdf5File)")
        for part in SubmissionWorkflow.Part.all { if let file = summary.parquetFiles[part] { emit("wrote \(file)") } }
    }
}
