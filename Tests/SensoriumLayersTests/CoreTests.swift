import Foundation
import Testing
import SensoriumTensor
import SensoriumTestSupport
@testable import SensoriumLayers

/// The baseline-core fixtures: PyTorch weights loaded by key, eval mode, output and regulariser.
private enum CoreFixtures {
    static let folder = Fixtures.folder(environmentKey: "SENSORIUM_CORE_FIXTURES", defaultSubfolder: "cores")
    static var cases: [String] { Fixtures.cases(in: folder, marker: "core.json") }

    static func state(_ name: String) throws -> [String: Tensor] {
        let dir = folder.appendingPathComponent(name).appendingPathComponent("state")
        var out: [String: Tensor] = [:]
        for file in try FileManager.default.contentsOfDirectory(atPath: dir.path) where file.hasSuffix(".npy") {
            out[String(file.dropLast(4))] = try Fixtures.tensor(String(file.dropLast(4)), in: dir)
        }
        return out
    }

    /// Builds the core a fixture describes, from its core.json.
    static func makeCore(_ json: [String: Any], generator: RandomGenerator) throws -> (Module, (Tensor) -> Tensor, () -> Tensor) {
        func int(_ d: [String: Any], _ k: String) throws -> Int {
            guard let v = d[k] as? Int else { throw FixtureError.malformed("core.json: missing integer \(k)") }
            return v
        }
        func float(_ d: [String: Any], _ k: String) throws -> Float {
            guard let v = d[k] as? Double else { throw FixtureError.malformed("core.json: missing number \(k)") }
            return Float(v)
        }
        func ints(_ d: [String: Any], _ k: String) throws -> [Int] {
            guard let v = d[k] as? [Int] else { throw FixtureError.malformed("core.json: missing list \(k)") }
            return v
        }
        let kind = json["core"] as? String ?? ""
        if kind.contains("Factorized3dCore") {
            var c = Factorized3dCore.Configuration(
                inputChannels: try int(json, "input_channels"), hiddenChannels: try ints(json, "hidden_channels"),
                spatialInputKernel: try ints(json, "spatial_input_kernel"),
                temporalInputKernel: try int(json, "temporal_input_kernel"),
                spatialHiddenKernel: try ints(json, "spatial_hidden_kernel"),
                temporalHiddenKernel: try int(json, "temporal_hidden_kernel"))
            c.padding = json["padding"] as? Bool ?? false
            c.batchNorm = json["batch_norm"] as? Bool ?? true
            c.momentum = try float(json, "momentum")
            c.gammaInputSpatial = try float(json, "gamma_input_spatial")
            c.gammaInputTemporal = try float(json, "gamma_input_temporal")
            let core = Factorized3dCore(c, generator: generator)
            return (core, { core($0) }, { core.regularizer() })
        } else if kind.contains("RotationEquivariant2dCore") {
            var c = RotationEquivariant2dCore.Configuration()
            c.inputChannels = try int(json, "input_channels")
            c.hiddenChannels = [Int](repeating: try int(json, "hidden_channels"), count: try int(json, "layers"))
            c.numRotations = try int(json, "num_rotations")
            c.inputKern = try int(json, "input_kern")
            c.hiddenKern = [try int(json, "hidden_kern")]
            c.upsampling = try int(json, "upsampling")
            c.padInput = json["pad_input"] as? Bool ?? false
            c.momentum = try float(json, "momentum")
            c.gammaInput = try float(json, "gamma_input")
            c.gammaHidden = try float(json, "gamma_hidden")
            c.initStd = try float(json, "init_std")
            let core = RotationEquivariant2dCore(c, generator: generator)
            return (core, { core($0) }, { core.regularizer() })
        } else if kind.contains("Stacked2dCore") {
            guard let s = json["stacked2d"] as? [String: Any], let g = json["gru"] as? [String: Any] else {
                throw FixtureError.malformed("core.json: missing stacked2d / gru sections")
            }
            var c = Stacked2dCore.Configuration()
            c.inputChannels = try int(s, "input_channels")
            c.hiddenChannels = [Int](repeating: try int(s, "hidden_channels"), count: try int(s, "layers"))
            c.inputKern = try int(s, "input_kern")
            c.hiddenKern = [try int(s, "hidden_kern")]
            c.padInput = s["pad_input"] as? Bool ?? false
            c.batchNorm = [s["batch_norm"] as? Bool ?? true]
            c.momentum = try float(s, "momentum")
            c.finalNonlinearity = s["final_nonlinearity"] as? Bool ?? false
            c.gammaInput = try float(s, "gamma_input")
            c.gammaHidden = try float(s, "gamma_hidden")
            let gru = ConvGRU(inputChannels: try int(g, "input_channels"), recChannels: try int(g, "rec_channels"),
                              inputKern: try int(g, "input_kern"), recKern: try int(g, "rec_kern"), generator: generator)
            let core = FrameWiseCore(core: Stacked2dCore(c, generator: generator), gru: gru)
            return (core, { core($0) }, { core.regularizer() })
        }
        throw FixtureError.malformed("core.json: unknown core \"\(kind)\"")
    }
}

