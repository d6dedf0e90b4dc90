import SensoriumTensor
import SensoriumLayers

/// The readout of DwiseNeuro (1st place, SENSORIUM 2023): spatial average pooling of the features,
/// channel dropout, a grouped 1 × 1 convolution to the neurons, and softplus.
///
/// Input (N, C, T, H, W) (usually the output of a pooled ``/SensoriumLayers/Cortex``, H = W = 1); the spatial axes
/// are averaged, channels are dropped whole in training (`Dropout1d`), a `Conv1d(C, ⌈n/g⌉·g, 1,
/// groups: g)` with bias predicts the neurons (the first n outputs are kept, so neurons in group i
/// see only channel block i), and ``gate`` (softplus, β fixed or learned) makes them positive.
/// Output (N, T, n). The shift is ignored (DwiseNeuro feeds the pupil position as input channels).
/// Keys: `layer.1.weight`, `layer.1.bias` (and `gate.beta` when β is learned).
public final class GroupedConvReadout: Module, Readout {
    /// The settings of one mouse's ``GroupedConvReadout``; the defaults other than `inputChannels`
    /// and `neuronCount` are DwiseNeuro's paper configuration.
    public struct Configuration: Codable, Sendable, Equatable {
        /// Convolution groups (DwiseNeuro 2).
        public var groups: Int
        /// Channel-dropout probability in training (DwiseNeuro 0.4).
        public var dropout: Float
        /// β of the softplus (DwiseNeuro 0.07; threshold 20); nil gives linear outputs.
        public var softplusBeta: Float?
        /// Whether β is trained (DwiseNeuro: no).
        public var learnableBeta: Bool

        /// DwiseNeuro's settings by default: the one home of this readout's defaults.
        public init(groups: Int = 2, dropout: Float = 0.4, softplusBeta: Float? = 0.07, learnableBeta: Bool = false) {
            self.groups = groups
            self.dropout = dropout
            self.softplusBeta = softplusBeta
            self.learnableBeta = learnableBeta
        }
    }

    /// Channel dropout (`layer.0`) and the grouped convolution (`layer.1`).
    public let layer: Sequential
    /// The output nonlinearity (softplus), or nil for linear outputs.
    public let gate: (any UnaryLayer)?
    public let inputChannels: Int
    public let neuronCount: Int
    /// Convolution groups.
    public let groups: Int

    /// A readout for `neuronCount` neurons over `inputChannels` channels.
    ///
    /// Weights start as DwiseNeuro initialises them (N(0, 2 / fan_out), fan_out = ⌈n/g⌉·g / g;
    /// zero bias; see ``/SensoriumLayers/Module/applyDwiseNeuroInitialization(generator:)``).
    ///
    /// - Parameters:
    ///   - inputChannels: channels of the features (divisible by the groups).
    ///   - neuronCount: neurons n.
    ///   - configuration: groups, channel dropout and the softplus gate.
    public init(inputChannels: Int, neuronCount: Int, configuration c: Configuration = .defaults, generator: RandomGenerator) {
        let groups = c.groups
        precondition(inputChannels > 0 && neuronCount > 0 && groups > 0 && inputChannels % groups == 0,
                     "GroupedConvReadout: inputChannels \(inputChannels) must be positive and divisible by groups \(groups); neuronCount \(neuronCount) positive")
        let outputs = (neuronCount + groups - 1) / groups * groups
        let conv = Conv1d(inputChannels, outputs, kernelSize: 1, groups: groups, bias: true, generator: generator)
        layer = Sequential(FeatureDropout(p: c.dropout, generator: generator), conv)
        gate = c.softplusBeta.map { SoftplusOutput(beta: $0, learnable: c.learnableBeta) }
        self.inputChannels = inputChannels
        self.neuronCount = neuronCount
        self.groups = groups
        super.init()
        applyDwiseNeuroInitialization(generator: generator)
    }

    /// The grouped convolution.
    public var convolution: Conv1d { layer[1] as! Conv1d }

    public var appliesOutputNonlinearity: Bool { gate != nil }

    public func callAsFunction(_ features: Tensor, shift: Tensor?) -> Tensor {
        checkInput(features, shift: shift, readout: "GroupedConvReadout")
        let pooled = features.shape[3] * features.shape[4] == 1
            ? features.reshaped(Array(features.shape.prefix(3)))
            : features.mean(axes: [3, 4])                                        // (N, C, T)
        var y = layer(pooled)                                                   // (N, ⌈n/g⌉·g, T)
        if y.shape[1] != neuronCount { y = y.sliced(axis: 1, range: 0..<neuronCount) }
        if let gate { y = gate(y) }
        return y.transposed(1, 2)                                               // (N, T, n)
    }

    /// Sets the convolution bias so that, on zero input, the output equals `meanResponses`:
    /// the inverse of the softplus gate (`log(e^(β·m) − 1) / β`, responses clamped to ≥ 1e-4),
    /// or the means themselves without a gate.
    public func initializeBias(meanResponses: Tensor) {
        precondition(meanResponses.count == neuronCount,
                     "GroupedConvReadout.initializeBias: expected \(neuronCount) mean responses, got shape \(meanResponses.shape)")
        guard let bias = convolution.bias else { return }
        let beta: Float? = (gate as? SoftplusOutput)?.currentBeta
        let means = meanResponses.scalars
        bias.withUnsafeMutableBufferPointer { b in
            for i in 0..<neuronCount {
                guard let beta else { b[i] = means[i]; continue }
                let m = max(means[i], 1e-4)
                let z = beta * m
                b[i] = z > 20 ? m : log(expm1(z)) / beta
            }
        }
    }

    override public var extraDescription: String { "\(inputChannels) -> \(neuronCount), groups: \(groups)" }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
