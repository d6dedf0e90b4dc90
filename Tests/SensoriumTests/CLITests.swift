import Foundation
import Testing
@testable import Sensorium
@testable import SensoriumTraining

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
        for command in ["demo", "synth", "inspect", "train", "evaluate", "predict", "report"] {
            #expect(result.stdout.contains(command), "help does not mention \(command)")
        }
    }

    /// Every option with a default says what it is in `--help`.
    @Test func helpShowsDefaults() throws {
        func help(_ command: String) throws -> String {
            // Help wraps lines; compare with single spaces.
            try SensoriumTool.run([command, "--help"]).stdout.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        }
        let train = try help("train")
        for text in ["else 42)", "else 8)", "else 80)", "else 200;", "default: no limit"] {
            #expect(train.contains(text), "train --help misses '\(text)'")
        }
        let demo = try help("demo")
        let minutes = "\(Double(DemoWorkflow.defaultTrainingBudget.components.seconds) / 60)"
        #expect(demo.contains("--max-minutes") && demo.contains("(default: \(minutes))") && !demo.contains("--budget"), "\(demo)")
        let synth = try help("synth")
        let d = DemoWorkflow.defaultSyntheticConfiguration
        for text in ["(default: \(d.mice))", "(default: \(d.neurons))", "(default: \(d.trainTrials))", "(default: \(d.frames))"] {
            #expect(synth.contains(text), "synth --help misses '\(text)'")
        }
        let report = try help("report")
        #expect(report.contains("a folder (report.html is written into it"))
    }

    @Test func badArgumentsGiveAMessageAndANonZeroExit() throws {
        let cases: [([String], String)] = [
            (["synth", "--output", "/tmp/x", "--mice", "0"], "--mice must be at least 1"),
            (["synth", "--output", "/tmp/x", "--neurons", "many"], "neurons"),
            (["synth"], "--output"),
            (["synth", "--output", "/tmp/x", "--event-rate", "-1"], "--event-rate"),
            // Negative numbers are values, not flags: the message is about the value.
            (["synth", "--output", "/tmp/x", "--neurons", "-5"], "--neurons must be at least 1; got -5"),
            (["train", "/tmp/x", "-o", "/tmp/y", "--batch-size", "-1"], "--batch-size must be at least 1; got -1"),
            (["demo", "--budget", "-1"], "--budget must be a positive number"),
            (["inspect"], "path"),
            (["inspect", "/tmp/x", "--scan", "-2"], "--scan"),
            (["frobnicate"], "frobnicate"),
            (["--log-level", "loud", "synth", "--output", "/tmp/x"], "--log-level"),
            (["report", "/nonexistent/run"], "/nonexistent/run"),
            (["train", "/nonexistent/mice", "-o", "/tmp/x"], "/nonexistent/mice"),
            (["train", "/tmp", "-o", "/tmp/x", "--core", "transformer"], "--core must be one of"),
            (["train", "/tmp", "-o", "/tmp/x", "--readout", "linear"], "--readout must be one of"),
            (["train", "/tmp", "-o", "/tmp/x", "--epochs", "0"], "--epochs"),
            (["train", "/tmp", "-o", "/tmp/x", "--max-minutes", "-3"], "--max-minutes"),
            (["train", "/tmp", "-o", "/tmp/x", "--resume", "--seed", "3"], "--seed cannot be used with --resume"),
            (["train", "/tmp", "-o", "/tmp/x", "--resume", "--overwrite"], "exclude each other"),
            (["evaluate", "-m", "/nonexistent/run", "/tmp"], "/nonexistent/run"),
            (["evaluate", "-m", "/tmp", "/tmp", "--tiers", "yesterday"], "tiers"),
            (["evaluate", "-m", "/tmp", "/tmp", "--max-frames", "40"], "--max-frames"),
            (["predict", "-m", "/tmp", "/tmp", "-o", "/tmp/x", "--format", "parquet"], "format"),
            (["demo", "--budget", "0"], "--budget"),
            (["demo", "--config", "/nonexistent/demo.json"], "/nonexistent/demo.json"),
            (["synth", "--output", "/tmp/x", "--statistics-tiers", "train,later"], "--statistics-tiers"),
        ]
        for (arguments, expected) in cases {
            let result = try SensoriumTool.run(arguments)
            #expect(result.status != 0, "\(arguments) exited with 0")
            #expect(result.stderr.contains(expected), "\(arguments): stderr \(result.stderr)")
            #expect(!result.all.contains("Stack dump") && !result.all.contains("Fatal error"), "\(arguments) crashed: \(result.all)")
        }
    }

    /// `demo --quick` (a tiny mouse at the demo's frame size, the demo's model) runs end to end.
    @Test func demoQuickRunsEndToEnd() throws {
        let dir = try temporaryFolder("demo-quick")
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = try SensoriumTool.run(["demo", "--quick", "--epochs", "1", "--plain", "--output", dir.path])
        #expect(out.status == 0, "\(out.all)")
        #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("results.json").path), "\(out.all)")
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

    static let tinyConfiguration = #"""
    {"model": {"core": {"type": "factorized3d", "hiddenChannels": [4], "spatialInputKernel": [5, 5], "temporalInputKernel": 5},
               "biasInitializationTrials": 2},
     "trainer": {"earlyStopping": {"maxEpochs": 1}},
     "data": {"batchSize": 2, "frames": 30, "validationBatchSize": 3}}
    """#

    /// synth → train → evaluate → predict → report on a tiny mouse, then a resumed run that
    /// matches the uninterrupted one.
    @Test func trainEvaluatePredictReportOnATinyMouse() throws {
        let folder = try temporaryFolder("pipeline")
        defer { try? FileManager.default.removeItem(at: folder) }
        let mice = folder.appendingPathComponent("mice").path
        #expect(try SensoriumTool.run(["synth", "--tiny", "--output", mice]).status == 0)
        let config = folder.appendingPathComponent("config.json")
        try Data(Self.tinyConfiguration.utf8).write(to: config)
        let run = folder.appendingPathComponent("run").path

        let train = try SensoriumTool.run(["train", mice, "-o", run, "-c", config.path, "--plain"])
        #expect(train.status == 0, "\(train.all)")
        // One summary (the progress display's, on standard error), then what was written where.
        #expect(train.stderr.components(separatedBy: "best validation correlation").count == 2, "\(train.all)")
        #expect(train.stdout.contains("model.h5 (") && !train.stdout.contains("best validation correlation"))
        #expect(train.stderr.contains("model: factorized3d core, gaussian readout:"), "\(train.stderr)")
        for file in [RunFolder.checkpointFile, RunFolder.modelFile, RunFolder.runFile, TrainingWorkflow.configurationFile] {
            #expect(FileManager.default.fileExists(atPath: RunFolder.file(run, file)), "missing \(file)")
        }
        let saved = try TrainingRunConfiguration.load(from: URL(fileURLWithPath: RunFolder.file(run, TrainingWorkflow.configurationFile)))
        #expect(saved.data.frames == 30 && saved.trainer.earlyStopping.maxEpochs == 1)
        // A second run into the same folder is refused without --resume/--overwrite.
        let again = try SensoriumTool.run(["train", mice, "-o", run, "-c", config.path])
        #expect(again.status == 1 && again.stderr.contains("--resume"))
        // --resume on the finished run says so and changes nothing.
        let modelDate = try FileManager.default.attributesOfItem(atPath: RunFolder.file(run, RunFolder.modelFile))[.modificationDate] as? Date
        let finished = try SensoriumTool.run(["train", mice, "-o", run, "--resume"])
        #expect(finished.status == 1 && finished.stderr.contains("found a finished one"), "\(finished.all)")
        #expect(try FileManager.default.attributesOfItem(atPath: RunFolder.file(run, RunFolder.modelFile))[.modificationDate] as? Date == modelDate)
        // A run that fails (here: a configuration the data cannot serve) leaves no folder behind.
        let failed = folder.appendingPathComponent("failed").path
        let bad = try SensoriumTool.run(["train", mice, "-o", failed, "-c", config.path, "--frames", "100000"])
        #expect(bad.status != 0 && !FileManager.default.fileExists(atPath: failed), "\(bad.all)")

        let evaluate = try SensoriumTool.run(["evaluate", "-m", run, mice, "--name", "Tiny"])
        #expect(evaluate.status == 0, "\(evaluate.all)")
        #expect(evaluate.stdout.contains("Main track") && evaluate.stdout.contains("Ground-truth ceiling"))
        let evaluation = try EvaluationReport.load(from: URL(fileURLWithPath: RunFolder.file(run, RunFolder.evaluationFile)))
        #expect(evaluation.summary.model == "Tiny" && evaluation.summary.mainTrack != nil && evaluation.ceiling != nil)
        let diagnostics = try #require(evaluation.diagnostics?.first)
        #expect(diagnostics.fractionExplained.count == 24 && diagnostics.oracleCorrelation.count == 24 && diagnostics.videos > 0)
        #expect(diagnostics.traces.map(\.rank) == ["best", "median", "worst"])
        #expect(diagnostics.traces.allSatisfy { $0.predicted.count == $0.recorded.count && !$0.recorded.isEmpty && $0.firstFrame == 50 })

        let predictions = folder.appendingPathComponent("predictions").path
        let predict = try SensoriumTool.run(["predict", "-m", run, mice, "-o", predictions, "--tiers", "final"])
        #expect(predict.status == 0, "\(predict.all)")
        let dataset = try MouseDataset(path: RunFolder.file(mice, "synthetic7-0-Video"))
        let finalTrials = dataset.trials(in: .finalTestMain) + dataset.trials(in: .finalTestBonus)
        let read = [try Predictions.readNPY(folder: URL(fileURLWithPath: predictions)),
                    try Predictions.readHDF5(file: URL(fileURLWithPath: RunFolder.file(predictions, "predictions.h5")))]
        for mice in read {
            #expect(mice.count == 1)
            #expect(mice.first?.unitIDs == dataset.unitIDs)
            #expect(Set(mice.first?.trials.map(\.trial) ?? []) == Set(finalTrials))
            for p in mice.first?.trials ?? [] {
                let length = try dataset.trialLength(p.trial)
                #expect(p.neurons == 24 && p.frames == length - 50 && p.values.count == 24 * p.frames)
            }
        }

        let report = try SensoriumTool.run(["report", run])
        #expect(report.status == 0, "\(report.all)")
        let html = try String(contentsOfFile: RunFolder.file(run, RunFolder.reportFile), encoding: .utf8)
        for id in ["training-loss", "validation-correlation", "correlation-histogram", "readout-positions-0"] {
            #expect(html.contains("id=\"\(id)\""), "report misses \(id)")
        }
        #expect(html.contains("Ground-truth ceiling"))
        for id in ["trace-0-0", "model-vs-ceiling-0", "model-vs-oracle-0", "feve-histogram", "cortex-x-0", "truth-x-0"] {
            #expect(html.contains("id=\"\(id)\""), "report misses \(id)")
        }
        #expect(html.contains("Validation and evaluation measure different things"))
        // -o names a folder (report.html inside), or a file ending in .html.
        let elsewhere = folder.appendingPathComponent("elsewhere").path
        #expect(try SensoriumTool.run(["report", run, "-o", elsewhere]).status == 0)
        #expect(FileManager.default.fileExists(atPath: RunFolder.file(elsewhere, RunFolder.reportFile)))
        #expect(try SensoriumTool.run(["report", run, "-o", RunFolder.file(elsewhere, "page.html")]).status == 0)
        #expect(FileManager.default.fileExists(atPath: RunFolder.file(elsewhere, "page.html")))
        // A folder without a run names the run folders inside it.
        let noRun = try SensoriumTool.run(["report", folder.path])
        #expect(noRun.status != 0 && noRun.stderr.contains(run), "\(noRun.all)")

        // Interrupted right after the first evaluation, then resumed: the same weights as the
        // uninterrupted run above.
        let resumed = folder.appendingPathComponent("resumed").path
        let first = try SensoriumTool.run(["train", mice, "-o", resumed, "-c", config.path, "--max-minutes", "0.00001", "--plain"])
        #expect(first.status == 0 && first.stdout.contains("sensorium train \(mice) -o \(resumed) --resume"), "\(first.all)")
        #expect(first.stdout.contains("UNTRAINED") && first.stderr.contains("untrained initial weights"), "\(first.all)")
        let second = try SensoriumTool.run(["train", mice, "-o", resumed, "--resume", "--plain"])
        #expect(second.status == 0, "\(second.all)")
        let a = try Checkpoint.modelState(from: URL(fileURLWithPath: RunFolder.file(run, RunFolder.modelFile)))
        let b = try Checkpoint.modelState(from: URL(fileURLWithPath: RunFolder.file(resumed, RunFolder.modelFile)))
        #expect(a.keys.sorted() == b.keys.sorted())
        for key in a.keys.sorted() {
            #expect(a[key]!.scalars == b[key]!.scalars, "\(key) differs after resuming")
        }
    }

    @Test func trainingConfigurationFileErrorsNameTheFileAndKey() throws {
        let folder = try temporaryFolder("config")
        defer { try? FileManager.default.removeItem(at: folder) }
        let cases: [(String, String)] = [
            (#"{"modle": {}}"#, "unknown key 'modle'"),
            (#"{"data": {"batchSize": 0}}"#, "batchSize"),
            (#"{"model": {"core": {"type": "mlp"}}}"#, "unknown core type"),
            // A section without "type" is laid over the default component, and the error says so.
            (#"{"model": {"core": {"heads": 4}}}"#, #"has no "type", so it was read as the default type 'factorized3d'"#),
            (#"{"trainer": {"optimizer": {"type": "adamW", "learningRate": "fast"}}}"#, "trainer"),
            ("[1, 2]", "expected a JSON object"),
            ("{", "does not parse"),
        ]
        for (index, (json, expected)) in cases.enumerated() {
            let url = folder.appendingPathComponent("c\(index).json")
            try Data(json.utf8).write(to: url)
            #expect {
                try TrainingRunConfiguration.load(from: url)
            } throws: { error in
                "\(error)".contains(url.path) && "\(error)".contains(expected)
            }
        }
        // Through the tool: a clear message, exit 1.
        let url = folder.appendingPathComponent("c0.json")
        let result = try SensoriumTool.run(["train", folder.path, "-o", folder.appendingPathComponent("run").path, "-c", url.path])
        #expect(result.status == 1 && result.stderr.contains("unknown key 'modle'"), "\(result.all)")
        // Partial configurations keep the defaults.
        let partial = try TrainingRunConfiguration.fromJSON(#"{"data": {"frames": 40}, "trainer": {"seed": 9}}"#)
        #expect(partial.data.frames == 40 && partial.data.batchSize == 8 && partial.trainer.seed == 9)
        #expect(partial.model == .factorizedBaseline)
        // The written configuration reads back as itself.
        let back = try TrainingRunConfiguration.fromJSON(partial.jsonString())
        #expect(back == partial)
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
        #expect(throws: DataError.self) { try MouseFolders.resolve([folder.path, folder.appendingPathComponent("a-mouse").path]) }
        #expect(throws: DataError.self) { try MouseFolders.resolve([folder.appendingPathComponent("none").path]) }
        #expect(throws: DataError.self) { try MouseFolders.resolve([]) }
    }
}
