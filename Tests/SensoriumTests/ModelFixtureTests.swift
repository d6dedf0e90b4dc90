import Testing
import Foundation
@testable import Sensorium
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
            let readout = try #require(model.readout[mouse.key] as? FullGaussian2d)
            let expected = try #require(state["readout.\(mouse.key).source_grid"])
            expectClose(try #require(readout.sourceGrid), expected, atol: 1e-6, rtol: 1e-5, "\(name) \(mouse.key) source_grid")
        }

        try model.loadPyTorchState(folder: dir.appendingPathComponent("state"))
        #expect(Set(model.pytorchStateDict().keys) == Set(state.keys), "the model's PyTorch keys differ from the fixture's")
        model.eval()
        for mouse in fixture.mice {
            let video = try Fixtures.tensor("video.\(mouse.key)", in: dir)
            let pupil = try Fixtures.tensor("pupil_center.\(mouse.key)", in: dir)
            let expected = try Fixtures.tensor("output.\(mouse.key)", in: dir)
            let output = withNoGrad { model(video: video, pupilCenter: pupil, mouse: mouse.key) }
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
        let removed = try #require(state.keys.sorted().first { $0.hasPrefix("shifter.") })
        state[removed] = nil
        state["readout.extra.weight"] = Tensor.zeros([1])
        do {
            try model.loadPyTorchStateDict(state, source: "test")
            Issue.record("loading an incomplete state should fail")
        } catch let error as VideoModelError {
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
        if case .stacked2d(var c, _) = configuration.core {
            c.hiddenChannels = [4, 4]
            c.inputKern = 3
            c.hiddenKern = [3]
            configuration.core = .stacked2d(c, gru: ConvGRUConfiguration(recChannels: 5, inputKern: 3, recKern: 3))
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

/// A model fixture's description (`model.json`) turned into our configuration.
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
        guard core["type"] as? String == "Factorized3dCore" else {
            throw FixtureError.malformed("\(folder.path): core type \(core["type"] ?? "nil") is not supported by this test yet")
        }
        var c = Factorized3dCore.Configuration()
        c.inputChannels = (core["input_channels"] as? NSNumber)?.intValue ?? 3
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
        c.momentum = (core["bn_momentum"] as? NSNumber)?.floatValue ?? 0.7
        c.bias = core["bias"] as? Bool ?? true

        let readout = try object(json["readout"], "readout")
        var r = GaussianReadoutConfiguration()
        r.covariance = GaussianCovariance(rawValue: readout["gauss_type"] as? String ?? "full") ?? .full
        r.bias = readout["bias"] as? Bool ?? true
        let predictor = try object(readout["grid_mean_predictor"], "readout.grid_mean_predictor")
        r.positionNetwork = PositionNetworkConfiguration(
            inputDimensions: (predictor["input_dimensions"] as? NSNumber)?.intValue ?? 2,
            hiddenLayers: (predictor["hidden_layers"] as? NSNumber)?.intValue ?? 1,
            hiddenFeatures: (predictor["hidden_features"] as? NSNumber)?.intValue ?? 30,
            finalTanh: predictor["final_tanh"] as? Bool ?? true)

        let shifter = try object(json["shifter"], "shifter")
        let shift = ShifterConfiguration.mlp(layers: (shifter["shift_layers"] as? NSNumber)?.intValue ?? 3,
                                             hiddenChannels: (shifter["hidden_channels"] as? NSNumber)?.intValue ?? 5)
        guard (json["nonlinearity"] as? String)?.replacingOccurrences(of: " ", with: "") == "elu(x)+1" else {
            throw FixtureError.malformed("\(folder.path): nonlinearity \(json["nonlinearity"] ?? "nil") is not supported by this test yet")
        }
        configuration = VideoModelConfiguration(core: .factorized3d(c), readout: .gaussian(r), shifter: shift,
                                                outputNonlinearity: .eluPlusOne(offset: 0), biasInitializationTrials: 0)

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
            mice.append(MouseNeurons(key: key, count: shape[2], coordinates: coordinates))
            shapes[key] = shape
        }
        self.mice = mice
        outputShapes = shapes
        let tol = json["tol"] as? [String: Any]
        atol = (tol?["atol"] as? NSNumber)?.floatValue ?? 1e-4
        rtol = (tol?["rtol"] as? NSNumber)?.floatValue ?? 1e-3
    }
}
