import SensoriumTensor

/// A 3-D core with full spatio-temporal kernels (neuralpredictors' `Basic3dCore`, the "3D" option).
///
/// Layer 0 is a Conv3d with kernel `inputKernel` (kT, kH, kW), hidden layer ℓ a Conv3d with
/// `hiddenKernels[ℓ − 1]`; each followed by BatchNorm3d and the nonlinearity. Time is never
/// padded (``burnInFrames`` = Σ dilation·(kT − 1)); space is padded by half the kernel with
/// `padding`. Weights are Xavier-normal and biases zero.
///
/// Keys: `features.layer0.conv.weight`, `features.layer1.conv_1.weight`, …, `features.layerℓ.norm.…`,
/// `_input_weight_regularizer.laplace.filter`, `temporal_regularizer.laplace.filter`.
///
/// Regulariser (first layer): `γ_spatial · Σ_t LaplaceL2norm(w[:, :, t])` over temporal slices plus
/// `γ_temporal · Σ_(h,w) DepthLaplaceL21d(w[:, :, :, h, w])` over spatial positions.
public final class Basic3dCore: Module, Core {
    /// Hyper-parameters; defaults follow the SENSORIUM "3D" option (2 layers of 64, (9, 9, 9) then (9, 7, 7)).
    public struct Configuration: Codable, Equatable, Sendable {
        /// Input channels.
        public var inputChannels: Int = 3
        /// Channels of each layer; its count is the number of layers.
        public var hiddenChannels: [Int] = [64, 64]
        /// Kernel (kT, kH, kW) of the first layer.
        public var inputKernel: [Int] = [9, 9, 9]
        /// Kernels (kT, kH, kW) of the hidden layers: one for all, or one per hidden layer.
        public var hiddenKernels: [[Int]] = [[9, 7, 7]]
        /// Spatial stride per layer (one for all, or one per layer).
        public var stride: [Int] = [1]
        /// Spatial dilation of the first layer.
        public var spatialDilation: Int = 1
        /// Temporal dilation of the first layer.
        public var temporalDilation: Int = 1
        /// Spatial dilation of the hidden layers (one, or one per hidden layer).
        public var hiddenSpatialDilation: [Int] = [1]
        /// Temporal dilation of the hidden layers (one, or one per hidden layer).
        public var hiddenTemporalDilation: [Int] = [1]
        /// Whether convolutions are padded spatially by half their kernel.
        public var padding: Bool = true
        /// Bias of the first convolution, and BatchNorm shift.
        public var bias: Bool = true
        /// BatchNorm after each layer.
        public var batchNorm: Bool = true
        /// Learn the BatchNorm scale.
        public var batchNormScale: Bool = true
        /// BatchNorm momentum (PyTorch convention).
        public var momentum: Float = 0.7
        /// Nonlinearity after each layer.
        public var nonlinearity: CoreNonlinearity = .elu
        /// Nonlinearity after the last layer too (only matters for a single layer).
        public var finalNonlinearity: Bool = true
        /// Weight of the spatial Laplace penalty.
        public var gammaInputSpatial: Float = 10
        /// Weight of the temporal smoothness penalty.
        public var gammaInputTemporal: Float = 0.01
        /// Padding of the Laplace filter (nil: 1).
        public var laplacePadding: Int? = nil

        /// The default configuration.
        public init() {}
    }

    /// The configuration this core was built with.
    public let configuration: Configuration
    /// `layer0`, `layer1`, … each a Sequential of `conv` / `conv_ℓ`, `norm`, `nonlin`.
    public let features: Sequential
    /// The spatial Laplace penalty.
    public let inputWeightRegularizer: LaplaceRegularizer
    /// The temporal smoothness penalty.
    public let temporalRegularizer: DepthLaplaceRegularizer
    /// The convolution of each layer.
    @Transient public private(set) var convolutions: [Conv3d] = []

    override public class var keyOverrides: [String: String] { core3dRegularizerKeys }

