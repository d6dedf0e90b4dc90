import SensoriumTensor
import SensoriumLayers

/// The hierarchical Gaussian readout of Dynamic-V1FM (2nd place, SENSORIUM 2023): a
/// ``FullGaussian2d`` plus coarse "levels" over the **neuron index** whose predictions are
/// refined and fused with the full-resolution one.
///
/// For a coarse factor k (1, 2, 4, 8, 16) there are n / k pseudo-neurons. Pseudo-neuron j reads
/// the core at the (already sampled and shifted) position of neuron ⌊j·n / (n / k)⌋ with its own
/// feature vector (`_features{k}`, (1, C, 1, n / k)); its prediction goes through a scalar network
/// (`up_refine{k}`: `Conv1d(1, h)`, `ELU`, `Conv1d(h, 1)` without bias, h = 16·k) and is copied
/// back to all neurons by nearest resampling of the neuron axis (neuron i takes pseudo-neuron
/// ⌊i·(n / k) / n⌋, PyTorch's `nearest` rule). The full level and the active coarse levels are
/// fused by their mean, or by a learned gate (`fusion_block{L}`: mean over frames and neurons per
/// level, `Linear(L, L)`, `ReLU`, `Linear(L, L)`, `sigmoid`, weighted sum); then the bias is added.
/// Unlike the original, any number of frames works (it hard-codes 15).
///
/// Every coarse level's parameters exist even when it is not active, as in the original, so
/// checkpoints of all its modes share one layout.
public final class HierarchicalGaussianReadout: FullGaussian2d {
    /// How the levels are combined.
    public enum Fusion: String, Sendable, Codable, Equatable {
        /// The arithmetic mean of the full level and the active coarse levels.
        case mean
        /// A learned sigmoid gate per level (not normalised), from the level means.
        case adaptive
    }

    /// Options of the readout as Dynamic-V1FM builds it; the defaults are the paper's (positions from
    /// cortical coordinates by 2 → 32 → ELU → 2 → tanh, full covariance with `sigma` U(−0.2, 0.2),
    /// a bias, levels 2, 4, 8, 16 all fused adaptively, i.e. `infer_mode` "2_4_8_16").
    public struct Configuration: Codable, Equatable, Sendable {
        /// The network predicting positions from cortical coordinates (`mu_transform`).
        public var positionNetwork = PositionNetworkConfiguration(inputDimensions: 2, hiddenLayers: 1, hiddenFeatures: 32,
                                                                  finalTanh: true)
        /// The Gaussian's shape.
        public var covariance: GaussianCovariance = .full
        /// `sigma` starts U(−initSigma, initSigma) (full covariance).
        public var initSigma: Float = 0.2
        /// Whether there is a per-neuron bias.
        public var bias = true
        /// Coarse factors that own parameters (the reference: always 2, 4, 8, 16).
        public var levels = [2, 4, 8, 16]
        /// Coarse factors fused with the full level.
        public var activeLevels = [2, 4, 8, 16]
        /// The fusion rule.
        public var fusion: Fusion = .adaptive

        public init(positionNetwork: PositionNetworkConfiguration = .init(inputDimensions: 2, hiddenLayers: 1, hiddenFeatures: 32,
                                                                          finalTanh: true),
                    covariance: GaussianCovariance = .full, initSigma: Float = 0.2, bias: Bool = true,
                    levels: [Int] = [2, 4, 8, 16], activeLevels: [Int] = [2, 4, 8, 16], fusion: Fusion = .adaptive) {
            self.positionNetwork = positionNetwork
            self.covariance = covariance
            self.initSigma = initSigma
            self.bias = bias
            self.levels = levels
            self.activeLevels = activeLevels
            self.fusion = fusion
        }

        /// The active levels of the reference's `infer_mode`: "0" (the full level only) or factors
        /// joined by "_" ("2_4_8_16", "4_16", …), each one of `levels`.
        public static func activeLevels(inferMode: String, levels: [Int] = [2, 4, 8, 16]) throws(HierarchicalReadoutError) -> [Int] {
            if inferMode == "0" { return [] }
            var result: [Int] = []
            for part in inferMode.split(separator: "_", omittingEmptySubsequences: false) {
                guard let k = Int(part), levels.contains(k), !result.contains(k) else {
                    throw .unknownInferMode(inferMode, levels: levels)
                }
                result.append(k)
            }
            return result
        }
    }

