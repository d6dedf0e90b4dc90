import Foundation
import SensoriumTensor
import SensoriumLayers
import SensoriumReadouts

/// The settings of a ConvGRU that follows a frame-wise (2-D) core (neuralpredictors' `GRU_Module`).
public struct ConvGRUConfiguration: Codable, Sendable, Equatable {
    /// Hidden (and output) channels.
    public var recChannels: Int
    /// Kernel of the input-to-gate convolutions.
    public var inputKern: Int
    /// Kernel of the state-to-gate convolutions.
    public var recKern: Int
    /// Convolution groups.
    public var groups: Int
    /// Pad the input convolutions to keep the frame size ("same").
    public var padInput: Bool

    /// A ConvGRU; the defaults are the official GRU benchmark's (64 channels, kernels 9).
    public init(recChannels: Int = 64, inputKern: Int = 9, recKern: Int = 9, groups: Int = 1, padInput: Bool = true) {
        self.recChannels = recChannels
        self.inputKern = inputKern
        self.recKern = recKern
        self.groups = groups
        self.padInput = padInput
    }
}

/// The built-in cores a ``VideoModelConfiguration`` can name.
///
/// JSON: the core's own configuration fields next to a `"type"` key, e.g.
/// `{"type": "factorized3d", "hiddenChannels": [16, 32]}`; 2-D cores take an optional `"gru"` object.
public enum CoreConfiguration: Sendable, Equatable {
    /// ``Factorized3dCore`` (the factorised baseline).
    case factorized3d(Factorized3dCore.Configuration)
    /// ``Basic3dCore`` (full 3-D kernels).
    case basic3d(Basic3dCore.Configuration)
    /// ``Stacked2dCore`` applied frame by frame, then an optional ConvGRU (the first GRU baseline).
    case stacked2d(Stacked2dCore.Configuration, gru: ConvGRUConfiguration?)
    /// ``RotationEquivariant2dCore`` frame by frame, then an optional ConvGRU (the GRU benchmark).
    case rotationEquivariant2d(RotationEquivariant2dCore.Configuration, gru: ConvGRUConfiguration?)

    /// The `"type"` names, in declaration order.
    public static let typeNames = ["factorized3d", "basic3d", "stacked2d", "rotationEquivariant2d"]

    /// The `"type"` name of this core.
    public var typeName: String {
        switch self {
        case .factorized3d: return "factorized3d"
        case .basic3d: return "basic3d"
        case .stacked2d: return "stacked2d"
        case .rotationEquivariant2d: return "rotationEquivariant2d"
        }
    }

    /// The default configuration of a core type (nil for an unknown name).
    public static func defaults(type: String) -> CoreConfiguration? {
        switch type {
        case "factorized3d": return .factorized3d(.init())
        case "basic3d": return .basic3d(.init())
        case "stacked2d":
            var c = Stacked2dCore.Configuration()
            c.gammaInput = 10
            c.gammaHidden = 0
            return .stacked2d(c, gru: ConvGRUConfiguration(recChannels: 64, inputKern: 7, recKern: 7))
        case "rotationEquivariant2d": return .rotationEquivariant2d(.init(), gru: ConvGRUConfiguration())
        default: return nil
        }
    }

    /// Number of input channels the core expects.
    public var inputChannels: Int {
        switch self {
        case .factorized3d(let c): return c.inputChannels
        case .basic3d(let c): return c.inputChannels
        case .stacked2d(let c, _): return c.inputChannels
        case .rotationEquivariant2d(let c, _): return c.inputChannels
        }
    }

    /// This configuration with another number of input channels.
    public func withInputChannels(_ channels: Int) -> CoreConfiguration {
        switch self {
        case .factorized3d(var c): c.inputChannels = channels; return .factorized3d(c)
        case .basic3d(var c): c.inputChannels = channels; return .basic3d(c)
        case .stacked2d(var c, let g): c.inputChannels = channels; return .stacked2d(c, gru: g)
        case .rotationEquivariant2d(var c, let g): c.inputChannels = channels; return .rotationEquivariant2d(c, gru: g)
        }
    }

