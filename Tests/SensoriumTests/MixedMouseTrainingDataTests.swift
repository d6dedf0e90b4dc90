import Foundation
import Testing
@testable import Sensorium
import SensoriumTraining
import SensoriumTestSupport

/// DwiseNeuro's mixed-mouse batches (`MixedMouseTrainingData`).
@Suite struct MixedMouseTrainingDataTests {
    /// Two synthetic mice of one frame size and different neuron counts, and one of another frame size.
    static let mice: (same: [String], otherSize: String) = {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("sensorium-mixed-\(UUID().uuidString)").path
        let a = SyntheticMouseConfiguration.tiny
        var b = SyntheticMouseConfiguration.tiny
        b.seed = 8
        b.neurons = 10
        var c = SyntheticMouseConfiguration.tiny
        c.seed = 9
        c.height = 20
        let pa = try! SyntheticMouseGenerator.generate(configuration: a, into: root + "/a")[0].path
        let pb = try! SyntheticMouseGenerator.generate(configuration: b, into: root + "/b")[0].path
        let pc = try! SyntheticMouseGenerator.generate(configuration: c, into: root + "/c")[0].path
        return ([pa, pb], pc)
    }()

    static func datasets(_ options: MouseDataOptions = MouseDataOptions(pupilCenterAsChannels: true)) throws -> [MouseDataset] {
        try mice.same.map { try MouseDataset(path: $0, options: options) }
    }

    static let mode = ClipMode.strided(frames: 4, step: 2, position: .last)

    func source(_ datasets: [MouseDataset], samplesPerMouse: Int = 7, batchSize: Int = 4, cutMix: Double = 0,
                prefetch: Int = 0) throws -> MixedMouseTrainingData {
        try MixedMouseTrainingData(datasets: datasets, batchSize: batchSize, mode: Self.mode, samplesPerMouse: samplesPerMouse,
                                   cutMixProbability: cutMix, validationBatchSize: 2, prefetch: prefetch)
    }

    func epoch(_ data: MixedMouseTrainingData, seed: UInt64, from first: Int = 0) throws -> [MouseBatch] {
        let rounds = try data.trainingRounds(epoch: 0, generator: RandomGenerator(seed: seed))
        let next = try rounds.rounds(from: first)
        var out: [MouseBatch] = []
        while let round = try next() {
            #expect(round.count == 1, "one batch per round (one optimizer step)")
            out += round
        }
        return out
    }

    @Test func everySampleHoldsItsOwnResponsesInItsBlock() throws {
        let datasets = try Self.datasets()
        let data = try source(datasets)
        let batches = try epoch(data, seed: 21)
        let counts = datasets.map(\.neuronCount), total = counts.reduce(0, +)
        #expect(counts == [24, 10])
        #expect(batches.count == data.batchesPerEpoch && batches.count == 4, "14 samples in batches of 4")
        #expect(batches.map(\.batchSize) == [4, 4, 4, 2])
        var perMouse = [0, 0], mixedBatches = 0
        for batch in batches {
            let mixture = try #require(batch.mixture)
            let weights = try #require(batch.responseWeights)
            #expect(mixture.mice == datasets.map(\.name) && mixture.neuronCounts == counts)
            #expect(batch.mouse == MixedBatchMaker.batchName(datasets.map(\.name)))
            #expect(batch.neuronCount == total && batch.channels == 5 && batch.frames == 4)
            if Set(mixture.sampleMouse).count > 1 { mixedBatches += 1 }
            for s in 0..<batch.batchSize {
                let m = mixture.sampleMouse[s]
                perMouse[m] += 1
                let offset = mixture.neuronOffsets[m]
                let trial = try datasets[m].readTrial(batch.trials[s])
                #expect(datasets[m].trials(in: .train).contains(batch.trials[s]))
                let end = batch.starts[s] + 6
                #expect(end >= 6 && end <= trial.length - 1)
                for k in 0..<4 {
                    let t = batch.starts[s] + 2 * k
                    for j in 0..<total {
                        let value = batch.responses[(s * 4 + k) * total + j]
                        let own = (offset..<(offset + counts[m])).contains(j)
                        #expect(value == (own ? trial.responses[t * counts[m] + j - offset] : 0))
                    }
                    // The frame channel at the same frame.
                    #expect(batch.video[((s * 5 + 0) * 4 + k) * 18 * 32 + 40] == trial.video[t * 18 * 32 + 40])
                }
                for j in 0..<total {
                    #expect(weights[s * total + j] == ((offset..<(offset + counts[m])).contains(j) ? 1 : 0))
                }
            }
        }
        #expect(perMouse == [7, 7], "samplesPerMouse of every mouse per epoch")
        #expect(mixedBatches > 0, "batches mix mice")
    }