    /// A readout for `neuronCount` neurons over `inputChannels` core channels whose positions come
    /// from `cellMotorCoordinates` (neurons, ≥ 2), as Dynamic-V1FM builds it.
    public convenience init(configuration: Configuration, inputChannels: Int, cellMotorCoordinates: Tensor,
                            generator: RandomGenerator) {
        self.init(inputChannels: inputChannels, neuronCount: cellMotorCoordinates.shape.first ?? 0,
                  covariance: configuration.covariance,
                  positions: .cortex(coordinates: cellMotorCoordinates, network: configuration.positionNetwork),
                  initSigma: configuration.initSigma, bias: configuration.bias, levels: configuration.levels,
                  activeLevels: configuration.activeLevels, fusion: configuration.fusion, generator: generator)
    }

    /// The coarse factors that own parameters (default 2, 4, 8, 16).
    public let levels: [Int]
    /// The coarse factors fused with the full level (the original's `infer_mode`; empty = the
    /// plain Gaussian readout).
    public var activeLevels: [Int] {
        didSet { for k in activeLevels { precondition(levels.contains(k), "HierarchicalGaussianReadout: level \(k) is not one of \(levels)") } }
    }
    /// The fusion rule.
    public let fusion: Fusion

    /// Feature weights of each coarse level, (1, C, 1, n / k), keyed by k.
    @Transient public private(set) var levelFeatures: [Int: Tensor] = [:]
    /// The refinement network of each coarse level, keyed by k.
    @Transient public private(set) var refinements: [Int: Sequential] = [:]
    /// The adaptive gates, keyed by the number of fused levels (2 … levels.count + 1).
    @Transient public private(set) var fusionBlocks: [Int: Sequential] = [:]

    private let downIndex: [Int: [Int]]
    private let upIndex: [Int: [Int]]

    /// A hierarchical readout. The Gaussian part takes the arguments of ``FullGaussian2d`` (its
    /// features are per neuron; Dynamic-V1FM predicts positions from cortical coordinates with a
    /// 2 → 32 → 2 network and starts `sigma` at U(-0.2, 0.2)).
    ///
    /// - Parameters:
    ///   - levels: coarse factors that own parameters; each must leave at least one pseudo-neuron.
    ///   - activeLevels: the levels fused with the full one (default: all).
    ///   - fusion: mean or adaptive.
    ///   - refinementWidth: hidden width of a level's refinement network (default 16·k).
    public init(inputChannels: Int, neuronCount: Int, covariance: GaussianCovariance = .full,
                positions: GaussianPositionSource = .free(), initSigma: Float = 0.2, bias: Bool = true,
                featureRegularization: Float = 0, levels: [Int] = [2, 4, 8, 16], activeLevels: [Int]? = nil,
                fusion: Fusion = .mean, refinementWidth: (Int) -> Int = { 16 * $0 },
                generator: RandomGenerator) {
        precondition(Set(levels).count == levels.count && levels.allSatisfy { $0 > 1 && neuronCount / $0 >= 1 },
                     "HierarchicalGaussianReadout: levels \(levels) must be distinct factors > 1 with at least one pseudo-neuron each for \(neuronCount) neurons")
        let active = activeLevels ?? levels
        for k in active { precondition(levels.contains(k), "HierarchicalGaussianReadout: active level \(k) is not one of \(levels)") }
        self.levels = levels
        self.activeLevels = active
        self.fusion = fusion
        var down: [Int: [Int]] = [:], up: [Int: [Int]] = [:]
        for k in levels {
            let coarse = neuronCount / k
            down[k] = nearestIndices(from: neuronCount, to: coarse)
            up[k] = nearestIndices(from: coarse, to: neuronCount)
        }
        downIndex = down
        upIndex = up
        super.init(inputChannels: inputChannels, neuronCount: neuronCount, covariance: covariance,
                   positions: positions, features: .own, initSigma: initSigma, bias: bias,
                   featureRegularization: featureRegularization, generator: generator)
        for k in levels {
            levelFeatures[k] = Tensor.full([1, inputChannels, 1, neuronCount / k], 1 / Float(inputChannels), requiresGrad: true)
            let width = refinementWidth(k)
            refinements[k] = Sequential(Conv1d(1, width, kernelSize: 1, generator: generator), ELU(),
                                        Conv1d(width, 1, kernelSize: 1, bias: false, generator: generator))
        }
        if fusion == .adaptive {
            for count in 2...(levels.count + 1) {
                fusionBlocks[count] = Sequential(named: [("module", Sequential(
                    Linear(count, count, generator: generator), ReLU(),
                    Linear(count, count, generator: generator), Sigmoid()))])
            }
        }
    }

    override public func directItems() -> [(key: String, item: ModuleItem)] {
        var items = super.directItems()
        for k in levels { items.append(("_features\(k)", .parameter(levelFeatures[k]!))) }
        for k in levels { items.append(("up_refine\(k)", .module(refinements[k]!))) }
        for count in fusionBlocks.keys.sorted() { items.append(("fusion_block\(count)", .module(fusionBlocks[count]!))) }
        return items
    }