    /// Builds the core, drawing its initial weights from `generator`.
    public func makeCore(generator: RandomGenerator) -> any Core {
        func frameWise(_ frame: any FrameCore, _ gru: ConvGRUConfiguration?) -> any Core {
            let module = gru.map {
                ConvGRU(inputChannels: frame.outputChannels, recChannels: $0.recChannels, inputKern: $0.inputKern,
                        recKern: $0.recKern, groups: $0.groups, padInput: $0.padInput, generator: generator)
            }
            return FrameWiseCore(core: frame, gru: module)
        }
        switch self {
        case .factorized3d(let c): return Factorized3dCore(c, generator: generator)
        case .basic3d(let c): return Basic3dCore(c, generator: generator)
        case .stacked2d(let c, let g): return frameWise(Stacked2dCore(c, generator: generator), g)
        case .rotationEquivariant2d(let c, let g): return frameWise(RotationEquivariant2dCore(c, generator: generator), g)
        }
    }
}

extension CoreConfiguration: Codable {
    private enum TypeKey: String, CodingKey { case type, gru }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: TypeKey.self)
        let type = try container.decode(String.self, forKey: .type)
        switch type {
        case "factorized3d": self = .factorized3d(try Factorized3dCore.Configuration(from: decoder))
        case "basic3d": self = .basic3d(try Basic3dCore.Configuration(from: decoder))
        case "stacked2d":
            self = .stacked2d(try Stacked2dCore.Configuration(from: decoder),
                              gru: try container.decodeIfPresent(ConvGRUConfiguration.self, forKey: .gru))
        case "rotationEquivariant2d":
            self = .rotationEquivariant2d(try RotationEquivariant2dCore.Configuration(from: decoder),
                                          gru: try container.decodeIfPresent(ConvGRUConfiguration.self, forKey: .gru))
        default:
            throw DecodingError.dataCorruptedError(forKey: .type, in: container,
                                                   debugDescription: "unknown core type '\(type)'; expected one of \(CoreConfiguration.typeNames.joined(separator: ", "))")
        }
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: TypeKey.self)
        try container.encode(typeName, forKey: .type)
        switch self {
        case .factorized3d(let c): try c.encode(to: encoder)
        case .basic3d(let c): try c.encode(to: encoder)
        case .stacked2d(let c, let g):
            try c.encode(to: encoder)
            try container.encodeIfPresent(g, forKey: .gru)
        case .rotationEquivariant2d(let c, let g):
            try c.encode(to: encoder)
            try container.encodeIfPresent(g, forKey: .gru)
        }
    }
}

/// The settings of per-mouse ``HierarchicalGaussianReadout``s (Dynamic-V1FM's readout).
public struct HierarchicalReadoutConfiguration: Codable, Sendable, Equatable {
    /// Covariance type.
    public var covariance: GaussianCovariance
    /// Initial spread: `sigma` starts U(-initSigma, initSigma) (Dynamic-V1FM: 0.2).
    public var initSigma: Float
    /// Per-neuron bias.
    public var bias: Bool
    /// L1 weight on the features.
    public var featureRegularization: Float
    /// Network predicting positions from cortical coordinates (Dynamic-V1FM: 2 → 32 → 2, tanh).
    public var positionNetwork: PositionNetworkConfiguration
    /// Coarse factors that own parameters.
    public var levels: [Int]
    /// Coarse factors fused with the full level (nil: all).
    public var activeLevels: [Int]?
    /// How the levels are combined.
    public var fusion: HierarchicalGaussianReadout.Fusion

