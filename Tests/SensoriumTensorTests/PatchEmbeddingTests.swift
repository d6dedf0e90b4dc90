import Testing
@testable import SensoriumTensor
import SensoriumTestSupport

@Suite struct PatchEmbeddingTests {
    @Test func matchesTheComposedOpsWithAllGradients() {
        let gen = RandomGenerator(seed: 3)
        let (kernel, stride) = ([3, 3, 2], [1, 2, 3])
        let x = Tensor.randomNormal([2, 3, 6, 7, 9], generator: gen, requiresGrad: true)
        let K = 3 * 3 * 3 * 2, E = 5
        let gamma = Tensor.randomUniform([K], low: 0.5, high: 1.5, generator: gen, requiresGrad: true)
        let beta = Tensor.randomNormal([K], std: 0.2, generator: gen, requiresGrad: true)
        let w = Tensor.randomNormal([E, K], std: 0.3, generator: gen, requiresGrad: true)
        let b = Tensor.randomNormal([E], generator: gen, requiresGrad: true)
        let params = [x, gamma, beta, w, b]
        let composed = linear(layerNorm(unfoldPatches3d(x, kernel: kernel, stride: stride), normalizedShape: [K],
                                        weight: gamma, bias: beta, eps: 1e-5), weight: w, bias: b)
        let g = Tensor.randomNormal(composed.shape, generator: gen)
        composed.backward(g)
        let reference = params.map { $0.grad!.scalars }
        for p in params { p.zeroGrad() }
        // 7 rows per chunk does not divide the 2 · 4 · 3 · 3 = 72 patches.
        let fused = patchEmbedding3d(x, kernel: kernel, stride: stride, normWeight: gamma, normBias: beta, weight: w, bias: b,
                                     rowsPerChunk: 7)
        #expect(fused.shape == composed.shape)
        expectClose(fused, composed.scalars, atol: 1e-5, rtol: 1e-4, "output")
        fused.backward(g)
        for (i, (p, r)) in zip(params, reference).enumerated() {
            expectClose(p.grad!, r, atol: 1e-5, rtol: 1e-3, "gradient \(i) \(p.shape)")
        }
    }

    @Test func gradientCheck() {
        let gen = RandomGenerator(seed: 4)
        let x = Tensor.randomNormal([1, 2, 4, 5, 5], generator: gen, requiresGrad: true)
        let gamma = Tensor.randomUniform([16], low: 0.5, high: 1.5, generator: gen, requiresGrad: true)
        let beta = Tensor.randomNormal([16], std: 0.2, generator: gen, requiresGrad: true)
        let w = Tensor.randomNormal([3, 16], std: 0.3, generator: gen, requiresGrad: true)
        let b = Tensor.randomNormal([3], generator: gen, requiresGrad: true)
        expectGradients([x, gamma, beta, w, b]) { t in
            patchEmbedding3d(t[0], kernel: [2, 2, 2], stride: [1, 2, 1], normWeight: t[1], normBias: t[2], weight: t[3],
                             bias: t[4], rowsPerChunk: 5)
        }
        // Without the optional parameters.
        expectGradients([x, w]) { t in
            patchEmbedding3d(t[0], kernel: [2, 2, 2], stride: [2, 1, 2], normWeight: nil, normBias: nil, weight: t[1], bias: nil)
        }
    }

    /// Enough patches for the threaded pieces (forward) and several row groups of the weight-side
    /// product dYᵀ·x̂ (backward), with and without an input gradient: the composed ops' values and
    /// gradients.
    @Test func threadedPiecesAndRowGroupsMatchTheComposedOps() {
        let gen = RandomGenerator(seed: 6)
        let (kernel, stride) = ([3, 4, 4], [1, 2, 2])
        let K = 2 * 3 * 4 * 4, E = 8
        // 2 · 6 · 17 · 19 = 3,876 patches: two row groups of at most 2,048.
        let x = Tensor.randomNormal([2, 2, 8, 36, 40], mean: 0.3, std: 1.2, generator: gen)
        let gamma = Tensor.randomUniform([K], low: 0.5, high: 1.5, generator: gen, requiresGrad: true)
        let beta = Tensor.randomNormal([K], std: 0.2, generator: gen, requiresGrad: true)
        let w = Tensor.randomNormal([E, K], std: 0.3, generator: gen, requiresGrad: true)
        let b = Tensor.randomNormal([E], generator: gen, requiresGrad: true)
        for inputGradient in [false, true] {
            x.requiresGrad = inputGradient
            let params = (inputGradient ? [x] : []) + [gamma, beta, w, b]
            for p in params { p.zeroGrad() }
            let composed = linear(layerNorm(unfoldPatches3d(x, kernel: kernel, stride: stride), normalizedShape: [K],
                                            weight: gamma, bias: beta, eps: 1e-5), weight: w, bias: b)
            let g = Tensor.randomNormal(composed.shape, generator: gen)
            composed.backward(g)
            let reference = params.map { $0.grad!.scalars }
            for p in params { p.zeroGrad() }
            let fused = patchEmbedding3d(x, kernel: kernel, stride: stride, normWeight: gamma, normBias: beta, weight: w,
                                         bias: b, rowsPerChunk: 100)
            expectClose(fused, composed.scalars, atol: 1e-4, rtol: 1e-4, "output (input gradient \(inputGradient))")
            fused.backward(g)
            for (i, (p, r)) in zip(params, reference).enumerated() {
                expectClose(p.grad!, r, atol: 2e-3, rtol: 1e-3, "gradient \(i) \(p.shape) (input gradient \(inputGradient))")
            }
        }
    }

    @Test func keepsOnlyOutputAndPerPatchStatistics() {
        let gen = RandomGenerator(seed: 5)
        let x = Tensor.randomNormal([1, 5, 12, 13, 17], generator: gen, requiresGrad: true)
        let K = 5 * 5 * 4 * 4
        let w = Tensor.randomNormal([8, K], std: 0.1, generator: gen, requiresGrad: true)
        let tracker = AllocationTracker()
        tracker.track {
            let y = patchEmbedding3d(x, kernel: [5, 4, 4], stride: [1, 2, 2], normWeight: nil, normBias: nil, weight: w,
                                     bias: nil, rowsPerChunk: 16)
            let patches = y.count / 8
            #expect(tracker.liveBytes == (y.count + 2 * patches) * 4)
            // The patch tensor itself (patches × K) is never allocated; one chunk of scratch is.
            #expect(tracker.peakBytes <= (y.count + 2 * patches + 16 * K) * 4)
            #expect(tracker.peakBytes < patches * K * 4)
        }
    }
}
