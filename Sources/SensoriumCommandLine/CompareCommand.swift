import ArgumentParser
import Foundation
import Sensorium

/// `sensorium compare`: the baseline and other configurations, same mice, same time, one table.
struct CompareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "Train the factorised baseline and other model configurations on the same mice for the same time each, and compare their test scores in the layout of Table 1.",
        discussion: """
        Without data, writes the demo's synthetic mice into <output>/data (reused when already \
        complete). Every model is trained and evaluated into <output>/models/<name> (run folder, \
        results.json, evaluation.json, report.html); the table (ρ_st and ρ_ta of the main and bonus \
        tracks, with the fraction of the ground-truth ceiling on synthetic mice) is printed and \
        written as <output>/comparison.md, comparison.json and comparison.html. \
        Example: sensorium compare --config dwiseneuroSmall --config dynamicV1FMSmall --max-minutes 5
        """
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: "Mouse folders, or folders holding mouse folders (default: the demo's synthetic mice, written into <output>/data).")
    var data: [String] = []

    @Option(name: .shortAndLong, help: "A model to compare with the baseline: a JSON configuration file or a preset name (`sensorium presets` lists them); repeat for several.")
    var config: [String] = []

    @Option(help: "The first row's configuration, a file or preset name (default: the `demo` preset, the factorised baseline at a size for two cores).")
    var baseline: String = RunPreset.demo.name

    @Flag(help: "Compare the given configurations only, without the baseline row.")
    var noBaseline = false

    @Option(name: .shortAndLong, help: "Output folder.")
    var output: String = "compare-output"

    @Option(parsing: .unconditional, help: "Stop each model's training after this many minutes, keeping its best weights so far (opening the data and building the model count; evaluation does not).")
    var maxMinutes: Double = 5

    @Option(parsing: .unconditional, help: "At most this many training epochs for every model (default: each configuration's own).")
    var epochs: Int?

    @Option(parsing: .unconditional, help: "Seed of every model's trainer and initial weights (default: each configuration's own).")
    var seed: UInt64?

    @Flag(help: "Plain progress lines even on a terminal.")
    var plain = false

    func validate() throws {
        if !(maxMinutes > 0 && maxMinutes.isFinite) { throw ValidationError("--max-minutes must be a positive number of minutes; got \(maxMinutes)") }
        if let epochs, epochs < 1 { throw ValidationError("--epochs must be at least 1; got \(epochs)") }
        if noBaseline && config.isEmpty { throw ValidationError("--no-baseline needs at least one --config") }
    }

    func run() throws {
        let logger = global.makeLogger("compare")
        var entries = try (noBaseline ? [] : [baseline]).map(CompareWorkflow.Entry.load)
        entries += try config.map(CompareWorkflow.Entry.load)
        for index in entries.indices {
            if let epochs { entries[index].configuration.limitEpochs(to: epochs) }
            if let seed {
                entries[index].configuration.trainer.seed = seed
                entries[index].configuration.model.seed = seed
            }
        }
        let style: ProgressBar.Style = plain ? .lines : .automatic
        let results = try CompareWorkflow.run(
            dataPaths: data, entries: entries, output: output, budget: .milliseconds(Int64(maxMinutes * 60_000)),
            logger: logger, observers: { [ProgressBar(style: style)] }, progress: { emit("==> " + $0) })
        emit("")
        emit(CompareWorkflow.markdown(results))
        let folder = (output as NSString).expandingTildeInPath
        emit("wrote " + [CompareWorkflow.markdownFile, CompareWorkflow.jsonFile, CompareWorkflow.htmlFile]
            .map { RunFolder.file(folder, $0) }.joined(separator: ", "))
    }
}
