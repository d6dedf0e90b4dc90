import Foundation
import Testing
import Sensorium
import SensoriumTestSupport

/// The ViV1T winner fixtures (`viv1t_*` under `SENSORIUM_WINNER_FIXTURES`, default
/// `../shared/fixtures/winners`): every folder's model is built from its `model.json`, loads `state/`
/// strictly by key, and must reproduce every mouse's output, the first mouse's intermediates, and
/// every parameter and input gradient within the folder's tolerances. A second test builds the paper
/// configuration with the same code and checks it against `viv1t_paper_keys.json`.
@Suite struct ViV1TFixtureTests {
    static let folder = Fixtures.folder(environmentKey: "SENSORIUM_WINNER_FIXTURES", defaultSubfolder: "winners")
    static let caseNames = Fixtures.cases(in: folder, marker: "model.json").filter { $0.hasPrefix("viv1t_") }

    @Test func fixtureFolderHasCases() {
        #expect(!Self.caseNames.isEmpty, "no viv1t_* cases found in \(Self.folder.path)")
    }

    @Test(arguments: caseNames)
    func fixtureCase(_ name: String) throws {
        let caseFolder = Self.folder.appendingPathComponent(name)
        let json = try readModelJSON(caseFolder.appendingPathComponent("model.json"))
        let configuration = try ViV1TFixtureConfiguration(json["config"])
        let mice = try ViV1TFixtureMouse.list(json["mice"])
        let tolerance = try ViV1TTolerances(json["tol"])
        guard let state = json["state"] as? [String: Any], let keyEntries = state["keys"] as? [[String: Any]] else {
            throw FixtureError.malformed("\(name): model.json has no state.keys")
        }

        // Build from the config, with each mouse's own coordinates.
        var coordinates: [String: Tensor] = [:]
        for mouse in mice {
            coordinates[mouse.id] = try Fixtures.tensor("cell_motor_coordinates.\(mouse.name)", in: caseFolder)
        }
        let model = try ViV1TFixtureModel(configuration, mice: mice.map { ($0.id, coordinates[$0.id]!) },
                                          generator: RandomGenerator(seed: 1))

        // The source grids our readouts derive from the coordinates equal the stored buffers.
        let stateFolder = caseFolder.appendingPathComponent("state")
        for mouse in mice {
            let stored = try Fixtures.tensor("readouts.\(mouse.id).source_grid", in: stateFolder)
            expectClose(model.readouts[mouse.id]!.sourceGrid, stored, atol: 1e-6, rtol: 1e-5, "\(name): source_grid of \(mouse.id)")
        }

        // Strict load by key; parameters and buffers as the reference classifies them.
        var weights: [String: Tensor] = [:]
        var expectedParameters = Set<String>()
        for entry in keyEntries {
            guard let key = entry["key"] as? String else { throw FixtureError.malformed("\(name): state key without a name") }
            weights[key] = try Fixtures.tensor(key, in: stateFolder)
            if entry["kind"] as? String == "parameter" { expectedParameters.insert(key) }
        }
        try model.loadStateDict(weights, strict: true)
        #expect(Set(model.namedParameters().map(\.path)) == expectedParameters, "\(name): parameter/buffer split differs")
        model.eval()

        // Every mouse's output.
        for mouse in mice {
            let inputs = try ViV1TFixtureInputs(caseFolder, mouse: mouse.name)
            let result = model.forward(inputs, mouse: mouse.id)
            let reference = try Fixtures.tensor("output.\(mouse.name)", in: caseFolder)
            expectClose(result.output, reference, atol: tolerance.outputAtol, rtol: tolerance.outputRtol, "\(name): output.\(mouse.name)")
        }

        // Intermediates and gradients for the first mouse; again with every block recomputed in backward
        // (gradient checkpointing), which must not change them.
        for checkpointing in [false, true] {
            for transformer in [model.core.vivit.spatialTransformer, model.core.vivit.temporalTransformer] {
                for block in transformer.blocks { block.gradientCheckpointing = checkpointing }
            }
            model.zeroGrad()
            let label = checkpointing ? "\(name) (checkpointing)" : name
            let first = mice[0]
            let inputs = try ViV1TFixtureInputs(caseFolder, mouse: first.name)
            for t in [inputs.video, inputs.behavior, inputs.pupilCenter] { t.requiresGrad = true }
            let result = model.forward(inputs, mouse: first.id)
            let intermediates = caseFolder.appendingPathComponent("intermediates")
            let produced: [(String, Tensor)] = [
                ("tokens", result.core.tokens), ("spatial_transformer", result.core.spatial),
                ("temporal_transformer", result.core.temporal), ("core", result.core.output),
                ("shift", result.shift), ("readout", result.readout),
            ]
            let files = Set(((try? FileManager.default.contentsOfDirectory(atPath: intermediates.path)) ?? [])
                .filter { $0.hasSuffix(".npy") }.map { String($0.dropLast(4)) })
            #expect(files == Set(produced.map(\.0)), "\(label): intermediates on disk \(files.sorted()) differ from those compared")
            for (file, ours) in produced {
                let reference = try Fixtures.tensor(file, in: intermediates)
                expectClose(ours, reference, atol: tolerance.intermediateAtolRelative * maxAbs(reference),
                            rtol: tolerance.intermediateRtol, "\(label): intermediates/\(file)")
            }

            result.output.backward(try Fixtures.tensor("grad_output", in: caseFolder))
            let gradFolder = caseFolder.appendingPathComponent("grad")
            for (key, parameter) in model.namedParameters() {
                let reference = try Fixtures.tensor(key, in: gradFolder)
                expectClose(parameter.grad ?? Tensor.zeros(parameter.shape), reference,
                            atol: tolerance.gradientAtolRelative * maxAbs(reference), rtol: tolerance.gradientRtol, "\(label): grad/\(key)")
            }
            for (file, input) in [("grad_input", inputs.video), ("grad_behavior", inputs.behavior),
                                  ("grad_pupil_center", inputs.pupilCenter)] {
                let reference = try Fixtures.tensor(file, in: caseFolder)
                expectClose(input.grad ?? Tensor.zeros(input.shape), reference,
                            atol: tolerance.gradientAtolRelative * maxAbs(reference), rtol: tolerance.gradientRtol, "\(label): \(file)")
            }
        }
    }

