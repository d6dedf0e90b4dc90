import SensoriumTensor

/// DwiseNeuro's inverted-residual block for video, (2+1)-D and depth-wise:
///
/// main path: pointwise expansion C_in → M = C_in·expansion (Conv3d 1×1×1, BatchNorm, SiLU) →
/// depth-wise spatial Conv3d (1, k_s, k_s), stride (1, s, s), padding (0, k_s/2, k_s/2) → BN, SiLU →
/// depth-wise temporal Conv3d (k_t, 1, 1), padding (k_t/2, 0, 0) → BN, SiLU →
/// squeeze-excitation over T·H·W (M → M / seReduceRatio → M, SiLU, sigmoid gate) →
/// pointwise projection M → C_out (Conv3d 1×1×1, BN, no activation) → DropPath;
///
/// shortcut (no weights besides its BatchNorm): nearest resize to (T, ⌈H/s⌉, ⌈W/s⌉) with
/// PyTorch's index rule when s > 1, channels tiled `[c₀ … c_{C_in−1}, c₀ …]` and cut to C_out when
/// they differ, then BatchNorm. Output = DropPath(main) + shortcut. Convolutions have no bias
/// (the squeeze-excitation's do).
///
/// Input (N, C_in, T, H, W); output (N, C_out, T, ⌈H/s⌉, ⌈W/s⌉) for odd k_s.
/// Keys: `conv_pw.0.weight`, `conv_pw.1.bn.*`, `spat_covn_dw.0.weight`, `spat_covn_dw.1.bn.*`,
/// `temp_covn_dw.0.weight`, `temp_covn_dw.1.bn.*`, `se.conv_reduce.*`, `se.conv_expand.*`,
/// `conv_pwl.0.weight`, `conv_pwl.1.bn.*`, `bn_sc.bn.*` (the reference's spellings).
public final class InvertedResidual3d: Module, UnaryLayer {
    /// Pointwise expansion: Conv3d 1×1×1 (`0`) and BatchNorm + SiLU (`1`).
    public let pointwiseExpansion: Sequential
    /// Depth-wise spatial convolution (`0`) and BatchNorm + SiLU (`1`).
    public let spatialDepthwise: Sequential
    /// Depth-wise temporal convolution (`0`) and BatchNorm + SiLU (`1`).
    public let temporalDepthwise: Sequential
    /// Squeeze-excitation over T, H and W.
    public let squeezeExcitation: SqueezeExcitation
    /// Pointwise projection: Conv3d 1×1×1 (`0`) and BatchNorm (`1`).
    public let pointwiseProjection: Sequential
    /// Stochastic depth on the main path.
    public let dropPath: DropPath
    /// BatchNorm of the shortcut.
    public let shortcutNorm: BatchNormActivation
    /// Input channels.
    public let inChannels: Int
    /// Output channels.
    public let outChannels: Int
    /// Spatial stride s.
    public let spatialStride: Int
    /// Recompute the block's activations in the backward pass instead of keeping them
    /// (``Module/recomputingInBackward(_:_:)``): the same results, gradients, running statistics
    /// and DropPath draws; only the block's input and output are kept between the passes (at
    /// 64 × 64 the expansion alone keeps seven activations of M channels), for one more forward
    /// pass of the block.
    public var gradientCheckpointing = false

    override public class var keyOverrides: [String: String] {
        ["pointwiseExpansion": "conv_pw", "spatialDepthwise": "spat_covn_dw", "temporalDepthwise": "temp_covn_dw",
         "squeezeExcitation": "se", "pointwiseProjection": "conv_pwl", "dropPath": "drop_path", "shortcutNorm": "bn_sc"]
    }

