/// Whether operations record an autodiff graph. Task-local, so a no-grad scope in one task never
/// affects another.
public enum GradMode {
    /// `true` unless inside `withNoGrad`.
    @TaskLocal public static var isEnabled = true
}

/// Runs `body` without recording gradients (like `torch.no_grad()`).
public func withNoGrad<R>(_ body: () throws -> R) rethrows -> R {
    try GradMode.$isEnabled.withValue(false) { try body() }
}

/// Runs `body` without recording gradients (async form).
public func withNoGrad<R>(_ body: () async throws -> R) async rethrows -> R {
    try await GradMode.$isEnabled.withValue(false) { try await body() }
}

/// One recorded operation: the tensors it read and how to map the output gradient to theirs.
final class GradNode {
    var inputs: [Tensor]
    var backward: ((Tensor) -> [Tensor?])?
    let name: String

    init(name: String, inputs: [Tensor], backward: @escaping (Tensor) -> [Tensor?]) {
        self.name = name
        self.inputs = inputs
        self.backward = backward
    }
}

extension Tensor {
    /// Connects `result` to `inputs` in the autodiff graph, when gradients are enabled and any input
    /// requires them; returns `result`.
    ///
    /// `backward` receives the gradient of the loss with respect to `result` and returns one gradient
    /// per input (same shape as that input), or `nil` for an input that needs none. It runs with
    /// gradients disabled. Use this to write your own differentiable operations.
    @discardableResult
    public static func recordOperation(_ name: String, result: Tensor, inputs: [Tensor],
                                       backward: @escaping (Tensor) -> [Tensor?]) -> Tensor {
        guard GradMode.isEnabled, inputs.contains(where: { $0.requiresGrad }) else { return result }
        result.requiresGrad = true
        result.node = GradNode(name: name, inputs: inputs, backward: backward)
        return result
    }

    /// Whether this tensor was produced by a recorded operation (as opposed to being a leaf).
    public var isLeaf: Bool { node == nil }

    /// A tensor sharing this one's elements but cut from the graph.
    public func detached() -> Tensor {
        Tensor(storage: storage, shape: shape)
    }

    /// Clears the accumulated gradient.
    public func zeroGrad() { grad = nil }

    /// Back-propagates from this tensor, accumulating gradients into the `.grad` of every leaf that
    /// requires them, then releases the graph.
    ///
    /// - Parameter gradient: the upstream gradient (same shape); may be omitted for a one-element tensor.
    public func backward(_ gradient: Tensor? = nil) {
        precondition(!graphReleased, "backward: the graph behind this tensor was already released by an earlier backward()")
        precondition(requiresGrad, "backward: tensor of shape \(shape) does not require gradients")
        let seed: Tensor
        if let gradient {
            precondition(gradient.shape == shape,
                         "backward: gradient shape \(gradient.shape) does not match tensor shape \(shape)")
            seed = gradient
        } else {
            precondition(count == 1, "backward: an implicit gradient needs a one-element tensor, got shape \(shape)")
            seed = Tensor(storage: TensorStorage(count: 1, repeating: 1), shape: shape)
        }
        let order = topologicalOrder()
        var grads: [ObjectIdentifier: Tensor] = [ObjectIdentifier(self): seed]
        withNoGrad {
            for tensor in order.reversed() {
                guard let g = grads.removeValue(forKey: ObjectIdentifier(tensor)) else {
                    if let node = tensor.node { node.inputs = []; node.backward = nil; tensor.node = nil; tensor.graphReleased = true }
                    continue
                }
                guard let node = tensor.node else {
                    tensor.accumulateGrad(g)
                    continue
                }
                let inputGrads = node.backward!(g)
                precondition(inputGrads.count == node.inputs.count,
                             "backward: \(node.name) returned \(inputGrads.count) gradients for \(node.inputs.count) inputs")
                for (input, inputGrad) in zip(node.inputs, inputGrads) {
                    guard input.requiresGrad, let inputGrad else { continue }
                    precondition(inputGrad.shape == input.shape,
                                 "backward: \(node.name) gave a gradient of shape \(inputGrad.shape) for an input of shape \(input.shape)")
                    let key = ObjectIdentifier(input)
                    if let existing = grads[key] {
                        grads[key] = existing + inputGrad
                    } else {
                        grads[key] = inputGrad
                    }
                }
                node.inputs = []
                node.backward = nil
                tensor.node = nil
                tensor.graphReleased = true
            }
        }
    }

    private func accumulateGrad(_ g: Tensor) {
        if let existing = grad {
            existing.withUnsafeMutableBufferPointer { dst in
                g.withUnsafeBufferPointer { src in
                    for i in 0..<dst.count { dst[i] += src[i] }
                }
            }
        } else {
            grad = g.copy()
        }
    }

    /// Tensors reachable from this one through recorded nodes, inputs before the tensors computed from them.
    private func topologicalOrder() -> [Tensor] {
        var order: [Tensor] = []
        var visited = Set<ObjectIdentifier>()
        var stack: [(Tensor, Int)] = [(self, 0)]
        visited.insert(ObjectIdentifier(self))
        while let (tensor, next) = stack.popLast() {
            let inputs = tensor.node?.inputs ?? []
            if next < inputs.count {
                stack.append((tensor, next + 1))
                let input = inputs[next]
                guard input.requiresGrad else { continue }
                precondition(!input.graphReleased,
                             "backward: part of this graph was already released by an earlier backward()")
                if visited.insert(ObjectIdentifier(input)).inserted { stack.append((input, 0)) }
            } else {
                order.append(tensor)
            }
        }
        return order
    }
}
