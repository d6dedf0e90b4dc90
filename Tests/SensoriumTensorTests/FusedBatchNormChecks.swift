import Testing
import SensoriumTensor
import SensoriumTestSupport

// The checks the fused batch-norm + activation tests (ELU, SiLU) share: fused against composed on
// the same seeded inputs, and finite differences in training and evaluation mode.

/// A seeded standard-normal tensor.
func seededNormal(_ shape: [Int], seed: UInt64, requiresGrad: Bool = false) -> Tensor {
    Tensor.randomNormal(shape, generator: RandomGenerator(seed: seed), requiresGrad: requiresGrad)
}

/// Runs `batchNorm(…, activation: activation)` and `composed(batchNorm(…))` on the same (3, 4, 13)
/// input (13 values per row: the eight-lane loop and the scalar tail), with `weight` and `bias`
/// (4 channels each) and seeded running statistics, backpropagates a seeded upstream gradient, and
/// expects equal outputs (1e-6), gradients (within `gradientTolerance`) and running statistics.
func expectFusedBatchNormMatchesComposed(weight: [Float], bias: [Float], training: Bool,
                                         activation: NormalizationActivation, composed: (Tensor) -> Tensor,
                                         gradientTolerance: (atol: Float, rtol: Float), label: String = "",
                                         sourceLocation: SourceLocation = #_sourceLocation) {
    let shape = [3, 4, 13]
    var results: [(y: [Float], gx: [Float], gw: [Float], gb: [Float], mean: [Float], variance: [Float])] = []
    for fused in [false, true] {
        let x = seededNormal(shape, seed: 1, requiresGrad: true)
        let w = Tensor(weight, shape: [4], requiresGrad: true)
        let b = Tensor(bias, shape: [4], requiresGrad: true)
        let rm = seededNormal([4], seed: 4), rv = Tensor.randomUniform([4], low: 0.5, high: 2, generator: RandomGenerator(seed: 5))
        let y = fused
            ? batchNorm(x, runningMean: rm, runningVar: rv, weight: w, bias: b, training: training, activation: activation)
            : composed(batchNorm(x, runningMean: rm, runningVar: rv, weight: w, bias: b, training: training))
        (y * seededNormal(shape, seed: 6)).sum().backward()
        results.append((y.scalars, x.grad!.scalars, w.grad!.scalars, b.grad!.scalars, rm.scalars, rv.scalars))
    }
    let (composedResult, fusedResult) = (results[0], results[1])
    let (atol, rtol) = gradientTolerance
    let suffix = label.isEmpty ? "" : " \(label)"
    expectClose(fusedResult.y, composedResult.y, atol: 1e-6, rtol: 1e-6, "output\(suffix)", sourceLocation: sourceLocation)
    expectClose(fusedResult.gx, composedResult.gx, atol: atol, rtol: rtol, "input gradient\(suffix)", sourceLocation: sourceLocation)
    expectClose(fusedResult.gw, composedResult.gw, atol: atol, rtol: rtol, "weight gradient\(suffix)", sourceLocation: sourceLocation)
    expectClose(fusedResult.gb, composedResult.gb, atol: atol, rtol: rtol, "bias gradient\(suffix)", sourceLocation: sourceLocation)
    #expect(fusedResult.mean == composedResult.mean && fusedResult.variance == composedResult.variance,
            sourceLocation: sourceLocation)
}

/// Finite differences of the fused batch norm in input, weight and bias on a seeded (2, 3, 2, 5)
/// input: in training mode (no running statistics) with `trainingActivation`, and in evaluation
/// mode (seeded running statistics) with `evaluationActivation`.
func expectFusedBatchNormGradients(training trainingActivation: NormalizationActivation,
                                   evaluation evaluationActivation: NormalizationActivation,
                                   sourceLocation: SourceLocation = #_sourceLocation) {
    let x = seededNormal([2, 3, 2, 5], seed: 7, requiresGrad: true)
    let w = Tensor.randomUniform([3], low: 0.5, high: 1.5, generator: RandomGenerator(seed: 8), requiresGrad: true)
    let b = seededNormal([3], seed: 9, requiresGrad: true)
    let rm = seededNormal([3], seed: 10), rv = Tensor.randomUniform([3], low: 0.5, high: 2, generator: RandomGenerator(seed: 11))
    expectGradients([x, w, b], sourceLocation: sourceLocation) { t in
        batchNorm(t[0], runningMean: nil, runningVar: nil, weight: t[1], bias: t[2], training: true, activation: trainingActivation)
    }
    expectGradients([x, w, b], sourceLocation: sourceLocation) { t in
        batchNorm(t[0], runningMean: rm, runningVar: rv, weight: t[1], bias: t[2], training: false, activation: evaluationActivation)
    }
}
