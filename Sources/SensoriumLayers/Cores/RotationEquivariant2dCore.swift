import SensoriumTensor

/// A core of rotation-equivariant Hermite convolutions applied to single frames
/// (neuralpredictors' `RotationEquivariant2dCore`), the official GRU benchmark's core; wrap it in
/// ``FrameWiseCore`` with a ``ConvGRU`` for video.
///
/// Each layer is a ``HermiteConv2d`` producing `hiddenChannels[ℓ]·numRotations` channels
/// (rotation-major), a rotation-shared BatchNorm (``RotationEquivariantBatchNorm2d``) and the
/// nonlinearity (omitted after the last layer unless `finalNonlinearity`). The output concatenates
/// the layers in `stack` (default: the last only). Coefficients are drawn from N(0, `initStd`²).
///
/// Keys: `features.layer0.hermite_conv.coeffs`, `features.layer0.hermite_conv.rotate_hermite.H`,
/// `….rotate_hermite.Rs.r`, `features.layerℓ.norm.batch_norm.…`, `_input_weights_regularizer.laplace.filter`.
///
/// Regulariser: `γ_hidden · group sparsity + γ_input · Laplace(layer-0 filters of all rotations)`.
public final class RotationEquivariant2dCore: Module, FrameCore {
    /// Hyper-parameters; defaults are the official GRU benchmark's.
    public struct Configuration: Codable, Equatable, Sendable {
        /// Input channels.
        public var inputChannels: Int = 3
        /// Base channels of each layer (times `numRotations` output channels); count = layers.
        public var hiddenChannels: [Int] = [8, 8, 8, 8]
        /// Kernel size of the first layer.
        public var inputKern: Int = 9
        /// Kernel size of the hidden layers (one, or one per hidden layer).
        public var hiddenKern: [Int] = [7]
        /// Number of rotations.
        public var numRotations: Int = 8
        /// Basis upsampling factor.
        public var upsampling: Int = 2
        /// Stride of every layer.
        public var stride: Int = 1
        /// Pad the first layer by half its kernel.
        public var padInput: Bool = false
        /// Padding of the hidden layers (nil: half the kernel).
        public var hiddenPadding: Int? = nil
        /// Indices of the layers whose outputs are concatenated (nil: all); the benchmark uses [-1].
        public var stack: [Int]? = [-1]
        /// BatchNorm shift per layer (one, or one per layer).
        public var bias: [Bool] = [true]
        /// BatchNorm per layer (one, or one per layer).
        public var batchNorm: [Bool] = [true]
        /// Learn the BatchNorm scale per layer (one, or one per layer).
        public var batchNormScale: [Bool] = [true]
        /// Share BatchNorm statistics and affine parameters across rotations.
        public var rotationEquivariantBatchNorm: Bool = true
        /// BatchNorm momentum (PyTorch convention).
        public var momentum: Float = 0.9
        /// Nonlinearity after each layer.
        public var nonlinearity: CoreNonlinearity = .adaptiveELU(xShift: 0, yShift: 0)
        /// Nonlinearity after the last layer too.
        public var finalNonlinearity: Bool = false
        /// No nonlinearities at all.
        public var linear: Bool = false
        /// Standard deviation of the initial coefficients.
        public var initStd: Float = 0.1
        /// Weight of the group-sparsity penalty on hidden layers.
        public var gammaHidden: Float = 500_000
        /// Weight of the Laplace penalty on the first layer.
        public var gammaInput: Float = 500
        /// Which Laplace penalty.
        public var inputRegularizer: LaplaceRegularizer.Kind = .l2norm
        /// Padding of the Laplace filter (nil: 1).
        public var laplacePadding: Int? = nil
        /// Average rather than sum in the Laplace penalty.
        public var useAverageRegularizer: Bool = false

        /// The GRU benchmark configuration.
        public init() {}
    }

    /// The configuration this core was built with.
    public let configuration: Configuration
    /// `layer0`, `layer1`, … each a Sequential of `hermite_conv`, `norm` (and `bias` / `scale`), `nonlin`.
    public let features: Sequential
    /// The Laplace penalty of the first layer.
    public let inputWeightsRegularizer: LaplaceRegularizer
    /// The Hermite convolution of each layer.
    @Transient public private(set) var convolutions: [HermiteConv2d] = []
    /// The normalised indices of the stacked layers.
    public let stackedLayers: [Int]

