import Foundation
import Testing
@testable import Sensorium
@testable import SensoriumTraining

@Suite("ReportTests")
struct ReportTests {
    static func sampleHistory() -> [EpochReport] {
        (0..<6).map { (e: Int) -> EpochReport in
            let base = 0.05 * Double(e)
            let mice: [ValidationResult.MouseScore] = [
                .init(mouse: "mouse-a", correlation: base + 0.01, neurons: 10),
                .init(mouse: "mouse-b", correlation: base - 0.01, neurons: 10),
            ]
            let validation = ValidationResult(correlation: base, perMouse: mice, batches: 2)
            let loss: Double? = e == 0 ? nil : 100 / Double(e)
            let lr: Double = e < 4 ? 5e-3 : 1.5e-3
            return EpochReport(epoch: e, trainingLoss: loss, validation: validation, learningRate: lr, bestObjective: base,
                               bestEpoch: e, improved: true, restoredBest: false, decayStep: 0, patienceCounter: 0, seconds: 1.5)
        }
    }

    static func sampleReport() -> RunReport {
        let table = Table1Summary(model: "Factorized <baseline>", mainTrack: TrackScores(singleTrial: 0.31, toAverage: 0.52),
                                  bonusFamilies: [StimulusFamilyScores(family: "gaussian_dots", scores: TrackScores(singleTrial: 0.2, toAverage: 0.4))])
        let ceiling = Table1Summary(model: "Ground truth", mainTrack: TrackScores(singleTrial: 0.4, toAverage: 0.6),
                                    bonusFamilies: [StimulusFamilyScores(family: "gaussian_dots", scores: TrackScores(singleTrial: 0.3, toAverage: 0.5))])
        let correlations = (0..<10).map { Float($0) / 20 }
        return RunReport(title: "Test run", subtitle: "two mice", history: sampleHistory(), table: [table], ceiling: ceiling,
                         neuronCorrelations: [NeuronCorrelations(mouse: "mouse-a", label: "final_test_main ρ_st", values: correlations)],
                         readoutPositions: [ReadoutPositions(mouse: "mouse-a", x: correlations.map { $0 - 0.2 }, y: correlations.map { 0.3 - $0 })],
                         facts: [.init("seed", "42")])
    }

    @Test func htmlHasTheThreeKindsOfPlotsAsInlineSVG() throws {
        let html = HTMLReport.render(Self.sampleReport())
        #expect(html.hasPrefix("<!DOCTYPE html>"))
        #expect(html.contains("</html>"))
        for id in ["training-loss", "validation-correlation", "learning-rate", "correlation-histogram", "readout-positions-0"] {
            #expect(html.contains("<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"\(id)\""), "missing chart \(id)")
        }
        // Balanced SVG elements, data drawn, text escaped, no scripts or external resources.
        #expect(html.components(separatedBy: "<svg ").count == html.components(separatedBy: "</svg>").count)
        #expect(html.contains("<polyline class=\"series\""))
        #expect(html.components(separatedBy: "<rect class=\"bar\"").count > 3)
        #expect(html.components(separatedBy: "<circle class=\"neuron\"").count == 11)
        #expect(html.contains("Factorized &lt;baseline&gt;"))
        #expect(!html.contains("Factorized <baseline>"))
        #expect(!html.contains("<script"))
        #expect(!html.contains("http://") || html.components(separatedBy: "http://").count - 1 == html.components(separatedBy: "http://www.w3.org/2000/svg").count - 1)
        // Scores and fraction of the ceiling.
        #expect(html.contains("0.310") && html.contains("0.520") && html.contains("78%") && html.contains("87%"))
        #expect(html.contains("gaussian_dots"))
    }

    @Test func emptyReportStillRenders() {
        let html = HTMLReport.render(RunReport(title: "Nothing yet"))
        #expect(html.contains("no data"))
        #expect(html.contains("no Gaussian readout positions"))
        #expect(html.components(separatedBy: "<svg ").count == html.components(separatedBy: "</svg>").count)
    }

    @Test func reportRoundTripsThroughJSONWithNonFiniteValues() throws {
        var report = Self.sampleReport()
        report.history[0].bestObjective = -.infinity
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("report-\(UUID().uuidString).json")
        defer { try? FileManager.default.removeItem(at: url) }
        try report.write(to: url)
        let back = try RunReport.load(from: url)
        #expect(back.history == report.history)
        #expect(back.table == report.table)
        #expect(back.readoutPositions == report.readoutPositions)
        #expect(back.facts == report.facts)
    }

