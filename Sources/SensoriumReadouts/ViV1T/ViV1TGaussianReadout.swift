import SensoriumTensor
import SensoriumLayers

/// ViV1T's per-mouse Gaussian readout (`gaussian2d`, PyTorch `Gaussian2DReadout`) with its behaviour
/// state vector; registered as the readout `viv1tGaussian`.
///
/// For core features (B, C, T, h, w), every frame m = b·T + t and neuron n:
/// ```
/// μ_n      = tanh(Linear(ELU(Linear(source_grid_n))))           // mu_transform, from cortical xy
/// p_{m,n}  = clamp(μ_n + σ_n z_{m,n}, −1, 1) + shift_m             // z ~ N(0, I) in training, 0 in eval
/// s_m      = tanh(Linear(Dropout(GELU(LN(Linear(state_m))))))     // state_encoder, state = (dilation, speed, pupil x, pupil y)
/// y_{m,n}  = Σ_c (bilinear(x_m, p_{m,n})_c + s_{m,c}) · features[0, c, n] + bias_n
/// ```
/// Sampling is `grid_sample` (bilinear, zero padding, `align_corners=True`, x along the width),
/// fused with the dot product (``gaussianReadoutSample(_:positions:features:alignCorners:)``); the state term is
/// one GEMM. The output is linear; ViV1T applies `exp` afterwards (``Exponential``).
///
/// **Behaviour is required.** In a model the state of output frame t' is the behaviour and pupil
/// centre of the frame it is aligned with: for T' core frames, the last T' frames of
/// ``/SensoriumLayers/ModelInput/behavior`` (B, 2, T) and ``/SensoriumLayers/ModelInput/pupilCenter`` (B, 2, T), as the reference
/// builds it (`callAsFunction(_:shift:input:)`); the features-only form is a precondition failure.
///
/// Keys (PyTorch): `sigma` (1, n, 2, 2), `features` (1, C, n), `bias` (n), `reg_scale` (buffer),
/// `source_grid` (buffer, (n, 2)), `mu_transform.0/2.weight/bias`, `state_encoder.0.weight/bias`
/// (Linear(4, C)), `state_encoder.1.weight/bias` (LayerNorm(C)), `state_encoder.4.weight/bias`
/// (Linear(C, C)).
public final class ViV1TGaussianReadout: Module, Readout {
    /// Hyper-parameters; the defaults are the paper's. The core channels C come from the core
    /// (`core_emb_dim`, the initialiser's `inputChannels`).
    public struct Configuration: Codable, Equatable, Sendable {
        /// Per-frame state values (4: dilation, speed, pupil x, pupil y).
        public var stateFeatures: Int = 4
        /// The network from cortical coordinates to positions (2 → 30 → ELU → 2 → tanh).
        public var positionNetwork = PositionNetworkConfiguration()
        /// `sigma` starts U(−initSigma, initSigma).
        public var initSigma: Float = 1
        /// Dropout inside the state encoder (`readout_dropout`).
        public var stateDropout: Float = 0
        /// The paper configuration.
        public init() {}
    }

    /// The configuration it was built with.
    public let configuration: Configuration
    /// Square root of each neuron's position covariance, (1, n, 2, 2).
    public let sigma: Tensor
    /// Feature weights, (1, C, n), initialised 1 / C.
    public let features: Tensor
    /// Per-neuron bias (n), initialised 0 (see ``initializeBias(meanResponses:)``).
    public let bias: Tensor
    /// Weight of the L1 penalty on the features (zero-dimensional buffer; 0 in the paper).
    @Buffer public var regScale: Tensor
    /// The position network's input: the cortical xy of every neuron, centred and scaled (n, 2).
    @Buffer public var sourceGrid: Tensor
    /// Cortical coordinates → mean position.
    public let muTransform: Sequential
    /// Behaviour state → a C-vector added to every neuron's sampled features.
    public let stateEncoder: Sequential
    /// Source of the training-mode position draws and dropout.
    @Transient public var generator: RandomGenerator

    override public class var keyOverrides: [String: String] {
        ["regScale": "reg_scale", "sourceGrid": "source_grid", "muTransform": "mu_transform",
         "stateEncoder": "state_encoder"]
    }

    /// Number of core channels C.
    public var inputChannels: Int { features.shape[1] }
    /// Number of neurons.
    public var neuronCount: Int { bias.shape[0] }

