import ArgumentParser
import Foundation
import Sensorium

/// The `sensorium` tool's root command, as a library so that a user's own executable can
/// register their components (cores, readouts, …) and then run the same commands:
/// ```swift
/// import Sensorium
/// import SensoriumCommandLine
/// CoreKind.registry.register(MyCore.Configuration.self)
/// SensoriumCommand.main()          // `train --config` now knows "myCore"
/// ```
public struct SensoriumCommand: ParsableCommand {
    public init() {}

    public static let configuration = CommandConfiguration(
        commandName: "sensorium",
        abstract: "Train and evaluate neural predictive models of mouse visual cortex (SENSORIUM 2023).",
        discussion: """
        Data folders are mouse folders in the SENSORIUM 2023 layout (data/, meta/), or folders holding \
        several of them. `sensorium demo` runs the whole pipeline on synthetic mice.
        """,
        version: SensoriumVersion.current,
        subcommands: [
            DemoCommand.self, SynthCommand.self, InspectCommand.self, TrainCommand.self,
            EvaluateCommand.self, PredictCommand.self, ReportCommand.self, ImportCommand.self, PresetsCommand.self,
            SubmitCommand.self, CompareCommand.self,
        ]
    )
}

/// Options every command understands.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    @Flag(name: .shortAndLong, help: "Log debug messages (same as --log-level debug).")
    var verbose = false

    func validate() throws {
        guard Logger.Level(rawValue: logLevel.lowercased()) != nil else {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical; got '\(logLevel)'")
        }
    }

    /// Sets up swift-log (standard error) once and returns a logger for the command.
    func makeLogger(_ label: String) -> Logger {
        let level = verbose ? Logger.Level.debug : (Logger.Level(rawValue: logLevel.lowercased()) ?? .info)
        LoggingBootstrap.run(level: level)
        var logger = Logger(label: "sensorium.\(label)")
        logger.logLevel = level
        return logger
    }
}

/// Bootstraps the logging system exactly once per process.
enum LoggingBootstrap {
    nonisolated(unsafe) private static var done = false
    private static let lock = NSLock()

    static func run(level: Logger.Level) {
        lock.lock()
        defer { lock.unlock() }
        guard !done else { return }
        done = true
        LoggingSystem.bootstrap { label in
            var handler = TerminalLogHandler(label: label)
            handler.logLevel = level
            return handler
        }
    }
}

/// Log lines on standard error, written through ``/SensoriumTraining/TerminalLine`` so that they
/// go above a progress line instead of into it: `2026-12-06T08:01:25Z info train: message key=value`.
struct TerminalLogHandler: LogHandler {
    let label: String
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]

    init(label: String) {
        // "sensorium.train" → "train"
        self.label = label.hasPrefix("sensorium.") ? String(label.dropFirst("sensorium.".count)) : label
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var all = metadata
        if let extra = event.metadata { all.merge(extra) { $1 } }
        let details = all.isEmpty ? "" : " " + all.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        let time = ISO8601DateFormatter().string(from: Date())
        TerminalLine.write("\(time) \(event.level) \(label): \(event.message)\(details)\n", to: .standardError)
    }
}

/// A failure the tool reports as one message and a non-zero exit.
struct CommandFailure: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = message }
}

/// Writes a line to standard output at once (unbuffered, like the log and progress messages on
/// standard error, so that the two keep their order when they go to the same pipe or file).
func emit(_ line: String = "") {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

/// Writes a line to standard error.
func printError(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}
