import Foundation
import Testing
import SensoriumTensor
import SensoriumLayers
import SensoriumReadouts
import SensoriumTestSupport

/// A module holding per-mouse readouts and shifters under the reference's property names.
final class ReadoutAndShifter: Module {
    let readout: PerMouseReadouts
    let shifter: PerMouseShifters
    init(readout: PerMouseReadouts, shifter: PerMouseShifters) {
        self.readout = readout
        self.shifter = shifter
        super.init()
    }
}

@Suite struct FullGaussian2dTests {
    static let modelFolder = Fixtures.folder(environmentKey: "SENSORIUM_MODEL_FIXTURES", defaultSubfolder: "models")
        .appendingPathComponent("factorized_gaussian_a")

    /// Evaluation mode reads at the clamped means, adds the shift after the clamp, and equals the
    /// composed `gridSample` computation on (N, C, T, H, W) features.
    @Test func evaluationReadsAtTheMeansPlusShift() {
        let (b, c, t, h, w, n) = (2, 3, 4, 5, 6, 7)
        let readout = FullGaussian2d(inputChannels: c, neuronCount: n, generator: RandomGenerator(seed: 1))
        readout.featureWeights.assign(randn([1, c, 1, n], seed: 2))
        readout.bias!.assign(randn([n], seed: 3))
        // One mean on the border and one outside (clamped in place to 1).
        readout.freePositions!.withUnsafeMutableBufferPointer { p in p[0] = 0.9; p[2] = 1.7 }
        readout.eval()
        let x = randn([b, c, t, h, w], seed: 4)
        let shift = uniform([b, t, 2], -0.3, 0.3, seed: 5)
        let y = readout(x, shift: shift)
        #expect(y.shape == [b, t, n])
        #expect(readout.freePositions!.scalars[2] == 1)

        let frames = x.permuted([0, 2, 1, 3, 4]).reshaped([b * t, c, h, w])
        let mu = readout.freePositions!.reshaped([1, n, 2]).clamped(min: -1, max: 1)
        let grid = mu + shift.reshaped([b * t, 1, 2])
        let expected = composedReadout(frames, positions: grid, features: readout.featureWeights.reshaped([c, n])) + readout.bias!
        expectNear(y, expected.reshaped([b, t, n]), "eval output")
    }

    /// Training mode draws a new position per frame and neuron from the generator; the same seed
    /// repeats the draws; evaluation mode is deterministic.
    @Test func trainingSamplesPerFrameAndNeuron() {
        func make() -> FullGaussian2d {
            FullGaussian2d(inputChannels: 2, neuronCount: 5, generator: RandomGenerator(seed: 7))
        }
        let a = make(), b = make()
        let pa = a.samplePositions(frames: 3), pb = b.samplePositions(frames: 3)
        #expect(pa.shape == [3, 5, 2])
        #expect(pa.scalars == pb.scalars)
        let rows = pa.scalars
        #expect(rows[0..<10] != rows[10..<20])
        #expect(pa.scalars.allSatisfy { $0 >= -1 && $0 <= 1 })
        a.eval()
        let e1 = a.samplePositions(frames: 3), e2 = a.samplePositions(frames: 3)
        #expect(e1.shape == [1, 5, 2] && e1.scalars == e2.scalars)
        #expect(a.samplePositions(frames: 3, sample: true).shape == [3, 5, 2])
    }

    /// The sample is `mu + sigma·z` (full: a matrix product per neuron) for each covariance type.
    @Test(arguments: GaussianCovariance.allCases)
    func sampleFormula(_ covariance: GaussianCovariance) {
        let n = 4, frames = 3
        let readout = FullGaussian2d(inputChannels: 2, neuronCount: n, covariance: covariance, initSigma: 0.3,
                                     generator: RandomGenerator(seed: 8))
        let z = randn([frames, n, 2], seed: 9, std: 0.5)
        let got = readout.samplePositions(frames: frames, noise: z).scalars
        let mu = readout.freePositions!.scalars, s = readout.sigma.scalars, zs = z.scalars
        for m in 0..<frames {
            for j in 0..<n {
                for axis in 0..<2 {
                    let zi = zs[(m * n + j) * 2], zj = zs[(m * n + j) * 2 + 1]
                    let spread: Float
                    switch covariance {
                    case .full: spread = s[j * 4 + axis * 2] * zi + s[j * 4 + axis * 2 + 1] * zj
                    case .uncorrelated: spread = s[j * 2 + axis] * (axis == 0 ? zi : zj)
                    case .isotropic: spread = s[j] * (axis == 0 ? zi : zj)
                    }
                    let expected = min(max(mu[j * 2 + axis] + spread, -1), 1)
                    #expect(abs(got[(m * n + j) * 2 + axis] - expected) < 1e-6)
                }
            }
        }
        let shapes: [GaussianCovariance: [Int]] = [.full: [1, n, 2, 2], .uncorrelated: [1, n, 1, 2], .isotropic: [1, n, 1, 1]]
        #expect(readout.sigma.shape == shapes[covariance]!)
    }

