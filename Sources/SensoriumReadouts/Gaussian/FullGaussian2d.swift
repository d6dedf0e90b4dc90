import SensoriumTensor
import SensoriumLayers

/// The shape of each neuron's Gaussian over readout positions.
public enum GaussianCovariance: String, Sendable, Codable, Equatable, CaseIterable {
    /// A full 2 × 2 matrix per neuron (`sigma` of shape (1, n, 2, 2)); the sample is
    /// `mu + sigma · z`, so `sigma` is the square root of the covariance.
    case full
    /// One standard deviation per axis (`sigma` of shape (1, n, 1, 2)).
    case uncorrelated
    /// One standard deviation for both axes (`sigma` of shape (1, n, 1, 1)).
    case isotropic
}

/// The small network that predicts readout positions from cortical coordinates:
/// `Linear(d, h)`, then `hiddenLayers` × [`ELU`, `Linear`], the last one to 2, then optionally `Tanh`
/// (with `hiddenLayers == 0`, a single `Linear(d, 2)`).
public struct PositionNetworkConfiguration: Sendable, Codable, Equatable {
    /// How many leading columns of the coordinates are used (2: the cortical surface).
    public var inputDimensions: Int
    /// Number of ELU + Linear blocks after the first Linear.
    public var hiddenLayers: Int
    /// Width of the hidden layers.
    public var hiddenFeatures: Int
    /// Whether the output goes through `tanh` (keeps positions in (-1, 1)).
    public var finalTanh: Bool

    /// The SENSORIUM 2023 baseline: 2 → 30 → ELU → 2 → tanh.
    public init(inputDimensions: Int = 2, hiddenLayers: Int = 1, hiddenFeatures: Int = 30, finalTanh: Bool = true) {
        self.inputDimensions = inputDimensions
        self.hiddenLayers = hiddenLayers
        self.hiddenFeatures = hiddenFeatures
        self.finalTanh = finalTanh
    }

    /// Builds the network (PyTorch's default Linear initialisation), keyed `0`, `1`, … like the
    /// reference's `mu_transform`.
    public func makeNetwork(generator: RandomGenerator) -> Sequential {
        precondition(inputDimensions > 0 && hiddenLayers >= 0 && hiddenFeatures > 0,
                     "PositionNetworkConfiguration: invalid \(self)")
        var layers: [any UnaryLayer] = [Linear(inputDimensions, hiddenLayers > 0 ? hiddenFeatures : 2, generator: generator)]
        for i in 0..<hiddenLayers {
            layers.append(ELU())
            layers.append(Linear(hiddenFeatures, i < hiddenLayers - 1 ? hiddenFeatures : 2, generator: generator))
        }
        if finalTanh { layers.append(Tanh()) }
        return Sequential(layers)
    }

    /// The network input the reference builds from cortical coordinates `(n, ≥ d)`: the first `d`
    /// columns, centred by their column means and divided by the largest absolute value.
    public func sourceGrid(from coordinates: Tensor) -> Tensor {
        precondition(coordinates.rank == 2 && coordinates.shape[1] >= inputDimensions && coordinates.shape[0] > 0,
                     "PositionNetworkConfiguration.sourceGrid: expected coordinates (neurons, ≥ \(inputDimensions)), got \(coordinates.shape)")
        let n = coordinates.shape[0], columns = coordinates.shape[1], d = inputDimensions
        let src = coordinates.scalars
        var values = [Double](repeating: 0, count: n * d)
        for j in 0..<d {
            var mean = 0.0
            for i in 0..<n { mean += Double(src[i * columns + j]) }
            mean /= Double(n)
            for i in 0..<n { values[i * d + j] = Double(src[i * columns + j]) - mean }
        }
        let largest = values.reduce(0) { max($0, abs($1)) }
        let scale = largest > 0 ? 1 / largest : 1
        return Tensor(values.map { Float($0 * scale) }, shape: [n, d])
    }
}

