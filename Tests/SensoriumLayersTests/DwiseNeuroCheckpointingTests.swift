import Foundation
import Testing
import SensoriumTensor
import SensoriumTestSupport
@testable import SensoriumLayers

/// `gradientCheckpointing` of DwiseNeuro's blocks (``Module/recomputingInBackward(_:_:)``): the same
/// outputs, gradients, running statistics and DropPath draws as keeping every activation, with
/// only the blocks' inputs and outputs kept for the backward pass.
@Suite struct DwiseNeuroCheckpointingTests {
    private static let configuration = DwiseNeuroCore.Configuration(
        features: [4, 4, 6], spatialStrides: [2, 1, 2], expansionRatio: 3, seReduceRatio: 4, dropPathRate: 1.0)

    /// A core in training mode with non-trivial BatchNorm affine parameters and its own DropPath stream.
    private func core(checkpointing: Bool) -> DwiseNeuroCore {
        var c = Self.configuration
        c.gradientCheckpointing = checkpointing
        let core = DwiseNeuroCore(configuration: c, generator: RandomGenerator(seed: 30))
        let g = RandomGenerator(seed: 31)
        core.apply { m in
            guard let bn = m as? BatchNorm else { return }
            bn.weight?.assign(Tensor.randomUniform([bn.numFeatures], low: 0.6, high: 1.4, generator: g))
            bn.bias?.assign(Tensor.randomNormal([bn.numFeatures], std: 0.1, generator: g))
        }
        let drops = RandomGenerator(seed: 32)
        core.apply { ($0 as? DropPath)?.generator = drops }
        core.train()
        return core
    }

    /// Two training steps through the whole core, with and without recomputation, from an input
    /// computed by a recorded op (its gradient flows back through the surrounding graph).
    @Test func sameOutputsGradientsStatisticsAndDraws() {
        struct Step { var output: [Float], inputGrad: [Float], parameterGrads: [[Float]], buffers: [[Float]], draws: [UInt64] }
        func run(checkpointing: Bool) -> [Step] {
            let core = core(checkpointing: checkpointing)
            #expect(core.block(1).gradientCheckpointing == checkpointing)
            let gen = RandomGenerator(seed: 33)
            var steps: [Step] = []
            for _ in 0..<2 {
                let x0 = Tensor.randomNormal([6, 5, 3, 7, 6], generator: gen, requiresGrad: true)
                let y = core(x0 * 1.5)
                let g = Tensor.randomNormal(y.shape, generator: gen)
                y.backward(g)
                steps.append(Step(output: y.scalars, inputGrad: x0.grad!.scalars,
                                  parameterGrads: core.parameters().map { $0.grad?.scalars ?? [] },
                                  buffers: core.namedBuffers().map(\.tensor.scalars),
                                  draws: core.block(1).dropPath.generator.state))
                for p in core.parameters() { p.grad = nil }
            }
            return steps
        }
        let direct = run(checkpointing: false), recomputed = run(checkpointing: true)
        #expect(direct[0].draws != direct[1].draws)   // DropPath drew in every step
        for (d, r) in zip(direct, recomputed) {
            #expect(r.output == d.output)
            #expect(r.inputGrad == d.inputGrad)
            expectClose(r.inputGrad, d.inputGrad, atol: 1e-6, rtol: 1e-5, "input gradient")
            #expect(r.parameterGrads.count == d.parameterGrads.count)
            for (i, (rg, dg)) in zip(r.parameterGrads, d.parameterGrads).enumerated() {
                #expect(!dg.isEmpty && rg.count == dg.count, "parameter \(i)")
                #expect(rg == dg, "parameter \(i) bit-identical")
                expectClose(rg, dg, atol: 1e-6, rtol: 1e-5, "parameter \(i) gradient")
            }
            // Running statistics and batch counters updated once per step, as without recomputation.
            #expect(r.buffers == d.buffers)
            #expect(r.draws == d.draws)
        }
    }

