import Foundation
import Testing
import SensoriumTensor
@testable import SensoriumLayers

/// The building blocks of DwiseNeuro's core: positional encoding, inverted residual, core layout,
/// initialisation, input assembly.
@Suite struct DwiseNeuroLayerTests {
    private func random(_ shape: [Int], seed: UInt64, std: Float = 1, requiresGrad: Bool = false) -> Tensor {
        Tensor.randomNormal(shape, std: std, generator: RandomGenerator(seed: seed), requiresGrad: requiresGrad)
    }

    /// Gives every BatchNorm non-trivial affine parameters and running statistics.
    private func perturbBatchNorms(_ module: Module, seed: UInt64) {
        let g = RandomGenerator(seed: seed)
        module.apply { m in
            guard let bn = m as? BatchNorm else { return }
            let c = bn.numFeatures
            bn.weight?.assign(Tensor.randomUniform([c], low: 0.6, high: 1.4, generator: g))
            bn.bias?.assign(Tensor.randomNormal([c], std: 0.1, generator: g))
            bn.runningMean?.assign(Tensor.randomNormal([c], std: 0.2, generator: g))
            bn.runningVar?.assign(Tensor.randomUniform([c], low: 0.5, high: 2, generator: g))
        }
    }

    /// The encoding written out from its definition: k = 2⌈C/6⌉, sin/cos blocks over t, h, w.
    @Test func positionalEncodingFollowsItsDefinition() {
        for channels in [8, 12, 13, 64] {
            let pe = PositionalEncoding3d(channels: channels)
            let k = (channels + 5) / 6 * 2
            #expect(pe.axisChannels == k)
            #expect(pe.invFreq.shape == [k / 2])
            #expect(pe.namedBuffers().map(\.path) == ["inv_freq"])
            #expect(pe.namedParameters().isEmpty)
            let (t, h, w) = (3, 4, 5)
            let e = pe.encoding(frames: t, height: h, width: w)
            #expect(e.shape == [1, channels, t, h, w])
            let values = e.scalars
            for c in 0..<channels {
                let j = (c % k) % (k / 2)
                let f = 1 / pow(10000, Double(2 * j) / Double(k))
                for it in 0..<t { for ih in 0..<h { for iw in 0..<w {
                    let position = Double([it, ih, iw][c / k])
                    let expected = (c % k) < k / 2 ? sin(position * f) : cos(position * f)
                    let got = values[(((c * t) + it) * h + ih) * w + iw]
                    #expect(abs(Double(got) - expected) < 1e-6, "channel \(c) at \(it),\(ih),\(iw)")
                } } }
            }
            let x = random([2, channels, t, h, w], seed: 1)
            let y = pe(x)
            #expect(zip(y.scalars, (x + e).scalars).allSatisfy { $0 == $1 })
        }
    }

    /// A loaded `inv_freq` replaces the cached encoding.
    @Test func positionalEncodingFollowsLoadedFrequencies() throws {
        let pe = PositionalEncoding3d(channels: 6)
        let before = pe.encoding(frames: 2, height: 2, width: 2).scalars
        try pe.loadStateDict(["inv_freq": Tensor([0.5])])
        let after = pe.encoding(frames: 2, height: 2, width: 2)
        #expect(after.scalars != before)
        #expect(abs(after[0, 0, 1, 0, 0] - Float(sin(0.5))) < 1e-7)
    }

    /// Keys and shapes of one block follow the reference (typos included).
    @Test func invertedResidualKeys() {
        let block = InvertedResidual3d(inChannels: 4, outChannels: 6, spatialStride: 2, expansionRatio: 3,
                                       seReduceRatio: 4, generator: RandomGenerator(seed: 2))
        let shapes = Dictionary(uniqueKeysWithValues: block.namedStateTensors().map { ($0.path, $0.tensor.shape) })
        var expected: [String: [Int]] = [
            "conv_pw.0.weight": [12, 4, 1, 1, 1], "spat_covn_dw.0.weight": [12, 1, 1, 3, 3],
            "temp_covn_dw.0.weight": [12, 1, 5, 1, 1], "se.conv_reduce.weight": [3, 12, 1, 1, 1],
            "se.conv_reduce.bias": [3], "se.conv_expand.weight": [12, 3, 1, 1, 1], "se.conv_expand.bias": [12],
            "conv_pwl.0.weight": [6, 12, 1, 1, 1],
        ]
        for (prefix, c) in [("conv_pw.1.bn", 12), ("spat_covn_dw.1.bn", 12), ("temp_covn_dw.1.bn", 12),
                            ("conv_pwl.1.bn", 6), ("bn_sc.bn", 6)] {
            for name in ["weight", "bias", "running_mean", "running_var"] { expected["\(prefix).\(name)"] = [c] }
            expected["\(prefix).num_batches_tracked"] = []
        }
        #expect(shapes == expected)
    }

