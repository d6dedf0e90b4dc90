// Activation checkpointing: trade recomputation for memory (like torch.utils.checkpoint).

/// Runs `body` on `inputs` without keeping its intermediate activations for the backward pass;
/// backward runs `body` again (with gradients) and back-propagates through that recomputation.
///
/// The result and all gradients equal those of calling `body(inputs)` directly. The recomputation
/// runs with ``Recomputation/isActive`` set, so layers with side effects (BatchNorm's running
/// statistics) apply them once, in the forward pass, not again in the replay. Only `inputs` and
/// the result stay alive between forward and backward, instead of every activation inside `body`.
///
/// - Parameters:
///   - inputs: the tensors `body` reads that may carry gradients from earlier ops; their gradients
///     are returned to the surrounding graph.
///   - parameters: leaf tensors `body` uses (weights): their gradients are accumulated into their
///     `.grad` during the recomputation. They must be leaves (not computed by recorded ops).
///   - generators: random generators `body` draws from (dropout, drop-path). Their states are
///     restored before the recomputation so it draws the same numbers, and put back afterwards.
///   - body: the computation; it must depend only on `inputs`, `parameters` and `generators`.
/// - Returns: `body(inputs)`, differentiable in `inputs` and `parameters`.
public func checkpointed(_ inputs: [Tensor], parameters: [Tensor], generators: [RandomGenerator] = [],
                         _ body: @escaping ([Tensor]) -> Tensor) -> Tensor {
    let tracked = inputs + parameters
    guard GradMode.isEnabled, tracked.contains(where: { $0.requiresGrad }) else { return body(inputs) }
    for p in parameters {
        precondition(p.isLeaf, "checkpointed: parameter of shape \(p.shape) is computed by a recorded op; pass it as an input")
    }
    let statesBefore = generators.map(\.state)
    let result = withNoGrad { body(inputs) }
    return Tensor.recordOperation("checkpointed", result: result, inputs: tracked) { g in
        let statesNow = generators.map(\.state)
        for (generator, state) in zip(generators, statesBefore) { generator.state = state }
        defer { for (generator, state) in zip(generators, statesNow) { generator.state = state } }
        let replay = inputs.map { t -> Tensor in
            let d = t.detached()
            d.requiresGrad = t.requiresGrad
            return d
        }
        let recomputed = GradMode.$isEnabled.withValue(true) { Recomputation.$isActive.withValue(true) { body(replay) } }
        precondition(recomputed.shape == g.shape,
                     "checkpointed: the recomputation gave shape \(recomputed.shape), the forward pass \(g.shape)")
        if recomputed.requiresGrad { recomputed.backward(g) }
        return replay.map { $0.requiresGrad ? ($0.grad ?? Tensor.zeros($0.shape)) : nil }
            + parameters.map { _ in nil }
    }
}

/// Whether the current computation is the backward pass's replay of a
/// ``checkpointed(_:parameters:generators:_:)`` body. Operations and layers that change state
/// besides computing their result (BatchNorm's running statistics and batch counter) skip that
/// change while it is set: the forward pass already applied it.
public enum Recomputation {
    /// `true` while a checkpointed body is recomputed in the backward pass.
    @TaskLocal public static var isActive = false
}