    @Test func unreadableReportNamesTheFile() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("bad-\(UUID().uuidString).json")
        defer { try? FileManager.default.removeItem(at: url) }
        try Data("{\"title\": 3}".utf8).write(to: url)
        #expect {
            try RunReport.load(from: url)
        } throws: { error in
            "\(error)".contains(url.path) && "\(error)".contains("run report")
        }
    }

    @Test func chartsHandleDegenerateData() {
        let flat = SVGChart.lineChart(title: "flat", xLabel: "x", yLabel: "y",
                                      series: [.init(label: "a", points: [(0, 1), (1, 1), (2, .nan), (3, 1)], color: "red")])
        #expect(flat.contains("<polyline"))
        #expect(!flat.contains("nan"))
        let log = SVGChart.lineChart(title: "log", xLabel: "x", yLabel: "y",
                                     series: [.init(label: "", points: [(0, 1e-3), (1, 1e-4)], color: "red")], logarithmicY: true)
        #expect(log.contains("<polyline"))
        let histogram = SVGChart.histogram(title: "h", xLabel: "x", groups: [.init(label: "g", values: [0.5, 0.5, 0.5], color: "blue")])
        #expect(histogram.contains("<rect class=\"bar\""))
        #expect(SVGChart.ticks(0, 1).first == 0 && SVGChart.ticks(0, 1).last == 1)
        #expect(SVGChart.colormap(0) == "#440154" && SVGChart.colormap(1) == "#fde725")
    }

    @Test func readoutPositionsComeFromGaussianReadouts() {
        let g = RandomGenerator(seed: 3)
        let readouts = PerMouseReadouts([
            (key: "mouse-a", readout: FullGaussian2d(inputChannels: 4, neuronCount: 5, generator: g)),
            (key: "mouse-b", readout: FullGaussian2d(inputChannels: 4, neuronCount: 7, generator: g)),
        ])
        let positions = ReadoutPositions.extract(from: readouts)
        #expect(positions.map(\.mouse) == ["mouse-a", "mouse-b"])
        #expect(positions.map(\.x.count) == [5, 7])
        #expect(positions.allSatisfy { p in p.x.allSatisfy { abs($0) <= 1 } && p.y.allSatisfy { abs($0) <= 1 } })
    }

    @Test func evaluationMergesIntoTheReportAndRoundTripsThroughJSON() throws {
        let summary = Table1Summary(model: "model", mainTrack: TrackScores(singleTrial: 0.3, toAverage: 0.5), bonusFamilies: [])
        let ceiling = Table1Summary(model: "ceiling", mainTrack: TrackScores(singleTrial: 0.4, toAverage: 0.6), bonusFamilies: [])
        func set(_ st: [Float]) -> ScoreSet {
            ScoreSet(singleTrial: 0, toAverage: 0, trials: 3, videos: 1, perNeuronSingleTrial: st, perNeuronToAverage: st)
        }
        let mice = [
            MouseEvaluation(mouse: "m", neurons: 2, scores: ["bonus": set([0.1, 0.2]), "main": set([0.3, 0.4])], ceiling: nil),
            MouseEvaluation(mouse: "n", neurons: 1, scores: ["validation": set([0.7])], ceiling: nil),
        ]
        let evaluation = EvaluationReport(summary: summary, ceiling: ceiling, groups: ["main": summary.mainTrack!], ceilingGroups: nil,
                                          mice: mice, options: EvaluationOptions(), seconds: 1)
        var report = RunReport(title: "t")
        evaluation.merge(into: &report)
        #expect(report.table == [summary] && report.ceiling == ceiling)
        #expect(report.neuronCorrelations.map(\.mouse) == ["m", "n"])
        #expect(report.neuronCorrelations[0].values == [0.3, 0.4] && report.neuronCorrelations[0].label == "main ρ_st")
        #expect(report.neuronCorrelations[1].values == [0.7])

        let url = FileManager.default.temporaryDirectory.appendingPathComponent("evaluation-\(UUID().uuidString).json")
        defer { try? FileManager.default.removeItem(at: url) }
        try evaluation.writeJSON(to: url)
        #expect(try EvaluationReport.load(from: url) == evaluation)
    }
}
