import SensoriumTensor
import SensoriumLayers

/// The MLP shifter of `neuralpredictors` (one per mouse in the SENSORIUM 2023 baselines):
/// `layers − 1` blocks of `Linear` + `Tanh`, then `Linear(·, 2)` + `Tanh`. Maps the pupil centre
/// of every frame, `(…, inputFeatures)`, to a grid shift `(…, 2)` in (-1, 1).
///
/// The network is `mlp`, a ``/SensoriumLayers/Sequential`` keyed `0`, `1`, …, so parameters read
/// `mlp.0.weight`, `mlp.2.weight`, … as in the reference. The baseline uses 3 layers with 5
/// hidden channels and PyTorch's default Linear initialisation; its regulariser is zero.
public final class MLPShifter: Module, Shifter {
    /// The Linear/Tanh stack.
    public let mlp: Sequential

    /// A shifter with `layers` Linear layers (at least 1) of `hiddenChannels` hidden units.
    public init(inputFeatures: Int = 2, hiddenChannels: Int = 5, layers: Int = 3, generator: RandomGenerator) {
        precondition(inputFeatures > 0 && hiddenChannels > 0 && layers >= 1,
                     "MLPShifter: inputFeatures, hiddenChannels and layers must be positive, got \(inputFeatures), \(hiddenChannels), \(layers)")
        var stack: [any UnaryLayer] = []
        var previous = inputFeatures
        for _ in 0..<(layers - 1) {
            stack.append(Linear(previous, hiddenChannels, generator: generator))
            stack.append(Tanh())
            previous = hiddenChannels
        }
        stack.append(Linear(previous, 2, generator: generator))
        stack.append(Tanh())
        mlp = Sequential(stack)
        super.init()
    }

    /// A shifter made of the given Linear layers (their tensors are used, not copied), each
    /// followed by `Tanh`; the last must map to 2 features.
    public init(linearLayers: [Linear]) {
        precondition(!linearLayers.isEmpty && linearLayers.last!.outFeatures == 2,
                     "MLPShifter: needs at least one Linear layer and the last must map to 2 features, got \(linearLayers.map { "\($0.inFeatures) -> \($0.outFeatures)" })")
        for (a, b) in zip(linearLayers, linearLayers.dropFirst()) {
            precondition(a.outFeatures == b.inFeatures, "MLPShifter: layer \(a.inFeatures) -> \(a.outFeatures) does not feed \(b.inFeatures) -> \(b.outFeatures)")
        }
        mlp = Sequential(linearLayers.flatMap { [$0, Tanh()] as [any UnaryLayer] })
        super.init()
    }

    public func callAsFunction(_ pupilCenter: Tensor) -> Tensor { mlp(pupilCenter) }

    override public var extraDescription: String { "\(mlp.count / 2) layers" }
}

/// The static affine shifter of `neuralpredictors` (`StaticAffine2dShifter`):
/// `shift = tanh(W · pupilCenter + b)`, with `W` (2, inputFeatures) initialised N(0, 1e-6) and `b`
/// zero, and regulariser `gamma · Σ W²`. Keys `weight` and `bias`.
public final class StaticAffineShifter: Module, Shifter {
    /// (2, inputFeatures).
    public let weight: Tensor
    /// (2), or nil.
    public let bias: Tensor?
    /// Weight of the squared-weight penalty (`gamma_shifter`).
    public var regularization: Float

    /// An affine shifter of `inputFeatures` inputs.
    public init(inputFeatures: Int = 2, bias: Bool = true, regularization: Float = 0, generator: RandomGenerator) {
        precondition(inputFeatures > 0, "StaticAffineShifter: inputFeatures must be positive, got \(inputFeatures)")
        weight = Tensor.randomNormal([2, inputFeatures], std: 1e-6, generator: generator, requiresGrad: true)
        self.bias = bias ? Tensor.zeros([2], requiresGrad: true) : nil
        self.regularization = regularization
        super.init()
    }

    public func callAsFunction(_ pupilCenter: Tensor) -> Tensor {
        precondition(pupilCenter.rank >= 1 && pupilCenter.shape[pupilCenter.rank - 1] == weight.shape[1],
                     "StaticAffineShifter: expected input (…, \(weight.shape[1])), got \(pupilCenter.shape)")
        return linear(pupilCenter, weight: weight, bias: bias).tanh()
    }

    public func regularizer() -> Tensor {
        regularization == 0 ? Tensor(scalar: 0) : weight.square().sum() * regularization
    }

    override public var extraDescription: String { "\(weight.shape[1]) -> 2" }
}
