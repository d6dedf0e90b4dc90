import Testing
import SensoriumTensor
import SensoriumTestSupport

/// Nearest-neighbour resizing (PyTorch's float32 index rule) and tiling along an axis.
@Suite struct ResizeAndTileTests {
    /// 0, 1, 2, … in `shape`.
    private func iota(_ shape: [Int], requiresGrad: Bool = false) -> Tensor {
        Tensor((0..<Tensor.elementCount(shape)).map(Float.init), shape: shape, requiresGrad: requiresGrad)
    }

    /// The index maps PyTorch's `F.interpolate(mode="nearest")` reads (values printed by PyTorch 2.x:
    /// `torch.nn.functional.interpolate(torch.arange(n)[None, None].float(), size=m).long()`).
    @Test func sourceIndicesFollowPyTorch() {
        #expect(nearestSourceIndices(input: 64, output: 32) == (0..<32).map { 2 * $0 })
        #expect(nearestSourceIndices(input: 5, output: 3) == [0, 1, 3])
        #expect(nearestSourceIndices(input: 9, output: 5) == [0, 1, 3, 5, 7])
        #expect(nearestSourceIndices(input: 3, output: 2) == [0, 1])
        #expect(nearestSourceIndices(input: 10, output: 5) == [0, 2, 4, 6, 8])
        #expect(nearestSourceIndices(input: 2, output: 5) == [0, 0, 0, 1, 1])
        #expect(nearestSourceIndices(input: 4, output: 4) == [0, 1, 2, 3])
    }

    /// Strided (even) and index-list (odd) paths give the elements at the source indices.
    @Test func resizePicksTheSourceElements() {
        let x = iota([1, 2, 2, 5, 4])
        let y = interpolateNearest(x, size: [2, 3, 2])
        #expect(y.shape == [1, 2, 2, 3, 2])
        var expected: [Float] = []
        for c in 0..<2 { for t in 0..<2 { for h in [0, 1, 3] { for w in [0, 2] {
            expected.append(Float(((c * 2 + t) * 5 + h) * 4 + w))
        } } } }
        #expect(y.scalars == expected)
        #expect(interpolateNearest(x, size: [2, 5, 4]) === x)
    }

    /// Repeated channels, cut to length; identity when the length is unchanged.
    @Test func tilingRepeatsAndCuts() {
        let x = iota([2, 3, 2])
        let y = x.tiledChannels(to: 7)
        #expect(y.shape == [2, 7, 2])
        let channels = [0, 1, 2, 0, 1, 2, 0]
        var expected: [Float] = []
        for n in 0..<2 { for c in channels { for l in 0..<2 { expected.append(Float((n * 3 + c) * 2 + l)) } } }
        #expect(y.scalars == expected)
        #expect(x.tiled(axis: 1, length: 3) === x)
        #expect(x.tiled(axis: -1, length: 3).shape == [2, 3, 3])
    }

    /// Finite differences: repeated reads accumulate gradients.
    @Test func gradients() {
        let x = Tensor.randomNormal([2, 2, 3, 5, 5], generator: RandomGenerator(seed: 1), requiresGrad: true)
        expectGradients([x]) { interpolateNearest($0[0], size: [3, 3, 3]) }
        expectGradients([x]) { interpolateNearest($0[0], size: [3, 7, 2]) }
        let z = Tensor.randomNormal([2, 3, 4], generator: RandomGenerator(seed: 2), requiresGrad: true)
        expectGradients([z]) { $0[0].tiledChannels(to: 8) }
    }
}
