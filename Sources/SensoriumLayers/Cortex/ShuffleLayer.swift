import SensoriumTensor

/// One layer of DwiseNeuro's cortex: a grouped 1 × 1 convolution (no bias) → BatchNorm → SiLU →
/// channel shuffle across the groups → DropPath, plus a shortcut that tiles the input channels up
/// to the output width and normalises them.
///
/// Input (N, C_in, L), output (N, C_out, L). Keys `conv.weight` (C_out, C_in / groups, 1),
/// `bn.bn.*`, `bn_sc.bn.*`.
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

    /// Interleaves the channel groups: (N, g·c, L) viewed as (N, g, c, L), axes 1 and 2 swapped,
    /// so new channel `g'·j + i` is old channel `i·c + j`.
    public func shuffleChannels(_ x: Tensor) -> Tensor {
        guard groups > 1 else { return x }
        let n = x.shape[0], c = x.shape[1], l = x.shape[2]
        return x.reshaped([n, groups, c / groups, l]).transposed(1, 2).reshaped([n, c, l])
    }

    /// The input channels repeated up to the output width (PyTorch `tile`, then cut), normalised.
    public func tiledShortcut(_ x: Tensor) -> Tensor {
        bnShortcut(x.tiledChannels(to: conv.outChannels))
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        precondition(x.rank == 3 && x.shape[1] == conv.inChannels,
                     "ShuffleLayer: expected (N, \(conv.inChannels), L), got \(x.shape)")
        return dropPath(shuffleChannels(bn(conv(x)))) + tiledShortcut(x)
    }

    override public var extraDescription: String { "\(conv.inChannels) -> \(conv.outChannels), groups: \(groups)" }
}
