import Foundation
import Testing
import SensoriumTensor
import SensoriumTestSupport
@testable import SensoriumLayers

@Suite struct ViViTCoreTests {
    /// A small core (every structural feature of the paper's, small sizes).
    static func small() -> ViViTCore.Configuration {
        var c = ViViTCore.Configuration()
        (c.frameHeight, c.frameWidth, c.maxFrames) = (9, 11, 12)
        (c.embeddingDim, c.heads, c.headDim, c.mlpDim) = (8, 2, 5, 6)
        (c.spatialDepth, c.temporalDepth) = (1, 2)
        (c.temporalPatch, c.spatialPatch, c.spatialStride) = (3, 3, 2)
        c.attentionBlockSize = 4
        return c
    }

    @Test func paperDefaultsAndDerivedGeometry() {
        let c = ViViTCore.Configuration()
        #expect(c.inputChannels == 5)
        #expect(c.patchGrid == (15, 29))
        #expect(c.spatialPositions == 435)
        #expect(c.temporalPositions == 276)
        #expect(c.patchSize == 6125)
        #expect(c.innerDim == 528)
    }

    @Test func featureMapShapeIsFindShape() {
        // find_shape: the largest divisor ≤ ⌈√P⌉.
        #expect(vivitFeatureMapShape(patches: 435) == (15, 29))
        #expect(vivitFeatureMapShape(patches: 35) == (5, 7))
        #expect(vivitFeatureMapShape(patches: 36) == (6, 6))
        #expect(vivitFeatureMapShape(patches: 13) == (1, 13))
        #expect(vivitFeatureMapShape(patches: 24) == (4, 6))   // a 2 × 12 patch grid would not be kept
    }

    @Test func invalidConfigurationsThrow() {
        var c = Self.small()
        c.heads = 0
        #expect(throws: ViViTConfigurationError.self) { try ViViTCore(configuration: c, generator: RandomGenerator(seed: 1)) }
        c = Self.small()
        c.spatialPatch = 20
        #expect(throws: ViViTConfigurationError.self) { try ViViTCore(configuration: c, generator: RandomGenerator(seed: 1)) }
        c = Self.small()
        c.dropPath = 1
        #expect(throws: ViViTConfigurationError.self) { try ViViTCore(configuration: c, generator: RandomGenerator(seed: 1)) }
    }

    @Test func keysAndShapes() throws {
        let c = Self.small()
        let core = try ViViTCore(configuration: c, generator: RandomGenerator(seed: 2))
        let state = core.stateDict()
        let inner = c.heads * c.headDim
        #expect(state["vivit.reg_scale"]?.shape == [])
        #expect(state["vivit.tokenizer.spatial_pos_embedding"]?.shape == [1, 1, 4 * 5, 8])
        #expect(state["vivit.tokenizer.temporal_pos_embedding"]?.shape == [1, 10, 1, 8])
        #expect(state["vivit.tokenizer.tokenizer.1.weight"]?.shape == [5 * 3 * 3 * 3])
        #expect(state["vivit.tokenizer.tokenizer.2.weight"]?.shape == [8, 135])
        #expect(state["vivit.tokenizer.tokenizer.3.bias"]?.shape == [8])
        for prefix in ["vivit.spatial_transformer.blocks.0", "vivit.temporal_transformer.blocks.1"] {
            #expect(state["\(prefix).scale"]?.item == 1 / Float(5).squareRoot())
            #expect(state["\(prefix).fused_linear.weight"]?.shape == [3 * inner + 6, 8])
            #expect(state["\(prefix).attn_out.weight"]?.shape == [8, inner])
            #expect(state["\(prefix).ff_out.2.weight"]?.shape == [8, 6])
            #expect(state["\(prefix).drop_path1.keep_prob"]?.item == 1 - c.dropPath)
            #expect(state["\(prefix).norm.weight"]?.shape == [8])
        }
        #expect(state.count == 9 + 3 * 8)   // reg_scale, 2 tables, 3 tokenizer layers; 8 entries per block
        #expect(Set(core.namedBuffers().map(\.path)).count == 1 + 3 * 3)
    }

