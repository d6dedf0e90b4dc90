import Foundation
import Testing
import SensoriumTensor
import SensoriumLayers
import SensoriumReadouts
import SensoriumTestSupport

/// A core under test: a name and a factory.
struct CoreCase: CustomTestStringConvertible, Sendable {
    let name: String
    let make: @Sendable (RandomGenerator) -> any UnaryLayer
    var testDescription: String { name }

    /// Every core available: a small conv stack built from layers, and every built-in core.
    static let all: [CoreCase] = [
        CoreCase(name: "conv stack") { SmallConvCore(generator: $0) },
        CoreCase(name: "Factorized3dCore") { g in
            var c = Factorized3dCore.Configuration(inputChannels: 2, hiddenChannels: [4, 6], spatialInputKernel: [3, 3],
                                                   temporalInputKernel: 3, spatialHiddenKernel: [3, 3], temporalHiddenKernel: 2)
            c.padding = true
            return Factorized3dCore(c, generator: g)
        },
        CoreCase(name: "Basic3dCore") { g in
            var c = Basic3dCore.Configuration()
            c.inputChannels = 2
            c.hiddenChannels = [4, 6]
            c.inputKernel = [3, 3, 3]
            c.hiddenKernels = [[2, 3, 3]]
            return Basic3dCore(c, generator: g)
        },
        CoreCase(name: "Stacked2dCore + ConvGRU") { g in
            var c = Stacked2dCore.Configuration()
            c.inputChannels = 2
            c.hiddenChannels = [4, 6]
            c.inputKern = 3
            c.hiddenKern = [3]
            c.padInput = true
            return FrameWiseCore(core: Stacked2dCore(c, generator: g),
                                 gru: ConvGRU(inputChannels: 6, recChannels: 5, inputKern: 3, recKern: 3, generator: g))
        },
        CoreCase(name: "RotationEquivariant2dCore") { g in
            var c = RotationEquivariant2dCore.Configuration()
            c.inputChannels = 2
            c.hiddenChannels = [2, 2]
            c.numRotations = 4
            c.inputKern = 3
            c.hiddenKern = [3]
            c.padInput = true
            return FrameWiseCore(core: RotationEquivariant2dCore(c, generator: g))
        },
    ]
}

/// A readout under test: a name and a factory from (channels, neurons, coordinates).
struct ReadoutCase: CustomTestStringConvertible, Sendable {
    let name: String
    let make: @Sendable (Int, Int, Tensor, RandomGenerator) -> (cortex: Cortex?, readout: any Readout)
    var testDescription: String { name }

    static let all: [ReadoutCase] = [
        ReadoutCase(name: "FullGaussian2d free") { c, n, _, g in
            (nil, FullGaussian2d(inputChannels: c, neuronCount: n, generator: g))
        },
        ReadoutCase(name: "FullGaussian2d cortex isotropic") { c, n, coordinates, g in
            (nil, FullGaussian2d(inputChannels: c, neuronCount: n, covariance: .isotropic, positions: .cortex(coordinates: coordinates),
                                 initSigma: 0.1, featureRegularization: 1e-3, generator: g))
        },
        ReadoutCase(name: "Hierarchical mean") { c, n, coordinates, g in
            (nil, HierarchicalGaussianReadout(inputChannels: c, neuronCount: n,
                                              positions: .cortex(coordinates: coordinates, network: .init(hiddenFeatures: 32)),
                                              configuration: .init(fusion: .mean), refinementWidth: { 2 * $0 }, generator: g))
        },
        ReadoutCase(name: "Hierarchical adaptive") { c, n, _, g in
            (nil, HierarchicalGaussianReadout(inputChannels: c, neuronCount: n, positions: .free(),
                                              configuration: .init(levels: [2, 4], fusion: .adaptive),
                                              refinementWidth: { 2 * $0 }, generator: g))
        },
        ReadoutCase(name: "GroupedConv") { c, n, _, g in
            (nil, GroupedConvReadout(inputChannels: c, neuronCount: n, configuration: .init(groups: c % 2 == 0 ? 2 : 1, dropout: 0.2, softplusBeta: 0.5), generator: g))
        },
        ReadoutCase(name: "Cortex + GroupedConv") { c, n, _, g in
            let cortex = Cortex(configuration: .init(inputChannels: c, features: [8, 16], groups: c % 2 == 0 ? 2 : 1, dropPathRate: 0.1), generator: g)
            return (cortex, GroupedConvReadout(inputChannels: 16, neuronCount: n, configuration: .init(groups: 2, dropout: 0.2, softplusBeta: 0.5, learnableBeta: true), generator: g))
        },
        ReadoutCase(name: "user-written PooledLinearReadout") { c, n, _, g in
            (nil, PooledLinearReadout(inputChannels: c, neuronCount: n, generator: g))
        },
        ReadoutCase(name: "Cortex (per pixel) + FullGaussian2d") { c, n, _, g in
            let cortex = Cortex(configuration: .init(inputChannels: c, features: [8], groups: c % 2 == 0 ? 2 : 1, dropPathRate: 0, poolSpatially: false), generator: g)
            return (cortex, FullGaussian2d(inputChannels: 8, neuronCount: n, covariance: .uncorrelated, initSigma: 0.2, generator: g))
        },
    ]
}