    /// The counters count steps, not the replays.
    @Test func batchCountersCountForwardPassesOnly() {
        let core = core(checkpointing: true)
        let x = Tensor.randomNormal([2, 5, 2, 5, 5], generator: RandomGenerator(seed: 34), requiresGrad: true)
        core(x).sum().backward()
        core.apply { m in
            guard let bn = m as? BatchNorm else { return }
            #expect(bn.numBatchesTracked?.item == 1)
        }
    }

    /// Finite differences through checkpointed blocks, training-mode BatchNorm (batch statistics)
    /// without DropPath, and eval mode with perturbed running statistics.
    @Test func gradientCheck() {
        var c = Self.configuration
        c.features = [2, 4]
        c.spatialStrides = [2, 1]
        c.expansionRatio = 2
        c.seReduceRatio = 2
        c.dropPathRate = 0
        c.gradientCheckpointing = true
        for training in [true, false] {
            let core = DwiseNeuroCore(configuration: c, generator: RandomGenerator(seed: 35))
            let g = RandomGenerator(seed: 36)
            core.apply { m in
                guard let bn = m as? BatchNorm else { return }
                bn.weight?.assign(Tensor.randomUniform([bn.numFeatures], low: 0.6, high: 1.4, generator: g))
                bn.bias?.assign(Tensor.randomNormal([bn.numFeatures], std: 0.1, generator: g))
                bn.runningMean?.assign(Tensor.randomNormal([bn.numFeatures], std: 0.2, generator: g))
                bn.runningVar?.assign(Tensor.randomUniform([bn.numFeatures], low: 0.5, high: 2, generator: g))
            }
            if training { core.train() } else { core.eval() }
            let x = Tensor.randomNormal([2, 5, 3, 5, 5], generator: g, requiresGrad: true)
            let weights = Tensor.randomNormal(core.outputShape(for: x.shape), generator: g)
            expectGradients([x] + core.parameters(), epsilon: 1e-2, atol: 3e-3, rtol: 3e-2) { _ in (core(x) * weights).sum() }
        }
    }

    /// Between the passes a checkpointed block keeps its output only (its input belongs to the
    /// caller); the same block without recomputation keeps several expanded activations.
    @Test func keepsOnlyTheOutput() {
        var live: [Bool: Int] = [:]
        for checkpointing in [false, true] {
            let block = InvertedResidual3d(inChannels: 8, outChannels: 8, expansionRatio: 6, seReduceRatio: 8,
                                           dropPathRate: 0.2, generator: RandomGenerator(seed: 37))
            block.gradientCheckpointing = checkpointing
            let x = Tensor.randomNormal([2, 8, 4, 8, 8], generator: RandomGenerator(seed: 38), requiresGrad: true)
            let tracker = AllocationTracker()
            tracker.track {
                let y = block(x)
                live[checkpointing] = tracker.liveBytes
                if checkpointing { #expect(tracker.liveBytes == y.count * 4) }
                y.sum().backward()
            }
            #expect(x.grad != nil)
        }
        let expanded = 2 * 48 * 4 * 8 * 8 * 4
        #expect(live[false]! > 5 * expanded)
    }

    /// The option is a configuration key: it encodes, decodes over the defaults and builds blocks with it.
    @Test func configurationKey() throws {
        var c = DwiseNeuroCore.Configuration.defaults
        #expect(!c.gradientCheckpointing)
        c.gradientCheckpointing = true
        let json = try JSONEncoder().encode(AnyCoreConfiguration(c))
        #expect(String(decoding: json, as: UTF8.self).contains("\"gradientCheckpointing\":true"))
        let decoded = try JSONDecoder().decode(AnyCoreConfiguration.self, from: json)
        #expect(decoded == AnyCoreConfiguration(c))
        let partial = try JSONDecoder().decode(AnyCoreConfiguration.self,
                                               from: Data(#"{"type": "dwiseneuro", "gradientCheckpointing": true}"#.utf8))
        #expect(partial == AnyCoreConfiguration(c))
    }
}