    /// The nearest-neighbour maps of coarse level `k` along the neuron axis, as PyTorch computes
    /// them in float32: `down[j]` is the neuron whose position pseudo-neuron j reads, `up[i]` the
    /// pseudo-neuron whose prediction neuron i takes.
    public func levelIndexMaps(level k: Int) -> (down: [Int], up: [Int]) {
        guard let down = downIndex[k], let up = upIndex[k] else {
            preconditionFailure("HierarchicalGaussianReadout: level \(k) is not one of \(levels)")
        }
        return (down, up)
    }

    /// The prediction of coarse level `k` for every neuron (before fusion and bias), (frames, n).
    public func levelPrediction(_ x: Tensor, positions grid: Tensor, level k: Int) -> Tensor {
        let coarse = neuronCount / k
        let coarseGrid = grid.indexSelect(axis: 1, indices: downIndex[k]!)
        let y = gaussianReadoutSample(x, positions: coarseGrid,
                                      features: levelFeatures[k]!.reshaped([inputChannels, coarse]))
        // The refinement acts on each value alone, so refining before the nearest up-sampling
        // gives the same result at a k-th of the cost.
        let net = refinements[k]!
        let first = net[0] as! Convolution, last = net[2] as! Convolution
        let refined = scalarNetwork(y, inputWeight: first.weight.reshaped([-1]), inputBias: first.bias!,
                                    outputWeight: last.weight.reshaped([-1]))
        return refined.indexSelect(axis: 1, indices: upIndex[k]!)
    }

    override public func predictFrames(_ x: Tensor, shift: Tensor? = nil, sample: Bool? = nil, noise: Tensor? = nil) -> Tensor {
        precondition((x.rank == 4 || x.rank == 5) && x.shape[1] == inputChannels,
                     "HierarchicalGaussianReadout: expected x (M, \(inputChannels), H, W) or (N, \(inputChannels), T, H, W), got \(x.shape)")
        let batch = x.shape[0], time = x.rank == 5 ? x.shape[2] : 1
        let frames = batch * time
        let grid = shiftedPositions(frames: frames, shift: shift, sample: sample, noise: noise)
        var outputs = [gaussianReadoutSample(x, positions: grid, features: features)]
        for k in levels where activeLevels.contains(k) {
            outputs.append(levelPrediction(x, positions: grid, level: k))
        }
        var y: Tensor
        if outputs.count == 1 {
            y = outputs[0]
        } else if fusion == .mean {
            y = outputs.dropFirst().reduce(outputs[0], +) / Float(outputs.count)
        } else {
            // Per sample, the mean of each level over its frames and neurons, gated.
            let perSample = outputs.map { $0.reshaped([batch, time * neuronCount]) }
            let means = Tensor.stack(perSample.map { $0.mean(axis: 1) }, axis: 1)      // (batch, L)
            guard let block = fusionBlocks[outputs.count] else {
                preconditionFailure("HierarchicalGaussianReadout: no fusion block for \(outputs.count) levels")
            }
            let gates = block(means)                                                      // (batch, L)
            var fused = perSample[0] * gates.sliced(axis: 1, range: 0..<1)
            for l in 1..<perSample.count { fused = fused + perSample[l] * gates.sliced(axis: 1, range: l..<(l + 1)) }
            y = fused.reshaped([frames, neuronCount])
        }
        if let bias { y = y + bias }
        return y
    }

    override public var extraDescription: String {
        super.extraDescription + ", levels: \(levels), active: \(activeLevels), fusion: \(fusion.rawValue)"
    }
}

/// A hierarchical-readout option that cannot be used.
public enum HierarchicalReadoutError: Error, Equatable, CustomStringConvertible {
    /// An `infer_mode` that is not "0" or distinct factors of `levels` joined by "_".
    case unknownInferMode(String, levels: [Int])

    public var description: String {
        switch self {
        case .unknownInferMode(let mode, let levels):
            return "infer_mode \"\(mode)\" is neither \"0\" nor distinct levels of \(levels) joined by \"_\" (e.g. \"2_4_8_16\")"
        }
    }
}

/// PyTorch's `nearest` source index for every destination index when resampling `from` → `to`
/// elements: `min(⌊j · (from / to)⌋, from − 1)`, with the scale computed in Float32 as PyTorch does.
func nearestIndices(from source: Int, to destination: Int) -> [Int] {
    if source == destination { return Array(0..<destination) }
    if destination == 2 * source { return (0..<destination).map { $0 >> 1 } }
    let scale = Float(source) / Float(destination)
    return (0..<destination).map { j in min(Int((Float(j) * scale).rounded(.down)), source - 1) }
}