    /// Dynamic-V1FM's settings by default.
    public init(covariance: GaussianCovariance = .full, initSigma: Float = 0.2, bias: Bool = true,
                featureRegularization: Float = 0,
                positionNetwork: PositionNetworkConfiguration = .init(hiddenFeatures: 32),
                levels: [Int] = [2, 4, 8, 16], activeLevels: [Int]? = nil,
                fusion: HierarchicalGaussianReadout.Fusion = .mean) {
        self.covariance = covariance
        self.initSigma = initSigma
        self.bias = bias
        self.featureRegularization = featureRegularization
        self.positionNetwork = positionNetwork
        self.levels = levels
        self.activeLevels = activeLevels
        self.fusion = fusion
    }
}

/// The settings of per-mouse ``GroupedConvReadout``s (DwiseNeuro's readout).
public struct GroupedConvReadoutConfiguration: Codable, Sendable, Equatable {
    /// Convolution groups.
    public var groups: Int
    /// Channel-dropout probability in training.
    public var dropout: Float
    /// β of the softplus gate (nil: linear outputs, then the model's output nonlinearity applies).
    public var softplusBeta: Float?
    /// Whether β is trained.
    public var learnableBeta: Bool

    /// DwiseNeuro's settings by default (2 groups, dropout 0.4, softplus β 0.07).
    public init(groups: Int = 2, dropout: Float = 0.4, softplusBeta: Float? = 0.07, learnableBeta: Bool = false) {
        self.groups = groups
        self.dropout = dropout
        self.softplusBeta = softplusBeta
        self.learnableBeta = learnableBeta
    }
}

/// The built-in per-mouse readouts a ``VideoModelConfiguration`` can name.
///
/// JSON: the readout's configuration fields next to `"type"` (`gaussian`, `factorized`,
/// `hierarchical`, `groupedConv`).
public enum ReadoutConfiguration: Sendable, Equatable {
    /// ``FullGaussian2d`` per mouse (the baselines' readout).
    case gaussian(GaussianReadoutConfiguration)
    /// ``FullFactorized2d`` per mouse (the starter kit's `factorised` readout; takes no shift).
    case factorized(FullFactorized2d.Configuration)
    /// ``HierarchicalGaussianReadout`` per mouse.
    case hierarchical(HierarchicalReadoutConfiguration)
    /// ``GroupedConvReadout`` per mouse.
    case groupedConv(GroupedConvReadoutConfiguration)

    /// The `"type"` names.
    public static let typeNames = ["gaussian", "factorized", "hierarchical", "groupedConv"]

    /// The `"type"` name of this readout.
    public var typeName: String {
        switch self {
        case .gaussian: return "gaussian"
        case .factorized: return "factorized"
        case .hierarchical: return "hierarchical"
        case .groupedConv: return "groupedConv"
        }
    }

    /// The default configuration of a readout type (nil for an unknown name).
    public static func defaults(type: String) -> ReadoutConfiguration? {
        switch type {
        case "gaussian": return .gaussian(.init())
        case "factorized": return .factorized(.init())
        case "hierarchical": return .hierarchical(.init())
        case "groupedConv": return .groupedConv(.init())
        default: return nil
        }
    }
}

extension ReadoutConfiguration: Codable {
    private enum TypeKey: String, CodingKey { case type }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: TypeKey.self)
        let type = try container.decode(String.self, forKey: .type)
        switch type {
        case "gaussian": self = .gaussian(try GaussianReadoutConfiguration(from: decoder))
        case "factorized": self = .factorized(try FullFactorized2d.Configuration(from: decoder))
        case "hierarchical": self = .hierarchical(try HierarchicalReadoutConfiguration(from: decoder))
        case "groupedConv": self = .groupedConv(try GroupedConvReadoutConfiguration(from: decoder))
        default:
            throw DecodingError.dataCorruptedError(forKey: .type, in: container,
                                                   debugDescription: "unknown readout type '\(type)'; expected one of \(ReadoutConfiguration.typeNames.joined(separator: ", "))")
        }
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: TypeKey.self)
        try container.encode(typeName, forKey: .type)
        switch self {
        case .gaussian(let c): try c.encode(to: encoder)
        case .factorized(let c): try c.encode(to: encoder)
        case .hierarchical(let c): try c.encode(to: encoder)
        case .groupedConv(let c): try c.encode(to: encoder)
        }
    }
}

