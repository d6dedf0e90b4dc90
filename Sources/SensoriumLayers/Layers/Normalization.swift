import SensoriumTensor

/// Batch normalisation over axis 1 (channels), the shared implementation behind ``BatchNorm1d``,
/// ``BatchNorm2d`` and ``BatchNorm3d``, with PyTorch's semantics and state-dictionary keys
/// (`weight`, `bias`, `running_mean`, `running_var`, `num_batches_tracked`).
///
/// - Training mode normalises with the batch statistics (biased variance) and, when
///   `trackRunningStats` is on, updates the running statistics in place:
///   `running = (1 − momentum)·running + momentum·batch` with the unbiased batch variance, and
///   increments `num_batches_tracked`. With `momentum == nil` the update is a cumulative average
///   (momentum `1 / num_batches_tracked`).
/// - Evaluation mode normalises with the running statistics, or with the batch statistics when
///   running statistics are not tracked.
/// - The backward pass's replay of a checkpointed computation (``/SensoriumTensor/Recomputation``)
///   normalises with the batch statistics as training mode does but updates nothing.
/// - `affine` adds a learnable per-channel scale `weight` (init 1) and shift `bias` (init 0).
public class BatchNorm: Module, UnaryLayer {
    /// Per-channel scale (affine only).
    public var weight: Tensor?
    /// Per-channel shift (affine only).
    public var bias: Tensor?
    /// Running mean per channel (when tracked).
    @Buffer public var runningMean: Tensor?
    /// Running (unbiased) variance per channel (when tracked).
    @Buffer public var runningVar: Tensor?
    /// Number of training batches seen (when tracked); a scalar tensor.
    @Buffer public var numBatchesTracked: Tensor?
    /// Number of channels.
    public let numFeatures: Int
    /// Weight of the newest batch in the running update, or nil for a cumulative average.
    public var momentum: Float?
    /// Added to the variance before the square root.
    public var eps: Float
    /// Set by a data-parallel trainer for synchronised batch normalisation: in training mode the
    /// statistics are those of the batches of all processes (nil, the default: this batch only).
    @Transient public var statisticsReducer: (any BatchStatisticsReducer)? = nil
    private let allowedRanks: [Int]
    private let name: String

    override public class var keyOverrides: [String: String] {
        ["runningMean": "running_mean", "runningVar": "running_var", "numBatchesTracked": "num_batches_tracked"]
    }

    init(name: String, allowedRanks: [Int], numFeatures: Int, eps: Float, momentum: Float?, affine: Bool,
         trackRunningStats: Bool) {
        precondition(numFeatures > 0, "\(name): numFeatures must be positive, got \(numFeatures)")
        self.name = name
        self.allowedRanks = allowedRanks
        self.numFeatures = numFeatures
        self.eps = eps
        self.momentum = momentum
        if affine {
            weight = Tensor.ones([numFeatures], requiresGrad: true)
            bias = Tensor.zeros([numFeatures], requiresGrad: true)
        }
        runningMean = trackRunningStats ? Tensor.zeros([numFeatures]) : nil
        runningVar = trackRunningStats ? Tensor.ones([numFeatures]) : nil
        numBatchesTracked = trackRunningStats ? Tensor(scalar: 0) : nil
        super.init()
    }

    /// Whether running statistics are kept.
    public var tracksRunningStats: Bool { runningMean != nil }

    /// Resets the running statistics to mean 0, variance 1, and the batch counter to 0.
    public func resetRunningStats() {
        runningMean?.assign(Tensor.zeros([numFeatures]))
        runningVar?.assign(Tensor.ones([numFeatures]))
        numBatchesTracked?.assign(Tensor(scalar: 0))
    }

    public func callAsFunction(_ x: Tensor) -> Tensor { self(x, activation: .identity) }

    /// The normalisation followed by `activation` in one pass (the normalised values are not kept
    /// for the backward pass; see `batchNorm(_:…:activation:)`).
    public func callAsFunction(_ x: Tensor, activation: NormalizationActivation) -> Tensor {
        precondition(allowedRanks.contains(x.rank) && x.shape[1] == numFeatures,
                     "\(name): expected an input of rank \(allowedRanks.map(String.init).joined(separator: " or ")) with \(numFeatures) channels on axis 1, got shape \(x.shape)")
        // A checkpointed block's replay in the backward pass normalises with the same batch
        // statistics but leaves the running statistics alone: its forward pass updated them.
        let replay = isTraining && Recomputation.isActive
        var factor: Float = 0
        if isTraining, !replay, let counter = numBatchesTracked {
            counter.storage.pointer[0] += 1
            factor = momentum ?? 1 / counter.storage.pointer[0]
        }
        return batchNorm(x, runningMean: replay ? nil : runningMean, runningVar: replay ? nil : runningVar,
                         weight: weight, bias: bias,
                         training: isTraining || runningMean == nil, momentum: factor, eps: eps, activation: activation,
                         reducer: isTraining ? statisticsReducer : nil)
    }

