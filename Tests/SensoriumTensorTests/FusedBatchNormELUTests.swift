import Testing
import SensoriumTensor
import SensoriumTestSupport

/// `batchNorm(…, activation: .elu(alpha:))` equals `batchNorm(…).elu(alpha:)` in value, running
/// statistics and gradients, whether its backward pass recomputes the normalised values from the
/// output (the input is then not kept) or keeps the input (weights near 0, large biases, saturated
/// outputs), and passes finite differences.
@Suite struct FusedBatchNormELUTests {
    private func random(_ shape: [Int], seed: UInt64, requiresGrad: Bool = false) -> Tensor {
        Tensor.randomNormal(shape, generator: RandomGenerator(seed: seed), requiresGrad: requiresGrad)
    }

    /// Weight and bias per case: ordinary (from the output), one weight near 0 and one bias large
    /// against its weight (both keep the input).
    static let cases: [(name: String, weight: [Float], bias: [Float])] = [
        ("ordinary", [0.7, 1.3, -0.9, 1.1], [0.2, -0.5, 0.1, 0]),
        ("tiny weight", [0.7, 1e-4, -0.9, 1.1], [0.2, -0.5, 0.1, 0]),
        ("large bias", [0.7, 1.3, -0.9, 0.01], [0.2, -0.5, 0.1, 3]),
    ]

    @Test(arguments: [true, false], [0, 1, 2]) func equalsTheComposedOps(training: Bool, caseIndex: Int) {
        let c = Self.cases[caseIndex]
        // 13 values per row: the eight-lane loop and the scalar tail.
        let shape = [3, 4, 13]
        for alpha: Float in [1, 0.5] {
            var results: [(y: [Float], gx: [Float], gw: [Float], gb: [Float], mean: [Float], variance: [Float])] = []
            for fused in [false, true] {
                let x = random(shape, seed: 1, requiresGrad: true)
                let w = Tensor(c.weight, shape: [4], requiresGrad: true)
                let b = Tensor(c.bias, shape: [4], requiresGrad: true)
                let rm = random([4], seed: 4), rv = Tensor.randomUniform([4], low: 0.5, high: 2, generator: RandomGenerator(seed: 5))
                let y = fused
                    ? batchNorm(x, runningMean: rm, runningVar: rv, weight: w, bias: b, training: training,
                                activation: .elu(alpha: alpha))
                    : batchNorm(x, runningMean: rm, runningVar: rv, weight: w, bias: b, training: training).elu(alpha: alpha)
                (y * random(shape, seed: 6)).sum().backward()
                results.append((y.scalars, x.grad!.scalars, w.grad!.scalars, b.grad!.scalars, rm.scalars, rv.scalars))
            }
            let (composed, fused) = (results[0], results[1])
            expectClose(fused.y, composed.y, atol: 1e-6, rtol: 1e-6, "output \(c.name) alpha \(alpha)")
            expectClose(fused.gx, composed.gx, atol: 2e-5, rtol: 1e-4, "input gradient \(c.name) alpha \(alpha)")
            expectClose(fused.gw, composed.gw, atol: 2e-5, rtol: 1e-4, "weight gradient \(c.name) alpha \(alpha)")
            expectClose(fused.gb, composed.gb, atol: 2e-5, rtol: 1e-4, "bias gradient \(c.name) alpha \(alpha)")
            #expect(fused.mean == composed.mean && fused.variance == composed.variance)
        }
    }

    @Test func finiteDifferences() {
        let x = random([2, 3, 2, 5], seed: 7, requiresGrad: true)
        let w = Tensor.randomUniform([3], low: 0.5, high: 1.5, generator: RandomGenerator(seed: 8), requiresGrad: true)
        let b = random([3], seed: 9, requiresGrad: true)
        let rm = random([3], seed: 10), rv = Tensor.randomUniform([3], low: 0.5, high: 2, generator: RandomGenerator(seed: 11))
        expectGradients([x, w, b]) { t in
            batchNorm(t[0], runningMean: nil, runningVar: nil, weight: t[1], bias: t[2], training: true, activation: .elu(alpha: 1))
        }
        expectGradients([x, w, b]) { t in
            batchNorm(t[0], runningMean: rm, runningVar: rv, weight: t[1], bias: t[2], training: false, activation: .elu(alpha: 0.7))
        }
    }

    /// The input of the fused op is freed once the forward pass drops it, unless the inversion
    /// would lose precision.
    @Test(arguments: [0, 1]) func keepsTheInputOnlyWhenNeeded(caseIndex: Int) {
        let c = Self.cases[caseIndex]
        let x = random([2, 4, 9], seed: 12, requiresGrad: true)
        let w = Tensor(c.weight, shape: [4], requiresGrad: true)
        let b = Tensor(c.bias, shape: [4], requiresGrad: true)
        weak var inputStorage: TensorStorage?
        let y: Tensor = {
            let inner = x * 2
            inputStorage = inner.storage
            return batchNorm(inner, runningMean: nil, runningVar: nil, weight: w, bias: b, training: true,
                             activation: .elu(alpha: 1))
        }()
        #expect((inputStorage == nil) == (caseIndex == 0), "\(c.name)")
        y.sum().backward()
        #expect(x.grad != nil)
    }
}
