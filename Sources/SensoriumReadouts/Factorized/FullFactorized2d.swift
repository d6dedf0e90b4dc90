import SensoriumTensor
import SensoriumLayers

/// The factorised readout of `neuralpredictors` (`FullFactorized2d`, Klindt et al. 2017), as the
/// SENSORIUM 2023 starter kit builds it (`readout_type="factorised"`): every neuron has a spatial
/// mask over the core's feature map and a vector of channel weights, and reads every frame as
///
/// `y[n] = Σ_c features[n, c] · Σ_{h,w} mask[n, h, w] · x[c, h, w] + bias[n]`.
///
/// - `mask` is ``spatial`` divided by its L2 norm per neuron (plus 1e-6) when
///   ``Configuration/normalize``; its absolute value with ``Configuration/positiveSpatial``.
/// - With ``Configuration/constrainPositive`` the features (and, without normalisation, the
///   mask parameter) are clamped at 0 in place before every forward pass, and a normalised mask's
///   values are clamped outside the graph, as the reference does; this takes precedence over
///   `positiveSpatial`. `positiveWeights` acts only on ``weight`` (the
///   reference's `.weight` property), never on the forward pass.
/// - The readout has no spatial grid: it refuses a shift (the reference raises
///   `NotImplementedError`), so a model with this readout has no shifter.
///
/// Keys: `spatial` (neurons, H, W), `_features` (neurons, C), `bias` (neurons).
/// Input `(N, C, T, H, W)` with `(C, H, W)` the shape given at construction; output `(N, T, neurons)`.
public final class FullFactorized2d: Module, Readout {
    /// The options of the reference module (`readout_dict`), with its defaults.
    public struct Configuration: Codable, Sendable, Equatable {
        /// Per-neuron bias (the starter kit's notebook: false).
        public var bias: Bool = true
        /// Divide every mask by its L2 norm (`normalize`).
        public var normalize: Bool = true
        /// Standard deviation of the initial mask and features (`init_noise`).
        public var initNoise: Float = 1e-3
        /// Clamp masks and features at 0 in place before every forward pass (`constrain_pos`).
        public var constrainPositive: Bool = false
        /// Clamp features at 0 when ``FullFactorized2d/weight`` is read (`positive_weights`).
        public var positiveWeights: Bool = false
        /// Use the absolute value of the mask (`positive_spatial`).
        public var positiveSpatial: Bool = false
        /// Weight of the L1 penalty `Σ_n |mask_n|₁ · |features_n|₁` (`spatial_and_feature_reg_weight`,
        /// default 1 as in the reference).
        public var regularization: Float = 1
        /// Reduction of the penalty: the sum, or the mean over neurons × C × H × W.
        public var regularizerReduction: RegularizerReduction = .sum

        public init() {}
    }

    /// The unnormalised spatial masks, (neurons, H, W).
    public let spatial: Tensor
    /// Channel weights, (neurons, C) (key `_features`).
    public let features: Tensor
    /// (neurons), or nil.
    public let bias: Tensor?
    /// The options.
    @Transient public private(set) var configuration: Configuration
    /// The feature-map shape `(C, H, W)` the readout reads.
    @Transient public private(set) var inputShape: [Int]

    override public class var keyOverrides: [String: String] { ["features": "_features"] }

    /// A readout of `neuronCount` neurons over feature maps `(C, H, W)` = `inputShape`; masks and
    /// features start N(0, initNoise²), the bias at 0.
    public init(inputShape: [Int], neuronCount: Int, configuration: Configuration = .init(), generator: RandomGenerator) {
        precondition(inputShape.count == 3 && inputShape.allSatisfy { $0 > 0 },
                     "FullFactorized2d: inputShape must be (C, H, W) with positive sizes, got \(inputShape)")
        precondition(neuronCount > 0, "FullFactorized2d: neuronCount must be positive, got \(neuronCount)")
        precondition(configuration.initNoise >= 0, "FullFactorized2d: initNoise must be non-negative, got \(configuration.initNoise)")
        self.inputShape = inputShape
        self.configuration = configuration
        spatial = Tensor.randomNormal([neuronCount, inputShape[1], inputShape[2]], std: configuration.initNoise,
                                      generator: generator, requiresGrad: true)
        features = Tensor.randomNormal([neuronCount, inputShape[0]], std: configuration.initNoise,
                                       generator: generator, requiresGrad: true)
        bias = configuration.bias ? Tensor.zeros([neuronCount], requiresGrad: true) : nil
        super.init()
    }

