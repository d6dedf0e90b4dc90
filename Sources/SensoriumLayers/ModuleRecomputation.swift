import SensoriumTensor

// Activation checkpointing of a module's forward pass (``/SensoriumTensor/checkpointed(_:parameters:generators:_:)``
// with the module's own parameters and random generators).

extension Module {
    /// The random generators this module and its submodules draw from: every stored property of
    /// type ``/SensoriumTensor/RandomGenerator`` (``Transient`` or not, optional or not), each
    /// generator once, in ``modules()`` order.
    public func randomGenerators() -> [RandomGenerator] {
        var found: [RandomGenerator] = []
        var seen = Set<ObjectIdentifier>()
        for module in modules() {
            var mirror: Mirror? = Mirror(reflecting: module)
            while let current = mirror {
                for child in current.children {
                    let generator = (child.value as? RandomGenerator)
                        ?? (child.value as? Transient<RandomGenerator>)?.wrappedValue
                        ?? (child.value as? Transient<RandomGenerator?>)?.wrappedValue
                    if let generator, seen.insert(ObjectIdentifier(generator)).inserted { found.append(generator) }
                }
                mirror = current.superclassMirror
            }
        }
        return found
    }

    /// `body(x)` with its activations recomputed in the backward pass instead of kept: only `x`
    /// and the result stay alive between the forward and backward passes; the backward pass runs
    /// `body` again with gradients and back-propagates through that replay
    /// (``/SensoriumTensor/checkpointed(_:parameters:generators:_:)`` over this module's parameters
    /// and ``randomGenerators()``). The replay draws the same random numbers (dropout, DropPath)
    /// and leaves BatchNorm running statistics alone, so results, gradients, running statistics
    /// and the generators' states afterwards equal those of `body(x)`, for one more forward pass of
    /// compute.
    ///
    /// `body` must read only `x` and this module's parameters, buffers and generators. Any shapes.
    public func recomputingInBackward(_ x: Tensor, _ body: @escaping (Tensor) -> Tensor) -> Tensor {
        checkpointed([x], parameters: parameters(), generators: randomGenerators()) { inputs in body(inputs[0]) }
    }
}
