import SensoriumTensor
import SensoriumLayers

/// What a readout family needs to build one readout per mouse.
public struct ReadoutContext {
    /// Channels of the features the readouts read (the core's, or the stage's when there is one).
    public var inputChannels: Int
    /// The mice, in readout order.
    public var mice: [MouseNeurons]
    /// The feature-map shape `(C, H', W')` a mouse's readout receives (from its frame size; throws
    /// when the mouse has none or the core leaves no map).
    public var featureShape: (MouseNeurons) throws -> [Int]

    public init(inputChannels: Int, mice: [MouseNeurons], featureShape: @escaping (MouseNeurons) throws -> [Int]) {
        self.inputChannels = inputChannels
        self.mice = mice
        self.featureShape = featureShape
    }
}

/// The configuration of a per-mouse readout, by which a model configuration names it.
///
/// ```swift
/// extension MyReadout.Configuration: ReadoutConfiguration {
///     static var typeName: String { "myReadout" }
///     static var defaults: Self { Self() }
///     func makeReadouts(for context: ReadoutContext, generator: RandomGenerator) throws -> PerMouseReadouts { … }
/// }
/// ReadoutKind.registry.register(MyReadout.Configuration.self)
/// ```
public protocol ReadoutConfiguration: ComponentConfiguration {
    /// Whether the readouts use a shifter's grid shift (`false`: a model with this readout must
    /// have no shifter, rather than compute shifts nothing uses). `true` by default.
    var acceptsShift: Bool { get }
    /// One readout per mouse of `context`, fresh weights from `generator`.
    func makeReadouts(for context: ReadoutContext, generator: RandomGenerator) throws -> PerMouseReadouts
}

extension ReadoutConfiguration {
    public var acceptsShift: Bool { true }
}

/// The family of per-mouse readouts. Built-in: `gaussian` (``FullGaussian2d``), `factorized`
/// (``FullFactorized2d``), `hierarchical` (``HierarchicalGaussianReadout``) and `groupedConv`
/// (``GroupedConvReadout``).
public enum ReadoutKind: ComponentKind {
    public typealias Base = any ReadoutConfiguration
    public static let name = "readout"
    public static let registry = ComponentRegistry<ReadoutKind>(builtIns: [
        GaussianReadoutConfiguration.self, FullFactorized2d.Configuration.self,
        HierarchicalReadoutConfiguration.self, GroupedConvReadoutConfiguration.self,
    ])
}

/// A readout configuration of any registered type.
public typealias AnyReadoutConfiguration = Configured<ReadoutKind>

// MARK: - Built-in readouts

extension GaussianReadoutConfiguration: ReadoutConfiguration {
    public static var typeName: String { "gaussian" }
    public static var defaults: Self { Self() }

    public func makeReadouts(for context: ReadoutContext, generator: RandomGenerator) throws -> PerMouseReadouts {
        if shareGrid || shareFeatures {
            throw ComponentError.invalid(kind: ReadoutKind.name, type: Self.typeName,
                                         message: "sharing positions or features across mice needs match ids, which the mouse folders do not provide; set shareGrid and shareFeatures to false")
        }
        let mice = context.mice.map { m in
            MouseNeurons(key: m.key, count: m.count, coordinates: m.coordinates ?? Tensor.zeros([m.count, 3]),
                         matchIDs: m.matchIDs, frameSize: m.frameSize)
        }
        return .fullGaussian2d(inputChannels: context.inputChannels, mice: mice, configuration: self, generator: generator)
    }
}

extension FullFactorized2d.Configuration: ReadoutConfiguration {
    public static var typeName: String { "factorized" }
    public static var defaults: Self { Self() }
    /// The factorised readout has no grid: it takes no shift.
    public var acceptsShift: Bool { false }

    public func makeReadouts(for context: ReadoutContext, generator: RandomGenerator) throws -> PerMouseReadouts {
        let readouts = PerMouseReadouts()
        for m in context.mice {
            readouts.insert(FullFactorized2d(inputShape: try context.featureShape(m), neuronCount: m.count,
                                             configuration: self, generator: generator), for: m.key)
        }
        return readouts
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

extension HierarchicalReadoutConfiguration: ReadoutConfiguration {
    public static var typeName: String { "hierarchical" }
    public static var defaults: Self { Self() }

    public func makeReadouts(for context: ReadoutContext, generator: RandomGenerator) throws -> PerMouseReadouts {
        let readouts = PerMouseReadouts()
        for m in context.mice {
            guard Set(levels).count == levels.count, levels.allSatisfy({ $0 > 1 && m.count / $0 >= 1 }) else {
                throw ComponentError.invalid(kind: ReadoutKind.name, type: Self.typeName,
                                             message: "levels \(levels) must be distinct factors > 1 with at most \(m.count) (the neurons of \(m.key))")
            }
            if let active = activeLevels, let bad = active.first(where: { !levels.contains($0) }) {
                throw ComponentError.invalid(kind: ReadoutKind.name, type: Self.typeName,
                                             message: "active level \(bad) is not one of the levels \(levels)")
            }
            readouts.insert(HierarchicalGaussianReadout(
                inputChannels: context.inputChannels, neuronCount: m.count, covariance: covariance,
                positions: .cortex(coordinates: m.coordinates ?? Tensor.zeros([m.count, 3]), network: positionNetwork),
                initSigma: initSigma, bias: bias, featureRegularization: featureRegularization, levels: levels,
                activeLevels: activeLevels, fusion: fusion, generator: generator), for: m.key)
        }
        return readouts
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

extension GroupedConvReadoutConfiguration: ReadoutConfiguration {
    public static var typeName: String { "groupedConv" }
    public static var defaults: Self { Self() }
    /// The grouped-conv readout pools the whole map: it takes no shift.
    public var acceptsShift: Bool { false }

    public func makeReadouts(for context: ReadoutContext, generator: RandomGenerator) throws -> PerMouseReadouts {
        guard groups > 0, context.inputChannels % groups == 0 else {
            throw ComponentError.invalid(kind: ReadoutKind.name, type: Self.typeName,
                                         message: "the features' channels (\(context.inputChannels)) must be divisible by the groups (\(groups))")
        }
        let readouts = PerMouseReadouts()
        for m in context.mice {
            readouts.insert(GroupedConvReadout(inputChannels: context.inputChannels, neuronCount: m.count, groups: groups,
                                               dropout: dropout, softplusBeta: softplusBeta,
                                               learnableBeta: learnableBeta, generator: generator), for: m.key)
        }
        return readouts
    }
}

extension Configured where Kind == ReadoutKind {
    /// Per-mouse ``FullGaussian2d`` readouts.
    public static func gaussian(_ c: GaussianReadoutConfiguration = .init()) -> Configured { Configured(c) }
    /// Per-mouse ``FullFactorized2d`` readouts.
    public static func factorized(_ c: FullFactorized2d.Configuration = .init()) -> Configured { Configured(c) }
    /// Per-mouse ``HierarchicalGaussianReadout``s.
    public static func hierarchical(_ c: HierarchicalReadoutConfiguration = .init()) -> Configured { Configured(c) }
    /// Per-mouse ``GroupedConvReadout``s.
    public static func groupedConv(_ c: GroupedConvReadoutConfiguration = .init()) -> Configured { Configured(c) }
}
