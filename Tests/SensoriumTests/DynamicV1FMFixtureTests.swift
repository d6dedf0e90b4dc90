import Foundation
import Testing
@testable import Sensorium
import SensoriumTestSupport

/// The Dynamic-V1FM fixtures of `../shared/fixtures/winners` (folder from `SENSORIUM_WINNER_FIXTURES`):
/// every `dynamic_v1fm_*` case is rebuilt from its `model.json`, loads `state/` strictly by key and
/// must reproduce the outputs of both fusion variants, every intermediate and every gradient.
@Suite struct DynamicV1FMFixtureTests {
    static let folder = Fixtures.folder(environmentKey: "SENSORIUM_WINNER_FIXTURES", defaultSubfolder: "winners")
    static let cases = Fixtures.cases(in: folder, marker: "model.json").filter { $0.hasPrefix("dynamic_v1fm_") }

    @Test func fixturesArePresent() {
        #expect(!Self.cases.isEmpty, "no dynamic_v1fm_* fixtures in \(Self.folder.path)")
    }

    @Test(arguments: cases) func reproducesOutputsIntermediatesAndGradients(_ name: String) throws {
        let dir = Self.folder.appendingPathComponent(name)
        let json = try lenientJSON(dir.appendingPathComponent("model.json"))
        let spec = try DynamicV1FMSpec(json: json, source: name)
        var coordinates: [String: Tensor] = [:]
        for mouse in spec.mice { coordinates[mouse.key] = try Fixtures.tensor("cell_motor_coordinates.\(mouse.name)", in: dir) }
        let tol = try FixtureTolerances(json: json, source: name)
        let worst = WorstRatios()
        defer { print("Dynamic-V1FM \(name): worst |error| / tolerance: \(worst)") }

        // Adaptive model (the fixture's): strict load of the whole state.
        let state = try VideoModel.readStateFolder(dir.appendingPathComponent("state"))
        let model = try DynamicV1FMTestModel(spec: spec, fusion: .adaptive, coordinates: coordinates)
        let ours = Dictionary(uniqueKeysWithValues: model.namedStateTensors().map { ($0.path, $0.tensor.shape) })
        let listed = try stateKeyShapes(json)
        #expect(ours == listed, "\(name): the model's keys and shapes differ from model.json state.keys")
        try model.loadStateDict(state)
        model.eval()

        // Nearest maps along the neuron axis, as PyTorch computes them.
        try checkNearestMaps(json, model: model, spec: spec, name: name)

        for mouse in spec.mice {
            let inputs = try MouseInputs(dir: dir, mouse: mouse.name)
            let out = withNoGrad { model(inputs, mouse: mouse.key) }
            worst.check(out, try Fixtures.tensor("output.\(mouse.name)", in: dir), atol: tol.outputAtol, rtol: tol.outputRtol,
                        "\(name) output.\(mouse.name)", kind: "outputs")
            #expect(out.shape == [inputs.video.shape[0], spec.outputFrames(video: inputs.video.shape), mouse.neurons])
        }

        // Mean fusion: the same weights without the fusion gates.
        let meanModel = try DynamicV1FMTestModel(spec: spec, fusion: .mean, coordinates: coordinates)
        let meanState = state.filter { !$0.key.contains(".fusion_block") }
        #expect(Set(state.keys).subtracting(meanState.keys).allSatisfy { $0.contains(".fusion_block") })
        try meanModel.loadStateDict(meanState)
        meanModel.eval()
        for mouse in spec.mice {
            let inputs = try MouseInputs(dir: dir, mouse: mouse.name)
            let out = withNoGrad { meanModel(inputs, mouse: mouse.key) }
            worst.check(out, try Fixtures.tensor("output_mean_fusion.\(mouse.name)", in: dir), atol: tol.outputAtol,
                        rtol: tol.outputRtol, "\(name) output_mean_fusion.\(mouse.name)", kind: "outputs")
        }

        // Intermediates of the first mouse.
        let first = spec.mice[0]
        let inputs = try MouseInputs(dir: dir, mouse: first.name)
        let intermediates = withNoGrad { model.intermediates(inputs, mouse: first.key) }
        let interDir = dir.appendingPathComponent("intermediates")
        let files = try FileManager.default.contentsOfDirectory(atPath: interDir.path).filter { $0.hasSuffix(".npy") }.sorted()
        #expect(!files.isEmpty, "\(name): no intermediates")
        for file in files {
            let key = String(file.dropLast(4))
            guard let computed = intermediates[key] else {
                Issue.record("\(name): intermediate \(key) is not one this suite computes")
                continue
            }
            let reference = try Fixtures.tensor(key, in: interDir)
            worst.check(computed, reference, atol: tol.intermediateAtolScale * maxAbs(reference), rtol: tol.intermediateRtol,
                        "\(name) intermediates/\(key)", kind: "intermediates")
        }

        // Gradients (eval mode, first mouse) of sum(output · grad_output).
        inputs.video.requiresGrad = true
        inputs.behavior.requiresGrad = true
        inputs.pupilCenter.requiresGrad = true
        model.zeroGrad()
        let output = model(inputs, mouse: first.key)
        output.backward(try Fixtures.tensor("grad_output", in: dir))
        func checkGradient(_ ours: Tensor?, shape: [Int], _ file: String, in folder: URL) throws {
            let reference = try Fixtures.tensor(file, in: folder)
            worst.check(ours ?? Tensor.zeros(shape), reference, atol: tol.gradAtolScale * maxAbs(reference), rtol: tol.gradRtol,
                        "\(name) \(file)", kind: "gradients")
        }
        let gradDir = dir.appendingPathComponent("grad")
        let gradFiles = Set(try FileManager.default.contentsOfDirectory(atPath: gradDir.path).filter { $0.hasSuffix(".npy") }
            .map { String($0.dropLast(4)) })
        let parameters = model.namedParameters()
        #expect(Set(parameters.map(\.path)) == gradFiles, "\(name): parameters and grad/ files differ")
        for (path, tensor) in parameters where gradFiles.contains(path) {
            try checkGradient(tensor.grad, shape: tensor.shape, path, in: gradDir)
        }
        try checkGradient(inputs.video.grad, shape: inputs.video.shape, "grad_input", in: dir)
        try checkGradient(inputs.behavior.grad, shape: inputs.behavior.shape, "grad_behavior", in: dir)
        try checkGradient(inputs.pupilCenter.grad, shape: inputs.pupilCenter.shape, "grad_pupil_center", in: dir)
    }