    /// The paper configuration builds exactly the released checkpoints' keys, shapes and kinds, and
    /// its parameter count, with the same construction code as the fixtures.
    @Test func paperConfigurationMatchesPaperKeys() throws {
        let json = try Fixtures.json(Self.folder.appendingPathComponent("viv1t_paper_keys.json"))
        let configuration = try ViV1TFixtureConfiguration(json["config"])
        let mice = try ViV1TFixtureMouse.list(json["mice"])
        let generator = RandomGenerator(seed: 2)
        let model = try ViV1TFixtureModel(configuration, mice: mice.map {
            ($0.id, Tensor.randomNormal([$0.neurons, 3], generator: generator))
        }, generator: generator)
        guard let entries = json["keys"] as? [[String: Any]] else { throw FixtureError.malformed("paper keys: no keys") }
        var expected: [String: (shape: [Int], kind: String)] = [:]
        for entry in entries {
            guard let key = entry["key"] as? String, let shape = entry["shape"] as? [Int], let kind = entry["kind"] as? String else {
                throw FixtureError.malformed("paper keys: malformed entry \(entry)")
            }
            expected[key] = (shape, kind)
        }
        let parameters = Dictionary(uniqueKeysWithValues: model.namedParameters().map { ($0.path, $0.tensor.shape) })
        let buffers = Dictionary(uniqueKeysWithValues: model.namedBuffers().map { ($0.path, $0.tensor.shape) })
        let ours = Set(parameters.keys).union(buffers.keys)
        #expect(ours == Set(expected.keys), "missing \(Set(expected.keys).subtracting(ours).sorted()), unexpected \(ours.subtracting(expected.keys).sorted())")
        for (key, reference) in expected {
            let shape = parameters[key] ?? buffers[key]
            #expect(shape == reference.shape, "\(key): shape \(String(describing: shape)), expected \(reference.shape)")
            #expect((parameters[key] != nil ? "parameter" : "buffer") == reference.kind, "\(key): kind differs")
        }
        if let count = json["num_parameters"] as? Int {
            #expect(model.parameterCount == count)
        }
        #expect(model.core.outputShape(for: [1, 5, 300, 36, 64]) == [1, 112, 276, 15, 29])
    }
}

private func maxAbs(_ t: Tensor) -> Float { t.scalars.reduce(0) { max($0, abs($1)) } }

