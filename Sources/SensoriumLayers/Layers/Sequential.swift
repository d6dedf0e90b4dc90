import SensoriumTensor

/// Applies its layers one after the other, like PyTorch's `nn.Sequential`.
///
/// Children are keyed `"0"`, `"1"`, … when created from a plain list, or by the names given
/// (PyTorch's `nn.Sequential(OrderedDict(...))`), so state-dictionary keys read
/// `"features.0.weight"` or `"features.layer0.conv.weight"` exactly as in PyTorch.
///
/// ```swift
/// let mlp = Sequential(Linear(2, 30, generator: g), ELU(), Linear(30, 2, generator: g), Tanh())
/// let block = Sequential(named: [("conv", conv), ("norm", norm), ("nonlin", ELU())])
/// ```
public final class Sequential: Module, UnaryLayer {
    /// The layers, in application order.
    public private(set) var layers: [any UnaryLayer]
    /// The key of each layer, parallel to ``layers``.
    public private(set) var names: [String]

    /// Layers keyed `"0"`, `"1"`, ….
    public init(_ layers: [any UnaryLayer]) {
        self.layers = layers
        self.names = layers.indices.map(String.init)
        super.init()
    }

    /// Layers keyed `"0"`, `"1"`, ….
    public convenience init(_ layers: any UnaryLayer...) { self.init(layers) }

    /// Layers with explicit keys, in application order; keys must be unique and contain no `"."`.
    public init(named layers: [(String, any UnaryLayer)]) {
        for (i, entry) in layers.enumerated() {
            precondition(!entry.0.isEmpty && !entry.0.contains("."),
                         "Sequential: layer key '\(entry.0)' must be non-empty and contain no '.'")
            precondition(!layers[..<i].contains { $0.0 == entry.0 }, "Sequential: duplicate layer key '\(entry.0)'")
        }
        self.layers = layers.map(\.1)
        self.names = layers.map(\.0)
        super.init()
    }

    /// Appends a layer; its key defaults to its position.
    public func append(_ layer: any UnaryLayer, name: String? = nil) {
        let key = name ?? String(layers.count)
        precondition(!names.contains(key) && !key.contains("."), "Sequential.append: bad or duplicate key '\(key)'")
        layers.append(layer)
        names.append(key)
    }

    /// Number of layers.
    public var count: Int { layers.count }

    /// The layer at `index`.
    public subscript(index: Int) -> any UnaryLayer { layers[index] }

    /// The layer with key `name`, if any.
    public subscript(name: String) -> (any UnaryLayer)? {
        names.firstIndex(of: name).map { layers[$0] }
    }

    override public func directItems() -> [(key: String, item: ModuleItem)] {
        zip(names, layers).map { ($0, .module($1)) }
    }

    /// Applies the layers in order. A ``BatchNorm`` directly followed by an ``ELU`` (alpha > 0) runs
    /// as one fused op with the same result, whose backward pass keeps only the ELU's output (see
    /// `batchNorm(_:…:activation:)`), so the normalisation's input is not kept for the backward pass.
    public func callAsFunction(_ x: Tensor) -> Tensor { callAsFunction(x, from: 0) }

    /// Applies the layers from index `start` on (as ``callAsFunction(_:)`` does from 0).
    public func callAsFunction(_ x: Tensor, from start: Int) -> Tensor {
        var y = x
        var i = start
        while i < layers.count {
            if i + 1 < layers.count, let norm = layers[i] as? BatchNorm, let elu = layers[i + 1] as? ELU, elu.alpha > 0 {
                y = norm(y, activation: .elu(alpha: elu.alpha))
                i += 2
            } else {
                y = layers[i](y)
                i += 1
            }
        }
        return y
    }
}
