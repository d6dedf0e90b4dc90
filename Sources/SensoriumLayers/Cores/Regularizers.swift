import SensoriumTensor

/// A fixed 2-D Laplace filter applied by convolution (neuralpredictors' `Laplace`); the filter is a
/// buffer (`filter`, shape (1, 1, k, k)) so it is saved with the model as in PyTorch.
public final class LaplaceFilter2d: Module {
    /// (1, 1, k, k).
    @Buffer public var filter: Tensor
    /// Zero padding on each side.
    public let padding: Int

    /// The 3×3 Laplace filter `[[0, −1, 0], [−1, 4, −1], [0, −1, 0]]` (or the 5×5 / 7×7 Laplacian of
    /// Gaussian); padding defaults to half the filter size.
    public init(filterSize: Int = 3, padding: Int? = nil) {
        let values: [Float]
        switch filterSize {
        case 3: values = [0, -1, 0, -1, 4, -1, 0, -1, 0]
        case 5: values = [0, 0, 1, 0, 0, 0, 1, 2, 1, 0, 1, 2, -16, 2, 1, 0, 1, 2, 1, 0, 0, 0, 1, 0, 0]
        case 7: values = [0, 0, 1, 1, 1, 0, 0, 0, 1, 3, 3, 3, 1, 0, 1, 3, 0, -7, 0, 3, 1, 1, 3, -7, -24, -7, 3, 1,
                          1, 3, 0, -7, 0, 3, 1, 0, 1, 3, 3, 3, 1, 0, 0, 0, 1, 1, 1, 0, 0]
        default: preconditionFailure("LaplaceFilter2d: filterSize must be 3, 5 or 7, got \(filterSize)")
        }
        filter = Tensor(values, shape: [1, 1, filterSize, filterSize])
        self.padding = padding ?? filterSize / 2
        super.init()
    }

    /// Filters (M, 1, H, W) images.
    public func callAsFunction(_ x: Tensor) -> Tensor {
        conv2d(x, weight: filter, padding: [padding])
    }
}

/// The 1-D filter `[−1, 4, −1]` applied by convolution (neuralpredictors' `Laplace1d`; note it
/// sums to 2, so it also penalises magnitude); buffer `filter`, shape (1, 1, 3).
public final class LaplaceFilter1d: Module {
    /// (1, 1, 3).
    @Buffer public var filter: Tensor
    /// Zero padding on each side.
    public let padding: Int

    /// The filter with padding 1 unless given.
    public init(padding: Int? = nil) {
        filter = Tensor([-1, 4, -1], shape: [1, 1, 3])
        self.padding = padding ?? 1
        super.init()
    }

    /// Filters (M, 1, L) signals.
    public func callAsFunction(_ x: Tensor) -> Tensor {
        conv1d(x, weight: filter, padding: [padding])
    }
}

/// Smoothness regularisers for the 2-D filters of a convolution weight (out, in, kH, kW), as in
/// neuralpredictors (each filter is Laplace-filtered with zero padding):
/// - ``Kind/l2norm`` (`LaplaceL2norm`): `agg(Lw²) / agg(w²)` with `agg` a sum (or mean when
///   averaging) — scale-free;
/// - ``Kind/l2`` (`LaplaceL2`): `agg(Lw²) / 2`, averaged by default.
/// Key: `laplace.filter`.
public final class LaplaceRegularizer: Module {
    /// Which formula.
    public enum Kind: String, Codable, Sendable {
        /// `LaplaceL2norm`.
        case l2norm
        /// `LaplaceL2`.
        case l2
    }

    /// The filter.
    public let laplace: LaplaceFilter2d
    /// The formula.
    public let kind: Kind

    /// A regulariser with the 3×3 filter; `padding` nil means 1 (half the filter, recommended),
    /// 0 reproduces neuralpredictors' backward-compatible default for `Stacked2dCore`.
    public init(_ kind: Kind = .l2norm, padding: Int? = nil) {
        self.kind = kind
        laplace = LaplaceFilter2d(padding: padding)
        super.init()
    }

    /// The penalty for weights (out, in, kH, kW); `average` selects the mean rather than the sum.
    public func callAsFunction(_ weight: Tensor, average: Bool) -> Tensor {
        precondition(weight.rank == 4, "LaplaceRegularizer: expected weights (out, in, kH, kW), got shape \(weight.shape)")
        let filters = weight.reshaped([weight.shape[0] * weight.shape[1], 1, weight.shape[2], weight.shape[3]])
        let filtered = laplace(filters).square()
        let numerator = average ? filtered.mean() : filtered.sum()
        switch kind {
        case .l2norm:
            let squared = filters.square()
            return numerator / (average ? squared.mean() : squared.sum())
        case .l2:
            return numerator * 0.5
        }
    }
}

/// Temporal smoothness of 1-D filters (out, in, T), neuralpredictors' `DepthLaplaceL21d`:
/// `agg((L1d ∗ w)²) / agg(w²)` with the filter `[−1, 4, −1]`. Key: `laplace.filter`.
public final class DepthLaplaceRegularizer: Module {
    /// The filter.
    public let laplace: LaplaceFilter1d

    /// A regulariser with padding 1 unless given.
    public init(padding: Int? = nil) {
        laplace = LaplaceFilter1d(padding: padding)
        super.init()
    }

    /// The penalty for weights (out, in, T).
    public func callAsFunction(_ weight: Tensor, average: Bool = false) -> Tensor {
        precondition(weight.rank == 3, "DepthLaplaceRegularizer: expected weights (out, in, T), got shape \(weight.shape)")
        let signals = weight.reshaped([weight.shape[0] * weight.shape[1], 1, weight.shape[2]])
        let filtered = laplace(signals).square()
        let squared = signals.square()
        return average ? filtered.mean() / squared.mean() : filtered.sum() / squared.sum()
    }
}

/// A learnable per-channel shift, shape (1, C, 1, …) (neuralpredictors' `Bias2DLayer` /
/// `Bias3DLayer`; key `bias`), initialised to zero.
public final class ChannelBias: Module, UnaryLayer {
    /// (1, C, 1, …, 1).
    public let bias: Tensor
    /// A shift for `channels` channels of inputs with `spatialRank` spatial axes.
    public init(channels: Int, spatialRank: Int) {
        bias = Tensor.zeros([1, channels] + [Int](repeating: 1, count: spatialRank), requiresGrad: true)
        super.init()
    }
    public func callAsFunction(_ x: Tensor) -> Tensor { x + bias }
}

/// A learnable per-channel scale, shape (1, C, 1, …) (neuralpredictors' `Scale2DLayer` /
/// `Scale3DLayer`; key `scale`), initialised to one.
public final class ChannelScale: Module, UnaryLayer {
    /// (1, C, 1, …, 1).
    public let scale: Tensor
    /// A scale for `channels` channels of inputs with `spatialRank` spatial axes.
    public init(channels: Int, spatialRank: Int) {
        scale = Tensor.ones([1, channels] + [Int](repeating: 1, count: spatialRank), requiresGrad: true)
        super.init()
    }
    public func callAsFunction(_ x: Tensor) -> Tensor { x * scale }
}
