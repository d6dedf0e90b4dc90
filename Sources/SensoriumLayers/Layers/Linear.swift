import SensoriumTensor

/// A fully connected layer, `y = x·Wᵀ + b`, like PyTorch's `nn.Linear`.
///
/// `weight` has shape (out, in) and `bias` shape (out), PyTorch's layout, so state dictionaries
/// load unchanged. Inputs may have any number of leading batch axes: (…, in) → (…, out).
/// Initialisation is PyTorch's default (``Initializer/pytorchDefaultWeight`` and
/// ``Initializer/pytorchDefaultBias(fanIn:)``), drawn from `generator`.
public final class Linear: Module, UnaryLayer {
    /// (out, in).
    public let weight: Tensor
    /// (out), or nil for a layer without bias.
    public var bias: Tensor?

    /// Number of input features.
    public var inFeatures: Int { weight.shape[1] }
    /// Number of output features.
    public var outFeatures: Int { weight.shape[0] }

    /// A layer mapping `inFeatures` to `outFeatures`, with PyTorch's default initialisation.
    public init(_ inFeatures: Int, _ outFeatures: Int, bias: Bool = true, generator: RandomGenerator) {
        precondition(inFeatures > 0 && outFeatures > 0, "Linear: feature counts must be positive, got \(inFeatures) -> \(outFeatures)")
        weight = Initializer.pytorchDefaultWeight([outFeatures, inFeatures], generator: generator)
        weight.requiresGrad = true
        if bias {
            let b = Initializer.pytorchDefaultBias(fanIn: inFeatures)([outFeatures], generator: generator)
            b.requiresGrad = true
            self.bias = b
        }
        super.init()
    }

    /// A layer mapping `inputDimensions` to `outputDimensions` (labelled form of ``init(_:_:bias:generator:)``).
    public convenience init(inputDimensions: Int, outputDimensions: Int, bias: Bool = true, generator: RandomGenerator) {
        self.init(inputDimensions, outputDimensions, bias: bias, generator: generator)
    }

    /// A layer using the given tensors as its parameters (they are not copied).
    public init(weight: Tensor, bias: Tensor?) {
        precondition(weight.rank == 2, "Linear: weight must be (out, in), got shape \(weight.shape)")
        if let bias {
            precondition(bias.shape == [weight.shape[0]],
                         "Linear: bias of shape \(bias.shape) does not match weight \(weight.shape)")
        }
        self.weight = weight
        self.bias = bias
        super.init()
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        linear(x, weight: weight, bias: bias)
    }

    override public var extraDescription: String { "\(inFeatures) -> \(outFeatures), bias: \(bias != nil)" }
}
