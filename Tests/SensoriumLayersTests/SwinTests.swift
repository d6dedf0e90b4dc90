import Foundation
import Testing
import SensoriumTensor
import SensoriumTestSupport
@testable import SensoriumLayers

/// Dynamic-V1FM's Swin core components (numerics against PyTorch are in the parity cases and
/// DynamicV1FMFixtureTests; these check layout, keys, options and training-mode behaviour).
@Suite struct SwinTests {
    /// The reference's mask construction, transcribed literally: Python slices `(0, -w)`, `(-w, -s)`,
    /// `(-s, None)` per axis of the padded grid, assigned in nested order, so a zero shift makes the
    /// last slice cover the whole axis.
    private func referenceRegions(_ geo: SwinWindowGeometry) -> [Int] {
        let p = geo.paddedSize
        /// Python's `range(n)[start:end]` (negative values count from the end; −0 is 0).
        func pySlice(_ start: Int, _ end: Int?, _ n: Int) -> Range<Int> {
            func norm(_ v: Int?, _ fallback: Int) -> Int {
                guard let v else { return fallback }
                return v < 0 ? max(0, n + v) : min(v, n)
            }
            let a = norm(start, 0), b = norm(end, n)
            return a < b ? a..<b : a..<a
        }
        let slices: [[(Int, Int?)]] = (0..<3).map { i in
            let w = geo.windowSize[i], s = geo.shiftSize[i]
            return [(0, -w), (-w, -s), (-s, nil)]
        }
        var region = [Int](repeating: 0, count: p.reduce(1, *))
        var count = 0
        for d in slices[0] {
            for h in slices[1] {
                for w in slices[2] {
                    for i in pySlice(d.0, d.1, p[0]) {
                        for j in pySlice(h.0, h.1, p[1]) {
                            for k in pySlice(w.0, w.1, p[2]) { region[(i * p[1] + j) * p[2] + k] = count }
                        }
                    }
                    count += 1
                }
            }
        }
        return region
    }

    @Test func shiftMaskMatchesTheReferenceSlices() {
        for (grid, window, shift) in [([5, 7, 6], [2, 3, 4], [1, 1, 2]), ([3, 5, 6], [4, 3, 4], [2, 1, 2]),
                                      ([15, 4, 7], [4, 3, 4], [2, 1, 2]), ([6, 6, 6], [3, 3, 3], [0, 1, 0])] {
            let geo = SwinWindowGeometry(gridSize: grid, windowSize: window, shiftSize: shift)
            guard let mask = geo.shiftMask() else {
                Issue.record("\(grid) \(window) \(shift): expected a mask")
                continue
            }
            // Region of every token of every window, by the reference slices; then the pairwise mask.
            let regions = referenceRegions(geo)
            let grid3 = Tensor(regions.map(Float.init), shape: [1] + geo.paddedSize + [1])
            let perWindow = windowPartition3d(grid3, windowSize: geo.windowSize).scalars
            let n = geo.tokensPerWindow
            var expected: [Float] = []
            for w in 0..<geo.windowCount {
                for i in 0..<n { for j in 0..<n { expected.append(perWindow[w * n + i] == perWindow[w * n + j] ? 0 : -100) } }
            }
            #expect(mask.shape == [geo.windowCount, 1, n, n])
            #expect(mask.scalars == expected, "\(grid) \(window) \(shift)")
        }
    }

    @Test func windowAdaptsToSmallGrids() {
        let geo = SwinWindowGeometry(gridSize: [3, 18, 32], windowSize: [8, 7, 7], shiftSize: [4, 3, 3])
        #expect(geo.windowSize == [3, 7, 7] && geo.shiftSize == [0, 3, 3])
        #expect(geo.paddedSize == [3, 21, 35] && geo.windowCount == 15 && geo.tokensPerWindow == 147)
        let paper = SwinWindowGeometry(gridSize: [15, 18, 32], windowSize: [8, 7, 7], shiftSize: [4, 3, 3])
        #expect(paper.paddedSize == [16, 21, 35] && paper.windowCount == 30 && paper.tokensPerWindow == 392)
        let none = SwinWindowGeometry(gridSize: [2, 2, 2], windowSize: [4, 4, 4], shiftSize: [2, 2, 2])
        #expect(!none.isShifted && none.shiftMask() == nil && none.windowCount == 1)
    }

