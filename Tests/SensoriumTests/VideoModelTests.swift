import Testing
import Foundation
import Logging
@testable import Sensorium
@testable import SensoriumTraining
import SensoriumTestSupport

/// A tiny synthetic mouse written once per test process, shared by the model and evaluation tests.
enum TinyMouse {
    static let configuration: SyntheticMouseConfiguration = {
        var c = SyntheticMouseConfiguration.tiny
        c.frames = 80
        c.lengthJitter = 4
        return c
    }()

    static let root: String = {
        let dir = FileManager.default.temporaryDirectory
            .appendingPathComponent("sensorium-model-tests-\(ProcessInfo.processInfo.processIdentifier)").path
        try? FileManager.default.removeItem(atPath: dir)
        _ = try! SyntheticMouseGenerator.generate(configuration: configuration, into: dir)
        return dir
    }()

    static func dataset() throws -> MouseDataset {
        try MouseDataset(path: root + "/" + SyntheticMouseGenerator.mouseName(index: 0, configuration: configuration))
    }

    /// A small factorised model: burn-in 4 + 2 = 6 frames.
    static func modelConfiguration(seed: UInt64 = 1) -> VideoModelConfiguration {
        var core = Factorized3dCore.Configuration(inputChannels: 3, hiddenChannels: [4, 6], spatialInputKernel: [5, 5],
                                                  temporalInputKernel: 5, spatialHiddenKernel: [3, 3], temporalHiddenKernel: 3)
        core.gammaInputSpatial = 1
        var readout = GaussianReadoutConfiguration()
        readout.positionNetwork = PositionNetworkConfiguration(hiddenFeatures: 6)
        return VideoModelConfiguration(seed: seed, core: .factorized3d(core), readout: .gaussian(readout))
    }
}

/// A shifter that records what it is given and returns a fixed shift.
final class RecordingShifter: Module, Shifter {
    @Transient var seen: Tensor?
    func callAsFunction(_ pupilCenter: Tensor) -> Tensor {
        seen = pupilCenter.copy()
        return (pupilCenter * 0.01).tanh()
    }
}

@Suite struct VideoModelTests {
    static func handModel(neurons: Int = 5, shifter: (any Shifter)? = nil) -> VideoModel {
        let g = RandomGenerator(seed: 3)
        let core = Factorized3dCore(Factorized3dCore.Configuration(inputChannels: 2, hiddenChannels: [3, 4], spatialInputKernel: [3, 3],
                                                                   temporalInputKernel: 4, spatialHiddenKernel: [3, 3],
                                                                   temporalHiddenKernel: 3), generator: g)
        let readout = FullGaussian2d(inputChannels: 4, neuronCount: neurons, generator: g)
        let shifters = shifter.map { PerMouseShifters([(key: "m", shifter: $0)]) }
        return VideoModel(core: core, readouts: PerMouseReadouts([(key: "m", readout: readout)]), shifters: shifters,
                          outputNonlinearity: ELUPlusOne(), generator: g)
    }

    @Test func outputsAlignWithTheLastFramesAndTheShifterSeesTheirPupilCentre() {
        let recorder = RecordingShifter()
        let model = Self.handModel(shifter: recorder)
        model.eval()
        let g = RandomGenerator(seed: 9)
        let (b, t) = (2, 12)
        let video = Tensor.randomNormal([b, 2, t, 10, 11], generator: g)
        let pupil = Tensor.randomNormal([b, 2, t], generator: g)
        let y = withNoGrad { model(video: video, pupilCenter: pupil, mouse: "m") }
        let burnIn = 3 + 2
        #expect(model.burnInFrames == burnIn)
        #expect(y.shape == [b, t - burnIn, 5])
        // The shifter receives (B, T', 2): the pupil centre of the last T' frames, time-major.
        let seen = try! #require(recorder.seen)
        #expect(seen.shape == [b, t - burnIn, 2])
        let p = pupil.scalars, s = seen.scalars
        for i in 0..<b {
            for f in 0..<(t - burnIn) {
                for c in 0..<2 {
                    #expect(s[(i * (t - burnIn) + f) * 2 + c] == p[(i * 2 + c) * t + burnIn + f])
                }
            }
        }
        // Every output is strictly positive (ELU + 1).
        #expect(y.scalars.allSatisfy { $0 > 0 })
    }

