import SensoriumTensor

/// The core of DwiseNeuro (1st place, SENSORIUM 2023): a pointwise stem and a stack of depth-wise
/// (2+1)-D inverted-residual blocks, each preceded by a fixed sinusoidal positional encoding.
///
/// - stem: Conv3d 1×1×1 C_in → F₀ (no bias), BatchNorm (no activation);
/// - block i (i < B = `features.count`): ``PositionalEncoding3d`` of F_i channels, then an
///   ``InvertedResidual3d`` F_i → F_{i+1} (the last block keeps F_{B−1}) with spatial stride
///   `spatialStrides[i]` and DropPath rate `dropPathRate · i / B`.
///
/// Input (N, C_in, T, H, W) (DwiseNeuro: (N, 5, 16, 64, 64), see ``DwiseNeuroInput``); output
/// (N, F_{B−1}, T, h, w) with each stride-s block mapping a side L to ⌈L / s⌉ (paper: (N, 256, 16, 8, 8)).
/// ``pool(_:)`` averages the spatial axes to (N, F_{B−1}, T), the cortex's input.
/// Keys: `stem.0.weight`, `stem.1.bn.*`, `blocks.<2i>.inv_freq`, `blocks.<2i+1>.…` (see
/// ``InvertedResidual3d``).
public final class DwiseNeuroCore: Module, Core {
    /// The settings of a ``DwiseNeuroCore``; the defaults are the paper's (`configs/distillation_001.py`).
    public struct Configuration: Codable, Sendable, Equatable {
        /// Input channels (video, dilation, speed, pupil x, pupil y: 5).
        public var inChannels: Int
        /// Channels F_i of each block's input; the stem outputs F₀.
        public var features: [Int]
        /// Spatial stride of each block.
        public var spatialStrides: [Int]
        /// Kernel size of the depth-wise spatial convolutions (odd).
        public var spatialKernel: Int
        /// Kernel size of the depth-wise temporal convolutions (odd).
        public var temporalKernel: Int
        /// Expansion of the inverted residuals (6 in stage 2, 7 in stage 1).
        public var expansionRatio: Int
        /// Squeeze-excitation reduction of the expanded channels.
        public var seReduceRatio: Int
        /// DropPath rate; block i uses `dropPathRate · i / features.count`.
        public var dropPathRate: Float
        /// Recompute every block's activations in the backward pass instead of keeping them
        /// (``InvertedResidual3d/gradientCheckpointing``): the same results and gradients; a
        /// training step keeps only the blocks' inputs and outputs between the passes and runs the
        /// blocks' forward passes twice. Off in the paper (`false`, the default).
        public var gradientCheckpointing: Bool

        /// The paper's configuration.
        public init(inChannels: Int = 5, features: [Int] = [64, 64, 64, 64, 128, 128, 128, 256, 256],
                    spatialStrides: [Int] = [2, 1, 1, 1, 2, 1, 1, 2, 1], spatialKernel: Int = 3, temporalKernel: Int = 5,
                    expansionRatio: Int = 6, seReduceRatio: Int = 32, dropPathRate: Float = 0.1,
                    gradientCheckpointing: Bool = false) {
            self.inChannels = inChannels
            self.features = features
            self.spatialStrides = spatialStrides
            self.spatialKernel = spatialKernel
            self.temporalKernel = temporalKernel
            self.expansionRatio = expansionRatio
            self.seReduceRatio = seReduceRatio
            self.dropPathRate = dropPathRate
            self.gradientCheckpointing = gradientCheckpointing
        }

        /// Output channels of block i (F_{i+1}, or F_{B−1} for the last).
        public func outputChannels(ofBlock i: Int) -> Int { features[Swift.min(i + 1, features.count - 1)] }

        /// DropPath rate of block i.
        public func dropPathRate(ofBlock i: Int) -> Float { dropPathRate * Float(i) / Float(features.count) }
    }

    /// Pointwise Conv3d (`0`) and BatchNorm (`1`).
    public let stem: Sequential
    /// Positional encodings (even keys) and blocks (odd keys), alternating.
    public let blocks: Sequential
    /// The configuration it was built from.
    public let configuration: Configuration

