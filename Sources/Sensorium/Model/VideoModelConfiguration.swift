import Foundation
import SensoriumTensor
import SensoriumLayers
import SensoriumReadouts
import SensoriumData

/// Everything needed to build a ``VideoModel`` from mouse datasets: the core, readout, shifter and
/// output nonlinearity, each any registered component named by its `"type"` (``/SensoriumLayers/CoreKind``,
/// ``/SensoriumReadouts/ReadoutKind``, ``/SensoriumReadouts/ShifterKind``, ``/SensoriumReadouts/OutputNonlinearityKind``), the seed of the initial weights,
/// and the data-dependent starting steps. `Codable`, so it is stored in checkpoints and read from
/// the CLI's configuration file.
///
/// ```json
/// {"seed": 42,
///  "core": {"type": "factorized3d", "hiddenChannels": [16, 32], "spatialInputKernel": [7, 7]},
///  "readout": {"type": "gaussian"},
///  "shifter": {"type": "mlp", "layers": 3, "hiddenChannels": 5},
///  "outputNonlinearity": {"type": "eluPlusOne"},
///  "inference": {"type": "wholeTrial"}}
/// ```
/// Every key is optional: missing keys keep the defaults of the chosen types (the factorised
/// baseline for everything unnamed); a section without `"type"` changes the default type's
/// options; a key that nothing reads is an error naming it.
public struct VideoModelConfiguration: Codable, Sendable, Equatable {
    /// Seed of the initial weights and of the model's random draws in training.
    public var seed: UInt64
    /// The core.
    public var core: AnyCoreConfiguration
    /// The stage between core and readouts (nil: none), any registered ``/SensoriumLayers/StageKind``.
    public var stage: AnyStageConfiguration?
    /// The per-mouse readouts.
    public var readout: AnyReadoutConfiguration
    /// The per-mouse shifters (nil: none, JSON `{"type": "none"}`).
    public var shifter: AnyShifterConfiguration?
    /// The output nonlinearity (applied unless the readout applies its own).
    public var outputNonlinearity: AnyOutputNonlinearityConfiguration
    /// Number of training trials (whole, drawn at random with `seed`) whose mean normalised
    /// response initialises each readout's bias; the reference uses one training batch (8 clips).
    /// 0 leaves the biases at their initial values.
    public var biasInitializationTrials: Int
    /// Whether the mean responses pass through the inverse of the output nonlinearity before they
    /// become the readout biases, so that the initial predictions start at the mean response.
    ///
    /// The reference (`false`) sets the bias to the mean itself, which `ELU + 1` turns into
    /// mean + 1: with AdamW at lr 5e-3 the first few hundred steps then go to pulling every bias
    /// down by about one. `true` starts at the target level; use it for short trainings.
    public var biasThroughInverseNonlinearity: Bool
    /// Where the Gaussian readouts start when the model is built from data: the reference's random
    /// positions, or the receptive fields mapped from the training trials (``ReceptiveFieldMap``).
    public var readoutPositionInitialization: ReadoutPositionInitialization
    /// Whether the model reads behaviour normalised as `(x − mean) / std` rather than the
    /// reference's `x / std` (``/SensoriumData/MouseDataOptions/centerBehavior``); the datasets a model is built,
    /// trained and evaluated with are opened this way.
    public var centerBehavior: Bool
    /// Training epochs during which the behaviour input channels are hidden (multiplied by 0),
    /// so that the core first learns the stimulus; 0 (the reference) shows them from the start.
    /// With behaviour from the first step a short training settles on the behaviour-only solution
    /// (the slow gain modulation explains a tenth of the single-trial variance at once) and does
    /// not learn the stimulus within minutes; see `Documentation/GettingStarted.md`.
    public var behaviorWarmupEpochs: Int
    /// Whether the data the model reads is normalised (the reference, true) or raw — video,
    /// behaviour, pupil centre and responses as in the files (DwiseNeuro, false);
    /// ``/SensoriumData/MouseDataOptions/normalize``.
    public var normalizeData: Bool = true
    /// Whether frames are zero-padded, centred, to a square canvas (DwiseNeuro: 36 × 64 → 64 × 64);
    /// ``/SensoriumData/MouseDataOptions/padToSquare``.
    public var padFramesToSquare: Bool = false
    /// Whether the responses (targets) pass through ReLU (DwiseNeuro);
    /// ``/SensoriumData/MouseDataOptions/responsesThroughReLU``.
    public var responsesThroughReLU: Bool = false
    /// How the model predicts inputs longer than one pass should read, in evaluation mode
    /// (evaluation, validation, prediction files): any registered ``InferenceKind``; one pass
    /// over the whole trial by default. Training never uses it.
    public var inference: AnyInferenceConfiguration
    /// How the model's mice normalise video frames (``/SensoriumData/MouseDataOptions/videoNormalization``):
    /// `standard` (the reference, default), `minMax` or `viv1tMeanStd` (ViV1T's released code).
    public var videoNormalization: VideoNormalization = .standard
    /// Whether behaviour and pupil centre are scaled per frame with the statistics' min and max
    /// (``/SensoriumData/MouseDataOptions/minMaxBehavior``, ViV1T) instead of the reference's
    /// normalisation. Default false.
    public var minMaxBehavior: Bool = false

