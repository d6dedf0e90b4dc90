import ArgumentParser
import Foundation
import Sensorium

/// The defaults `synth` shows in its help: those of `sensorium demo`.
private let d = DemoWorkflow.defaultSyntheticConfiguration

/// `sensorium synth`: writes synthetic mice in the SENSORIUM 2023 layout.
struct SynthCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "synth",
        abstract: "Write synthetic mice (SENSORIUM 2023 layout, with ground-truth rates).",
        discussion: """
        Each mouse is a folder synthetic<seed>-<index>-Video in the output folder, with every tier \
        (train, oracle, live and final tests of both tracks) and the noise-free rates in data/rates. \
        Without size options the defaults are those of `sensorium demo`.
        """
    )

    @OptionGroup var global: GlobalOptions

    @Option(name: .shortAndLong, help: "Folder to write the mouse folders into (created if needed).")
    var output: String

    @Option(parsing: .unconditional, help: "Number of mice (default: \(d.mice)).")
    var mice: Int?
    @Option(parsing: .unconditional, help: "Neurons per mouse (default: \(d.neurons)).")
    var neurons: Int?
    @Option(parsing: .unconditional, help: "Seed of the whole dataset (default: \(d.seed)).")
    var seed: UInt64?
    @Option(parsing: .unconditional, help: "Unique training clips per mouse (default: \(d.trainTrials)).")
    var trainTrials: Int?
    @Option(parsing: .unconditional, help: "Validation (oracle) clips per mouse, each shown --repeats times (default: \(d.oracleClips)).")
    var oracleClips: Int?
    @Option(parsing: .unconditional, help: "Repeats of every oracle and test clip (default: \(d.repeats)).")
    var repeats: Int?
    @Option(parsing: .unconditional, help: "Clips of each test tier (live/final, main/bonus per family) (default: \(d.finalTestMainClips)).")
    var testClips: Int?
    @Option(parsing: .unconditional, help: "Nominal trial length in frames at 30 Hz (default: \(d.frames)).")
    var frames: Int?
    @Option(parsing: .unconditional, help: "Frame height in pixels (default: \(d.height)).")
    var height: Int?
    @Option(parsing: .unconditional, help: "Frame width in pixels (default: \(d.width)).")
    var width: Int?
    @Option(parsing: .unconditional, help: "Mean calcium events per neuron and frame, sets the noise ceiling (default: \(d.meanEventRate)).")
    var eventRate: Double?
    @Option(help: "Tiers the per-frame statistics are computed from: comma-separated tier names, or 'all' (default: train).")
    var statisticsTiers: String?
    @Flag(help: "Start from the tiny test configuration (1 mouse, 24 neurons, 18×32 frames) instead of the default.")
    var tiny = false
    @Flag(help: "Replace mouse folders that already exist.")
    var overwrite = false

    func validate() throws {
        func positive(_ value: Int?, _ name: String, minimum: Int = 1) throws {
            if let value, value < minimum { throw ValidationError("--\(name) must be at least \(minimum); got \(value)") }
        }
        try positive(mice, "mice")
        try positive(neurons, "neurons")
        try positive(trainTrials, "train-trials", minimum: 2)
        try positive(oracleClips, "oracle-clips", minimum: 0)
        try positive(repeats, "repeats")
        try positive(testClips, "test-clips", minimum: 0)
        try positive(frames, "frames", minimum: 20)
        try positive(height, "height", minimum: 8)
        try positive(width, "width", minimum: 8)
        if let eventRate, !(eventRate > 0 && eventRate.isFinite) {
            throw ValidationError("--event-rate must be a positive number; got \(eventRate)")
        }
        if output.isEmpty { throw ValidationError("--output must name a folder") }
        _ = try parsedStatisticsTiers()
    }

    /// The tiers of `--statistics-tiers`, nil when not given.
    func parsedStatisticsTiers() throws -> [MouseTier]? {
        guard let statisticsTiers else { return nil }
        if statisticsTiers == "all" { return MouseTier.allCases.filter { $0 != .none } }
        let names = statisticsTiers.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        let tiers = names.compactMap(MouseTier.init(rawValue:))
        guard !names.isEmpty, tiers.count == names.count else {
            throw ValidationError("--statistics-tiers must be 'all' or tier names among \(MouseTier.allCases.map(\.rawValue).joined(separator: ", ")); got '\(statisticsTiers)'")
        }
        return tiers
    }

    /// The configuration the options describe.
    func synthConfiguration() -> SyntheticMouseConfiguration {
        var c = tiny ? SyntheticMouseConfiguration.tiny : DemoWorkflow.defaultSyntheticConfiguration
        if let mice { c.mice = mice }
        if let neurons { c.neurons = neurons }
        if let seed { c.seed = seed }
        if let trainTrials { c.trainTrials = trainTrials }
        if let oracleClips { c.oracleClips = oracleClips }
        if let repeats { c.repeats = repeats }
        if let testClips {
            c.liveTestMainClips = testClips
            c.liveTestBonusClips = testClips
            c.finalTestMainClips = testClips
            c.finalTestBonusClipsPerFamily = testClips
        }
        if let frames {
            c.frames = frames
            c.lengthJitter = min(c.lengthJitter, max(0, frames / 2 - 1))
        }
        if let height { c.height = height }
        if let width { c.width = width }
        if let eventRate { c.meanEventRate = eventRate }
        if let tiers = try? parsedStatisticsTiers() { c.statisticsTiers = tiers }
        return c
    }

    func run() throws {
        let logger = global.makeLogger("synth")
        let configuration = synthConfiguration()
        let directory = (output as NSString).expandingTildeInPath
        logger.info("writing \(configuration.mice) synthetic mice into \(directory)")
        let start = ContinuousClock.now
        var summaries: [SyntheticMouseSummary] = []
        for index in 0..<configuration.mice {
            let summary = try SyntheticMouseGenerator.generateMouse(index: index, configuration: configuration, into: directory,
                                                                     overwrite: overwrite)
            summaries.append(summary)
            emit(SyntheticSummaryText.describe(summary))
        }
        emit("wrote \(summaries.count) mice to \(directory) in \(SyntheticSummaryText.seconds(ContinuousClock.now - start))")
    }
}