/// The shifter of every mouse: none, an MLP (the baselines), or a static affine map.
///
/// JSON: `{"type": "none"}`, `{"type": "mlp", "layers": 3, "hiddenChannels": 5}`,
/// `{"type": "staticAffine", "bias": true, "regularization": 0}`.
public enum ShifterConfiguration: Sendable, Equatable {
    /// No shifter: the readout grid does not follow the eye.
    case none
    /// ``MLPShifter`` (baseline: 3 layers, 5 hidden channels).
    case mlp(layers: Int, hiddenChannels: Int)
    /// ``StaticAffineShifter``.
    case staticAffine(bias: Bool, regularization: Float)

    /// The baselines' shifter.
    public static let baseline = ShifterConfiguration.mlp(layers: 3, hiddenChannels: 5)

    /// A new shifter (nil for `.none`).
    public func makeShifter(generator: RandomGenerator) -> (any Shifter)? {
        switch self {
        case .none: return nil
        case .mlp(let layers, let hidden): return MLPShifter(inputFeatures: 2, hiddenChannels: hidden, layers: layers, generator: generator)
        case .staticAffine(let bias, let r): return StaticAffineShifter(inputFeatures: 2, bias: bias, regularization: r, generator: generator)
        }
    }
}

extension ShifterConfiguration: Codable {
    private enum Keys: String, CodingKey { case type, layers, hiddenChannels, bias, regularization }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        let type = try c.decode(String.self, forKey: .type)
        switch type {
        case "none": self = .none
        case "mlp":
            self = .mlp(layers: try c.decodeIfPresent(Int.self, forKey: .layers) ?? 3,
                        hiddenChannels: try c.decodeIfPresent(Int.self, forKey: .hiddenChannels) ?? 5)
        case "staticAffine":
            self = .staticAffine(bias: try c.decodeIfPresent(Bool.self, forKey: .bias) ?? true,
                                 regularization: try c.decodeIfPresent(Float.self, forKey: .regularization) ?? 0)
        default:
            throw DecodingError.dataCorruptedError(forKey: .type, in: c, debugDescription: "unknown shifter type '\(type)'; expected none, mlp or staticAffine")
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: Keys.self)
        switch self {
        case .none:
            try c.encode("none", forKey: .type)
        case .mlp(let layers, let hidden):
            try c.encode("mlp", forKey: .type)
            try c.encode(layers, forKey: .layers)
            try c.encode(hidden, forKey: .hiddenChannels)
        case .staticAffine(let bias, let r):
            try c.encode("staticAffine", forKey: .type)
            try c.encode(bias, forKey: .bias)
            try c.encode(r, forKey: .regularization)
        }
    }
}

/// The output nonlinearity applied after readouts that do not apply their own.
///
/// JSON: `{"type": "eluPlusOne", "offset": 0}`, `{"type": "softplus", "beta": 0.07, "learnable": false}`,
/// `{"type": "exponential"}`, `{"type": "identity"}`.
public enum OutputNonlinearityConfiguration: Sendable, Equatable {
    /// `ELU(x + offset) + 1`, the baselines'.
    case eluPlusOne(offset: Float)
    /// Softplus with sharpness β, fixed or learned (key `output_nonlinearity.beta`).
    case softplus(beta: Float, learnable: Bool)
    /// `e^x`.
    case exponential
    /// No nonlinearity (linear outputs).
    case identity

    /// The baselines' `ELU + 1`.
    public static let baseline = OutputNonlinearityConfiguration.eluPlusOne(offset: 0)