/// Core + optional cortex + readout + MLP shifter + output nonlinearity, as a model would compose them.
final class TestModel: Module {
    let core: any UnaryLayer
    let cortex: Cortex?
    let readout: any Readout
    let shifter: MLPShifter
    let nonlinearity = ELUPlusOne()

    init(core: any UnaryLayer, cortex: Cortex?, readout: any Readout, generator: RandomGenerator) {
        self.core = core
        self.cortex = cortex
        self.readout = readout
        self.shifter = MLPShifter(generator: generator)
        super.init()
    }

    func callAsFunction(_ video: Tensor, pupil: Tensor) -> Tensor {
        var features = core(video)
        if let cortex { features = cortex(features) }
        let frames = features.shape[2]
        let shift = shifter(pupil.sliced(axis: 2, range: (pupil.shape[2] - frames)..<pupil.shape[2]).transposed(1, 2))
        let y = readout.callAsFunction(features, shift: shift)
        return readout.appliesOutputNonlinearity ? y : nonlinearity(y)
    }
}

@Suite struct TrainingTests {
    /// Every readout on every core trains on a small synthetic batch: the loss goes down.
    @Test(arguments: CoreCase.all, ReadoutCase.all)
    func lossGoesDown(_ coreCase: CoreCase, _ readoutCase: ReadoutCase) {
        let g = RandomGenerator(seed: 42)
        let core = coreCase.make(g)
        let neurons = 17
        let video = randn([2, 2, 6, 8, 10], seed: 1)
        let pupil = randn([2, 2, 6], seed: 2)
        let probe = withNoGrad { core(video) }
        let channels = probe.shape[1], frames = probe.shape[2]
        let coordinates = randn([neurons, 3], seed: 3, std: 100)
        let (cortex, readout) = readoutCase.make(channels, neurons, coordinates, g)
        let model = TestModel(core: core, cortex: cortex, readout: readout, generator: g)
        // Targets: positive, neuron- and frame-dependent rates.
        let targets = (randn([2, frames, neurons], seed: 4) * 0.5 + 1.5).relu()
        readout.initializeBias(fromResponses: targets)
        let optimizer = TestAdam(model.trainableParameters(), learningRate: 0.02)
        var losses: [Float] = []
        for _ in 0..<12 {
            let prediction = model(video, pupil: pupil)
            #expect(prediction.shape == [2, frames, neurons])
            var loss = poissonLoss(prediction, targets)
            if let c = core as? any Core { loss = loss + c.regularizer() * 1e-3 }
            loss = loss + readout.regularizer()
            losses.append(loss.item)
            loss.backward()
            optimizer.update()
        }
        #expect(losses.allSatisfy { $0.isFinite }, "\(losses)")
        let first = losses.prefix(3).reduce(0, +) / 3, last = losses.suffix(3).reduce(0, +) / 3
        #expect(last < first, "\(coreCase.name) + \(readoutCase.name): losses \(losses)")
    }