    override public var extraDescription: String {
        "\(numFeatures), eps: \(eps), momentum: \(momentum.map { "\($0)" } ?? "cumulative"), affine: \(weight != nil), trackRunningStats: \(tracksRunningStats)"
    }
}

/// Batch normalisation of (N, C) or (N, C, L) inputs, like PyTorch's `nn.BatchNorm1d`.
public final class BatchNorm1d: BatchNorm {
    /// PyTorch's defaults: eps 1e-5, momentum 0.1, affine, tracking running statistics.
    public init(_ numFeatures: Int, eps: Float = 1e-5, momentum: Float? = 0.1, affine: Bool = true,
                trackRunningStats: Bool = true) {
        super.init(name: "BatchNorm1d", allowedRanks: [2, 3], numFeatures: numFeatures, eps: eps, momentum: momentum,
                   affine: affine, trackRunningStats: trackRunningStats)
    }
}

/// Batch normalisation of (N, C, H, W) inputs, like PyTorch's `nn.BatchNorm2d`.
public final class BatchNorm2d: BatchNorm {
    /// PyTorch's defaults: eps 1e-5, momentum 0.1, affine, tracking running statistics.
    public init(_ numFeatures: Int, eps: Float = 1e-5, momentum: Float? = 0.1, affine: Bool = true,
                trackRunningStats: Bool = true) {
        super.init(name: "BatchNorm2d", allowedRanks: [4], numFeatures: numFeatures, eps: eps, momentum: momentum,
                   affine: affine, trackRunningStats: trackRunningStats)
    }
}

/// Batch normalisation of (N, C, T, H, W) inputs, like PyTorch's `nn.BatchNorm3d`.
public final class BatchNorm3d: BatchNorm {
    /// PyTorch's defaults: eps 1e-5, momentum 0.1, affine, tracking running statistics.
    public init(_ numFeatures: Int, eps: Float = 1e-5, momentum: Float? = 0.1, affine: Bool = true,
                trackRunningStats: Bool = true) {
        super.init(name: "BatchNorm3d", allowedRanks: [5], numFeatures: numFeatures, eps: eps, momentum: momentum,
                   affine: affine, trackRunningStats: trackRunningStats)
    }
}

/// Layer normalisation over the trailing `normalizedShape` axes, like PyTorch's `nn.LayerNorm`
/// (keys `weight`, `bias`).
public final class LayerNorm: Module, UnaryLayer {
    /// Scale, shape `normalizedShape` (init 1), when element-wise affine.
    public var weight: Tensor?
    /// Shift, shape `normalizedShape` (init 0), when element-wise affine with bias.
    public var bias: Tensor?
    /// The trailing axes normalised over.
    public let normalizedShape: [Int]
    /// Added to the variance before the square root.
    public var eps: Float

    /// PyTorch's defaults: eps 1e-5, learnable weight and bias.
    public init(_ normalizedShape: [Int], eps: Float = 1e-5, elementwiseAffine: Bool = true, bias: Bool = true) {
        precondition(!normalizedShape.isEmpty && normalizedShape.allSatisfy { $0 > 0 },
                     "LayerNorm: normalizedShape must be non-empty and positive, got \(normalizedShape)")
        self.normalizedShape = normalizedShape
        self.eps = eps
        if elementwiseAffine {
            weight = Tensor.ones(normalizedShape, requiresGrad: true)
            if bias { self.bias = Tensor.zeros(normalizedShape, requiresGrad: true) }
        }
        super.init()
    }

    /// Normalisation over one trailing axis of `features` elements.
    public convenience init(_ features: Int, eps: Float = 1e-5, elementwiseAffine: Bool = true, bias: Bool = true) {
        self.init([features], eps: eps, elementwiseAffine: elementwiseAffine, bias: bias)
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        layerNorm(x, normalizedShape: normalizedShape, weight: weight, bias: bias, eps: eps)
    }

    override public var extraDescription: String { "\(normalizedShape), eps: \(eps), affine: \(weight != nil)" }
}
