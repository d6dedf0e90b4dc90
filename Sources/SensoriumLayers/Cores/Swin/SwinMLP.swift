import SensoriumTensor

/// SwiGLU on the last axis: splits (…, 2m) into a value (the **first** half) and a gate (the second)
/// and returns `silu(gate) · value`, (…, m). No parameters.
public final class SwiGLU: Module, UnaryLayer {
    override public init() { super.init() }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        precondition(x.rank >= 1 && x.shape[x.rank - 1] % 2 == 0,
                     "SwiGLU: the last axis of \(x.shape) must have an even extent")
        let half = x.shape[x.rank - 1] / 2
        let parts = x.split(sizes: [half, half], axis: -1)
        return parts[1].silu() * parts[0]
    }
}

/// A depth-wise 3 × 3 × 3 convolution over (N, C, T, H, W) with "same" padding and a bias, under
/// the key `conv` (Dynamic-V1FM's `TiedBlockConv3d` with one block).
public final class DepthwiseConv3dBlock: Module, UnaryLayer {
    /// Conv3d(C, C, 3, padding 1, groups C).
    public let conv: Conv3d

    /// A depth-wise convolution over `channels` channels (PyTorch's default initialisation).
    public init(channels: Int, kernelSize: Int = 3, generator: RandomGenerator) {
        precondition(kernelSize > 0 && kernelSize % 2 == 1, "DepthwiseConv3dBlock: kernel size must be odd, got \(kernelSize)")
        conv = Conv3d(channels, channels, kernelSize: [kernelSize, kernelSize, kernelSize],
                      padding: .explicit([kernelSize / 2, kernelSize / 2, kernelSize / 2]),
                      groups: channels, generator: generator)
        super.init()
    }

    /// (N, C, T, H, W) → (N, C, T, H, W).
    public func callAsFunction(_ x: Tensor) -> Tensor { conv(x) }
}

/// The feed-forward part of a Dynamic-V1FM block on channels-last tokens:
/// `Linear(C, 2m)` → ``SwiGLU`` → depth-wise 3 × 3 × 3 Conv3d over (T, H, W) → GELU (erf) →
/// `Linear(m, C)` → dropout.
///
/// Keys: `linear1.0.*`, `dwconv.0.conv.*`, `linear2.0.*`.
public final class SwinMLP: Module, UnaryLayer {
    /// Options; the defaults are Dynamic-V1FM's (paper configuration).
    public struct Configuration: Codable, Equatable, Sendable {
        /// Token width C.
        public var embedDim: Int = 224
        /// Hidden width m (the first Linear maps to 2m).
        public var hiddenDim: Int = 488
        /// Dropout after the last Linear (training mode only).
        public var dropout: Float = 0

        public init(embedDim: Int = 224, hiddenDim: Int = 488, dropout: Float = 0) {
            self.embedDim = embedDim
            self.hiddenDim = hiddenDim
            self.dropout = dropout
        }
    }

    /// The options this block was built with.
    @Transient public private(set) var configuration: Configuration
    /// [Linear(C, 2m), SwiGLU].
    public let linear1: Sequential
    /// [DepthwiseConv3dBlock(m), GELU].
    public let dwconv: Sequential
    /// [Linear(m, C), Dropout].
    public let linear2: Sequential

    /// A new block: Linear weights truncated-normal (σ 0.02) with zero biases, the convolution with
    /// PyTorch's default initialisation, as in the reference.
    public init(configuration: Configuration, generator: RandomGenerator) {
        let c = configuration
        precondition(c.embedDim > 0 && c.hiddenDim > 0, "SwinMLP: widths must be positive, got \(c.embedDim), \(c.hiddenDim)")
        precondition(c.dropout >= 0 && c.dropout < 1, "SwinMLP: dropout must be in [0, 1), got \(c.dropout)")
        self.configuration = c
        let first = Linear(c.embedDim, 2 * c.hiddenDim, generator: generator)
        linear1 = Sequential(first, SwiGLU())
        dwconv = Sequential(DepthwiseConv3dBlock(channels: c.hiddenDim, generator: generator), GELU())
        let last = Linear(c.hiddenDim, c.embedDim, generator: generator)
        linear2 = Sequential(last, Dropout(p: c.dropout, generator: generator))
        super.init()
        for layer in [first, last] {
            layer.weight.initialize(with: .truncatedNormal(std: 0.02), generator: generator)
            layer.bias?.initialize(with: .zeros, generator: generator)
        }
    }

    /// x (B, T, H, W, C) → (B, T, H, W, C).
    public func callAsFunction(_ x: Tensor) -> Tensor {
        precondition(x.rank == 5 && x.shape[4] == configuration.embedDim,
                     "SwinMLP: expected x (B, T, H, W, \(configuration.embedDim)), got \(x.shape)")
        let hidden = linear1(x).permuted([0, 4, 1, 2, 3])
        return linear2(dwconv(hidden).permuted([0, 2, 3, 4, 1]))
    }

    override public var extraDescription: String { "\(configuration.embedDim) -> \(configuration.hiddenDim)" }
}
