import SensoriumTensor

/// DwiseNeuro's "cortex" (1st place, SENSORIUM 2023): a stack of ``ShuffleLayer``s, a per-position
/// MLP over channels with grouped 1 × 1 convolutions, channel shuffles and tiled shortcuts, shared
/// by all mice and placed between the core and the readouts.
///
/// It takes pooled core features (N, C, T) and returns (N, C', T); it also accepts core features
/// (N, C, T, H, W) and returns (N, C', T, H', W'): with `poolSpatially` (DwiseNeuro's arrangement)
/// the spatial axes are averaged first, so H' = W' = 1 and a grouped-convolution readout follows;
/// without it every pixel goes through the MLP, and any readout can sit behind it.
/// Keys: `layers.<i>.conv.weight`, `layers.<i>.bn.bn.*`, `layers.<i>.bn_sc.bn.*`.
public final class Cortex: Module, UnaryLayer {
    /// The settings of a ``Cortex``; the defaults are DwiseNeuro's paper configuration.
    public struct Configuration: Codable, Sendable, Equatable {
        /// Input channels (the core's output channels; DwiseNeuro 256).
        public var inputChannels: Int
        /// Output width of each shuffle layer (DwiseNeuro 1024, 2048, 4096).
        public var features: [Int]
        /// Convolution and shuffle groups (DwiseNeuro 2).
        public var groups: Int
        /// DropPath rate of every layer (DwiseNeuro 0.1).
        public var dropPathRate: Float
        /// Whether (N, C, T, H, W) inputs are averaged over H and W first.
        public var poolSpatially: Bool

        /// DwiseNeuro's defaults.
        public init(inputChannels: Int = 256, features: [Int] = [1024, 2048, 4096], groups: Int = 2,
                    dropPathRate: Float = 0.1, poolSpatially: Bool = true) {
            self.inputChannels = inputChannels
            self.features = features
            self.groups = groups
            self.dropPathRate = dropPathRate
            self.poolSpatially = poolSpatially
        }
    }

    /// The shuffle layers, keyed `0`, `1`, ….
    public let layers: Sequential
    /// Whether (N, C, T, H, W) inputs are averaged over H and W first.
    public let poolSpatially: Bool
    /// Input channels.
    public let inputChannels: Int
    /// Output channels.
    public let outputChannels: Int

    /// A cortex from `configuration.inputChannels` through `configuration.features` (DwiseNeuro:
    /// 256 → 1024, 2048, 4096 with groups 2 and drop-path 0.1), with DwiseNeuro's initialisation
    /// (``Module/applyDwiseNeuroInitialization(generator:)``).
    public init(configuration c: Configuration = .defaults, generator: RandomGenerator) {
        precondition(!c.features.isEmpty, "Cortex: features must not be empty")
        var stack: [any UnaryLayer] = []
        var previous = c.inputChannels
        for width in c.features {
            stack.append(ShuffleLayer(inFeatures: previous, outFeatures: width, groups: c.groups,
                                      dropPathRate: c.dropPathRate, generator: generator))
            previous = width
        }
        layers = Sequential(stack)
        self.poolSpatially = c.poolSpatially
        self.inputChannels = c.inputChannels
        self.outputChannels = previous
        super.init()
        applyDwiseNeuroInitialization(generator: generator)
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        precondition((x.rank == 3 || x.rank == 5) && x.shape[1] == inputChannels,
                     "Cortex: expected (N, \(inputChannels), T, H, W) or (N, \(inputChannels), L), got \(x.shape)")
        if x.rank == 3 { return layers(x) }
        let input = poolSpatially ? x.mean(axes: [3, 4], keepDims: true) : x
        let n = input.shape[0], t = input.shape[2], h = input.shape[3], w = input.shape[4]
        return layers(input.reshaped([n, inputChannels, t * h * w])).reshaped([n, outputChannels, t, h, w])
    }

    override public var extraDescription: String {
        "\(inputChannels) -> \(outputChannels), \(layers.count) layers\(poolSpatially ? ", pooled" : "")"
    }
}

// MARK: - The cortex as a core-to-readout stage

extension Cortex: Stage {
    /// The cortex on the core's features (averaged over space first with `poolSpatially`).
    public func callAsFunction(_ features: Tensor, input: ModelInput) -> Tensor { self(features) }

    public func outputShape(for inputShape: [Int]) -> [Int] {
        precondition(inputShape.count == 5, "Cortex: expected an input shape (N, C, T, H, W), got \(inputShape)")
        return [inputShape[0], outputChannels, inputShape[2], poolSpatially ? 1 : inputShape[3], poolSpatially ? 1 : inputShape[4]]
    }
}

extension Cortex.Configuration: StageConfiguration {
    public static var typeName: String { "cortex" }
    public static var defaults: Self { Self() }

    /// A cortex reading the core's `inputChannels` (which replace the configuration's).
    public func makeStage(inputChannels: Int, generator: RandomGenerator) throws -> any Stage {
        guard !features.isEmpty, groups > 0, inputChannels % groups == 0, features.allSatisfy({ $0 > 0 && $0 % groups == 0 }) else {
            throw ComponentError.invalid(kind: StageKind.name, type: Self.typeName,
                                         message: "features \(features) and the core's \(inputChannels) channels must be positive multiples of the groups (\(groups))")
        }
        var c = self
        c.inputChannels = inputChannels
        return Cortex(configuration: c, generator: generator)
    }
}
