import Foundation
import Testing
@testable import Sensorium
import SensoriumTestSupport

/// The second and third winning systems named in JSON: Dynamic-V1FM's Swin core (`swin`, behaviour
/// in every block) on the hierarchical readout, and ViV1T's core (`vivit`) with its Gaussian readout
/// (`viv1tGaussian`, behaviour state vector). Each model is built on the synthetic tiny mouse
/// (18 × 32 frames), trains a step with behaviour reaching the core or readout, and round-trips
/// through a checkpoint bit for bit.
@Suite struct WinnerRegistryTests {
    static let swinJSON = """
    {"seed": 5,
     "core": {"type": "swin", "embedDim": 8, "numBlocks": 2, "numHeads": 2, "mlpDim": 6, "windowSize": [2, 3, 4],
              "dropout": 0.1, "dropPath": 0.1},
     "readout": {"type": "hierarchical"},
     "shifter": {"type": "mlp", "layers": 3, "hiddenChannels": 16},
     "outputNonlinearity": {"type": "eluPlusOne"},
     "biasInitializationTrials": 0}
    """

    static let vivitJSON = """
    {"seed": 6,
     "core": {"type": "vivit", "frameHeight": 18, "frameWidth": 32, "maxFrames": 100, "embeddingDim": 8, "heads": 2,
              "headDim": 4, "mlpDim": 10, "spatialDepth": 1, "temporalDepth": 2, "temporalPatch": 3, "spatialPatch": 4,
              "spatialStride": 3, "attentionBlockSize": 16},
     "readout": {"type": "viv1tGaussian", "stateDropout": 0.1},
     "shifter": {"type": "mlp", "layers": 3, "hiddenChannels": 5},
     "outputNonlinearity": {"type": "exponential"},
     "biasInitializationTrials": 0}
    """

    /// The tiny mouse opened the way the configuration's core reads it.
    static func dataset(for configuration: VideoModelConfiguration) throws -> MouseDataset {
        try MouseDataset(path: TinyMouse.root + "/" + SyntheticMouseGenerator.mouseName(index: 0, configuration: TinyMouse.configuration),
                         options: configuration.dataOptions())
    }

    static func batch(_ dataset: MouseDataset, frames: Int, seed: UInt64 = 2) throws -> MouseBatch {
        let loader = MouseLoader(dataset: dataset, tier: .train, batchSize: 2, mode: .clips(frames: frames),
                                 generator: RandomGenerator(seed: seed))
        return try #require(try loader.epoch(prefetch: 0).next())
    }

    static func input(_ batch: MouseBatch, behavior: Tensor? = nil, pupilCenter: Tensor? = nil) -> ModelInput {
        ModelInput(video: batch.videoTensor(), behavior: behavior ?? batch.behaviorTensor(),
                   pupilCenter: pupilCenter ?? batch.pupilCenterTensor(), mouse: batch.mouse)
    }

    /// Saves `model`, loads it back and checks the architecture and the eval-mode outputs on `batch`.
    static func expectCheckpointRoundTrip(_ model: VideoModel, configuration: VideoModelConfiguration, batch: MouseBatch) throws {
        model.eval()
        let before = withNoGrad { model.forward(batch) }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sensorium-winners-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("model.h5")
        try model.save(to: file)
        let loaded = try VideoModel.load(from: file)
        #expect(loaded.architecture?.configuration == configuration)
        #expect(Set(loaded.stateDict().keys) == Set(model.stateDict().keys))
        let after = withNoGrad { loaded.forward(batch) }
        #expect(after.shape == before.shape)
        #expect(after.scalars == before.scalars, "the reloaded model must compute the same outputs bit for bit")
    }

    /// Whole-trial evaluation (the tiny mouse's trials of 76 to 84 frames) scores the model.
    static func expectEvaluates(_ model: VideoModel, _ dataset: MouseDataset, name: String) throws {
        let report = try Evaluation.evaluate(model, datasets: [dataset], modelName: name)
        let main = try #require(report.summary.mainTrack)
        #expect(main.singleTrial.isFinite && main.toAverage.isFinite && abs(main.singleTrial) <= 1)
        #expect(report.summary.model == name)
    }

    // MARK: - Dynamic-V1FM: swin core

