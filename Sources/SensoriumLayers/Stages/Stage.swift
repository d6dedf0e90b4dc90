import SensoriumTensor

/// An optional stage between the core and the readouts (DwiseNeuro's "cortex"): maps the core's
/// features `(N, C, T', H', W')` to the features `(N, C'', T', H'', W'')` the readouts read.
public protocol Stage: Module {
    /// Channels of the output.
    var outputChannels: Int { get }
    /// The output shape for an input shape `(N, C, T', H', W')`.
    func outputShape(for inputShape: [Int]) -> [Int]
    /// The stage's output for core features and the model input they came from.
    func callAsFunction(_ features: Tensor, input: ModelInput) -> Tensor
    /// The stage's regularisation term (zero by default).
    func regularizer() -> Tensor
}

extension Stage {
    public func regularizer() -> Tensor { Tensor(scalar: 0) }
}

/// The configuration of a core-to-readout stage, by which a model configuration names it.
public protocol StageConfiguration: ComponentConfiguration {
    /// A new stage reading `inputChannels` core channels, fresh weights from `generator`.
    func makeStage(inputChannels: Int, generator: RandomGenerator) throws -> any Stage
}

/// The family of core-to-readout stages. Built-in: `cortex` (DwiseNeuro's ``Cortex``).
public enum StageKind: ComponentKind {
    public typealias Base = any StageConfiguration
    public static let name = "stage"
    public static let registry = ComponentRegistry<StageKind>(builtIns: [Cortex.Configuration.self])
}

/// A stage configuration of any registered type.
public typealias AnyStageConfiguration = Configured<StageKind>
