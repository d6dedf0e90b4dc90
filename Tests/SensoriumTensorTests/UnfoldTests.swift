import Testing
@testable import SensoriumTensor
import SensoriumTestSupport

@Suite struct UnfoldTests {
    /// The patches by direct indexing, the definition of `x.unfold(2,…).unfold(3,…).unfold(4,…)`
    /// followed by `'b c nt nh nw pt ph pw -> b nt (nh nw) (c pt ph pw)'`.
    private func reference(_ x: Tensor, kernel k: [Int], stride s: [Int]) -> [Float] {
        let (b, c, t, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3], x.shape[4])
        let nt = (t - k[0]) / s[0] + 1, nh = (h - k[1]) / s[1] + 1, nw = (w - k[2]) / s[2] + 1
        var out: [Float] = []
        for bi in 0..<b { for ti in 0..<nt { for hi in 0..<nh { for wi in 0..<nw {
            for ci in 0..<c { for pt in 0..<k[0] { for ph in 0..<k[1] { for pw in 0..<k[2] {
                out.append(x[bi, ci, ti * s[0] + pt, hi * s[1] + ph, wi * s[2] + pw])
            } } } }
        } } } }
        return out
    }

    @Test func matchesDirectIndexing() {
        let gen = RandomGenerator(seed: 4)
        // Overlapping in all axes, unequal kernel and stride per axis, uncovered trailing rows/columns.
        for (shape, kernel, stride) in [([2, 3, 7, 9, 11], [3, 4, 2], [2, 2, 3]),
                                        ([1, 5, 6, 13, 17], [5, 4, 4], [1, 2, 2]),
                                        ([1, 1, 4, 4, 4], [4, 4, 4], [1, 1, 1])] {
            let x = Tensor.randomNormal(shape, generator: gen)
            let y = unfoldPatches3d(x, kernel: kernel, stride: stride)
            let grid = PatchGrid3d(inputShape: shape, kernel: kernel, stride: stride)!
            #expect(y.shape == [shape[0], grid.positions[0], grid.positions[1] * grid.positions[2], grid.patchSize])
            #expect(y.scalars == reference(x, kernel: kernel, stride: stride), "\(shape) \(kernel) \(stride)")
        }
    }

    @Test func gradient() {
        let gen = RandomGenerator(seed: 5)
        let x = Tensor.randomNormal([2, 2, 5, 6, 7], generator: gen, requiresGrad: true)
        expectGradients([x]) { t in unfoldPatches3d(t[0], kernel: [3, 3, 2], stride: [1, 2, 2]) }
    }

    @Test func gradientCountsEveryPatchAnElementIsIn() {
        // With a gradient of ones, each input element receives the number of patches covering it.
        let x = Tensor.zeros([1, 1, 1, 5, 5], requiresGrad: true)
        let y = unfoldPatches3d(x, kernel: [1, 3, 3], stride: [1, 2, 2])
        y.backward(Tensor.ones(y.shape))
        let counts: [Float] = [1, 1, 2, 1, 1,
                               1, 1, 2, 1, 1,
                               2, 2, 4, 2, 2,
                               1, 1, 2, 1, 1,
                               1, 1, 2, 1, 1]
        #expect(x.grad!.scalars == counts)
    }

    @Test func forwardAllocatesOnlyTheOutput() {
        let x = Tensor.randomNormal([2, 5, 12, 13, 17], generator: RandomGenerator(seed: 6), requiresGrad: true)
        let tracker = AllocationTracker()
        tracker.track {
            let y = unfoldPatches3d(x, kernel: [5, 4, 4], stride: [1, 2, 2])
            #expect(tracker.allocationCount == 1)
            #expect(tracker.peakBytes == y.count * MemoryLayout<Float>.stride)
        }
    }
}
