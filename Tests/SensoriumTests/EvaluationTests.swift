import Testing
import Foundation
@testable import Sensorium
@testable import SensoriumTraining
import SensoriumTestSupport

/// A "model" that predicts the recorded responses themselves, optionally only the last `frames` frames.
final class ResponseEchoModel: Module, TrainableModel {
    @Transient var lastFrames: Int?
    @Transient var dropFirst: Int
    init(lastFrames: Int? = nil, dropFirst: Int = 0) {
        self.lastFrames = lastFrames
        self.dropFirst = dropFirst
        super.init()
    }
    func forward(_ batch: MouseBatch) -> Tensor {
        let y = batch.targetTensor()
        let start = lastFrames.map { batch.frames - $0 } ?? dropFirst
        return start == 0 ? y : y.sliced(axis: 1, range: start..<batch.frames)
    }
}

@Suite struct EvaluationTests {
    /// Pearson correlation with population σ plus 1e-8 (the reference `corr`), in Double.
    static func correlation(_ x: [Double], _ y: [Double]) -> Double {
        let n = Double(x.count)
        let mx = x.reduce(0, +) / n, my = y.reduce(0, +) / n
        var sxy = 0.0, sxx = 0.0, syy = 0.0
        for i in x.indices {
            sxy += (x[i] - mx) * (y[i] - my)
            sxx += (x[i] - mx) * (x[i] - mx)
            syy += (y[i] - my) * (y[i] - my)
        }
        let c = (sxy / n) / (((sxx / n).squareRoot() + 1e-8) * ((syy / n).squareRoot() + 1e-8))
        return c.isNaN ? 0 : c
    }

    /// The model's prediction of a whole trial, built by hand from `readTrial` (not through loaders):
    /// (length', neurons) time-major.
    static func handPrediction(_ model: VideoModel, _ trial: MouseTrial, mouse: String) -> (values: [Float], frames: Int) {
        let (l, h, w) = (trial.length, trial.height, trial.width)
        var video = [Float](repeating: 0, count: 3 * l * h * w)
        for f in 0..<l {
            for p in 0..<(h * w) {
                video[f * h * w + p] = trial.video[f * h * w + p]
                video[(l + f) * h * w + p] = trial.behavior[f]
                video[(2 * l + f) * h * w + p] = trial.behavior[l + f]
            }
        }
        let y = withNoGrad {
            model(video: Tensor(video, shape: [1, 3, l, h, w]), pupilCenter: Tensor(trial.pupilCenter, shape: [1, 2, l]), mouse: mouse)
        }
        return (y.scalars, y.shape[1])
    }

    @Test func scoresMatchHandComputedCorrelations() throws {
        let dataset = try TinyMouse.dataset()
        let model = try VideoModel(configuration: TinyMouse.modelConfiguration(seed: 21), datasets: [dataset])
        try model.initializeFromData([dataset])
        model.eval()
        let report = try Evaluation.evaluate(model, datasets: [dataset], modelName: "tiny")
        let mouse = try #require(report.mice.first)
        let n = dataset.neuronCount, skip = 50
        let hashes = try NPY.read(dataset.layout.trialInfoFile("condition_hashes")).strings()

        func handScores(_ tiers: [MouseTier]) throws -> (st: [Double], ta: [Double]) {
            var responses: [[Double]] = Array(repeating: [], count: n), predictions = responses
            var videos: [String: (r: [Double], p: [Double], count: Int, frames: Int)] = [:]
            var videoOrder: [String] = []
            for tier in tiers {
                for index in dataset.trials(in: tier) {
                    let trial = try dataset.readTrial(index)
                    let (y, frames) = Self.handPrediction(model, trial, mouse: dataset.name)
                    let kept = trial.length - skip
                    var r = [Double](repeating: 0, count: kept * n), p = r
                    for f in 0..<kept {
                        for j in 0..<n {
                            r[f * n + j] = Double(trial.responses[(skip + f) * n + j])
                            p[f * n + j] = Double(y[(frames - kept + f) * n + j])
                            responses[j].append(r[f * n + j])
                            predictions[j].append(p[f * n + j])
                        }
                    }
                    let key = hashes[index]
                    if var v = videos[key] {
                        #expect(v.frames == kept, "repeats of one clip have one length")
                        for i in r.indices { v.r[i] += r[i]; v.p[i] += p[i] }
                        v.count += 1
                        videos[key] = v
                    } else {
                        videos[key] = (r, p, 1, kept)
                        videoOrder.append(key)
                    }
                }
            }
            var averageR: [[Double]] = Array(repeating: [], count: n), averageP = averageR
            for key in videoOrder {
                let v = videos[key]!
                for f in 0..<v.frames {
                    for j in 0..<n {
                        averageR[j].append(v.r[f * n + j] / Double(v.count))
                        averageP[j].append(v.p[f * n + j] / Double(v.count))
                    }
                }
            }
            return ((0..<n).map { Self.correlation(responses[$0], predictions[$0]) },
                    (0..<n).map { Self.correlation(averageR[$0], averageP[$0]) })
        }

        for (group, tiers) in [("final_test_main", [MouseTier.finalTestMain]), ("main", [.liveTestMain, .finalTestMain]),
                               ("bonus", [.liveTestBonus, .finalTestBonus]), ("validation", [.oracle])] {
            let hand = try handScores(tiers)
            let ours = try #require(mouse.scores[group], "group \(group)")
            let st = try #require(ours.perNeuronSingleTrial), ta = try #require(ours.perNeuronToAverage)
            for j in 0..<n {
                #expect(abs(Double(st[j]) - hand.st[j]) < 1e-4, "\(group) ρ_st neuron \(j): \(st[j]) vs \(hand.st[j])")
                #expect(abs(Double(ta[j]) - hand.ta[j]) < 1e-4, "\(group) ρ_ta neuron \(j): \(ta[j]) vs \(hand.ta[j])")
            }
            let meanST = hand.st.reduce(0, +) / Double(n), meanTA = hand.ta.reduce(0, +) / Double(n)
            #expect(abs(ours.singleTrial - meanST) < 1e-5)
            #expect(abs(ours.toAverage - meanTA) < 1e-5)
            #expect(ours.trials == tiers.reduce(0) { $0 + dataset.trials(in: $1).count })
            // One mouse: the neuron-weighted summary is the mouse's mean.
            // ("bonus" itself is the mean over the OOD families; the pooled score is kept as "bonus_pooled".)
            #expect(abs(report.groups[group == "bonus" ? "bonus_pooled" : group]!.singleTrial - meanST) < 1e-5)
        }
        #expect(report.summary.mainTrack == report.groups["main"])
        #expect(report.summary.bonusTrack == report.groups["bonus"])
        #expect(report.summary.model == "tiny")
    }

