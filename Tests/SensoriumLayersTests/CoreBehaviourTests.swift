import Foundation
import Testing
import SensoriumTensor
@testable import SensoriumLayers

/// Gradients through the cores and their regularisers, train/eval behaviour, shapes and keys.
@Suite struct CoreBehaviourTests {
    private func input(_ shape: [Int], seed: UInt64) -> Tensor {
        Tensor.randomNormal(shape, generator: RandomGenerator(seed: seed), requiresGrad: true)
    }

    /// Two layers of `channels`, 3 × 3 kernels in space, 2 in time, one input channel.
    private func tinyFactorizedConfiguration(channels: [Int] = [2, 2]) -> Factorized3dCore.Configuration {
        Factorized3dCore.Configuration(inputChannels: 1, hiddenChannels: channels, spatialInputKernel: [3, 3],
                                       temporalInputKernel: 2, spatialHiddenKernel: [3, 3], temporalHiddenKernel: 2)
    }

    private func tinyFactorized(_ g: RandomGenerator) -> Factorized3dCore {
        var c = tinyFactorizedConfiguration()
        c.momentum = 0.7
        return Factorized3dCore(c, generator: g)
    }

    @Test func factorizedBaselineShapesAndCounts() {
        let core = Factorized3dCore(generator: RandomGenerator(seed: 1))
        // the table in the reference: (B, 3, 80, 36, 64) → (B, 128, 62, 18, 46)
        #expect(core.outputShape(for: [2, 3, 80, 36, 64]) == [2, 128, 62, 18, 46])
        #expect(core.burnInFrames == 18 && core.outputChannels == 128)
        // conv weights + biases + BN affine, per layer
        let expected = (3 * 32 * 121 + 32) + (32 * 32 * 11 + 32) + 64
            + (32 * 64 * 25 + 64) + (64 * 64 * 5 + 64) + 128
            + (64 * 128 * 25 + 128) + (128 * 128 * 5 + 128) + 256
        #expect(core.parameterCount == expected)
        #expect(core.stateDict().keys.contains("features.layer2.conv_temporal_2.weight"))
        #expect(core.namedBuffers().map(\.path).contains("_input_weight_regularizer.laplace.filter"))
        // Xavier-normal weights, zero biases
        #expect(core.spatialConvolutions[1].bias!.scalars.allSatisfy { $0 == 0 })
    }

    @Test func factorizedStrideIndexing() {
        var c = Factorized3dCore.Configuration(inputChannels: 3, hiddenChannels: [16, 32], spatialInputKernel: [11, 11],
                                               temporalInputKernel: 11, spatialHiddenKernel: [5, 5], temporalHiddenKernel: 5)
        c.stride = [2, 1]
        // The reference's indexing: hidden layer 1 takes stride[0], so both layers stride by 2.
        let reference = Factorized3dCore(c, generator: RandomGenerator(seed: 1))
        #expect(reference.spatialConvolutions.map { $0.stride[1] } == [2, 2])
        #expect(reference.outputShape(for: [1, 3, 30, 36, 64]) == [1, 32, 16, 5, 12])
        // Opt-in: layer ℓ takes stride[ℓ]; the state-dict keys and parameter count do not change.
        c.perLayerStride = true
        let perLayer = Factorized3dCore(c, generator: RandomGenerator(seed: 1))
        #expect(perLayer.spatialConvolutions.map { $0.stride[1] } == [2, 1])
        #expect(perLayer.outputShape(for: [1, 3, 30, 36, 64]) == [1, 32, 16, 9, 23])
        #expect(Set(perLayer.stateDict().keys) == Set(reference.stateDict().keys))
        #expect(perLayer.parameterCount == reference.parameterCount)
    }

    /// Behaviour broadcast over the frame as channels 1…: the per-frame bias path
    /// (`constantInputChannels`) gives the full convolution's output and gradients, and its own
    /// gradients pass the finite-difference check.
    @Test func factorizedConstantInputChannels() {
        var c = Factorized3dCore.Configuration(inputChannels: 3, hiddenChannels: [3, 4], spatialInputKernel: [3, 3],
                                               temporalInputKernel: 2, spatialHiddenKernel: [3, 3], temporalHiddenKernel: 2)
        c.stride = [2, 1]
        let full = Factorized3dCore(c, generator: RandomGenerator(seed: 5))
        c.constantInputChannels = true
        let split = Factorized3dCore(c, generator: RandomGenerator(seed: 5))
        let (n, t, h, w) = (2, 4, 7, 9)
        let g = RandomGenerator(seed: 6)
        let video = Tensor.randomNormal([n, 1, t, h, w], generator: g)
        let behaviour = Tensor.randomNormal([n, 2, t, 1, 1], generator: g).expanded(to: [n, 2, t, h, w])
        let x = Tensor.concatenate([video, behaviour], axis: 1)
        let a = full(x), b = split(x)
        #expect(a.shape == b.shape)
        expectClose(b, a.scalars, atol: 1e-5, rtol: 1e-4)
        (a * a).sum().backward()
        (b * b).sum().backward()
        for (p, q) in zip(full.parameters(), split.parameters()) {
            expectClose(q.grad!, p.grad!.scalars, atol: 1e-4, rtol: 1e-3)
        }
        expectGradients([split.spatialConvolutions[0].weight, split.spatialConvolutions[0].bias!]) { _ in split(x) }
        // Padded borders are not constant: the option needs padding false.
        c.padding = true
        #expect(throws: ComponentError.self) { try c.check() }
    }

