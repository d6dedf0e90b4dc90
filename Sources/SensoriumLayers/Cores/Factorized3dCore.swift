import SensoriumTensor

/// The factorized 3-D core of the SENSORIUM 2023 "factorised" baseline (neuralpredictors'
/// `Factorized3dCore`).
///
/// Each layer ℓ is a spatial convolution (1, kH, kW), a temporal convolution (kT, 1, 1), BatchNorm3d
/// and the nonlinearity. Temporal convolutions are never padded, so every layer consumes
/// `dilation·(kT − 1)` frames (``burnInFrames``); spatial convolutions are padded by half the kernel
/// only with `padding`. Weights are Xavier-normal and biases zero.
///
/// State-dictionary keys match PyTorch: `features.layer0.conv_spatial.weight`,
/// `features.layer0.conv_temporal.bias`, `features.layer1.conv_spatial_1.weight`, …,
/// `features.layerℓ.norm.running_mean`, plus the regulariser filters
/// `_input_weight_regularizer.laplace.filter` and `temporal_regularizer.laplace.filter`.
///
/// The regulariser covers the first layer only:
/// `γ_spatial · LaplaceL2norm(conv_spatial weights) + γ_temporal · DepthLaplaceL21d(conv_temporal weights)`.
///
/// Reference quirks kept for weight compatibility: hidden convolutions always have a bias (the
/// reference passes a non-empty list as `bias`), hidden spatial convolution ℓ uses the stride of
/// layer ℓ − 1 (unless ``Configuration/perLayerStride``), and the nonlinearity follows every layer whenever there is more than one.
public final class Factorized3dCore: Module, Core {
    /// Hyper-parameters; defaults are the SENSORIUM 2023 factorized baseline.
    public struct Configuration: Codable, Equatable, Sendable {
        /// Input channels (3: video + 2 behaviour channels in the baseline).
        public var inputChannels: Int = 3
        /// Channels of each layer; its count is the number of layers.
        public var hiddenChannels: [Int] = [32, 64, 128]
        /// Spatial kernel (kH, kW) of the first layer.
        public var spatialInputKernel: [Int] = [11, 11]
        /// Temporal kernel of the first layer.
        public var temporalInputKernel: Int = 11
        /// Spatial kernels (kH, kW) of the hidden layers: one for all, or one per hidden layer.
        public var spatialHiddenKernels: [[Int]] = [[5, 5]]
        /// Temporal kernels of the hidden layers: one for all, or one per hidden layer.
        public var temporalHiddenKernels: [Int] = [5]
        /// Spatial stride per layer (one for all, or one per layer).
        public var stride: [Int] = [1]
        /// Spatial dilation of the first spatial convolution.
        public var spatialDilation: Int = 1
        /// Temporal dilation of the first temporal convolution.
        public var temporalDilation: Int = 1
        /// Spatial dilation of the hidden spatial convolutions (one, or one per hidden layer).
        public var hiddenSpatialDilation: [Int] = [1]
        /// Temporal dilation of the hidden temporal convolutions (one, or one per hidden layer).
        public var hiddenTemporalDilation: [Int] = [1]
        /// Whether spatial convolutions are padded by half their kernel ("same" size).
        public var padding: Bool = false
        /// Bias of the first layer's convolutions, and BatchNorm shift.
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
        /// Weight of the first layer's spatial Laplace penalty.
        public var gammaInputSpatial: Float = 10
        /// Weight of the first layer's temporal smoothness penalty.
        public var gammaInputTemporal: Float = 0.01
        /// Padding of the Laplace filter (nil: 1, recommended).
        public var laplacePadding: Int? = nil
        /// Layer ℓ uses `stride[ℓ]` (opt-in). `false` (the default) keeps the reference's indexing,
        /// where hidden layer ℓ uses `stride[ℓ − 1]`, so `[2, 1]` strides the first two layers.
        public var perLayerStride: Bool = false
        /// Input channels 1, 2, … are spatially constant (behaviour broadcast over the frame, as
        /// the data loader writes it), so the first spatial convolution takes them as a per-frame
        /// bias, `Σ_c b_c(t) · Σ_ij W[o, c, i, j]`, and convolves channel 0 only (opt-in; needs
        /// `padding` false). The same output and weights as the full convolution; with the
        /// baseline's 3 input channels a third of the first spatial convolution's work.
        public var constantInputChannels: Bool = false
        /// Energy units per layer (one value for all layers, or one per layer): the last
        /// `energyChannels[ℓ]` channels of layer ℓ go through ``energyFunction`` after
        /// normalisation instead of the nonlinearity (``EnergyChannels``), so that the next layer or
        /// the readout can combine them into phase-invariant, complex-cell-like responses. 0 (the
        /// default) everywhere is the reference core.
        public var energyChannels: [Int] = [0]
        /// The even function of the energy channels.
        public var energyFunction: EnergyFunction = .square
        /// Linear units per layer (one value for all layers, or one per layer): the first
        /// `linearChannels[ℓ]` channels of layer ℓ skip the nonlinearity after normalisation, so
        /// that the readout (after the last layer) combines linear filters before the output
        /// nonlinearity rectifies them, as a simple cell does. 0 (the default) everywhere is the
        /// reference core; with ``energyChannels`` the two must fit in each layer's channels.
        public var linearChannels: [Int] = [0]
        /// Channel groups of each layer's temporal convolution (one value for all layers, or one
        /// per layer; each must divide the layer's channels): 1 (the default) is the reference's
        /// full `C × C` temporal convolution, the layer's channel count a depth-wise one (one
        /// temporal filter per channel, after the spatial convolution has mixed the channels),
        /// which makes a wide last layer cheap.
        public var temporalGroups: [Int] = [1]