/// Reads a `model.json`, whose float32-spread statistics contain Python's bare `NaN` / `Infinity`
/// (not JSON); those values become null.
private func readModelJSON(_ url: URL) throws -> [String: Any] {
    var text = try String(contentsOf: url, encoding: .utf8)
    for token in ["-Infinity", "Infinity", "NaN"] {
        text = text.replacingOccurrences(of: ": \(token)", with: ": null")
    }
    guard let object = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
        throw FixtureError.malformed("\(url.path): expected a JSON object")
    }
    return object
}

/// The PyTorch `Model` (core `vivit`, `gaussian2d` readouts with state encoders, MLP shifters, exp
/// output), composed from the SDK's components for the fixtures. Keys: `core.vivit.…`,
/// `readouts.<mouse>.…`, `shifters.<mouse>.…`.
final class ViV1TFixtureModel: Module {
    let core: ViViTCore
    let readouts: [String: ViV1TGaussianReadout]
    let shifters: [String: ViV1TShifter]

    init(_ c: ViV1TFixtureConfiguration, mice: [(id: String, coordinates: Tensor)], generator: RandomGenerator) throws {
        core = try ViViTCore(configuration: c.core, generator: generator)
        var readouts: [String: ViV1TGaussianReadout] = [:], shifters: [String: ViV1TShifter] = [:]
        for mouse in mice {
            readouts[mouse.id] = ViV1TGaussianReadout(configuration: c.readout, inputChannels: c.core.embeddingDim,
                                                      coordinates: mouse.coordinates, generator: generator)
            shifters[mouse.id] = ViV1TShifter(configuration: c.shifter, generator: generator)
        }
        self.readouts = readouts
        self.shifters = shifters
        super.init()
    }

    struct Result {
        /// (B, N, T'), after exp.
        var output: Tensor
        /// (B, N, T'), before exp.
        var readout: Tensor
        /// (B, 2, T').
        var shift: Tensor
        var core: ViViT.Intermediates
    }

    /// `model(inputs=video, mouse_id=mouse, behaviors=behavior, pupil_centers=pupil_center)`.
    func forward(_ inputs: ViV1TFixtureInputs, mouse: String) -> Result {
        let core = self.core.intermediates(ViViTCore.assembleInput(video: inputs.video, behavior: inputs.behavior,
                                                                   pupilCenter: inputs.pupilCenter))
        let frames = inputs.behavior.shape[2], outputFrames = core.output.shape[2]
        let tail = (frames - outputFrames)..<frames
        let pupil = inputs.pupilCenter.sliced(axis: 2, range: tail)             // (B, 2, T')
        let behavior = inputs.behavior.sliced(axis: 2, range: tail)
        let shift = shifters[mouse]!(pupil.permuted([0, 2, 1]))                   // (B, T', 2)
        let state = Tensor.concatenate([behavior, pupil], axis: 1).permuted([0, 2, 1])  // (B, T', 4)
        let linear = readouts[mouse]!(core.output, shift: shift, state: state).permuted([0, 2, 1])
        return Result(output: linear.exp(), readout: linear, shift: shift.permuted([0, 2, 1]), core: core)
    }
}

/// One mouse's inputs: video (B, 1, T, H, W), behaviour (B, 2, T), pupil centre (B, 2, T).
struct ViV1TFixtureInputs {
    let video: Tensor, behavior: Tensor, pupilCenter: Tensor
    init(_ folder: URL, mouse: String) throws {
        video = try Fixtures.tensor("video.\(mouse)", in: folder).copy()
        behavior = try Fixtures.tensor("behavior.\(mouse)", in: folder).copy()
        pupilCenter = try Fixtures.tensor("pupil_center.\(mouse)", in: folder).copy()
    }
}

struct ViV1TFixtureMouse {
    /// File-name suffix (`video.<name>.npy`).
    let name: String
    /// Key under `readouts.` and `shifters.`.
    let id: String
    let neurons: Int

    static func list(_ value: Any?) throws -> [ViV1TFixtureMouse] {
        guard let entries = value as? [[String: Any]], !entries.isEmpty else { throw FixtureError.malformed("mice missing") }
        return try entries.map { entry in
            guard let id = entry["mouse_id"] as? String, let neurons = entry["neurons"] as? Int else {
                throw FixtureError.malformed("mouse entry without mouse_id or neurons: \(entry)")
            }
            return ViV1TFixtureMouse(name: entry["name"] as? String ?? id, id: id, neurons: neurons)
        }
    }
}

