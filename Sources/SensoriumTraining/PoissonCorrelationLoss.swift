import SensoriumTensor
import SensoriumMetrics
import SensoriumLayers

/// ViV1T's training loss (`poisson_correlation` in `bryanlimy/ViV1T`, `criterions.py`): the summed
/// Poisson loss plus a weighted per-neuron correlation term, scaled by the size of the mouse's
/// training set.
///
/// With predictions ŷ `(B, T', N)`, the last `T'` target frames y and ε = `eps`:
///
///     loss = s · ( Σ_{b,t,n} [(ŷ + ε) − (y + ε) · log(ŷ + ε)]  +  w · Σ_n (1 − corr_n) )
///
/// where `corr_n` is the Pearson correlation of neuron n over the `B·T'` samples (population std,
/// ε added to each std: ``/SensoriumMetrics/perNeuronCorrelation(_:target:eps:)``), `w` =
/// ``correlationWeight`` (1000) and `s = sqrt(trainingTrials / B)` when ``scaled`` (the trials of
/// the mouse's training tier, the reference's `len(train_ds[mouse].dataset)`; else 1).
///
/// Both terms are fused reductions (one pass for the Poisson sum, two for the correlation) that
/// allocate nothing of the data's size beyond a shifted copy of the targets and the gradient.
public struct PoissonCorrelationLoss: TrainingLoss {
    /// Added to predictions and targets (Poisson) and to each standard deviation (correlation);
    /// the reference uses float32 machine epsilon, 1.19e-7.
    public var eps: Float
    /// Weight of the correlation term (the reference's `alpha`, 1000).
    public var correlationWeight: Float
    /// Multiply by `sqrt(trainingTrials / batchSize)` (the reference's `ds_scale`).
    public var scaled: Bool

    /// The reference's loss: eps = `Float.ulpOfOne`, weight 1000, scaled.
    public init(eps: Float = .ulpOfOne, correlationWeight: Float = 1000, scaled: Bool = true) {
        self.eps = eps
        self.correlationWeight = correlationWeight
        self.scaled = scaled
    }

    /// The scale factor for a batch: `sqrt(trainingTrialCount / batchSize)`, or 1.
    public func scale(for context: LossContext) -> Float {
        guard scaled else { return 1 }
        return Float((Double(context.trainingTrialCount) / Double(max(context.batchSize, 1))).squareRoot())
    }

    public func callAsFunction(predictions: Tensor, targets: Tensor, context: LossContext) -> Tensor {
        precondition(predictions.rank == 3 && targets.rank == 3 && predictions.shape[0] == targets.shape[0]
                        && predictions.shape[2] == targets.shape[2] && targets.shape[1] >= predictions.shape[1],
                     "PoissonCorrelationLoss: predictions \(predictions.shape) must be (B, T', N) and targets \(targets.shape) (B, T ≥ T', N)")
        let frames = targets.shape[1], kept = predictions.shape[1]
        let aligned = kept == frames ? targets : targets.sliced(axis: 1, range: (frames - kept)..<frames)
        // Σ (ŷ + ε) − (y + ε)·log(ŷ + ε) = Σ ŷ − (y + ε)·log(ŷ + ε)  +  count·ε.
        let poisson = poissonLoss(predictions, target: aligned + eps, eps: eps, reduction: .sum)
            + Float(Double(predictions.count) * Double(eps))
        var total = poisson
        if correlationWeight != 0 {
            total = total + correlationLoss(predictions, target: aligned, eps: eps) * correlationWeight
        }
        let s = scale(for: context)
        return s == 1 ? total : total * s
    }
}

extension PoissonCorrelationLoss {
    /// The options of ``PoissonCorrelationLoss`` (`{"type": "poissonCorrelation"}`); the defaults
    /// are ViV1T's.
    public struct Configuration: LossConfiguration, Equatable {
        public static var typeName: String { "poissonCorrelation" }
        public static var defaults: Self { Self() }
        /// Added to predictions, targets and standard deviations (float32 epsilon).
        public var eps: Double = Double(Float.ulpOfOne)
        /// Weight of `Σ_n (1 − corr_n)`.
        public var correlationWeight: Double = 1000
        /// Multiply by `sqrt(trainingTrials / batchSize)`.
        public var scaled: Bool = true
        public init() {}
        public init(eps: Double = Double(Float.ulpOfOne), correlationWeight: Double = 1000, scaled: Bool = true) {
            self.eps = eps
            self.correlationWeight = correlationWeight
            self.scaled = scaled
        }
        public func makeLoss() -> any TrainingLoss {
            PoissonCorrelationLoss(eps: Float(eps), correlationWeight: Float(correlationWeight), scaled: scaled)
        }

        enum CodingKeys: String, CodingKey { case eps, correlationWeight, scaled }

        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            let d = Self()
            self.init()
            eps = try c.value(.eps, or: d.eps)
            correlationWeight = try c.value(.correlationWeight, or: d.correlationWeight)
            scaled = try c.value(.scaled, or: d.scaled)
            try c.require(eps >= 0 && eps.isFinite, .eps, "must be a finite number ≥ 0")
            try c.require(correlationWeight >= 0 && correlationWeight.isFinite, .correlationWeight, "must be a finite number ≥ 0")
        }
    }
}

extension Configured where Kind == LossKind {
    /// ViV1T's Poisson + correlation loss.
    public static func poissonCorrelation(_ c: PoissonCorrelationLoss.Configuration = .init()) -> Configured { Configured(c) }
}
