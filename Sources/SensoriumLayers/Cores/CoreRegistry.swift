import SensoriumTensor

/// The configuration of a video core, by which a model configuration names it.
///
/// Conform your core's `Configuration` and register it once; it then builds, saves, loads and
/// runs from the CLI like a built-in core:
/// ```swift
/// extension MyCore.Configuration: CoreConfiguration {
///     static var typeName: String { "myCore" }
///     static var defaults: Self { Self() }
///     func makeCore(generator: RandomGenerator) throws -> any Core { MyCore(self, generator: generator) }
/// }
/// CoreKind.registry.register(MyCore.Configuration.self)
/// ```
public protocol CoreConfiguration: ComponentConfiguration {
    /// Number of input (video) channels the core reads.
    var inputChannels: Int { get set }
    /// Builds the core with fresh weights drawn from `generator`; throws when the options cannot
    /// make a core.
    func makeCore(generator: RandomGenerator) throws -> any Core
}

/// The family of video cores. Built-in: `factorized3d` (``Factorized3dCore``), `basic3d`
/// (``Basic3dCore``), `stacked2d` (``Stacked2dCore`` frame by frame, optional ConvGRU) and
/// `rotationEquivariant2d` (``RotationEquivariant2dCore`` frame by frame, optional ConvGRU) and
/// `dwiseneuro` (``DwiseNeuroCore``, the winning system's core), `swin` (``SwinCore``, Dynamic-V1FM's,
/// reads behaviour) and `vivit` (``ViViTCore``, ViV1T's).
public enum CoreKind: ComponentKind {
    public typealias Base = any CoreConfiguration
    public static let name = "core"
    public static let registry = ComponentRegistry<CoreKind>(builtIns: [
        Factorized3dCore.Configuration.self, Basic3dCore.Configuration.self,
        FrameWiseCoreConfiguration<Stacked2dCore.Configuration>.self,
        FrameWiseCoreConfiguration<RotationEquivariant2dCore.Configuration>.self,
        DwiseNeuroCore.Configuration.self,
        SwinCore.Configuration.self, ViViTCore.Configuration.self,
    ])
}

/// A core configuration of any registered type.
public typealias AnyCoreConfiguration = Configured<CoreKind>

extension Configured where Kind == CoreKind {
    /// Number of input channels the core reads.
    public var inputChannels: Int { base.inputChannels }

    /// This configuration with another number of input channels.
    public func withInputChannels(_ channels: Int) -> Configured {
        var c = base
        c.inputChannels = channels
        return Configured(uncheckedConfiguration: c)
    }

    /// Builds the core.
    public func makeCore(generator: RandomGenerator) throws -> any Core { try base.makeCore(generator: generator) }
}

// MARK: - Frame-wise cores

/// The configuration of a 2-D (frame) core, which a video model applies frame by frame
/// (``FrameWiseCoreConfiguration``).
public protocol FrameCoreConfiguration: Codable, Sendable, Equatable {
    /// The `"type"` of the frame-wise video core in JSON.
    static var typeName: String { get }
    /// The ConvGRU that follows this frame core by default (nil: none).
    static var defaultGRU: ConvGRUConfiguration? { get }
    /// The defaults.
    init()
    /// Number of input channels.
    var inputChannels: Int { get set }
    /// Builds the frame core.
    func makeFrameCore(generator: RandomGenerator) throws -> any FrameCore
}

/// A video core made of a 2-D core applied to every frame, then optionally a ConvGRU over time
/// (``FrameWiseCore``), the GRU baselines' core. JSON: the frame core's keys next to `"type"`
/// and an optional `"gru"` object (`null` for none).
public struct FrameWiseCoreConfiguration<Frame: FrameCoreConfiguration>: CoreConfiguration, Equatable {
    public static var typeName: String { Frame.typeName }
    /// The frame core.
    public var frame: Frame
    /// The ConvGRU over time, or nil.
    public var gru: ConvGRUConfiguration?

    /// The frame core's defaults and its default GRU.
    public init() {
        frame = Frame()
        gru = Frame.defaultGRU
    }

    public static var defaults: Self { Self() }

    public init(frame: Frame, gru: ConvGRUConfiguration?) {
        self.frame = frame
        self.gru = gru
    }

    public var inputChannels: Int {
        get { frame.inputChannels }
        set { frame.inputChannels = newValue }
    }