    @Test func outputFrameDependsOnlyOnInputFramesUpToItsAlignedFrame() {
        let model = Self.handModel()
        model.eval()
        let g = RandomGenerator(seed: 10)
        let t = 12, burnIn = 5
        let video = Tensor.randomNormal([1, 2, t, 9, 9], generator: g)
        let base = withNoGrad { model(video: video, pupilCenter: nil, mouse: "m") }.scalars
        let k = 8                                   // change input frame k only
        let changed = video.copy()
        changed.withUnsafeMutableBufferPointer { p in
            for c in 0..<2 { for i in 0..<81 { p[(c * t + k) * 81 + i] += 3 } }
        }
        let other = withNoGrad { model(video: changed, pupilCenter: nil, mouse: "m") }.scalars
        let n = 5
        for f in 0..<(t - burnIn) {
            let row = (0..<n).map { abs(base[f * n + $0] - other[f * n + $0]) }.max()!
            if f + burnIn < k {
                #expect(row == 0, "output frame \(f) (aligned with input \(f + burnIn)) must not see input frame \(k)")
            } else if f + burnIn == k {
                #expect(row > 0, "output frame \(f) is aligned with input frame \(k) and must see it")
            }
        }
    }

    @Test func forwardOnABatchMatchesTheExplicitCall() throws {
        let dataset = try TinyMouse.dataset()
        let model = try VideoModel(configuration: TinyMouse.modelConfiguration(), datasets: [dataset])
        try model.initializeFromData([dataset])
        model.eval()
        let loader = MouseLoader(dataset: dataset, tier: .oracle, batchSize: 2, mode: .clips(frames: 20),
                                 generator: RandomGenerator(seed: 1))
        let batch = try #require(try loader.epoch(prefetch: 0).next())
        let a = withNoGrad { model.forward(batch) }
        let b = withNoGrad { model(video: batch.videoTensor(), pupilCenter: batch.pupilCenterTensor(), mouse: batch.mouse) }
        #expect(a.shape == [2, 20 - model.burnInFrames, dataset.neuronCount])
        #expect(a.scalars == b.scalars)
    }