    /// Gradients reach every parameter in training mode (finite differences through the module).
    @Test func moduleGradientCheck() {
        let readout = FullGaussian2d(inputChannels: 3, neuronCount: 4, covariance: .full, initSigma: 0.1,
                                     generator: RandomGenerator(seed: 10))
        readout.bias!.assign(randn([4], seed: 11))
        let x = randn([2, 3, 4, 5], seed: 12, requiresGrad: true)
        let noise = randn([2, 4, 2], seed: 13)
        let shift = uniform([2, 2], -0.2, 0.2, seed: 14, requiresGrad: true)
        // Keep the positions away from pixel boundaries so finite differences see no kinks.
        let mu = Tensor([-0.55, 0.1, 0.2, -0.3, 0.45, 0.62, -0.1, -0.7], shape: [1, 4, 1, 2], requiresGrad: true)
        readout.freePositions = mu
        expectGradientsPass([x, shift, mu, readout.sigma, readout.featureWeights, readout.bias!], epsilon: 1e-3,
                            atol: 5e-3, rtol: 3e-2) { inputs in
            readout.predictFrames(inputs[0], shift: inputs[1], noise: noise)
        }
    }

    /// `source_grid` is the first two coordinate columns, centred and divided by the largest
    /// absolute value, exactly as the reference stores it.
    @Test func sourceGridMatchesTheReference() throws {
        for mouse in ["mouse_a", "mouse_b"] {
            let coordinates = try Fixtures.tensor("cell_motor_coordinates.\(mouse)", in: Self.modelFolder)
            let reference = try Fixtures.tensor("state/readout.\(mouse).source_grid", in: Self.modelFolder)
            expectNear(PositionNetworkConfiguration().sourceGrid(from: coordinates), reference, atol: 1e-6, rtol: 1e-5, mouse)
        }
    }

    /// The per-mouse readouts and shifters have exactly the reference's state-dictionary keys and
    /// shapes, so the model fixture's readout and shifter tensors load by key.
    @Test func modelFixtureLoadsByKey() throws {
        let json = try Fixtures.json(Self.modelFolder.appendingPathComponent("model.json"))
        let predictor = (json["readout"] as? [String: Any])?["grid_mean_predictor"] as? [String: Any]
        let hidden = (predictor?["hidden_features"] as? NSNumber)?.intValue ?? 0
        let g = RandomGenerator(seed: 15)
        var mice: [MouseNeurons] = []
        for (mouse, count) in [("mouse_a", 7), ("mouse_b", 5)] {
            mice.append(MouseNeurons(key: mouse, count: count,
                                     coordinates: try Fixtures.tensor("cell_motor_coordinates.\(mouse)", in: Self.modelFolder)))
        }
        let config = GaussianReadoutConfiguration(positionNetwork: PositionNetworkConfiguration(hiddenFeatures: hidden))
        let model = ReadoutAndShifter(readout: .fullGaussian2d(inputChannels: 12, mice: mice, configuration: config, generator: g),
                                      shifter: .mlp(dataKeys: ["mouse_a", "mouse_b"], hiddenChannels: 5, layers: 3, generator: g))
        let stateFolder = Self.modelFolder.appendingPathComponent("state")
        let files = try FileManager.default.contentsOfDirectory(atPath: stateFolder.path)
        var state: [String: Tensor] = [:]
        for file in files where file.hasSuffix(".npy") && (file.hasPrefix("readout.") || file.hasPrefix("shifter.")) {
            let key = String(file.dropLast(4))
            state[key] = try Fixtures.tensor(key, in: stateFolder)
        }
        #expect(Set(model.stateDict().keys) == Set(state.keys))
        try model.loadStateDict(state)
        let readout = model.readout["mouse_a"] as! FullGaussian2d
        expectNear(readout.sigma, state["readout.mouse_a.sigma"]!, atol: 0, rtol: 0, "sigma loaded")
        #expect(model.readout.keys == ["mouse_a", "mouse_b"] && model.shifter.keys == ["mouse_a", "mouse_b"])
        // The loaded readout predicts positions with its network and reads features with them.
        readout.eval()
        let positions = readout.meanPositions()
        let features = randn([1, 12, 3, 4, 6], seed: 16)
        let y = readout(features)
        let frames = features.permuted([0, 2, 1, 3, 4]).reshaped([3, 12, 4, 6])
        let expected = composedReadout(frames, positions: positions.clamped(min: -1, max: 1).reshaped([1, 7, 2]).expanded(to: [3, 7, 2]),
                                       features: readout.features) + readout.bias!
        expectNear(y, expected.reshaped([1, 3, 7]), "loaded readout")
    }