struct ViV1TTolerances {
    let outputRtol: Float, outputAtol: Float
    let intermediateRtol: Float, intermediateAtolRelative: Float
    let gradientRtol: Float, gradientAtolRelative: Float

    init(_ value: Any?) throws {
        guard let tol = value as? [String: [String: Double]], let o = tol["output"], let i = tol["intermediates"], let g = tol["grad"],
              let ort = o["rtol"], let oat = o["atol"], let irt = i["rtol"], let iat = i["atol_rel_to_max"],
              let grt = g["rtol"], let gat = g["atol_rel_to_max"] else {
            throw FixtureError.malformed("model.json tol is incomplete: \(String(describing: value))")
        }
        (outputRtol, outputAtol) = (Float(ort), Float(oat))
        (intermediateRtol, intermediateAtolRelative) = (Float(irt), Float(iat))
        (gradientRtol, gradientAtolRelative) = (Float(grt), Float(gat))
    }
}

/// The component configurations for a PyTorch `args` dictionary (`config` of `model.json` or of
/// the paper key list). Options this composition does not implement are errors.
struct ViV1TFixtureConfiguration {
    var core = ViViTCore.Configuration()
    var readout = ViV1TGaussianReadout.Configuration()
    var shifter = ViV1TShifter.Configuration()

    init(_ value: Any?) throws {
        guard let args = value as? [String: Any] else { throw FixtureError.malformed("config missing") }
        func int(_ key: String) throws -> Int {
            guard let v = args[key] as? Int else { throw FixtureError.malformed("config.\(key) missing or not an integer") }
            return v
        }
        func float(_ key: String) throws -> Float {
            guard let v = args[key] as? Double else { throw FixtureError.malformed("config.\(key) missing or not a number") }
            return Float(v)
        }
        func require<T: Equatable>(_ key: String, _ supported: [T]) throws {
            guard let v = args[key] as? T, supported.contains(v) else {
                throw FixtureError.malformed("config.\(key) = \(String(describing: args[key])) is not supported (supported: \(supported))")
            }
        }
        try require("core", ["vivit"])
        try require("readout", ["gaussian2d"])
        try require("shifter_mode", [1])
        try require("modulator_mode", [0])
        try require("output_mode", [1])
        try require("core_behavior_mode", [2])
        try require("core_patch_mode", [0])
        try require("core_pos_encoding", [3])
        try require("core_ff_activation", ["gelu"])
        try require("core_parallel_attention", [true])
        try require("core_norm_qk", [false])
        try require("readout_grid_mode", [1])
        try require("readout_bias_mode", [1, 2])
        try require("core_flash_attention", [0, 1])   // both compute softmax(q kᵀ / √headDim) v

        guard let shapes = args["input_shapes"] as? [String: [Int]], let video = shapes["video"], video.count == 4,
              let behavior = shapes["behavior"], let pupil = shapes["pupil_center"] else {
            throw FixtureError.malformed("config.input_shapes needs video (C, T, H, W), behavior and pupil_center")
        }
        core.videoChannels = video[0]
        core.frameHeight = video[2]
        core.frameWidth = video[3]
        core.behaviorChannels = behavior[0] + pupil[0]
        core.maxFrames = try int("max_frame")
        core.embeddingDim = try int("core_emb_dim")
        core.heads = try int("core_num_heads")
        core.headDim = try int("core_head_dim")
        core.mlpDim = try int("core_mlp_dim")
        core.spatialDepth = try int("core_spatial_depth")
        core.temporalDepth = try int("core_temporal_depth")
        core.temporalPatch = try int("core_temporal_patch_size")
        core.temporalStride = try int("core_temporal_patch_stride")
        core.spatialPatch = try int("core_spatial_patch_size")
        core.spatialStride = try int("core_spatial_patch_stride")
        core.patchDropout = try float("core_p_dropout")
        core.attentionDropout = try float("core_mha_dropout")
        core.feedForwardDropout = try float("core_ff_dropout")
        core.dropPath = try float("core_drop_path")
        readout.stateFeatures = behavior[0] + pupil[0]
        readout.stateDropout = try float("readout_dropout")
        shifter.inputFeatures = pupil[0]
        shifter.hiddenFeatures = try int("shifter_size")
        shifter.layers = try int("shifter_layers")
    }
}
