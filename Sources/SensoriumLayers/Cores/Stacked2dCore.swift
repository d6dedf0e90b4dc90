import SensoriumTensor

/// A stack of 2-D convolution layers applied to single frames (neuralpredictors' `Stacked2dCore`),
/// the core of the first GRU baseline; wrap it in ``FrameWiseCore`` (with a ``ConvGRU``) for video.
///
/// Layer 0: Conv2d(`inputKern`, no bias, padding `inputKern / 2` when `padInput`), BatchNorm2d,
/// nonlinearity. Hidden layers: Conv2d(`hiddenKern`, bias, "same" padding unless `hiddenPadding`),
/// BatchNorm2d, nonlinearity (omitted after the last layer unless `finalNonlinearity`). With
/// `skip > 1` a hidden layer reads the concatenated outputs of the previous `skip` layers. The output
/// concatenates the layers listed in `stack` (the last by default). Weights Xavier-normal, biases zero.
///
/// Keys: `features.layer0.conv.weight`, `features.layer1.conv.bias`, `features.layerℓ.norm.…`,
/// `_input_weights_regularizer.laplace.filter`.
///
/// Regulariser: `γ_hidden · group sparsity + γ_input · Laplace(conv0)`, where group sparsity is the
/// mean over hidden layers of `mean_(out, in) √(Σ_(kH, kW) w²)`.
///
/// As in the reference (weights load unchanged): the first convolution never has a bias and hidden
/// convolutions always do; `bias` controls the BatchNorm shift.
public final class Stacked2dCore: Module, FrameCore {
    /// Hyper-parameters. Defaults are the GRU demo baseline's; the regulariser defaults
    /// (`LaplaceL2norm`, `laplacePadding` nil, `useAverageRegularizer` false) differ from
    /// neuralpredictors' constructor defaults (`LaplaceL2`, padding 0, averaged).
    public struct Configuration: Codable, Equatable, Sendable {
        /// Input channels.
        public var inputChannels: Int = 3
        /// Channels of each layer; its count is the number of layers.
        public var hiddenChannels: [Int] = [64, 64, 64, 64]
        /// Kernel size of the first layer.
        public var inputKern: Int = 9
        /// Kernel size of the hidden layers (one, or one per hidden layer).
        public var hiddenKern: [Int] = [7]
        /// Stride of the first layer.
        public var inputStride: Int = 1
        /// Stride of the hidden layers.
        public var stride: Int = 1
        /// Pad the first layer by half its kernel.
        public var padInput: Bool = false
        /// Padding of the hidden layers (nil: "same" for the dilated kernel).
        public var hiddenPadding: Int? = nil
        /// Dilation of the hidden layers.
        public var hiddenDilation: Int = 1
        /// Read from the concatenation of the previous `skip` layers (when > 1).
        public var skip: Int = 0
        /// Indices of the layers whose outputs are concatenated (nil: all, neuralpredictors' default);
        /// negative indices count from the end. The GRU baselines read the last layer only.
        public var stack: [Int]? = [-1]
        /// BatchNorm shift (and scale, with `batchNormScale`) per layer: one, or one per layer.
        public var bias: [Bool] = [true]
        /// BatchNorm per layer: one, or one per layer.
        public var batchNorm: [Bool] = [true]
        /// Learn the BatchNorm scale, per layer: one, or one per layer.
        public var batchNormScale: [Bool] = [true]
        /// BatchNorm momentum (PyTorch convention).
        public var momentum: Float = 0.9
        /// Nonlinearity after each layer.
        public var nonlinearity: CoreNonlinearity = .adaptiveELU(xShift: 0, yShift: 0)
        /// Nonlinearity after the last layer too.
        public var finalNonlinearity: Bool = false
        /// No nonlinearities at all.
        public var linear: Bool = false
        /// Weight of the group-sparsity penalty on hidden layers.
        public var gammaHidden: Float = 0
        /// Weight of the Laplace penalty on the first layer.
        public var gammaInput: Float = 0
        /// Which Laplace penalty.
        public var inputRegularizer: LaplaceRegularizer.Kind = .l2norm
        /// Padding of the Laplace filter (nil: 1, recommended; 0: neuralpredictors' default).
        public var laplacePadding: Int? = nil
        /// Average rather than sum in the Laplace penalty.
        public var useAverageRegularizer: Bool = false

        /// The default configuration.
        public init() {}
    }