    /// Energy channels (`energyChannels`): the last channels of a layer go through x² or |x|, the
    /// others through the nonlinearity; no new parameters or keys; gradients pass finite differences.
    @Test func factorizedEnergyChannels() throws {
        // The layer on its own: ELU on the first channels, the even function on the last.
        let x = Tensor([0.5, -1.5, 2, -0.75, 1.25, -2.5], shape: [1, 3, 2], requiresGrad: true)
        for function in [EnergyFunction.square, .absolute] {
            let y = EnergyChannels(count: 2, function: function, nonlinearity: ELU())(x)
            let even: (Float) -> Float = function == .square ? { $0 * $0 } : { Swift.abs($0) }
            let expected = [0.5, Float(Foundation.exp(-1.5) - 1)] + [2, -0.75, 1.25, -2.5].map(even)
            expectClose(y, expected, atol: 1e-6)
            expectGradients([x]) { _ in EnergyChannels(count: 2, function: function, nonlinearity: ELU())(x) }
        }
        expectClose(EnergyChannels(count: 3, function: .absolute, nonlinearity: ELU())(x), x.scalars.map { Swift.abs($0) })
        expectClose(EnergyChannels(count: 0, function: .square, nonlinearity: nil)(x), x.scalars)

        var c = tinyFactorizedConfiguration()
        let plain = Factorized3dCore(c, generator: RandomGenerator(seed: 7))
        c.energyChannels = [1, 1]
        let energy = Factorized3dCore(c, generator: RandomGenerator(seed: 7))
        #expect(Set(energy.stateDict().keys) == Set(plain.stateDict().keys))
        #expect(energy.parameterCount == plain.parameterCount)
        let video = input([2, 1, 4, 5, 5], seed: 8)
        // The first layer's output: its last channel squared after BatchNorm, the others through ELU.
        let layer0 = energy.features[0] as! Sequential
        let normalized = withNoGrad { (layer0["norm"] as! BatchNorm3d)(energy.temporalConvolutions[0](energy.spatialConvolutions[0](video))) }
        let first = withNoGrad { layer0(video) }
        expectClose(first.sliced(axis: 1, range: 0..<1), normalized.sliced(axis: 1, range: 0..<1).elu().scalars, atol: 1e-5)
        expectClose(first.sliced(axis: 1, range: 1..<2), normalized.sliced(axis: 1, range: 1..<2).square().scalars, atol: 1e-4)
        expectGradients([video, energy.spatialConvolutions[0].weight, energy.temporalConvolutions[1].weight]) { _ in energy(video) }
        energy.eval()
        expectGradients([video, energy.spatialConvolutions[0].weight, energy.temporalConvolutions[1].weight]) { _ in energy(video) }
        try c.check()
        c.energyChannels = [1, 3]
        #expect(throws: ComponentError.self) { try c.check() }
        c.energyChannels = [1, 1, 1]
        #expect(throws: ComponentError.self) { try c.check() }
    }

