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
/// (``FullFactorized2d``), `hierarchical` (``HierarchicalGaussianReadout``), `groupedConv`
/// (``GroupedConvReadout``) and `viv1tGaussian` (``ViV1TGaussianReadout``, reads behaviour).
public enum ReadoutKind: ComponentKind {
    public typealias Base = any ReadoutConfiguration
    public static let name = "readout"
    public static let registry = ComponentRegistry<ReadoutKind>(builtIns: [
        GaussianReadoutConfiguration.self, FullFactorized2d.Configuration.self,
        HierarchicalGaussianReadout.Configuration.self, GroupedConvReadout.Configuration.self,
        ViV1TGaussianReadout.Configuration.self,
    ])
}

/// A readout configuration of any registered type.
public typealias AnyReadoutConfiguration = Configured<ReadoutKind>

// MARK: - Built-in readouts

/// Throws an error naming the first option that fails, so that no readout initialiser's
/// precondition is reachable from a configuration file.
func requireReadoutOptions(_ type: String, _ checks: [(Bool, String)]) throws {
    if let failed = checks.first(where: { !$0.0 }) {
        throw ComponentError.invalid(kind: ReadoutKind.name, type: type, message: failed.1)
    }
}

extension PositionNetworkConfiguration {
    /// The options a position network needs, as readout checks.
    var checks: [(Bool, String)] {
        [(inputDimensions > 0, "positionNetwork.inputDimensions must be positive, got \(inputDimensions)"),
         (hiddenLayers >= 0, "positionNetwork.hiddenLayers must be 0 or more, got \(hiddenLayers)"),
         (hiddenFeatures > 0, "positionNetwork.hiddenFeatures must be positive, got \(hiddenFeatures)")]
    }
}

extension GaussianReadoutConfiguration: ReadoutConfiguration {
    public static var typeName: String { "gaussian" }
    public static var defaults: Self { Self() }

    public func makeReadouts(for context: ReadoutContext, generator: RandomGenerator) throws -> PerMouseReadouts {
        try requireReadoutOptions(Self.typeName, [
            (initSigma > 0 && initSigma.isFinite, "initSigma must be positive, got \(initSigma)"),
            (initMuRange > 0 && initMuRange <= 1, "initMuRange must be in (0, 1], got \(initMuRange)"),
            (featureRegularization.isFinite, "featureRegularization must be finite"),
        ] + (positionNetwork?.checks ?? []))
        if shareGrid || shareFeatures {
            throw ComponentError.invalid(kind: ReadoutKind.name, type: Self.typeName,
                                         message: "sharing positions or features across mice needs match ids, which the mouse folders do not provide; set shareGrid and shareFeatures to false")
        }
        let mice = context.mice.map { m in
            MouseNeurons(key: m.key, count: m.count, coordinates: m.coordinates ?? Tensor.zeros([m.count, 3]),
                         matchIDs: m.matchIDs, frameSize: m.frameSize)
        }
        try requireCoordinateColumns(Self.typeName, positionNetwork, mice)
        return .fullGaussian2d(inputChannels: context.inputChannels, mice: mice, configuration: self, generator: generator)
    }
}

extension FullFactorized2d.Configuration: ReadoutConfiguration {
    public static var typeName: String { "factorized" }
    public static var defaults: Self { Self() }
    /// The factorised readout has no grid: it takes no shift.
    public var acceptsShift: Bool { false }

    public func makeReadouts(for context: ReadoutContext, generator: RandomGenerator) throws -> PerMouseReadouts {
        try requireReadoutOptions(Self.typeName, [(initNoise >= 0 && initNoise.isFinite, "initNoise must be 0 or more, got \(initNoise)"),
                                                  (regularization.isFinite, "regularization must be finite")])
        let readouts = PerMouseReadouts()
        for m in context.mice {
            readouts.insert(FullFactorized2d(inputShape: try context.featureShape(m), neuronCount: m.count,
                                             configuration: self, generator: generator), for: m.key)
        }
        return readouts
    }
}