    /// A configuration; the defaults are the SENSORIUM 2023 factorised baseline.
    public init(seed: UInt64 = 42, core: AnyCoreConfiguration = .factorized3d(),
                readout: AnyReadoutConfiguration = .gaussian(), shifter: AnyShifterConfiguration? = .baseline,
                outputNonlinearity: AnyOutputNonlinearityConfiguration = .baseline, biasInitializationTrials: Int = 8,
                biasThroughInverseNonlinearity: Bool = false,
                readoutPositionInitialization: ReadoutPositionInitialization = .reference, centerBehavior: Bool = false,
                behaviorWarmupEpochs: Int = 0, inference: AnyInferenceConfiguration = .wholeTrial) {
        self.seed = seed
        self.core = core
        self.readout = readout
        self.shifter = shifter
        self.outputNonlinearity = outputNonlinearity
        self.biasInitializationTrials = biasInitializationTrials
        self.biasThroughInverseNonlinearity = biasThroughInverseNonlinearity
        self.readoutPositionInitialization = readoutPositionInitialization
        self.centerBehavior = centerBehavior
        self.behaviorWarmupEpochs = behaviorWarmupEpochs
        self.inference = inference
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case seed, core, stage, readout, shifter, outputNonlinearity, biasInitializationTrials, biasThroughInverseNonlinearity
        case readoutPositionInitialization, centerBehavior, behaviorWarmupEpochs
        case normalizeData, padFramesToSquare, responsesThroughReLU, inference
        case videoNormalization, minMaxBehavior
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        seed = try c.decode(UInt64.self, forKey: .seed)
        core = try c.decode(AnyCoreConfiguration.self, forKey: .core)
        stage = try c.decodeIfPresent(AnyStageConfiguration.self, forKey: .stage)
        readout = try c.decode(AnyReadoutConfiguration.self, forKey: .readout)
        shifter = try Self.decodeShifter(c)
        outputNonlinearity = try c.decode(AnyOutputNonlinearityConfiguration.self, forKey: .outputNonlinearity)
        biasInitializationTrials = try c.decode(Int.self, forKey: .biasInitializationTrials)
        // Configurations saved before this option existed used the reference initialisation.
        biasThroughInverseNonlinearity = try c.decodeIfPresent(Bool.self, forKey: .biasThroughInverseNonlinearity) ?? false
        readoutPositionInitialization = try c.decodeIfPresent(ReadoutPositionInitialization.self,
                                                              forKey: .readoutPositionInitialization) ?? .reference
        centerBehavior = try c.decodeIfPresent(Bool.self, forKey: .centerBehavior) ?? false
        behaviorWarmupEpochs = try c.decodeIfPresent(Int.self, forKey: .behaviorWarmupEpochs) ?? 0
        normalizeData = try c.decodeIfPresent(Bool.self, forKey: .normalizeData) ?? true
        padFramesToSquare = try c.decodeIfPresent(Bool.self, forKey: .padFramesToSquare) ?? false
        responsesThroughReLU = try c.decodeIfPresent(Bool.self, forKey: .responsesThroughReLU) ?? false
        // Configurations saved before inference strategies existed ran whole trials.
        inference = try c.decodeIfPresent(AnyInferenceConfiguration.self, forKey: .inference) ?? .wholeTrial
        videoNormalization = try c.decodeIfPresent(VideoNormalization.self, forKey: .videoNormalization) ?? .standard
        minMaxBehavior = try c.decodeIfPresent(Bool.self, forKey: .minMaxBehavior) ?? false
        if behaviorWarmupEpochs < 0 {
            throw DecodingError.dataCorruptedError(forKey: .behaviorWarmupEpochs, in: c, debugDescription: "behaviorWarmupEpochs must be non-negative, got \(behaviorWarmupEpochs)")
        }
    }

