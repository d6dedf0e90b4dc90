import Foundation
import Testing
@testable import Sensorium
import SensoriumTestSupport

/// Whole-model import of the SENSORIUM 2023 winners' PyTorch checkpoints by key
/// (``PyTorchCheckpointSystem``): every winner fixture's `state/` folder (the reference model's
/// complete `state_dict`, PyTorch keys) loads strictly into a ``VideoModel`` built from a model
/// configuration, which then reproduces the fixture's outputs; the paper-size models take exactly
/// the paper checkpoints' keys and shapes; wrong or missing keys are errors naming them.
@Suite struct ImportWinnersTests {
    static let folder = Fixtures.folder(environmentKey: "SENSORIUM_WINNER_FIXTURES", defaultSubfolder: "winners")
    static let cases = Fixtures.cases(in: folder, marker: "model.json")
        .filter { $0.hasPrefix("dwiseneuro_") || $0.hasPrefix("dynamic_v1fm_") || $0.hasPrefix("viv1t_") }

    /// A model described by a fixture (or paper key list): the configuration, its mice in readout
    /// order, the system whose keys it has, and per mouse the inputs and expected output file.
    struct Described {
        var configuration: VideoModelConfiguration
        var mice: [MouseNeurons]
        var system: PyTorchCheckpointSystem
        /// Fixture file suffix of each mouse (`video.<suffix>.npy`), in `mice` order.
        var files: [String]
    }