    @Test func reproducibleFromTheSeedAndResumableMidEpoch() throws {
        let datasets = try Self.datasets()
        let a = try epoch(source(datasets, cutMix: 0.5), seed: 5)
        let b = try epoch(source(datasets, cutMix: 0.5, prefetch: 2), seed: 5)
        #expect(a.map(\.video) == b.map(\.video) && a.map(\.responses) == b.map(\.responses))
        #expect(a.map(\.trials) == b.map(\.trials) && a.map { $0.mixture } == b.map { $0.mixture })
        let other = try epoch(source(datasets, cutMix: 0.5), seed: 6)
        #expect(a.map(\.trials) != other.map(\.trials))
        let resumed = try epoch(source(datasets, cutMix: 0.5), seed: 5, from: 2)
        #expect(resumed.count == a.count - 2)
        #expect(resumed.map(\.video) == a.dropFirst(2).map(\.video) && resumed.map(\.responses) == a.dropFirst(2).map(\.responses))
    }

    @Test func cutMixPartnersComeFromTheSameMouse() throws {
        let datasets = try Self.datasets(.dwiseNeuro)
        let data = try source(datasets, samplesPerMouse: 20, cutMix: 1)
        let plans = data.planEpoch(generator: RandomGenerator(seed: 3))
        #expect(plans.flatMap { $0 }.allSatisfy { $0.cutMix != nil })
        for sample in plans.flatMap({ $0 }) {
            #expect(data.trainingTrials[sample.mouseIndex].contains(sample.cutMix!.partnerTrial))
        }
        // A mixed batch's CutMixed sample: the own block mixes the own clip with the partner's.
        let maker = data.maker
        let sample = try #require(plans.flatMap { $0 }.first { $0.mouseIndex == 1 && $0.cutMix!.lambda > 0.2 })
        var plain = sample
        plain.cutMix = nil
        let partnerAlone = MixedSample(mouseIndex: 1, trial: sample.cutMix!.partnerTrial, draw: sample.cutMix!.partnerDraw)
        let mixed = try maker.makeBatch([sample]), own = try maker.makeBatch([plain]), partner = try maker.makeBatch([partnerAlone])
        let a = sample.cutMix!.box(height: 32, width: 32).areaFraction
        #expect(a > 0)
        for i in mixed.responses.indices {
            #expect(abs(mixed.responses[i] - ((1 - a) * own.responses[i] + a * partner.responses[i])) <= 1e-4)
        }
        #expect(mixed.responses[0..<24].allSatisfy { $0 == 0 }, "mouse 0's block stays empty")
        #expect(mixed.video != own.video)
    }

