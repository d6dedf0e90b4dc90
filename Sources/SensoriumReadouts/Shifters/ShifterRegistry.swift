import SensoriumTensor
import SensoriumLayers

/// The configuration of a per-mouse shifter, by which a model configuration names it.
public protocol ShifterConfiguration: ComponentConfiguration {
    /// A new shifter with fresh weights from `generator`.
    func makeShifter(generator: RandomGenerator) throws -> any Shifter
}

/// The family of shifters. Built-in: `mlp` (``MLPShifter``), `staticAffine`
/// (``StaticAffineShifter``) and `viv1t` (``ViV1TShifter``, the MLP with ViV1T's `reg_scale`
/// buffer). A model without a shifter writes `{"type": "none"}`.
public enum ShifterKind: ComponentKind {
    public typealias Base = any ShifterConfiguration
    public static let name = "shifter"
    public static let registry = ComponentRegistry<ShifterKind>(builtIns: [
        MLPShifter.Configuration.self, StaticAffineShifter.Configuration.self, ViV1TShifter.Configuration.self,
    ])
}

/// A shifter configuration of any registered type.
public typealias AnyShifterConfiguration = Configured<ShifterKind>

extension MLPShifter {
    /// The options of ``MLPShifter``; the defaults are the SENSORIUM 2023 baselines' (3 layers,
    /// 5 hidden channels, the pupil centre in).
    public struct Configuration: ShifterConfiguration, Equatable {
        public static var typeName: String { "mlp" }
        public static var defaults: Self { Self() }
        /// Number of Linear layers (at least 1).
        public var layers: Int = 3
        /// Width of the hidden layers.
        public var hiddenChannels: Int = 5
        /// Input features (2: the pupil centre).
        public var inputFeatures: Int = 2

        public init() {}

        public init(layers: Int, hiddenChannels: Int) {
            self.layers = layers
            self.hiddenChannels = hiddenChannels
        }

        public func makeShifter(generator: RandomGenerator) throws -> any Shifter {
            guard layers >= 1, hiddenChannels > 0, inputFeatures > 0 else {
                throw ComponentError.invalid(kind: ShifterKind.name, type: Self.typeName,
                                             message: "layers, hiddenChannels and inputFeatures must be positive, got \(layers), \(hiddenChannels), \(inputFeatures)")
            }
            try checkPupilInputFeatures(inputFeatures, type: Self.typeName)
            return MLPShifter(inputFeatures: inputFeatures, hiddenChannels: hiddenChannels, layers: layers, generator: generator)
        }
    }
}

extension StaticAffineShifter {
    /// The options of ``StaticAffineShifter`` (neuralpredictors' `StaticAffine2dShifter`).
    public struct Configuration: ShifterConfiguration, Equatable {
        public static var typeName: String { "staticAffine" }
        public static var defaults: Self { Self() }
        /// Learn a bias (`bias`).
        public var bias: Bool = true
        /// Weight of the squared-weight penalty (`gamma_shifter`).
        public var regularization: Float = 0
        /// Input features (2: the pupil centre).
        public var inputFeatures: Int = 2

        public init() {}

        public init(bias: Bool, regularization: Float) {
            self.bias = bias
            self.regularization = regularization
        }

        public func makeShifter(generator: RandomGenerator) throws -> any Shifter {
            guard inputFeatures > 0 else {
                throw ComponentError.invalid(kind: ShifterKind.name, type: Self.typeName, message: "inputFeatures must be positive, got \(inputFeatures)")
            }
            try checkPupilInputFeatures(inputFeatures, type: Self.typeName)
            return StaticAffineShifter(inputFeatures: inputFeatures, bias: bias, regularization: regularization, generator: generator)
        }
    }
}

extension Configured where Kind == ShifterKind {
    /// The baselines' shifter: an MLP of 3 layers with 5 hidden channels.
    public static var baseline: Configured { Configured(MLPShifter.Configuration()) }
    /// An ``MLPShifter``.
    public static func mlp(layers: Int = 3, hiddenChannels: Int = 5) -> Configured {
        Configured(MLPShifter.Configuration(layers: layers, hiddenChannels: hiddenChannels))
    }
    /// A ``StaticAffineShifter``.
    public static func staticAffine(bias: Bool = true, regularization: Float = 0) -> Configured {
        Configured(StaticAffineShifter.Configuration(bias: bias, regularization: regularization))
    }
}

extension ViV1TShifter.Configuration: ShifterConfiguration {
    public static var typeName: String { "viv1t" }
    public static var defaults: Self { Self() }

    public func makeShifter(generator: RandomGenerator) throws -> any Shifter {
        guard inputFeatures > 0, hiddenFeatures > 0, layers > 0 else {
            throw ComponentError.invalid(kind: ShifterKind.name, type: Self.typeName,
                                         message: "inputFeatures, hiddenFeatures and layers must be positive, got \(inputFeatures), \(hiddenFeatures), \(layers)")
        }
        try checkPupilInputFeatures(inputFeatures, type: Self.typeName)
        return ViV1TShifter(configuration: self, generator: generator)
    }
}

/// Every built-in shifter reads the pupil centre (x, y) per frame, which is what a model feeds it:
/// any other `inputFeatures` would stop on a shape precondition at the first forward pass.
func checkPupilInputFeatures(_ inputFeatures: Int, type: String) throws {
    guard inputFeatures == 2 else {
        throw ComponentError.invalid(kind: ShifterKind.name, type: type,
                                     message: "inputFeatures must be 2 (the pupil centre's x and y, which the model feeds every shifter), got \(inputFeatures)")
    }
}
