import Foundation
import Testing
import SensoriumTensor
@testable import SensoriumMetrics

@Suite struct PoissonLossTests {
    /// output [1, 2; 0.5, 4], target [0, 1; 2, 3]: terms 1, 2 − log 2, 0.5 − 2 log 0.5, 4 − 3 log 4.
    static let terms: [Double] = [1, 2 - log(2.0), 0.5 - 2 * log(0.5), 4 - 3 * log(4.0)]

    @Test func handComputedReductions() {
        let output = Tensor([1, 2, 0.5, 4], shape: [2, 2])
        let target = Tensor([0, 1, 2, 3], shape: [2, 2])
        let sum = poissonLoss(output, target: target, eps: 0)
        #expect(sum.shape == [])
        #expect(abs(Double(sum.item) - Self.terms.reduce(0, +)) < 1e-5)
        let mean = poissonLoss(output, target: target, eps: 0, reduction: .mean)
        #expect(abs(Double(mean.item) - Self.terms.reduce(0, +) / 4) < 1e-5)
        let perNeuron = poissonLoss(output, target: target, eps: 0, perNeuron: true)
        #expect(perNeuron.shape == [2])
        #expect(abs(Double(perNeuron.scalars[0]) - (Self.terms[0] + Self.terms[2])) < 1e-5)
        #expect(abs(Double(perNeuron.scalars[1]) - (Self.terms[1] + Self.terms[3])) < 1e-5)
        let perNeuronMean = poissonLoss(output, target: target, eps: 0, reduction: .mean, perNeuron: true)
        #expect(abs(Double(perNeuronMean.scalars[1]) - (Self.terms[1] + Self.terms[3]) / 2) < 1e-5)
        // eps keeps a zero rate finite where the target is 0 ... and large where it is not.
        let zero = poissonLoss(Tensor([0, 0]), target: Tensor([0, 1]), eps: 1e-12)
        #expect(abs(Double(zero.item) + log(1e-12)) < 1e-3 * 27.6)
    }

    @Test func gradientMatchesFiniteDifferences() {
        let g = RandomGenerator(seed: 21)
        let target = Tensor.randomUniform([3, 4, 5], low: 0, high: 3, generator: g)
        for reduction in [LossReduction.sum, .mean] {
            for perNeuron in [false, true] {
                let output = Tensor.randomUniform([3, 4, 5], low: 0.5, high: 2.5, generator: g, requiresGrad: true)
                let results = GradientCheck.check([output, target], epsilon: 1e-2) {
                    poissonLoss($0[0], target: $0[1], reduction: reduction, perNeuron: perNeuron)
                }
                #expect(results.count == 1)
                #expect(results.allSatisfy { $0.passed }, "\(reduction) perNeuron \(perNeuron): \(results)")
            }
        }
    }

    /// The fused op agrees with the same loss composed from core ops (`log`, `*`, `-`, `sum`).
    @Test func matchesCompositionOfCoreOps() {
        let g = RandomGenerator(seed: 13)
        let target = Tensor.randomUniform([4, 6], low: 0, high: 3, generator: g)
        let a = Tensor.randomUniform([4, 6], low: 0.2, high: 2, generator: g, requiresGrad: true)
        let b = a.detached()
        b.requiresGrad = true
        let fused = poissonLoss(a, target: target, eps: 1e-8, reduction: .mean, perNeuron: true)
        let composed = (b - target * (b + 1e-8).log()).mean(axes: [0])
        #expect(zip(fused.scalars, composed.scalars).allSatisfy { abs($0 - $1) < 1e-5 })
        let w = Tensor.randomNormal([6], generator: g)
        (fused * w).sum().backward()
        (composed * w).sum().backward()
        #expect(zip(a.grad!.scalars, b.grad!.scalars).allSatisfy { abs($0 - $1) < 1e-6 })
    }

    @Test func targetGetsNoGradient() {
        let output = Tensor([1, 2], requiresGrad: true)
        let target = Tensor([1, 1], requiresGrad: true)
        poissonLoss(output, target: target).backward()
        #expect(target.grad == nil)
        // d/do (o − t log o) = 1 − t / o
        #expect(output.grad!.scalars.map { abs($0 - 0) < 1e-6 || abs($0 - 0.5) < 1e-6 } == [true, true])
    }

    @Test func poissonLoss3dCropsTargetFromTheFront() {
        let g = RandomGenerator(seed: 4)
        let output = Tensor.randomUniform([2, 3, 4], low: 0.5, high: 2, generator: g, requiresGrad: true)
        let target = Tensor.randomUniform([2, 5, 4], low: 0, high: 3, generator: g)
        var cropped = [Float]()
        for b in 0..<2 { for t in 2..<5 { for n in 0..<4 { cropped.append(target[b, t, n]) } } }
        let croppedTarget = Tensor(cropped, shape: [2, 3, 4])
        for perNeuron in [false, true] {
            let a = poissonLoss3d(output, target: target, perNeuron: perNeuron)
            let b = poissonLoss(output, target: croppedTarget, perNeuron: perNeuron)
            #expect(zip(a.scalars, b.scalars).allSatisfy { abs($0 - $1) < 1e-5 })
        }
        let results = GradientCheck.check([output, target]) { poissonLoss3d($0[0], target: $0[1], reduction: .mean, perNeuron: true) }
        #expect(results.allSatisfy { $0.passed }, "\(results)")
    }

    @Test func largeInputTakesTheParallelPath() {
        let g = RandomGenerator(seed: 8)
        let output = Tensor.randomUniform([64, 40, 100], low: 0.1, high: 3, generator: g)
        let target = Tensor.randomUniform([64, 40, 100], low: 0, high: 3, generator: g)
        var expected = 0.0
        var perNeuron = [Double](repeating: 0, count: 100)
        for i in 0..<output.count {
            let o = Double(output.storage.pointer[i]), t = Double(target.storage.pointer[i])
            let term = o - t * log(o + 1e-12)
            expected += term
            perNeuron[i % 100] += term
        }
        #expect(abs(Double(poissonLoss(output, target: target).item) - expected) < 1e-5 * abs(expected))
        let ours = poissonLoss(output, target: target, perNeuron: true).scalars
        #expect(zip(ours, perNeuron).allSatisfy { abs(Double($0) - $1) < 1e-5 * abs($1) })
    }
}