/// Extra fixtures generated from neuralpredictors by `Tests/Fixtures/core_options/generate.py`: core
/// options the shared fixtures do not cover. `core.json` holds the PyTorch constructor arguments.
private enum OptionFixtures {
    static let folder = Fixtures.repositoryFolder("core_options")
    static var cases: [String] { Fixtures.cases(in: folder, marker: "core.json") }

    static func makeCore(_ json: [String: Any], generator: RandomGenerator) throws -> Module {
        guard let kind = json["core"] as? String, let a = json["kwargs"] as? [String: Any] else {
            throw FixtureError.malformed("core.json: missing core / kwargs")
        }
        func int(_ k: String) -> Int? { a[k] as? Int }
        func float(_ k: String) -> Float? { (a[k] as? Double).map(Float.init) ?? (a[k] as? Int).map(Float.init) }
        func bool(_ k: String) -> Bool? { a[k] as? Bool }
        func ints(_ k: String) -> [Int]? { a[k] as? [Int] ?? int(k).map { [$0] } }
        let layers = int("layers") ?? 1
        switch kind {
        case "Basic3dCore":
            var c = Basic3dCore.Configuration()
            c.inputChannels = int("input_channels")!
            c.hiddenChannels = ints("hidden_channels")!
            c.inputKernel = ints("input_kernel")!
            c.hiddenKernels = [ints("hidden_kernel")!]
            c.padding = bool("padding") ?? false
            c.momentum = float("momentum")!
            c.gammaInputSpatial = float("gamma_input_spatial")!
            c.gammaInputTemporal = float("gamma_input_temporal")!
            c.finalNonlinearity = bool("final_nonlin") ?? true
            return Basic3dCore(c, generator: generator)
        case "Factorized3dCore":
            var c = Factorized3dCore.Configuration(
                inputChannels: int("input_channels")!, hiddenChannels: ints("hidden_channels")!,
                spatialInputKernel: ints("spatial_input_kernel")!, temporalInputKernel: int("temporal_input_kernel")!,
                spatialHiddenKernel: ints("spatial_hidden_kernel")!, temporalHiddenKernel: int("temporal_hidden_kernel")!)
            c.bias = bool("bias") ?? true
            c.padding = bool("padding") ?? false
            c.momentum = float("momentum")!
            c.finalNonlinearity = bool("final_nonlin")!
            c.gammaInputSpatial = float("gamma_input_spatial")!
            c.gammaInputTemporal = float("gamma_input_temporal")!
            return Factorized3dCore(c, generator: generator)
        case "Stacked2dCore", "RotationEquivariant2dCore":
            let hidden = ints("hidden_channels")!
            let hiddenChannels = hidden.count == 1 ? [Int](repeating: hidden[0], count: layers) : hidden
            let scale = bool("batch_norm_scale") ?? true, finalScale = bool("final_batchnorm_scale") ?? true
            let scales = [Bool](repeating: scale, count: layers - 1) + [finalScale]
            let regularizer: LaplaceRegularizer.Kind = (a["input_regularizer"] as? String) == "LaplaceL2" ? .l2 : .l2norm
            let stack: [Int]? = a["stack"] is NSNull || a["stack"] == nil ? nil : ints("stack")
            if kind == "Stacked2dCore" {
                var c = Stacked2dCore.Configuration()
                c.inputChannels = int("input_channels")!
                c.hiddenChannels = hiddenChannels
                c.inputKern = int("input_kern")!
                c.hiddenKern = ints("hidden_kern")!
                c.skip = int("skip") ?? 0
                c.padInput = bool("pad_input") ?? true
                c.batchNormScale = scales
                c.finalNonlinearity = bool("final_nonlinearity") ?? true
                c.hiddenDilation = int("hidden_dilation") ?? 1
                c.momentum = float("momentum") ?? 0.1
                c.gammaInput = float("gamma_input") ?? 0
                c.gammaHidden = float("gamma_hidden") ?? 0
                c.inputRegularizer = regularizer
                c.laplacePadding = a["laplace_padding"] is NSNull ? nil : int("laplace_padding")
                c.useAverageRegularizer = bool("use_avg_reg") ?? true
                c.stack = stack
                return Stacked2dCore(c, generator: generator)
            } else {
                var c = RotationEquivariant2dCore.Configuration()
                c.inputChannels = int("input_channels")!
                c.hiddenChannels = hiddenChannels
                c.inputKern = int("input_kern")!
                c.hiddenKern = ints("hidden_kern")!
                c.numRotations = int("num_rotations")!
                c.upsampling = int("upsampling")!
                c.padInput = bool("pad_input") ?? true
                c.batchNormScale = scales
                c.finalNonlinearity = bool("final_nonlinearity") ?? true
                c.momentum = float("momentum") ?? 0.1
                c.gammaInput = float("gamma_input") ?? 0
                c.gammaHidden = float("gamma_hidden") ?? 0
                c.inputRegularizer = regularizer
                c.laplacePadding = a["laplace_padding"] is NSNull ? nil : int("laplace_padding")
                c.useAverageRegularizer = bool("use_avg_reg") ?? true
                c.stack = stack
                return RotationEquivariant2dCore(c, generator: generator)
            }
        default:
            throw FixtureError.malformed("core.json: unknown core \"\(kind)\"")
        }
    }
}