    /// The configuration this core was built with.
    public let configuration: Configuration
    /// `layer0`, `layer1`, … each a Sequential of `conv`, `norm` (and `bias` / `scale`), `nonlin`.
    public let features: Sequential
    /// The Laplace penalty of the first layer.
    public let inputWeightsRegularizer: LaplaceRegularizer
    /// The convolution of each layer.
    @Transient public private(set) var convolutions: [Conv2d] = []
    /// The normalised indices of the stacked layers.
    public let stackedLayers: [Int]

    override public class var keyOverrides: [String: String] { core2dRegularizerKeys }

    /// Builds the core, drawing initial weights from `generator`.
    public init(_ configuration: Configuration = Configuration(), generator: RandomGenerator) {
        let c = configuration
        let layers = Core2dLayers(c, core: "Stacked2dCore")
        precondition(c.skip <= 1 || Set(c.hiddenChannels).count == 1,
                     "Stacked2dCore: skip connections need equal hidden channels, got \(c.hiddenChannels)")

        var blocks: [(String, any UnaryLayer)] = []
        var convs: [Conv2d] = []
        for l in 0..<layers.count {
            let conv: Conv2d
            if l == 0 {
                conv = Conv2d(c.inputChannels, c.hiddenChannels[0], kernelSize: Extent(c.inputKern),
                              stride: Extent(c.inputStride), padding: .explicit([c.padInput ? c.inputKern / 2 : 0]),
                              bias: false, generator: generator)
            } else {
                let k = layers.hiddenKernels[l - 1]
                let inC = c.skip > 1 ? min(c.skip, l) * c.hiddenChannels[0] : c.hiddenChannels[l - 1]
                let pad = c.hiddenPadding ?? ((k - 1) * c.hiddenDilation + 1) / 2
                conv = Conv2d(inC, c.hiddenChannels[l], kernelSize: Extent(k), stride: Extent(c.stride),
                              padding: .explicit([pad]), dilation: Extent(c.hiddenDilation), bias: true, generator: generator)
            }
            initializeXavierNormal([conv], generator: generator)
            convs.append(conv)
            blocks.append(("layer\(l)", coreLayer([("conv", conv)],
                                                   normalization: layers.normalization[l].layers(channels: c.hiddenChannels[l], spatialRank: 2),
                                                   nonlinearity: layers.nonlinearities[l])))
        }
        self.configuration = c
        features = Sequential(named: blocks)
        inputWeightsRegularizer = LaplaceRegularizer(c.inputRegularizer, padding: c.laplacePadding)
        stackedLayers = layers.stacked
        super.init()
        convolutions = convs
    }

    public var outputChannels: Int { stackedLayers.reduce(0) { $0 + configuration.hiddenChannels[$1] } }

    public func outputShape(for inputShape: [Int]) -> [Int] {
        precondition(inputShape.count == 4, "Stacked2dCore: expected an input shape (N, C, H, W), got \(inputShape)")
        var shape = inputShape
        for (l, conv) in convolutions.enumerated() {
            shape = [shape[0], l == 0 || configuration.skip <= 1 ? shape[1] : conv.inChannels, shape[2], shape[3]]
            shape = conv.outputShape(for: shape)
        }
        return [inputShape[0], outputChannels, shape[2], shape[3]]
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        precondition(x.rank == 4 && x.shape[1] == configuration.inputChannels,
                     "Stacked2dCore: expected input (N, \(configuration.inputChannels), H, W), got shape \(x.shape)")
        var outputs: [Tensor] = []
        var input = x
        for (l, layer) in features.layers.enumerated() {
            if l >= 1 && configuration.skip > 1 {
                input = Tensor.concatenate(Array(outputs.suffix(min(configuration.skip, l))), axis: 1)
            }
            input = layer(input)
            outputs.append(input)
        }
        return Core2dLayers.output(outputs, stacked: stackedLayers)
    }

    /// The Laplace penalty of the first layer's filters (before γ).
    public func laplace() -> Tensor {
        inputWeightsRegularizer(convolutions[0].weight, average: configuration.useAverageRegularizer)
    }

    /// Mean over hidden layers of `mean_(out, in) √(Σ_(kH, kW) w²)` (before γ); zero for one layer.
    public func groupSparsity() -> Tensor {
        meanGroupSparsity(ofHiddenWeights: convolutions.dropFirst().map(\.weight), layers: convolutions.count)
    }

    public func regularizer() -> Tensor {
        groupSparsity() * configuration.gammaHidden + laplace() * configuration.gammaInput
    }
}

extension Stacked2dCore.Configuration: Core2dConfiguration {}
