import Foundation
import Testing
@testable import Sensorium
import SensoriumTestSupport

/// A configuration file can never reach a precondition: every bad option of a built-in core is a
/// `SensoriumError` naming it, and frames too small for the core's kernels are refused before
/// anything runs.
@Suite struct ConfigurationValidationTests {
    static var mice: [MouseNeurons] { [MouseNeurons(key: "m", count: 4, frameSize: [18, 32])] }

    @Test(arguments: [
        (#"{"core": {"type": "factorized3d", "hiddenChannels": []}}"#, "hiddenChannels"),
        (#"{"core": {"type": "factorized3d", "hiddenChannels": [4, 0], "spatialInputKernel": [3, 3]}}"#, "hiddenChannels"),
        (#"{"core": {"type": "factorized3d", "inputChannels": -3}}"#, "inputChannels"),
        (#"{"core": {"type": "factorized3d", "stride": [0]}}"#, "stride"),
        (#"{"core": {"type": "factorized3d", "spatialInputKernel": [0, 5]}}"#, "spatialInputKernel"),
        (#"{"core": {"type": "basic3d", "inputKernel": [3, 3]}}"#, "inputKernel"),
        (#"{"core": {"type": "stacked2d", "hiddenChannels": [4, 4], "inputKern": 3, "hiddenKern": [3], "stack": [5]}}"#, "stack"),
        (#"{"core": {"type": "stacked2d", "hiddenChannels": [4, 4], "inputKern": 3, "hiddenKern": [3], "gru": {"recChannels": 4, "recKern": 4}}}"#, "recKern"),
        (#"{"core": {"type": "rotationEquivariant2d", "hiddenChannels": [2], "numRotations": 0}}"#, "numRotations"),
        (#"{"readout": {"type": "gaussian", "initSigma": 0}}"#, "initSigma"),
        (#"{"readout": {"type": "gaussian", "positionNetwork": {"hiddenFeatures": 0}}}"#, "hiddenFeatures"),
        (#"{"readout": {"type": "hierarchical", "initSigma": -1}}"#, "initSigma"),
        (#"{"readout": {"type": "groupedConv", "dropout": 2}, "shifter": {"type": "none"}}"#, "dropout"),
        (#"{"readout": {"type": "factorized", "initNoise": -1}, "shifter": {"type": "none"}}"#, "initNoise"),
        (#"{"shifter": {"type": "mlp", "layers": 0}}"#, "layers"),
        // Found by ConfigurationFuzzTests: a shifter reading other than the pupil centre's 2
        // features was a precondition at the first forward pass.
        (#"{"shifter": {"type": "mlp", "inputFeatures": 5}}"#, "inputFeatures"),
        (#"{"shifter": {"type": "staticAffine", "inputFeatures": 3}}"#, "inputFeatures"),
        // Found by ConfigurationFuzzTests: a position network reading more coordinate columns
        // than a mouse has was a precondition when the readout was built.
        (#"{"readout": {"type": "gaussian", "positionNetwork": {"inputDimensions": 4}}}"#, "inputDimensions"),
        (#"{"readout": {"type": "hierarchical", "positionNetwork": {"inputDimensions": 5}}}"#, "inputDimensions"),
        (#"{"readout": {"type": "hierarchical", "levels": []}}"#, "levels"),
        (#"{"readout": {"type": "hierarchical", "levels": [2], "activeLevels": []}}"#, "activeLevels"),
        (#"{"outputNonlinearity": {"type": "softplus", "beta": 0}}"#, "beta"),
        // Found by ConfigurationFuzzTests: DwiseNeuro's core had no option checks (a zero stride
        // was a precondition in its initialiser), and ViV1T's position tables smaller than the
        // mouse's frames were a precondition at the first forward pass.
        (#"{"core": {"type": "dwiseneuro", "features": [4, 4], "spatialStrides": [1, 0]}}"#, "spatialStrides"),
        (#"{"core": {"type": "dwiseneuro", "features": [4, 4], "spatialStrides": [1]}}"#, "spatialStrides"),
        (#"{"core": {"type": "dwiseneuro", "features": [4], "spatialStrides": [1], "spatialKernel": 4}}"#, "spatialKernel"),
        (#"{"core": {"type": "dwiseneuro", "features": [4], "spatialStrides": [1], "seReduceRatio": 100}}"#, "seReduceRatio"),
        (#"{"core": {"type": "vivit", "frameHeight": 8, "frameWidth": 8}, "readout": {"type": "viv1tGaussian"}, "shifter": {"type": "none"}}"#, "frameHeight"),
        (#"{"core": {"type": "vivit", "spatialPatch": 40}, "readout": {"type": "viv1tGaussian"}, "shifter": {"type": "none"}}"#, "spatialPatch"),
    ])
    func badOptionsAreErrorsNamingTheOption(_ json: String, _ option: String) throws {
        // Cases about other parts get a core that fits the 18 × 32 frames.
        let small = #"{"core": {"type": "factorized3d", "hiddenChannels": [4], "spatialInputKernel": [3, 3], "temporalInputKernel": 3}, "#
        let configuration = try VideoModelConfiguration.fromJSON(json.contains(#""core""#) ? json : small + json.dropFirst())
        do {
            _ = try VideoModel(configuration: configuration, mice: Self.mice)
            Issue.record("\(json) built a model")
        } catch let error as SensoriumError {
            #expect(error.description.contains(option), "\(error)")
        }
    }

    /// Found by ConfigurationFuzzTests: Foundation reports a number that does not fit an integer
    /// option (1.5, 1e300, 2^63) as "not valid JSON" at the top level; the error names the key.
    @Test(arguments: [(#"[4, 1.5]"#, "hiddenChannels"), (#"[4, -1e300]"#, "hiddenChannels"),
                      (#"[9223372036854775808]"#, "hiddenChannels"),
                      (#"[4, 1.5], "hiddenSpatialDilation": [1e-30]"#, "hiddenSpatialDilation")])
    func numbersThatAreNotIntegersAreNamed(_ channels: String, _ key: String) throws {
        let json = #"{"model": {"core": {"type": "factorized3d", "hiddenChannels": "# + channels + "}}}"
        do {
            _ = try TrainingRunConfiguration.fromJSON(json, source: "c.json")
            Issue.record("\(json) was read")
        } catch {
            #expect("\(error)".contains(key) && "\(error)".contains("expected an integer"), "\(error)")
        }
    }

    /// Found by ConfigurationFuzzTests: a misspelled core nonlinearity said only "Invalid number
    /// of keys found"; the error names the key found and the nearest known one.
    @Test func misspelledCoreNonlinearityIsNamed() throws {
        let json = #"{"model": {"core": {"type": "basic3d", "nonlinearity": {"elux": {}}}}}"#
        do {
            _ = try TrainingRunConfiguration.fromJSON(json, source: "c.json")
            Issue.record("\(json) was read")
        } catch {
            #expect("\(error)".contains("'elux'") && "\(error)".contains("did you mean 'elu'"), "\(error)")
        }
        let adaptive = #"{"model": {"core": {"type": "basic3d", "nonlinearity": {"adaptiveELU": {"xShift": 0.5, "yShift": 1}}}}}"#
        let c = try TrainingRunConfiguration.fromJSON(adaptive)
        #expect(try TrainingRunConfiguration.fromJSON(c.jsonString()) == c)
    }

    /// Training clips the model cannot take are refused before the run starts, naming
    /// data.frames: no more frames than the burn-in (a precondition in the first step before), or
    /// more tubelets than ViV1T's temporal position table holds.
    @Test func clipsTheModelCannotTakeAreRefused() throws {
        let small = try VideoModelConfiguration.fromJSON(
            #"{"core": {"type": "factorized3d", "hiddenChannels": [4], "spatialInputKernel": [3, 3], "temporalInputKernel": 5}}"#)
        let model = try VideoModel(configuration: small, mice: Self.mice)
        var settings = TrainingDataSettings()
        settings.frames = model.burnInFrames
        #expect { try TrainingWorkflow.checkClips(of: model, configuration: small, settings: settings, frameSizes: [[18, 32]]) }
            throws: { "\($0)".contains("data.frames") && "\($0)".contains("burn-in") }
        settings.frames = model.burnInFrames + 1
        try TrainingWorkflow.checkClips(of: model, configuration: small, settings: settings, frameSizes: [[18, 32]])

        let vivit = try VideoModelConfiguration.fromJSON(
            #"{"core": {"type": "vivit", "maxFrames": 40}, "readout": {"type": "viv1tGaussian"}, "shifter": {"type": "none"}}"#)
        let vivitModel = try VideoModel(configuration: vivit, mice: Self.mice)
        settings.frames = 80
        #expect { try TrainingWorkflow.checkClips(of: vivitModel, configuration: vivit, settings: settings, frameSizes: [[18, 32]]) }
            throws: { "\($0)".contains("data.frames") && "\($0)".contains("maxFrames") }

        // CutMix cuts the behaviour planes, which constantInputChannels takes as constant (a
        // precondition in the first step before).
        let constant = try VideoModelConfiguration.fromJSON(
            #"{"core": {"type": "factorized3d", "hiddenChannels": [4], "spatialInputKernel": [3, 3], "temporalInputKernel": 5, "constantInputChannels": true}}"#)
        let constantModel = try VideoModel(configuration: constant, mice: Self.mice)
        settings.frames = 20
        settings.cutMixProbability = 0.5
        #expect { try TrainingWorkflow.checkClips(of: constantModel, configuration: constant, settings: settings, frameSizes: [[18, 32]]) }
            throws: { "\($0)".contains("data.cutMixProbability") && "\($0)".contains("constantInputChannels") }
        try TrainingWorkflow.checkClips(of: model, configuration: small, settings: settings, frameSizes: [[18, 32]])
        settings.cutMixProbability = 0
        try TrainingWorkflow.checkClips(of: constantModel, configuration: constant, settings: settings, frameSizes: [[18, 32]])
    }

    @Test func configurationPathsThatAreNotFilesAreNamed() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("sensorium-config-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        for load in [{ _ = try TrainingRunConfiguration.load(from: folder) }, { _ = try VideoModelConfiguration.load(from: folder) },
                     { _ = try TrainerConfiguration.load(from: folder) }] as [() throws -> Void] {
            do {
                try load()
                Issue.record("a folder was read as a configuration")
            } catch {
                #expect("\(error)".contains(folder.path) && "\(error)".contains("found a folder"), "\(error)")
            }
        }
        let missing = folder.appendingPathComponent("none.json")
        #expect(throws: SensoriumError.self) { try TrainingRunConfiguration.load(from: missing) }
    }

    @Test func framesTooSmallForTheKernelsAreRefused() throws {
        // The baseline's 11 × 11 then two 5 × 5 valid convolutions leave nothing of 18 × 32 frames.
        do {
            _ = try VideoModel(configuration: .factorizedBaseline, mice: Self.mice)
            Issue.record("the baseline was built for 18 × 32 frames")
        } catch let error as SensoriumError {
            #expect(error.description.contains("too small") && error.description.contains("18 × 32"), "\(error)")
        }
    }
}
