import Testing
import SensoriumTensor
import SensoriumTestSupport

/// `batchNorm(…, activation: .silu)` equals `batchNorm(…).silu()` in value, running statistics and
/// gradients, in training and evaluation mode, and passes finite differences.
@Suite struct FusedBatchNormSiLUTests {
    private func random(_ shape: [Int], seed: UInt64, requiresGrad: Bool = false) -> Tensor {
        Tensor.randomNormal(shape, generator: RandomGenerator(seed: seed), requiresGrad: requiresGrad)
    }

    @Test(arguments: [true, false]) func equalsTheComposedOps(training: Bool) {
        // 13 values per row: the eight-lane loop and the scalar tail.
        let shape = [3, 4, 13]
        var results: [(y: [Float], gx: [Float], gw: [Float], gb: [Float], mean: [Float], variance: [Float])] = []
        for fused in [false, true] {
            let x = random(shape, seed: 1, requiresGrad: true)
            let w = Tensor.randomUniform([4], low: 0.5, high: 1.5, generator: RandomGenerator(seed: 2), requiresGrad: true)
            let b = random([4], seed: 3, requiresGrad: true)
            let rm = random([4], seed: 4), rv = Tensor.randomUniform([4], low: 0.5, high: 2, generator: RandomGenerator(seed: 5))
            let y = fused
                ? batchNorm(x, runningMean: rm, runningVar: rv, weight: w, bias: b, training: training, activation: .silu)
                : batchNorm(x, runningMean: rm, runningVar: rv, weight: w, bias: b, training: training).silu()
            (y * random(shape, seed: 6)).sum().backward()
            results.append((y.scalars, x.grad!.scalars, w.grad!.scalars, b.grad!.scalars, rm.scalars, rv.scalars))
        }
        let (composed, fused) = (results[0], results[1])
        expectClose(fused.y, composed.y, atol: 1e-6, rtol: 1e-6, "output")
        expectClose(fused.gx, composed.gx, atol: 1e-5, rtol: 1e-5, "input gradient")
        expectClose(fused.gw, composed.gw, atol: 1e-5, rtol: 1e-5, "weight gradient")
        expectClose(fused.gb, composed.gb, atol: 1e-5, rtol: 1e-5, "bias gradient")
        #expect(fused.mean == composed.mean && fused.variance == composed.variance)
    }

    @Test func finiteDifferences() {
        let x = random([2, 3, 2, 5], seed: 7, requiresGrad: true)
        let w = Tensor.randomUniform([3], low: 0.5, high: 1.5, generator: RandomGenerator(seed: 8), requiresGrad: true)
        let b = random([3], seed: 9, requiresGrad: true)
        let rm = random([3], seed: 10), rv = Tensor.randomUniform([3], low: 0.5, high: 2, generator: RandomGenerator(seed: 11))
        expectGradients([x, w, b]) { t in
            batchNorm(t[0], runningMean: nil, runningVar: nil, weight: t[1], bias: t[2], training: true, activation: .silu)
        }
        expectGradients([x, w, b]) { t in
            batchNorm(t[0], runningMean: rm, runningVar: rv, weight: t[1], bias: t[2], training: false, activation: .silu)
        }
    }
}