        /// The SENSORIUM 2023 factorized baseline configuration.
        public init() {}

        /// A configuration with the given channels and kernels; other fields keep their defaults.
        public init(inputChannels: Int, hiddenChannels: [Int], spatialInputKernel: [Int], temporalInputKernel: Int,
                    spatialHiddenKernel: [Int], temporalHiddenKernel: Int) {
            self.inputChannels = inputChannels
            self.hiddenChannels = hiddenChannels
            self.spatialInputKernel = spatialInputKernel
            self.temporalInputKernel = temporalInputKernel
            self.spatialHiddenKernels = [spatialHiddenKernel]
            self.temporalHiddenKernels = [temporalHiddenKernel]
        }
    }

    /// The configuration this core was built with.
    public let configuration: Configuration
    /// `layer0`, `layer1`, … each a Sequential of `conv_spatial[_ℓ]`, `conv_temporal[_ℓ]`, `norm`, `nonlin`.
    public let features: Sequential
    /// The spatial Laplace penalty of the first layer.
    public let inputWeightRegularizer: LaplaceRegularizer
    /// The temporal smoothness penalty of the first layer.
    public let temporalRegularizer: DepthLaplaceRegularizer
    /// The spatial convolution of each layer (also reachable through ``features``).
    @Transient public private(set) var spatialConvolutions: [Conv3d] = []
    /// The temporal convolution of each layer.
    @Transient public private(set) var temporalConvolutions: [Conv3d] = []

    override public class var keyOverrides: [String: String] { core3dRegularizerKeys }

    /// Builds the core, drawing initial weights from `generator`.
    public init(_ configuration: Configuration = Configuration(), generator: RandomGenerator) {
        let c = configuration
        let name = "Factorized3dCore"
        precondition(c.spatialInputKernel.count == 2, "\(name): spatialInputKernel must be (kH, kW), got \(c.spatialInputKernel)")
        let hidden = max(c.hiddenChannels.count - 1, 1)
        let spatialKernels = perLayer(c.spatialHiddenKernels, count: hidden, name: "spatialHiddenKernels", core: name)
        let temporalKernels = perLayer(c.temporalHiddenKernels, count: hidden, name: "temporalHiddenKernels", core: name)
        let strides = perLayer(c.stride, count: c.hiddenChannels.count, name: "stride", core: name)
        let temporalGroups = perLayer(c.temporalGroups, count: c.hiddenChannels.count, name: "temporalGroups", core: name)
        for k in spatialKernels { precondition(k.count == 2, "\(name): spatial hidden kernels must be (kH, kW), got \(k)") }

        let (features, convolutions) = c.makeFeatures(core: name, generator: generator, energyChannels: c.energyChannels, energyFunction: c.energyFunction,
                                                      linearChannels: c.linearChannels) { layer in
            let kS = layer.pick(first: c.spatialInputKernel, hidden: spatialKernels)
            let kT = layer.pick(first: c.temporalInputKernel, hidden: temporalKernels)
            // The reference's stride indexing unless `perLayerStride`.
            let s = c.perLayerStride ? strides[layer.index] : layer.pick(first: strides[0], hidden: strides)
            let (inC, outC, dS) = (layer.inputChannels, layer.outputChannels, layer.spatialDilation)
            let spatial = Conv3d(inC, outC, kernelSize: Extent([1] + kS), stride: Extent([1, s, s]),
                                 padding: .explicit(c.padding ? [0, kS[0] / 2, kS[1] / 2] : [0]),
                                 dilation: Extent([1, dS, dS]), bias: layer.convolutionBias, generator: generator)
            let temporal = Conv3d(outC, outC, kernelSize: Extent([kT, 1, 1]), dilation: Extent([layer.temporalDilation, 1, 1]),
                                  groups: temporalGroups[layer.index], bias: layer.convolutionBias, generator: generator)
            return [("conv_spatial" + layer.keySuffix, spatial), ("conv_temporal" + layer.keySuffix, temporal)]
        }
        self.configuration = c
        self.features = features
        inputWeightRegularizer = LaplaceRegularizer(.l2norm, padding: c.laplacePadding)
        temporalRegularizer = DepthLaplaceRegularizer()
        super.init()
        spatialConvolutions = convolutions.map { $0[0] }
        temporalConvolutions = convolutions.map { $0[1] }
    }

