// Tiling along one axis (PyTorch `torch.tile` followed by a cut).

extension Tensor {
    /// The tensor repeated along `axis` until it is at least `length` long, cut to `length`:
    /// element `i` of the result is element `i mod shape[axis]` (PyTorch's
    /// `torch.tile(x, reps)[..., :length]` with `reps = ⌈length / shape[axis]⌉` on that axis).
    /// Returns `self` when the axis already has `length` elements. Differentiable (gradients of
    /// repeated elements add up).
    public func tiled(axis: Int, length: Int) -> Tensor {
        let a = Tensor.normalizeAxis(axis, rank: rank, op: "tiled")
        let extent = shape[a]
        precondition(extent > 0 && length > 0, "tiled: cannot tile axis \(axis) of shape \(shape) to length \(length)")
        if length == extent { return self }
        return indexSelect(axis: a, indices: (0..<length).map { $0 % extent })
    }

    /// Channels (axis 1) tiled to `channels` (see ``tiled(axis:length:)``): the shortcut of
    /// DwiseNeuro's blocks, `[c₀ … c_{C−1}, c₀ … ]` cut to `channels`.
    public func tiledChannels(to channels: Int) -> Tensor {
        precondition(rank >= 2, "tiledChannels: expected (N, C, …), got \(shape)")
        return tiled(axis: 1, length: channels)
    }
}
