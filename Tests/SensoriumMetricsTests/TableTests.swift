import Foundation
import Testing
import SensoriumTensor
@testable import SensoriumMetrics

@Suite struct Table1Tests {
    @Test func bonusTrackIsTheMeanOverFamilies() throws {
        let families = [
            StimulusFamilyScores(family: "drifting Gabors", scores: TrackScores(singleTrial: 0.2, toAverage: 0.4)),
            StimulusFamilyScores(family: "flashing Gaussian dots", scores: TrackScores(singleTrial: 0.1, toAverage: 0.3)),
        ]
        let row = Table1Summary(model: "Ours", mainTrack: TrackScores(singleTrial: 0.25, toAverage: 0.5), bonusFamilies: families)
        #expect(abs(row.bonusTrack!.singleTrial - 0.15) < 1e-12)
        #expect(abs(row.bonusTrack!.toAverage - 0.35) < 1e-12)

        let data = try JSONEncoder().encode(row)
        #expect(try JSONDecoder().decode(Table1Summary.self, from: data) == row)

        let text = row.formatted()
        #expect(text.contains("Ours"))
        #expect(text.contains("0.250") && text.contains("0.500") && text.contains("0.150") && text.contains("0.350"))
        #expect(text.contains("flashing Gaussian dots") && text.contains("0.300"))
    }

    @Test func paperTableFormats() {
        let text = Table1Summary.formatTable(Table1Summary.paperTable1 + [Table1Summary(model: "Main only",
            mainTrack: TrackScores(singleTrial: -0.0004, toAverage: 1), bonusTrack: nil)])
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines.count == 2 + 7)
        #expect(lines[2].hasPrefix("DwiseNeuro"))
        #expect(lines[2].contains("0.291") && lines[2].contains("0.542") && lines[2].contains("0.221") && lines[2].contains("0.429"))
        #expect(lines[8].contains("0.000") && !lines[8].contains("-0.000") && lines[8].contains("1.000") && lines[8].contains("–"))
        #expect(Set(lines.map(\.count)).count == 1, "\n\(text)")  // aligned columns
    }
}

@Suite struct TrackEvaluationTests {
    @Test func evaluateWeightsNeuronsOverMice() {
        let g = RandomGenerator(seed: 9)
        func trials(_ count: Int, _ neurons: Int) -> ([Tensor], [Tensor]) {
            let r = (0..<count).map { _ in Tensor.randomNormal([8, neurons], generator: g) }
            let o = r.map { $0 + Tensor.randomNormal([8, neurons], generator: g) }
            return (r, o)
        }
        let (r1, o1) = trials(4, 3), (r2, o2) = trials(2, 5)
        let ids1 = [0, 1, 0, 1], ids2 = [7, 7]
        let scores = TrackScores.evaluate([(r1, o1, ids1), (r2, o2, ids2)], skipFrames: 2)
        let st = neuronWeightedMean([singleTrialCorrelation(responses: r1, predictions: o1, skipFrames: 2),
                                     singleTrialCorrelation(responses: r2, predictions: o2, skipFrames: 2)])
        let ta = neuronWeightedMean([correlationToAverage(responses: r1, predictions: o1, videoIDs: ids1, skipFrames: 2),
                                     correlationToAverage(responses: r2, predictions: o2, videoIDs: ids2, skipFrames: 2)])
        #expect(scores == TrackScores(singleTrial: st, toAverage: ta))
    }
}