    public var outputChannels: Int { layerOutputChannels.last! }

    /// The channels each layer hands on (fewer than its convolutions' with quadrature energy units).
    private var layerOutputChannels: [Int] {
        let c = configuration
        let energy = perLayer(c.energyChannels, count: c.hiddenChannels.count, name: "energyChannels", core: "Factorized3dCore")
        return zip(c.hiddenChannels, energy).map { handedOn($0, energy: $1, c.energyFunction) }
    }

    public var assumesConstantInputChannels: Bool { configuration.constantInputChannels }

    public var burnInFrames: Int {
        temporalConvolutions.reduce(0) { $0 + $1.dilation[0] * ($1.kernelSize[0] - 1) }
    }

    public func outputShape(for inputShape: [Int]) -> [Int] {
        precondition(inputShape.count == 5, "Factorized3dCore: expected an input shape (N, C, T, H, W), got \(inputShape)")
        var shape = inputShape
        for ((spatial, temporal), channels) in zip(zip(spatialConvolutions, temporalConvolutions), layerOutputChannels) {
            shape = temporal.outputShape(for: spatial.outputShape(for: shape))
            shape[1] = channels
        }
        return shape
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        precondition(x.rank == 5 && x.shape[1] == configuration.inputChannels,
                     "Factorized3dCore: expected input (N, \(configuration.inputChannels), T, H, W), got shape \(x.shape)")
        guard configuration.constantInputChannels, configuration.inputChannels > 1,
              let first = features[0] as? Sequential else { return features(x) }
        let y = first(firstSpatialWithConstantChannels(x), from: 1)
        return features(y, from: 1)
    }

    /// The first spatial convolution of (N, C, T, H, W) with channels 1… spatially constant:
    /// channel 0 convolved, channels 1… added per frame through their kernels' sums (N, O, T, H', W').
    func firstSpatialWithConstantChannels(_ x: Tensor) -> Tensor {
        let conv = spatialConvolutions[0]
        let c = x.shape[1], n = x.shape[0], t = x.shape[2]
        let w = conv.weight
        // Opposite corners of every frame must agree: other data would be convolved wrongly, silently.
        let (h, wd) = (x.shape[3], x.shape[4])
        precondition(withNoGrad {
            x.sliced(axis: 1, range: 1..<c).sliced(axis: 3, range: 0..<1).sliced(axis: 4, range: 0..<1).scalars
                == x.sliced(axis: 1, range: 1..<c).sliced(axis: 3, range: h - 1..<h).sliced(axis: 4, range: wd - 1..<wd).scalars
        }, "Factorized3dCore: constantInputChannels needs input channels 1..<\(c) constant over each frame, input \(x.shape) is not")
        let image = conv3d(x.sliced(axis: 1, range: 0..<1), weight: w.sliced(axis: 1, range: 0..<1), bias: conv.bias,
                           stride: conv.stride, padding: conv.padding, dilation: conv.dilation)
        // (N, C − 1, T) values of the constant channels, (C − 1, O) sums of their kernels.
        let values = x.sliced(axis: 3, range: 0..<1).sliced(axis: 4, range: 0..<1).sliced(axis: 1, range: 1..<c)
            .reshaped([n, c - 1, t]).permuted([0, 2, 1]).reshaped([n * t, c - 1])
        let sums = w.sliced(axis: 1, range: 1..<c).sum(axes: [2, 3, 4]).transposed()
        let perFrame = matmul(values, sums).reshaped([n, t, conv.outChannels]).permuted([0, 2, 1])
            .reshaped([n, conv.outChannels, t, 1, 1])
        return image + perFrame
    }

    /// The first layer's spatial Laplace penalty (before γ): `LaplaceL2norm` of the (out·in) 2-D filters.
    public func laplaceSpatial() -> Tensor {
        let w = spatialConvolutions[0].weight
        return inputWeightRegularizer(w.reshaped([w.shape[0], w.shape[1], w.shape[3], w.shape[4]]), average: false)
    }

    /// The first layer's temporal smoothness penalty (before γ) on the (out·in) 1-D filters.
    public func laplaceTemporal() -> Tensor {
        let w = temporalConvolutions[0].weight
        return temporalRegularizer(w.reshaped([w.shape[0], w.shape[1], w.shape[2]]))
    }

    public func regularizer() -> Tensor {
        laplaceSpatial() * configuration.gammaInputSpatial + laplaceTemporal() * configuration.gammaInputTemporal
    }
}

extension Factorized3dCore.Configuration: Core3dConfiguration {}