/// Positions shared by several readouts through match ids (the same physical neuron recorded in
/// several sessions). The first readout built with it owns `positions`; the others map them
/// through their own affine transform (initialised to the identity).
public final class SharedPositions {
    /// The sorted distinct match ids; shared position `i` belongs to `ids[i]`.
    public let ids: [Int]
    /// (1, ids.count, 1, 2), initialised U(-initRange, initRange).
    public let positions: Tensor
    var claimed = false

    /// Positions for the distinct values of `matchIDs`.
    public init(matchIDs: [Int], initRange: Float = 0.2, generator: RandomGenerator) {
        precondition(initRange > 0 && initRange <= 1, "SharedPositions: initRange must be in (0, 1], got \(initRange)")
        ids = Array(Set(matchIDs)).sorted()
        precondition(!ids.isEmpty, "SharedPositions: no match ids")
        positions = Tensor.randomUniform([1, ids.count, 1, 2], low: -initRange, high: initRange, generator: generator)
        positions.requiresGrad = true
    }
}

/// Feature vectors shared by several readouts through match ids. The first readout built with it
/// owns (and regularises) `features`; every readout scales them per neuron.
public final class SharedFeatures {
    /// The sorted distinct match ids; shared feature column `i` belongs to `ids[i]`.
    public let ids: [Int]
    /// (1, C, 1, ids.count), initialised to 1 / C.
    public let features: Tensor
    var claimed = false

    /// Features over `channels` core channels for the distinct values of `matchIDs`.
    public init(matchIDs: [Int], channels: Int) {
        precondition(channels > 0, "SharedFeatures: channels must be positive, got \(channels)")
        ids = Array(Set(matchIDs)).sorted()
        precondition(!ids.isEmpty, "SharedFeatures: no match ids")
        features = Tensor.full([1, channels, 1, ids.count], 1 / Float(channels), requiresGrad: true)
    }
}

/// Where a Gaussian readout's mean positions come from.
public enum GaussianPositionSource {
    /// Free per-neuron positions (`_mu`, shape (1, n, 1, 2)), initialised U(-initRange, initRange)
    /// and clamped to [-1, 1] in place before every forward pass.
    case free(initRange: Float = 0.2)
    /// Predicted from cortical coordinates `(n, ≥ d)` by a new network (`mu_transform`), whose input
    /// (`source_grid`) is the coordinates centred and scaled as the reference does.
    case cortex(coordinates: Tensor, network: PositionNetworkConfiguration = .init())
    /// Predicted from cortical coordinates by an existing network shared with other readouts
    /// (`share_transform`); `configuration` must describe that network.
    case sharedNetwork(coordinates: Tensor, network: Sequential,
                       configuration: PositionNetworkConfiguration = .init())
    /// Shared across readouts by match id (one id per neuron).
    case matched(ids: [Int], positions: SharedPositions)
}

/// Where a Gaussian readout's feature vectors come from.
public enum GaussianFeatureSource {
    /// One feature vector per neuron (`_features`, shape (1, C, 1, n)), initialised to 1 / C.
    case own
    /// Shared across readouts by match id (one id per neuron), times a per-neuron `scales` (init 1).
    case matched(ids: [Int], features: SharedFeatures)
}