    /// Quadrature energy units: each pair of energy channels becomes `√(a² + b² + ε)`, so a layer
    /// hands on fewer channels than it convolves; the next layer, `outputChannels` and
    /// `outputShape` follow; gradients pass finite differences; an odd count is refused.
    @Test func factorizedQuadratureEnergyChannels() throws {
        let x = Tensor([0.5, -1.5, 2, -0.75, 1.25, -2.5, 0.25, -0.5, 3, 0.1], shape: [1, 5, 2], requiresGrad: true)
        let layer = EnergyChannels(count: 4, function: .quadrature, nonlinearity: ELU())
        let y = layer(x)
        #expect(y.shape == [1, 3, 2])
        let norm: (Float, Float) -> Float = { ($0 * $0 + $1 * $1 + 1e-6).squareRoot() }
        expectClose(y, [0.5, Float(Foundation.exp(-1.5) - 1), norm(2, 1.25), norm(-0.75, -2.5), norm(0.25, 3), norm(-0.5, 0.1)],
                    atol: 1e-6)
        expectGradients([x]) { _ in layer(x) }
        // A pair at the origin: finite, with a zero gradient there.
        let zero = Tensor([0, 0], shape: [1, 2, 1], requiresGrad: true)
        let origin = EnergyChannels(count: 2, function: .quadrature, nonlinearity: nil)(zero)
        origin.sum().backward()
        #expect(origin.scalars.allSatisfy { $0.isFinite } && zero.grad!.scalars == [0, 0])

        // In both layers of a core: layer 0 hands on 2 − 1 channels, layer 1 4 − 1.
        var c = tinyFactorizedConfiguration(channels: [2, 4])
        c.energyChannels = [2, 2]
        c.linearChannels = [0, 1]
        c.energyFunction = .quadrature
        try c.check()
        let core = Factorized3dCore(c, generator: RandomGenerator(seed: 7))
        #expect(core.outputChannels == 3)
        #expect(core.spatialConvolutions[1].weight.shape == [4, 1, 1, 3, 3])
        let video = input([2, 1, 4, 6, 6], seed: 8)
        let out = core(video)
        #expect(out.shape == core.outputShape(for: video.shape))
        let layer1 = core.features[1] as! Sequential
        let hidden = withNoGrad { core.features[0](video) }
        let normalized = withNoGrad { (layer1["norm"] as! BatchNorm3d)(core.temporalConvolutions[1](core.spatialConvolutions[1](hidden))) }
        let a = normalized.sliced(axis: 1, range: 2..<3), b = normalized.sliced(axis: 1, range: 3..<4)
        expectClose(withNoGrad { layer1(hidden) }.sliced(axis: 1, range: 2..<3), (a.square() + b.square() + 1e-6).sqrt().scalars, atol: 1e-5)
        expectGradients([video, core.spatialConvolutions[0].weight, core.temporalConvolutions[1].weight]) { _ in core(video) }
        c.energyChannels = [2, 1]
        #expect(throws: ComponentError.self) { try c.check() }
    }

    /// Linear units: the first `linearChannels[ℓ]` channels skip the nonlinearity (alone and next
    /// to energy units), with the same keys and parameters, gradients, and refused counts.
    @Test func factorizedLinearChannels() throws {
        let x = Tensor([0.5, -1.5, 2, -0.75, 1.25, -2.5, 0.25, -0.5], shape: [1, 4, 2], requiresGrad: true)
        let layer = EnergyChannels(count: 1, function: .absolute, nonlinearity: ELU(), linearCount: 2)
        let elu: (Float) -> Float = { $0 > 0 ? $0 : Float(Foundation.exp(Double($0)) - 1) }
        expectClose(layer(x), [0.5, -1.5, 2, -0.75] + [1.25, -2.5].map(elu) + [0.25, 0.5], atol: 1e-6)
        expectGradients([x]) { _ in layer(x) }
        expectClose(EnergyChannels(count: 0, function: .square, nonlinearity: ELU(), linearCount: 4)(x), x.scalars)
        expectClose(EnergyChannels(count: 2, function: .square, nonlinearity: ELU(), linearCount: 2)(x),
                    [0.5, -1.5, 2, -0.75] + [1.25, -2.5, 0.25, -0.5].map { $0 * $0 })

        var c = tinyFactorizedConfiguration(channels: [2, 3])
        let plain = Factorized3dCore(c, generator: RandomGenerator(seed: 7))
        c.linearChannels = [0, 2]
        c.energyChannels = [0, 1]
        c.energyFunction = .absolute
        let core = Factorized3dCore(c, generator: RandomGenerator(seed: 7))
        #expect(Set(core.stateDict().keys) == Set(plain.stateDict().keys) && core.parameterCount == plain.parameterCount)
        let video = input([2, 1, 4, 5, 5], seed: 8)
        // The last layer: its first two channels are the normalised convolutions themselves.
        let layer1 = core.features[1] as! Sequential
        let hidden = withNoGrad { core.features[0](video) }
        let normalized = withNoGrad { (layer1["norm"] as! BatchNorm3d)(core.temporalConvolutions[1](core.spatialConvolutions[1](hidden))) }
        let out = withNoGrad { layer1(hidden) }
        expectClose(out.sliced(axis: 1, range: 0..<2), normalized.sliced(axis: 1, range: 0..<2).scalars, atol: 1e-5)
        expectClose(out.sliced(axis: 1, range: 2..<3), normalized.sliced(axis: 1, range: 2..<3).abs().scalars, atol: 1e-5)
        expectGradients([video, core.spatialConvolutions[0].weight, core.temporalConvolutions[1].weight]) { _ in core(video) }
        try c.check()
        c.linearChannels = [0, 3]
        #expect(throws: ComponentError.self) { try c.check() }
        c.linearChannels = [-1]
        #expect(throws: ComponentError.self) { try c.check() }
        c.linearChannels = [0, 1, 1]
        #expect(throws: ComponentError.self) { try c.check() }
    }

