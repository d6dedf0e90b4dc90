import Foundation
import Testing
@testable import Sensorium

/// Runs the built `sensorium` executable (next to the test bundle in `.build/<configuration>`).
enum SensoriumTool {
    static var executable: URL {
        var url = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        // The test runner is `.build/<config>/<Package>PackageTests.xctest` (a file on Linux, a
        // bundle on macOS); the tool is built next to it.
        while url.pathComponents.count > 1 && !url.lastPathComponent.hasSuffix(".xctest") {
            url.deleteLastPathComponent()
        }
        return url.deletingLastPathComponent().appendingPathComponent("sensorium")
    }

    struct Output {
        var status: Int32
        var stdout: String
        var stderr: String
        var all: String { stdout + stderr }
    }

    static func run(_ arguments: [String]) throws -> Output {
        let path = executable.path
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw CommandFailure("the sensorium tool is not built at \(path): run `swift build` first")
        }
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        // Read both pipes before waiting so that a chatty process cannot block on a full pipe.
        nonisolated(unsafe) var errData = Data()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async {
            errData = err.fileHandleForReading.readDataToEndOfFile()
            group.leave()
        }
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        process.waitUntilExit()
        return Output(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                      stderr: String(decoding: errData, as: UTF8.self))
    }

    struct CommandFailure: Error, CustomStringConvertible {
        let description: String
        init(_ d: String) { description = d }
    }
}

func temporaryFolder(_ name: String) throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("sensorium-cli-\(name)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

@Suite("CLITests", .serialized)
struct CLITests {
    @Test func helpListsEverySubcommand() throws {
        let result = try SensoriumTool.run(["--help"])
        #expect(result.status == 0)
        for command in ["synth", "inspect", "report"] {
            #expect(result.stdout.contains(command), "help does not mention \(command)")
        }
    }

    @Test func badArgumentsGiveAMessageAndANonZeroExit() throws {
        let cases: [([String], String)] = [
            (["synth", "--output", "/tmp/x", "--mice", "0"], "--mice must be at least 1"),
            (["synth", "--output", "/tmp/x", "--neurons", "many"], "neurons"),
            (["synth"], "--output"),
            (["synth", "--output", "/tmp/x", "--event-rate", "-1"], "--event-rate"),
            (["inspect"], "path"),
            (["inspect", "/tmp/x", "--scan", "-2"], "--scan"),
            (["frobnicate"], "frobnicate"),
            (["--log-level", "loud", "synth", "--output", "/tmp/x"], "--log-level"),
            (["report", "/nonexistent/run"], "/nonexistent/run"),
        ]
        for (arguments, expected) in cases {
            let result = try SensoriumTool.run(arguments)
            #expect(result.status != 0, "\(arguments) exited with 0")
            #expect(result.stderr.contains(expected), "\(arguments): stderr \(result.stderr)")
            #expect(!result.all.contains("Stack dump") && !result.all.contains("Fatal error"), "\(arguments) crashed: \(result.all)")
        }
    }

    @Test func synthThenInspectRoundTrip() throws {
        let folder = try temporaryFolder("synth")
        defer { try? FileManager.default.removeItem(at: folder) }
        let synth = try SensoriumTool.run(["synth", "--tiny", "--output", folder.path, "--neurons", "10", "--seed", "5"])
        #expect(synth.status == 0, "\(synth.all)")
        #expect(synth.stdout.contains("synthetic5-0-Video: 10 neurons"))
        #expect(synth.stdout.contains("ceiling final_test_main"))
        let mouse = folder.appendingPathComponent("synthetic5-0-Video").path
        let dataset = try MouseDataset(path: mouse)
        #expect(dataset.neuronCount == 10)

        // Sound (the tiny mouse's trials are shorter than 80 frames: ask for 40-frame clips).
        let inspect = try SensoriumTool.run(["inspect", folder.path, "--clip-frames", "40"])
        #expect(inspect.status == 0, "\(inspect.all)")
        #expect(inspect.stdout.contains("1 mouse folder(s) sound"))
        // Writing again without --overwrite fails cleanly; with it, succeeds.
        let again = try SensoriumTool.run(["synth", "--tiny", "--output", folder.path, "--neurons", "10", "--seed", "5"])
        #expect(again.status != 0 && again.stderr.contains("existing folder"))

        // Break it: remove a response file; inspect reports it and exits with 1.
        try FileManager.default.removeItem(atPath: mouse + "/data/responses/3.npy")
        let broken = try SensoriumTool.run(["inspect", mouse, "--clip-frames", "40"])
        #expect(broken.status == 1)
        #expect(broken.stdout.contains("error:") && broken.stdout.contains("data/responses") && broken.stdout.contains("3.npy"))
        let missing = try SensoriumTool.run(["inspect", folder.appendingPathComponent("nothing-here").path])
        #expect(missing.status == 1 && missing.stdout.contains("nothing-here"))
    }

    @Test func reportFromARunFolder() throws {
        let folder = try temporaryFolder("report")
        defer { try? FileManager.default.removeItem(at: folder) }
        try ReportTests.sampleReport().write(to: folder.appendingPathComponent(RunFolder.runFile))
        let result = try SensoriumTool.run(["report", folder.path])
        #expect(result.status == 0, "\(result.all)")
        let html = try String(contentsOf: folder.appendingPathComponent(RunFolder.reportFile), encoding: .utf8)
        #expect(html.contains("<svg") && html.contains("Test run"))
        // A JSON file that is not a report: clear message, exit 1.
        let bad = folder.appendingPathComponent("bad.json")
        try Data("[1, 2]".utf8).write(to: bad)
        let failure = try SensoriumTool.run(["report", bad.path])
        #expect(failure.status == 1 && failure.stderr.contains("bad.json"))
    }

    @Test func mouseFolderResolution() throws {
        let folder = try temporaryFolder("resolve")
        defer { try? FileManager.default.removeItem(at: folder) }
        for name in ["b-mouse", "a-mouse"] {
            try FileManager.default.createDirectory(at: folder.appendingPathComponent(name).appendingPathComponent("data"),
                                                    withIntermediateDirectories: true)
        }
        let resolved = try MouseFolders.resolve([folder.path])
        #expect(resolved.map { ($0 as NSString).lastPathComponent } == ["a-mouse", "b-mouse"])
        #expect(try MouseFolders.resolve([folder.appendingPathComponent("a-mouse").path]).count == 1)
        #expect(throws: MouseDataError.self) { try MouseFolders.resolve([folder.path, folder.appendingPathComponent("a-mouse").path]) }
        #expect(throws: MouseDataError.self) { try MouseFolders.resolve([folder.appendingPathComponent("none").path]) }
        #expect(throws: MouseDataError.self) { try MouseFolders.resolve([]) }
    }
}
