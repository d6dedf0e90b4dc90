// Tensor factories.

extension Tensor {
    /// A tensor of `shape` filled with `value`.
    public static func full(_ shape: [Int], _ value: Float, requiresGrad: Bool = false) -> Tensor {
        Tensor(storage: TensorStorage(count: elementCount(shape), repeating: value), shape: shape, requiresGrad: requiresGrad)
    }

    /// Zeros of `shape`.
    public static func zeros(_ shape: [Int], requiresGrad: Bool = false) -> Tensor {
        full(shape, 0, requiresGrad: requiresGrad)
    }

    /// Ones of `shape`.
    public static func ones(_ shape: [Int], requiresGrad: Bool = false) -> Tensor {
        full(shape, 1, requiresGrad: requiresGrad)
    }

    /// Standard-normal samples from `generator`, scaled and shifted.
    public static func randomNormal(_ shape: [Int], mean: Float = 0, std: Float = 1,
                                    generator: RandomGenerator, requiresGrad: Bool = false) -> Tensor {
        let out = Tensor(uninitializedShape: shape)
        let p = out.storage.pointer
        for i in 0..<out.count { p[i] = mean + std * generator.nextNormal() }
        out.requiresGrad = requiresGrad
        return out
    }

    /// Uniform samples in [low, high) from `generator`.
    public static func randomUniform(_ shape: [Int], low: Float = 0, high: Float = 1,
                                     generator: RandomGenerator, requiresGrad: Bool = false) -> Tensor {
        let out = Tensor(uninitializedShape: shape)
        let p = out.storage.pointer
        for i in 0..<out.count { p[i] = low + (high - low) * generator.nextUniform() }
        out.requiresGrad = requiresGrad
        return out
    }
}

extension Tensor {
    /// Values `start, start + step, ...` below `end` (above it for a negative step), like
    /// `torch.arange`; element `i` is `start + i * step`.
    public static func arange(_ start: Float, _ end: Float, step: Float = 1, requiresGrad: Bool = false) -> Tensor {
        precondition(step != 0 && step.isFinite && start.isFinite && end.isFinite,
                     "arange: invalid start \(start), end \(end), step \(step)")
        let n = Swift.max(0, Int((Double(end - start) / Double(step)).rounded(.up)))
        // Like PyTorch, each value is computed in double precision and then rounded.
        let values = (0..<n).map { Float(Double(start) + Double($0) * Double(step)) }
        return Tensor(values, shape: [n], requiresGrad: requiresGrad)
    }

    /// The integers `0..<end`, as Float.
    public static func arange(_ end: Int) -> Tensor {
        precondition(end >= 0, "arange: negative end \(end)")
        return Tensor((0..<end).map { Float($0) }, shape: [end])
    }

    /// `count` evenly spaced values from `start` to `end` inclusive, like `torch.linspace` (the
    /// first half counts up from `start`, the second half down from `end`, so both ends are exact).
    public static func linspace(_ start: Float, _ end: Float, count: Int, requiresGrad: Bool = false) -> Tensor {
        precondition(count >= 0, "linspace: negative count \(count)")
        if count == 1 { return Tensor([start], shape: [1], requiresGrad: requiresGrad) }
        let step = (end - start) / Float(Swift.max(count - 1, 1))
        let half = count / 2
        let values = (0..<count).map { i -> Float in
            i < half ? start + step * Float(i) : end - step * Float(count - 1 - i)
        }
        return Tensor(values, shape: [count], requiresGrad: requiresGrad)
    }

    /// The `n` × `m` matrix with ones on the main diagonal (`m` defaults to `n`).
    public static func eye(_ n: Int, _ m: Int? = nil, requiresGrad: Bool = false) -> Tensor {
        let cols = m ?? n
        precondition(n >= 0 && cols >= 0, "eye: negative size \(n) × \(cols)")
        let out = zeros([n, cols])
        for i in 0..<Swift.min(n, cols) { out.storage.pointer[i * cols + i] = 1 }
        out.requiresGrad = requiresGrad
        return out
    }

    /// Independent draws that are 1 with probability `p` and 0 otherwise (like `torch.bernoulli`
    /// on a tensor filled with `p`): element `i` is 1 when the `i`-th uniform draw is below `p`.
    public static func randomBernoulli(_ shape: [Int], p: Float, generator: RandomGenerator) -> Tensor {
        precondition(p >= 0 && p <= 1, "randomBernoulli: probability \(p) outside [0, 1]")
        let out = Tensor(uninitializedShape: shape)
        let d = out.storage.pointer
        for i in 0..<out.count { d[i] = generator.nextUniform() < p ? 1 : 0 }
        return out
    }
}
