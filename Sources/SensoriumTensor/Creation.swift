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