    override public class var keyOverrides: [String: String] { core2dRegularizerKeys }

    /// Builds the core, drawing initial coefficients from `generator`.
    public init(_ configuration: Configuration = Configuration(), generator: RandomGenerator) {
        let c = configuration
        let layers = Core2dLayers(c, core: "RotationEquivariant2dCore")
        let r = c.numRotations

        var blocks: [(String, any UnaryLayer)] = []
        var convs: [HermiteConv2d] = []
        for l in 0..<layers.count {
            let k = l == 0 ? c.inputKern : layers.hiddenKernels[l - 1]
            let padding = l == 0 ? (c.padInput ? c.inputKern / 2 : 0) : (c.hiddenPadding ?? k / 2)
            let conv = HermiteConv2d(inputFeatures: l == 0 ? c.inputChannels : c.hiddenChannels[l - 1] * r,
                                     outputFeatures: c.hiddenChannels[l], filterSize: k, padding: padding, stride: c.stride,
                                     numRotations: r, upsampling: c.upsampling, firstLayer: l == 0, initStd: c.initStd,
                                     generator: generator)
            convs.append(conv)
            let channels = c.hiddenChannels[l], normalization = layers.normalization[l]
            let normLayers = c.rotationEquivariantBatchNorm
                ? normalization.layers(norm: { RotationEquivariantBatchNorm2d(numFeatures: channels, numRotations: r,
                                                                              momentum: c.momentum, affine: $0) },
                                       shift: { RotationEquivariantBias2d(channels: channels, numRotations: r) },
                                       scale: { RotationEquivariantScale2d(channels: channels, numRotations: r) })
                : normalization.layers(channels: channels * r, spatialRank: 2)
            blocks.append(("layer\(l)", coreLayer([("hermite_conv", conv)], normalization: normLayers,
                                                   nonlinearity: layers.nonlinearities[l])))
        }
        self.configuration = c
        features = Sequential(named: blocks)
        inputWeightsRegularizer = LaplaceRegularizer(c.inputRegularizer, padding: c.laplacePadding)
        stackedLayers = layers.stacked
        super.init()
        convolutions = convs
    }

    public var outputChannels: Int {
        stackedLayers.reduce(0) { $0 + configuration.hiddenChannels[$1] } * configuration.numRotations
    }

    public func outputShape(for inputShape: [Int]) -> [Int] {
        precondition(inputShape.count == 4, "RotationEquivariant2dCore: expected an input shape (N, C, H, W), got \(inputShape)")
        var (h, w) = (inputShape[2], inputShape[3])
        for conv in convolutions {
            h = convolvedSize(h, kernel: conv.filterSize, stride: conv.stride, padding: conv.padding)
            w = convolvedSize(w, kernel: conv.filterSize, stride: conv.stride, padding: conv.padding)
        }
        return [inputShape[0], outputChannels, h, w]
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        precondition(x.rank == 4 && x.shape[1] == configuration.inputChannels,
                     "RotationEquivariant2dCore: expected input (N, \(configuration.inputChannels), H, W), got shape \(x.shape)")
        var outputs: [Tensor] = []
        var input = x
        for layer in features.layers {
            input = layer(input)
            outputs.append(input)
        }
        return Core2dLayers.output(outputs, stacked: stackedLayers)
    }

    /// The Laplace penalty of the first layer's filters over all rotations (before γ).
    public func laplace() -> Tensor {
        inputWeightsRegularizer(convolutions[0].weightsAllRotations, average: configuration.useAverageRegularizer)
    }

    /// Mean over hidden layers of `mean_(out, in) √(Σ_(kH, kW) w²)` of the rotated filters (before γ).
    public func groupSparsity() -> Tensor {
        meanGroupSparsity(ofHiddenWeights: convolutions.dropFirst().map(\.weightsAllRotations), layers: convolutions.count)
    }

    public func regularizer() -> Tensor {
        groupSparsity() * configuration.gammaHidden + laplace() * configuration.gammaInput
    }
}

extension RotationEquivariant2dCore.Configuration: Core2dConfiguration {}