    /// A readout of `inputChannels` core channels for the neurons at `coordinates` (n, ≥ 2;
    /// cortical x, y first), initial values drawn from `generator` (positions network and state
    /// encoder: PyTorch's default Linear initialisation). `generator` also serves the training-mode
    /// position draws and dropout.
    public init(configuration: Configuration = Configuration(), inputChannels: Int, coordinates: Tensor,
                generator: RandomGenerator) {
        let c = configuration
        precondition(inputChannels > 0 && c.stateFeatures > 0 && c.initSigma > 0,
                     "ViV1TGaussianReadout: invalid configuration \(c) for \(inputChannels) input channels")
        precondition(coordinates.rank == 2 && coordinates.shape[0] > 0,
                     "ViV1TGaussianReadout: coordinates must be (neurons, ≥ \(c.positionNetwork.inputDimensions)), got \(coordinates.shape)")
        let n = coordinates.shape[0]
        self.configuration = c
        muTransform = c.positionNetwork.makeNetwork(generator: generator)
        sourceGrid = c.positionNetwork.sourceGrid(from: coordinates)
        sigma = Tensor.randomUniform([1, n, 2, 2], low: -c.initSigma, high: c.initSigma, generator: generator, requiresGrad: true)
        features = Tensor.full([1, inputChannels, n], 1 / Float(inputChannels), requiresGrad: true)
        bias = Tensor.zeros([n], requiresGrad: true)
        regScale = Tensor(scalar: 0)
        stateEncoder = Sequential(
            Linear(c.stateFeatures, inputChannels, generator: generator),
            LayerNorm(inputChannels),
            GELU(),
            Dropout(p: c.stateDropout, generator: generator),
            Linear(inputChannels, inputChannels, generator: generator),
            Tanh())
        self.generator = generator
        super.init()
    }

    /// The mean position of every neuron, (n, 2) as (x, y); differentiable.
    public func meanPositions() -> Tensor { muTransform(sourceGrid).reshaped([neuronCount, 2]) }

    /// Read-out positions for `frames` frames: clamp(μ + σ z, −1, 1) with standard-normal `z`
    /// (drawn from ``generator`` unless `noise` (frames, n, 2) is given) when sampling, clamp(μ)
    /// otherwise; then `shift` (frames, 2) added. Always (frames, n, 2).
    public func positions(frames: Int, shift: Tensor?, sample: Bool? = nil, noise: Tensor? = nil) -> Tensor {
        let n = neuronCount
        let mu = meanPositions().reshaped([1, n, 2])
        var grid: Tensor
        if sample ?? isTraining {
            let z = noise ?? Tensor.randomNormal([frames, n, 2], generator: generator)
            precondition(z.shape == [frames, n, 2], "ViV1TGaussianReadout: noise must be \([frames, n, 2]), got \(z.shape)")
            grid = ((sigma * z.reshaped([frames, n, 1, 2])).sum(axis: 3) + mu).clamped(min: -1, max: 1)
        } else {
            grid = mu.clamped(min: -1, max: 1)
        }
        if let shift {
            precondition(shift.shape == [frames, 2], "ViV1TGaussianReadout: shift must be \([frames, 2]), got \(shift.shape)")
            grid = grid + shift.reshaped([frames, 1, 2])
        }
        return grid.shape[0] == frames ? grid : grid.expanded(to: [frames, n, 2])
    }

    /// Linear predictions.
    /// - Parameters:
    ///   - x: core features (B, C, T, h, w).
    ///   - shift: grid shift per frame (B, T, 2), or nil.
    ///   - state: behaviour per frame (B, T, stateFeatures) = (dilation, speed, pupil x, pupil y),
    ///     aligned with the core's frames.
    ///   - sample: whether to sample positions; nil samples in training mode only.
    ///   - noise: the standard-normal draws (B·T, n, 2) to use when sampling.
    /// - Returns: (B, T, n).
    public func callAsFunction(_ x: Tensor, shift: Tensor?, state: Tensor, sample: Bool? = nil,
                               noise: Tensor? = nil) -> Tensor {
        precondition(x.rank == 5 && x.shape[1] == inputChannels,
                     "ViV1TGaussianReadout: expected features (B, \(inputChannels), T, h, w), got \(x.shape)")
        let b = x.shape[0], t = x.shape[2], frames = b * t, n = neuronCount
        precondition(state.shape == [b, t, configuration.stateFeatures],
                     "ViV1TGaussianReadout: state must be \([b, t, configuration.stateFeatures]) for features \(x.shape), got \(state.shape)")
        if let shift {
            precondition(shift.shape == [b, t, 2], "ViV1TGaussianReadout: shift must be \([b, t, 2]) for features \(x.shape), got \(shift.shape)")
        }
        let weights = features.reshaped([inputChannels, n])
        let grid = positions(frames: frames, shift: shift?.reshaped([frames, 2]), sample: sample, noise: noise)
        let sampled = gaussianReadoutSample(x, positions: grid, features: weights)
        let stateTerm = matmul(stateEncoder(state.reshaped([frames, configuration.stateFeatures])), weights)
        return (sampled + stateTerm + bias).reshaped([b, t, n])
    }