    /// The paper configuration (dynamic_v1fm_paper_keys.json `config`, `mice`) gives exactly the paper's
    /// keys, kinds, shapes and parameter count, for the adaptive model and the mean variant.
    @Test func paperConfigurationGivesThePaperKeys() throws {
        let json = try Fixtures.json(Self.folder.appendingPathComponent("dynamic_v1fm_paper_keys.json"))
        let spec = try DynamicV1FMSpec(json: json, source: "dynamic_v1fm_paper_keys.json")
        var coordinates: [String: Tensor] = [:]
        let gen = RandomGenerator(seed: 3)
        for mouse in spec.mice { coordinates[mouse.key] = Tensor.randomNormal([mouse.neurons, 3], generator: gen) }
        for fusion in [HierarchicalGaussianReadout.Fusion.adaptive, .mean] {
            let listing = fusion == .adaptive ? json : try #require(json["mean_variant"] as? [String: Any])
            let model = try DynamicV1FMTestModel(spec: spec, fusion: fusion, coordinates: coordinates)
            let expected = try stateKeyShapes(listing)
            let ours = Dictionary(uniqueKeysWithValues: model.namedStateTensors().map { ($0.path, $0.tensor.shape) })
            #expect(Set(ours.keys) == Set(expected.keys), "\(fusion): missing \(Set(expected.keys).subtracting(ours.keys).sorted().prefix(5)), extra \(Set(ours.keys).subtracting(expected.keys).sorted().prefix(5))")
            for (key, shape) in expected where ours[key] != nil {
                #expect(ours[key] == shape, "\(fusion) \(key): shape \(ours[key]!), expected \(shape)")
            }
            let buffers = Set(try stateKeyList(listing).filter { ($0["kind"] as? String) == "buffer" }.compactMap { $0["key"] as? String })
            #expect(Set(model.namedBuffers().map(\.path)) == buffers, "\(fusion): buffers differ")
            let count = try #require((listing["num_parameters"] as? NSNumber)?.intValue)
            #expect(model.parameterCount == count, "\(fusion): \(model.parameterCount) parameters, the paper model has \(count)")
        }
        // The paper's nearest maps where float32 and exact floor differ.
        if let check = json["nearest_index_check"] as? [String: Any], let perMouse = check["per_mouse"] as? [String: Any] {
            for mouse in spec.mice {
                guard let levels = perMouse[mouse.key] as? [String: Any] else { continue }
                let readout = HierarchicalGaussianReadout(inputChannels: 1, neuronCount: mouse.neurons, positions: .free(),
                                                          configuration: .init(levels: [2, 4, 8, 16]),
                                                          generator: RandomGenerator(seed: 1))
                for (level, value) in levels {
                    guard let k = Int(level), let info = value as? [String: Any],
                          let downMismatches = (info["down_mismatches_vs_exact"] as? NSNumber)?.intValue else { continue }
                    let maps = readout.levelIndexMaps(level: k)
                    let coarse = mouse.neurons / k
                    let exact = (0..<coarse).map { $0 * mouse.neurons / coarse }
                    let differing = zip(maps.down, exact).filter { $0 != $1 }.count
                    #expect(differing == downMismatches, "\(mouse.key) level \(k): \(differing) float32 positions differ from exact floor, PyTorch \(downMismatches)")
                }
            }
        }
    }
}