    /// The input that this nonlinearity maps to `y` (the closest one when `y` is outside its
    /// range: outputs that must be positive are taken as at least 1e-4).
    public func inverse(_ y: Float) -> Float {
        switch self {
        case .eluPlusOne(let offset):
            // ELU(z) + 1 = y: z = y − 1 for y ≥ 1, log(y) below.
            let v = max(y, 1e-4)
            return (v >= 1 ? v - 1 : Foundation.log(v)) - offset
        case .softplus(let beta, _):
            // log(1 + e^{βx}) / β = y  ⇔  x = y + log(1 − e^{−βy}) / β.
            let v = max(y, 1e-4)
            return v + Foundation.log(-Foundation.expm1(-beta * v)) / beta
        case .exponential:
            return Foundation.log(max(y, 1e-4))
        case .identity:
            return y
        }
    }

    /// A new layer (nil for the identity).
    public func makeLayer() -> (any UnaryLayer)? {
        switch self {
        case .eluPlusOne(let offset): return ELUPlusOne(offset: offset)
        case .softplus(let beta, let learnable): return SoftplusOutput(beta: beta, learnable: learnable)
        case .exponential: return Exponential()
        case .identity: return nil
        }
    }
}

extension OutputNonlinearityConfiguration: Codable {
    private enum Keys: String, CodingKey { case type, offset, beta, learnable }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        let type = try c.decode(String.self, forKey: .type)
        switch type {
        case "eluPlusOne": self = .eluPlusOne(offset: try c.decodeIfPresent(Float.self, forKey: .offset) ?? 0)
        case "softplus":
            self = .softplus(beta: try c.decodeIfPresent(Float.self, forKey: .beta) ?? 1,
                             learnable: try c.decodeIfPresent(Bool.self, forKey: .learnable) ?? false)
        case "exponential": self = .exponential
        case "identity": self = .identity
        default:
            throw DecodingError.dataCorruptedError(forKey: .type, in: c, debugDescription: "unknown output nonlinearity '\(type)'; expected eluPlusOne, softplus, exponential or identity")
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: Keys.self)
        switch self {
        case .eluPlusOne(let offset):
            try c.encode("eluPlusOne", forKey: .type)
            try c.encode(offset, forKey: .offset)
        case .softplus(let beta, let learnable):
            try c.encode("softplus", forKey: .type)
            try c.encode(beta, forKey: .beta)
            try c.encode(learnable, forKey: .learnable)
        case .exponential: try c.encode("exponential", forKey: .type)
        case .identity: try c.encode("identity", forKey: .type)
        }
    }
}

/// Everything needed to build a ``VideoModel`` from mouse datasets: the built-in core, readout,
/// shifter and output nonlinearity, the seed of the initial weights, and how the readout biases are
/// initialised. `Codable`, so it is stored in checkpoints and read from the CLI's configuration file.
///
/// ```json
/// {"seed": 42,
///  "core": {"type": "factorized3d", "hiddenChannels": [16, 32], "spatialInputKernel": [7, 7]},
///  "readout": {"type": "gaussian"},
///  "shifter": {"type": "mlp", "layers": 3, "hiddenChannels": 5},
///  "outputNonlinearity": {"type": "eluPlusOne"}}
/// ```
/// With ``fromJSON(_:)`` / ``load(from:)`` every key is optional: missing keys keep the defaults of
/// the chosen types (the factorised baseline for everything unnamed).
public struct VideoModelConfiguration: Codable, Sendable, Equatable {
    /// Seed of the initial weights and of the model's random draws in training.
    public var seed: UInt64
    /// The core.
    public var core: CoreConfiguration
    /// The per-mouse readouts.
    public var readout: ReadoutConfiguration
    /// The per-mouse shifters.
    public var shifter: ShifterConfiguration
    /// The output nonlinearity (applied unless the readout applies its own).
    public var outputNonlinearity: OutputNonlinearityConfiguration
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
    /// reference's `x / std` (``MouseDataOptions/centerBehavior``); the datasets a model is built,
    /// trained and evaluated with are opened this way.
    public var centerBehavior: Bool
    /// Training epochs during which the behaviour input channels are hidden (multiplied by 0),
    /// so that the core first learns the stimulus; 0 (the reference) shows them from the start.
    /// With behaviour from the first step a short training settles on the behaviour-only solution
    /// (the slow gain modulation explains a tenth of the single-trial variance at once) and does
    /// not learn the stimulus within minutes; see `Documentation/GettingStarted.md`.
    public var behaviorWarmupEpochs: Int