/// The Gaussian readout of `neuralpredictors` (`FullGaussian2d`), used by the SENSORIUM 2023
/// baselines: each neuron reads the core features at one position, bilinearly interpolated, and
/// takes a dot product with its own feature vector, plus a bias.
///
/// - In training mode the position is drawn from the neuron's Gaussian, anew for every frame and
///   neuron (from ``generator``); in evaluation mode it is the mean. Positions are clamped to
///   [-1, 1]; a shifter's per-frame shift is added after the clamp (and may leave the map, where
///   features read zero).
/// - Sampling is bilinear with zero padding and, by default, `align_corners=True` (-1 and 1 are the centres of
///   the border pixels), fused with the dot product (``gaussianReadoutSample(_:positions:features:alignCorners:)``),
///   so no (frames × channels × neurons) tensor is ever built.
/// - Mean positions are free parameters, predicted from cortical coordinates by a small network,
///   or shared across mice by match id (``GaussianPositionSource``); features are per neuron or
///   shared by match id (``GaussianFeatureSource``).
/// - State-dictionary keys are the reference's: `_mu`, `mu_transform.*`, `source_grid`,
///   `grid_sharing_index`, `sigma`, `_features`, `scales`, `feature_sharing_index`, `bias`.
open class FullGaussian2d: Module, Readout {
    /// Number of core channels.
    public let inputChannels: Int
    /// Number of neurons.
    public let neuronCount: Int
    /// The covariance type.
    public let covariance: GaussianCovariance
    /// How positions map to pixels (PyTorch's `align_corners`; the baselines use `true`).
    public let alignCorners: Bool
    /// Weight of the L1 penalty on the features (the reference's `feature_reg_weight` /
    /// `gamma_readout`; 0 in the SENSORIUM 2023 baselines, the default here).
    public var featureRegularization: Float
    /// How the L1 penalty is reduced.
    public var regularizerReduction: RegularizerReduction
    /// Source of the training-mode position samples.
    @Transient public var generator: RandomGenerator

    /// Free or shared mean positions (`_mu`): (1, n, 1, 2) when free, (1, ids, 1, 2) when matched.
    public var freePositions: Tensor? {
        didSet { checkShape(freePositions, oldValue, "freePositions") }
    }
    /// The network predicting positions (`mu_transform`): the cortex network, or the identity-
    /// initialised affine map of a readout that borrows matched positions.
    public private(set) var positionNetwork: (any UnaryLayer)?
    /// The network input (`source_grid`, (n, d)) for positions predicted from coordinates.
    @Buffer public var sourceGrid: Tensor?
    /// Index of each neuron's shared position (`grid_sharing_index`, integers stored as Float).
    @Buffer public var gridSharingIndex: Tensor?
    /// The Gaussian's spread: (1, n, 2, 2), (1, n, 1, 2) or (1, n, 1, 1) by ``covariance``.
    public var sigma: Tensor {
        didSet { checkShape(sigma, oldValue, "sigma") }
    }
    /// Feature weights (`_features`): (1, C, 1, n), or (1, C, 1, ids) when shared.
    public var featureWeights: Tensor {
        didSet { checkShape(featureWeights, oldValue, "featureWeights") }
    }
    /// Per-neuron scale of shared features (`scales`, (1, 1, 1, n)).
    public var scales: Tensor?
    /// Index of each neuron's shared feature vector (`feature_sharing_index`).
    @Buffer public var featureSharingIndex: Tensor?
    /// Per-neuron bias (n), or nil.
    public var bias: Tensor? {
        didSet { if let bias { precondition(bias.shape == [neuronCount], "FullGaussian2d: bias must be (\(neuronCount)), got \(bias.shape)") } }
    }

    private enum PositionMode { case free, network, matchedOwner, matchedBorrower }
    private let positionMode: PositionMode
    private let gridIndex: [Int]?
    private let featureIndex: [Int]?
    /// Whether this readout owns (and so regularises) its feature weights.
    public let ownsFeatures: Bool

    override open class var keyOverrides: [String: String] {
        ["freePositions": "_mu", "positionNetwork": "mu_transform", "sourceGrid": "source_grid",
         "gridSharingIndex": "grid_sharing_index", "featureWeights": "_features",
         "featureSharingIndex": "feature_sharing_index"]
    }

