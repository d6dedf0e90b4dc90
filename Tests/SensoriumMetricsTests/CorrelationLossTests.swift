import Foundation
import Testing
import SensoriumTensor
import SensoriumTestSupport
@testable import SensoriumMetrics

@Suite struct CorrelationLossTests {
    /// ViV1T's formula written with the engine's differentiable reductions:
    /// mean over samples of ((y − ȳ)/(σ_y + eps)) · ((t − t̄)/(σ_t + eps)), population σ.
    private func composed(_ y: Tensor, _ t: Tensor, eps: Float) -> Tensor {
        let rows = y.count / y.shape[y.rank - 1]
        let y2 = y.reshaped([rows, -1]), t2 = t.reshaped([rows, -1])
        let zy = (y2 - y2.mean(axis: 0, keepDims: true)) / (y2.std(axis: 0, keepDims: true, unbiased: false) + eps)
        let zt = (t2 - t2.mean(axis: 0, keepDims: true)) / (t2.std(axis: 0, keepDims: true, unbiased: false) + eps)
        return (zy * zt).mean(axis: 0)
    }

    @Test func matchesTheComposedFormulaAndItsGradient() {
        let gen = RandomGenerator(seed: 3)
        // (B, T, neurons): samples are every (b, t), as ViV1T's '(b t) n' rearrangement.
        let y = Tensor.randomUniform([3, 7, 5], low: 0.1, high: 3, generator: gen, requiresGrad: true)
        let t = Tensor.randomUniform([3, 7, 5], low: 0, high: 2, generator: gen)
        let g = Tensor.randomNormal([5], generator: gen)
        let reference = composed(y, t, eps: 1e-3)
        reference.backward(g)
        let referenceGrad = y.grad!.scalars
        y.zeroGrad()
        let corr = perNeuronCorrelation(y, target: t, eps: 1e-3)
        #expect(corr.shape == [5])
        expectClose(corr, reference.scalars, atol: 1e-6, rtol: 1e-5, "correlation")
        corr.backward(g)
        expectClose(y.grad!, referenceGrad, atol: 1e-6, rtol: 1e-4, "gradient")
    }

    @Test func lossIsSumOfOneMinusCorrelation() {
        let y = Tensor([1, 2, 2, 4, 3, 2, 4, 1], shape: [4, 2])   // rows are samples
        let t = Tensor([2, 1, 4, 3, 6, 0, 8, 4], shape: [4, 2])
        // Neuron 0: y = (1, 2, 3, 4), t = 2y, correlation 1. Neuron 1: y = (2, 4, 2, 1), t = (1, 3, 0, 4), by hand.
        let y1: [Double] = [2, 4, 2, 1], t1: [Double] = [1, 3, 0, 4]
        let my = y1.reduce(0, +) / 4, mt = t1.reduce(0, +) / 4
        let cov = zip(y1, t1).map { ($0 - my) * ($1 - mt) }.reduce(0, +) / 4
        let sy = (y1.map { ($0 - my) * ($0 - my) }.reduce(0, +) / 4).squareRoot()
        let st = (t1.map { ($0 - mt) * ($0 - mt) }.reduce(0, +) / 4).squareRoot()
        let expected = (1 - 1.0) + (1 - cov / (sy * st))
        let loss = correlationLoss(y, target: t, eps: 0)
        #expect(loss.shape == [])
        #expect(abs(Double(loss.item) - expected) < 1e-5)
    }

    @Test func gradientCheck() {
        let gen = RandomGenerator(seed: 11)
        let y = Tensor.randomNormal([6, 4], generator: gen, requiresGrad: true)
        let t = Tensor.randomNormal([6, 4], generator: gen)
        expectGradients([y]) { x in correlationLoss(x[0], target: t).reshaped([1]) }
        expectGradients([y]) { x in perNeuronCorrelation(x[0], target: t, eps: 0.05) }
    }

    @Test func constantPredictionHasZeroCorrelationAndFiniteGradient() {
        let y = Tensor.full([5, 2], 0.7, requiresGrad: true)
        let t = Tensor([1, 0, 2, 1, 0, 3, 4, 1, 2, 2], shape: [5, 2])
        let corr = perNeuronCorrelation(y, target: t)
        #expect(corr.scalars == [0, 0])
        corr.sum().backward()
        #expect(y.grad!.scalars.allSatisfy { $0.isFinite })
    }
}
