import ArgumentParser
import Foundation
import Sensorium

/// `sensorium predict`: per-trial predictions of the test tiers.
struct PredictCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "predict",
        abstract: "Write per-trial predictions of the test tiers to NPY files and/or HDF5.",
        discussion: """
        Each trial's prediction is (neurons, frames − skip) float32 in unit-id order. NPY: \
        <output>/<mouse>/unit_ids.npy and <output>/<mouse>/<tier>/<trial>.npy. HDF5: \
        <output>/predictions.h5 with /<mouse>/unit_ids and /<mouse>/<tier>/<trial>. Several --model \
        options, or an ensemble folder, predict the mean of the members' predictions.
        """
    )

    enum Format: String, CaseIterable, ExpressibleByArgument {
        case npy, hdf5, both
    }

    @OptionGroup var global: GlobalOptions

    @OptionGroup var inputs: TrainedModelInputs

    @Option(name: .shortAndLong, help: "Output folder.")
    var output: String

    @Option(help: "File format: npy, hdf5 or both.")
    var format: Format = .both

    @Option(help: "Test tiers: final, live or all.")
    var tiers: EvaluationWorkflow.TierSelection = .all

    @Option(parsing: .unconditional, help: "Frames skipped at the start of every trial.")
    var skipFrames: Int = 50

    @Option(parsing: .unconditional, help: "Predict at most this many frames per trial (0: whole trials).")
    var maxFrames: Int = 300

    @Flag(help: "Multiply each neuron's predictions by its response precision 1/std (DwiseNeuro's post-scaling, for models trained on raw responses).")
    var precisionScale = false

    func validate() throws {
        if skipFrames < 0 { throw ValidationError("--skip-frames must be 0 or more; got \(skipFrames)") }
        if maxFrames < 0 { throw ValidationError("--max-frames must be 0 or more; got \(maxFrames)") }
    }

    func run() throws {
        let logger = global.makeLogger("predict")
        let (models, datasets) = try inputs.load()
        let folder = (output as NSString).expandingTildeInPath
        try RunFolder.create(folder)
        let npy = format != .hdf5 ? URL(fileURLWithPath: folder) : nil
        let hdf5 = format != .npy ? URL(fileURLWithPath: RunFolder.file(folder, "predictions.h5")) : nil
        logger.info("predicting \(tiers.rawValue) test tiers of \(datasets.count) mice with \(models.summary)")
        let summary = try Predictions.write(models.model, datasets: datasets, npyFolder: npy, hdf5File: hdf5,
                                            tiers: tiers.mainTiers + tiers.bonusTiers, skipFrames: skipFrames,
                                            maxFrames: maxFrames == 0 ? nil : maxFrames, precisionScaling: precisionScale)
        for mouse in summary.trialsPerMouse.keys.sorted() {
            emit("\(mouse): \(summary.trialsPerMouse[mouse]!) trials")
        }
        if let npy { emit("wrote NPY files under \(npy.path)") }
        if let hdf5 { emit("wrote \(hdf5.path)") }
    }
}