    /// Linear predictions (B, T', n) in a model: features (B, C, T', h, w), the shift of the last
    /// T' frames (B, T', 2) or nil, and the state of the last T' frames taken from `input`:
    /// `[behavior, pupilCenter]` (B, 2 + 2, T) → (B, T', stateFeatures), as the reference builds it.
    /// Positions are sampled in training mode.
    public func callAsFunction(_ features: Tensor, shift: Tensor?, input: ModelInput) -> Tensor {
        checkInput(features, shift: shift, readout: "ViV1TGaussianReadout")
        return self(features, shift: shift, state: ViV1TGaussianReadout.state(of: input, frames: features.shape[2]))
    }

    /// Not available: this readout adds the behaviour state to every neuron's features. A
    /// precondition failure; call it with the model input (`callAsFunction(_:shift:input:)`) or
    /// the state (`callAsFunction(_:shift:state:sample:noise:)`).
    public func callAsFunction(_ features: Tensor, shift: Tensor?) -> Tensor {
        preconditionFailure("ViV1TGaussianReadout needs the behaviour state: call it with the model input (behaviour and pupil centre) or a state (B, T, \(configuration.stateFeatures)), not with the features \(features.shape) alone")
    }

    /// The state vector of the last `frames` frames of a model input: behaviour (B, 2, T) then
    /// pupil centre (B, 2, T) → (B, frames, 4), the reference's `[dilation, speed, pupil x, pupil y]`.
    public static func state(of input: ModelInput, frames: Int) -> Tensor {
        guard let behavior = input.behavior, let pupilCenter = input.pupilCenter else {
            preconditionFailure("ViV1TGaussianReadout needs the behaviour and the pupil centre of mouse \(input.mouse) (its state is [dilation, speed, pupil x, pupil y]); the input has behaviour \(input.behavior?.shape.description ?? "none"), pupil centre \(input.pupilCenter?.shape.description ?? "none")")
        }
        return Tensor.concatenate([ModelInput.lastFrames(behavior, frames), ModelInput.lastFrames(pupilCenter, frames)], axis: 2)
    }

    /// `reg_scale · Σ|features|` (zero in the paper).
    public func regularizer() -> Tensor {
        let weight = regScale.item
        guard weight != 0 else { return Tensor(scalar: 0) }
        return features.abs().sum() * weight
    }

    /// Sets the bias to the mean response of every neuron (n) (`readout_bias_mode` 2).
    public func initializeBias(meanResponses: Tensor) {
        precondition(meanResponses.count == neuronCount,
                     "ViV1TGaussianReadout.initializeBias: expected \(neuronCount) mean responses, got shape \(meanResponses.shape)")
        bias.assign(meanResponses)
    }

    override public var extraDescription: String { "\(inputChannels) channels -> \(neuronCount) neurons, state \(configuration.stateFeatures)" }
}

extension ViV1TGaussianReadout.Configuration: ReadoutConfiguration {
    /// The readout's name in model configurations: `{"type": "viv1tGaussian", "initSigma": 1, …}`.
    public static var typeName: String { "viv1tGaussian" }
    public static var defaults: Self { Self() }

    /// One readout per mouse of the context's channels, positions from each mouse's cortical
    /// coordinates (zeros when unknown, as for a model rebuilt before its weights, `source_grid`
    /// included, are loaded). Throws when the options cannot make a readout a model can feed: the
    /// state is the model input's behaviour and pupil centre, so `stateFeatures` must be 4.
    public func makeReadouts(for context: ReadoutContext, generator: RandomGenerator) throws -> PerMouseReadouts {
        func fail(_ message: String) -> ComponentError { .invalid(kind: ReadoutKind.name, type: Self.typeName, message: message) }
        guard stateFeatures == 4 else {
            throw fail("stateFeatures must be 4 (dilation, speed, pupil x, pupil y: the model input's behaviour and pupil centre), got \(stateFeatures)")
        }
        guard initSigma > 0 else { throw fail("initSigma must be positive, got \(initSigma)") }
        guard stateDropout >= 0 && stateDropout < 1 else { throw fail("stateDropout must be in [0, 1), got \(stateDropout)") }
        let network = positionNetwork
        guard network.inputDimensions > 0 && network.hiddenLayers >= 0 && network.hiddenFeatures > 0 else {
            throw fail("positionNetwork needs positive inputDimensions and hiddenFeatures and hiddenLayers ≥ 0, got \(network)")
        }
        let readouts = PerMouseReadouts()
        for m in context.mice {
            let coordinates = m.coordinates ?? Tensor.zeros([m.count, 3])
            guard coordinates.shape[1] >= positionNetwork.inputDimensions else {
                throw fail("mouse \(m.key) has \(coordinates.shape[1]) coordinate columns, the position network reads \(positionNetwork.inputDimensions)")
            }
            readouts.insert(ViV1TGaussianReadout(configuration: self, inputChannels: context.inputChannels,
                                                 coordinates: coordinates, generator: generator), for: m.key)
        }
        return readouts
    }
}
