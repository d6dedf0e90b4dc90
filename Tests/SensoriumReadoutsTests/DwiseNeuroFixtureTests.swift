import Foundation
import Testing
import SensoriumTensor
import SensoriumLayers
import SensoriumReadouts
import SensoriumTestSupport

/// DwiseNeuro (1st place, SENSORIUM 2023) composed from its components as the reference's
/// `DwiseNeuro` module is: `core` → spatial mean → `cortex` → `readouts.<index>`. The keys are the
/// reference's `state_dict` keys.
final class DwiseNeuroAssembly: Module {
    let core: DwiseNeuroCore
    let cortex: Cortex
    let readouts: [GroupedConvReadout]

    /// The components of a reference `config` (the constructor arguments of `DwiseNeuro`).
    struct Configurations {
        var core: DwiseNeuroCore.Configuration
        var cortex: Cortex.Configuration
        var readouts: [(neurons: Int, configuration: GroupedConvReadout.Configuration)]
        /// Channels the readouts read (the cortex's output).
        var readoutChannels: Int { cortex.features[cortex.features.count - 1] }

        /// The reference's keyword arguments; `neurons` overrides `readout_outputs`. Unknown
        /// arguments are errors (`ignoring` lists informational fields).
        init(reference config: [String: Any], neurons: [Int]? = nil, ignoring: Set<String> = []) throws {
            let known: Set<String> = ["in_channels", "core_features", "spatial_strides", "spatial_kernel", "temporal_kernel",
                                      "expansion_ratio", "se_reduce_ratio", "cortex_features", "groups", "softplus_beta",
                                      "drop_rate", "drop_path_rate", "readout_outputs"]
            let unknown = Set(config.keys).subtracting(known).subtracting(ignoring)
            guard unknown.isEmpty else { throw FixtureError.malformed("unsupported DwiseNeuro options \(unknown.sorted())") }
            func int(_ key: String) throws -> Int {
                guard let v = config[key] as? Int else { throw FixtureError.malformed("config.\(key) missing") }
                return v
            }
            func ints(_ key: String) throws -> [Int] {
                guard let v = config[key] as? [Int] else { throw FixtureError.malformed("config.\(key) missing") }
                return v
            }
            func float(_ key: String) throws -> Float {
                guard let v = config[key] as? Double else { throw FixtureError.malformed("config.\(key) missing") }
                return Float(v)
            }
            let dropPath = try float("drop_path_rate")
            core = DwiseNeuroCore.Configuration(
                inChannels: try int("in_channels"), features: try ints("core_features"),
                spatialStrides: try ints("spatial_strides"), spatialKernel: try int("spatial_kernel"),
                temporalKernel: try int("temporal_kernel"), expansionRatio: try int("expansion_ratio"),
                seReduceRatio: try int("se_reduce_ratio"), dropPathRate: dropPath)
            let groups = try int("groups")
            cortex = Cortex.Configuration(inputChannels: core.features[core.features.count - 1],
                                          features: try ints("cortex_features"), groups: groups, dropPathRate: dropPath)
            let counts = try neurons ?? ints("readout_outputs")
            let dropout = try float("drop_rate"), beta = try float("softplus_beta")
            readouts = counts.map {
                (neurons: $0, configuration: GroupedConvReadout.Configuration(groups: groups, dropout: dropout, softplusBeta: beta))
            }
        }
    }

    init(_ c: Configurations, generator: RandomGenerator) {
        core = DwiseNeuroCore(configuration: c.core, generator: generator)
        cortex = Cortex(configuration: c.cortex, generator: generator)
        readouts = c.readouts.map {
            GroupedConvReadout(inputChannels: c.readoutChannels, neuronCount: $0.neurons, configuration: $0.configuration,
                               generator: generator)
        }
        super.init()
    }

    /// Activations of one forward pass; `output` is (N, neurons, T) as the reference returns it.
    struct Pass {
        var stages: [Tensor]
        var pooled: Tensor
        var cortex: Tensor
        var logits: Tensor
        var output: Tensor
    }

    func forward(_ x: Tensor, index: Int) -> Pass {
        let stages = core.stageOutputs(x)
        let pooled = core.pool(stages[stages.count - 1])                  // (N, C, T)
        let features = cortex(pooled)                                      // (N, C', T)
        let readout = readouts[index]
        let logits = readout.layer(features)                               // (N, ⌈n/g⌉·g, T)
        let n = features.shape[0], t = features.shape[2]
        let output = readout(features.reshaped([n, features.shape[1], t, 1, 1])).transposed(1, 2)
        return Pass(stages: stages, pooled: pooled, cortex: features, logits: logits, output: output)
    }
}