    @Test func relativePositionIndexFollowsTheSwinFormula() {
        let index = SwinWindowGeometry.relativePositionIndex(windowSize: [2, 2, 2])
        // Token 0 = (0,0,0), token 7 = (1,1,1): offsets (−1,−1,−1) → 0; (1,1,1) → (2·3 + 2)·3 + 2 = 26.
        #expect(index[0 * 8 + 7] == 0 && index[7 * 8 + 0] == 26)
        #expect((0..<8).allSatisfy { index[$0 * 8 + $0] == 13 })
        #expect(Set(index).count == 27)
    }

    private func smallConfiguration(dropPath: Float = 0, dropout: Float = 0) -> SwinCore.Configuration {
        .init(inChannels: 1, behaviorDim: 4, patchSize: [2, 2, 2], windowSize: [2, 2, 3], embedDim: 8, numBlocks: 2,
              numHeads: 2, mlpDim: 6, dropout: dropout, dropPath: dropPath)
    }

    @Test func keysShapesAndOutputShape() {
        let core = SwinCore(configuration: smallConfiguration(), generator: RandomGenerator(seed: 1))
        let keys = Dictionary(uniqueKeysWithValues: core.namedStateTensors().map { ($0.path, $0.tensor.shape) })
        #expect(keys["patch_embedding.proj.weight"] == [8, 1, 2, 2, 2])
        #expect(keys["patch_embedding.norm.weight"] == [8])
        #expect(keys["transformer.blocks.1.mha.relative_position_bias_table"] == [3 * 3 * 5, 2])
        #expect(keys["transformer.blocks.1.mha.relative_position_index"] == [12, 12])
        #expect(keys["transformer.blocks.0.mlp.linear1.0.weight"] == [12, 8])
        #expect(keys["transformer.blocks.0.mlp.dwconv.0.conv.weight"] == [6, 1, 3, 3, 3])
        #expect(keys["transformer.blocks.0.mlp.linear2.0.weight"] == [8, 6])
        #expect(keys["transformer.blocks.0.b-mlp.model.0.weight"] == [4, 4])
        #expect(keys["transformer.blocks.0.b-mlp.model.3.weight"] == [4, 4])
        #expect(keys["transformer.drop_path.keep_prop"] == [])
        #expect(keys.count == 4 + 2 * 16 + 1)
        #expect(Set(core.namedBuffers().map(\.path)) == ["transformer.blocks.0.mha.relative_position_index",
                                                         "transformer.blocks.1.mha.relative_position_index",
                                                         "transformer.drop_path.keep_prop"])
        core.eval()
        let gen = RandomGenerator(seed: 2)
        let video = Tensor.randomNormal([2, 1, 6, 5, 8], generator: gen)
        let behavior = Tensor.randomNormal([2, 4, 6], generator: gen)
        let y = withNoGrad { core(video: video, behavior: behavior) }
        // H 5 is padded to 6 by the patch embedding: tokens (3, 3, 4).
        #expect(y.shape == [2, 8, 3, 3, 4] && y.shape == core.outputShape(for: video.shape))
        #expect(y.scalars.allSatisfy { $0.isFinite })
    }

    @Test func configurationUsesTheReferenceNamesAndPaperDefaults() throws {
        let paper = SwinCore.Configuration()
        #expect(paper.embedDim == 224 && paper.windowSize == [8, 7, 7] && paper.numBlocks == 4 && paper.numHeads == 4
                && paper.mlpDim == 488 && paper.patchSize == [2, 2, 2] && paper.behaviorDim == 4)
        #expect(paper == SwinCore.Configuration.defaults)
        // The reference's core_dict names, read by the translation.
        let json = #"{"emb_dim": 24, "window_size": [4, 3, 4], "t_dropout": 0.1, "num_blocks": 2}"#
        let reference = try JSONDecoder().decode(SwinCore.ReferenceConfiguration.self, from: Data(json.utf8))
        let decoded = reference.configuration
        #expect(decoded.embedDim == 24 && decoded.windowSize == [4, 3, 4] && decoded.dropout == 0.1 && decoded.numBlocks == 2
                && decoded.mlpDim == 488)
        let roundTrip = try JSONDecoder().decode(SwinCore.ReferenceConfiguration.self, from: JSONEncoder().encode(reference))
        #expect(roundTrip == reference)
        let encoded = try #require(JSONSerialization.jsonObject(with: JSONEncoder().encode(SwinCore.ReferenceConfiguration(paper))) as? [String: Any])
        #expect(Set(encoded.keys) == Set(SwinCore.ReferenceConfiguration.CodingKeys.allCases.map(\.rawValue)))
        // The configuration itself codes its Swift property names (the registry's JSON).
        let swift = try #require(JSONSerialization.jsonObject(with: JSONEncoder().encode(decoded)) as? [String: Any])
        #expect(Set(swift.keys) == ["inChannels", "behaviorDim", "patchSize", "windowSize", "embedDim", "numBlocks", "numHeads",
                                    "mlpDim", "dropout", "dropPath"])
        #expect(try JSONDecoder().decode(SwinCore.Configuration.self, from: JSONEncoder().encode(decoded)) == decoded)
        #expect(paper.block.attention.shiftSize == [4, 3, 3])
    }

    @Test func dropPathIsSeededPerSampleInTrainingAndIdentityInEval() {
        let x = Tensor.randomNormal([64, 3, 2], generator: RandomGenerator(seed: 3))
        let drop = SwinDropPath(p: 0.25, generator: RandomGenerator(seed: 4))
        let y = drop(x)
        var kept = 0
        for s in 0..<64 {
            let a = Array(x.scalars[(s * 6)..<(s * 6 + 6)]), b = Array(y.scalars[(s * 6)..<(s * 6 + 6)])
            if b.allSatisfy({ $0 == 0 }) { continue }
            kept += 1
            expectClose(b, a.map { $0 / 0.75 }, "kept sample \(s)")
        }
        #expect(kept > 32 && kept < 64, "kept \(kept) of 64 at keep probability 0.75")
        let again = SwinDropPath(p: 0.25, generator: RandomGenerator(seed: 4))(x)
        #expect(again.scalars == y.scalars)
        drop.eval()
        #expect(drop(x) === x)
        #expect(SwinDropPath(p: 0, generator: RandomGenerator(seed: 1))(x) === x)
        #expect(drop.stateDict()["keep_prop"]?.item == 0.75)
    }

    @Test func trainingModeIsReproducibleAndDiffersFromEval() {
        let gen = RandomGenerator(seed: 6)
        let video = Tensor.randomNormal([4, 1, 4, 4, 6], generator: gen)
        let behavior = Tensor.randomNormal([4, 4, 4], generator: gen)
        func run(training: Bool) -> Tensor {
            let core = SwinCore(configuration: smallConfiguration(dropPath: 0.3, dropout: 0.2), generator: RandomGenerator(seed: 9))
            core.train(training)
            return withNoGrad { core(video: video, behavior: behavior) }
        }
        let a = run(training: true), b = run(training: true), e = run(training: false)
        #expect(a.scalars == b.scalars)
        #expect(a.scalars != e.scalars)
    }

    @Test func behaviourTokensConcatenateConsecutiveFrames() {
        let mlp = BehaviorMLP(configuration: .init(behaviorDim: 4, embedDim: 8, framesPerToken: 2), generator: RandomGenerator(seed: 2))
        let behavior = Tensor.randomNormal([1, 6, 4], generator: RandomGenerator(seed: 3))
        let tokens = mlp(behavior)
        #expect(tokens.shape == [1, 3, 8])
        let perFrame = mlp.model(behavior)                       // (1, 6, 4)
        // Token 1 = [frame 2, frame 3].
        #expect(Array(tokens.scalars[8..<16]) == Array(perFrame.scalars[8..<16]))
    }

    @Test func attentionGradientsAgainstFiniteDifferences() {
        let gen = RandomGenerator(seed: 12)
        let geo = SwinWindowGeometry(gridSize: [3, 3, 2], windowSize: [2, 2, 2], shiftSize: [1, 1, 1])
        let x = Tensor.randomNormal([1, 3, 3, 2, 4], generator: gen, requiresGrad: true)
        let qkvW = Tensor.randomNormal([12, 4], std: 0.5, generator: gen, requiresGrad: true)
        let qkvB = Tensor.randomNormal([12], std: 0.3, generator: gen, requiresGrad: true)
        let projW = Tensor.randomNormal([4, 4], std: 0.5, generator: gen, requiresGrad: true)
        let table = Tensor.randomNormal([27, 2], generator: gen, requiresGrad: true)
        let index = Tensor(SwinWindowGeometry.relativePositionIndex(windowSize: [2, 2, 2]).map(Float.init), shape: [8, 8])
        for r in GradientCheck.check([x, qkvW, qkvB, projW, table], { t in
            shiftedWindowAttention3d(t[0], qkvWeight: t[1], qkvBias: t[2], projWeight: t[3], projBias: nil,
                                     relativePositionBias: relativePositionBias(table: t[4], index: index, tokens: 8),
                                     geometry: geo, numHeads: 2)
        }) {
            #expect(r.passed, "\(r)")
        }
    }
}
