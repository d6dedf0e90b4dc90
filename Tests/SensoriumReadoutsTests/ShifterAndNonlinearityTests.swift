import Foundation
import Testing
import SensoriumTensor
import SensoriumLayers
import SensoriumReadouts

@Suite struct ShifterAndNonlinearityTests {
    /// The MLP shifter is Linear-Tanh blocks ending in Linear to 2 and Tanh, keyed `mlp.<i>`.
    @Test func mlpShifterLayoutAndValues() {
        let shifter = MLPShifter(hiddenChannels: 5, layers: 3, generator: RandomGenerator(seed: 1))
        #expect(shifter.namedParameters().map(\.path) == ["mlp.0.weight", "mlp.0.bias", "mlp.2.weight", "mlp.2.bias",
                                                          "mlp.4.weight", "mlp.4.bias"])
        #expect(shifter.parameterCount == 2 * 5 + 5 + 5 * 5 + 5 + 5 * 2 + 2)   // 57 per mouse, as in the baseline
        let pupil = randn([2, 6, 2], seed: 2)
        let shift = shifter(pupil)
        #expect(shift.shape == [2, 6, 2])
        var h = pupil
        for i in [0, 2, 4] {
            let layer = shifter.mlp[i] as! Linear
            h = linear(h, weight: layer.weight, bias: layer.bias).tanh()
        }
        expectNear(shift, h, "values")
        #expect(shifter.regularizer().item == 0)
        let single = MLPShifter(layers: 1, generator: RandomGenerator(seed: 3))
        #expect(single.namedParameters().map(\.path) == ["mlp.0.weight", "mlp.0.bias"])
    }

    /// The static affine shifter starts near zero shift, and its regulariser is γ·Σ W².
    @Test func staticAffineShifter() {
        let shifter = StaticAffineShifter(regularization: 3, generator: RandomGenerator(seed: 4))
        #expect(shifter.namedParameters().map(\.path) == ["weight", "bias"])
        let shift = shifter(randn([3, 4, 2], seed: 5))
        #expect(shift.shape == [3, 4, 2] && shift.abs().max().item < 1e-4)
        shifter.weight.assign(Tensor([1, 2, 0, -1], shape: [2, 2]))
        #expect(shifter.regularizer().item == 18)
        expectGradientsPass([randn([4, 2], seed: 6, requiresGrad: true), shifter.weight, shifter.bias!]) { inputs in
            shifter(inputs[0])
        }
    }

    /// Per-mouse shifters dispatch by data key and give `shifter.<key>.…` keys.
    @Test func perMouseShifters() {
        let shifters = PerMouseShifters.mlp(dataKeys: ["m1", "m2"], generator: RandomGenerator(seed: 7))
        #expect(shifters.keys == ["m1", "m2"])
        #expect(Set(shifters.stateDict().keys).contains("m2.mlp.4.bias"))
        let pupil = randn([1, 3, 2], seed: 8)
        expectNear(shifters(pupil, dataKey: "m2"), shifters["m2"]!.callAsFunction(pupil), "dispatch")
        shifters.insert(StaticAffineShifter(generator: RandomGenerator(seed: 9)), for: "m3")
        #expect(shifters.keys == ["m1", "m2", "m3"] && shifters.regularizer(dataKey: "m3").item == 0)
    }

    /// ELU + 1, softplus (fixed and learned β, PyTorch's threshold) and exp.
    @Test func nonlinearities() {
        let x = Tensor([-3, -0.5, 0, 0.5, 400])
        expectNear(ELUPlusOne()(x), Tensor([Float(exp(-3.0)), Float(exp(-0.5)), 1, 1.5, 401]), "elu+1")
        expectNear(ELUPlusOne(offset: 1)(Tensor([-1])), Tensor([1]), "elu offset")
        let fixed = SoftplusOutput(beta: 0.07)
        #expect(fixed.parameters().isEmpty)
        let expected = x.scalars.map { v -> Float in
            0.07 * v > 20 ? v : Float(log1p(exp(0.07 * Double(v))) / 0.07)
        }
        expectNear(fixed(x), Tensor(expected), "softplus 0.07")
        let learned = SoftplusOutput(beta: 0.07, learnable: true)
        #expect(learned.namedParameters().map(\.path) == ["beta"])
        expectNear(learned(x), Tensor(expected), atol: 1e-4, "learned softplus")
        expectNear(Exponential()(x.sliced(axis: 0, range: 0..<4)), Tensor([-3, -0.5, 0, 0.5]).exp(), "exp")
        expectGradientsPass([randn([6], seed: 10, requiresGrad: true), learned.beta!], epsilon: 1e-3) { inputs in
            learned(inputs[0] * 10)
        }
    }

    /// The causal filter: the inner nonlinearity, then weights (softmax of the logits) over the
    /// current and earlier frames, the first frame standing in for missing history; gradients for
    /// the input and the logits; the configuration's checks and keys.
    @Test func causalFilterOutput() throws {
        let layer = CausalFilterOutput(inner: ELUPlusOne(), taps: 3)
        #expect(layer.namedParameters().map(\.path) == ["logits"])
        let w = layer.weights
        #expect(abs(w.reduce(0, +) - 1) < 1e-6 && w[0] > w[1] && w[1] > w[2])
        let x = randn([2, 4, 3], seed: 11)
        let f = ELUPlusOne()(x).scalars
        var expected = [Float](repeating: 0, count: 24)
        for b in 0..<2 {
            for t in 0..<4 {
                for n in 0..<3 {
                    for k in 0..<3 { expected[(b * 4 + t) * 3 + n] += w[k] * f[(b * 4 + max(0, t - k)) * 3 + n] }
                }
            }
        }
        expectNear(layer(x), Tensor(expected, shape: [2, 4, 3]), "filtered")
        // More taps than frames: every delay past the start reads the first frame.
        let long = CausalFilterOutput(inner: nil, taps: 6, initialDecay: 0.5)
        let short = randn([1, 2, 2], seed: 12)
        let lw = long.weights, s = short.scalars
        let second = (0..<2).map { n in lw[0] * s[2 + n] + (1 - lw[0]) * s[n] }
        expectNear(long(short).sliced(axis: 1, range: 1..<2), Tensor(second, shape: [1, 1, 2]), "short input")
        expectGradientsPass([randn([2, 5, 3], seed: 13, requiresGrad: true), layer.logits], epsilon: 1e-3) { inputs in
            layer(inputs[0])
        }
        let one = CausalFilterOutput(inner: nil, taps: 1)
        expectNear(one(x), x, "one tap is the identity")
        #expect(throws: ComponentError.self) { _ = try CausalFilterOutput.Configuration(taps: 0).makeLayer() }
        let configured = AnyOutputNonlinearityConfiguration.causalFilter(taps: 5, inner: .softplus(beta: 0.5, learnable: true))
        let decoded = try JSONDecoder().decode(AnyOutputNonlinearityConfiguration.self, from: JSONEncoder().encode(configured))
        #expect(decoded == configured)
        let built = try #require(try configured.makeLayer() as? CausalFilterOutput)
        #expect(Set(built.namedParameters().map(\.path)) == ["logits", "inner.beta"] && built.taps == 5)
    }
}