    /// Features and positions shared by match id: one tensor under every mouse's key, scaled per
    /// neuron; only the owner regularises the shared features; borrowers transform shared positions.
    @Test func sharingByMatchIDs() {
        let g = RandomGenerator(seed: 17)
        let mice = [MouseNeurons(key: "a", count: 4, matchIDs: [3, 1, 2, 1]),
                    MouseNeurons(key: "b", count: 3, matchIDs: [2, 3, 1])]
        let config = GaussianReadoutConfiguration(featureRegularization: 0.5, positionNetwork: nil, shareGrid: true, shareFeatures: true)
        let readouts = PerMouseReadouts.fullGaussian2d(inputChannels: 2, mice: mice, configuration: config, generator: g)
        let a = readouts["a"] as! FullGaussian2d, b = readouts["b"] as! FullGaussian2d
        #expect(a.featureWeights === b.featureWeights && a.freePositions === b.freePositions)
        #expect(a.featureWeights.shape == [1, 2, 1, 3] && a.freePositions!.shape == [1, 3, 1, 2])
        #expect(a.featureSharingIndex!.scalars == [2, 0, 1, 0] && b.gridSharingIndex!.scalars == [1, 2, 0])
        let keys = Set(readouts.stateDict().keys)
        for key in ["a._mu", "a.grid_sharing_index", "a._features", "a.scales", "a.feature_sharing_index", "a.sigma", "a.bias",
                    "b._mu", "b.mu_transform.weight", "b.mu_transform.bias", "b._features", "b.scales"] {
            #expect(keys.contains(key), "missing \(key)")
        }
        #expect(!keys.contains("a.mu_transform.weight"))
        // Neurons with the same id read the same shared column (times their own scale).
        a.scales!.assign(Tensor([1, 2, 1, 3], shape: [1, 1, 1, 4]))
        let f = a.features.scalars   // (C, n)
        #expect(f[1] == 2 * f[3] / 3)
        // Same-id neurons share positions; the borrower starts at the identity transform.
        let pa = a.meanPositions().scalars, pb = b.meanPositions().scalars
        #expect(pa[2..<4] == pa[6..<8] && pa[0..<2] == pb[2..<4])
        #expect(a.regularizer().item > 0 && b.regularizer().item == 0)
        // Parameters are shared, so counted once.
        #expect(readouts.parameters().count == 2 + 2 * 3 + 2)   // shared mu, features; per mouse sigma, scales, bias; b's affine
    }

    /// `shareTransform`: one position network for all mice, saved under each mouse's key.
    @Test func sharedPositionNetwork() {
        let mice = [MouseNeurons(key: "a", count: 3, coordinates: randn([3, 3], seed: 22)),
                    MouseNeurons(key: "b", count: 5, coordinates: randn([5, 3], seed: 23))]
        let config = GaussianReadoutConfiguration(shareTransform: true)
        let readouts = PerMouseReadouts.fullGaussian2d(inputChannels: 2, mice: mice, configuration: config,
                                                       generator: RandomGenerator(seed: 24))
        let a = readouts["a"] as! FullGaussian2d, b = readouts["b"] as! FullGaussian2d
        #expect(a.positionNetwork === b.positionNetwork)
        #expect(a.sourceGrid!.shape == [3, 2] && b.sourceGrid!.shape == [5, 2])
        let keys = Set(readouts.stateDict().keys)
        #expect(keys.contains("a.mu_transform.0.weight") && keys.contains("b.mu_transform.2.bias"))
        // The shared network's parameters are counted once.
        #expect(readouts.parameters().count == 4 + 2 * 3)
    }

    /// The L1 regulariser (sum or mean) and the bias initialisation.
    @Test func regularizerAndBias() {
        let readout = FullGaussian2d(inputChannels: 4, neuronCount: 3, featureRegularization: 2, generator: RandomGenerator(seed: 18))
        readout.featureWeights.assign(Tensor((0..<12).map { Float($0) - 6 }, shape: [1, 4, 1, 3]))
        #expect(readout.regularizer().item == 2 * 36)   // Σ|i − 6| = 36
        readout.regularizerReduction = .mean
        #expect(readout.regularizer().item == 2 * 36 / 12)
        readout.featureRegularization = 0
        #expect(readout.regularizer().item == 0)
        readout.initializeBias(meanResponses: Tensor([0.1, 0.2, 0.3]))
        #expect(readout.bias!.scalars == [0.1, 0.2, 0.3])
        readout.initializeBias(fromResponses: Tensor([1, 2, 3, 3, 4, 5], shape: [2, 1, 3]))
        #expect(readout.bias!.scalars == [2, 3, 4])
    }

    /// Positions predicted from coordinates use `mu_transform` (Linear, ELU, Linear, Tanh) on the
    /// scaled coordinates, and gradients reach the network.
    @Test func cortexPositions() {
        let coordinates = randn([6, 3], seed: 19, std: 50)
        let readout = FullGaussian2d(inputChannels: 2, neuronCount: 6, positions: .cortex(coordinates: coordinates),
                                     generator: RandomGenerator(seed: 20))
        #expect(readout.namedParameters().map(\.path) == ["mu_transform.0.weight", "mu_transform.0.bias",
                                                          "mu_transform.2.weight", "mu_transform.2.bias",
                                                          "sigma", "_features", "bias"])
        #expect(readout.namedBuffers().map(\.path) == ["source_grid"])
        let network = readout.positionNetwork as! Sequential
        expectNear(readout.meanPositions(), network(readout.sourceGrid!), "positions")
        readout.eval()
        readout(randn([1, 2, 2, 3, 3], seed: 21)).sum().backward()
        #expect((network[0] as! Linear).weight.grad != nil)
    }
}