    /// A Gaussian readout over `inputChannels` core channels for `neuronCount` neurons.
    ///
    /// - Parameters:
    ///   - covariance: full (the baselines), uncorrelated or isotropic.
    ///   - positions: free, from cortical coordinates (the baselines: ``GaussianPositionSource/cortex(coordinates:network:)``
    ///     with the default network), from a shared network, or shared by match id.
    ///   - features: per neuron (default) or shared by match id.
    ///   - initSigma: `sigma` starts U(-initSigma, initSigma) for full covariance, else at `initSigma`.
    ///   - bias: whether there is a per-neuron bias (initialised to 0; see ``initializeBias(meanResponses:)``).
    ///   - featureRegularization: weight of the L1 penalty on the features.
    ///   - alignCorners: positions -1 and 1 are the centres of the border pixels (`true`, the
    ///     baselines') or their outer edges (`false`), as PyTorch's `align_corners`.
    ///   - generator: draws the initial values and, in training mode, the position samples.
    public init(inputChannels: Int, neuronCount: Int, covariance: GaussianCovariance = .full,
                positions: GaussianPositionSource = .free(), features: GaussianFeatureSource = .own,
                initSigma: Float = 1, bias: Bool = true, featureRegularization: Float = 0,
                regularizerReduction: RegularizerReduction = .sum, alignCorners: Bool = true, generator: RandomGenerator) {
        precondition(inputChannels > 0 && neuronCount > 0,
                     "FullGaussian2d: inputChannels and neuronCount must be positive, got \(inputChannels) and \(neuronCount)")
        precondition(initSigma > 0, "FullGaussian2d: initSigma must be positive, got \(initSigma)")
        self.inputChannels = inputChannels
        self.neuronCount = neuronCount
        self.covariance = covariance
        self.featureRegularization = featureRegularization
        self.regularizerReduction = regularizerReduction
        self.alignCorners = alignCorners
        self.generator = generator
        let n = neuronCount

        switch positions {
        case .free(let initRange):
            precondition(initRange > 0 && initRange <= 1, "FullGaussian2d: initRange must be in (0, 1], got \(initRange)")
            freePositions = Tensor.randomUniform([1, n, 1, 2], low: -initRange, high: initRange,
                                                 generator: generator, requiresGrad: true)
            positionMode = .free
            gridIndex = nil
        case .cortex(let coordinates, let configuration):
            precondition(coordinates.rank == 2 && coordinates.shape[0] == n,
                         "FullGaussian2d: cortical coordinates must be (\(n), ≥ \(configuration.inputDimensions)), got \(coordinates.shape)")
            positionNetwork = configuration.makeNetwork(generator: generator)
            sourceGrid = configuration.sourceGrid(from: coordinates)
            positionMode = .network
            gridIndex = nil
        case .sharedNetwork(let coordinates, let network, let configuration):
            precondition(coordinates.rank == 2 && coordinates.shape[0] == n,
                         "FullGaussian2d: cortical coordinates must be (\(n), ≥ \(configuration.inputDimensions)), got \(coordinates.shape)")
            positionNetwork = network
            sourceGrid = configuration.sourceGrid(from: coordinates)
            positionMode = .network
            gridIndex = nil
        case .matched(let ids, let shared):
            let index = FullGaussian2d.sharingIndex(ids, in: shared.ids, neurons: n, what: "position")
            freePositions = shared.positions
            gridSharingIndex = Tensor(index.map(Float.init), shape: [n])
            gridIndex = index
            if shared.claimed {
                let affine = Linear(weight: Tensor.eye(2, requiresGrad: true), bias: Tensor.zeros([2], requiresGrad: true))
                positionNetwork = affine
                positionMode = .matchedBorrower
            } else {
                shared.claimed = true
                positionMode = .matchedOwner
            }
        }

        switch covariance {
        case .full:
            sigma = Tensor.randomUniform([1, n, 2, 2], low: -initSigma, high: initSigma, generator: generator, requiresGrad: true)
        case .uncorrelated:
            sigma = Tensor.full([1, n, 1, 2], initSigma, requiresGrad: true)
        case .isotropic:
            sigma = Tensor.full([1, n, 1, 1], initSigma, requiresGrad: true)
        }

        switch features {
        case .own:
            featureWeights = Tensor.full([1, inputChannels, 1, n], 1 / Float(inputChannels), requiresGrad: true)
            featureIndex = nil
            ownsFeatures = true
        case .matched(let ids, let shared):
            precondition(shared.features.shape[1] == inputChannels,
                         "FullGaussian2d: shared features have \(shared.features.shape[1]) channels, the readout \(inputChannels)")
            let index = FullGaussian2d.sharingIndex(ids, in: shared.ids, neurons: n, what: "feature")
            featureWeights = shared.features
            scales = Tensor.ones([1, 1, 1, n], requiresGrad: true)
            featureSharingIndex = Tensor(index.map(Float.init), shape: [n])
            featureIndex = index
            ownsFeatures = !shared.claimed
            shared.claimed = true
        }
        if bias { self.bias = Tensor.zeros([n], requiresGrad: true) }
        super.init()
    }

