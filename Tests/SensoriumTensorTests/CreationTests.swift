import Testing
@testable import SensoriumTensor

@Suite struct CreationTests {
    @Test func arange() {
        #expect(Tensor.arange(0, 5).scalars == [0, 1, 2, 3, 4])
        #expect(Tensor.arange(1, 2, step: 0.25).scalars == [1, 1.25, 1.5, 1.75])
        #expect(Tensor.arange(5, 0, step: -2).scalars == [5, 3, 1])
        #expect(Tensor.arange(3, 3).shape == [0])
        #expect(Tensor.arange(3, 1).shape == [0])
        #expect(Tensor.arange(0, 1, step: 0.3).scalars.count == 4)  // ceil(1 / 0.3), like torch.arange
        #expect(Tensor.arange(4).scalars == [0, 1, 2, 3])
        // Values are start + i * step rounded once (torch.arange(0, 1, 0.1) in float32).
        #expect(Tensor.arange(0, 1, step: 0.1).scalars == (0..<10).map { Float(Double(Float(0.1)) * Double($0)) })
    }

    @Test func linspace() {
        #expect(Tensor.linspace(0, 1, count: 5).scalars == [0, 0.25, 0.5, 0.75, 1])
        #expect(Tensor.linspace(2, 7, count: 1).scalars == [2])
        #expect(Tensor.linspace(2, 7, count: 0).shape == [0])
        let v = Tensor.linspace(-1, 1, count: 7).scalars
        #expect(v.first == -1 && v.last == 1)
        #expect(v[3] == 0)
        let x = Tensor.linspace(-0.3, 2.9, count: 33).scalars
        #expect(x.first == -0.3 && x.last == 2.9)
        for i in 1..<x.count { #expect(Swift.abs((x[i] - x[i - 1]) - 0.1) < 1e-6) }
        #expect(Tensor.linspace(3, -3, count: 3).scalars == [3, 0, -3])
    }

    @Test func eye() {
        #expect(Tensor.eye(3).scalars == [1, 0, 0, 0, 1, 0, 0, 0, 1])
        #expect(Tensor.eye(2, 3).shape == [2, 3])
        #expect(Tensor.eye(2, 3).scalars == [1, 0, 0, 0, 1, 0])
        #expect(Tensor.eye(3, 2).scalars == [1, 0, 0, 1, 0, 0])
        #expect(Tensor.eye(0).shape == [0, 0])
    }

    @Test func bernoulliIsSeededAndCalibrated() {
        let a = Tensor.randomBernoulli([1000], p: 0.3, generator: RandomGenerator(seed: 42))
        let b = Tensor.randomBernoulli([1000], p: 0.3, generator: RandomGenerator(seed: 42))
        #expect(a.scalars == b.scalars)
        #expect(a.scalars.allSatisfy { $0 == 0 || $0 == 1 })
        let mean = a.mean().item
        #expect(mean > 0.25 && mean < 0.35)
        let large = Tensor.randomBernoulli([200, 100], p: 0.8, generator: RandomGenerator(seed: 1))
        #expect(Swift.abs(large.mean().item - 0.8) < 0.02)
        #expect(Tensor.randomBernoulli([50], p: 0, generator: RandomGenerator(seed: 1)).scalars.allSatisfy { $0 == 0 })
        #expect(Tensor.randomBernoulli([50], p: 1, generator: RandomGenerator(seed: 1)).scalars.allSatisfy { $0 == 1 })
        #expect(!a.requiresGrad)
    }
}
