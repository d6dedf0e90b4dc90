import SensoriumTensor

/// Squeeze-and-excitation: a per-sample, per-channel gate computed from the input's global mean
/// over all spatial (and temporal) axes, `x · σ(expand(act(reduce(mean(x)))))`.
///
/// `reduce` and `expand` are 1×…×1 convolutions with bias (keys `conv_reduce`, `conv_expand`, as in
/// timm), so weights have convolution shapes. Works on (N, C, L), (N, C, H, W) and (N, C, T, H, W)
/// inputs (`spatialRank` 1, 2, 3); for video the gate is one per clip, as in DwiseNeuro.
public final class SqueezeExcitation: Module, UnaryLayer {
    /// C → reduced channels.
    public let reduce: Convolution
    /// Reduced channels → C.
    public let expand: Convolution
    /// Nonlinearity between the two convolutions.
    public let activation: any UnaryLayer
    /// Number of spatial axes of the input.
    public let spatialRank: Int

    override public class var keyOverrides: [String: String] {
        ["reduce": "conv_reduce", "expand": "conv_expand", "activation": "act"]
    }

    /// A gate for `channels` channels through a bottleneck of `reducedChannels`.
    public init(channels: Int, reducedChannels: Int, spatialRank: Int = 2, activation: any UnaryLayer = ReLU(),
                generator: RandomGenerator) {
        precondition((1...3).contains(spatialRank), "SqueezeExcitation: spatialRank must be 1, 2 or 3, got \(spatialRank)")
        precondition(channels > 0 && reducedChannels > 0,
                     "SqueezeExcitation: channel counts must be positive, got \(channels) -> \(reducedChannels)")
        self.spatialRank = spatialRank
        reduce = Convolution(spatialRank: spatialRank, inChannels: channels, outChannels: reducedChannels, kernelSize: 1,
                             stride: 1, padding: 0, dilation: 1, groups: 1, bias: true, generator: generator)
        expand = Convolution(spatialRank: spatialRank, inChannels: reducedChannels, outChannels: channels, kernelSize: 1,
                             stride: 1, padding: 0, dilation: 1, groups: 1, bias: true, generator: generator)
        self.activation = activation
        super.init()
    }

    /// The gate, shape (N, C, 1, …, 1), values in (0, 1).
    public func gate(_ x: Tensor) -> Tensor {
        precondition(x.rank == spatialRank + 2 && x.shape[1] == reduce.inChannels,
                     "SqueezeExcitation: expected (N, \(reduce.inChannels), \(spatialRank) spatial axes), got shape \(x.shape)")
        let pooled = x.mean(axes: Array(2..<x.rank), keepDims: true)
        return expand(activation(reduce(pooled))).sigmoid()
    }

    public func callAsFunction(_ x: Tensor) -> Tensor { x * gate(x) }

    override public var extraDescription: String { "\(reduce.inChannels) -> \(reduce.outChannels)" }
}