// MARK: - Fixture description

/// What `model.json` (or the paper key list) says about a Dynamic-V1FM model.
struct DynamicV1FMSpec {
    struct Mouse { let name: String; let key: String; let neurons: Int }

    let core: SwinCore.Configuration
    let readout: HierarchicalGaussianReadout.Configuration
    let shifterLayers: Int
    let shifterHidden: Int
    let shifterInputs: Int
    let mice: [Mouse]

    init(json: [String: Any], source: String) throws {
        guard let config = json["config"] as? [String: Any], let coreDict = config["core_dict"] as? [String: Any],
              let readoutDict = config["readout_dict"] as? [String: Any],
              let shifterDict = config["shifter_dict"] as? [String: Any], let mice = json["mice"] as? [[String: Any]] else {
            throw FixtureError.malformed("\(source): config.core_dict, readout_dict, shifter_dict or mice missing")
        }
        func require(_ condition: Bool, _ message: String) throws {
            if !condition { throw FixtureError.malformed("\(source): unsupported option: \(message)") }
        }
        try require((config["core_type"] as? String ?? "Swin3D") == "Swin3D", "core_type \(config["core_type"] ?? "")")
        try require((config["readout_type"] as? String ?? "gaussian") == "gaussian", "readout_type \(config["readout_type"] ?? "")")
        try require((config["shifter_type"] as? String ?? "MLP") == "MLP", "shifter_type \(config["shifter_type"] ?? "")")
        try require((config["use_shifter"] as? Bool ?? true), "use_shifter false (the reference readout needs a shift)")
        if let variant = config["readout_variant"] as? String {
            try require(variant.hasPrefix("adaptive"), "readout_variant \(variant)")
        }

        let known = Set(SwinCore.ReferenceConfiguration.CodingKeys.allCases.map(\.rawValue))
        try require(Set(coreDict.keys).isSubset(of: known), "core_dict keys \(Set(coreDict.keys).subtracting(known).sorted())")
        let data = try JSONSerialization.data(withJSONObject: coreDict)
        core = try JSONDecoder().decode(SwinCore.ReferenceConfiguration.self, from: data).configuration

        try require((readoutDict["gauss_type"] as? String ?? "full") == "full", "gauss_type \(readoutDict["gauss_type"] ?? "")")
        try require(!(readoutDict["share_features"] as? Bool ?? false) && !(readoutDict["share_grid"] as? Bool ?? false)
                    && readoutDict["shared_match_ids"] is NSNull, "shared features or grids")
        try require(((readoutDict["gamma_grid_dispersion"] as? NSNumber)?.doubleValue ?? 0) == 0, "gamma_grid_dispersion")
        guard let predictor = readoutDict["grid_mean_predictor"] as? [String: Any],
              (predictor["type"] as? String) == "cortex",
              let inputDims = (predictor["input_dimensions"] as? NSNumber)?.intValue,
              let hiddenLayers = (predictor["hidden_layers"] as? NSNumber)?.intValue,
              let hiddenFeatures = (predictor["hidden_features"] as? NSNumber)?.intValue,
              let finalTanh = predictor["final_tanh"] as? Bool else {
            throw FixtureError.malformed("\(source): unsupported option: grid_mean_predictor must be a cortex predictor")
        }
        try require(((shifterDict["gamma_shifter"] as? NSNumber)?.doubleValue ?? 0) == 0, "gamma_shifter")
        shifterLayers = (shifterDict["shift_layers"] as? NSNumber)?.intValue ?? 3
        shifterHidden = (shifterDict["hidden_channels_shifter"] as? NSNumber)?.intValue ?? 16
        shifterInputs = (shifterDict["input_channels_shifter"] as? NSNumber)?.intValue ?? 2

        let mode = config["infer_mode"] as? String ?? "2_4_8_16"
        readout = HierarchicalGaussianReadout.Configuration(
            positionNetwork: PositionNetworkConfiguration(inputDimensions: inputDims, hiddenLayers: hiddenLayers,
                                                          hiddenFeatures: hiddenFeatures, finalTanh: finalTanh),
            covariance: .full, initSigma: (readoutDict["init_sigma"] as? NSNumber)?.floatValue ?? 0.2,
            bias: readoutDict["bias"] as? Bool ?? true, levels: [2, 4, 8, 16],
            activeLevels: try HierarchicalGaussianReadout.Configuration.activeLevels(inferMode: mode), fusion: .adaptive)
        self.mice = try mice.map { m in
            guard let key = m["data_key"] as? String, let n = (m["neurons"] as? NSNumber)?.intValue else {
                throw FixtureError.malformed("\(source): a mouse lacks data_key or neurons")
            }
            return Mouse(name: m["name"] as? String ?? key, key: key, neurons: n)
        }
    }

