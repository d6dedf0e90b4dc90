import ArgumentParser
import Foundation
import Sensorium

/// `sensorium inspect`: checks mouse folders and prints what it finds.
struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Check mouse folders and print their content and every problem found.",
        discussion: """
        Exits with 0 when every folder is sound, 1 when a problem (warning or error) was found. \
        Notes (e.g. all-zero test responses, as in the public test tiers) are printed but do not fail.
        """
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: "Mouse folders, or folders holding mouse folders.")
    var paths: [String]

    @Option(parsing: .unconditional, help: "Trials to read fully per mouse (default: all; 0 reads metadata only).")
    var scan: Int?

    @Option(parsing: .unconditional, help: "Report trials shorter than this many frames.")
    var clipFrames: Int = 80

    @Flag(help: "Exit with 1 only for errors (warnings are printed but do not fail).")
    var errorsOnly = false

    func validate() throws {
        if paths.isEmpty { throw ValidationError("give at least one mouse folder") }
        if let scan, scan < 0 { throw ValidationError("--scan must be 0 or more; got \(scan)") }
        if clipFrames < 1 { throw ValidationError("--clip-frames must be at least 1; got \(clipFrames)") }
    }

    func run() throws {
        _ = global.makeLogger("inspect")
        let result = InspectionWorkflow.run(paths: paths, scanTrials: scan, clipFrames: clipFrames)
        emit(result.text)
        let failed = errorsOnly ? result.errorCount > 0 : result.problemCount > 0
        if failed { throw ExitCode(1) }
    }
}
