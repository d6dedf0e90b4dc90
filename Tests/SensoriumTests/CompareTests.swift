import Foundation
import Testing
@testable import Sensorium
import SensoriumMetrics

/// `sensorium compare`: the baseline and other configurations on the same mice, one Table 1.
@Suite struct CompareTests {
    static func tiny(channels: Int, seed: Int) -> String {
        #"""
        {"model": {"seed": \#(seed), "core": {"type": "factorized3d", "hiddenChannels": [\#(channels)], "spatialInputKernel": [5, 5], "temporalInputKernel": 5},
                   "biasInitializationTrials": 2},
         "trainer": {"seed": \#(seed), "earlyStopping": {"maxEpochs": 2}},
         "data": {"batchSize": 2, "frames": 30, "validationBatchSize": 3}}
        """#
    }

    /// A tiny baseline and two tiny configurations on a tiny synthetic mouse: one row each, in
    /// order, with Table 1's columns and the ceiling, and the files (table, JSON, page, each
    /// model's folder) written.
    @Test func tinyComparisonWritesTheTable() throws {
        let folder = try temporaryFolder("compare")
        defer { try? FileManager.default.removeItem(at: folder) }
        let mice = folder.appendingPathComponent("mice").path
        #expect(try SensoriumTool.run(["synth", "--tiny", "--output", mice]).status == 0)
        var files: [String] = []
        for (name, channels, seed) in [("base", 4, 1), ("wide", 6, 2), ("narrow", 3, 3)] {
            let url = folder.appendingPathComponent("\(name).json")
            try Data(Self.tiny(channels: channels, seed: seed).utf8).write(to: url)
            files.append(url.path)
        }
        let output = folder.appendingPathComponent("out").path
        let run = try SensoriumTool.run(["compare", mice, "--baseline", files[0], "--config", files[1], "-c", files[2],
                                         "--max-minutes", "2", "-o", output, "--plain"])
        #expect(run.status == 0, "\(run.all)")

        let data = try Data(contentsOf: URL(fileURLWithPath: RunFolder.file(output, CompareWorkflow.jsonFile)))
        let results = try ReportJSON.decoder().decode(CompareWorkflow.Results.self, from: data)
        #expect(results.rows.map(\.name) == ["base", "wide", "narrow"])
        #expect(!results.synthesized && results.mice == ["synthetic7-0-Video"] && results.budgetMinutes == 2)
        let ceiling = try #require(results.ceiling)
        for row in results.rows {
            let r = row.results
            #expect(r.epochs == 2 && r.main.singleTrial.isFinite && r.bonus.toAverage.isFinite, "\(row.name): \(r)")
            #expect(r.main.ceilingSingleTrial == ceiling.mainTrack?.singleTrial)
            #expect(abs(r.main.fractionOfCeilingToAverage - r.main.toAverage / r.main.ceilingToAverage) < 1e-12)
            #expect((r.trainCPUSeconds ?? 0) > 0 && (r.evalCPUSeconds ?? 0) > 0)
            for file in [RunFolder.resultsFile, RunFolder.evaluationFile, RunFolder.reportFile] {
                #expect(FileManager.default.fileExists(atPath: RunFolder.file(RunFolder.file(output, row.folder), file)), "\(row.folder)/\(file)")
            }
        }
        // Different configurations give different models (the rows are not one run repeated).
        #expect(Set(results.rows.map(\.results.parameters)).count == 3)

        let markdown = try String(contentsOfFile: RunFolder.file(output, CompareWorkflow.markdownFile), encoding: .utf8)
        #expect(markdown == CompareWorkflow.markdown(results))
        let lines = markdown.split(separator: "\n").map(String.init)
        #expect(lines.contains("| model | main ρ_st | main ρ_ta | bonus ρ_st | bonus ρ_ta |"))
        let first = try #require(results.rows.first?.results)
        let row = try #require(lines.first { $0.hasPrefix("| base | ") })
        #expect(row.contains(String(format: "%.3f (%.0f %%)", first.main.singleTrial, 100 * first.main.fractionOfCeilingSingleTrial)), "\(row)")
        #expect(lines.contains { $0.hasPrefix("| *ground-truth ceiling* | ") && $0.contains(String(format: "%.3f", ceiling.mainTrack!.toAverage)) })
        #expect(run.stdout.contains(markdown), "\(run.stdout)")

        let html = try String(contentsOfFile: RunFolder.file(output, CompareWorkflow.htmlFile), encoding: .utf8)
        for name in ["base", "wide", "narrow", "base / ceiling"] { #expect(html.contains("<td>\(name)</td>"), "\(name)") }
        #expect(html.contains("Main track") && html.contains("Bonus track"))
    }

    /// The Markdown table of hand-made results: the models in order, then the ceiling; no
    /// percentages without a ceiling.
    @Test func markdownLayout() throws {
        func track(_ st: Double, _ ta: Double, ceiling: TrackScores?) -> DemoWorkflow.TrackResult {
            DemoWorkflow.TrackResult(TrackScores(singleTrial: st, toAverage: ta), ceiling)
        }
        func results(_ name: String, _ st: Double, ceiling: Table1Summary?) -> CompareWorkflow.Row {
            let r = DemoWorkflow.Results(
                main: track(st, 2 * st, ceiling: ceiling?.mainTrack), bonus: track(st / 2, st, ceiling: ceiling?.bonusTrack),
                trainSeconds: 10, evalSeconds: 1, synthSeconds: 0, epochs: 3, steps: 30, trainingFinished: true,
                bestValidationSingleTrial: st, bonusFamilies: [:], mice: ["m"], neurons: 5, parameters: 1234, model: name,
                evaluatedTiers: [], trainCPUSeconds: 19, evalCPUSeconds: 2)
            return CompareWorkflow.Row(name: name, model: "x core, y readout", folder: "models/\(name)", results: r)
        }
        let ceiling = Table1Summary(model: "ceiling", mainTrack: TrackScores(singleTrial: 0.4, toAverage: 0.8),
                                    bonusTrack: TrackScores(singleTrial: 0.2, toAverage: 0.4))
        var compared = CompareWorkflow.Results(rows: [results("demo", 0.2, ceiling: ceiling), results("other", 0.1, ceiling: ceiling)],
                                               ceiling: ceiling, budgetMinutes: 5, mice: ["m"], synthesized: true, synthSeconds: 1,
                                               seconds: 30, cpuSeconds: 50)
        var lines = CompareWorkflow.markdown(compared).split(separator: "\n").map(String.init)
        #expect(lines.contains("| demo | 0.200 (50 %) | 0.400 (50 %) | 0.100 (50 %) | 0.200 (50 %) |"))
        #expect(lines.contains("| other | 0.100 (25 %) | 0.200 (25 %) | 0.050 (25 %) | 0.100 (25 %) |"))
        #expect(lines.contains("| *ground-truth ceiling* | 0.400 | 0.800 | 0.200 | 0.400 |"))
        #expect(lines.firstIndex { $0.hasPrefix("| demo |") }! < lines.firstIndex { $0.hasPrefix("| other |") }!)
        #expect(lines.contains("| demo | x core, y readout | 1,234 | 3 | 30 | 19 | 10 | 2 | 1 | 0.200 |"))
        compared.ceiling = nil
        compared.rows = [results("demo", 0.2, ceiling: nil)]
        lines = CompareWorkflow.markdown(compared).split(separator: "\n").map(String.init)
        #expect(lines.contains("| demo | 0.200 | 0.400 | 0.100 | 0.200 |"))
        #expect(!lines.contains { $0.contains("ceiling") })
        let report = CompareWorkflow.report(compared)
        #expect(report.table.map(\.model) == ["demo"] && report.ceiling == nil)
    }

    @Test func refusesNothingToCompare() throws {
        let run = try SensoriumTool.run(["compare", "--no-baseline"])
        #expect(run.status != 0 && run.stderr.contains("--no-baseline needs at least one --config"), "\(run.all)")
        let missing = try SensoriumTool.run(["compare", "--config", "/nonexistent/model.json", "-o", "/tmp/never"])
        #expect(missing.status != 0 && missing.stderr.contains("/nonexistent/model.json"), "\(missing.all)")
    }
}
