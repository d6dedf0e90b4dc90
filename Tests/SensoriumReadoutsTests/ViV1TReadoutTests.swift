import Foundation
import Testing
import SensoriumTensor
import SensoriumLayers
import SensoriumReadouts
import SensoriumTestSupport

@Suite struct ViV1TReadoutTests {
    private func makeReadout(channels: Int, neurons: Int, seed: UInt64) -> ViV1TGaussianReadout {
        let gen = RandomGenerator(seed: seed)
        let readout = ViV1TGaussianReadout(inputChannels: channels, coordinates: Tensor.randomNormal([neurons, 3], generator: gen),
                                           generator: gen)
        // Non-trivial features and bias so every term matters.
        readout.features.assign(Tensor.randomNormal(readout.features.shape, std: 0.5, generator: gen))
        readout.bias.assign(Tensor.randomNormal([neurons], std: 0.3, generator: gen))
        return readout
    }

    @Test func keysAndInitialisation() {
        let readout = makeReadout(channels: 6, neurons: 4, seed: 1)
        let keys = Set(readout.stateDict().keys)
        #expect(keys == ["sigma", "features", "bias", "reg_scale", "source_grid", "mu_transform.0.weight", "mu_transform.0.bias",
                         "mu_transform.2.weight", "mu_transform.2.bias", "state_encoder.0.weight", "state_encoder.0.bias",
                         "state_encoder.1.weight", "state_encoder.1.bias", "state_encoder.4.weight", "state_encoder.4.bias"])
        let fresh = ViV1TGaussianReadout(inputChannels: 112, coordinates: Tensor.randomNormal([5, 3], generator: RandomGenerator(seed: 2)),
                                         generator: RandomGenerator(seed: 3))
        #expect(fresh.features.shape == [1, 112, 5] && fresh.features.scalars.allSatisfy { $0 == 1 / Float(112) })
        #expect(fresh.sigma.shape == [1, 5, 2, 2] && fresh.sigma.scalars.allSatisfy { abs($0) <= 1 })
        #expect(fresh.bias.scalars == [0, 0, 0, 0, 0])
        let shifter = ViV1TShifter(generator: RandomGenerator(seed: 4))
        #expect(Set(shifter.stateDict().keys) == ["reg_scale", "mlp.0.weight", "mlp.0.bias", "mlp.2.weight", "mlp.2.bias",
                                                  "mlp.4.weight", "mlp.4.bias"])
    }

    /// The reference's composition: grid_sample over (B·T, C, h, w) at (B·T, n, 1, 2), add the state
    /// vector to every neuron's sample, dot with the features, add the bias.
    private func composed(_ r: ViV1TGaussianReadout, x: Tensor, shift: Tensor, state: Tensor, noise: Tensor) -> Tensor {
        let (b, c, t, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3], x.shape[4])
        let frames = b * t, n = r.neuronCount
        let mu = r.muTransform(r.sourceGrid).reshaped([1, n, 2])
        let grid = ((r.sigma * noise.reshaped([frames, n, 1, 2])).sum(axis: 3) + mu).clamped(min: -1, max: 1)
            + shift.reshaped([frames, 1, 2])
        let images = x.permuted([0, 2, 1, 3, 4]).reshaped([frames, c, h, w])
        let sampled = gridSample(images, grid: grid.reshaped([frames, n, 1, 2]), paddingMode: .zeros, alignCorners: true)
        let s = r.stateEncoder(state.reshaped([frames, 4])).reshaped([frames, c, 1, 1])
        let y = ((sampled + s) * r.features.reshaped([1, c, n, 1])).sum(axis: 1).reshaped([frames, n]) + r.bias
        return y.reshaped([b, t, n])
    }

    @Test func trainingSampleMatchesTheComposedReference() {
        let readout = makeReadout(channels: 5, neurons: 7, seed: 5)
        readout.train()
        let gen = RandomGenerator(seed: 6)
        let (b, t) = (2, 3)
        let x = Tensor.randomNormal([b, 5, t, 4, 6], generator: gen, requiresGrad: true)
        let shift = Tensor.randomUniform([b, t, 2], low: -0.3, high: 0.3, generator: gen, requiresGrad: true)
        let state = Tensor.randomNormal([b, t, 4], generator: gen, requiresGrad: true)
        let noise = Tensor.randomNormal([b * t, 7, 2], generator: gen)
        let g = Tensor.randomNormal([b, t, 7], generator: gen)
        let tracked = [x, shift, state] + readout.parameters()

        let reference = composed(readout, x: x, shift: shift, state: state, noise: noise)
        reference.backward(g)
        let referenceGrads = tracked.map { $0.grad?.scalars }
        readout.zeroGrad()
        for v in [x, shift, state] { v.zeroGrad() }

        let ours = readout(x, shift: shift, state: state, sample: true, noise: noise)
        expectClose(ours, reference.scalars, atol: 1e-5, rtol: 1e-4, "output")
        ours.backward(g)
        for (i, (tensor, expected)) in zip(tracked, referenceGrads).enumerated() {
            #expect(expected != nil, "tensor \(i) has no reference gradient")
            if let expected { expectClose(tensor.grad!, expected, atol: 1e-5, rtol: 1e-3, "gradient \(i) \(tensor.shape)") }
        }
    }

    @Test func evalUsesTheMeanPositionAndTrainingDrawsFromTheGenerator() {
        let readout = makeReadout(channels: 3, neurons: 4, seed: 7)
        let gen = RandomGenerator(seed: 8)
        let x = Tensor.randomNormal([1, 3, 2, 5, 5], generator: gen)
        let state = Tensor.randomNormal([1, 2, 4], generator: gen)
        readout.eval()
        let a = readout(x, shift: nil, state: state).scalars
        #expect(a == readout(x, shift: nil, state: state).scalars)
        let zeros = Tensor.zeros([2, 4, 2])
        #expect(a == readout(x, shift: nil, state: state, sample: true, noise: zeros).scalars)
        readout.train()
        #expect(a != readout(x, shift: nil, state: state).scalars)
    }

    @Test func shifterGradient() {
        let shifter = ViV1TShifter(generator: RandomGenerator(seed: 9))
        let p = Tensor.randomNormal([2, 3, 2], generator: RandomGenerator(seed: 10), requiresGrad: true)
        expectGradientsPass([p] + shifter.parameters()) { _ in shifter(p) }
        #expect(shifter(p).shape == [2, 3, 2])
    }
}
