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

/// One recorded operation: where its inputs came from and how to map the output gradient to theirs.
///
/// The node does not keep the elements of intermediate inputs (tensors computed by recorded
/// operations): it keeps their producing nodes, so an intermediate that no backward closure
/// captures is freed as soon as the forward pass stops using it (as PyTorch keeps only the
/// tensors an operation saves for backward). Leaves and inputs without gradients are kept.
final class GradNode {
    var inputs: [GradEdge]
    var backward: ((Tensor) -> [Tensor?])?
    let name: String
    /// The tensor this node produced, while it is alive (released with the node after backward).
    weak var result: Tensor?
    /// Set once a backward pass has consumed this node.
    var released = false

    init(name: String, inputs: [Tensor], backward: @escaping (Tensor) -> [Tensor?]) {
        self.name = name
        self.inputs = inputs.map(GradEdge.init)
        self.backward = backward
    }

    /// Drops the inputs and the backward closure (and what it captured) and marks the result released.
    func release() {
        inputs = []
        backward = nil
        released = true
        if let result {
            result.node = nil
            result.graphReleased = true
        }
    }
}

/// An input of a recorded operation as the graph keeps it.
struct GradEdge {
    /// The operation that computed the input, for an input computed by a recorded operation.
    let node: GradNode?
    /// The input itself, when it is not computed by a recorded operation (a leaf, or a tensor
    /// without gradients).
    let leaf: Tensor?
    let shape: [Int]
    /// Whether a gradient flows to the input.
    let requiresGrad: Bool
    /// Whether the input's graph was released by an earlier backward pass.
    let released: Bool

    init(_ tensor: Tensor) {
        shape = tensor.shape
        requiresGrad = tensor.requiresGrad
        released = tensor.graphReleased && tensor.node == nil
        if tensor.requiresGrad, let node = tensor.node {
            self.node = node
            leaf = nil
        } else {
            node = nil
            leaf = tensor
        }
    }

    /// The key of the input's gradient during a backward pass.
    var key: ObjectIdentifier { node.map { ObjectIdentifier($0) } ?? ObjectIdentifier(leaf!) }
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
        let node = GradNode(name: name, inputs: inputs, backward: backward)
        node.result = result
        result.node = node
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
        guard let root = node else {
            withNoGrad { accumulateGrad(seed) }
            return
        }
        let order = GradNode.topologicalOrder(from: root)
        var grads: [ObjectIdentifier: Tensor] = [ObjectIdentifier(root): seed]
        // Leaves get their gradients after the pass, in the order they were first reached.
        var leaves: [Tensor] = []
        withNoGrad {
            for node in order.reversed() {
                guard let g = grads.removeValue(forKey: ObjectIdentifier(node)) else {
                    node.release()
                    continue
                }
                let inputGrads = node.backward!(g)
                precondition(inputGrads.count == node.inputs.count,
                             "backward: \(node.name) returned \(inputGrads.count) gradients for \(node.inputs.count) inputs")
                for (input, inputGrad) in zip(node.inputs, inputGrads) {
                    guard input.requiresGrad, let inputGrad else { continue }
                    precondition(inputGrad.shape == input.shape,
                                 "backward: \(node.name) gave a gradient of shape \(inputGrad.shape) for an input of shape \(input.shape)")
                    let key = input.key
                    if let existing = grads[key] {
                        grads[key] = existing + inputGrad
                    } else {
                        grads[key] = inputGrad
                        if let leaf = input.leaf { leaves.append(leaf) }
                    }
                }
                node.release()
            }
            for leaf in leaves {
                if let g = grads.removeValue(forKey: ObjectIdentifier(leaf)) { leaf.accumulateGrad(g) }
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
}

extension GradNode {
    /// The nodes reachable from `root` through the inputs that require gradients, inputs before
    /// the nodes computed from them.
    static func topologicalOrder(from root: GradNode) -> [GradNode] {
        var order: [GradNode] = []
        var visited: Set<ObjectIdentifier> = [ObjectIdentifier(root)]
        var stack: [(GradNode, Int)] = [(root, 0)]
        while let (node, next) = stack.popLast() {
            if next < node.inputs.count {
                stack.append((node, next + 1))
                let input = node.inputs[next]
                guard input.requiresGrad else { continue }
                precondition(!input.released && !(input.node?.released ?? false),
                             "backward: part of this graph was already released by an earlier backward()")
                if let child = input.node, visited.insert(ObjectIdentifier(child)).inserted { stack.append((child, 0)) }
            } else {
                order.append(node)
            }
        }
        return order
    }
}