    /// T' for a video shape (B, C, T, H, W).
    func outputFrames(video: [Int]) -> Int { (video[2] + core.patchSize[0] - 1) / core.patchSize[0] }
}

/// The tolerances of model.json `tol`.
struct FixtureTolerances {
    let outputRtol: Float, outputAtol: Float
    let intermediateRtol: Float, intermediateAtolScale: Float
    let gradRtol: Float, gradAtolScale: Float

    init(json: [String: Any], source: String) throws {
        guard let tol = json["tol"] as? [String: Any], let o = tol["output"] as? [String: Any],
              let i = tol["intermediates"] as? [String: Any], let g = tol["grad"] as? [String: Any] else {
            throw FixtureError.malformed("\(source): tol.output, tol.intermediates or tol.grad missing")
        }
        func value(_ d: [String: Any], _ key: String) throws -> Float {
            guard let n = d[key] as? NSNumber else { throw FixtureError.malformed("\(source): tol field \(key) missing") }
            return n.floatValue
        }
        outputRtol = try value(o, "rtol"); outputAtol = try value(o, "atol")
        intermediateRtol = try value(i, "rtol"); intermediateAtolScale = try value(i, "atol_rel_to_max")
        gradRtol = try value(g, "rtol"); gradAtolScale = try value(g, "atol_rel_to_max")
    }
}

/// Checks closeness and keeps the largest `|ours − ref| / (atol + rtol·|ref|)` per kind (≤ 1 passes).
final class WorstRatios: CustomStringConvertible {
    private var ratios: [String: (Double, String)] = [:]