    @Test func bonusTrackIsScoredPerStimulusFamily() throws {
        let dataset = try TinyMouse.dataset()
        let report = try Evaluation.evaluate(ResponseEchoModel(), datasets: [dataset], options: EvaluationOptions(perNeuron: false))
        let types = try #require(try Evaluation.stimulusTypes(of: dataset))
        var expected = Set<String>()
        for tier in [MouseTier.liveTestBonus, .finalTestBonus] {
            for t in dataset.trials(in: tier) { expected.insert(Evaluation.familyDisplayName(types[t])) }
        }
        #expect(expected.count == 3)
        #expect(Set(report.summary.bonusFamilies.map(\.family)) == expected)
        #expect(expected.isSubset(of: Set(Table1Summary.oodFamilies)))
        // Predicting the responses themselves scores 1 everywhere (up to the eps of the reference).
        for (name, scores) in report.groups {
            #expect(scores.singleTrial > 0.999, "\(name)")
            #expect(scores.toAverage > 0.999, "\(name)")
        }
        #expect(report.mice[0].scores["main"]?.perNeuronSingleTrial == nil)
        // The model's scores are not the ceiling's: the ceiling scores the noise-free rates.
        let ceiling = try #require(report.ceiling)
        #expect(ceiling.mainTrack!.singleTrial < 0.99)
        #expect(ceiling.bonusFamilies.count == 3)
        // The bonus track is ranked by the mean over the families (the competition's rule), for the
        // model and for the ceiling alike.
        for row in [report.summary, ceiling] {
            let families = row.bonusFamilies.map(\.scores)
            let bonus = try #require(row.bonusTrack)
            #expect(abs(bonus.singleTrial - families.map(\.singleTrial).reduce(0, +) / 3) < 1e-12)
            #expect(abs(bonus.toAverage - families.map(\.toAverage).reduce(0, +) / 3) < 1e-12)
        }
        #expect(report.groups["bonus_pooled"] != nil)
    }