    private static func sharingIndex(_ ids: [Int], in shared: [Int], neurons: Int, what: String) -> [Int] {
        precondition(ids.count == neurons, "FullGaussian2d: \(ids.count) \(what) match ids for \(neurons) neurons")
        var lookup: [Int: Int] = [:]
        for (i, id) in shared.enumerated() { lookup[id] = i }
        return ids.map { id in
            guard let i = lookup[id] else { preconditionFailure("FullGaussian2d: \(what) match id \(id) is not among the shared ids") }
            return i
        }
    }

    private func checkShape(_ new: Tensor?, _ old: Tensor?, _ name: String) {
        guard let new, let old else { return }
        precondition(new.shape == old.shape, "FullGaussian2d: \(name) must keep its shape \(old.shape), got \(new.shape)")
    }

    // MARK: Positions and features

    /// The mean position of every neuron, (n, 2) as (x, y); differentiable. Free positions are first
    /// clamped to [-1, 1] in place (outside autodiff), as the reference does.
    public func meanPositions() -> Tensor {
        let n = neuronCount
        switch positionMode {
        case .free:
            let mu = freePositions!
            mu.withUnsafeMutableBufferPointer { p in
                for i in p.indices { p[i] = min(max(p[i], -1), 1) }
            }
            return mu.reshaped([n, 2])
        case .network:
            return positionNetwork!(sourceGrid!).reshaped([n, 2])
        case .matchedOwner:
            let shared = freePositions!
            return shared.reshaped([shared.shape[1], 2]).indexSelect(axis: 0, indices: gridIndex!)
        case .matchedBorrower:
            let shared = freePositions!
            return positionNetwork!(shared.reshaped([shared.shape[1], 2])).indexSelect(axis: 0, indices: gridIndex!)
        }
    }

    /// The feature vector of every neuron, (C, n); differentiable.
    public var features: Tensor {
        if let featureIndex, let scales {
            let shared = featureWeights.reshaped([inputChannels, featureWeights.shape[3]])
            return shared.indexSelect(axis: 1, indices: featureIndex) * scales.reshaped([1, neuronCount])
        }
        return featureWeights.reshaped([inputChannels, neuronCount])
    }

