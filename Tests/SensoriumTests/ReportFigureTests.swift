import Foundation
import Testing
@testable import Sensorium
@testable import SensoriumTraining
import SensoriumMetrics

/// The report's axes, labels and new figures, the per-neuron measures behind them, and the
/// progress line's sharing of the terminal with log text.
@Suite("ReportFigureTests")
struct ReportFigureTests {
    @Test func tickLabelsAreDistinctAndExact() {
        // A loss axis of a short run (1.3e6 … 2.1e6) once read "2e+06, 2e+06, 1e+06, 1e+06".
        let ticks = SVGChart.ticks(1.3e6, 2.1e6)
        let labels = SVGChart.tickLabels(ticks)
        #expect(Set(labels).count == labels.count, "\(labels)")
        for (label, value) in zip(labels, ticks) { #expect(abs(Double(label)! - value) <= 1e-6 * value, "\(label) for \(value)") }
        #expect(SVGChart.tickLabels([0, 0.25, 0.5, 0.75]) == ["0", "0.25", "0.50", "0.75"])
        #expect(SVGChart.tickLabels([0.001, 0.002, 0.005]) == ["1e-3", "2e-3", "5e-3"])
    }

    @Test func epochTicksAreWholeNumbers() {
        for upper in [1.0, 2, 3, 7, 40, 93] {
            let ticks = SVGChart.ticks(0, upper, integer: true)
            #expect(!ticks.isEmpty && ticks.allSatisfy { $0 == $0.rounded() }, "\(ticks) for 0…\(upper)")
        }
    }

    @Test func aLogAxisWithinOneDecadeHasSeveralTicks() {
        // A constant rate 5e-3 is drawn over [2.5e-3, 1e-2]; a decayed one over [1.1e-4, 6.5e-3].
        #expect(SVGChart.logTicks(2.5e-3, 1e-2).count >= 2)
        #expect(SVGChart.logTicks(1.1e-4, 6.5e-3).count >= 3)
    }

    @Test func rhoSubscriptsAreRealSubscripts() {
        let text = SVGChart.svgText("ρ_st (validation) & final_test_main")
        #expect(text == "ρ<tspan baseline-shift=\"sub\" font-size=\"75%\">st</tspan> (validation) &amp; final_test_main")
        #expect(SVGChart.plainText("ρ_ta") == "ρₜₐ")
        let html = HTMLReport.render(ReportTests.sampleReport())
        #expect(!html.contains(">ρ_st") && !html.contains("ρ_st<"), "a literal ρ_st is drawn")
    }

    @Test func theLegendSitsUnderThePlot() {
        let series: [SVGChart.Series] = [
            .init(label: "all mice", points: [(0, 0.1), (1, 0.2)], color: "#000"),
            .init(label: "mouse-a", points: [(0, 0.1), (1, 0.3)], color: "#111", dashed: true),
        ]
        let svg = SVGChart.lineChart(title: "t", xLabel: "epoch", yLabel: "y", series: series, height: 300)
        // The plot ends at 300 − 44; the legend's text is below the axis label (y > 300 − 44 + 34).
        let ys = svg.components(separatedBy: "<text x=\"").dropFirst().compactMap { part -> Double? in
            guard part.contains(">all mice<") || part.contains(">mouse-a<") else { return nil }
            return Double(part.components(separatedBy: "y=\"")[1].prefix { $0 != "\"" })
        }
        #expect(ys.count == 2 && ys.allSatisfy { $0 > 300 - 44 + 34 }, "\(ys)")
    }

    @Test func aReportWithDiagnosticsDrawsEveryFigure() throws {
        var report = ReportTests.sampleReport()
        let n = 10
        let values = (0..<n).map { Float($0) / 12 }
        func set(_ v: [Float]) -> ScoreSet { ScoreSet(singleTrial: 0.3, toAverage: 0.5, trials: 6, videos: 2, perNeuronSingleTrial: v, perNeuronToAverage: v) }
        report.mice = [MouseEvaluation(mouse: "mouse-a", neurons: n, scores: ["main": set(values), "validation": set(values)],
                                       ceiling: ["main": set(values.map { $0 + 0.1 })])]
        report.evaluationOptions = EvaluationOptions()
        report.validationSetup = .init(tier: .oracle, maxFrames: 150, skipFrames: 50)
        let trace = NeuronTrace(rank: "best", neuron: 9, unitID: 19, correlation: 0.75, trial: 3, tier: .finalTestMain, firstFrame: 50,
                                predicted: [0.1, 0.2, 0.3], recorded: [0.0, 0.4, 0.2], repeatAverage: [0.1, 0.3, 0.2])
        report.diagnostics = [NeuronDiagnostics(mouse: "mouse-a", tiers: [.finalTestMain], skipFrames: 50, maxFrames: 300, videos: 2,
                                                trials: 6, fractionExplainable: values, fractionExplained: values, oracleCorrelation: values,
                                                traces: [trace])]
        report.readoutPositions[0].corticalX = values.map { $0 * 100 }
        report.readoutPositions[0].corticalY = values.map { $0 * 50 }
        report.readoutPositions[0].trueX = report.readoutPositions[0].x
        report.readoutPositions[0].trueY = report.readoutPositions[0].y
        let html = HTMLReport.render(report)
        for id in ["trace-0-0", "model-vs-ceiling-0", "model-vs-oracle-0", "feve-histogram", "cortex-x-0", "cortex-y-0", "truth-x-0", "truth-y-0"] {
            #expect(html.contains("id=\"\(id)\""), "missing \(id)")
        }
        #expect(html.contains("Per mouse") && html.contains("Validation and evaluation measure different things"))
        #expect(html.contains("first 150 frames of each trial") && html.contains("the first 300 frames"))
        #expect(html.contains("Median distance between learnt and true position") && html.contains("mouse-a 0.000"))
        #expect(html.components(separatedBy: "<svg ").count == html.components(separatedBy: "</svg>").count)
        // Round trip with the new parts.
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("report-\(UUID().uuidString).json")
        defer { try? FileManager.default.removeItem(at: url) }
        try report.write(to: url)
        let read = try RunReport.load(from: url)
        #expect(read.diagnostics == report.diagnostics && read.mice == report.mice && read.readoutPositions == report.readoutPositions)
    }

    /// The streamed FEV, FEVE and oracle correlation equal the library's functions on the same conditions.
    @Test func streamedMeasuresMatchTheMetricsLibrary() {
        let neurons = 3
        let g = RandomGenerator(seed: 11)
        // Two videos: 3 repeats of 6 frames (one repeat shorter), and 2 repeats of 4 frames.
        let lengths = [[6, 6, 5], [4, 4]]
        var videos: [[AlignedTrial]] = []
        var trialIndex = 0
        for video in lengths {
            let signal = (0..<(6 * neurons)).map { _ in g.nextNormal() }
            videos.append(video.map { frames in
                let recorded = (0..<(frames * neurons)).map { signal[$0] + 0.5 * g.nextNormal() }
                let predicted = (0..<(frames * neurons)).map { 0.8 * signal[$0] + 0.1 * g.nextNormal() }
                trialIndex += 1
                return AlignedTrial(mouse: "m", tier: .finalTestMain, trial: trialIndex, neurons: neurons, trialFrames: frames + 50,
                                    firstFrame: 50, frames: frames, predicted: predicted, recorded: recorded)
            })
        }
        var sums = RepeatSums(neurons: neurons)
        for v in videos { _ = sums.addVideo(v) }
        let (fev, feve) = sums.explainedVariance()
        let oracle = sums.oracle()

        let trials = videos.flatMap { $0 }
        let responses = trials.map { ResponseMatrix(values: $0.recorded, rows: $0.frames, neurons: neurons) }
        let predictions = trials.map { ResponseMatrix(values: $0.predicted, rows: $0.frames, neurons: neurons) }
        let ids = videos.enumerated().flatMap { i, v in [Int](repeating: i, count: v.count) }
        let conditions = repeatedConditions(responses: responses, predictions: predictions, videoIDs: ids, skipFrames: 0)
        let expected = fractionOfExplainableVarianceExplained(targets: conditions.responses, predictions: conditions.predictions)
        let expectedOracle = oracleCorrelation(conditions.responses)
        for j in 0..<neurons {
            #expect(abs(fev[j] - expected.fractionExplainable[j]) < 1e-4, "FEV of neuron \(j)")
            #expect(abs(feve[j] - expected.fractionExplained[j]) < 1e-4, "FEVE of neuron \(j)")
            #expect(abs(oracle[j] - expectedOracle[j]) < 1e-4, "oracle of neuron \(j)")
        }
    }

    @Test func alignedTracesPickTheirNeuron() {
        let t = AlignedTrial(mouse: "m", tier: .oracle, trial: 0, neurons: 2, trialFrames: 53, firstFrame: 50, frames: 3,
                             predicted: [1, 2, 3, 4, 5, 6], recorded: [6, 5, 4, 3, 2, 1])
        #expect(t.predictedTrace(neuron: 1) == [2, 4, 6] && t.recordedTrace(neuron: 0) == [6, 4, 2])
    }

    /// Text written while a progress line shows goes above it, and the line is redrawn after it.
    @Test func logTextGoesAboveTheProgressLine() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("terminal-\(UUID().uuidString)")
        _ = FileManager.default.createFile(atPath: url.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: url) }
        let handle = try FileHandle(forWritingTo: url)
        TerminalLine.show("epoch 1/3 [██··]", on: handle)
        TerminalLine.write("a log line\n", to: handle)
        TerminalLine.clear()
        try handle.close()
        let text = try String(contentsOf: url, encoding: .utf8)
        #expect(text == "\r\u{1B}[2Kepoch 1/3 [██··]" + "\r\u{1B}[2Ka log line\nepoch 1/3 [██··]" + "\r\u{1B}[2K")
        #expect(!TerminalLine.isShowing)
    }
}