    func check(_ ours: Tensor, _ reference: Tensor, atol: Float, rtol: Float, _ label: String, kind: String,
               sourceLocation: SourceLocation = #_sourceLocation) {
        expectClose(ours, reference, atol: atol, rtol: rtol, label, sourceLocation: sourceLocation)
        guard ours.shape == reference.shape else { return }
        var worst = 0.0
        for (a, b) in zip(ours.scalars, reference.scalars) {
            let allowed = Double(atol) + Double(rtol) * Double(abs(b))
            let error = Double(abs(a - b))
            let ratio = allowed > 0 ? error / allowed : (error == 0 ? 0 : .infinity)
            worst = max(worst, ratio.isNaN ? .infinity : ratio)
        }
        if worst >= (ratios[kind]?.0 ?? -1) { ratios[kind] = (worst, label) }
    }

    var description: String {
        ratios.keys.sorted().map { key in
            let (ratio, label) = ratios[key]!
            return "\(key) \(String(format: "%.4f", ratio)) (\(label))"
        }.joined(separator: "; ")
    }
}

/// One mouse's inputs.
struct MouseInputs {
    let video: Tensor, behavior: Tensor, pupilCenter: Tensor

    init(dir: URL, mouse: String) throws {
        video = try Fixtures.tensor("video.\(mouse)", in: dir)
        behavior = try Fixtures.tensor("behavior.\(mouse)", in: dir)
        pupilCenter = try Fixtures.tensor("pupil_center.\(mouse)", in: dir)
    }
}

private func stateKeyList(_ json: [String: Any]) throws -> [[String: Any]] {
    if let keys = json["keys"] as? [[String: Any]] { return keys }
    guard let state = json["state"] as? [String: Any], let keys = state["keys"] as? [[String: Any]] else {
        throw FixtureError.malformed("no state key list")
    }
    return keys
}

private func stateKeyShapes(_ json: [String: Any]) throws -> [String: [Int]] {
    var out: [String: [Int]] = [:]
    for entry in try stateKeyList(json) {
        guard let key = entry["key"] as? String, let shape = entry["shape"] as? [NSNumber] else {
            throw FixtureError.malformed("malformed state key entry \(entry)")
        }
        out[key] = shape.map(\.intValue)
    }
    return out
}

/// Reads a JSON object whose numbers may include Python's bare `NaN` / `Infinity` (model.json's
/// `f32_vs_f64` statistics do), read as null.
private func lenientJSON(_ url: URL) throws -> [String: Any] {
    let text = try String(contentsOf: url, encoding: .utf8)
    let cleaned = text.replacingOccurrences(of: #"(?<=[:\[,]\s{0,64})-?(NaN|Infinity)(?=\s*[,\]}])"#, with: "null",
                                            options: .regularExpression)
    guard let object = try JSONSerialization.jsonObject(with: Data(cleaned.utf8)) as? [String: Any] else {
        throw FixtureError.malformed("\(url.path): expected a JSON object")
    }
    return object
}

private func maxAbs(_ t: Tensor) -> Float { t.scalars.reduce(0) { max($0, abs($1)) } }

private func checkNearestMaps(_ json: [String: Any], model: DynamicV1FMTestModel, spec: DynamicV1FMSpec, name: String) throws {
    guard let nearest = json["nearest_levels"] as? [String: Any], let perMouse = nearest["per_mouse"] as? [String: Any] else {
        Issue.record("\(name): model.json has no nearest_levels")
        return
    }
    for mouse in spec.mice {
        guard let levels = perMouse[mouse.name] as? [String: Any], let readout = model.readout[mouse.key] else {
            Issue.record("\(name): no nearest_levels for \(mouse.name)")
            continue
        }
        for (level, value) in levels {
            guard let k = Int(level), let info = value as? [String: Any],
                  let down = info["pseudo_neuron_to_neuron"] as? [NSNumber], let up = info["neuron_to_pseudo_neuron"] as? [NSNumber] else {
                Issue.record("\(name): malformed nearest_levels entry \(level)")
                continue
            }
            let maps = readout.levelIndexMaps(level: k)
            #expect(maps.down == down.map(\.intValue), "\(name) \(mouse.name) level \(k): pseudo-neuron → neuron map")
            #expect(maps.up == up.map(\.intValue), "\(name) \(mouse.name) level \(k): neuron → pseudo-neuron map")
        }
    }
}

