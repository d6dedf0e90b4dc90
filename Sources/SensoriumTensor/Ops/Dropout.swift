// Inverted dropout: elementwise and whole-channel.

/// Inverted dropout, like `F.dropout`: in training mode each element is zeroed with probability
/// `p` and the survivors are scaled by `1 / (1 - p)`, so the expectation is unchanged; in
/// evaluation mode (or with `p == 0`) the input is returned as is.
///
/// The mask is drawn from `generator` (one uniform draw per element, in row-major order), so a
/// seeded generator reproduces it exactly. Differentiable in `x` (the gradient is masked and scaled
/// the same way).
public func dropout(_ x: Tensor, p: Float, training: Bool, generator: RandomGenerator) -> Tensor {
    precondition(p >= 0 && p <= 1, "dropout: probability p must be in [0, 1], got \(p) (input \(x.shape))")
    guard training, p > 0 else { return x }
    let mask = dropoutMask(count: x.count, p: p, generator: generator)
    return x * Tensor(storage: mask, shape: x.shape)
}

/// Channel-wise inverted dropout, like `Dropout1d/2d/3d`: for an input of shape N, C, ..., each
/// whole channel `x[n, c, ...]` is zeroed with probability `p` and the kept channels are scaled by
/// `1 / (1 - p)`. Identity in evaluation mode. One uniform draw `u` per (n, c) from `generator`, in
/// row-major order; the channel is kept when `u < 1 - p` (as ``Tensor/randomBernoulli(_:p:generator:)``
/// with probability `1 - p`, PyTorch's `bernoulli_(1 - p)`), whereas ``dropout(_:p:training:generator:)``
/// zeroes an element when its draw is below `p`. Differentiable in `x`.
public func featureDropout(_ x: Tensor, p: Float, training: Bool, generator: RandomGenerator) -> Tensor {
    precondition(p >= 0 && p <= 1, "featureDropout: probability p must be in [0, 1], got \(p) (input \(x.shape))")
    precondition(x.rank >= 2, "featureDropout: expected an input of rank >= 2 (N, C, ...), got shape \(x.shape)")
    guard training, p > 0 else { return x }
    let keep = 1 - p
    let mask = Tensor.randomBernoulli([x.shape[0], x.shape[1]] + [Int](repeating: 1, count: x.rank - 2),
                                      p: keep, generator: generator)
    return x * (keep > 0 ? mask / keep : mask)
}

/// `count` mask values, each 0 with probability `p` and `1 / (1 - p)` otherwise.
private func dropoutMask(count: Int, p: Float, generator: RandomGenerator) -> TensorStorage {
    let mask = TensorStorage(uninitializedCount: count)
    let m = mask.pointer
    if p >= 1 {
        m.initialize(repeating: 0, count: count)
        return mask
    }
    let keep = 1 / (1 - p)
    generator.fillUniform(m, count: count)
    for i in 0..<count { m[i] = m[i] < p ? 0 : keep }
    return mask
}