    /// Builds the core, drawing initial weights from `generator`.
    public init(_ configuration: Configuration = Configuration(), generator: RandomGenerator) {
        let c = configuration
        let name = "Basic3dCore"
        precondition(c.inputKernel.count == 3, "\(name): inputKernel must be (kT, kH, kW), got \(c.inputKernel)")
        let hidden = max(c.hiddenChannels.count - 1, 1)
        let kernels = perLayer(c.hiddenKernels, count: hidden, name: "hiddenKernels", core: name)
        let strides = perLayer(c.stride, count: c.hiddenChannels.count, name: "stride", core: name)
        for k in kernels { precondition(k.count == 3, "\(name): hidden kernels must be (kT, kH, kW), got \(k)") }

        let (features, convolutions) = c.makeFeatures(core: name, generator: generator) { layer in
            let k = layer.pick(first: c.inputKernel, hidden: kernels)
            let s = strides[layer.index], dS = layer.spatialDilation
            return [(layer.index == 0 ? "conv" : "conv_\(layer.index)",
                     Conv3d(layer.inputChannels, layer.outputChannels, kernelSize: Extent(k), stride: Extent([1, s, s]),
                            padding: .explicit(c.padding ? [0, k[1] / 2, k[2] / 2] : [0]),
                            dilation: Extent([layer.temporalDilation, dS, dS]), bias: layer.convolutionBias, generator: generator))]
        }
        self.configuration = c
        self.features = features
        inputWeightRegularizer = LaplaceRegularizer(.l2norm, padding: c.laplacePadding)
        temporalRegularizer = DepthLaplaceRegularizer()
        super.init()
        self.convolutions = convolutions.map { $0[0] }
    }

    public var outputChannels: Int { configuration.hiddenChannels.last! }

    public var burnInFrames: Int { convolutions.reduce(0) { $0 + $1.dilation[0] * ($1.kernelSize[0] - 1) } }

    public func outputShape(for inputShape: [Int]) -> [Int] {
        precondition(inputShape.count == 5, "Basic3dCore: expected an input shape (N, C, T, H, W), got \(inputShape)")
        return convolutions.reduce(inputShape) { $1.outputShape(for: $0) }
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        precondition(x.rank == 5 && x.shape[1] == configuration.inputChannels,
                     "Basic3dCore: expected input (N, \(configuration.inputChannels), T, H, W), got shape \(x.shape)")
        return features(x)
    }

    /// Σ over temporal slices of the first kernel of `LaplaceL2norm(w[:, :, t])` (before γ).
    public func laplaceSpatial() -> Tensor {
        let w = convolutions[0].weight
        let (o, i, kt, kh, kw) = (w.shape[0], w.shape[1], w.shape[2], w.shape[3], w.shape[4])
        // (o, i, kT, kH, kW) → kT slices of (o, i, kH, kW)
        let slices = w.permuted([2, 0, 1, 3, 4]).split(sizes: [Int](repeating: 1, count: kt), axis: 0)
        var total: Tensor? = nil
        for slice in slices {
            let term = inputWeightRegularizer(slice.reshaped([o, i, kh, kw]), average: false)
            total = total.map { $0 + term } ?? term
        }
        return total!
    }

    /// Σ over spatial positions of the first kernel of `DepthLaplaceL21d(w[:, :, :, h, w])` (before γ).
    public func laplaceTemporal() -> Tensor {
        let w = convolutions[0].weight
        let (o, i, kt, kh, kw) = (w.shape[0], w.shape[1], w.shape[2], w.shape[3], w.shape[4])
        // each position's (o·i) signals: filtered² summed over (o, i, t), divided by w² summed likewise
        let signals = w.permuted([3, 4, 0, 1, 2]).reshaped([kh * kw * o * i, 1, kt])
        let filtered = temporalRegularizer.laplace(signals).square().reshaped([kh * kw, o * i * kt]).sum(axis: 1)
        let energy = signals.square().reshaped([kh * kw, o * i * kt]).sum(axis: 1)
        return (filtered / energy).sum()
    }

    public func regularizer() -> Tensor {
        laplaceSpatial() * configuration.gammaInputSpatial + laplaceTemporal() * configuration.gammaInputTemporal
    }
}

extension Basic3dCore.Configuration: Core3dConfiguration {}
