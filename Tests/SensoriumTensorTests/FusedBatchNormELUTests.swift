import Testing
import SensoriumTensor
import SensoriumTestSupport

/// `batchNorm(…, activation: .elu(alpha:))` equals `batchNorm(…).elu(alpha:)` in value, running
/// statistics and gradients, whether its backward pass recomputes the normalised values from the
/// output (the input is then not kept) or keeps the input (weights near 0, large biases, saturated
/// outputs), and passes finite differences.
@Suite struct FusedBatchNormELUTests {
    /// Weight and bias per case: ordinary (from the output), one weight near 0 and one bias large
    /// against its weight (both keep the input).
    static let cases: [(name: String, weight: [Float], bias: [Float])] = [
        ("ordinary", [0.7, 1.3, -0.9, 1.1], [0.2, -0.5, 0.1, 0]),
        ("tiny weight", [0.7, 1e-4, -0.9, 1.1], [0.2, -0.5, 0.1, 0]),
        ("large bias", [0.7, 1.3, -0.9, 0.01], [0.2, -0.5, 0.1, 3]),
    ]

    @Test(arguments: [true, false], [0, 1, 2]) func equalsTheComposedOps(training: Bool, caseIndex: Int) {
        let c = Self.cases[caseIndex]
        for alpha: Float in [1, 0.5] {
            expectFusedBatchNormMatchesComposed(weight: c.weight, bias: c.bias, training: training,
                                                activation: .elu(alpha: alpha), composed: { $0.elu(alpha: alpha) },
                                                gradientTolerance: (2e-5, 1e-4), label: "\(c.name) alpha \(alpha)")
        }
    }

    @Test func finiteDifferences() {
        expectFusedBatchNormGradients(training: .elu(alpha: 1), evaluation: .elu(alpha: 0.7))
    }

    /// The input of the fused op is freed once the forward pass drops it, unless the inversion
    /// would lose precision.
    @Test(arguments: [0, 1]) func keepsTheInputOnlyWhenNeeded(caseIndex: Int) {
        let c = Self.cases[caseIndex]
        let x = seededNormal([2, 4, 9], seed: 12, requiresGrad: true)
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