/// The winner fixtures of `../shared/fixtures/winners` (folder from `SENSORIUM_WINNER_FIXTURES`),
/// every `dwiseneuro_*` case, plus the SDK's own cases in `Tests/Fixtures/winners` listed in
/// `Tests/Fixtures/OWN` (made by `Tools/make_dwiseneuro_fixtures.py`; odd sizes): PyTorch weights loaded by key, outputs of every
/// mouse, every intermediate, and the gradients of every parameter and of the input.
@Suite struct DwiseNeuroFixtureTests {
    static let folder = Fixtures.folder(environmentKey: "SENSORIUM_WINNER_FIXTURES", defaultSubfolder: "winners")
    static let ownFolder = Fixtures.repositoryFolder("winners")
    static func dwiseNeuroCases(in folder: URL) -> [String] {
        Fixtures.cases(in: folder, marker: "model.json").filter { $0.hasPrefix("dwiseneuro_") }
            .map { folder.appendingPathComponent($0).path }
    }
    /// Our own cases (listed in `Tests/Fixtures/OWN`).
    static let ownCases = Fixtures.ownEntries("winners").filter { $0.hasPrefix("dwiseneuro_") }
        .map { ownFolder.appendingPathComponent($0).path }
    /// Paths of every case folder: those of the resolved folder, plus ours when it is elsewhere.
    static let cases = dwiseNeuroCases(in: folder) + (folder.path == ownFolder.path ? [] : ownCases)

    /// One case folder's description.
    struct Case {
        let dir: URL
        let json: [String: Any]
        let configurations: DwiseNeuroAssembly.Configurations
        let mice: [(name: String, index: Int, neurons: Int)]
        let stateKeys: [(key: String, shape: [Int], isParameter: Bool)]

        init(_ path: String) throws {
            dir = URL(fileURLWithPath: path)
            let name = dir.lastPathComponent
            json = try Fixtures.json(dir.appendingPathComponent("model.json"))
            guard let config = json["config"] as? [String: Any], let mice = json["mice"] as? [[String: Any]],
                  let state = json["state"] as? [String: Any], let keys = state["keys"] as? [[String: Any]] else {
                throw FixtureError.malformed("\(name): model.json lacks config, mice or state.keys")
            }
            configurations = try DwiseNeuroAssembly.Configurations(reference: config)
            self.mice = try mice.map {
                guard let n = $0["name"] as? String, let i = $0["readout_index"] as? Int, let c = $0["neurons"] as? Int else {
                    throw FixtureError.malformed("\(name): malformed mouse entry \($0)")
                }
                return (n, i, c)
            }
            stateKeys = try keys.map {
                guard let k = $0["key"] as? String, let s = $0["shape"] as? [Int], let kind = $0["kind"] as? String else {
                    throw FixtureError.malformed("\(name): malformed state key entry \($0)")
                }
                return (k, s, kind == "parameter")
            }
        }

        /// (rtol, atol or atol relative to max|ref|) of a tolerance group.
        func tolerance(_ group: String) throws -> (rtol: Float, atol: Float) {
            guard let tol = (json["tol"] as? [String: Any])?[group] as? [String: Any],
                  let rtol = tol["rtol"] as? Double, let atol = (tol["atol"] ?? tol["atol_rel_to_max"]) as? Double else {
                throw FixtureError.malformed("model.json tol.\(group) missing")
            }
            return (Float(rtol), Float(atol))
        }

        /// A model with the fixture's state loaded strictly by key (built without initial draws).
        func loadedModel() throws -> DwiseNeuroAssembly {
            let model = DeferredInitialization.run { DwiseNeuroAssembly(configurations, generator: RandomGenerator(seed: 0)) }
            var state: [String: Tensor] = [:]
            for entry in stateKeys {
                state[entry.key] = try Fixtures.tensor(entry.key, in: dir.appendingPathComponent("state"))
            }
            try model.loadStateDict(state, strict: true)
            model.eval()
            return model
        }
    }

    private static func maxAbs(_ t: Tensor) -> Float { t.scalars.reduce(0) { max($0, abs($1)) } }