    /// A configuration; the defaults are the SENSORIUM 2023 factorised baseline.
    public init(seed: UInt64 = 42, core: CoreConfiguration = .factorized3d(.init()),
                readout: ReadoutConfiguration = .gaussian(.init()), shifter: ShifterConfiguration = .baseline,
                outputNonlinearity: OutputNonlinearityConfiguration = .baseline, biasInitializationTrials: Int = 8,
                biasThroughInverseNonlinearity: Bool = false,
                readoutPositionInitialization: ReadoutPositionInitialization = .reference, centerBehavior: Bool = false,
                behaviorWarmupEpochs: Int = 0) {
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
    }

    private enum CodingKeys: String, CodingKey {
        case seed, core, readout, shifter, outputNonlinearity, biasInitializationTrials, biasThroughInverseNonlinearity
        case readoutPositionInitialization, centerBehavior, behaviorWarmupEpochs
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        seed = try c.decode(UInt64.self, forKey: .seed)
        core = try c.decode(CoreConfiguration.self, forKey: .core)
        readout = try c.decode(ReadoutConfiguration.self, forKey: .readout)
        shifter = try c.decode(ShifterConfiguration.self, forKey: .shifter)
        outputNonlinearity = try c.decode(OutputNonlinearityConfiguration.self, forKey: .outputNonlinearity)
        biasInitializationTrials = try c.decode(Int.self, forKey: .biasInitializationTrials)
        // Configurations saved before this option existed used the reference initialisation.
        biasThroughInverseNonlinearity = try c.decodeIfPresent(Bool.self, forKey: .biasThroughInverseNonlinearity) ?? false
        readoutPositionInitialization = try c.decodeIfPresent(ReadoutPositionInitialization.self,
                                                              forKey: .readoutPositionInitialization) ?? .reference
        centerBehavior = try c.decodeIfPresent(Bool.self, forKey: .centerBehavior) ?? false
        behaviorWarmupEpochs = try c.decodeIfPresent(Int.self, forKey: .behaviorWarmupEpochs) ?? 0
        if behaviorWarmupEpochs < 0 {
            throw DecodingError.dataCorruptedError(forKey: .behaviorWarmupEpochs, in: c, debugDescription: "behaviorWarmupEpochs must be non-negative, got \(behaviorWarmupEpochs)")
        }
    }

    /// The factorised baseline of SENSORIUM 2023: ``Factorized3dCore`` (32/64/128 channels),
    /// ``FullGaussian2d`` with positions from cortical coordinates, MLP shifter, `ELU + 1`.
    public static var factorizedBaseline: VideoModelConfiguration { VideoModelConfiguration() }

    /// The official GRU benchmark: ``RotationEquivariant2dCore`` (8 × 8 rotations) + ConvGRU (k = 9),
    /// Gaussian readouts, MLP shifter, `ELU + 1`.
    public static var gruBaseline: VideoModelConfiguration {
        VideoModelConfiguration(core: CoreConfiguration.defaults(type: "rotationEquivariant2d")!)
    }

    /// The starter kit's first GRU baseline: ``Stacked2dCore`` (64 channels) + ConvGRU (k = 7).
    public static var stacked2dGRU: VideoModelConfiguration {
        VideoModelConfiguration(core: CoreConfiguration.defaults(type: "stacked2d")!)
    }