extension HierarchicalGaussianReadout.Configuration: ReadoutConfiguration {
    public static var typeName: String { "hierarchical" }
    public static var defaults: Self { Self() }

    public func makeReadouts(for context: ReadoutContext, generator: RandomGenerator) throws -> PerMouseReadouts {
        try requireReadoutOptions(Self.typeName, [(initSigma > 0 && initSigma.isFinite, "initSigma must be positive, got \(initSigma)")]
                                  + positionNetwork.checks)
        try requireCoordinateColumns(Self.typeName, positionNetwork, context.mice)
        guard !levels.isEmpty, !(activeLevels?.isEmpty ?? false) else {
            throw ComponentError.invalid(kind: ReadoutKind.name, type: Self.typeName,
                                         message: "levels and activeLevels must not be empty, got \(levels) and \(activeLevels.map { "\($0)" } ?? "null")")
        }
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
                inputChannels: context.inputChannels, neuronCount: m.count,
                positions: .cortex(coordinates: m.coordinates ?? Tensor.zeros([m.count, 3]), network: positionNetwork),
                configuration: self, generator: generator), for: m.key)
        }
        return readouts
    }
}

extension GroupedConvReadout.Configuration: ReadoutConfiguration {
    public static var typeName: String { "groupedConv" }
    public static var defaults: Self { Self() }
    /// The grouped-conv readout pools the whole map: it takes no shift.
    public var acceptsShift: Bool { false }

    public func makeReadouts(for context: ReadoutContext, generator: RandomGenerator) throws -> PerMouseReadouts {
        try requireReadoutOptions(Self.typeName, [
            (dropout >= 0 && dropout <= 1, "dropout must be in [0, 1], got \(dropout)"),
            (softplusBeta.map { $0 > 0 && $0.isFinite } ?? true, "softplusBeta must be positive (or null for linear outputs), got \(softplusBeta.map { "\($0)" } ?? "null")"),
        ])
        guard groups > 0, context.inputChannels % groups == 0 else {
            throw ComponentError.invalid(kind: ReadoutKind.name, type: Self.typeName,
                                         message: "the features' channels (\(context.inputChannels)) must be divisible by the groups (\(groups))")
        }
        let readouts = PerMouseReadouts()
        for m in context.mice {
            readouts.insert(GroupedConvReadout(inputChannels: context.inputChannels, neuronCount: m.count,
                                               configuration: self, generator: generator), for: m.key)
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
    public static func hierarchical(_ c: HierarchicalGaussianReadout.Configuration = .defaults) -> Configured { Configured(c) }
    /// Per-mouse ``GroupedConvReadout``s.
    public static func groupedConv(_ c: GroupedConvReadout.Configuration = .defaults) -> Configured { Configured(c) }
    /// Per-mouse ``ViV1TGaussianReadout``s (ViV1T's, with the behaviour state vector).
    public static func viv1tGaussian(_ c: ViV1TGaussianReadout.Configuration = .defaults) -> Configured { Configured(c) }
}

/// A position network reads the first `inputDimensions` columns of each mouse's cortical
/// coordinates (zeros of 3 columns when a mouse has none): more than a mouse has is an error
/// naming the option, not a precondition when the readout is built.
func requireCoordinateColumns(_ type: String, _ network: PositionNetworkConfiguration?, _ mice: [MouseNeurons]) throws {
    guard let network else { return }
    for m in mice {
        let columns = m.coordinates.map { $0.rank == 2 ? $0.shape[1] : 0 } ?? 3
        guard columns >= network.inputDimensions else {
            throw ComponentError.invalid(kind: ReadoutKind.name, type: type,
                                         message: "positionNetwork.inputDimensions is \(network.inputDimensions), more than the \(columns) coordinate columns of mouse \(m.key)")
        }
    }
}