// MARK: - The whole model (core → per-mouse shifter and hierarchical readout → ELU + 1)

/// Dynamic-V1FM's `VideoFiringRateEncoder` for the tests: keys `core.*`, `readout.<key>.*`,
/// `shifter.<key>.mlp.*`.
final class DynamicV1FMTestModel: Module {
    let core: SwinCore
    let readout: [String: HierarchicalGaussianReadout]
    let shifter: [String: MLPShifter]

    init(spec: DynamicV1FMSpec, fusion: HierarchicalGaussianReadout.Fusion, coordinates: [String: Tensor]) throws {
        let gen = RandomGenerator(seed: 42)
        core = SwinCore(configuration: spec.core, generator: gen)
        var readouts: [String: HierarchicalGaussianReadout] = [:], shifters: [String: MLPShifter] = [:]
        for mouse in spec.mice {
            guard let coords = coordinates[mouse.key] else { throw FixtureError.malformed("no coordinates for \(mouse.key)") }
            precondition(coords.shape[0] == mouse.neurons, "\(mouse.key): coordinates \(coords.shape) for \(mouse.neurons) neurons")
            var configuration = spec.readout
            configuration.fusion = fusion
            readouts[mouse.key] = HierarchicalGaussianReadout(configuration: configuration, inputChannels: spec.core.embedDim,
                                                              cellMotorCoordinates: coords, generator: gen)
            shifters[mouse.key] = MLPShifter(inputFeatures: spec.shifterInputs, hiddenChannels: spec.shifterHidden,
                                             layers: spec.shifterLayers, generator: gen)
        }
        readout = readouts
        shifter = shifters
        super.init()
    }

    /// (B, T', N) = ELU(readout(core(video, behaviour), shift(pupil centre of the last T' frames))) + 1.
    func callAsFunction(_ inputs: MouseInputs, mouse: String) -> Tensor {
        let features = core(video: inputs.video, behavior: inputs.behavior, pupilCenter: inputs.pupilCenter)
        return head(features, inputs: inputs, mouse: mouse).output
    }

    /// Readout and shifter on core features (B, C, T', H', W').
    func head(_ features: Tensor, inputs: MouseInputs, mouse: String) -> (output: Tensor, shift: Tensor, readout: Tensor) {
        let b = features.shape[0], frames = features.shape[2], t = inputs.pupilCenter.shape[2]
        let pupil = inputs.pupilCenter.sliced(axis: 2, range: (t - frames)..<t).transposed(1, 2).reshaped([b * frames, 2])
        let shift = shifter[mouse]!(pupil)
        let readoutOut = readout[mouse]!.predictFrames(features, shift: shift)
        let output = (readoutOut.elu() + 1).reshaped([b, frames, readout[mouse]!.neuronCount])
        return (output, shift, readoutOut)
    }

    /// Every intermediate the fixture lists, computed block by block.
    func intermediates(_ inputs: MouseInputs, mouse: String) -> [String: Tensor] {
        var result: [String: Tensor] = [:]
        var x = core.patchEmbedding(inputs.video)
        result["patch_embed"] = x
        let behavior = Tensor.concatenate([inputs.behavior, inputs.pupilCenter], axis: 1).transposed(1, 2)
        let (b, frames, c) = (x.shape[0], x.shape[1], x.shape[4])
        for (i, block) in core.transformer.blocks.enumerated() {
            let embedding = block.behaviorMLP(behavior)
            result["block\(i)_behavior"] = embedding
            x = x + embedding.reshaped([b, frames, 1, 1, c])
            x = block.mha(x) + x
            result["block\(i)_after_attn"] = x
            x = block.mlp(x) + x
            result["block\(i)"] = x
        }
        let features = x.permuted([0, 4, 1, 2, 3])
        result["core"] = features
        let direct = core(video: inputs.video, behavior: inputs.behavior, pupilCenter: inputs.pupilCenter)
        expectClose(direct, features, atol: 0, rtol: 0, "core forward vs block-by-block")
        let head = head(features, inputs: inputs, mouse: mouse)
        result["shift"] = head.shift
        result["readout"] = head.readout
        return result
    }
}
