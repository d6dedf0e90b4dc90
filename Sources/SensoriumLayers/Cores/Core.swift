import SensoriumTensor

/// A core: the shared feature extractor of a neural predictive model. It maps a video batch
/// (N, C, T, H, W) to features (N, C', T', H', W') that per-mouse readouts sample from.
///
/// Conform a ``Module`` subclass to write your own core; everything else (parameter discovery,
/// state dictionaries, train/eval) comes from ``Module``:
/// ```swift
/// final class TinyCore: Module, Core {
///     let conv: Conv3d
///     init(generator: RandomGenerator) {
///         conv = Conv3d(3, 16, kernelSize: [5, 7, 7], generator: generator)
///     }
///     func callAsFunction(_ x: Tensor) -> Tensor { conv(x).elu() }
///     var outputChannels: Int { 16 }
///     func outputShape(for s: [Int]) -> [Int] { conv.outputShape(for: s) }
///     var burnInFrames: Int { 4 }
///     func regularizer() -> Tensor { Tensor(scalar: 0) }
/// }
/// ```
public protocol Core: UnaryLayer {
    /// Number of feature channels C' of the output.
    var outputChannels: Int { get }

    /// The features for a whole model input (video, behaviour, pupil centre, mouse). Cores that
    /// read only the video get this from `callAsFunction(_ video:)`; a core that reads behaviour
    /// (Dynamic-V1FM's) implements it.
    func callAsFunction(_ input: ModelInput) -> Tensor

    /// The output shape (N, C', T', H', W') for an input shape (N, C, T, H, W).
    func outputShape(for inputShape: [Int]) -> [Int]

    /// Number of input frames consumed by valid temporal convolutions: `T' = T − burnInFrames`.
    /// Output frame `t'` is aligned with input frame `t' + burnInFrames`, so models compare outputs
    /// with the last `T'` target frames.
    var burnInFrames: Int { get }

    /// The core's regularisation term for its current weights (a scalar tensor, differentiable with
    /// respect to the parameters), already multiplied by the configured weights (gammas).
    func regularizer() -> Tensor

    /// Why the core cannot take inputs of shape (N, C, T, H, W), or nil when it can. A model asks
    /// this before ``outputShape(for:)`` for each mouse's frames, so that a configuration whose
    /// core cannot read the data is refused with this message instead of a precondition. Cores
    /// with fixed-size tables (position embeddings) implement it; the default is nil.
    func inputProblem(for inputShape: [Int]) -> String?

    /// Whether the core takes input channels 1… as constant over each frame (behaviour broadcast
    /// by the loader; ``Factorized3dCore/Configuration/constantInputChannels``), so that data
    /// augmentations that cut them (CutMix) must be refused. The default is false.
    var assumesConstantInputChannels: Bool { get }
}

extension Core {
    public var assumesConstantInputChannels: Bool { false }

    /// No shape problems beyond what ``outputShape(for:)`` shows (frames too small for valid
    /// convolutions give an empty feature map, which the model reports).
    public func inputProblem(for inputShape: [Int]) -> String? { nil }
}

/// A frame-wise (2-D) core: maps images (N, C, H, W) to features (N, C', H', W'); turned into a
/// video ``Core`` by ``FrameWiseCore``.
public protocol FrameCore: UnaryLayer {
    /// Number of feature channels C' of the output.
    var outputChannels: Int { get }
    /// The output shape (N, C', H', W') for an input shape (N, C, H, W).
    func outputShape(for inputShape: [Int]) -> [Int]
    /// The regularisation term for the current weights (scalar tensor), gammas applied.
    func regularizer() -> Tensor
}

/// The hidden nonlinearity of a built-in core.
public enum CoreNonlinearity: Equatable, Codable, Sendable {
    /// ELU with alpha 1.
    case elu
    /// neuralpredictors' `AdaptiveELU`: `ELU(x − xShift) + yShift`.
    case adaptiveELU(xShift: Float, yShift: Float)
    /// ReLU.
    case relu
    /// Softplus with β = 1.
    case softplus

    private enum CodingKeys: String, CodingKey, CaseIterable { case elu, adaptiveELU, relu, softplus }
    private enum ShiftKeys: String, CodingKey { case xShift, yShift }