    /// The factorized baseline model fixture (core, per-mouse Gaussian readouts with positions from
    /// cortical coordinates, MLP shifters, ELU + 1) loads by PyTorch key and reproduces the
    /// reference predictions.
    @Test func baselineModelFixtureReproducesPredictions() throws {
        let folder = FullGaussian2dTests.modelFolder
        let json = try Fixtures.json(folder.appendingPathComponent("model.json"))
        let tol = json["tol"] as? [String: Any]
        let atol = Float((tol?["atol"] as? Double) ?? 1e-4), rtol = Float((tol?["rtol"] as? Double) ?? 1e-3)
        let g = RandomGenerator(seed: 1)
        var config = Factorized3dCore.Configuration(inputChannels: 3, hiddenChannels: [8, 12], spatialInputKernel: [5, 5],
                                                    temporalInputKernel: 5, spatialHiddenKernel: [3, 3], temporalHiddenKernel: 3)
        config.padding = true
        config.momentum = 0.7
        let core = Factorized3dCore(config, generator: g)
        var mice: [MouseNeurons] = []
        for (mouse, count) in [("mouse_a", 7), ("mouse_b", 5)] {
            mice.append(MouseNeurons(key: mouse, count: count, coordinates: try Fixtures.tensor("cell_motor_coordinates.\(mouse)", in: folder)))
        }
        let readouts = PerMouseReadouts.fullGaussian2d(
            inputChannels: 12, mice: mice,
            configuration: GaussianReadoutConfiguration(positionNetwork: PositionNetworkConfiguration(hiddenFeatures: 6)), generator: g)
        let shifters = PerMouseShifters.mlp(dataKeys: ["mouse_a", "mouse_b"], generator: g)
        let model = BaselineModel(core: core, readout: readouts, shifter: shifters)
        let stateFolder = folder.appendingPathComponent("state")
        var state: [String: Tensor] = [:]
        for file in try FileManager.default.contentsOfDirectory(atPath: stateFolder.path) where file.hasSuffix(".npy") {
            let key = String(file.dropLast(4))
            state[key] = try Fixtures.tensor(key, in: stateFolder)
        }
        try model.loadStateDict(state)
        model.eval()
        for mouse in ["mouse_a", "mouse_b"] {
            let video = try Fixtures.tensor("video.\(mouse)", in: folder)
            let pupil = try Fixtures.tensor("pupil_center.\(mouse)", in: folder)
            let expected = try Fixtures.tensor("output.\(mouse)", in: folder)
            let y = withNoGrad { model(video, pupil: pupil, dataKey: mouse) }
            expectNear(y, expected, atol: atol, rtol: rtol, mouse)
        }
    }
}

/// The baseline's composition: `core`, `readout.<mouse>`, `shifter.<mouse>`, then ELU + 1.
final class BaselineModel: Module {
    let core: Factorized3dCore
    let readout: PerMouseReadouts
    let shifter: PerMouseShifters
    init(core: Factorized3dCore, readout: PerMouseReadouts, shifter: PerMouseShifters) {
        self.core = core
        self.readout = readout
        self.shifter = shifter
        super.init()
    }

    func callAsFunction(_ video: Tensor, pupil: Tensor, dataKey: String) -> Tensor {
        let features = core(video)
        let frames = features.shape[2]
        let shift = shifter(pupil.sliced(axis: 2, range: (pupil.shape[2] - frames)..<pupil.shape[2]).transposed(1, 2), dataKey: dataKey)
        return ELUPlusOne()(readout(features, dataKey: dataKey, shift: shift))
    }
}

/// The user-written readout of Documentation/Models.md ("Writing your own readout").
final class PooledLinearReadout: Module, Readout {
    let weight: Tensor          // (C', neurons)
    let bias: Tensor            // (neurons)
    var inputChannels: Int { weight.shape[0] }
    var neuronCount: Int { weight.shape[1] }

    init(inputChannels: Int, neuronCount: Int, generator: RandomGenerator) {
        weight = Tensor.randomNormal([inputChannels, neuronCount], std: 0.01, generator: generator,
                                     requiresGrad: true)
        bias = Tensor.zeros([neuronCount], requiresGrad: true)
    }

    func callAsFunction(_ features: Tensor, shift: Tensor?) -> Tensor {
        checkInput(features, shift: shift, readout: "PooledLinearReadout")
        let pooled = features.mean(axes: [3, 4]).transposed(1, 2)        // (N, T', C')
        return matmul(pooled, weight) + bias                             // (N, T', neurons)
    }

    func regularizer() -> Tensor { weight.abs().sum() * 1e-4 }
    func initializeBias(meanResponses: Tensor) { bias.assign(meanResponses) }
}
