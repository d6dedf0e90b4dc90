import Testing
import Foundation
@testable import Sensorium
@testable import SensoriumTraining
import SensoriumTestSupport

/// The model fixtures of `../shared/fixtures/models` (folder from `SENSORIUM_MODEL_FIXTURES`): the
/// whole factorised baseline as `sensorium_2023` builds it, PyTorch weights, expected outputs.
@Suite struct ModelFixtureTests {
    static let folder = Fixtures.folder(environmentKey: "SENSORIUM_MODEL_FIXTURES", defaultSubfolder: "models")
    static let cases = Fixtures.cases(in: folder, marker: "model.json")

    @Test func fixturesArePresent() {
        #expect(!Self.cases.isEmpty, "no model fixtures in \(Self.folder.path)")
    }

    @Test(arguments: cases) func reproducesEveryMouse(_ name: String) throws {
        let dir = Self.folder.appendingPathComponent(name)
        let fixture = try ModelFixture(folder: dir)
        let model = try VideoModel(configuration: fixture.configuration, mice: fixture.mice)

        // Positions come from cell_motor_coordinates exactly as the reference computes source_grid.
        let state = try VideoModel.readStateFolder(dir.appendingPathComponent("state"))
        for mouse in fixture.mice {
            guard let expected = state["readout.\(mouse.key).source_grid"] else { continue }
            let readout = try #require(model.readout[mouse.key] as? FullGaussian2d)
            expectClose(try #require(readout.sourceGrid), expected, atol: 1e-6, rtol: 1e-5, "\(name) \(mouse.key) source_grid")
        }

        try model.loadPyTorchState(folder: dir.appendingPathComponent("state"))
        #expect(Set(model.pytorchStateDict().keys) == Set(state.keys), "the model's PyTorch keys differ from the fixture's")
        model.eval()
        for mouse in fixture.mice {
            let video = try Fixtures.tensor("video.\(mouse.key)", in: dir)
            let pupil = try Fixtures.tensor("pupil_center.\(mouse.key)", in: dir)
            let expected = try Fixtures.tensor("output.\(mouse.key)", in: dir)
            let output = withNoGrad { model(video: video, pupilCenter: model.shifter == nil ? nil : pupil, mouse: mouse.key) }
            if let readout = model.readout[mouse.key] as? FullGaussian2d,
               FileManager.default.fileExists(atPath: dir.appendingPathComponent("intermediate.grid.\(mouse.key).npy").path) {
                let grid = try Fixtures.tensor("intermediate.grid.\(mouse.key)", in: dir)
                let mu = withNoGrad { readout.meanPositions() }.reshaped(grid.shape)
                expectClose(mu, grid, atol: fixture.atol, rtol: fixture.rtol, "\(name) \(mouse.key) readout positions")
            }
            #expect(output.shape == fixture.outputShapes[mouse.key])
            #expect(output.shape[1] == video.shape[2] - model.burnInFrames)
            expectClose(output, expected, atol: fixture.atol, rtol: fixture.rtol, "\(name) \(mouse.key) output")
        }
    }

    @Test func strictLoadingNamesEveryProblem() throws {
        let name = try #require(Self.cases.first)
        let dir = Self.folder.appendingPathComponent(name)
        let fixture = try ModelFixture(folder: dir)
        let model = try VideoModel(configuration: fixture.configuration, mice: fixture.mice)
        var state = try VideoModel.readStateFolder(dir.appendingPathComponent("state"))
        let removed = try #require(state.keys.sorted().first { $0.hasPrefix("readout.") })
        state[removed] = nil
        state["readout.extra.weight"] = Tensor.zeros([1])
        do {
            try model.loadPyTorchStateDict(state, source: "test")
            Issue.record("loading an incomplete state should fail")
        } catch let error as SensoriumError {
            let text = error.description
            #expect(text.contains(removed))
            #expect(text.contains("readout.extra.weight"))
        }
    }

    @Test func frameWiseCoreKeysMapBothWays() {
        let mapping = StateKeyMapping.frameWiseCore
        #expect(mapping.swiftKey(forPyTorchKey: "core.features.layer0.conv.weight") == "core.core.features.layer0.conv.weight")
        #expect(mapping.swiftKey(forPyTorchKey: "gru_module.gru.reset_gate_input.weight") == "core.gru_module.gru.reset_gate_input.weight")
        #expect(mapping.swiftKey(forPyTorchKey: "readout.m._features") == "readout.m._features")
        #expect(mapping.pytorchKey(forSwiftKey: "core.core.features.layer0.conv.weight") == "core.features.layer0.conv.weight")
        #expect(mapping.pytorchKey(forSwiftKey: "core.gru_module.gru.reset_gate_input.bias") == "gru_module.gru.reset_gate_input.bias")
        #expect(StateKeyMapping.identity.swiftKey(forPyTorchKey: "core.features.x") == "core.features.x")
    }

    @Test func gruModelUsesTheReferenceKeys() throws {
        var configuration = VideoModelConfiguration.stacked2dGRU
        configuration.core = configuration.core.updating(Stacked2dVideoCoreConfiguration.self) {
            $0.frame.hiddenChannels = [4, 4]
            $0.frame.inputKern = 3
            $0.frame.hiddenKern = [3]
            $0.gru = ConvGRUConfiguration(recChannels: 5, inputKern: 3, recKern: 3)
        }
        let model = try VideoModel(configuration: configuration, mice: [MouseNeurons(key: "m", count: 3)])
        let keys = Set(model.pytorchStateDict().keys)
        #expect(keys.contains("core.features.layer0.conv.weight"))
        #expect(keys.contains("gru_module.gru.reset_gate_input.weight"))
        #expect(!keys.contains { $0.hasPrefix("core.core.") })
        // Round trip through the PyTorch keys.
        let other = try VideoModel(configuration: configuration, mice: [MouseNeurons(key: "m", count: 3)])
        try other.loadPyTorchStateDict(model.pytorchStateDict())
        for (key, value) in model.stateDict() { #expect(other.stateDict()[key]!.scalars == value.scalars, "\(key)") }
    }
}

/// A model fixture's description (`model.json`) turned into our configuration: from the exact
/// `make_video_model` call when the case records it (through ``StarterKitArguments``, the
/// translation users run), else from the described core, readout and shifter. The described
/// `core.type`, `gru`, `readout.type` and `shifter` are checked against the result either way.
struct ModelFixture {
    var configuration: VideoModelConfiguration
    var mice: [MouseNeurons]
    var outputShapes: [String: [Int]]
    var atol: Float
    var rtol: Float

    init(folder: URL) throws {
        let json = try Fixtures.json(folder.appendingPathComponent("model.json"))
        func object(_ value: Any?, _ what: String) throws -> [String: Any] {
            guard let o = value as? [String: Any] else { throw FixtureError.malformed("\(folder.path): '\(what)' is not an object") }
            return o
        }
        func ints(_ value: Any?) -> [Int]? { (value as? [NSNumber])?.map(\.intValue) }
        let core = try object(json["core"], "core")
        let readout = try object(json["readout"], "readout")
        let shifter = json["shifter"] as? [String: Any]
        let gru = json["gru"] as? [String: Any]
        guard (json["nonlinearity"] as? String)?.replacingOccurrences(of: " ", with: "") == "elu(x)+1" else {
            throw FixtureError.malformed("\(folder.path): nonlinearity \(json["nonlinearity"] ?? "nil") is not supported by this test")
        }
        if let call = json["make_video_model"] as? [String: Any] {
            configuration = try StarterKitArguments.configuration(arguments: call, source: folder.appendingPathComponent("model.json").path)
        } else {
            configuration = try Self.described(core: core, readout: readout, shifter: shifter, gru: gru, folder: folder)
        }

        // The described model must be the one built.
        let coreType = core["type"] as? String
        let expectedCore: [String: String] = ["Factorized3dCore": "factorized3d", "Basic3dCore": "basic3d",
                                              "Stacked2dCore": "stacked2d", "RotationEquivariant2dCore": "rotationEquivariant2d"]
        try Self.expect(expectedCore[coreType ?? ""] == configuration.core.typeName, "core type \(coreType ?? "nil") vs \(configuration.core.typeName)", folder)
        let builtGRU = configuration.core.as(Stacked2dVideoCoreConfiguration.self)?.gru
            ?? configuration.core.as(RotationEquivariant2dVideoCoreConfiguration.self)?.gru
        try Self.expect((builtGRU == nil) == (gru == nil), "gru \(gru == nil ? "null" : "present") vs \(builtGRU == nil ? "none" : "a ConvGRU")", folder)
        let readoutType = readout["type"] as? String
        let expectedReadout: [String: String] = ["FullGaussian2d": "gaussian", "FullFactorized2d": "factorized"]
        try Self.expect(expectedReadout[readoutType ?? ""] == configuration.readout.typeName, "readout \(readoutType ?? "nil") vs \(configuration.readout.typeName)", folder)
        let shifterType = shifter?["type"] as? String
        let expectedShifter: [String: String] = ["MLP": "mlp", "StaticAffine": "staticAffine"]
        try Self.expect(shifterType.flatMap { expectedShifter[$0] } == configuration.shifter?.typeName,
                        "shifter \(shifterType ?? "nil") vs \(configuration.shifter?.typeName ?? "none")", folder)

        guard let cases = json["cases"] as? [[String: Any]], !cases.isEmpty else {
            throw FixtureError.malformed("\(folder.path): no cases")
        }
        var mice: [MouseNeurons] = []
        var shapes: [String: [Int]] = [:]
        for entry in cases {
            guard let key = entry["data_key"] as? String, let shape = ints(entry["output_shape"]), shape.count == 3 else {
                throw FixtureError.malformed("\(folder.path): a case lacks data_key or output_shape")
            }
            let coordinates = try Fixtures.tensor("cell_motor_coordinates.\(key)", in: folder)
            let video = try NPY.readTensor(folder.appendingPathComponent("video.\(key).npy").path)
            mice.append(MouseNeurons(key: key, count: shape[2], coordinates: coordinates, frameSize: [video.shape[3], video.shape[4]]))
            shapes[key] = shape
        }
        self.mice = mice
        outputShapes = shapes
        let tol = json["tol"] as? [String: Any]
        atol = (tol?["atol"] as? NSNumber)?.floatValue ?? 1e-4
        rtol = (tol?["rtol"] as? NSNumber)?.floatValue ?? 1e-3
    }

    static func expect(_ condition: Bool, _ message: String, _ folder: URL) throws {
        guard condition else { throw FixtureError.malformed("\(folder.path): model.json disagrees with its make_video_model call: \(message)") }
    }

    /// The configuration from the described parts (cases without the `make_video_model` call): the
    /// factorised core with the Gaussian or factorised readout and an MLP, static affine or no shifter.
    static func described(core: [String: Any], readout: [String: Any], shifter: [String: Any]?, gru: [String: Any]?,
                          folder: URL) throws -> VideoModelConfiguration {
        func ints(_ value: Any?) -> [Int]? { (value as? [NSNumber])?.map(\.intValue) }
        func number(_ d: [String: Any]?, _ key: String) -> NSNumber? { d?[key] as? NSNumber }
        guard core["type"] as? String == "Factorized3dCore", gru == nil else {
            throw FixtureError.malformed("\(folder.path): core type \(core["type"] ?? "nil") without a make_video_model call is not supported by this test")
        }
        var c = Factorized3dCore.Configuration()
        c.inputChannels = number(core, "input_channels")?.intValue ?? 3
        c.hiddenChannels = ints(core["hidden_channels"]) ?? []
        let spatial = (core["spatial_kernels"] as? [[NSNumber]])?.map { $0.map(\.intValue) } ?? []
        let temporal = ints(core["temporal_kernels"]) ?? []
        guard spatial.count == c.hiddenChannels.count, temporal.count == c.hiddenChannels.count else {
            throw FixtureError.malformed("\(folder.path): one spatial and one temporal kernel per layer expected")
        }
        c.spatialInputKernel = spatial[0]
        c.temporalInputKernel = temporal[0]
        c.spatialHiddenKernels = spatial.count > 1 ? Array(spatial.dropFirst()) : [[1, 1]]
        c.temporalHiddenKernels = temporal.count > 1 ? Array(temporal.dropFirst()) : [1]
        c.padding = (core["spatial_padding"] as? String)?.hasPrefix("same") ?? false
        c.batchNorm = core["batch_norm"] as? Bool ?? true
        c.momentum = number(core, "bn_momentum")?.floatValue ?? 0.7
        c.bias = core["bias"] as? Bool ?? true

        var readoutConfiguration: AnyReadoutConfiguration
        switch readout["type"] as? String {
        case "FullGaussian2d":
            var r = GaussianReadoutConfiguration()
            r.covariance = GaussianCovariance(rawValue: readout["gauss_type"] as? String ?? "full") ?? .full
            r.bias = readout["bias"] as? Bool ?? true
            guard let predictor = readout["grid_mean_predictor"] as? [String: Any] else {
                throw FixtureError.malformed("\(folder.path): 'readout.grid_mean_predictor' is not an object")
            }
            r.positionNetwork = PositionNetworkConfiguration(
                inputDimensions: number(predictor, "input_dimensions")?.intValue ?? 2,
                hiddenLayers: number(predictor, "hidden_layers")?.intValue ?? 1,
                hiddenFeatures: number(predictor, "hidden_features")?.intValue ?? 30,
                finalTanh: predictor["final_tanh"] as? Bool ?? true)
            readoutConfiguration = .gaussian(r)
        case "FullFactorized2d":
            var r = FullFactorized2d.Configuration()
            r.bias = readout["bias"] as? Bool ?? true
            r.normalize = readout["normalize"] as? Bool ?? true
            r.constrainPositive = readout["constrain_pos"] as? Bool ?? false
            r.positiveSpatial = readout["positive_spatial"] as? Bool ?? false
            r.positiveWeights = readout["positive_weights"] as? Bool ?? false
            readoutConfiguration = .factorized(r)
        default:
            throw FixtureError.malformed("\(folder.path): readout type \(readout["type"] ?? "nil") is not supported by this test")
        }
        var shift: AnyShifterConfiguration?
        if let shifter {
            switch shifter["type"] as? String {
            case "MLP":
                shift = .mlp(layers: number(shifter, "shift_layers")?.intValue ?? 3,
                             hiddenChannels: number(shifter, "hidden_channels")?.intValue ?? 5)
            case "StaticAffine":
                shift = .staticAffine(bias: shifter["bias"] as? Bool ?? true, regularization: 0)
            default:
                throw FixtureError.malformed("\(folder.path): shifter type \(shifter["type"] ?? "nil") is not supported by this test")
            }
        }
        return VideoModelConfiguration(core: .factorized3d(c), readout: readoutConfiguration, shifter: shift,
                                       outputNonlinearity: .eluPlusOne(offset: 0), biasInitializationTrials: 0)
    }
}