    @Test func fixturesArePresent() {
        #expect(!Self.dwiseNeuroCases(in: Self.folder).isEmpty, "no dwiseneuro_* fixtures in \(Self.folder.path)")
        #expect(!Self.ownCases.isEmpty, "Tests/Fixtures/OWN lists no dwiseneuro_* case")
        for path in Self.ownCases {
            #expect(FileManager.default.fileExists(atPath: path + "/model.json"), "\(path) is listed in OWN but missing")
        }
    }

    /// The model built from model.json has exactly the fixture's keys and shapes, and the geometry of
    /// `derived_blocks`.
    @Test(arguments: cases) func keysAndGeometry(_ path: String) throws {
        let fixture = try Case(path)
        let model = DwiseNeuroAssembly(fixture.configurations, generator: RandomGenerator(seed: 0))
        let ours = Dictionary(uniqueKeysWithValues: model.namedStateTensors().map { ($0.path, $0.tensor.shape) })
        let theirs = Dictionary(uniqueKeysWithValues: fixture.stateKeys.map { ($0.key, $0.shape) })
        #expect(ours == theirs)
        let parameters = Set(model.namedParameters().map(\.path))
        #expect(parameters == Set(fixture.stateKeys.filter(\.isParameter).map(\.key)))
        #expect(fixture.mice.map(\.neurons) == model.readouts.map(\.neuronCount))

        let blocks = try #require(fixture.json["derived_blocks"] as? [[String: Any]])
        #expect(blocks.count == model.core.blockCount)
        let canvas = try Fixtures.tensor("input.\(fixture.mice[0].name)", in: fixture.dir).shape[3]
        var side = canvas
        for (i, entry) in blocks.enumerated() {
            let block = model.core.block(i)
            #expect(entry["block_key_prefix"] as? String == "core.blocks.\(2 * i + 1)")
            #expect(entry["pe_key_prefix"] as? String == "core.blocks.\(2 * i)")
            #expect(entry["c_in"] as? Int == block.inChannels && entry["c_out"] as? Int == block.outChannels)
            #expect(entry["stride"] as? Int == block.spatialStride && entry["mid"] as? Int == block.midChannels)
            #expect(entry["se_hidden"] as? Int == block.squeezeExcitation.reduce.outChannels)
            let out = (side + block.spatialStride - 1) / block.spatialStride
            #expect(entry["hw_in"] as? Int == side && entry["hw_out"] as? Int == out)
            side = out
            let rate = try #require(entry["drop_path_rate"] as? Double)
            #expect(abs(Double(block.dropPath.p) - rate) < 1e-7)
            // The fixture's inv_freq buffers are the reference model's own: ours must be computed alike.
            let frequencies = try Fixtures.tensor("core.blocks.\(2 * i).inv_freq", in: fixture.dir.appendingPathComponent("state"))
            expectClose(model.core.positionalEncoding(i).invFreq, frequencies, atol: 0, rtol: 1e-6, "\(path) inv_freq of block \(i)")
        }
    }

    /// Loading fails, naming the key, when a key is missing or extra.
    @Test(arguments: cases) func strictLoading(_ path: String) throws {
        let fixture = try Case(path)
        let model = DwiseNeuroAssembly(fixture.configurations, generator: RandomGenerator(seed: 0))
        var state = model.stateDict()
        let removed = try #require(fixture.stateKeys.first { $0.key.hasSuffix("inv_freq") }).key
        state[removed] = nil
        state["core.blocks.99.inv_freq"] = Tensor.zeros([1])
        do {
            try model.loadStateDict(state)
            Issue.record("an incomplete state should not load")
        } catch {
            #expect(error == .stateDictionary(.init(missingKeys: [removed], unexpectedKeys: ["core.blocks.99.inv_freq"], shapeMismatches: [])))
        }
    }

    /// The input assembly reproduces `input.<mouse>.npy` from the raw video, behaviour and pupil centre.
    @Test(arguments: cases) func inputAssembly(_ path: String) throws {
        let fixture = try Case(path)
        let name = fixture.dir.lastPathComponent
        for mouse in fixture.mice {
            let expected = try Fixtures.tensor("input.\(mouse.name)", in: fixture.dir)
            let input = try DwiseNeuroInput.assemble(
                video: try Fixtures.tensor("video.\(mouse.name)", in: fixture.dir),
                behavior: try Fixtures.tensor("behavior.\(mouse.name)", in: fixture.dir),
                pupilCenter: try Fixtures.tensor("pupil_center.\(mouse.name)", in: fixture.dir),
                canvasHeight: expected.shape[3], canvasWidth: expected.shape[4])
            #expect(input.shape == expected.shape)
            #expect(input.scalars == expected.scalars, "\(name) \(mouse.name): assembled input differs")
        }
    }