    /// A block from `inChannels` to `outChannels` with PyTorch's default initialisation.
    ///
    /// - Parameters:
    ///   - spatialKernel, temporalKernel: odd kernel sizes k_s, k_t (DwiseNeuro 3, 5).
    ///   - spatialStride: s (DwiseNeuro 2 in the first block of a stage, else 1).
    ///   - expansionRatio: M = C_in · expansionRatio (DwiseNeuro 6).
    ///   - seReduceRatio: the squeeze-excitation bottleneck is M / seReduceRatio (≥ 1; DwiseNeuro 32).
    ///   - dropPathRate: DropPath probability in training.
    public init(inChannels: Int, outChannels: Int, spatialKernel: Int = 3, temporalKernel: Int = 5,
                spatialStride: Int = 1, expansionRatio: Int = 6, seReduceRatio: Int = 32, dropPathRate: Float = 0,
                generator: RandomGenerator) {
        let mid = inChannels * expansionRatio
        precondition(inChannels > 0 && outChannels > 0 && expansionRatio > 0 && spatialStride > 0,
                     "InvertedResidual3d: channels \(inChannels) -> \(outChannels), expansion \(expansionRatio) and stride \(spatialStride) must be positive")
        precondition(seReduceRatio > 0 && mid / seReduceRatio > 0,
                     "InvertedResidual3d: squeeze-excitation of \(mid) channels with reduce ratio \(seReduceRatio) has no hidden channels")
        precondition(spatialKernel > 0 && temporalKernel > 0, "InvertedResidual3d: kernels must be positive")
        let s = spatialStride, ps = spatialKernel / 2, pt = temporalKernel / 2
        pointwiseExpansion = Sequential(
            Conv3d(inChannels, mid, kernelSize: 1, bias: false, generator: generator),
            BatchNormActivation(BatchNorm3d(mid), activation: SiLU()))
        spatialDepthwise = Sequential(
            Conv3d(mid, mid, kernelSize: [1, spatialKernel, spatialKernel], stride: [1, s, s], padding: [0, ps, ps],
                   groups: mid, bias: false, generator: generator),
            BatchNormActivation(BatchNorm3d(mid), activation: SiLU()))
        temporalDepthwise = Sequential(
            Conv3d(mid, mid, kernelSize: [temporalKernel, 1, 1], padding: [pt, 0, 0], groups: mid, bias: false,
                   generator: generator),
            BatchNormActivation(BatchNorm3d(mid), activation: SiLU()))
        squeezeExcitation = SqueezeExcitation(channels: mid, reducedChannels: mid / seReduceRatio, spatialRank: 3,
                                              activation: SiLU(), generator: generator)
        pointwiseProjection = Sequential(
            Conv3d(mid, outChannels, kernelSize: 1, bias: false, generator: generator),
            BatchNormActivation(BatchNorm3d(outChannels), activation: nil))
        dropPath = DropPath(p: dropPathRate, generator: generator)
        shortcutNorm = BatchNormActivation(BatchNorm3d(outChannels), activation: nil)
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.spatialStride = s
        super.init()
    }

    /// Expanded channels M.
    public var midChannels: Int { squeezeExcitation.reduce.inChannels }

    /// The shortcut: nearest resize (stride > 1), channel tiling (C_in ≠ C_out), BatchNorm.
    /// (N, C_in, T, H, W) → (N, C_out, T, ⌈H/s⌉, ⌈W/s⌉).
    public func shortcut(_ x: Tensor) -> Tensor {
        var y = x
        if spatialStride > 1 {
            let h = x.shape[3], w = x.shape[4]
            y = interpolateNearest(y, size: [x.shape[2], (h + spatialStride - 1) / spatialStride,
                                             (w + spatialStride - 1) / spatialStride])
        }
        return shortcutNorm(y.tiledChannels(to: outChannels))
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        precondition(x.rank == 5 && x.shape[1] == inChannels,
                     "InvertedResidual3d: expected (N, \(inChannels), T, H, W), got \(x.shape)")
        guard gradientCheckpointing else { return forwardBody(x) }
        return recomputingInBackward(x) { [self] in forwardBody($0) }
    }

    /// Main path and shortcut, recorded op by op.
    private func forwardBody(_ x: Tensor) -> Tensor {
        let main = pointwiseProjection(squeezeExcitation(temporalDepthwise(spatialDepthwise(pointwiseExpansion(x)))))
        let skip = shortcut(x)
        precondition(main.shape == skip.shape,
                     "InvertedResidual3d: main path \(main.shape) and shortcut \(skip.shape) differ (input \(x.shape))")
        return dropPath(main) + skip
    }

    override public var extraDescription: String {
        "\(inChannels) -> \(outChannels), mid: \(midChannels), stride: \(spatialStride)"
            + (gradientCheckpointing ? ", gradientCheckpointing" : "")
    }
}
