import SensoriumTensor
import SensoriumLayers

/// Drops whole channels: in training mode each (sample, channel) is zeroed with probability `p`
/// across all remaining axes and the kept ones are scaled by `1 / (1 − p)`; the identity in
/// evaluation mode (PyTorch's `Dropout1d` / `Dropout2d` / `Dropout3d`).
public final class ChannelDropout: Module, UnaryLayer {
    /// Drop probability.
    public var p: Float
    /// The source of the masks.
    @Transient public var generator: RandomGenerator

    /// Channel dropout with probability `p` in [0, 1].
    public init(p: Float, generator: RandomGenerator) {
        precondition(p >= 0 && p <= 1, "ChannelDropout: p must be in [0, 1], got \(p)")
        self.p = p
        self.generator = generator
        super.init()
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        guard isTraining, p > 0 else { return x }
        precondition(x.rank >= 2, "ChannelDropout: expected (N, C, …), got \(x.shape)")
        let keep = 1 - p
        let mask = Tensor.randomBernoulli([x.shape[0], x.shape[1]] + [Int](repeating: 1, count: x.rank - 2),
                                          p: keep, generator: generator)
        return x * (keep > 0 ? mask / keep : mask)
    }

    override public var extraDescription: String { "p: \(p)" }
}

/// BatchNorm followed by an optional activation, keyed `bn` and `act` (DwiseNeuro's `BatchNormAct`).
public final class BatchNormActivation: Module, UnaryLayer {
    /// The normalisation (`bn`).
    public let bn: BatchNorm
    /// The activation (`act`), or nil.
    public let act: (any UnaryLayer)?

    /// Wraps `bn` and `act`.
    public init(_ bn: BatchNorm, activation: (any UnaryLayer)?) {
        self.bn = bn
        self.act = activation
        super.init()
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        let y = bn(x)
        return act.map { $0(y) } ?? y
    }
}

/// One layer of DwiseNeuro's cortex: a grouped 1 × 1 convolution (no bias) → BatchNorm → SiLU →
/// channel shuffle across the groups → DropPath, plus a shortcut that tiles the input channels up
/// to the output width and normalises them. Works on (N, C, L). Keys `conv`, `bn.bn`, `bn_sc.bn`.
public final class ShuffleLayer: Module, UnaryLayer {
    /// The grouped pointwise convolution.
    public let conv: Conv1d
    /// BatchNorm + SiLU after the convolution.
    public let bn: BatchNormActivation
    /// Stochastic depth on the main path.
    public let dropPath: DropPath
    /// BatchNorm of the tiled shortcut.
    public let bnShortcut: BatchNormActivation
    /// Number of convolution groups (and of shuffle groups).
    public let groups: Int

    override public class var keyOverrides: [String: String] { ["dropPath": "drop_path", "bnShortcut": "bn_sc"] }

    /// A layer from `inFeatures` to `outFeatures` channels.
    public init(inFeatures: Int, outFeatures: Int, groups: Int = 2, dropPathRate: Float = 0,
                activation: any UnaryLayer = SiLU(), generator: RandomGenerator) {
        precondition(inFeatures % groups == 0 && outFeatures % groups == 0,
                     "ShuffleLayer: \(inFeatures) -> \(outFeatures) channels must be divisible by groups \(groups)")
        conv = Conv1d(inFeatures, outFeatures, kernelSize: 1, groups: groups, bias: false, generator: generator)
        bn = BatchNormActivation(BatchNorm1d(outFeatures), activation: activation)
        dropPath = DropPath(p: dropPathRate, generator: generator)
        bnShortcut = BatchNormActivation(BatchNorm1d(outFeatures), activation: nil)
        self.groups = groups
        super.init()
    }

    /// Interleaves the channel groups: (N, g·c, L) viewed as (N, g, c, L), axes 1 and 2 swapped.
    public func shuffleChannels(_ x: Tensor) -> Tensor {
        guard groups > 1 else { return x }
        let n = x.shape[0], c = x.shape[1], l = x.shape[2]
        return x.reshaped([n, groups, c / groups, l]).transposed(1, 2).reshaped([n, c, l])
    }

    /// The input channels repeated up to the output width (PyTorch `tile`, then cut), normalised.
    public func tiledShortcut(_ x: Tensor) -> Tensor {
        let input = x.shape[1], output = conv.outChannels
        var s = x
        if input != output {
            let copies = (output + input - 1) / input
            s = Tensor.concatenate([Tensor](repeating: x, count: copies), axis: 1)
            if s.shape[1] != output { s = s.sliced(axis: 1, range: 0..<output) }
        }
        return bnShortcut(s)
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        precondition(x.rank == 3 && x.shape[1] == conv.inChannels,
                     "ShuffleLayer: expected (N, \(conv.inChannels), L), got \(x.shape)")
        return dropPath(shuffleChannels(bn(conv(x)))) + tiledShortcut(x)
    }

    override public var extraDescription: String { "\(conv.inChannels) -> \(conv.outChannels), groups: \(groups)" }
}

/// DwiseNeuro's "cortex" (1st place, SENSORIUM 2023): a stack of ``ShuffleLayer``s, a per-position
/// MLP over channels with grouped 1 × 1 convolutions, channel shuffles and tiled shortcuts, shared
/// by all mice and placed between the core and the readouts.
///
/// It takes core features (N, C, T, H, W) and returns (N, C', T, H', W'): with `poolSpatially`
/// (DwiseNeuro's arrangement) the spatial axes are averaged first, so H' = W' = 1 and a
/// ``GroupedConvReadout`` follows; without it every pixel goes through the MLP, and any readout
/// (a ``FullGaussian2d`` too) can sit behind it. (N, C, L) inputs are accepted as well.
/// Keys: `layers.<i>.conv.weight`, `layers.<i>.bn.bn.*`, `layers.<i>.bn_sc.bn.*`.
public final class Cortex: Module, UnaryLayer {
    /// The shuffle layers, keyed `0`, `1`, ….
    public let layers: Sequential
    /// Whether (N, C, T, H, W) inputs are averaged over H and W first.
    public let poolSpatially: Bool
    /// Input channels.
    public let inputChannels: Int
    /// Output channels.
    public let outputChannels: Int

    /// A cortex from `inputChannels` through `features` (DwiseNeuro: 256 → 1024, 2048, 4096 with
    /// groups 2 and drop-path 0.1).
    public init(inputChannels: Int, features: [Int], groups: Int = 2, dropPathRate: Float = 0,
                poolSpatially: Bool = true, generator: RandomGenerator) {
        precondition(!features.isEmpty, "Cortex: features must not be empty")
        var stack: [any UnaryLayer] = []
        var previous = inputChannels
        for width in features {
            stack.append(ShuffleLayer(inFeatures: previous, outFeatures: width, groups: groups,
                                      dropPathRate: dropPathRate, generator: generator))
            previous = width
        }
        layers = Sequential(stack)
        self.poolSpatially = poolSpatially
        self.inputChannels = inputChannels
        self.outputChannels = previous
        super.init()
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
