import Foundation
import Testing
import SensoriumTensor
import SensoriumLayers
@testable import SensoriumReadouts

@Suite struct HierarchicalTests {
    /// PyTorch's `nearest` indices, including the cases where its Float32 scale rounds down
    /// (106 → 26 at 13 gives 52, where exact arithmetic gives 53).
    @Test func nearestIndicesFollowPyTorch() {
        #expect(nearestIndices(from: 106, to: 26)[13] == 52)
        #expect(nearestIndices(from: 150, to: 18)[15] == 124)
        #expect(nearestIndices(from: 234, to: 14)[7] == 116)
        #expect(nearestIndices(from: 292, to: 36)[27] == 218)
        // Index sums PyTorch gives for real neuron counts on Float32 tensors (Float64 tensors use
        // a Float64 scale and give 15 448 830 for the first).
        #expect(nearestIndices(from: 7863, to: 3931).reduce(0, +) == 15_448_831)
        #expect(nearestIndices(from: 3931, to: 7863).reduce(0, +) == 15_448_830)
        #expect(nearestIndices(from: 8202, to: 512).reduce(0, +) == 2_095_356)
        #expect(nearestIndices(from: 512, to: 8202).reduce(0, +) == 2_095_356)
        #expect(nearestIndices(from: 37, to: 2) == [0, 18])
        #expect(nearestIndices(from: 5, to: 10) == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4])
    }

    /// A readout holding the reference script's deterministic parameters.
    private func makeReadout(active: [Int], fusion: HierarchicalGaussianReadout.Fusion) -> HierarchicalGaussianReadout {
        let (c, n) = (4, 37)
        let readout = HierarchicalGaussianReadout(inputChannels: c, neuronCount: n, positions: .free(),
                                                  configuration: .init(activeLevels: active, fusion: fusion),
                                                  generator: RandomGenerator(seed: 1))
        readout.freePositions!.assign(deterministic([1, n, 1, 2], 0.53, 0.2, scale: 0.8))
        readout.featureWeights.assign(deterministic([1, c, 1, n], 0.29, 0.5))
        readout.bias!.assign(deterministic([n], 0.43, 0.9, scale: 0.1))
        for k in [2, 4, 8, 16] {
            readout.levelFeatures[k]!.assign(deterministic([1, c, 1, n / k], 0.31 + 0.01 * Double(k), 0.7))
            let net = readout.refinements[k]!
            let h = 16 * k
            let first = net[0] as! Convolution, last = net[2] as! Convolution
            first.weight.assign(deterministic([h, 1, 1], 0.17 + 0.01 * Double(k), 0.1, scale: 0.5))
            first.bias!.assign(deterministic([h], 0.19, 0.2 + 0.01 * Double(k), scale: 0.5))
            last.weight.assign(deterministic([1, h, 1], 0.23, 0.3 + 0.01 * Double(k), scale: 0.5))
        }
        for (count, block) in readout.fusionBlocks {
            let mlp = block["module"] as! Sequential
            let l = Double(count)
            (mlp[0] as! Linear).weight.assign(deterministic([count, count], 0.61, 0.1 * l))
            (mlp[0] as! Linear).bias!.assign(deterministic([count], 0.67, 0.2 * l, scale: 0.5))
            (mlp[2] as! Linear).weight.assign(deterministic([count, count], 0.73, 0.3 * l))
            (mlp[2] as! Linear).bias!.assign(deterministic([count], 0.79, 0.4 * l, scale: 0.5))
        }
        readout.eval()
        return readout
    }

    /// Mean fusion of all levels, gated fusion of levels 2 and 8, and the plain readout equal the
    /// PyTorch reference (eval mode, with a shift, 37 neurons so every level rounds).
    @Test(arguments: [("mean", [2, 4, 8, 16]), ("adaptive", [2, 8]), ("plain", [])])
    func matchesPyTorchReference(_ variant: (String, [Int])) {
        let readout = makeReadout(active: variant.1, fusion: variant.0 == "adaptive" ? .adaptive : .mean)
        let x = deterministic([2, 4, 3, 5, 6], 0.37, 0.11)
        let shift = deterministic([2, 3, 2], 0.71, 0.3, scale: 0.2)
        let y = readout(x, shift: shift)
        let reference: [Float]
        switch variant.0 {
        case "mean": reference = HierarchicalReference.meanAll
        case "adaptive": reference = HierarchicalReference.adaptive28
        default: reference = HierarchicalReference.plain
        }
        expectNear(y, Tensor(reference, shape: [2, 3, 37]), atol: 2e-5, rtol: 1e-4, variant.0)
    }