    @Test func buildsFromADatasetAsTheReferenceDoes() throws {
        let dataset = try TinyMouse.dataset()
        let configuration = TinyMouse.modelConfiguration()
        let model = try VideoModel(configuration: configuration, datasets: [dataset])
        try model.initializeFromData([dataset])
        #expect(model.mice == [dataset.name])
        let readout = try #require(model.readout[dataset.name] as? FullGaussian2d)
        #expect(readout.neuronCount == dataset.neuronCount)
        #expect(readout.inputChannels == 6)
        // Positions from cell_motor_coordinates: the first two columns, centred, over the largest |value|.
        let n = dataset.neuronCount
        var grid = [Double](repeating: 0, count: n * 2)
        for j in 0..<2 {
            let mean = (0..<n).reduce(0.0) { $0 + Double(dataset.cellMotorCoordinates[$1 * 3 + j]) } / Double(n)
            for i in 0..<n { grid[i * 2 + j] = Double(dataset.cellMotorCoordinates[i * 3 + j]) - mean }
        }
        let largest = grid.map(abs).max()!
        expectClose(try #require(readout.sourceGrid), Tensor(grid.map { Float($0 / largest) }, shape: [n, 2]),
                    atol: 1e-6, rtol: 1e-5, "source grid")
        // Bias: the mean normalised response of the sampled training trials (all 6 here, 8 asked).
        let train = dataset.trials(in: .train)
        var sums = [Double](repeating: 0, count: n)
        var frames = 0
        for trial in train {
            let t = try dataset.readTrial(trial)
            for f in 0..<t.length { for j in 0..<n { sums[j] += Double(t.responses[f * n + j]) } }
            frames += t.length
        }
        expectClose(try #require(readout.bias), Tensor(sums.map { Float($0 / Double(frames)) }, shape: [n]),
                    atol: 1e-5, rtol: 1e-4, "bias")
        #expect(model.architecture == VideoModelArchitecture(configuration: configuration, mice: [
            .init(name: dataset.name, neurons: n, frameSize: [dataset.frameHeight, dataset.frameWidth])]))
        // Same seed, same weights.
        let again = try VideoModel(configuration: configuration, datasets: [dataset])
        try again.initializeFromData([dataset])
        for (key, value) in model.stateDict() { #expect(again.stateDict()[key]!.scalars == value.scalars, "\(key)") }
    }

    @Test func rejectsDataThatDoesNotFit() throws {
        let dataset = try TinyMouse.dataset()
        var configuration = TinyMouse.modelConfiguration()
        configuration.core = configuration.core.withInputChannels(5)
        #expect(throws: SensoriumError.self) { try VideoModel(configuration: configuration, datasets: [dataset]) }
        let model = try VideoModel(configuration: TinyMouse.modelConfiguration(), mice: [MouseNeurons(key: "other", count: 3)])
        #expect(throws: SensoriumError.self) { try model.checkCompatible(with: [dataset]) }
        #expect(throws: SensoriumError.self) {
            try VideoModel(configuration: TinyMouse.modelConfiguration(), mice: [MouseNeurons(key: "a.b", count: 3)])
        }
    }

    @Test func everyBuiltInCombinationBuildsAndRuns() throws {
        let dataset = try TinyMouse.dataset()
        var cores: [AnyCoreConfiguration] = [TinyMouse.modelConfiguration().core]
        var basic = Basic3dCore.Configuration()
        basic.hiddenChannels = [4, 4]
        basic.inputKernel = [3, 5, 5]
        basic.hiddenKernels = [[3, 3, 3]]
        cores.append(.basic3d(basic))
        var stacked = Stacked2dCore.Configuration()
        stacked.hiddenChannels = [4, 4]
        stacked.inputKern = 5
        stacked.hiddenKern = [3]
        cores.append(.stacked2d(stacked, gru: ConvGRUConfiguration(recChannels: 4, inputKern: 3, recKern: 3)))
        var rotation = RotationEquivariant2dCore.Configuration()
        rotation.hiddenChannels = [2, 2]
        rotation.numRotations = 2
        rotation.inputKern = 5
        rotation.hiddenKern = [3]
        cores.append(.rotationEquivariant2d(rotation, gru: nil))
        let readouts: [AnyReadoutConfiguration] = [
            .gaussian(.init(positionNetwork: .init(hiddenFeatures: 4))),
            .hierarchical(.init(levels: [2, 4])),
            .groupedConv(.init(groups: 2, dropout: 0.1)),
            .factorized(.init()),
        ]
        let shifters: [AnyShifterConfiguration?] = [.baseline, .none, .staticAffine(bias: true, regularization: 0.1)]
        let loader = MouseLoader(dataset: dataset, tier: .train, batchSize: 1, mode: .clips(frames: 12),
                                 generator: RandomGenerator(seed: 2))
        let batch = try #require(try loader.epoch(prefetch: 0).next())
        for (i, core) in cores.enumerated() {
            for (j, readout) in readouts.enumerated() {
                // Readouts without a grid (grouped-conv, factorised) take no shifter.
                let shifter = readout.base.acceptsShift ? shifters[(i + j) % 3] : nil
                let configuration = VideoModelConfiguration(core: core, readout: readout, shifter: shifter,
                                                            outputNonlinearity: j == 2 ? .identity : .softplus(beta: 0.5, learnable: true),
                                                            biasInitializationTrials: 2)
                let model = try VideoModel(configuration: configuration, datasets: [dataset])
                try model.initializeFromData([dataset])
                let y = model.forward(batch)
                #expect(y.shape == [1, 12 - model.burnInFrames, dataset.neuronCount], "\(core.typeName) + \(readout.typeName)")
                let loss = y.sum() + model.regularizer(for: batch)!
                loss.backward()
                #expect(model.trainableParameters().contains { $0.grad != nil }, "\(core.typeName) + \(readout.typeName): no gradient")
                // The configuration survives JSON.
                let decoded = try JSONDecoder().decode(VideoModelConfiguration.self, from: Data(configuration.jsonString().utf8))
                #expect(decoded == configuration)
            }
        }
        // A readout without a grid refuses a shifter instead of computing shifts nothing uses.
        for readout in readouts where !readout.base.acceptsShift {
            let configuration = VideoModelConfiguration(core: cores[0], readout: readout, shifter: .baseline)
            #expect(throws: SensoriumError.self) { try VideoModel(configuration: configuration, datasets: [dataset]) }
        }
    }

    @Test func inverseOutputNonlinearitiesRoundTrip() {
        let cases: [AnyOutputNonlinearityConfiguration] = [.eluPlusOne(offset: 0), .eluPlusOne(offset: 0.5), .softplus(beta: 0.07, learnable: false),
                                                        .softplus(beta: 2, learnable: true), .exponential, .identity,
                                                        .causalFilter(taps: 4, inner: .softplus(beta: 0.5))]
        for c in cases {
            let layer = try! c.makeLayer()
            for y: Float in [0.01, 0.3, 0.99, 1, 1.7, 12] {
                let x = c.inverse(y)
                // (B, T, neurons) = (1, 3, 1) of the same value: the causal filter keeps a constant.
                let back = layer.map { $0(Tensor([x, x, x], shape: [1, 3, 1])).scalars[2] } ?? x
                #expect(abs(back - y) <= 1e-4 * max(1, y), "\(c): inverse(\(y)) = \(x) maps back to \(back)")
            }
        }
        // Outside the range of a positive nonlinearity: the smallest positive target.
        #expect(AnyOutputNonlinearityConfiguration.exponential.inverse(-1) == Foundation.log(Float(1e-4)))
    }

    @Test func biasThroughTheInverseNonlinearityStartsPredictionsAtTheMeanResponse() throws {
        let dataset = try TinyMouse.dataset()
        var configuration = TinyMouse.modelConfiguration()
        configuration.biasInitializationTrials = 100
        let reference = try VideoModel(configuration: configuration, datasets: [dataset])
        try reference.initializeFromData([dataset])
        configuration.biasThroughInverseNonlinearity = true
        let model = try VideoModel(configuration: configuration, datasets: [dataset])
        try model.initializeFromData([dataset])
        let mean = try VideoModel.meanResponses(of: dataset, trials: 100, generator: RandomGenerator(seed: configuration.seed ^ 0x5EED_B1A5))
        let readout = try #require(model.readout[dataset.name] as? FullGaussian2d)
        let referenceReadout = try #require(reference.readout[dataset.name] as? FullGaussian2d)
        // The reference keeps the mean; the option stores its preimage under ELU + 1.
        expectClose(referenceReadout.bias!.scalars, mean.scalars, atol: 1e-6)
        let passed = ELUPlusOne()(readout.bias!).scalars
        expectClose(passed, mean.scalars.map { max($0, 1e-4) }, atol: 1e-5, rtol: 1e-4)
        // A configuration saved before the option existed decodes with the reference behaviour.
        var json = try #require(try JSONSerialization.jsonObject(with: Data(configuration.jsonString().utf8)) as? [String: Any])
        json.removeValue(forKey: "biasThroughInverseNonlinearity")
        let old = try JSONDecoder().decode(VideoModelConfiguration.self, from: JSONSerialization.data(withJSONObject: json))
        #expect(old.biasThroughInverseNonlinearity == false)
    }

    @Test func partialJSONKeepsTheDefaultsOfTheChosenTypes() throws {
        let c = try VideoModelConfiguration.fromJSON("""
        {"seed": 7,
         "core": {"type": "factorized3d", "hiddenChannels": [16, 32], "nonlinearity": {"relu": {}}},
         "readout": {"type": "hierarchical", "fusion": "adaptive"},
         "shifter": {"type": "none"},
         "outputNonlinearity": {"type": "softplus", "beta": 0.07}}
        """)
        #expect(c.seed == 7)
        let core = try #require(c.core.as(Factorized3dCore.Configuration.self))
        #expect(core.hiddenChannels == [16, 32])
        #expect(core.nonlinearity == .relu)
        #expect(core.spatialInputKernel == [11, 11])
        #expect(core.gammaInputSpatial == 10)
        let r = try #require(c.readout.as(HierarchicalGaussianReadout.Configuration.self))
        #expect(r.fusion == .adaptive)
        #expect(r.levels == [2, 4, 8, 16])
        #expect(c.shifter == .none)
        #expect(c.outputNonlinearity == .softplus(beta: 0.07, learnable: false))
        #expect(try VideoModelConfiguration.fromJSON("{}") == .factorizedBaseline)
        let gru = try VideoModelConfiguration.fromJSON(#"{"core": {"type": "rotationEquivariant2d"}}"#)
        #expect(gru == .gruBaseline)

        // Typos are refused with the nearest known key, at the top and inside a component.
        for (json, typo, hint) in [(#"{"readuot": {"type": "gaussian"}}"#, "readuot", "readout"),
                                   (#"{"core": {"type": "factorized3d", "hiddenChannel": [4]}}"#, "hiddenChannel", "hiddenChannels"),
                                   (#"{"core": {"hiddenChannel": [4]}}"#, "hiddenChannel", "hiddenChannels"),
                                   (#"{"core": {"type": "stacked2d", "gru": {"recChannel": 4}}}"#, "recChannel", "recChannels")] {
            do {
                _ = try VideoModelConfiguration.fromJSON(json)
                Issue.record("\(json) was accepted")
            } catch {
                #expect("\(error)".contains(typo) && "\(error)".contains(hint), "\(error)")
            }
        }
        for bad in [#"{"core": {"type": "transformer"}}"#, #"{"core": {"type": "basic3d", "hiddenChannels": "many"}}"#, "[1]", "{"] {
            #expect(throws: SensoriumError.self) { try VideoModelConfiguration.fromJSON(bad) }
        }
        do {
            _ = try VideoModelConfiguration.fromJSON(#"{"core": {"type": "basic3d", "momentum": "fast"}}"#, source: "my.json")
            Issue.record("a string momentum should not decode")
        } catch let error as SensoriumError {
            #expect(error.description.contains("my.json"))
            #expect(error.description.contains("momentum"))
        }
    }

    @Test func checkpointsRebuildTheModel() throws {
        let dataset = try TinyMouse.dataset()
        let model = try VideoModel(configuration: TinyMouse.modelConfiguration(seed: 5), datasets: [dataset])
        try model.initializeFromData([dataset])
        // Move the weights away from their initial values.
        for p in model.parameters() { p.assign(p + 0.01) }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sensorium-ckpt-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("model.h5")
        try model.save(to: url)
        let loaded = try VideoModel.load(from: url)
        #expect(loaded.architecture == model.architecture)
        for (key, value) in model.stateDict() { #expect(loaded.stateDict()[key]!.scalars == value.scalars, "\(key)") }
        model.eval()
        let loader = MouseLoader(dataset: dataset, tier: .oracle, batchSize: 1, mode: .clips(frames: 16), generator: RandomGenerator(seed: 4))
        let batch = try #require(try loader.epoch(prefetch: 0).next())
        #expect(withNoGrad { loaded.forward(batch) }.scalars == withNoGrad { model.forward(batch) }.scalars)

        // The PyTorch folder format round-trips too.
        let folder = dir.appendingPathComponent("state")
        try model.writePyTorchState(folder: folder)
        let fresh = try VideoModel(configuration: TinyMouse.modelConfiguration(seed: 6), datasets: [dataset])
        try fresh.initializeFromData([dataset])
        try fresh.loadPyTorchState(folder: folder)
        for (key, value) in model.stateDict() { #expect(fresh.stateDict()[key]!.scalars == value.scalars, "\(key)") }

        // A checkpoint without an architecture cannot rebuild a model.
        let bare = dir.appendingPathComponent("bare.h5")
        try Checkpoint.writeModel(model, to: bare)
        #expect(throws: SensoriumError.self) { try VideoModel.load(from: bare) }
        try fresh.loadCheckpoint(from: bare)
    }

    @Test func trainingAFewStepsDecreasesTheLoss() throws {
        let dataset = try TinyMouse.dataset()
        let model = try VideoModel(configuration: TinyMouse.modelConfiguration(seed: 11), datasets: [dataset])
        try model.initializeFromData([dataset])
        let data = MouseTrainingData(datasets: [dataset], batchSize: 2, frames: 24, validationBatchSize: 4,
                                     validationMaxFrames: 60, prefetch: 0)
        var configuration = TrainerConfiguration.reference
        configuration.earlyStopping = .fixedEpochs(4)
        configuration.seed = 3

        // The loss (eval mode) over fixed clips of every training trial.
        let loader = MouseLoader(dataset: dataset, tier: .train, batchSize: 6, mode: .clips(frames: 24),
                                 shuffle: false, generator: RandomGenerator(seed: 8))
        let fixed = try #require(try loader.epoch(prefetch: 0).next())
        let loss = ScaledPoissonLoss(scaled: false)
        func currentLoss() -> Float {
            model.eval()
            defer { model.train() }
            return withNoGrad {
                loss(predictions: model.forward(fixed), targets: fixed.targetTensor(),
                     context: LossContext(mouse: fixed.mouse, batchSize: 6, trialCount: dataset.trialCount))
            }.item
        }
        let before = currentLoss()
        let trainer = Trainer(model: model, data: data, configuration: configuration, logger: Logger(label: "test"))
        #expect(trainer.metadata == model.checkpointMetadata, "the trainer saves the model's architecture by default")
        let summary = try trainer.fit()
        let after = currentLoss()
        #expect(summary.steps == 4 * 3)
        #expect(after < before, "loss before \(before), after \(after)")
        let losses = trainer.history.compactMap(\.trainingLoss)
        #expect(losses.count == 4)
        #expect(losses.last! < losses.first!, "training losses \(losses)")
        // A training checkpoint carries the architecture, so the model can be rebuilt from it.
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("sensorium-train-\(UUID().uuidString).h5")
        defer { try? FileManager.default.removeItem(at: url) }
        try trainer.saveCheckpoint(to: url)
        let rebuilt = try VideoModel.load(from: url)
        for (key, value) in model.stateDict() { #expect(rebuilt.stateDict()[key]!.scalars == value.scalars, "\(key)") }
    }
}
