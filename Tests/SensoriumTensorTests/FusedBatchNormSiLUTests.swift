import Testing
import SensoriumTensor
import SensoriumTestSupport

/// `batchNorm(…, activation: .silu)` equals `batchNorm(…).silu()` in value, running statistics and
/// gradients, in training and evaluation mode, and passes finite differences.
@Suite struct FusedBatchNormSiLUTests {
    @Test(arguments: [true, false]) func equalsTheComposedOps(training: Bool) {
        let weight = Tensor.randomUniform([4], low: 0.5, high: 1.5, generator: RandomGenerator(seed: 2)).scalars
        let bias = seededNormal([4], seed: 3).scalars
        expectFusedBatchNormMatchesComposed(weight: weight, bias: bias, training: training, activation: .silu,
                                            composed: { $0.silu() }, gradientTolerance: (1e-5, 1e-5))
    }

    @Test func finiteDifferences() {
        expectFusedBatchNormGradients(training: .silu, evaluation: .silu)
    }
}