    @Test func forwardShapesMatchOutputShape() throws {
        let core = try ViViTCore(configuration: Self.small(), generator: RandomGenerator(seed: 3))
        core.eval()
        let gen = RandomGenerator(seed: 4)
        let video = Tensor.randomNormal([2, 1, 7, 9, 11], generator: gen)
        let behavior = Tensor.randomNormal([2, 2, 7], generator: gen)
        let pupil = Tensor.randomNormal([2, 2, 7], generator: gen)
        let y = core(video: video, behavior: behavior, pupilCenter: pupil)
        #expect(y.shape == core.outputShape(for: [2, 5, 7, 9, 11]))
        // The 4 × 5 patch grid is laid out as find_shape(20) = 5 × 4, as the reference does.
        #expect(y.shape == [2, 8, 5, 5, 4])
        #expect(core.burnInFrames == 2)
        let stages = core.intermediates(ViViTCore.assembleInput(video: video, behavior: behavior, pupilCenter: pupil))
        #expect(stages.tokens.shape == [2, 5, 20, 8])
        #expect(stages.spatial.shape == [10, 20, 8])
        #expect(stages.temporal.shape == [40, 5, 8])
        #expect(stages.output.scalars == y.scalars)
    }

    @Test func behaviourPlanesAreConstantChannels() {
        let gen = RandomGenerator(seed: 5)
        let video = Tensor.randomNormal([1, 1, 3, 2, 2], generator: gen)
        let behavior = Tensor([1, 2, 3, 4, 5, 6], shape: [1, 2, 3])
        let pupil = Tensor([7, 8, 9, 10, 11, 12], shape: [1, 2, 3])
        let x = ViViTCore.assembleInput(video: video, behavior: behavior, pupilCenter: pupil)
        #expect(x.shape == [1, 5, 3, 2, 2])
        for (channel, values) in [(1, [1, 2, 3]), (2, [4, 5, 6]), (3, [7, 8, 9]), (4, [10, 11, 12])] as [(Int, [Float])] {
            for t in 0..<3 { for h in 0..<2 { for w in 0..<2 { #expect(x[0, channel, t, h, w] == values[t]) } } }
        }
        #expect(x[0, 0, 1, 1, 0] == video[0, 0, 1, 1, 0])
    }

    @Test func trainingModeIsStochasticAndSeeded() throws {
        func run(seed: UInt64, training: Bool) throws -> [Float] {
            let core = try ViViTCore(configuration: Self.small(), generator: RandomGenerator(seed: seed))
            core.train(training)
            let x = Tensor.randomNormal([1, 5, 6, 9, 11], generator: RandomGenerator(seed: 9))
            return core(x).scalars
        }
        let a = try run(seed: 7, training: true), b = try run(seed: 7, training: true)
        #expect(a == b)                                // same seed, same draws
        #expect(a != (try run(seed: 7, training: false)))  // dropout and drop-path act in training
        #expect(try run(seed: 7, training: false) == (try run(seed: 7, training: false)))
    }

    @Test func blockGradient() {
        let gen = RandomGenerator(seed: 11)
        let block = ParallelTransformerBlock(embeddingDim: 6, heads: 2, headDim: 3, mlpDim: 5, attentionDropout: 0.3,
                                             feedForwardDropout: 0.2, dropPath: 0.1, attentionBlockSize: 2, generator: gen)
        block.eval()
        // Make the LayerNorm affine parameters non-trivial so their gradients are exercised.
        block.norm.weight!.assign(Tensor.randomUniform([6], low: 0.7, high: 1.3, generator: gen))
        let x = Tensor.randomNormal([2, 5, 6], generator: gen, requiresGrad: true)
        let w = block.fusedLinear.weight
        w.assign(Tensor.randomNormal(w.shape, std: 0.4, generator: gen))
        expectGradients([x, w, block.attnOut.weight, block.norm.weight!]) { _ in block(x) }
    }

    @Test func checkpointedBlocksGiveTheSameResultsAndGradients() throws {
        func run(checkpointing: Bool) throws -> (output: [Float], input: [Float], parameters: [[Float]]) {
            var c = Self.small()
            c.gradientCheckpointing = checkpointing
            let core = try ViViTCore(configuration: c, generator: RandomGenerator(seed: 21))
            core.train()   // dropout and drop-path active: the replay must draw the same masks
            let x = Tensor.randomNormal([2, 5, 6, 9, 11], generator: RandomGenerator(seed: 22), requiresGrad: true)
            let y = core(x)
            y.backward(Tensor.randomNormal(y.shape, generator: RandomGenerator(seed: 23)))
            return (y.scalars, x.grad!.scalars, core.parameters().map { $0.grad?.scalars ?? [] })
        }
        let plain = try run(checkpointing: false), replayed = try run(checkpointing: true)
        #expect(replayed.output == plain.output)
        expectClose(replayed.input, plain.input, atol: 1e-6, rtol: 1e-5, "input gradient")
        #expect(replayed.parameters.count == plain.parameters.count)
        for (i, (a, b)) in zip(replayed.parameters, plain.parameters).enumerated() {
            expectClose(a, b, atol: 1e-6, rtol: 1e-5, "parameter \(i)")
        }
    }

    @Test func stochasticDepthDropsWholeSamples() {
        let gen = RandomGenerator(seed: 12)
        let layer = StochasticDepth(dropProbability: 0.5, generator: gen)
        #expect(layer.stateDict().keys.sorted() == ["keep_prob"])
        let x = Tensor.ones([64, 3, 2])
        layer.eval()
        #expect(layer(x).scalars == x.scalars)
        layer.train()
        let y = layer(x).reshaped([64, 6]).scalars
        var kept = 0
        for s in 0..<64 {
            let row = Array(y[(s * 6)..<(s * 6 + 6)])
            #expect(row.allSatisfy { $0 == 0 } || row.allSatisfy { $0 == 2 })
            if row[0] == 2 { kept += 1 }
        }
        #expect(kept > 16 && kept < 48)
    }

    /// Peak tensor memory of one paper-size spatial block (B·T' = 116 frames of 435 tokens, width 112,
    /// 11 heads × 48), training-mode forward and backward. Slow in debug builds, so it runs only with
    /// SENSORIUM_VIVIT_PAPER_MEMORY=1; the bound is 4 GB.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["SENSORIUM_VIVIT_PAPER_MEMORY"] == "1"))
    func paperSpatialBlockMemory() {
        let c = ViViTCore.Configuration()
        let frames = 140 - c.temporalPatch + 1
        let gen = RandomGenerator(seed: 13)
        let block = ParallelTransformerBlock(embeddingDim: c.embeddingDim, heads: c.heads, headDim: c.headDim, mlpDim: c.mlpDim,
                                             attentionDropout: c.attentionDropout, feedForwardDropout: c.feedForwardDropout,
                                             dropPath: c.dropPath, attentionBlockSize: c.attentionBlockSize, generator: gen)
        let x = Tensor.randomNormal([frames, c.spatialPositions, c.embeddingDim], generator: gen, requiresGrad: true)
        let g = Tensor.randomNormal(x.shape, generator: gen)
        let tracker = AllocationTracker()
        let start = Date()
        var afterForward = 0
        tracker.track {
            let y = block(x)
            afterForward = tracker.liveBytes
            y.backward(g)
        }
        let seconds = Date().timeIntervalSince(start)
        let mb = { (bytes: Int) in String(format: "%.1f MB", Double(bytes) / 1_048_576) }
        print("ViViT paper spatial block (\(frames) × \(c.spatialPositions) × \(c.embeddingDim)): kept for backward \(mb(afterForward)), peak \(mb(tracker.peakBytes)), input \(mb(x.count * 4)), \(String(format: "%.1f", seconds)) s")
        let plainProbabilities = frames * c.heads * c.spatialPositions * c.spatialPositions * 4
        print("  (plain SDPA would keep \(mb(plainProbabilities)) of attention probabilities)")
        #expect(tracker.peakBytes < 4 << 30)
    }

    /// Peak tensor memory of the whole paper-size core for one 140-frame clip, training-mode forward
    /// and backward (opt-in like ``paperSpatialBlockMemory()``; several minutes in a debug build).
    @Test(.enabled(if: ProcessInfo.processInfo.environment["SENSORIUM_VIVIT_PAPER_MEMORY"] == "1"))
    func paperCoreMemory() throws {
        let gen = RandomGenerator(seed: 14)
        var configuration = ViViTCore.Configuration()
        configuration.gradientCheckpointing = ProcessInfo.processInfo.environment["SENSORIUM_VIVIT_CHECKPOINTING"] == "1"
        let core = try ViViTCore(configuration: configuration, generator: gen)
        let x = Tensor.randomNormal([1, core.configuration.inputChannels, 140, 36, 64], generator: gen)
        let tracker = AllocationTracker()
        let start = Date()
        var afterForward = 0
        tracker.track {
            let y = core(x)
            afterForward = tracker.liveBytes
            y.backward(Tensor.randomNormal(y.shape, generator: gen))
        }
        let mb = { (bytes: Int) in String(format: "%.1f MB", Double(bytes) / 1_048_576) }
        print("ViViT paper core (checkpointing \(configuration.gradientCheckpointing)), one 140-frame clip: kept for backward \(mb(afterForward)), peak \(mb(tracker.peakBytes)), \(String(format: "%.1f", Date().timeIntervalSince(start))) s")
        // Measured: 8.3 GB with the fused tokenizer (10.7 GB composed); 2.3 GB with checkpointing.
        #expect(tracker.peakBytes < (configuration.gradientCheckpointing ? 4 << 30 : 9 << 30))
    }
}