    public var inputChannels: Int { inputShape[0] }
    public var neuronCount: Int { spatial.shape[0] }

    /// The masks the forward pass uses, (neurons, H·W).
    public var normalizedSpatial: Tensor {
        let n = neuronCount
        var mask = spatial.reshaped([n, -1])
        if configuration.normalize {
            mask = mask / (mask.square().sum(axis: 1, keepDims: true).sqrt() + 1e-6)
        }
        if configuration.constrainPositive {
            if configuration.normalize {
                // The reference clamps the normalised mask's values (`.data`), outside the graph:
                // clamped values forward, gradients as if unclamped.
                let correction = withNoGrad { mask.clamped(min: 0) - mask }
                mask = mask + correction
            } else {
                // Without normalisation the mask is the parameter itself, clamped in place.
                clampAtZero(spatial)
                mask = spatial.reshaped([n, -1])
            }
        } else if configuration.positiveSpatial {
            mask = mask.abs()
        }
        return mask
    }

    /// The full weight `(neurons, C, H, W)`: mask times features (features clamped at 0 in place
    /// first with ``Configuration/positiveWeights``), as the reference's `.weight`.
    public var weight: Tensor {
        if configuration.positiveWeights { clampAtZero(features) }
        let (n, c) = (neuronCount, inputChannels)
        return normalizedSpatial.reshaped([n, 1, inputShape[1], inputShape[2]]) * features.reshaped([n, c, 1, 1])
    }

    public func callAsFunction(_ x: Tensor, shift: Tensor?) -> Tensor {
        precondition(shift == nil, "FullFactorized2d: this readout has no spatial grid and takes no shift (build the model without a shifter)")
        checkInput(x, shift: nil, readout: "FullFactorized2d")
        precondition(x.shape[3] == inputShape[1] && x.shape[4] == inputShape[2],
                     "FullFactorized2d: expected feature maps of \(inputShape[1]) × \(inputShape[2]) (the input shape it was built for, \(inputShape)), got \(x.shape)")
        if configuration.constrainPositive { clampAtZero(features) }
        let (b, c, t, n) = (x.shape[0], x.shape[1], x.shape[2], neuronCount)
        let mask = normalizedSpatial                                          // (n, HW)
        // Every frame alike: (B, C, T, HW) → (B·T, C, HW); masked sums (B·T, C, n).
        let frames = x.reshaped([b, c, t, -1]).permuted([0, 2, 1, 3]).reshaped([b * t, c, -1])
        let pooled = matmul(frames, mask.transposed(0, 1))
        // Weigh each neuron's channels: Σ_c pooled[·, c, n] · features[n, c] → (B, T, n).
        var y = (pooled * features.transposed(0, 1)).sum(axis: 1).reshaped([b, t, n])
        if let bias { y = y + bias }
        return y
    }

    /// `Σ_n |mask_n|₁ · |features_n|₁` times the regularisation weight (divided by
    /// neurons × C × H × W for the mean reduction).
    public func regularizer() -> Tensor {
        guard configuration.regularization != 0 else { return Tensor(scalar: 0) }
        let l1 = (normalizedSpatial.abs().sum(axis: 1) * features.abs().sum(axis: 1)).sum()
        let count = Float(neuronCount * inputShape.reduce(1, *))
        let reduced = configuration.regularizerReduction == .mean ? l1 / count : l1
        return reduced * configuration.regularization
    }

    /// Sets the bias to the mean responses (no-op without a bias).
    public func initializeBias(meanResponses: Tensor) {
        guard let bias else { return }
        precondition(meanResponses.shape == bias.shape,
                     "FullFactorized2d: mean responses must be \(bias.shape), got \(meanResponses.shape)")
        bias.assign(meanResponses)
    }

    /// Clamps a parameter's values at 0 in place, outside the graph (the reference's `data.clamp_min_`).
    private func clampAtZero(_ parameter: Tensor) {
        withNoGrad { parameter.assign(parameter.clamped(min: 0)) }
    }

    override public var extraDescription: String {
        "\(inputShape[0]) × \(inputShape[1]) × \(inputShape[2]) -> \(neuronCount)\(bias == nil ? "" : " with bias")"
    }
}