    /// Grouped temporal convolutions: a depth-wise last layer has one temporal filter per channel
    /// (the same keys, weights (C, 1, kT, 1, 1)), equals a full convolution with a diagonal weight,
    /// has gradients, and a group count that does not divide the channels is refused.
    @Test func factorizedTemporalGroups() throws {
        var c = tinyFactorizedConfiguration(channels: [2, 4])
        let full = Factorized3dCore(c, generator: RandomGenerator(seed: 7))
        c.temporalGroups = [1, 4]
        let grouped = Factorized3dCore(c, generator: RandomGenerator(seed: 7))
        #expect(Set(grouped.stateDict().keys) == Set(full.stateDict().keys))
        #expect(grouped.temporalConvolutions[1].weight.shape == [4, 1, 2, 1, 1] && grouped.temporalConvolutions[0].weight.shape == [2, 2, 2, 1, 1])
        // The full core with the grouped core's weights on the diagonal computes the same.
        var state = grouped.stateDict()
        let w = grouped.temporalConvolutions[1].weight.scalars
        var diagonal = [Float](repeating: 0, count: 4 * 4 * 2)
        for o in 0..<4 { for t in 0..<2 { diagonal[(o * 4 + o) * 2 + t] = w[o * 2 + t] } }
        state["features.layer1.conv_temporal_1.weight"] = Tensor(diagonal, shape: [4, 4, 2, 1, 1])
        try full.loadStateDict(state)
        let video = input([2, 1, 4, 7, 7], seed: 9)
        full.eval()
        grouped.eval()
        expectClose(withNoGrad { grouped(video) }, withNoGrad { full(video) }.scalars, atol: 1e-5)
        grouped.train()
        expectGradients([video, grouped.temporalConvolutions[1].weight, grouped.spatialConvolutions[1].weight]) { _ in grouped(video) }
        try c.check()
        c.temporalGroups = [1, 3]
        #expect(throws: ComponentError.self) { try c.check() }
        c.temporalGroups = [0]
        #expect(throws: ComponentError.self) { try c.check() }
    }

    @Test func factorizedGradients() {
        let g = RandomGenerator(seed: 2)
        let core = tinyFactorized(g)
        let x = input([2, 1, 4, 5, 5], seed: 3)
        let bn = core.features["layer0"].map { ($0 as! Sequential)["norm"] as! BatchNorm3d }!
        expectGradients([x, core.spatialConvolutions[0].weight, core.temporalConvolutions[1].weight, bn.weight!]) { _ in core(x) }
        core.eval()
        expectGradients([x, core.temporalConvolutions[0].bias!]) { _ in core(x) }
        expectGradients([core.spatialConvolutions[0].weight, core.temporalConvolutions[0].weight]) { _ in core.regularizer() }
    }

    @Test func trainAndEvalModesBehaveLikePyTorch() {
        let g = RandomGenerator(seed: 4)
        let core = tinyFactorized(g)
        let x = input([2, 1, 4, 5, 5], seed: 5)
        let bn = (core.features[0] as! Sequential)["norm"] as! BatchNorm3d
        let first = withNoGrad { core.temporalConvolutions[0](core.spatialConvolutions[0](x)) }
        _ = withNoGrad { core(x) }
        // running = 0.3·0 + 0.7·batch mean; counter incremented
        expectClose(bn.runningMean!, (first.mean(axes: [0, 2, 3, 4]) * 0.7).scalars, atol: 1e-5)
        #expect(bn.numBatchesTracked!.item == 1)
        core.eval()
        #expect(core.modules().allSatisfy { !$0.isTraining })
        let stats = bn.runningMean!.scalars
        let a = withNoGrad { core(x) }, b = withNoGrad { core(x) }
        #expect(a.scalars == b.scalars)
        #expect(bn.runningMean!.scalars == stats && bn.numBatchesTracked!.item == 1)
        core.train()
        let c = withNoGrad { core(x) }
        #expect(c.scalars != a.scalars)  // batch statistics differ from the running ones
        #expect(bn.numBatchesTracked!.item == 2)
    }