    public func makeCore(generator: RandomGenerator) throws -> any Core {
        let core = try frame.makeFrameCore(generator: generator)
        try gru?.check(type: Self.typeName)
        if let gru, core.outputChannels % gru.groups != 0 {
            throw ComponentError.invalid(kind: CoreKind.name, type: Self.typeName,
                                         message: "gru.groups (\(gru.groups)) must divide the frame core's \(core.outputChannels) output channels")
        }
        let module = gru.map {
            ConvGRU(inputChannels: core.outputChannels, recChannels: $0.recChannels, inputKern: $0.inputKern,
                    recKern: $0.recKern, groups: $0.groups, padInput: $0.padInput, generator: generator)
        }
        return FrameWiseCore(core: core, gru: module)
    }

    private enum Keys: String, CodingKey { case gru }

    public init(from decoder: Decoder) throws {
        frame = try Frame(from: decoder)
        gru = try decoder.container(keyedBy: Keys.self).decodeIfPresent(ConvGRUConfiguration.self, forKey: .gru)
    }

    public func encode(to encoder: Encoder) throws {
        try frame.encode(to: encoder)
        var container = encoder.container(keyedBy: Keys.self)
        if let gru { try container.encode(gru, forKey: .gru) } else { try container.encodeNil(forKey: .gru) }
    }
}

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

// MARK: - Built-in registrations

extension Factorized3dCore.Configuration: CoreConfiguration {
    public static var typeName: String { "factorized3d" }
    public static var defaults: Self { Self() }
    public func makeCore(generator: RandomGenerator) throws -> any Core {
        try check()
        return Factorized3dCore(self, generator: generator)
    }
}

extension Basic3dCore.Configuration: CoreConfiguration {
    public static var typeName: String { "basic3d" }
    public static var defaults: Self { Self() }
    public func makeCore(generator: RandomGenerator) throws -> any Core {
        try check()
        return Basic3dCore(self, generator: generator)
    }
}

extension DwiseNeuroCore.Configuration: CoreConfiguration {
    public static var typeName: String { "dwiseneuro" }
    public static var defaults: Self { Self() }
    public var inputChannels: Int {
        get { inChannels }
        set { inChannels = newValue }
    }
    public func makeCore(generator: RandomGenerator) throws -> any Core {
        try check()
        return DwiseNeuroCore(configuration: self, generator: generator)
    }
}

extension Stacked2dCore.Configuration: FrameCoreConfiguration {
    public static var typeName: String { "stacked2d" }
    /// The starter kit's first GRU baseline: 64 channels, kernels 7.
    public static var defaultGRU: ConvGRUConfiguration? { ConvGRUConfiguration(recChannels: 64, inputKern: 7, recKern: 7) }
    public func makeFrameCore(generator: RandomGenerator) throws -> any FrameCore {
        try check()
        return Stacked2dCore(self, generator: generator)
    }
}

extension RotationEquivariant2dCore.Configuration: FrameCoreConfiguration {
    public static var typeName: String { "rotationEquivariant2d" }
    /// The official GRU benchmark: 64 channels, kernels 9.
    public static var defaultGRU: ConvGRUConfiguration? { ConvGRUConfiguration() }
    public func makeFrameCore(generator: RandomGenerator) throws -> any FrameCore {
        try check()
        return RotationEquivariant2dCore(self, generator: generator)
    }
}

/// ``Stacked2dCore`` frame by frame (+ ConvGRU): the `stacked2d` video core.
public typealias Stacked2dVideoCoreConfiguration = FrameWiseCoreConfiguration<Stacked2dCore.Configuration>
/// ``RotationEquivariant2dCore`` frame by frame (+ ConvGRU): the `rotationEquivariant2d` video core.
public typealias RotationEquivariant2dVideoCoreConfiguration = FrameWiseCoreConfiguration<RotationEquivariant2dCore.Configuration>

extension Configured where Kind == CoreKind {
    /// A ``Factorized3dCore``.
    public static func factorized3d(_ c: Factorized3dCore.Configuration = .init()) -> Configured { Configured(c) }
    /// A ``Basic3dCore``.
    public static func basic3d(_ c: Basic3dCore.Configuration = .init()) -> Configured { Configured(c) }
    /// A ``Stacked2dCore`` frame by frame, then the ConvGRU `gru` (nil: none).
    public static func stacked2d(_ c: Stacked2dCore.Configuration = .init(),
                                 gru: ConvGRUConfiguration? = Stacked2dCore.Configuration.defaultGRU) -> Configured {
        Configured(Stacked2dVideoCoreConfiguration(frame: c, gru: gru))
    }
    /// A ``RotationEquivariant2dCore`` frame by frame, then the ConvGRU `gru` (nil: none).
    public static func rotationEquivariant2d(_ c: RotationEquivariant2dCore.Configuration = .init(),
                                             gru: ConvGRUConfiguration? = RotationEquivariant2dCore.Configuration.defaultGRU) -> Configured {
        Configured(RotationEquivariant2dVideoCoreConfiguration(frame: c, gru: gru))
    }
}