    /// State-dictionary keys follow Dynamic-V1FM (`_features{k}`, `up_refine{k}.0/2`,
    /// `fusion_block{L}.module.0/2` for the adaptive variant).
    @Test func keys() {
        let mean = HierarchicalGaussianReadout(inputChannels: 3, neuronCount: 40, positions: .free(),
                                               configuration: .init(fusion: .mean), generator: RandomGenerator(seed: 2))
        let keys = Set(mean.stateDict().keys)
        for k in [2, 4, 8, 16] {
            #expect(keys.contains("_features\(k)") && keys.contains("up_refine\(k).0.weight")
                    && keys.contains("up_refine\(k).0.bias") && keys.contains("up_refine\(k).2.weight"))
            #expect(!keys.contains("up_refine\(k).2.bias"))
            #expect(mean.stateDict()["_features\(k)"]!.shape == [1, 3, 1, 40 / k])
            #expect(mean.stateDict()["up_refine\(k).0.weight"]!.shape == [16 * k, 1, 1])
        }
        #expect(keys.contains("_mu") && keys.contains("sigma") && keys.contains("_features") && keys.contains("bias"))
        #expect(!keys.contains { $0.hasPrefix("fusion_block") })
        let adaptive = HierarchicalGaussianReadout(inputChannels: 3, neuronCount: 40, positions: .free(),
                                                   configuration: .init(fusion: .adaptive), generator: RandomGenerator(seed: 3))
        let adaptiveKeys = Set(adaptive.stateDict().keys)
        for count in 2...5 {
            #expect(adaptiveKeys.contains("fusion_block\(count).module.0.weight") && adaptiveKeys.contains("fusion_block\(count).module.2.bias"))
        }
        // Parameters per neuron ≈ C·(1 + 1/2 + 1/4 + 1/8 + 1/16) + sigma 4 + bias 1 (+ the shared networks).
        #expect(mean.featureWeights.shape == [1, 3, 1, 40])
    }

    /// Finite differences through the whole readout in training mode (positions sampled with
    /// given noise), with mean and adaptive fusion.
    @Test(arguments: [HierarchicalGaussianReadout.Fusion.mean, .adaptive])
    func gradientCheck(_ fusion: HierarchicalGaussianReadout.Fusion) {
        let readout = HierarchicalGaussianReadout(inputChannels: 2, neuronCount: 5, positions: .free(),
                                                  configuration: .init(initSigma: 0.05, levels: [2, 4], fusion: fusion),
                                                  refinementWidth: { _ in 3 }, generator: RandomGenerator(seed: 4))
        readout.freePositions!.assign(Tensor([-0.55, 0.1, 0.2, -0.3, 0.45, 0.62, -0.1, -0.7, 0.33, 0.05], shape: [1, 5, 1, 2]))
        let x = randn([2, 2, 3, 4, 5], seed: 5, requiresGrad: true)
        let noise = randn([6, 5, 2], seed: 6)
        let level = readout.levelFeatures[2]!
        let refine = readout.refinements[4]![0] as! Convolution
        var inputs = [x, readout.freePositions!, readout.featureWeights, level, refine.weight, readout.sigma]
        if fusion == .adaptive { inputs.append(((readout.fusionBlocks[3]!["module"] as! Sequential)[0] as! Linear).weight) }
        expectGradientsPass(inputs, epsilon: 1e-3, atol: 5e-3, rtol: 3e-2) { inputs in
            readout.predictFrames(inputs[0], noise: noise)
        }
    }

    /// The fused scalar network equals Conv1d → ELU → Conv1d (no bias) over a one-channel
    /// sequence, in values and gradients, and passes finite differences.
    @Test func scalarNetworkMatchesConvolutions() {
        let g = RandomGenerator(seed: 7)
        let first = Conv1d(1, 6, kernelSize: 1, generator: g), last = Conv1d(6, 1, kernelSize: 1, bias: false, generator: g)
        let y = randn([3, 50], seed: 8, std: 2, requiresGrad: true)
        let upstream = randn([3, 50], seed: 9)
        let fused = scalarNetwork(y, inputWeight: first.weight.reshaped([6]), inputBias: first.bias!,
                                  outputWeight: last.weight.reshaped([6]))
        fused.backward(upstream)
        let grads = [y.grad!, first.weight.grad!, first.bias!.grad!, last.weight.grad!]
        for t in [y, first.weight, first.bias!, last.weight] { t.grad = nil }
        let composed = last(first(y.reshaped([150, 1, 1])).elu(alpha: 1)).reshaped([3, 50])
        composed.backward(upstream)
        expectNear(fused, composed, "values")
        expectNear(grads[0], y.grad!, "grad x")
        expectNear(grads[1], first.weight.grad!, atol: 1e-4, "grad input weight")
        expectNear(grads[2], first.bias!.grad!, atol: 1e-4, "grad input bias")
        expectNear(grads[3], last.weight.grad!, atol: 1e-4, "grad output weight")

        let x = randn([4, 7], seed: 10, requiresGrad: true)
        let a = randn([5], seed: 11, requiresGrad: true), b = randn([5], seed: 12, requiresGrad: true)
        let c = randn([5], seed: 13, requiresGrad: true)
        expectGradientsPass([x, a, b, c], epsilon: 1e-3) { scalarNetwork($0[0], inputWeight: $0[1], inputBias: $0[2], outputWeight: $0[3]) }
        // The parallel path (several chunks) gives the same parameter gradients as a direct sum.
        let big = randn([200_000], seed: 14)
        let p = [randn([4], seed: 15, requiresGrad: true), randn([4], seed: 16, requiresGrad: true), randn([4], seed: 17, requiresGrad: true)]
        scalarNetwork(big, inputWeight: p[0], inputBias: p[1], outputWeight: p[2]).sum().backward()
        var dc = [Double](repeating: 0, count: 4)
        let bs = big.scalars, a0 = p[0].scalars, b0 = p[1].scalars
        for v in bs {
            for j in 0..<4 {
                let z = Double(a0[j] * v + b0[j])
                dc[j] += z > 0 ? z : Foundation.expm1(z)
            }
        }
        expectNear(p[2].grad!, Tensor(dc.map(Float.init)), atol: 1e-2, rtol: 1e-4, "parallel sum")
    }

    /// Any number of frames works (the original hard-codes 15), and levels can be switched.
    @Test func anyFrameCountAndActiveLevels() {
        let readout = HierarchicalGaussianReadout(inputChannels: 3, neuronCount: 20, positions: .free(),
                                                  configuration: .init(fusion: .adaptive), generator: RandomGenerator(seed: 18))
        for t in [1, 4, 7] {
            #expect(readout(randn([2, 3, t, 4, 4], seed: 19)).shape == [2, t, 20])
        }
        readout.activeLevels = [4]
        #expect(readout(randn([1, 3, 2, 4, 4], seed: 20)).shape == [1, 2, 20])
    }
}