    /// The shortcut reads PyTorch's nearest rows (5 → 3 reads 0, 1, 3), tiles channels, and
    /// normalises; the block output is main path + shortcut.
    @Test func invertedResidualShortcut() {
        let block = InvertedResidual3d(inChannels: 2, outChannels: 3, spatialStride: 2, expansionRatio: 2,
                                       seReduceRatio: 2, generator: RandomGenerator(seed: 3))
        block.eval()
        let x = random([1, 2, 2, 5, 5], seed: 4)
        let s = block.shortcut(x)
        #expect(s.shape == [1, 3, 2, 3, 3])
        let scale = 1 / Float(1 + 1e-5).squareRoot()
        for (oc, ic) in [0, 1, 0].enumerated() { for t in 0..<2 { for (oh, ih) in [0, 1, 3].enumerated() {
            for (ow, iw) in [0, 1, 3].enumerated() {
                #expect(abs(s[0, oc, t, oh, ow] - x[0, ic, t, ih, iw] * scale) < 1e-6)
            }
        } } }
        let y = block(x)
        #expect(y.shape == [1, 3, 2, 3, 3])
        let main = block.pointwiseProjection(block.squeezeExcitation(block.temporalDepthwise(
            block.spatialDepthwise(block.pointwiseExpansion(x)))))
        #expect(zip(y.scalars, (main + s).scalars).allSatisfy { abs($0 - $1) < 1e-6 })
    }

    /// Finite differences through a whole block (eval-mode BatchNorm with perturbed statistics),
    /// strided with channel tiling and unstrided with equal channels.
    @Test func invertedResidualGradients() {
        for (stride, cOut) in [(2, 6), (1, 4)] {
            let block = InvertedResidual3d(inChannels: 4, outChannels: cOut, spatialStride: stride, expansionRatio: 2,
                                           seReduceRatio: 4, generator: RandomGenerator(seed: 5))
            perturbBatchNorms(block, seed: 6)
            block.eval()
            let x = random([2, 4, 3, 5, 4], seed: 7, requiresGrad: true)
            let parameters = block.parameters()
            expectGradients([x] + parameters, epsilon: 1e-2, atol: 3e-3, rtol: 3e-2) { _ in block(x) }
        }
    }

    /// Finite differences through the whole core (stem, encodings, a strided block that widens, a
    /// plain block) with eval-mode BatchNorm, and through the encoding alone.
    @Test func coreGradients() {
        let configuration = DwiseNeuroCore.Configuration(features: [2, 4], spatialStrides: [2, 1], expansionRatio: 2,
                                                         seReduceRatio: 2)
        let core = DwiseNeuroCore(configuration: configuration, generator: RandomGenerator(seed: 20))
        perturbBatchNorms(core, seed: 21)
        core.eval()
        let x = random([1, 5, 3, 5, 5], seed: 22, requiresGrad: true)
        expectGradients([x] + core.parameters(), epsilon: 1e-2, atol: 3e-3, rtol: 3e-2) { _ in core(x) }
        let pe = PositionalEncoding3d(channels: 5)
        let z = random([2, 5, 2, 3, 2], seed: 23, requiresGrad: true)
        expectGradients([z]) { pe($0[0]) }
    }