    @Test func validationIsWholeTrialsOfEachMouse() throws {
        let datasets = try Self.datasets()
        let data = try source(datasets)
        var seen: [String: [Int]] = [:]
        try data.forEachValidationBatch { batch in
            #expect(batch.mixture == nil && batch.responseWeights == nil)
            seen[batch.mouse, default: []] += batch.trials
        }
        for d in datasets { #expect(seen[d.name] == d.trials(in: .oracle)) }
        // With a fold split: the validation fold, training the rest of the pool.
        let split = FoldSplit(folds: 3, fold: 1)
        let folded = try MixedMouseTrainingData(datasets: datasets, batchSize: 4, mode: Self.mode, samplesPerMouse: 3, split: split)
        for (m, d) in datasets.enumerated() {
            let (training, validation) = try split.trials(of: d)
            #expect(folded.trainingTrials[m] == training && folded.validationTrials[m] == validation)
        }
        #expect(data.trialCount(mouse: MixedBatchMaker.batchName(datasets.map(\.name))) == datasets[0].trialCount + datasets[1].trialCount)
    }

    @Test func refusesMiceOfDifferentFrameSizes() throws {
        let datasets = try Self.datasets() + [MouseDataset(path: Self.mice.otherSize, options: MouseDataOptions(pupilCenterAsChannels: true))]
        #expect(throws: DataError.self) { _ = try source(datasets) }
        // Padded to the same square canvas they mix.
        let square = MouseDataOptions.dwiseNeuro
        var padded = try Self.datasets(square)
        padded[1] = try MouseDataset(path: Self.mice.otherSize, options: square)
        #expect(padded[1].inputHeight == 32 && padded[1].frameHeight == 20)
        let batches = try epoch(source(padded), seed: 1)
        #expect(batches.allSatisfy { $0.height == 32 && $0.width == 32 })
    }

    @Test func settingsRoundTripAndBuildTheSources() throws {
        let json = #"{"data": {"batchSize": 4, "frames": 4, "frameStep": 2, "clipPosition": "last", "samplesPerMouse": 5, "cutMixProbability": 0.5, "folds": 3, "fold": 2}, "model": {"normalizeData": false, "padFramesToSquare": true, "responsesThroughReLU": true}}"#
        let configuration = try TrainingRunConfiguration.fromJSON(json)
        #expect(try TrainingRunConfiguration.fromJSON(configuration.jsonString()) == configuration)
        let settings = configuration.data
        #expect(settings.clipMode == Self.mode && settings.clipSpan == 7 && settings.foldSplit == FoldSplit(folds: 3, fold: 2))
        let options = try configuration.model.dataOptions()
        #expect(!options.normalize && options.padToSquare && options.responsesThroughReLU)
        let data = try settings.makeMixedTrainingData(datasets: Self.datasets())
        #expect(data.samplesPerMouse == 5 && data.cutMixProbability == 0.5 && data.split == FoldSplit(folds: 3, fold: 2))
        #expect(TrainingDataSettings().clipMode == .clips(frames: 80))
        // The round-robin source with the same settings: strided clips, CutMix and the split.
        let roundRobin = try settings.makeTrainingData(datasets: Self.datasets())
        #expect(roundRobin.clipMode == Self.mode && roundRobin.cutMixProbability == 0.5 && roundRobin.split == FoldSplit(folds: 3, fold: 2))
        for (m, d) in try Self.datasets().enumerated() {
            let (training, validation) = try FoldSplit(folds: 3, fold: 2).trials(of: d)
            #expect(roundRobin.splitTrials?[m].training == training && roundRobin.splitTrials?[m].validation == validation)
        }
        let firstMouse = try Self.datasets()[0].name
        var trained: [Int] = []
        let rounds = try roundRobin.trainingRounds(epoch: 0, generator: RandomGenerator(seed: 2))
        let next = try rounds.rounds()
        while let round = try next() {
            for batch in round where batch.mouse == firstMouse { trained += batch.trials }
        }
        let pool0 = try FoldSplit(folds: 3, fold: 2).trials(of: Self.datasets()[0])
        #expect(Set(trained).isSubset(of: pool0.training) && !trained.isEmpty)
        var validated: [Int] = []
        try roundRobin.forEachValidationBatch { batch in
            if batch.mouse == firstMouse { validated += batch.trials }
        }
        #expect(validated == pool0.validation)
        for bad in [#"{"data": {"frameStep": 0}}"#, #"{"data": {"cutMixProbability": 2}}"#, #"{"data": {"folds": 1}}"#,
                    #"{"data": {"folds": 3, "fold": 3}}"#, #"{"data": {"fold": 1}}"#, #"{"data": {"clipPosition": "middle"}}"#] {
            #expect(throws: SensoriumError.self) { _ = try TrainingRunConfiguration.fromJSON(bad) }
        }
    }
}