@Suite struct CoreTests {
    @Test func fixtureFolderHasCases() {
        #expect(CoreFixtures.cases.count >= 3, "no core fixtures under \(CoreFixtures.folder.path)")
    }

    @Test(arguments: CoreFixtures.cases)
    func reproducesPyTorchCore(_ name: String) throws {
        let dir = CoreFixtures.folder.appendingPathComponent(name)
        let json = try Fixtures.json(dir.appendingPathComponent("core.json"))
        let tol = json["tol"] as? [String: Double] ?? [:]
        let (atol, rtol) = (Float(tol["atol"] ?? 1e-4), Float(tol["rtol"] ?? 1e-3))
        let (core, forward, regularizer) = try CoreFixtures.makeCore(json, generator: RandomGenerator(seed: 1))
        let state = try CoreFixtures.state(name)
        try core.loadStateDict(state)  // strict: every key matches, every shape fits
        core.eval()
        let output = withNoGrad { forward(try! Fixtures.tensor("input", in: dir)) }
        expectClose(output, try Fixtures.tensor("output", in: dir), atol: atol, rtol: rtol, "\(name) output")
        expectClose(regularizer(), try Fixtures.tensor("regularizer", in: dir), atol: atol, rtol: rtol, "\(name) regularizer")
        if let video = core as? any Core {
            let input = try Fixtures.tensor("input", in: dir)
            #expect(video.outputShape(for: input.shape) == output.shape)
            #expect(video.outputChannels == output.shape[1])
            #expect(video.burnInFrames == input.shape[2] - output.shape[2])
        } else if let frame = core as? any FrameCore {
            let input = try Fixtures.tensor("input", in: dir)
            #expect(frame.outputShape(for: input.shape) == output.shape)
        }
    }

    @Test func optionFixturesExist() {
        #expect(OptionFixtures.cases.count >= 4, "no option fixtures under \(OptionFixtures.folder.path)")
    }

    @Test(arguments: OptionFixtures.cases)
    func reproducesPyTorchCoreOptions(_ name: String) throws {
        let dir = OptionFixtures.folder.appendingPathComponent(name)
        let json = try Fixtures.json(dir.appendingPathComponent("core.json"))
        let core = try OptionFixtures.makeCore(json, generator: RandomGenerator(seed: 2))
        var state: [String: Tensor] = [:]
        let stateDir = dir.appendingPathComponent("state")
        for file in try FileManager.default.contentsOfDirectory(atPath: stateDir.path) where file.hasSuffix(".npy") {
            state[String(file.dropLast(4))] = try Fixtures.tensor(String(file.dropLast(4)), in: stateDir)
        }
        try core.loadStateDict(state)
        core.eval()
        let input = try Fixtures.tensor("input", in: dir)
        let expected = try Fixtures.tensor("output", in: dir)
        let (output, regularizer, shape): (Tensor, Tensor, [Int])
        switch core {
        case let c as any Core:
            (output, regularizer, shape) = (withNoGrad { c(input) }, c.regularizer(), c.outputShape(for: input.shape))
            #expect(c.burnInFrames == input.shape[2] - expected.shape[2])
        case let c as any FrameCore:
            (output, regularizer, shape) = (withNoGrad { c(input) }, c.regularizer(), c.outputShape(for: input.shape))
        default:
            Issue.record("\(name): not a core"); return
        }
        #expect(shape == expected.shape)
        expectClose(output, expected, atol: 1e-4, rtol: 1e-3, "\(name) output")
        expectClose(regularizer, try Fixtures.tensor("regularizer", in: dir), atol: 1e-4, rtol: 1e-3, "\(name) regularizer")
    }

    @Test func hermiteBasisAndRotationsMatchPyTorch() throws {
        let dir = CoreFixtures.folder.appendingPathComponent("rotation_equivariant2d").appendingPathComponent("state")
        for (layer, k) in [(0, 5), (1, 3)] {
            let rotate = RotateHermite(filterSize: k, upsampling: 2, numRotations: 4, firstLayer: layer == 0)
            let prefix = "features.layer\(layer).hermite_conv.rotate_hermite"
            expectClose(rotate.basis, try Fixtures.tensor("\(prefix).H", in: dir), atol: 1e-6, rtol: 1e-5, "H layer \(layer)")
            for r in 0..<4 {
                expectClose(rotate.rotations[r], try Fixtures.tensor("\(prefix).Rs.\(r)", in: dir),
                            atol: 1e-6, rtol: 1e-5, "Rs.\(r) layer \(layer)")
            }
        }
    }
}
