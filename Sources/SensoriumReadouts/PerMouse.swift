import SensoriumTensor
import SensoriumLayers

/// One module per mouse, keyed by the mouse's data key (PyTorch's `ModuleDict`): state-dictionary
/// keys read `<key>.<parameter>`, so a model property `readout` of type ``PerMouseReadouts`` gives
/// `readout.<mouse>.features`-style keys, as in the SENSORIUM 2023 models. `Element` is a module
/// type or a class-bound protocol of modules (`any Readout`, `any Shifter`).
public final class PerMouse<Element>: Module {
    /// The data keys, in insertion order.
    public private(set) var keys: [String] = []
    private var elements: [String: Element] = [:]

    /// Modules for the given (data key, module) pairs; keys must be unique and contain no `"."`.
    public init(_ entries: [(String, Element)] = []) {
        super.init()
        for (key, element) in entries { insert(element, for: key) }
    }

    /// Adds (or replaces) the module of `key`.
    public func insert(_ element: Element, for key: String) {
        precondition(!key.isEmpty && !key.contains("."), "PerMouse: data key '\(key)' must be non-empty and contain no '.'")
        precondition(element is Module, "PerMouse: \(type(of: element)) is not a Module")
        if elements[key] == nil { keys.append(key) }
        elements[key] = element
    }

    /// The module of `key`, if any.
    public subscript(key: String) -> Element? { elements[key] }

    /// The module of `key`; a precondition names the known keys otherwise.
    public func require(_ key: String) -> Element {
        guard let e = elements[key] else {
            preconditionFailure("PerMouse: no entry for data key '\(key)'; known keys: \(keys)")
        }
        return e
    }

    /// Number of mice.
    public var count: Int { keys.count }

    override public func directItems() -> [(key: String, item: ModuleItem)] {
        keys.map { ($0, .module(elements[$0]! as! Module)) }
    }

    override public var extraDescription: String { "\(keys.count) mice" }
}

/// One readout per mouse.
public typealias PerMouseReadouts = PerMouse<any Readout>
/// One shifter per mouse (keys `shifter.<mouse>.mlp.0.weight` under a model property `shifter`).
public typealias PerMouseShifters = PerMouse<any Shifter>

extension PerMouse where Element == any Readout {
    /// Runs the readout of `dataKey` on core features (N, C, T, H, W) with an optional shift (N, T, 2).
    public func callAsFunction(_ features: Tensor, dataKey: String, shift: Tensor? = nil) -> Tensor {
        require(dataKey).callAsFunction(features, shift: shift)
    }

    /// The regulariser of the readout of `dataKey`.
    public func regularizer(dataKey: String) -> Tensor { require(dataKey).regularizer() }

    /// Sets the bias of each mouse's readout from its mean responses (neurons), for the keys given.
    public func initializeBiases(meanResponses: [String: Tensor]) {
        for (key, mean) in meanResponses { require(key).initializeBias(meanResponses: mean) }
    }
}

extension PerMouse where Element == any Shifter {
    /// MLP shifters (the baseline: 3 layers, 5 hidden channels) for each data key.
    public static func mlp(dataKeys: [String], inputFeatures: Int = 2, hiddenChannels: Int = 5, layers: Int = 3,
                           generator: RandomGenerator) -> PerMouseShifters {
        let result = PerMouseShifters()
        for key in dataKeys {
            result.insert(MLPShifter(inputFeatures: inputFeatures, hiddenChannels: hiddenChannels, layers: layers,
                                     generator: generator), for: key)
        }
        return result
    }

    /// The grid shift of `dataKey` for a pupil centre (…, 2).
    public func callAsFunction(_ pupilCenter: Tensor, dataKey: String) -> Tensor { require(dataKey).callAsFunction(pupilCenter) }

    /// The regulariser of the shifter of `dataKey`.
    public func regularizer(dataKey: String) -> Tensor { require(dataKey).regularizer() }
}

/// What a per-mouse Gaussian readout needs to know about one mouse.
public struct MouseNeurons {
    /// The data key.
    public var key: String
    /// Number of neurons.
    public var count: Int
    /// Cortical coordinates (neurons, ≥ 2) (`cell_motor_coordinates`), for predicted positions.
    public var coordinates: Tensor?
    /// One match id per neuron, for sharing features or positions across mice.
    public var matchIDs: [Int]?
    /// Height and width of the mouse's video frames, for readouts whose parameters depend on the
    /// size of the feature map (``FullFactorized2d``).
    public var frameSize: [Int]?

    /// Describes one mouse.
    public init(key: String, count: Int, coordinates: Tensor? = nil, matchIDs: [Int]? = nil, frameSize: [Int]? = nil) {
        self.key = key
        self.count = count
        self.coordinates = coordinates
        self.matchIDs = matchIDs
        self.frameSize = frameSize
    }
}