    @Test func basic3dGradientsAndShapes() {
        let g = RandomGenerator(seed: 6)
        var c = Basic3dCore.Configuration()
        c.inputChannels = 1
        c.hiddenChannels = [2, 2]
        c.inputKernel = [2, 3, 3]
        c.hiddenKernels = [[2, 3, 3]]
        let core = Basic3dCore(c, generator: g)
        #expect(core.outputShape(for: [1, 1, 5, 4, 4]) == [1, 2, 3, 4, 4] && core.burnInFrames == 2)
        let x = input([1, 1, 5, 4, 4], seed: 7)
        expectGradients([x, core.convolutions[0].weight, core.convolutions[1].bias!], epsilon: 1e-3) { _ in core(x) }
        expectGradients([core.convolutions[0].weight]) { _ in core.regularizer() }
        let defaults = Basic3dCore(generator: g)
        #expect(defaults.outputShape(for: [1, 3, 80, 36, 64]) == [1, 64, 64, 36, 64] && defaults.burnInFrames == 16)
    }

    @Test func stacked2dWithConvGRUGradients() {
        let g = RandomGenerator(seed: 8)
        var c = Stacked2dCore.Configuration()
        c.inputChannels = 1
        c.hiddenChannels = [2, 2]
        c.inputKern = 3
        c.hiddenKern = [3]
        c.gammaInput = 2
        c.gammaHidden = 3
        let frameCore = Stacked2dCore(c, generator: g)
        let core = FrameWiseCore(core: frameCore, gru: ConvGRU(inputChannels: 2, recChannels: 2, inputKern: 3, recKern: 3, generator: g))
        let x = input([1, 1, 3, 5, 5], seed: 9)
        #expect(core.outputShape(for: x.shape) == [1, 2, 3, 3, 3] && core.burnInFrames == 0)
        #expect(core.namedParameters().map(\.path).contains("gru_module.gru.update_gate_input.weight"))
        #expect(core.namedParameters().map(\.path).first == "core.features.layer0.conv.weight")
        expectGradients([x, frameCore.convolutions[0].weight, frameCore.convolutions[1].bias!,
                         core.gruModule!.cell.outGateHidden.weight]) { _ in core(x) }
        expectGradients([frameCore.convolutions[0].weight, frameCore.convolutions[1].weight]) { _ in core.regularizer() }
        // the video core is the frame core applied per frame
        core.eval()
        let frames = withNoGrad { frameCore(x.permuted([0, 2, 1, 3, 4]).reshaped([3, 1, 5, 5])) }
        let plain = FrameWiseCore(core: frameCore)
        expectClose(withNoGrad { plain(x) }, frames.reshaped([1, 3, 2, 3, 3]).permuted([0, 2, 1, 3, 4]))
    }

    @Test func rotationEquivariantGradientsAndEquivariance() {
        let g = RandomGenerator(seed: 10)
        var c = RotationEquivariant2dCore.Configuration()
        c.inputChannels = 1
        c.hiddenChannels = [1, 1]
        c.inputKern = 3
        c.hiddenKern = [3]
        c.numRotations = 4
        c.padInput = true
        let core = RotationEquivariant2dCore(c, generator: g)
        let x = input([1, 1, 5, 5], seed: 11)
        #expect(core.outputShape(for: x.shape) == [1, 4, 5, 5])
        expectGradients([x, core.convolutions[0].coeffs, core.convolutions[1].coeffs], epsilon: 1e-3) { _ in core(x) }
        expectGradients([core.convolutions[0].coeffs, core.convolutions[1].coeffs]) { _ in core.regularizer() }
        // H and Rs are buffers: saved, never trained
        #expect(core.namedBuffers().map(\.path).contains("features.layer1.hermite_conv.rotate_hermite.Rs.3"))
        #expect(core.parameters().allSatisfy { $0.requiresGrad })
        // equivariance: the filter of rotation r is the rotation-0 filter turned by r·90°
        let w = core.convolutions[0].weightsAllRotations  // (4, 1, 3, 3)
        let w0 = Array(w.scalars[0..<9]), w1 = Array(w.scalars[9..<18])
        var counterClockwise: Float = 0, clockwise: Float = 0
        for r in 0..<3 {
            for c in 0..<3 {
                counterClockwise = max(counterClockwise, abs(w1[r * 3 + c] - w0[c * 3 + 2 - r]))
                clockwise = max(clockwise, abs(w1[r * 3 + c] - w0[(2 - c) * 3 + r]))
            }
        }
        let error = min(counterClockwise, clockwise)
        #expect(error < 1e-4)
    }
}
