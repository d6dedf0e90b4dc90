import Foundation
import Testing
import SensoriumTensor
@testable import SensoriumLayers

/// Sample mean and standard deviation, in Double.
private func moments(_ t: Tensor) -> (mean: Double, std: Double, min: Float, max: Float) {
    let xs = t.scalars
    let n = Double(xs.count)
    let mean = xs.reduce(0.0) { $0 + Double($1) } / n
    let variance = xs.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / n
    return (mean, variance.squareRoot(), xs.min()!, xs.max()!)
}

/// Checks mean and std against the theory: the mean within 4 standard errors, the std within 2 %.
private func expectMoments(_ t: Tensor, mean: Double, std: Double,
                           sourceLocation: SourceLocation = #_sourceLocation) {
    let m = moments(t)
    let standardError = std / Double(t.count).squareRoot()
    #expect(abs(m.mean - mean) < 4 * standardError, "mean \(m.mean), expected \(mean)", sourceLocation: sourceLocation)
    #expect(abs(m.std - std) < 0.02 * std, "std \(m.std), expected \(std)", sourceLocation: sourceLocation)
}

@Suite struct InitializerTests {
    @Test func fansFollowPyTorch() {
        #expect(Initializer.fans([30, 20]) == (20, 30))
        #expect(Initializer.fans([64, 3, 11, 11]) == (3 * 121, 64 * 121))
        #expect(Initializer.fans([32, 32, 5, 1, 1]) == (160, 160))
    }

    @Test func gains() {
        #expect(Nonlinearity.linear.gain == 1)
        #expect(abs(Nonlinearity.tanh.gain - 5.0 / 3.0) < 1e-6)
        #expect(abs(Nonlinearity.relu.gain - 1.4142135) < 1e-6)
        #expect(abs(Nonlinearity.leakyReLU(negativeSlope: Float(5).squareRoot()).gain - (1.0 / 3.0).squareRoot()) < 1e-6)
        #expect(Nonlinearity.selu.gain == 0.75)
    }

    @Test func xavier() {
        let g = RandomGenerator(seed: 1)
        let shape = [200, 100, 3]  // fanIn 300, fanOut 600
        expectMoments(Initializer.xavierNormal()(shape, generator: g), mean: 0, std: (2.0 / 900).squareRoot())
        expectMoments(Initializer.xavierNormal(gain: 2)(shape, generator: g), mean: 0, std: 2 * (2.0 / 900).squareRoot())
        let bound = (6.0 / 900).squareRoot()
        let u = Initializer.xavierUniform()(shape, generator: g)
        expectMoments(u, mean: 0, std: bound / 3.0.squareRoot())
        let m = moments(u)
        #expect(Double(m.min) >= -bound && Double(m.max) < bound)
    }

    @Test func kaiming() {
        let g = RandomGenerator(seed: 2)
        let shape = [100, 50, 3, 3]  // fanIn 450, fanOut 900
        expectMoments(Initializer.kaimingNormal(nonlinearity: .relu)(shape, generator: g),
                      mean: 0, std: (2.0 / 450).squareRoot())
        expectMoments(Initializer.kaimingNormal(mode: .fanOut, nonlinearity: .relu)(shape, generator: g),
                      mean: 0, std: (2.0 / 900).squareRoot())
        expectMoments(Initializer.kaimingNormal()(shape, generator: g), mean: 0, std: (2.0 / 450).squareRoot())
        let bound = (2.0).squareRoot() * (3.0 / 450).squareRoot()
        let u = Initializer.kaimingUniform(nonlinearity: .relu)(shape, generator: g)
        expectMoments(u, mean: 0, std: bound / 3.0.squareRoot())
        #expect(Double(moments(u).max) < bound && Double(moments(u).min) >= -bound)
    }