    /// A core with DwiseNeuro's initialisation (``Module/applyDwiseNeuroInitialization(generator:)``).
    public init(configuration c: Configuration = Configuration(), generator: RandomGenerator) {
        precondition(!c.features.isEmpty && c.features.count == c.spatialStrides.count,
                     "DwiseNeuroCore: features \(c.features) and spatialStrides \(c.spatialStrides) must be non-empty and of equal length")
        precondition(c.inChannels > 0 && c.features.allSatisfy { $0 > 0 } && c.spatialStrides.allSatisfy { $0 > 0 },
                     "DwiseNeuroCore: channels and strides must be positive")
        precondition(c.spatialKernel % 2 == 1 && c.temporalKernel % 2 == 1,
                     "DwiseNeuroCore: kernels must be odd, got spatial \(c.spatialKernel), temporal \(c.temporalKernel)")
        configuration = c
        stem = Sequential(Conv3d(c.inChannels, c.features[0], kernelSize: 1, bias: false, generator: generator),
                          BatchNormActivation(BatchNorm3d(c.features[0]), activation: nil))
        var layers: [any UnaryLayer] = []
        for i in c.features.indices {
            layers.append(PositionalEncoding3d(channels: c.features[i]))
            let block = InvertedResidual3d(
                inChannels: c.features[i], outChannels: c.outputChannels(ofBlock: i), spatialKernel: c.spatialKernel,
                temporalKernel: c.temporalKernel, spatialStride: c.spatialStrides[i], expansionRatio: c.expansionRatio,
                seReduceRatio: c.seReduceRatio, dropPathRate: c.dropPathRate(ofBlock: i), generator: generator)
            block.gradientCheckpointing = c.gradientCheckpointing
            layers.append(block)
        }
        blocks = Sequential(layers)
        super.init()
        applyDwiseNeuroInitialization(generator: generator)
    }

    /// Number of inverted-residual blocks.
    public var blockCount: Int { configuration.features.count }

    /// The inverted-residual block i (key `blocks.<2i+1>`).
    public func block(_ i: Int) -> InvertedResidual3d { blocks[2 * i + 1] as! InvertedResidual3d }

    /// The positional encoding of block i (key `blocks.<2i>`).
    public func positionalEncoding(_ i: Int) -> PositionalEncoding3d { blocks[2 * i] as! PositionalEncoding3d }

    public var outputChannels: Int { configuration.features[configuration.features.count - 1] }

    public func outputShape(for inputShape: [Int]) -> [Int] {
        precondition(inputShape.count == 5 && inputShape[1] == configuration.inChannels,
                     "DwiseNeuroCore: input shape \(inputShape) is not (N, \(configuration.inChannels), T, H, W)")
        var h = inputShape[3], w = inputShape[4]
        for s in configuration.spatialStrides {
            h = (h + s - 1) / s
            w = (w + s - 1) / s
        }
        return [inputShape[0], outputChannels, inputShape[2], h, w]
    }

    /// The convolutions are "same" in time: output frame t belongs to input frame t.
    public var burnInFrames: Int { 0 }

    public func regularizer() -> Tensor { Tensor(scalar: 0) }

    /// The stem's output followed by every block's output (after its encoding, main path and
    /// shortcut); the last entry is the core output.
    public func stageOutputs(_ x: Tensor) -> [Tensor] {
        checkInput(x)
        var outputs = [stem(x)]
        for i in 0..<blockCount {
            outputs.append(block(i)(positionalEncoding(i)(outputs[outputs.count - 1])))
        }
        return outputs
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        checkInput(x)
        return blocks(stem(x))
    }

    /// Spatial average pooling (`AdaptiveAvgPool3d((None, 1, 1))`, squeezed): (N, C, T, H, W) → (N, C, T).
    public func pool(_ features: Tensor) -> Tensor {
        precondition(features.rank == 5, "DwiseNeuroCore.pool: expected (N, C, T, H, W), got \(features.shape)")
        return features.mean(axes: [3, 4])
    }

    private func checkInput(_ x: Tensor) {
        precondition(x.rank == 5 && x.shape[1] == configuration.inChannels,
                     "DwiseNeuroCore: expected (N, \(configuration.inChannels), T, H, W), got \(x.shape)")
    }

    override public var extraDescription: String {
        "\(configuration.inChannels) -> \(outputChannels), \(blockCount) blocks"
    }
}