    /// The configuration as JSON (sorted keys, pretty-printed).
    public func jsonString() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        guard let data = try? encoder.encode(self) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }

    /// Reads a configuration from JSON in which every key is optional: missing keys take the
    /// defaults of the types named (the factorised baseline's for sections without a `"type"`).
    public static func fromJSON(_ json: String, source: String = "(JSON text)") throws -> VideoModelConfiguration {
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: Data(json.utf8))
        } catch {
            throw VideoModelError.invalidConfiguration(source: source, message: "not valid JSON: \(error.localizedDescription)")
        }
        guard let user = object as? [String: Any] else {
            throw VideoModelError.invalidConfiguration(source: source, message: "expected a JSON object at the top level")
        }
        var base = VideoModelConfiguration()
        func typeName(_ section: String) throws -> String? {
            guard let value = user[section] else { return nil }
            guard let dict = value as? [String: Any] else {
                throw VideoModelError.invalidConfiguration(source: source, message: "'\(section)' must be an object with a \"type\"")
            }
            guard let type = dict["type"] else { return nil }
            guard let name = type as? String else {
                throw VideoModelError.invalidConfiguration(source: source, message: "'\(section).type' must be a string")
            }
            return name
        }
        if let t = try typeName("core") {
            guard let c = CoreConfiguration.defaults(type: t) else {
                throw VideoModelError.invalidConfiguration(source: source, message: "unknown core type '\(t)'; expected one of \(CoreConfiguration.typeNames.joined(separator: ", "))")
            }
            base.core = c
        }
        if let t = try typeName("readout") {
            guard let r = ReadoutConfiguration.defaults(type: t) else {
                throw VideoModelError.invalidConfiguration(source: source, message: "unknown readout type '\(t)'; expected one of \(ReadoutConfiguration.typeNames.joined(separator: ", "))")
            }
            base.readout = r
        }
        let encoded = try JSONSerialization.jsonObject(with: JSONEncoder().encode(base))
        let merged = mergeJSON(encoded, user)
        do {
            let data = try JSONSerialization.data(withJSONObject: merged)
            return try JSONDecoder().decode(VideoModelConfiguration.self, from: data)
        } catch let error as DecodingError {
            throw VideoModelError.invalidConfiguration(source: source, message: describe(error))
        }
    }

    /// Reads a configuration file (see ``fromJSON(_:source:)``).
    public static func load(from url: URL) throws -> VideoModelConfiguration {
        let text: String
        do {
            text = try String(contentsOf: url, encoding: .utf8)
        } catch {
            throw VideoModelError.invalidConfiguration(source: url.path, message: "cannot read the file: \(error.localizedDescription)")
        }
        return try fromJSON(text, source: url.path)
    }
}

/// Overlays `user` on `base`: objects merge key by key; any other value replaces. An object with
/// a single key that differs from the single key of the base (an enum case such as
/// `{"relu": {}}` over `{"elu": {}}`) replaces it.
func mergeJSON(_ base: Any, _ user: Any) -> Any {
    guard let b = base as? [String: Any], let u = user as? [String: Any] else { return user }
    if b.count == 1, u.count == 1, b.keys.first != u.keys.first { return u }
    var out = b
    for (key, value) in u {
        out[key] = b[key].map { mergeJSON($0, value) } ?? value
    }
    return out
}

/// A readable message for a decoding error: the key path and what went wrong.
func describe(_ error: DecodingError) -> String {
    func path(_ keys: [CodingKey]) -> String {
        keys.isEmpty ? "the top level" : keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
    }
    switch error {
    case .typeMismatch(let type, let context):
        return "\(path(context.codingPath)): expected \(type). \(context.debugDescription)"
    case .valueNotFound(let type, let context):
        return "\(path(context.codingPath)): missing \(type). \(context.debugDescription)"
    case .keyNotFound(let key, let context):
        return "\(path(context.codingPath + [key])): missing key"
    case .dataCorrupted(let context):
        return "\(path(context.codingPath)): \(context.debugDescription)"
    @unknown default:
        return "\(error)"
    }
}