    /// JSON `{"elu": {}}`, `{"adaptiveELU": {"xShift": 0, "yShift": 1}}`, `{"relu": {}}` or
    /// `{"softplus": {}}`; anything else is an error naming the keys found and the nearest known one.
    public init(from decoder: Decoder) throws {
        let known = CodingKeys.allCases.map(\.rawValue)
        let found = try decoder.container(keyedBy: AnyKey.self).allKeys.map(\.stringValue)
        guard found.count == 1, let key = CodingKeys(rawValue: found[0]) else {
            let hint = found.lazy.compactMap { nearest(to: $0, in: known) }.first.map { " (did you mean '\($0)'?)" } ?? ""
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                debugDescription: "expected one key among \(known.joined(separator: ", ")), found \(found.isEmpty ? "none" : found.map { "'\($0)'" }.joined(separator: ", "))\(hint)"))
        }
        let c = try decoder.container(keyedBy: CodingKeys.self)
        switch key {
        case .elu: self = .elu
        case .relu: self = .relu
        case .softplus: self = .softplus
        case .adaptiveELU:
            let shifts = try c.nestedContainer(keyedBy: ShiftKeys.self, forKey: .adaptiveELU)
            self = .adaptiveELU(xShift: try shifts.decode(Float.self, forKey: .xShift), yShift: try shifts.decode(Float.self, forKey: .yShift))
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .elu: _ = c.nestedContainer(keyedBy: ShiftKeys.self, forKey: .elu)
        case .relu: _ = c.nestedContainer(keyedBy: ShiftKeys.self, forKey: .relu)
        case .softplus: _ = c.nestedContainer(keyedBy: ShiftKeys.self, forKey: .softplus)
        case .adaptiveELU(let x, let y):
            var shifts = c.nestedContainer(keyedBy: ShiftKeys.self, forKey: .adaptiveELU)
            try shifts.encode(x, forKey: .xShift)
            try shifts.encode(y, forKey: .yShift)
        }
    }

    /// A new layer applying this nonlinearity.
    public func makeLayer() -> any UnaryLayer {
        switch self {
        case .elu: return ELU()
        case .adaptiveELU(let x, let y): return AdaptiveELU(xShift: x, yShift: y)
        case .relu: return ReLU()
        case .softplus: return Softplus()
        }
    }
}

/// Checks a per-layer option given as one value (for all layers) or one per layer.
func perLayer<T>(_ values: [T], count: Int, name: String, core: String) -> [T] {
    precondition(values.count == 1 || values.count == count,
                 "\(core): \(name) needs 1 or \(count) values, got \(values.count)")
    return values.count == 1 ? [T](repeating: values[0], count: count) : values
}

/// The spatial size after a convolution along one axis.
func convolvedSize(_ size: Int, kernel: Int, stride: Int = 1, padding: Int = 0, dilation: Int = 1) -> Int {
    (size + 2 * padding - dilation * (kernel - 1) - 1) / stride + 1
}

/// Applies a 2-D ``FrameCore`` to every frame of a video batch, then optionally a ``ConvGRU`` over
/// time: the GRU baseline's core (`twoD_core` in SENSORIUM's video encoder).
///
/// (N, C, T, H, W) → frames (N·T, C, H, W) → frame core → (N, C', T, H', W') → ConvGRU →
/// (N, R, T, H'', W''). No frames are consumed (the GRU state starts at zero for each clip).
/// Keys: `core.…` for the frame core and `gru_module.…` for the GRU, as in the reference model.
public final class FrameWiseCore: Module, Core {
    /// The per-frame core.
    public let core: any FrameCore
    /// The recurrent module, when present.
    public let gruModule: ConvGRU?

    override public class var keyOverrides: [String: String] { ["gruModule": "gru_module"] }

    /// A video core from a frame core and an optional ConvGRU whose input channels must equal the
    /// frame core's output channels.
    public init(core: any FrameCore, gru: ConvGRU? = nil) {
        if let gru {
            precondition(gru.cell.inputChannels == core.outputChannels,
                         "FrameWiseCore: the ConvGRU expects \(gru.cell.inputChannels) channels but the frame core gives \(core.outputChannels)")
        }
        self.core = core
        self.gruModule = gru
        super.init()
    }

    public var outputChannels: Int { gruModule?.cell.recChannels ?? core.outputChannels }

    public var burnInFrames: Int { 0 }

    public func outputShape(for inputShape: [Int]) -> [Int] {
        precondition(inputShape.count == 5, "FrameWiseCore: expected an input shape (N, C, T, H, W), got \(inputShape)")
        let frame = core.outputShape(for: [inputShape[0] * inputShape[2], inputShape[1], inputShape[3], inputShape[4]])
        let video = [inputShape[0], frame[1], inputShape[2], frame[2], frame[3]]
        return gruModule?.outputShape(for: video) ?? video
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        precondition(x.rank == 5, "FrameWiseCore: expected input (N, C, T, H, W), got shape \(x.shape)")
        let (n, c, t, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3], x.shape[4])
        let frames = x.permuted([0, 2, 1, 3, 4]).reshaped([n * t, c, h, w])
        let features = core(frames)
        let (c2, h2, w2) = (features.shape[1], features.shape[2], features.shape[3])
        let video = features.reshaped([n, t, c2, h2, w2]).permuted([0, 2, 1, 3, 4])
        return gruModule.map { $0(video) } ?? video
    }

    /// The frame core's regularizer (the ConvGRU is not regularised, as in the reference trainer).
    public func regularizer() -> Tensor { core.regularizer() }
}
