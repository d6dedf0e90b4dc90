import Testing
@testable import SensoriumTensor
import SensoriumTestSupport

@Suite struct RollTests {
    @Test func matchesTorchRoll() {
        // torch.roll(torch.arange(12).view(3, 4), shifts=(1, -1), dims=(0, 1))
        let x = Tensor((0..<12).map(Float.init), shape: [3, 4])
        let y = x.rolled(shifts: [1, -1], axes: [0, 1])
        #expect(y.scalars == [9, 10, 11, 8, 1, 2, 3, 0, 5, 6, 7, 4])
        // Shifts beyond the extent wrap; a zero shift is the identity.
        #expect(x.rolled(shifts: [7], axes: [-1]).scalars == x.rolled(shifts: [3], axes: [1]).scalars)
        #expect(x.rolled(shifts: [3], axes: [0]).scalars == x.scalars)
    }

    @Test func rollingBackRestores() {
        let x = Tensor.randomNormal([2, 5, 4, 3, 6], generator: RandomGenerator(seed: 2))
        let y = x.rolled(shifts: [-2, -1, -2], axes: [1, 2, 3]).rolled(shifts: [2, 1, 2], axes: [1, 2, 3])
        #expect(y.scalars == x.scalars)
    }

    @Test func gradient() {
        let x = Tensor.randomNormal([3, 4, 5], generator: RandomGenerator(seed: 4), requiresGrad: true)
        for r in GradientCheck.check([x], { t in t[0].rolled(shifts: [-1, 2, 7], axes: [0, 1, 2]) }) {
            #expect(r.passed, "\(r)")
        }
    }
}

@Suite struct WindowPartitionTests {
    @Test func partitionOrderIsWindowMajorThenTokenMajor() {
        // One sample, grid (2, 2, 4), window (1, 2, 2), one channel holding the flat grid index.
        let x = Tensor((0..<16).map(Float.init), shape: [1, 2, 2, 4, 1])
        let w = windowPartition3d(x, windowSize: [1, 2, 2])
        #expect(w.shape == [4, 4, 1])
        #expect(w.scalars == [0, 1, 4, 5, 2, 3, 6, 7, 8, 9, 12, 13, 10, 11, 14, 15])
        #expect(windowReverse3d(w, windowSize: [1, 2, 2], gridSize: [2, 2, 4]).scalars == x.scalars)
    }

    @Test func reverseUndoesPartition() {
        let x = Tensor.randomNormal([2, 4, 6, 4, 3], generator: RandomGenerator(seed: 9))
        let w = windowPartition3d(x, windowSize: [2, 3, 2])
        #expect(w.shape == [2 * 2 * 2 * 2, 12, 3])
        #expect(windowReverse3d(w, windowSize: [2, 3, 2], gridSize: [4, 6, 4]).scalars == x.scalars)
    }

    @Test func gradients() {
        let gen = RandomGenerator(seed: 10)
        let x = Tensor.randomNormal([2, 2, 3, 4, 2], generator: gen, requiresGrad: true)
        for r in GradientCheck.check([x], { t in windowPartition3d(t[0], windowSize: [1, 3, 2]) }) {
            #expect(r.passed, "partition: \(r)")
        }
        let w = Tensor.randomNormal([8, 6, 2], generator: gen, requiresGrad: true)
        for r in GradientCheck.check([w], { t in windowReverse3d(t[0], windowSize: [1, 3, 2], gridSize: [2, 3, 4]) }) {
            #expect(r.passed, "reverse: \(r)")
        }
    }
}
