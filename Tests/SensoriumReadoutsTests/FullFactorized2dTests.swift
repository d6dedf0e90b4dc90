import Foundation
import Testing
import SensoriumTensor
import SensoriumLayers
import SensoriumReadouts

/// `FullFactorized2d` against a direct evaluation of neuralpredictors' formula, for every option.
@Suite struct FullFactorized2dTests {
    /// y[b, t, n] = Σ_c f[n, c] Σ_{h,w} m[n, h, w] x[b, c, t, h, w] + bias[n], with the mask
    /// normalised / made positive / clamped as the reference does, in Double.
    static func direct(_ x: Tensor, spatial: Tensor, features: Tensor, bias: Tensor?,
                       _ c: FullFactorized2d.Configuration) -> [Double] {
        let (b, ch, t, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3], x.shape[4])
        let n = spatial.shape[0]
        let xs = x.scalars, s = spatial.scalars
        var f = features.scalars
        if c.constrainPositive { f = f.map { max($0, 0) } }
        var mask = [Double](repeating: 0, count: n * h * w)
        for j in 0..<n {
            let row = (0..<(h * w)).map { Double(s[j * h * w + $0]) }
            let norm = c.normalize ? row.reduce(0) { $0 + $1 * $1 }.squareRoot() + 1e-6 : 1
            for k in 0..<(h * w) {
                var v = row[k] / norm
                if c.constrainPositive { v = max(v, 0) } else if c.positiveSpatial { v = abs(v) }
                mask[j * h * w + k] = v
            }
        }
        var out = [Double](repeating: 0, count: b * t * n)
        for bi in 0..<b { for ti in 0..<t { for j in 0..<n {
            var sum = 0.0
            for ci in 0..<ch {
                var pooled = 0.0
                for k in 0..<(h * w) {
                    pooled += Double(xs[(((bi * ch + ci) * t + ti) * h * w) + k]) * mask[j * h * w + k]
                }
                sum += Double(f[j * ch + ci]) * pooled
            }
            out[(bi * t + ti) * n + j] = sum + Double(bias?.scalars[j] ?? 0)
        } } }
        return out
    }

    static let options: [(String, FullFactorized2d.Configuration)] = {
        var plain = FullFactorized2d.Configuration(); plain.normalize = false; plain.bias = false
        var normalized = FullFactorized2d.Configuration()
        var positive = FullFactorized2d.Configuration(); positive.positiveSpatial = true
        var constrained = FullFactorized2d.Configuration(); constrained.constrainPositive = true
        var constrainedRaw = constrained; constrainedRaw.normalize = false
        return [("plain", plain), ("normalized", normalized), ("positiveSpatial", positive),
                ("constrainPositive", constrained), ("constrainPositive unnormalized", constrainedRaw)]
    }()

    @Test(arguments: 0..<5) func matchesTheReferenceFormula(_ index: Int) {
        let (name, configuration) = Self.options[index]
        var c = configuration
        c.initNoise = 0.5
        let readout = FullFactorized2d(inputShape: [3, 4, 5], neuronCount: 6, configuration: c, generator: RandomGenerator(seed: 3))
        readout.bias?.assign(Tensor.randomNormal([6], generator: RandomGenerator(seed: 4)))
        let spatialBefore = readout.spatial.copy()
        let featuresBefore = readout.features.copy()
        let x = Tensor.randomNormal([2, 3, 7, 4, 5], generator: RandomGenerator(seed: 5))
        let y = readout(x, shift: nil)
        #expect(y.shape == [2, 7, 6])
        let expected = Self.direct(x, spatial: spatialBefore, features: featuresBefore, bias: readout.bias, c)
        for (i, (a, e)) in zip(y.scalars, expected).enumerated() {
            #expect(abs(Double(a) - e) <= 1e-4 + 1e-4 * abs(e), "\(name) element \(i): \(a) vs \(e)")
        }
        if c.constrainPositive {
            #expect(readout.features.scalars.allSatisfy { $0 >= 0 }, "constrain_pos clamps the features in place")
            #expect(readout.spatial.scalars.allSatisfy { $0 >= 0 } == !c.normalize,
                    "the mask parameter is clamped in place only without normalisation")
        }
    }

    @Test func gradientsOfEveryParameter() {
        var c = FullFactorized2d.Configuration()
        c.initNoise = 0.5
        c.regularization = 0.3
        let readout = FullFactorized2d(inputShape: [2, 3, 4], neuronCount: 3, configuration: c, generator: RandomGenerator(seed: 7))
        readout.bias!.assign(randn([3], seed: 8))
        let x = randn([2, 2, 3, 3, 4], seed: 9, requiresGrad: true)
        expectGradientsPass([x, readout.spatial, readout.features, readout.bias!]) { inputs in
            readout(inputs[0], shift: nil).square().sum() + readout.regularizer()
        }
    }

    @Test func regularizerIsTheL1Product() {
        var c = FullFactorized2d.Configuration()
        c.normalize = false
        c.regularization = 2
        let readout = FullFactorized2d(inputShape: [2, 2, 2], neuronCount: 2, configuration: c, generator: RandomGenerator(seed: 1))
        readout.spatial.assign(Tensor([1, -2, 0, 1, 0, 0, 3, -1], shape: [2, 2, 2]))
        readout.features.assign(Tensor([1, -1, 0.5, 2], shape: [2, 2]))
        // Neuron 0: |mask|₁ 4 · |f|₁ 2 = 8; neuron 1: 4 · 2.5 = 10; sum 18, times 2.
        #expect(abs(readout.regularizer().scalars[0] - 36) < 1e-5)
        c.regularizerReduction = .mean
        let mean = FullFactorized2d(inputShape: [2, 2, 2], neuronCount: 2, configuration: c, generator: RandomGenerator(seed: 1))
        mean.spatial.assign(readout.spatial)
        mean.features.assign(readout.features)
        #expect(abs(mean.regularizer().scalars[0] - 36 / 16) < 1e-5)
    }

    @Test func keysAreTheReferenceNames() {
        let readout = FullFactorized2d(inputShape: [2, 3, 4], neuronCount: 5, generator: RandomGenerator(seed: 1))
        let keys = Set(readout.stateDict().keys)
        #expect(keys == ["spatial", "_features", "bias"])
        #expect(readout.stateDict()["spatial"]!.shape == [5, 3, 4])
        #expect(readout.stateDict()["_features"]!.shape == [5, 2])
    }

    @Test func configurationDecodesThroughTheRegistryWithDefaults() throws {
        let decoded = try JSONDecoder().decode(AnyReadoutConfiguration.self, from: Data(#"{"type": "factorized", "bias": false}"#.utf8))
        var expected = FullFactorized2d.Configuration()
        expected.bias = false
        #expect(decoded.as(FullFactorized2d.Configuration.self) == expected)
        #expect(decoded.base.acceptsShift == false)
        do {
            _ = try JSONDecoder().decode(AnyReadoutConfiguration.self, from: Data(#"{"type": "factorized", "normalise": false}"#.utf8))
            Issue.record("a misspelled key should be refused")
        } catch {
            #expect("\(error)".contains("normalise") && "\(error)".contains("normalize"), "\(error)")
        }
    }
}
