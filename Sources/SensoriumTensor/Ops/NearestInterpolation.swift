// Nearest-neighbour resizing with PyTorch's index rule (`F.interpolate(mode: "nearest")`).

/// The source indices PyTorch's `mode="nearest"` reads when resizing an axis from `input` to
/// `output` elements: `min(⌊Float(i) · (Float(input) / Float(output))⌋, input − 1)`, computed in
/// float32 as PyTorch does (for odd sizes this is not "every other element": 5 → 3 reads 0, 1, 3).
public func nearestSourceIndices(input: Int, output: Int) -> [Int] {
    precondition(input > 0 && output > 0, "nearestSourceIndices: sizes must be positive, got \(input) -> \(output)")
    let scale = Float(input) / Float(output)
    return (0..<output).map { i in Swift.min(Int((Float(i) * scale).rounded(.down)), input - 1) }
}

/// Nearest-neighbour resize of the trailing spatial axes, like
/// `F.interpolate(x, size: size, mode: "nearest")`.
///
/// - Parameters:
///   - x: (N, C, S₁, …, S_k), k = `size.count` ≥ 1.
///   - size: the output extent of each of the k trailing axes.
/// - Returns: (N, C, size…). Differentiable in `x` (gradients of elements read several times add up).
public func interpolateNearest(_ x: Tensor, size: [Int]) -> Tensor {
    precondition(!size.isEmpty && x.rank == size.count + 2,
                 "interpolateNearest: input \(x.shape) must be (N, C, \(size.count) spatial axes) for size \(size)")
    var y = x
    for (k, extent) in size.enumerated() {
        let axis = k + 2, input = x.shape[axis]
        if extent == input { continue }
        let indices = nearestSourceIndices(input: input, output: extent)
        // A whole-number ratio reads an arithmetic progression: a strided slice, no index list.
        let step = indices.count > 1 ? indices[1] - indices[0] : 1
        if step > 0, indices.enumerated().allSatisfy({ $0.element == indices[0] + $0.offset * step }) {
            y = y.sliced(axis: axis, range: indices[0]..<(indices[extent - 1] + 1), step: step)
        } else {
            y = y.indexSelect(axis: axis, indices: indices)
        }
    }
    return y
}