    @Test func groundTruthCeilingMatchesTheSyntheticNoiseCeiling() throws {
        let dataset = try TinyMouse.dataset()
        let report = try Evaluation.evaluate(ResponseEchoModel(), datasets: [dataset])
        let ceiling = try #require(report.mice[0].ceiling)
        for tier in [MouseTier.oracle, .liveTestMain, .finalTestMain, .finalTestBonus] {
            let reference = try SyntheticGroundTruth.noiseCeiling(of: dataset, tier: tier)
            let ours = try #require(ceiling[tier.rawValue])
            #expect(abs(ours.singleTrial - reference.singleTrial) < 1e-5, "\(tier) ρ_st \(ours.singleTrial) vs \(reference.singleTrial)")
            #expect(abs(ours.toAverage - reference.toAverage!) < 1e-5, "\(tier) ρ_ta \(ours.toAverage) vs \(reference.toAverage!)")
        }
        #expect(report.ceilingGroups?["main"] != nil)
        let text = report.formatted()
        #expect(text.contains("Ground-truth ceiling"))
        #expect(text.contains("Fraction of the ceiling"))
        // The report survives JSON.
        let decoded = try JSONDecoder().decode(EvaluationReport.self, from: JSONEncoder().encode(report))
        #expect(decoded == report)
        // results.json: the demo's keys.
        let results = report.results(trainSeconds: 12.5)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(results.jsonString().utf8)) as? [String: Any])
        for key in ["main", "bonus", "train_seconds", "eval_seconds", "bonus_families", "validation"] {
            #expect(object[key] != nil, "results.json lacks \(key)")
        }
        let main = try #require(object["main"] as? [String: Double])
        #expect(Set(main.keys) == ["single_trial", "to_average", "ceiling_single_trial", "ceiling_to_average"])
        #expect(abs(main["ceiling_single_trial"]! - report.ceilingGroups!["main"]!.singleTrial) < 1e-12)
        #expect(results.bonusFamilies.count == 3)
    }

    @Test func ensemblesAreEvaluatedLikeAnyModel() throws {
        let dataset = try TinyMouse.dataset()
        let model = try VideoModel(configuration: TinyMouse.modelConfiguration(seed: 31), datasets: [dataset])
        try model.initializeFromData([dataset])
        let options = EvaluationOptions(mainTiers: [.finalTestMain], bonusTiers: [], validationTier: nil, groundTruthCeiling: false)
        let single = try Evaluation.evaluate(model, datasets: [dataset], options: options)
        let ensemble = try Evaluation.evaluate(Ensemble([model, model]), datasets: [dataset], options: options)
        #expect(abs(single.summary.mainTrack!.singleTrial - ensemble.summary.mainTrack!.singleTrial) < 1e-6)
        #expect(abs(single.summary.mainTrack!.toAverage - ensemble.summary.mainTrack!.toAverage) < 1e-6)
        #expect(single.summary.bonusTrack == nil && single.ceiling == nil)
    }

    @Test func aModelPredictingTooFewFramesIsAnError() throws {
        let dataset = try TinyMouse.dataset()
        #expect(throws: SensoriumError.self) { try Evaluation.evaluate(ResponseEchoModel(lastFrames: 20), datasets: [dataset]) }
        #expect(throws: SensoriumError.self) {
            try Predictions.forEach(ResponseEchoModel(lastFrames: 20), datasets: [dataset]) { _ in }
        }
        // Predicting exactly the scored frames is enough.
        let options = EvaluationOptions(validationTier: nil, groundTruthCeiling: false)
        let report = try Evaluation.evaluate(ResponseEchoModel(dropFirst: 50), datasets: [dataset], options: options)
        #expect(report.groups["main"]!.singleTrial > 0.999)
    }

    @Test func predictionFilesRoundTrip() throws {
        let dataset = try TinyMouse.dataset()
        let model = try VideoModel(configuration: TinyMouse.modelConfiguration(seed: 4), datasets: [dataset])
        try model.initializeFromData([dataset])
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sensorium-predictions-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let npy = dir.appendingPathComponent("npy"), h5 = dir.appendingPathComponent("predictions.h5")
        let summary = try Predictions.write(model, datasets: [dataset], npyFolder: npy, hdf5File: h5)
        let testTrials = Predictions.testTiers.flatMap { dataset.trials(in: $0) }
        #expect(summary.trialsPerMouse == [dataset.name: testTrials.count])

        var inMemory: [TrialPrediction] = []
        try Predictions.forEach(model, datasets: [dataset]) { inMemory.append($0) }
        let fromNPY = try Predictions.readNPY(folder: npy)
        let fromHDF5 = try Predictions.readHDF5(file: h5)
        #expect(fromNPY == fromHDF5)
        #expect(fromNPY == [MousePredictions(mouse: dataset.name, unitIDs: dataset.unitIDs, trials: inMemory)])
        for p in inMemory {
            #expect(p.neurons == dataset.neuronCount)
            #expect(p.frames == (try dataset.trialLength(p.trial)) - 50)
            #expect(Predictions.testTiers.contains(p.tier))
        }
        // Values: the last (frames − 50) outputs of the hand-built forward pass, as (neurons, frames).
        let first = try #require(inMemory.first)
        model.eval()
        let (y, frames) = Self.handPrediction(model, try dataset.readTrial(first.trial), mouse: dataset.name)
        let n = dataset.neuronCount
        for j in 0..<n {
            for f in 0..<first.frames {
                #expect(abs(first.values[j * first.frames + f] - y[(frames - first.frames + f) * n + j]) < 1e-5)
            }
        }
        // An echo model's predictions are the responses after the first 50 frames.
        var echoed: [TrialPrediction] = []
        try Predictions.forEach(ResponseEchoModel(), datasets: [dataset], tiers: [.finalTestMain]) { echoed.append($0) }
        let trial = try dataset.readTrial(echoed[0].trial)
        #expect(echoed[0].tensor.shape == [n, trial.length - 50])
        #expect(echoed[0].values[3 * echoed[0].frames + 2] == trial.responses[(50 + 2) * n + 3])
    }
}