    /// The read-out positions for `frames` frames, clamped to [-1, 1]: samples from each neuron's
    /// Gaussian, (frames, n, 2), when sampling; the means, (1, n, 2), otherwise.
    ///
    /// - Parameters:
    ///   - sample: whether to sample; `nil` samples in training mode only (the reference's rule).
    ///   - noise: the standard-normal draws `(frames, n, 2)` to use instead of drawing from
    ///     ``generator`` (for reproducing a reference computation).
    public func samplePositions(frames: Int, sample: Bool? = nil, noise: Tensor? = nil) -> Tensor {
        let n = neuronCount
        let mu = meanPositions().reshaped([1, n, 2])
        guard sample ?? isTraining else { return mu.clamped(min: -1, max: 1) }
        let z = noise ?? Tensor.randomNormal([frames, n, 2], generator: generator)
        precondition(z.shape == [frames, n, 2], "FullGaussian2d: noise must be \([frames, n, 2]), got \(z.shape)")
        let grid: Tensor
        switch covariance {
        case .full:
            grid = (sigma.reshaped([1, n, 2, 2]) * z.reshaped([frames, n, 1, 2])).sum(axis: 3) + mu
        case .uncorrelated:
            grid = z * sigma.reshaped([1, n, 2]) + mu
        case .isotropic:
            grid = z * sigma.reshaped([1, n, 1]) + mu
        }
        return grid.clamped(min: -1, max: 1)
    }

    /// Positions for `frames` frames with the per-frame `shift` (frames, 2) added after the clamp;
    /// always (frames, n, 2).
    public func shiftedPositions(frames: Int, shift: Tensor?, sample: Bool? = nil, noise: Tensor? = nil) -> Tensor {
        var grid = samplePositions(frames: frames, sample: sample, noise: noise)
        if let shift {
            precondition(shift.shape == [frames, 2], "FullGaussian2d: shift must be \([frames, 2]), got \(shift.shape)")
            grid = grid + shift.reshaped([frames, 1, 2])
        }
        if grid.shape[0] != frames { grid = grid.expanded(to: [frames, neuronCount, 2]) }
        return grid
    }

    // MARK: Forward

    /// Predictions for individual frames: `x` is (M, C, H, W) (or (N, C, T, H, W), read as M = N·T
    /// frames), `shift` (M, 2); returns (M, n). This is the reference's forward on images.
    open func predictFrames(_ x: Tensor, shift: Tensor? = nil, sample: Bool? = nil, noise: Tensor? = nil) -> Tensor {
        precondition((x.rank == 4 || x.rank == 5) && x.shape[1] == inputChannels,
                     "FullGaussian2d: expected x (M, \(inputChannels), H, W) or (N, \(inputChannels), T, H, W), got \(x.shape)")
        let frames = x.rank == 5 ? x.shape[0] * x.shape[2] : x.shape[0]
        let grid = shiftedPositions(frames: frames, shift: shift, sample: sample, noise: noise)
        let y = gaussianReadoutSample(x, positions: grid, features: features, alignCorners: alignCorners)
        return bias.map { y + $0 } ?? y
    }

    open func callAsFunction(_ features: Tensor, shift: Tensor?) -> Tensor {
        checkInput(features, shift: shift, readout: "FullGaussian2d")
        let batch = features.shape[0], time = features.shape[2]
        let y = predictFrames(features, shift: shift?.reshaped([batch * time, 2]))
        return y.reshaped([batch, time, neuronCount])
    }

    // MARK: Regularisation and bias

    /// `featureRegularization · Σ|features|` (or the mean), zero for a readout that borrows shared
    /// features (the owner regularises them).
    open func regularizer() -> Tensor {
        guard ownsFeatures, featureRegularization != 0 else { return Tensor(scalar: 0) }
        let l1 = features.abs()
        let reduced = regularizerReduction == .sum ? l1.sum() : l1.mean()
        return reduced * featureRegularization
    }

    /// Sets the bias to `meanResponses` (n), the reference's initialisation from one training
    /// batch; does nothing without a bias.
    open func initializeBias(meanResponses: Tensor) {
        guard let bias else { return }
        precondition(meanResponses.count == neuronCount,
                     "FullGaussian2d.initializeBias: expected \(neuronCount) mean responses, got shape \(meanResponses.shape)")
        bias.assign(meanResponses)
    }

    override open var extraDescription: String {
        "\(inputChannels) channels -> \(neuronCount) neurons, \(covariance.rawValue), positions: \(positionMode)"
    }
}