    /// The name that stands for "no shifter".
    public static let noShifterTypeName = "none"

    private static func decodeShifter(_ c: KeyedDecodingContainer<CodingKeys>) throws -> AnyShifterConfiguration? {
        let raw = try c.decode(JSONValue.self, forKey: .shifter)
        if raw == .null || raw.objectValue?["type"] == .string(noShifterTypeName) {
            guard (raw.objectValue ?? [:]).count <= 1 else {
                throw DecodingError.dataCorruptedError(forKey: .shifter, in: c, debugDescription: "the shifter \"none\" takes no options")
            }
            return nil
        }
        return try c.decode(AnyShifterConfiguration.self, forKey: .shifter)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(seed, forKey: .seed)
        try c.encode(core, forKey: .core)
        try c.encodeIfPresent(stage, forKey: .stage)
        try c.encode(readout, forKey: .readout)
        if let shifter {
            try c.encode(shifter, forKey: .shifter)
        } else {
            try c.encode(JSONValue.object(["type": .string(Self.noShifterTypeName)]), forKey: .shifter)
        }
        try c.encode(outputNonlinearity, forKey: .outputNonlinearity)
        try c.encode(biasInitializationTrials, forKey: .biasInitializationTrials)
        try c.encode(biasThroughInverseNonlinearity, forKey: .biasThroughInverseNonlinearity)
        try c.encode(readoutPositionInitialization, forKey: .readoutPositionInitialization)
        try c.encode(centerBehavior, forKey: .centerBehavior)
        try c.encode(behaviorWarmupEpochs, forKey: .behaviorWarmupEpochs)
        try c.encode(normalizeData, forKey: .normalizeData)
        try c.encode(padFramesToSquare, forKey: .padFramesToSquare)
        try c.encode(responsesThroughReLU, forKey: .responsesThroughReLU)
        try c.encode(inference, forKey: .inference)
        try c.encode(videoNormalization, forKey: .videoNormalization)
        try c.encode(minMaxBehavior, forKey: .minMaxBehavior)
    }