    static func readJSON(_ url: URL) throws -> [String: Any] {
        var text = try String(contentsOf: url, encoding: .utf8)
        text = text.replacingOccurrences(of: #"(?<=[:\[,]\s{0,64})-?(NaN|Infinity)(?=\s*[,\]}])"#, with: "null",
                                         options: .regularExpression)
        guard let object = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
            throw FixtureError.malformed("\(url.path): expected a JSON object")
        }
        return object
    }

    /// DwiseNeuro's constructor arguments as a model configuration (core, cortex stage, grouped
    /// readouts, no shifter); unknown arguments are errors.
    static func dwiseNeuroConfiguration(_ config: [String: Any]) throws -> VideoModelConfiguration {
        let known: Set<String> = ["in_channels", "core_features", "spatial_strides", "spatial_kernel", "temporal_kernel",
                                  "expansion_ratio", "se_reduce_ratio", "cortex_features", "groups", "softplus_beta",
                                  "drop_rate", "drop_path_rate", "readout_outputs", "config_file"]
        let unknown = Set(config.keys).subtracting(known)
        guard unknown.isEmpty else { throw FixtureError.malformed("unsupported DwiseNeuro options \(unknown.sorted())") }
        func int(_ key: String) throws -> Int {
            guard let v = (config[key] as? NSNumber)?.intValue else { throw FixtureError.malformed("config.\(key) missing") }
            return v
        }
        func ints(_ key: String) throws -> [Int] {
            guard let v = config[key] as? [Int] else { throw FixtureError.malformed("config.\(key) missing") }
            return v
        }
        func float(_ key: String) throws -> Float {
            guard let v = (config[key] as? NSNumber)?.floatValue else { throw FixtureError.malformed("config.\(key) missing") }
            return v
        }
        let core = DwiseNeuroCore.Configuration(
            inChannels: try int("in_channels"), features: try ints("core_features"), spatialStrides: try ints("spatial_strides"),
            spatialKernel: try int("spatial_kernel"), temporalKernel: try int("temporal_kernel"),
            expansionRatio: try int("expansion_ratio"), seReduceRatio: try int("se_reduce_ratio"), dropPathRate: try float("drop_path_rate"))
        let cortex = Cortex.Configuration(inputChannels: core.features[core.features.count - 1], features: try ints("cortex_features"),
                                          groups: try int("groups"), dropPathRate: try float("drop_path_rate"))
        let readout = GroupedConvReadout.Configuration(groups: try int("groups"), dropout: try float("drop_rate"),
                                                       softplusBeta: try float("softplus_beta"))
        var c = VideoModelConfiguration(core: AnyCoreConfiguration(core), readout: AnyReadoutConfiguration(readout), shifter: nil,
                                        outputNonlinearity: .identity, biasInitializationTrials: 0)
        c.stage = AnyStageConfiguration(cortex)
        return c
    }

    static func describe(_ json: [String: Any], name: String, folder: URL?) throws -> Described {
        let config = json["config"] as? [String: Any] ?? [:]
        if name.hasPrefix("dwiseneuro") {
            guard let mice = json["mice"] as? [[String: Any]] else { throw FixtureError.malformed("\(name): no mice") }
            let sorted = mice.sorted { ($0["readout_index"] as? Int ?? 0) < ($1["readout_index"] as? Int ?? 0) }
            var neurons: [MouseNeurons] = [], files: [String] = []
            for m in sorted {
                guard let count = m["neurons"] as? Int, let mouse = (m["name"] ?? m["mouse"]) as? String else {
                    throw FixtureError.malformed("\(name): malformed mouse \(m)")
                }
                let size: [Int]
                if let folder {
                    let shape = try Fixtures.tensor("input.\(mouse)", in: folder).shape
                    size = [shape[3], shape[4]]
                } else {
                    size = [64, 64]
                }
                neurons.append(MouseNeurons(key: mouse, count: count, frameSize: size))
                files.append(mouse)
            }
            return Described(configuration: try dwiseNeuroConfiguration(config), mice: neurons, system: .dwiseneuro, files: files)
        }
        if name.hasPrefix("dynamic_v1fm") {
            let spec = try DynamicV1FMSpec(json: json, source: name)
            let g = RandomGenerator(seed: 9)
            var neurons: [MouseNeurons] = []
            for m in spec.mice {
                let coordinates = try folder.map { try Fixtures.tensor("cell_motor_coordinates.\(m.name)", in: $0) }
                    ?? Tensor.randomNormal([m.neurons, 3], generator: g)
                let size = try folder.map { f -> [Int] in
                    let shape = try Fixtures.tensor("video.\(m.name)", in: f).shape
                    return [shape[3], shape[4]]
                } ?? [36, 64]
                neurons.append(MouseNeurons(key: m.key, count: m.neurons, coordinates: coordinates, frameSize: size))
            }
            var shifter = MLPShifter.Configuration(layers: spec.shifterLayers, hiddenChannels: spec.shifterHidden)
            shifter.inputFeatures = spec.shifterInputs
            let c = VideoModelConfiguration(core: AnyCoreConfiguration(spec.core), readout: .hierarchical(spec.readout),
                                            shifter: AnyShifterConfiguration(shifter), outputNonlinearity: .eluPlusOne(),
                                            biasInitializationTrials: 0)
            return Described(configuration: c, mice: neurons, system: .dynamicV1FM, files: spec.mice.map(\.name))
        }
        let c = try ViV1TFixtureConfiguration(json["config"])
        let mice = try ViV1TFixtureMouse.list(json["mice"])
        let entries = json["mice"] as? [[String: Any]] ?? []
        let g = RandomGenerator(seed: 10)
        var neurons: [MouseNeurons] = []
        for (m, entry) in zip(mice, entries) {
            let coordinates = try folder.map { try Fixtures.tensor("cell_motor_coordinates.\(m.name)", in: $0) }
                ?? Tensor.randomNormal([m.neurons, 3], generator: g)
            let key = folder == nil ? (entry["dataset"] as? String ?? m.name) : m.name
            neurons.append(MouseNeurons(key: key, count: m.neurons, coordinates: coordinates,
                                        frameSize: [c.core.frameHeight, c.core.frameWidth]))
        }
        let configuration = VideoModelConfiguration(core: AnyCoreConfiguration(c.core), readout: AnyReadoutConfiguration(c.readout),
                                                    shifter: AnyShifterConfiguration(c.shifter), outputNonlinearity: .exponential,
                                                    biasInitializationTrials: 0)
        return Described(configuration: configuration, mice: neurons, system: .viv1t, files: mice.map(\.name))
    }

    /// A copy of a fixture's state folder, with `prefix` before every key (DataParallel's `module.`).
    static func copyState(_ source: URL, prefix: String = "") throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sensorium-import-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        for name in try FileManager.default.contentsOfDirectory(atPath: source.path) where name.hasSuffix(".npy") {
            try FileManager.default.copyItem(at: source.appendingPathComponent(name), to: dir.appendingPathComponent(prefix + name))
        }
        return dir
    }

    @Test func fixturesArePresent() {
        for prefix in ["dwiseneuro_", "dynamic_v1fm_", "viv1t_"] {
            #expect(Self.cases.contains { $0.hasPrefix(prefix) }, "no \(prefix)* fixtures in \(Self.folder.path)")
        }
    }

    /// The fixture's PyTorch state loads by key into the configured VideoModel (Dynamic-V1FM with
    /// DataParallel's `module.` prefix, as released), which reproduces every mouse's output.
    @Test(arguments: cases) func winnerStateImportsAndReproducesTheOutputs(_ name: String) throws {
        let dir = Self.folder.appendingPathComponent(name)
        let json = try Self.readJSON(dir.appendingPathComponent("model.json"))
        let described = try Self.describe(json, name: name, folder: dir)
        let state = try Self.copyState(dir.appendingPathComponent("state"), prefix: described.system == .dynamicV1FM ? "module." : "")
        defer { try? FileManager.default.removeItem(at: state) }
        let model = try ImportWorkflow.loadModel(state: state, configuration: described.configuration, mice: described.mice,
                                                 system: described.system)
        #expect(!model.isTraining)
        for (mouse, file) in zip(described.mice, described.files) {
            let input: ModelInput
            let reference = try Fixtures.tensor("output.\(file)", in: dir)
            switch described.system {
            case .dwiseneuro:
                input = ModelInput(video: try Fixtures.tensor("input.\(file)", in: dir), mouse: mouse.key)
            case .viv1t:
                // The model reads behaviour and pupil centre also as constant planes (the data's channels).
                let behavior = try Fixtures.tensor("behavior.\(file)", in: dir), pupil = try Fixtures.tensor("pupil_center.\(file)", in: dir)
                input = ModelInput(video: ViViTCore.assembleInput(video: try Fixtures.tensor("video.\(file)", in: dir), behavior: behavior,
                                                                  pupilCenter: pupil),
                                   behavior: behavior, pupilCenter: pupil, mouse: mouse.key)
            default:
                input = ModelInput(video: try Fixtures.tensor("video.\(file)", in: dir),
                                   behavior: try Fixtures.tensor("behavior.\(file)", in: dir),
                                   pupilCenter: try Fixtures.tensor("pupil_center.\(file)", in: dir), mouse: mouse.key)
            }
            let y = withNoGrad { model(input) }
            // DwiseNeuro and ViV1T return (B, N, T'), Dynamic-V1FM (B, T', N); ours is (B, T', N).
            let expected = described.system == .dynamicV1FM ? reference : reference.transposed(1, 2)
            #expect(y.shape == expected.shape, "\(name) \(file): \(y.shape) vs \(expected.shape)")
            guard y.shape == expected.shape else { continue }
            var worst: Float = 0
            for (a, b) in zip(y.scalars, expected.scalars) { worst = max(worst, abs(a - b) / (1e-5 + 1e-4 * abs(b))) }
            print("import \(name) \(file): worst |error| / (1e-5 + 1e-4 |ref|) = \(worst)")
            #expect(worst <= 1, "\(name) \(file): worst |error| / (1e-5 + 1e-4 |ref|) = \(worst)")
        }
    }

    /// The paper-size models (built without drawing their initial weights) have exactly the keys
    /// and shapes of the released checkpoints, through each system's mapping; DwiseNeuro's mice are
    /// given in name order and still meet their own readouts (the neuron counts differ per mouse).
    @Test(arguments: ["dwiseneuro", "dynamic_v1fm", "viv1t"]) func paperCheckpointKeysLoadByKey(_ system: String) throws {
        let json = try Self.readJSON(Self.folder.appendingPathComponent("\(system)_paper_keys.json"))
        var described = try Self.describe(json, name: system, folder: nil)
        described.mice.sort { $0.key < $1.key }
        guard let entries = json["keys"] as? [[String: Any]] else { throw FixtureError.malformed("\(system): no keys") }
        let prefix = described.system == .dynamicV1FM ? "module." : ""
        var expected: [String: [Int]] = [:]
        for e in entries {
            guard let key = e["key"] as? String, let shape = e["shape"] as? [Int] else { throw FixtureError.malformed("\(system): bad entry") }
            expected[prefix + key] = shape
        }
        let configuration = described.configuration, mice = described.mice
        let model = try DeferredInitialization.run { try VideoModel(configuration: configuration, mice: mice) }
        let mapping = try described.system.keyMapping(for: model, stateKeys: expected.keys)
        var ours: [String: [Int]] = [:]
        for t in model.namedStateTensors() { ours[mapping.pytorchKey(forSwiftKey: t.path)] = t.tensor.shape }
        #expect(Set(ours.keys) == Set(expected.keys),
                "\(system): missing \(Set(expected.keys).subtracting(ours.keys).sorted().prefix(5)), extra \(Set(ours.keys).subtracting(expected.keys).sorted().prefix(5))")
        for (key, shape) in expected where ours[key] != nil {
            #expect(ours[key] == shape, "\(system) \(key): ours \(ours[key]!), the checkpoint's \(shape)")
        }
        for key in expected.keys.prefix(3) {
            #expect(mapping.pytorchKey(forSwiftKey: mapping.swiftKey(forPyTorchKey: key)) == key, "the mapping is invertible")
        }
    }

    // MARK: - Errors

    static func dwiseNeuroCase() throws -> (dir: URL, described: Described) {
        let name = try #require(Self.cases.first { $0.hasPrefix("dwiseneuro_") })
        let dir = Self.folder.appendingPathComponent(name)
        return (dir, try Self.describe(try Self.readJSON(dir.appendingPathComponent("model.json")), name: name, folder: dir))
    }

    static func importError(_ state: URL, _ d: Described, mice: [MouseNeurons]? = nil) -> String {
        do {
            _ = try ImportWorkflow.loadModel(state: state, configuration: d.configuration, mice: mice ?? d.mice, system: d.system)
            return ""
        } catch {
            return "\(error)"
        }
    }

    @Test func missingUnexpectedAndMisshapenKeysAreNamed() throws {
        let (dir, d) = try Self.dwiseNeuroCase()
        let source = dir.appendingPathComponent("state")
        let lastIndex = d.mice.count - 1

        let missing = try Self.copyState(source)
        defer { try? FileManager.default.removeItem(at: missing) }
        try FileManager.default.removeItem(at: missing.appendingPathComponent("readouts.\(lastIndex).layer.1.bias.npy"))
        let m = Self.importError(missing, d)
        #expect(m.contains("missing keys readouts.\(lastIndex).layer.1.bias"), "\(m)")

        let extra = try Self.copyState(source)
        defer { try? FileManager.default.removeItem(at: extra) }
        try NPY.write(Tensor.zeros([3]), to: extra.appendingPathComponent("cortex.extra.weight.npy").path)
        let e = Self.importError(extra, d)
        #expect(e.contains("unexpected keys cortex.extra.weight"), "\(e)")

        let shape = try Self.copyState(source)
        defer { try? FileManager.default.removeItem(at: shape) }
        try NPY.write(Tensor.zeros([2]), to: shape.appendingPathComponent("readouts.0.layer.1.bias.npy").path)
        let s = Self.importError(shape, d)
        #expect(s.contains("readouts.0.layer.1.bias") && s.contains("[2]"), "\(s)")

        // The checkpoint's readouts must match the mice given.
        let fewer = Self.importError(source, d, mice: Array(d.mice.prefix(1)))
        #expect(fewer.contains("readouts for \(d.mice.count) mice") && fewer.contains(d.mice[0].key), "\(fewer)")
        // The starter kit's keys are not DwiseNeuro's.
        var kit = d
        kit.system = .starterKit
        let wrongSystem = Self.importError(source, kit)
        #expect(wrongSystem.contains("unexpected keys") && wrongSystem.contains("cortex."), "\(wrongSystem)")
    }

    @Test func aWinnerCheckpointNeedsItsDescription() throws {
        let (dir, _) = try Self.dwiseNeuroCase()
        #expect {
            try ImportWorkflow.importState(folder: dir.appendingPathComponent("state"), description: nil, data: ["unused"],
                                           output: FileManager.default.temporaryDirectory.path, system: .dwiseneuro)
        } throws: { "\($0)".contains("dwiseneuro checkpoint needs the model's description") }
        #expect {
            try ImportWorkflow.importState(folder: dir.appendingPathComponent("state"), description: .preset("noSuchPreset"),
                                           data: ["unused"], output: FileManager.default.temporaryDirectory.path, system: .dwiseneuro)
        } throws: { "\($0)".contains("noSuchPreset") }
    }

    /// The command line: `--system` takes the systems' names, and a winner's checkpoint needs `--config`.
    @Test func importCommandTakesTheSystem() throws {
        let (dir, _) = try Self.dwiseNeuroCase()
        let root = try temporaryFolder("import-system")
        defer { try? FileManager.default.removeItem(at: root) }
        let state = dir.appendingPathComponent("state").path
        let unknown = try SensoriumTool.run(["import", "--state", state, "--system", "dwise", root.path, "-o", root.path])
        #expect(unknown.status != 0 && unknown.all.contains("dwiseneuro") && unknown.all.contains("viv1t"), "\(unknown.all)")
        let undescribed = try SensoriumTool.run(["import", "--state", state, "--system", "dwiseneuro", root.path, "-o", root.path])
        #expect(undescribed.status != 0 && undescribed.all.contains("needs the model's description"), "\(undescribed.all)")
        let help = try SensoriumTool.run(["import", "--help"])
        #expect(help.all.contains("--system") && help.all.contains("dynamicV1FM"))
    }
}