/// The settings of the per-mouse Gaussian readouts (the reference's `readout_dict`).
public struct GaussianReadoutConfiguration: Sendable, Codable, Equatable {
    /// Covariance type (baseline: full).
    public var covariance: GaussianCovariance
    /// Range of free initial positions (baseline: 0.2).
    public var initMuRange: Float
    /// Initial spread (baseline: 1).
    public var initSigma: Float
    /// Per-neuron bias (baseline: true).
    public var bias: Bool
    /// L1 weight on the features (baseline: 0).
    public var featureRegularization: Float
    /// Network predicting positions from cortical coordinates (baseline: 2 → 30 → 2, tanh); nil
    /// for free (or shared) positions.
    public var positionNetwork: PositionNetworkConfiguration?
    /// Share one position network across mice (`share_transform`).
    public var shareTransform: Bool
    /// Share positions across mice by match id (`share_grid`; needs match ids, no position network).
    public var shareGrid: Bool
    /// Share features across mice by match id (`share_features`).
    public var shareFeatures: Bool

    /// The SENSORIUM 2023 baseline settings by default.
    public init(covariance: GaussianCovariance = .full, initMuRange: Float = 0.2, initSigma: Float = 1, bias: Bool = true,
                featureRegularization: Float = 0, positionNetwork: PositionNetworkConfiguration? = .init(),
                shareTransform: Bool = false, shareGrid: Bool = false, shareFeatures: Bool = false) {
        self.covariance = covariance
        self.initMuRange = initMuRange
        self.initSigma = initSigma
        self.bias = bias
        self.featureRegularization = featureRegularization
        self.positionNetwork = positionNetwork
        self.shareTransform = shareTransform
        self.shareGrid = shareGrid
        self.shareFeatures = shareFeatures
    }
}

extension PerMouse where Element == any Readout {
    /// One ``FullGaussian2d`` per mouse, built as the reference's `MultipleFullGaussian2d`: positions
    /// from each mouse's cortical coordinates (optionally one shared network), or free, or shared
    /// by match id; features per mouse or shared by match id (the first mouse owns shared tensors).
    public static func fullGaussian2d(inputChannels: Int, mice: [MouseNeurons],
                                      configuration: GaussianReadoutConfiguration = .init(),
                                      generator: RandomGenerator) -> PerMouseReadouts {
        let c = configuration
        precondition(!(c.shareGrid && c.positionNetwork != nil),
                     "PerMouseReadouts.fullGaussian2d: shareGrid and a position network cannot both be set")
        func ids(_ mouse: MouseNeurons) -> [Int] {
            guard let ids = mouse.matchIDs else {
                preconditionFailure("PerMouseReadouts.fullGaussian2d: mouse '\(mouse.key)' needs match ids for sharing")
            }
            return ids
        }
        let allIDs = (c.shareGrid || c.shareFeatures) ? mice.flatMap(ids) : []
        let sharedPositions = c.shareGrid ? SharedPositions(matchIDs: allIDs, initRange: c.initMuRange, generator: generator) : nil
        let sharedFeatures = c.shareFeatures ? SharedFeatures(matchIDs: allIDs, channels: inputChannels) : nil
        var sharedNetwork: Sequential?
        let result = PerMouseReadouts()
        for mouse in mice {
            let positions: GaussianPositionSource
            if let network = c.positionNetwork {
                guard let coordinates = mouse.coordinates else {
                    preconditionFailure("PerMouseReadouts.fullGaussian2d: mouse '\(mouse.key)' needs cortical coordinates for the position network")
                }
                if c.shareTransform, let shared = sharedNetwork {
                    positions = .sharedNetwork(coordinates: coordinates, network: shared, configuration: network)
                } else {
                    positions = .cortex(coordinates: coordinates, network: network)
                }
            } else if let sharedPositions {
                positions = .matched(ids: ids(mouse), positions: sharedPositions)
            } else {
                positions = .free(initRange: c.initMuRange)
            }
            let features: GaussianFeatureSource = sharedFeatures.map { .matched(ids: ids(mouse), features: $0) } ?? .own
            let readout = FullGaussian2d(inputChannels: inputChannels, neuronCount: mouse.count, covariance: c.covariance,
                                         positions: positions, features: features, initSigma: c.initSigma, bias: c.bias,
                                         featureRegularization: c.featureRegularization, generator: generator)
            if c.shareTransform, sharedNetwork == nil { sharedNetwork = readout.positionNetwork as? Sequential }
            result.insert(readout, for: mouse.key)
        }
        return result
    }
}