    /// The core alternates encodings and blocks under `blocks.<i>`, widens in the last block of a
    /// stage, strides to ⌈L/s⌉, and ramps the DropPath rate as `rate · i / B`.
    @Test func coreLayout() {
        let configuration = DwiseNeuroCore.Configuration(features: [4, 4, 6], spatialStrides: [2, 1, 2],
                                                         expansionRatio: 2, seReduceRatio: 4, dropPathRate: 0.3)
        let core = DwiseNeuroCore(configuration: configuration, generator: RandomGenerator(seed: 8))
        let keys = Set(core.stateDict().keys)
        #expect(keys.contains("stem.0.weight") && keys.contains("stem.1.bn.running_var"))
        #expect(Set(keys.filter { $0.hasSuffix("inv_freq") }) == ["blocks.0.inv_freq", "blocks.2.inv_freq", "blocks.4.inv_freq"])
        #expect(core.block(0).outChannels == 4 && core.block(1).outChannels == 6 && core.block(2).outChannels == 6)
        #expect(core.block(0).dropPath.p == 0 && abs(core.block(1).dropPath.p - 0.1) < 1e-7
                && abs(core.block(2).dropPath.p - 0.2) < 1e-7)
        core.eval()
        let x = random([1, 5, 3, 9, 7], seed: 9)
        let y = core(x)
        #expect(y.shape == core.outputShape(for: x.shape))
        #expect(y.shape == [1, 6, 3, 3, 2])
        let stages = core.stageOutputs(x)
        #expect(stages.count == 4 && stages[3].scalars == y.scalars)
        #expect(core.pool(y).shape == [1, 6, 3])
    }

    /// DropPath is live in training (drawn from the generator, reproducible) and off in eval.
    @Test func coreTrainingModeUsesTheGenerator() {
        let configuration = DwiseNeuroCore.Configuration(features: [4, 4], spatialStrides: [1, 1], expansionRatio: 2,
                                                         seReduceRatio: 4, dropPathRate: 1.0)
        func run(seed: UInt64) -> [Float] {
            let core = DwiseNeuroCore(configuration: configuration, generator: RandomGenerator(seed: 10))
            core.apply { ($0 as? DropPath)?.generator = RandomGenerator(seed: seed) }
            return core(random([8, 5, 2, 3, 3], seed: 11)).scalars
        }
        #expect(run(seed: 1) == run(seed: 1))
        #expect(run(seed: 1) != run(seed: 2))
    }

    /// DwiseNeuro's init: conv weights N(0, 2/fan_out) with fan_out = prod(kernel)·out/groups, zero
    /// biases, BatchNorm 1/0.
    @Test func initialisation() {
        let configuration = DwiseNeuroCore.Configuration(features: [16, 32], spatialStrides: [1, 1], expansionRatio: 6,
                                                         seReduceRatio: 8)
        let core = DwiseNeuroCore(configuration: configuration, generator: RandomGenerator(seed: 12))
        func std(_ t: Tensor) -> Double {
            let v = t.scalars.map(Double.init)
            let m = v.reduce(0, +) / Double(v.count)
            return (v.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(v.count)).squareRoot()
        }
        let block = core.block(0)
        let pw = block.pointwiseExpansion[0] as! Conv3d                // 16 -> 96, fan_out 96
        #expect(abs(std(pw.weight) / (2.0 / 96).squareRoot() - 1) < 0.05)
        let dw = block.spatialDepthwise[0] as! Conv3d                  // depth-wise, fan_out 9·96/96
        #expect(abs(std(dw.weight) / (2.0 / 9).squareRoot() - 1) < 0.1)
        #expect(block.squeezeExcitation.reduce.bias!.scalars.allSatisfy { $0 == 0 })
        core.apply { m in
            guard let bn = m as? BatchNorm else { return }
            #expect(bn.weight!.scalars.allSatisfy { $0 == 1 } && bn.bias!.scalars.allSatisfy { $0 == 0 })
        }
    }

    /// The assembled input: centred zero-padded frames, constant behaviour planes, errors for bad shapes.
    @Test func inputAssembly() throws {
        let video = random([2, 3, 2, 4], seed: 13)
        let behavior = random([2, 2, 3], seed: 14), pupil = random([2, 2, 3], seed: 15)
        let x = try DwiseNeuroInput.assemble(video: video, behavior: behavior, pupilCenter: pupil,
                                             canvasHeight: 5, canvasWidth: 6)
        #expect(x.shape == [2, 5, 3, 5, 6])
        for n in 0..<2 { for t in 0..<3 { for h in 0..<5 { for w in 0..<6 {
            let inside = (1..<3).contains(h) && (1..<5).contains(w)
            #expect(x[n, 0, t, h, w] == (inside ? video[n, t, h - 1, w - 1] : 0))
            #expect(x[n, 1, t, h, w] == behavior[n, 0, t] && x[n, 2, t, h, w] == behavior[n, 1, t])
            #expect(x[n, 3, t, h, w] == pupil[n, 0, t] && x[n, 4, t, h, w] == pupil[n, 1, t])
        } } } }
        #expect(throws: DwiseNeuroInput.ShapeError.self) {
            try DwiseNeuroInput.assemble(video: video, behavior: behavior, pupilCenter: pupil, canvasHeight: 1, canvasWidth: 6)
        }
        #expect(throws: DwiseNeuroInput.ShapeError.self) {
            try DwiseNeuroInput.assemble(video: video, behavior: random([2, 2, 4], seed: 16), pupilCenter: pupil,
                                         canvasHeight: 5, canvasWidth: 6)
        }
    }
}