    @Test func pytorchDefaults() {
        let g = RandomGenerator(seed: 3)
        let shape = [300, 64, 3]  // fanIn 192
        let bound = 1 / 192.0.squareRoot()
        let w = Initializer.pytorchDefaultWeight(shape, generator: g)
        expectMoments(w, mean: 0, std: bound / 3.0.squareRoot())
        let mw = moments(w)
        #expect(Double(mw.max) < bound * 1.000001 && Double(mw.min) >= -bound * 1.000001)
        #expect(Double(mw.max) > bound * 0.99)
        let b = Initializer.pytorchDefaultBias(fanIn: 192)([50_000], generator: g)
        expectMoments(b, mean: 0, std: bound / 3.0.squareRoot())
        #expect(Initializer.pytorchDefaultBias(fanIn: 0)([3], generator: g).scalars == [0, 0, 0])
    }

    @Test func truncatedNormal() {
        let g = RandomGenerator(seed: 4)
        let t = Initializer.truncatedNormal()([100_000], generator: g)
        let m = moments(t)
        #expect(m.min >= -2 && m.max <= 2)
        // standard normal truncated to [-2, 2]: variance 1 - 4 φ(2) / (Φ(2) - Φ(-2))
        let phi2 = exp(-2.0) / (2 * Double.pi).squareRoot()
        let z = standardNormalCDF(2) - standardNormalCDF(-2)
        expectMoments(t, mean: 0, std: (1 - 4 * phi2 / z).squareRoot())
        // one-sided, shifted and scaled: N(1, 0.5²) on [1, 2.5] is 1 + 0.5·|Z| truncated at 3σ
        let s = Initializer.truncatedNormal(mean: 1, std: 0.5, low: 1, high: 2.5)([100_000], generator: g)
        let ms = moments(s)
        #expect(ms.min >= 1 && ms.max <= 2.5)
        let phi0 = 1 / (2 * Double.pi).squareRoot(), phi3 = exp(-4.5) / (2 * Double.pi).squareRoot()
        let zz = standardNormalCDF(3) - 0.5
        let mu = (phi0 - phi3) / zz
        let variance = 1 - 3 * phi3 / zz - mu * mu
        expectMoments(s, mean: 1 + 0.5 * mu, std: 0.5 * variance.squareRoot())
        // the initializer used by the ViViT-style models: std 0.02 on [-2, 2] is an ordinary normal
        expectMoments(Initializer.truncatedNormal(std: 0.02)([100_000], generator: g), mean: 0, std: 0.02)
    }

    @Test func normalQuantileInvertsTheCDF() {
        for p in [1e-12, 1e-6, 0.001, 0.02425, 0.1, 0.5, 0.77, 0.97575, 0.999, 1 - 1e-9] {
            let x = standardNormalQuantile(p)
            #expect(abs(standardNormalCDF(x) - p) <= 1e-12 * max(1, p / 1e-3), "p \(p)")
        }
        #expect(abs(standardNormalQuantile(0.975) - 1.959963984540054) < 1e-12)
    }

    @Test func reproduciblePerSeed() {
        let inits: [Initializer] = [.xavierNormal(), .xavierUniform(), .kaimingNormal(), .kaimingUniform(),
                                    .truncatedNormal(), .pytorchDefaultWeight, .normal(mean: 1, std: 2), .uniform()]
        for i in inits {
            let a = i([8, 4, 3], generator: RandomGenerator(seed: 11))
            let b = i([8, 4, 3], generator: RandomGenerator(seed: 11))
            let c = i([8, 4, 3], generator: RandomGenerator(seed: 12))
            #expect(a.scalars == b.scalars, "\(i.name)")
            #expect(a.scalars != c.scalars, "\(i.name)")
            #expect(!a.requiresGrad)
        }
    }

    @Test func initializeInPlaceKeepsIdentity() {
        let w = Tensor.zeros([4, 5], requiresGrad: true)
        let storage = w.storage
        w.initialize(with: .constant(3), generator: RandomGenerator(seed: 0))
        #expect(w.storage === storage && w.requiresGrad)
        #expect(w.scalars.allSatisfy { $0 == 3 })
        w.initialize(with: .xavierNormal(), generator: RandomGenerator(seed: 0))
        #expect(w.scalars == Initializer.xavierNormal()([4, 5], generator: RandomGenerator(seed: 0)).scalars)
    }
}
