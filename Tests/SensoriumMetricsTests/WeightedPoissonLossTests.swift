import Foundation
import Testing
import SensoriumTensor
@testable import SensoriumMetrics

/// `weightedPoissonLoss3d`: the value against the formula written out, the gradient against finite
/// differences, and weight-0 entries that neither count nor get a gradient.
@Suite struct WeightedPoissonLossTests {
    /// Σ_{b,k,n} w[b,n] (o − y log(o + eps)) over the last T' target frames, in Double.
    private func formula(_ o: Tensor, _ y: Tensor, _ w: Tensor, eps: Float) -> Double {
        let b = o.shape[0], tp = o.shape[1], n = o.shape[2], t = y.shape[1]
        let os = o.scalars, ys = y.scalars, ws = w.scalars
        var total = 0.0
        for s in 0..<b {
            for k in 0..<tp {
                for j in 0..<n where ws[s * n + j] != 0 {
                    let ov = Double(os[(s * tp + k) * n + j]), yv = Double(ys[(s * t + t - tp + k) * n + j])
                    total += Double(ws[s * n + j]) * (ov - yv * log(ov + Double(eps)))
                }
            }
        }
        return total
    }

    @Test func valueMatchesTheFormula() {
        let g = RandomGenerator(seed: 3)
        let o = Tensor.randomUniform([3, 4, 5], low: 0.2, high: 2, generator: g)
        let y = Tensor.randomUniform([3, 6, 5], low: 0, high: 3, generator: g)   // two frames of lag
        var ws = Tensor.randomUniform([3, 1, 5], low: 0.1, high: 2, generator: g).scalars
        ws[1] = 0; ws[7] = 0
        let w = Tensor(ws, shape: [3, 1, 5])
        let value = weightedPoissonLoss3d(o, target: y, weights: w, eps: 1e-8).item
        let expected = formula(o, y, w, eps: 1e-8)
        #expect(abs(Double(value) - expected) <= 1e-5 * abs(expected))
        // Weights of one equal the unweighted summed loss.
        let ones = Tensor.ones([3, 1, 5])
        let plain = poissonLoss3d(o, target: y, eps: 1e-8, reduction: .sum).item
        #expect(abs(weightedPoissonLoss3d(o, target: y, weights: ones, eps: 1e-8).item - plain) <= 1e-5 * abs(plain))
    }

    @Test func gradientMatchesFiniteDifferences() {
        let g = RandomGenerator(seed: 5)
        let o = Tensor.randomUniform([2, 3, 4], low: 0.5, high: 2, generator: g, requiresGrad: true)
        let y = Tensor.randomUniform([2, 5, 4], low: 0, high: 3, generator: g)
        var ws = Tensor.randomUniform([2, 1, 4], low: 0.2, high: 1.5, generator: g).scalars
        ws[2] = 0
        let w = Tensor(ws, shape: [2, 1, 4])
        for r in GradientCheck.check([o], { t in weightedPoissonLoss3d(t[0], target: y, weights: w, eps: 1e-8) }) {
            #expect(r.passed, "\(r)")
        }
    }

    @Test func weightZeroEntriesAreIgnored() {
        let g = RandomGenerator(seed: 7)
        let o = Tensor.randomUniform([2, 3, 4], low: 0.5, high: 2, generator: g, requiresGrad: true)
        var ys = Tensor.randomUniform([2, 3, 4], low: 0, high: 3, generator: g).scalars
        var ws = [Float](repeating: 1, count: 8)
        // Sample 1, neuron 2: weight 0 and NaN targets (another mouse's block in a mixed batch).
        ws[4 + 2] = 0
        for k in 0..<3 { ys[(1 * 3 + k) * 4 + 2] = .nan }
        let y = Tensor(ys, shape: [2, 3, 4]), w = Tensor(ws, shape: [2, 1, 4])
        let loss = weightedPoissonLoss3d(o, target: y, weights: w, eps: 1e-8)
        #expect(loss.item.isFinite)
        #expect(abs(Double(loss.item) - formula(o, y, w, eps: 1e-8)) <= 1e-5 * abs(Double(loss.item)))
        loss.backward()
        let grad = o.grad!.scalars
        for k in 0..<3 { #expect(grad[(1 * 3 + k) * 4 + 2] == 0) }
        #expect(grad.allSatisfy { $0.isFinite })
        // Elsewhere the gradient is w (1 − y / (o + eps)).
        let os = o.scalars
        #expect(abs(grad[0] - (1 - ys[0] / (os[0] + 1e-8))) < 1e-5)
    }
}
