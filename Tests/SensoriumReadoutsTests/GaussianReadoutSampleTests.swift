import Testing
import SensoriumTensor
import SensoriumLayers
import SensoriumReadouts

/// The fused sample-and-dot against the composed `gridSample` form, and finite differences.
@Suite struct GaussianReadoutSampleTests {
    /// Values and all three gradients equal the composed op, including positions outside the map,
    /// on the edges, and channel counts that are and are not multiples of the SIMD width.
    @Test(arguments: [(3, 5, 6, 7, 9), (2, 19, 4, 5, 6), (4, 16, 1, 3, 4), (64, 16, 5, 6, 200)])
    func matchesComposedGridSample(_ shape: (Int, Int, Int, Int, Int)) {
        let (m, c, h, w, n) = shape
        let x = randn([m, c, h, w], seed: 1, requiresGrad: true)
        let positions = uniform([m, n, 2], -1.3, 1.3, seed: 2, requiresGrad: true)
        // Some exact edges and corners.
        positions.withUnsafeMutableBufferPointer { p in
            p[0] = 1; p[1] = -1; p[2] = -1; p[3] = 1; p[4] = 0; p[5] = 1
        }
        let features = randn([c, n], seed: 3, requiresGrad: true)
        let upstream = randn([m, n], seed: 4)

        let fused = gaussianReadoutSample(x, positions: positions, features: features)
        fused.backward(upstream)
        let (gx, gp, gf) = (x.grad!, positions.grad!, features.grad!)
        x.grad = nil; positions.grad = nil; features.grad = nil

        let composed = composedReadout(x, positions: positions, features: features)
        composed.backward(upstream)
        expectNear(fused, composed, atol: 1e-5, rtol: 1e-4, "output")
        expectNear(gx, x.grad!, atol: 1e-5, rtol: 1e-4, "grad x")
        expectNear(gp, positions.grad!, atol: 1e-4, rtol: 1e-4, "grad positions")
        expectNear(gf, features.grad!, atol: 1e-4, rtol: 1e-4, "grad features")
    }

    /// A (N, C, T, H, W) input is read as N·T frames without transposing it first.
    @Test func videoLayoutEqualsFrames() {
        let (b, c, t, h, w, n) = (2, 3, 4, 5, 6, 7)
        let x = randn([b, c, t, h, w], seed: 5, requiresGrad: true)
        let positions = uniform([b * t, n, 2], -1, 1, seed: 6, requiresGrad: true)
        let features = randn([c, n], seed: 7, requiresGrad: true)
        let upstream = randn([b * t, n], seed: 8)
        let video = gaussianReadoutSample(x, positions: positions, features: features)
        video.backward(upstream)
        let gx = x.grad!
        x.grad = nil
        let frames = x.permuted([0, 2, 1, 3, 4]).reshaped([b * t, c, h, w])
        let reference = composedReadout(frames, positions: positions, features: features)
        reference.backward(upstream)
        expectNear(video, reference, "output")
        expectNear(gx, x.grad!, "grad x")
    }

    /// Finite differences, with positions kept away from pixel boundaries (where bilinear
    /// interpolation has kinks).
    @Test func gradientCheck() {
        let (m, c, h, w, n) = (2, 3, 4, 5, 3)
        let x = randn([m, c, h, w], seed: 9, requiresGrad: true)
        // Pixel coordinates k + 0.3 … k + 0.7, mapped back to [-1, 1]; one neuron partly outside.
        var values: [Float] = []
        let cells = uniform([m, n, 2], 0.3, 0.7, seed: 10).scalars
        for i in 0..<(m * n) {
            let px = Float(i % (w - 1)) + cells[2 * i], py = Float(i % (h - 1)) + cells[2 * i + 1]
            values.append(px / Float(w - 1) * 2 - 1)
            values.append(py / Float(h - 1) * 2 - 1)
        }
        values[0] = -1 - 0.5 * 2 / Float(w - 1)   // half a pixel left of the map
        let positions = Tensor(values, shape: [m, n, 2], requiresGrad: true)
        let features = randn([c, n], seed: 11, requiresGrad: true)
        expectGradientsPass([x, positions, features], epsilon: 1e-3, atol: 5e-3, rtol: 2e-2) {
            gaussianReadoutSample($0[0], positions: $0[1], features: $0[2])
        }
    }

    /// Inputs that need no gradient get none, and the others still get theirs.
    @Test func partialGradients() {
        let x = randn([2, 4, 3, 3], seed: 12)
        let positions = uniform([2, 5, 2], -1, 1, seed: 13)
        let features = randn([4, 5], seed: 14, requiresGrad: true)
        let y = gaussianReadoutSample(x, positions: positions, features: features)
        y.sum().backward()
        #expect(x.grad == nil && positions.grad == nil)
        let reference = composedReadout(x, positions: positions, features: features.detached())
        // d/dfeatures[c, n] of Σ_m out = Σ_m sample[m, c, n].
        let sampled = gridSample(x, grid: positions.reshaped([2, 5, 1, 2]), alignCorners: true).reshaped([2, 4, 5]).sum(axis: 0)
        expectNear(features.grad!, sampled, "grad features")
        #expect(reference.shape == [2, 5])
    }

    /// Non-finite positions read zeros instead of trapping.
    @Test func nonFinitePositionsReadZero() {
        let x = Tensor.ones([1, 2, 3, 3])
        let positions = Tensor([Float.nan, 0, 0, .infinity, 1e30, 0], shape: [1, 3, 2])
        let y = gaussianReadoutSample(x, positions: positions, features: Tensor.ones([2, 3]))
        #expect(y.scalars == [0, 0, 0])
    }
}