    @Test func swinCoreByNameReadsBehaviourTrainsAndRoundTrips() throws {
        let configuration = try VideoModelConfiguration.fromJSON(Self.swinJSON)
        #expect(configuration.core.typeName == "swin" && configuration.readout.typeName == "hierarchical")
        #expect(try VideoModelConfiguration.fromJSON(configuration.jsonString()) == configuration)
        let options = try configuration.dataOptions()
        #expect(!options.behaviorAsChannels && !options.pupilCenterAsChannels, "the Swin core reads the frame alone as video")
        let dataset = try Self.dataset(for: configuration)
        let model = try VideoModel(configuration: configuration, datasets: [dataset])
        let core = try #require(model.core as? SwinCore)
        #expect(core.configuration.embedDim == 8 && core.configuration.windowSize == [2, 3, 4])
        #expect(model.burnInFrames == 1, "p − 1 for the temporal patch of 2")
        let keys = Set(model.stateDict().keys)
        #expect(keys.contains("core.patch_embedding.proj.weight") && keys.contains("core.transformer.blocks.1.b-mlp.model.0.weight")
                && keys.contains("core.transformer.drop_path.keep_prop"))

        // Training step: T' = ⌈T / 2⌉ for even and odd T, gradients reach the behaviour MLPs and the input behaviour.
        for frames in [12, 11] {
            let batch = try Self.batch(dataset, frames: frames)
            model.train()
            model.zeroGrad()
            let behavior = batch.behaviorTensor(), pupil = batch.pupilCenterTensor()
            behavior.requiresGrad = true
            pupil.requiresGrad = true
            let y = model(Self.input(batch, behavior: behavior, pupilCenter: pupil))
            #expect(y.shape == [2, (frames + 1) / 2, dataset.neuronCount])
            #expect(y.scalars.allSatisfy { $0.isFinite && $0 > 0 })
            (y.square().sum() + model.regularizer(for: batch)!).backward()
            for block in core.transformer.blocks {
                #expect(block.behaviorMLP.parameters().allSatisfy { ($0.grad?.scalars.contains { $0 != 0 }) == true },
                        "every block's behaviour MLP is on the gradient path (T = \(frames))")
            }
            #expect(core.patchEmbedding.proj.weight.grad != nil)
            #expect(behavior.grad?.scalars.contains { $0 != 0 } == true, "the loss depends on the behaviour (T = \(frames))")
            #expect(pupil.grad?.scalars.contains { $0 != 0 } == true, "the loss depends on the pupil centre (T = \(frames))")
        }

        // Behaviour matters, through the core: changing the behaviour alone changes the core features and the output.
        model.eval()
        let batch = try Self.batch(dataset, frames: 12)
        let input = Self.input(batch)
        let changed = Self.input(batch, behavior: batch.behaviorTensor() * 2 + 0.5)
        let (features, featuresChanged) = withNoGrad { (model.core(input), model.core(changed)) }
        #expect(features.shape == [2, 8, 6, 9, 16])
        #expect(features.scalars != featuresChanged.scalars, "the core reads the behaviour")
        let direct = withNoGrad { core(video: input.video, behavior: input.behavior!, pupilCenter: input.pupilCenter!) }
        #expect(direct.scalars == features.scalars, "the model input's behaviour vector is [behaviour, pupil centre]")
        let (y, yChanged) = withNoGrad { (model(input), model(changed)) }
        #expect(y.scalars != yChanged.scalars)

        try Self.expectCheckpointRoundTrip(model, configuration: configuration, batch: batch)
        try Self.expectEvaluates(model, dataset, name: "swin")
    }

    /// The shifter of a Swin model sees the pupil centre of the last T' = ⌈T/2⌉ frames, for odd T too.
    @Test func swinOutputsAlignWithTheLastFrames() throws {
        let g = RandomGenerator(seed: 4)
        let core = SwinCore(configuration: .init(windowSize: [2, 3, 3], embedDim: 8, numBlocks: 1, numHeads: 2, mlpDim: 6),
                            generator: g)
        let readout = try HierarchicalGaussianReadout.Configuration.defaults.makeReadouts(
            for: ReadoutContext(inputChannels: 8, mice: [MouseNeurons(key: "m", count: 16, frameSize: [10, 12])]) { _ in [8, 5, 6] },
            generator: g)
        let recorder = RecordingShifter()
        let model = VideoModel(core: core, readouts: readout, shifters: PerMouseShifters([(key: "m", shifter: recorder)]),
                               generator: g)
        model.eval()
        let (b, t) = (2, 11)
        let video = Tensor.randomNormal([b, 1, t, 10, 12], generator: g)
        let behavior = Tensor.randomNormal([b, 2, t], generator: g), pupil = Tensor.randomNormal([b, 2, t], generator: g)
        let y = withNoGrad { model(ModelInput(video: video, behavior: behavior, pupilCenter: pupil, mouse: "m")) }
        let frames = 6
        #expect(y.shape == [b, frames, 16])
        let seen = try #require(recorder.seen)
        #expect(seen.shape == [b, frames, 2])
        let p = pupil.scalars, s = seen.scalars
        for i in 0..<b {
            for f in 0..<frames {
                for c in 0..<2 { #expect(s[(i * frames + f) * 2 + c] == p[(i * 2 + c) * t + (t - frames) + f]) }
            }
        }
    }

    @Test func swinVideoOnlyCallIsRefused() async {
        await #expect(processExitsWith: .failure) {
            let core = SwinCore(configuration: .init(windowSize: [2, 2, 2], embedDim: 8, numBlocks: 1, numHeads: 2, mlpDim: 6),
                                generator: RandomGenerator(seed: 1))
            _ = core(Tensor.zeros([1, 1, 4, 6, 6]))
        }
    }

    @Test func swinConfigurationErrorsAreReported() throws {
        // The registry reads the Swift names, not the reference's.
        #expect(throws: SensoriumError.self) { try VideoModelConfiguration.fromJSON(#"{"core": {"type": "swin", "emb_dim": 8}}"#) }
        // Options that cannot make a core are errors, not crashes.
        let bad = try VideoModelConfiguration.fromJSON(#"{"core": {"type": "swin", "embedDim": 9, "numHeads": 3}, "readout": {"type": "hierarchical"}}"#)
        #expect(throws: SensoriumError.self) {
            try VideoModel(configuration: bad, mice: [MouseNeurons(key: "m", count: 16, frameSize: [18, 32])])
        }
        var configuration = SwinCore.Configuration.defaults
        configuration.inputChannels = 3
        #expect(configuration.inChannels == 3 && AnyCoreConfiguration.swin(configuration).inputChannels == 3)
        #expect(try CoreKind.registry.defaults(type: "swin").as(SwinCore.Configuration.self) == SwinCore.Configuration())
    }

    // MARK: - ViV1T: vivit core and viv1tGaussian readout

    @Test func vivitCoreAndReadoutByNameReadBehaviourTrainAndRoundTrip() throws {
        let configuration = try VideoModelConfiguration.fromJSON(Self.vivitJSON)
        #expect(configuration.core.typeName == "vivit" && configuration.readout.typeName == "viv1tGaussian")
        #expect(try VideoModelConfiguration.fromJSON(configuration.jsonString()) == configuration)
        #expect(configuration.core.inputChannels == 5)
        let options = try configuration.dataOptions()
        #expect(options.behaviorAsChannels && options.pupilCenterAsChannels, "the ViViT core reads the behaviour planes")
        let dataset = try Self.dataset(for: configuration)
        let model = try VideoModel(configuration: configuration, datasets: [dataset])
        let core = try #require(model.core as? ViViTCore)
        let readout = try #require(model.readout[dataset.name] as? ViV1TGaussianReadout)
        #expect(readout.inputChannels == 8 && readout.neuronCount == dataset.neuronCount)
        #expect(model.burnInFrames == 2)
        let keys = Set(model.stateDict().keys)
        #expect(keys.contains("core.vivit.tokenizer.spatial_pos_embedding")
                && keys.contains("readout.\(dataset.name).state_encoder.4.weight")
                && keys.contains("readout.\(dataset.name).source_grid"))

        // Training step: T' = T − 2; gradients reach the state encoder and the input behaviour.
        let batch = try Self.batch(dataset, frames: 12)
        model.train()
        model.zeroGrad()
        let behavior = batch.behaviorTensor(), pupil = batch.pupilCenterTensor()
        behavior.requiresGrad = true
        pupil.requiresGrad = true
        let y = model(Self.input(batch, behavior: behavior, pupilCenter: pupil))
        #expect(y.shape == [2, 10, dataset.neuronCount])
        #expect(y.scalars.allSatisfy { $0.isFinite && $0 > 0 })
        (y.sum() + model.regularizer(for: batch)!).backward()
        #expect(readout.stateEncoder.parameters().allSatisfy { ($0.grad?.scalars.contains { $0 != 0 }) == true },
                "the state encoder is on the gradient path")
        #expect(core.vivit.tokenizer.spatialPosEmbedding.grad != nil)
        // Behaviour reaches the loss through the readout (the core reads the planes of the video).
        let behaviorGrad = try #require(behavior.grad).scalars, pupilGrad = try #require(pupil.grad).scalars
        #expect(behaviorGrad.contains { $0 != 0 } && pupilGrad.contains { $0 != 0 })
        // Only the last T' frames enter the state: the first T − T' frames get no gradient from it.
        for i in 0..<2 {
            for c in 0..<2 {
                for f in 0..<12 {
                    let g = behaviorGrad[(i * 2 + c) * 12 + f]
                    if f < 2 { #expect(g == 0, "frame \(f) precedes the output frames") } else { #expect(g != 0) }
                }
            }
        }

        // Behaviour matters in the readout: with the same video (planes included) the core features
        // are equal, and changing the behaviour and pupil centre changes the output.
        model.eval()
        let input = Self.input(batch)
        let changed = Self.input(batch, behavior: batch.behaviorTensor() + 1, pupilCenter: batch.pupilCenterTensor() * 0.5)
        let (features, featuresChanged) = withNoGrad { (model.core(input), model.core(changed)) }
        #expect(features.scalars == featuresChanged.scalars)
        let (out, outChanged) = withNoGrad { (model(input), model(changed)) }
        #expect(out.scalars != outChanged.scalars, "the readout reads the behaviour state")

        // The state is the reference's: [behaviour, pupil centre] of the last T' frames, (B, T', 4).
        let t = 12, frames = 10
        let b = batch.behaviorTensor().scalars, p = batch.pupilCenterTensor().scalars
        var state = [Float]()
        for i in 0..<2 {
            for f in (t - frames)..<t {
                state += [b[(i * 2) * t + f], b[(i * 2 + 1) * t + f], p[(i * 2) * t + f], p[(i * 2 + 1) * t + f]]
            }
        }
        let shifter = try #require(model.shifter)
        let explicit = withNoGrad {
            let shift = shifter(ModelInput.lastFrames(input.pupilCenter!, frames), dataKey: batch.mouse)
            return readout(features, shift: shift, state: Tensor(state, shape: [2, frames, 4])).exp()
        }
        #expect(explicit.scalars == out.scalars)

        try Self.expectCheckpointRoundTrip(model, configuration: configuration, batch: batch)
        try Self.expectEvaluates(model, dataset, name: "viv1t")
    }

    @Test func viv1tConfigurationErrorsAreReported() throws {
        let mice = [MouseNeurons(key: "m", count: 6, frameSize: [18, 32])]
        let state = try VideoModelConfiguration.fromJSON(#"{"core": {"type": "vivit", "frameHeight": 18, "frameWidth": 32, "embeddingDim": 8, "heads": 2, "headDim": 4, "mlpDim": 8, "spatialDepth": 1, "temporalDepth": 1, "temporalPatch": 3}, "readout": {"type": "viv1tGaussian", "stateFeatures": 3}}"#)
        #expect(throws: SensoriumError.self) { try VideoModel(configuration: state, mice: mice) }
        let core = try VideoModelConfiguration.fromJSON(#"{"core": {"type": "vivit", "spatialPatch": 40}, "readout": {"type": "viv1tGaussian"}}"#)
        #expect(throws: SensoriumError.self) { try VideoModel(configuration: core, mice: mice) }
        #expect(throws: SensoriumError.self) { try VideoModelConfiguration.fromJSON(#"{"readout": {"type": "viv1tGaussian", "inputChannels": 8}}"#) }
        var vivit = ViViTCore.Configuration.defaults
        vivit.inputChannels = 3
        #expect(vivit.videoChannels == 1 && vivit.behaviorChannels == 2)
    }
}
