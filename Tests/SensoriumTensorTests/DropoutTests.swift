import Testing
@testable import SensoriumTensor

@Suite struct DropoutTests {
    @Test func evaluationModeAndZeroProbabilityAreIdentity() {
        let x = Tensor.randomNormal([3, 4], generator: RandomGenerator(seed: 1))
        let gen = RandomGenerator(seed: 2)
        #expect(dropout(x, p: 0.5, training: false, generator: gen) === x)
        #expect(dropout(x, p: 0, training: true, generator: gen) === x)
        #expect(featureDropout(x, p: 0.5, training: false, generator: gen) === x)
    }

    @Test func seededMasksAreReproducible() {
        let x = Tensor.randomNormal([4, 5, 6], generator: RandomGenerator(seed: 1))
        let a = dropout(x, p: 0.3, training: true, generator: RandomGenerator(seed: 42))
        let b = dropout(x, p: 0.3, training: true, generator: RandomGenerator(seed: 42))
        let c = dropout(x, p: 0.3, training: true, generator: RandomGenerator(seed: 43))
        #expect(a.scalars == b.scalars)
        #expect(a.scalars != c.scalars)
        let fa = featureDropout(x, p: 0.3, training: true, generator: RandomGenerator(seed: 42))
        let fb = featureDropout(x, p: 0.3, training: true, generator: RandomGenerator(seed: 42))
        #expect(fa.scalars == fb.scalars)
    }

    @Test func keptElementsAreScaledAndExpectationIsPreserved() {
        let n = 200_000
        let p: Float = 0.3
        let y = dropout(Tensor.ones([n]), p: p, training: true, generator: RandomGenerator(seed: 7))
        let values = y.scalars
        let zeros = values.filter { $0 == 0 }.count
        #expect(values.allSatisfy { $0 == 0 || $0 == 1 / (1 - p) })
        #expect(abs(Double(zeros) / Double(n) - Double(p)) < 0.005)
        let mean = values.reduce(0.0) { $0 + Double($1) } / Double(n)
        #expect(abs(mean - 1) < 0.01)
        #expect(dropout(Tensor.ones([5]), p: 1, training: true, generator: RandomGenerator(seed: 7)).scalars == [0, 0, 0, 0, 0])
    }

    @Test func gradientIsTheScaledMask() {
        let x = Tensor.randomNormal([3, 7], generator: RandomGenerator(seed: 3), requiresGrad: true)
        let y = dropout(x, p: 0.4, training: true, generator: RandomGenerator(seed: 5))
        y.sum().backward()
        for (xi, (yi, gi)) in zip(x.scalars, zip(y.scalars, x.grad!.scalars)) {
            #expect(gi == (yi == 0 ? 0 : 1 / Float(0.6)))
            if yi != 0 { #expect(abs(yi - xi / 0.6) < 1e-6) }
        }
        for r in GradientCheck.check([x], { t in dropout(t[0], p: 0.4, training: true, generator: RandomGenerator(seed: 5)) }) {
            #expect(r.passed, "\(r)")
        }
    }

    @Test func featureDropoutZeroesWholeChannels() {
        let x = Tensor.randomUniform([50, 40, 3, 2], low: 1, high: 2, generator: RandomGenerator(seed: 1), requiresGrad: true)
        let p: Float = 0.25
        let y = featureDropout(x, p: p, training: true, generator: RandomGenerator(seed: 9))
        #expect(y.shape == x.shape)
        var dropped = 0
        for n in 0..<50 {
            for c in 0..<40 {
                let base = (n * 40 + c) * 6
                let ys = (0..<6).map { y.storage.pointer[base + $0] }
                let xs = (0..<6).map { x.storage.pointer[base + $0] }
                if ys[0] == 0 {
                    dropped += 1
                    #expect(ys.allSatisfy { $0 == 0 })
                } else {
                    #expect(zip(ys, xs).allSatisfy { abs($0 - $1 / (1 - p)) < 1e-5 })
                }
            }
        }
        #expect(abs(Double(dropped) / 2000 - Double(p)) < 0.04)
        let small = Tensor.randomNormal([3, 4, 5], generator: RandomGenerator(seed: 2), requiresGrad: true)
        for r in GradientCheck.check([small], { t in featureDropout(t[0], p: 0.5, training: true, generator: RandomGenerator(seed: 6)) }) {
            #expect(r.passed, "\(r)")
        }
    }
}