    /// The model's input specification, from which the data options derive: the core's input
    /// channels say whether behaviour (3) and the pupil centre (5) are input channels,
    /// ``centerBehavior``, ``minMaxBehavior`` and ``videoNormalization`` how inputs are normalised,
    /// ``normalizeData``, ``padFramesToSquare`` and ``responsesThroughReLU`` the rest. Throws for
    /// other channel counts.
    public func dataOptions() throws -> MouseDataOptions {
        let channels = core.inputChannels
        var options: MouseDataOptions
        switch channels {
        case 1: options = MouseDataOptions(behaviorAsChannels: false, pupilCenterAsChannels: false)
        case 3: options = MouseDataOptions(behaviorAsChannels: true, pupilCenterAsChannels: false, centerBehavior: centerBehavior)
        case 5: options = MouseDataOptions(behaviorAsChannels: true, pupilCenterAsChannels: true, centerBehavior: centerBehavior)
        default:
            throw SensoriumError.incompatibleData("the model's \(core.typeName) core reads \(channels) input channels (core inputChannels); mouse folders give 1 (frame), 3 (+ behaviour) or 5 (+ pupil centre)")
        }
        options.normalize = normalizeData
        options.padToSquare = padFramesToSquare
        options.responsesThroughReLU = responsesThroughReLU
        options.videoNormalization = videoNormalization
        options.minMaxBehavior = minMaxBehavior
        return options
    }

    /// The factorised baseline of SENSORIUM 2023: ``/SensoriumLayers/Factorized3dCore`` (32/64/128 channels),
    /// ``/SensoriumReadouts/FullGaussian2d`` with positions from cortical coordinates, MLP shifter, `ELU + 1`.
    public static var factorizedBaseline: VideoModelConfiguration { VideoModelConfiguration() }

    /// The official GRU benchmark: ``/SensoriumLayers/RotationEquivariant2dCore`` (8 × 8 rotations) + ConvGRU (k = 9),
    /// Gaussian readouts, MLP shifter, `ELU + 1`.
    public static var gruBaseline: VideoModelConfiguration {
        VideoModelConfiguration(core: AnyCoreConfiguration(RotationEquivariant2dVideoCoreConfiguration()))
    }

    /// The starter kit's first GRU baseline: ``/SensoriumLayers/Stacked2dCore`` (4 × 64 channels, γ_input 10,
    /// γ_hidden 0) + ConvGRU (64 channels, k = 7).
    public static var stacked2dGRU: VideoModelConfiguration {
        var core = Stacked2dVideoCoreConfiguration()
        core.frame.gammaInput = 10
        core.frame.gammaHidden = 0
        return VideoModelConfiguration(core: AnyCoreConfiguration(core))
    }

    /// The configuration as JSON (sorted keys, pretty-printed).
    public func jsonString() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        guard let data = try? encoder.encode(self) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }

    /// Reads a configuration from JSON in which every key is optional: missing keys take the
    /// defaults of the types named (the factorised baseline's for sections without a `"type"`);
    /// unknown keys and types are errors naming them.
    public static func fromJSON(_ json: String, source: String = "(JSON text)") throws -> VideoModelConfiguration {
        let user: JSONValue
        do {
            user = try JSONDecoder().decode(JSONValue.self, from: Data(json.utf8))
        } catch {
            throw SensoriumError.invalidConfiguration(source: source, message: "not valid JSON: \(error.localizedDescription)")
        }
        guard case .object = user else {
            throw SensoriumError.invalidConfiguration(source: source, message: "expected a JSON object at the top level")
        }
        do {
            // A component section without "type" changes the default type's options; one that
            // names another type replaces it (JSONValue.merged).
            return try user.decodeOverDefaults(VideoModelConfiguration.self, defaults: VideoModelConfiguration(), what: "model")
        } catch let error as ComponentError {
            throw SensoriumError.invalidConfiguration(source: source, message: error.description)
        } catch let error as DecodingError {
            throw SensoriumError.invalidConfiguration(source: source, message: describeDecodingError(error))
        }
    }

    /// Reads a configuration file (see ``fromJSON(_:source:)``).
    public static func load(from url: URL) throws -> VideoModelConfiguration {
        let read = readConfigurationFile(url)
        guard let text = read.text else { throw SensoriumError.invalidConfiguration(source: url.path, message: read.problem ?? "") }
        return try fromJSON(text, source: url.path)
    }
}