    /// Eval-mode outputs of every mouse and the intermediates of the first.
    @Test(arguments: cases) func outputsAndIntermediates(_ path: String) throws {
        let fixture = try Case(path)
        let name = fixture.dir.lastPathComponent
        let model = try fixture.loadedModel()
        let out = try fixture.tolerance("output"), mid = try fixture.tolerance("intermediates")
        for (m, mouse) in fixture.mice.enumerated() {
            let x = try Fixtures.tensor("input.\(mouse.name)", in: fixture.dir)
            let pass = withNoGrad { model.forward(x, index: mouse.index) }
            let expected = try Fixtures.tensor("output.\(mouse.name)", in: fixture.dir)
            expectClose(pass.output, expected, atol: out.atol, rtol: out.rtol, "\(name) output.\(mouse.name)")
            let finite = pass.output.scalars.allSatisfy { $0.isFinite }
            #expect(finite)
            guard m == 0 else { continue }
            let folder = fixture.dir.appendingPathComponent("intermediates")
            var references: [(String, Tensor)] = [("stem", pass.stages[0])]
            for i in 0..<model.core.blockCount { references.append(("block\(i)", pass.stages[i + 1])) }
            references += [("core", pass.stages[pass.stages.count - 1]), ("pool", pass.pooled),
                           ("cortex", pass.cortex), ("readout_logits", pass.logits)]
            let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".npy") }
            #expect(Set(files) == Set(references.map { "\($0.0).npy" }), "intermediates on disk differ from those compared")
            for (file, ours) in references {
                let reference = try Fixtures.tensor(file, in: folder)
                expectClose(ours, reference, atol: mid.atol * Self.maxAbs(reference), rtol: mid.rtol, "\(name) \(file)")
            }
        }
    }

    /// d sum(output · grad_output) / d every parameter and d input, eval mode, first mouse; again
    /// with every block's activations recomputed in the backward pass (`gradientCheckpointing`).
    @Test(arguments: cases) func gradients(_ path: String) throws {
        for checkpointing in [false, true] { try gradients(path, checkpointing: checkpointing) }
    }

    private func gradients(_ path: String, checkpointing: Bool) throws {
        let fixture = try Case(path)
        let name = fixture.dir.lastPathComponent + (checkpointing ? " (gradientCheckpointing)" : "")
        let model = try fixture.loadedModel()
        var blocks = 0
        model.apply { m in
            guard let block = m as? InvertedResidual3d else { return }
            block.gradientCheckpointing = checkpointing
            blocks += 1
        }
        #expect(blocks > 0)
        let tol = try fixture.tolerance("grad")
        let mouse = fixture.mice[0]
        let x = try Fixtures.tensor("input.\(mouse.name)", in: fixture.dir)
        x.requiresGrad = true
        let cotangent = try Fixtures.tensor("grad_output", in: fixture.dir)
        let output = model.forward(x, index: mouse.index).output
        try #require(output.shape == cotangent.shape)
        (output * cotangent).sum().backward()

        let reference = try Fixtures.tensor("grad_input", in: fixture.dir)
        expectClose(try #require(x.grad), reference, atol: tol.atol * Self.maxAbs(reference), rtol: tol.rtol, "\(name) grad_input")
        let parameters = Dictionary(uniqueKeysWithValues: model.namedParameters().map { ($0.path, $0.tensor) })
        let folder = fixture.dir.appendingPathComponent("grad")
        var compared = 0
        for entry in fixture.stateKeys where entry.isParameter {
            let expected = try Fixtures.tensor(entry.key, in: folder)
            let parameter = try #require(parameters[entry.key])
            let ours = parameter.grad ?? Tensor.zeros(parameter.shape)
            expectClose(ours, expected, atol: tol.atol * Self.maxAbs(expected), rtol: tol.rtol, "\(name) grad/\(entry.key)")
            compared += 1
        }
        #expect(compared == parameters.count)
    }
}
