import Testing
@testable import SensoriumTensor
import SensoriumTestSupport

/// Sum over `axes` by direct index arithmetic in Double, as the reference for the fast kernels.
private func referenceSum(_ x: Tensor, axes: Set<Int>) -> [Float] {
    let keptShape = x.shape.enumerated().map { axes.contains($0.offset) ? 1 : $0.element }
    var out = [Double](repeating: 0, count: Tensor.elementCount(keptShape))
    let outStrides = Tensor.contiguousStrides(keptShape)
    let values = x.scalars
    for flat in 0..<x.count {
        var rest = flat, target = 0
        for axis in stride(from: x.rank - 1, through: 0, by: -1) {
            let i = rest % x.shape[axis]
            rest /= x.shape[axis]
            if !axes.contains(axis) { target += i * outStrides[axis] }
        }
        out[target] += Double(values[flat])
    }
    return out.map { Float($0) }
}

@Suite struct ReductionTests {
    let x23 = Tensor([1, 2, 3, 4, 6, 8], shape: [2, 3])

    @Test func sumAndMean() {
        #expect(x23.sum().scalars == [24])
        #expect(x23.sum().shape == [])
        #expect(x23.sum(axis: 0).scalars == [5, 8, 11])
        #expect(x23.sum(axis: 1, keepDims: true).shape == [2, 1])
        #expect(x23.sum(axis: -1).scalars == [6, 18])
        #expect(x23.mean(axis: 1).scalars == [2, 6])
        #expect(x23.mean().item == 4)
        #expect(x23.sum(axes: []).scalars == x23.scalars)
    }

    @Test func sumMatchesReferenceOnEveryAxisSubset() {
        let g = RandomGenerator(seed: 5)
        let x = Tensor.randomNormal([3, 1, 4, 5, 2], generator: g)
        for mask in 0..<(1 << 5) {
            let axes = (0..<5).filter { mask & (1 << $0) != 0 }
            let s = x.sum(axes: axes, keepDims: true)
            #expect(s.shape == Tensor.keptShape(x.shape, axes: axes))
            expectClose(s.scalars, referenceSum(x, axes: Set(axes)))
        }
    }

    @Test func largeSumsArePreciseAndParallel() {
        // Long contiguous rows (split across cores) and a long strided reduction.
        let n = 200_000
        let x = Tensor.full([n], 0.1)
        expectClose([x.sum().item], [Float(Double(Float(0.1)) * Double(n))], rtol: 1e-6)
        let m = Tensor.full([1000, 300], 0.1)
        expectClose(m.sum(axis: 0).scalars, [Float](repeating: Float(Double(Float(0.1)) * 1000), count: 300), rtol: 1e-6)
        expectClose(m.sum(axis: 1).scalars, [Float](repeating: Float(Double(Float(0.1)) * 300), count: 1000), rtol: 1e-6)
        let g = RandomGenerator(seed: 2)
        let big = Tensor.randomNormal([8, 64, 70], generator: g)
        for axes in [[0], [1], [2], [0, 2], [1, 2], [0, 1]] {
            expectClose(big.sum(axes: axes).scalars, referenceSum(big, axes: Set(axes)), atol: 1e-4)
        }
    }

    @Test func sumAndMeanGradients() {
        let x = Tensor.randomNormal([2, 3, 4], generator: RandomGenerator(seed: 1), requiresGrad: true)
        expectGradients([x]) { $0[0].sum(axes: [0, 2]) }
        expectGradients([x]) { $0[0].mean(axes: [1], keepDims: true) }
        expectGradients([x]) { $0[0].mean() }
    }

    @Test func varianceAndStd() {
        expectClose(x23.variance(axis: 1).scalars, [1, 4])
        expectClose(x23.variance(axis: 1, unbiased: false).scalars, [2.0 / 3, 8.0 / 3])
        expectClose([x23.std(unbiased: false).item], [2.3804761])
        expectClose(x23.std(axis: 0, keepDims: true).scalars, [2.1213203, 2.828427, 3.535534])
        #expect(x23.std(axis: 0, keepDims: true).shape == [1, 3])
        #expect(Tensor([3]).variance().item.isNaN)  // one element, unbiased: 0 / 0 like PyTorch
        #expect(Tensor([3]).variance(unbiased: false).item == 0)
        // Two passes keep precision with a large offset.
        let shifted = Tensor([1e4 + 1, 1e4 + 2, 1e4 + 3, 1e4 + 4])
        expectClose([shifted.variance(unbiased: false).item], [1.25])
    }

    @Test func varianceGradients() {
        let x = Tensor.randomNormal([3, 4], generator: RandomGenerator(seed: 8), requiresGrad: true)
        expectGradients([x]) { $0[0].variance(axes: [1]) }
        expectGradients([x]) { $0[0].variance(axes: [0], keepDims: true, unbiased: false) }
        expectGradients([x]) { $0[0].std() }
        expectGradients([x]) { $0[0].std(axes: [1], unbiased: false) }
        let y = Tensor.randomNormal([2, 3, 2], generator: RandomGenerator(seed: 9), requiresGrad: true)
        expectGradients([y]) { $0[0].variance(axes: [0, 2]) }
    }

    @Test func maxMinValuesAndGradients() {
        let x = Tensor([1, 7, 3, 9, 2, 9], shape: [2, 3], requiresGrad: true)
        #expect(x.max().item == 9)
        #expect(x.min().item == 1)
        #expect(x.max(axis: 1).scalars == [7, 9])
        #expect(x.min(axis: 0).scalars == [1, 2, 3])
        #expect(x.max(axis: 0, keepDims: true).shape == [1, 3])
        // The gradient goes to the first maximal element only.
        x.max(axis: 1).sum().backward()
        #expect(x.grad!.scalars == [0, 1, 0, 1, 0, 0])
        x.zeroGrad()
        x.max().backward()
        #expect(x.grad!.scalars == [0, 0, 0, 1, 0, 0])
        x.zeroGrad()
        x.min(axis: 0).sum().backward()
        #expect(x.grad!.scalars == [1, 0, 1, 0, 1, 0])
        #expect(Tensor([1, .nan, 3]).max().item.isNaN)
        #expect(Tensor([1, .nan, 3]).min().item.isNaN)
    }

    @Test func maxOverSeparateAxisBlocks() {
        // Distinct values 0.1 apart, so finite differences never cross a tie.
        let x = Tensor((0..<60).map { Float(($0 * 37) % 60) * 0.1 - 3 }, shape: [3, 4, 5], requiresGrad: true)
        let m = x.max(axes: [0, 2])
        #expect(m.shape == [4])
        let values = x.scalars
        for j in 0..<4 {
            var best = -Float.infinity
            for i in 0..<3 { for k in 0..<5 { best = Swift.max(best, values[(i * 4 + j) * 5 + k]) } }
            #expect(m.scalars[j] == best)
        }
        expectGradients([x]) { $0[0].max(axes: [0, 2]) }
        expectGradients([x]) { $0[0].min(axes: [0, 2], keepDims: true) }
        expectGradients([x]) { $0[0].max(axes: [1]) }
        expectGradients([x]) { $0[0].min(axes: [2]) }
        expectGradients([x]) { $0[0].max() }
    }

    @Test func argmaxArgmin() {
        let x = Tensor([1, 7, 3, 9, 2, 9], shape: [2, 3])
        #expect(x.argmax(axis: 1).scalars == [1, 0])
        #expect(x.argmax(axis: 0).scalars == [1, 0, 1])
        #expect(x.argmin(axis: 1).scalars == [0, 1])
        #expect(x.argmax().scalars == [3])  // first of the tied maxima in the flattened tensor
        #expect(x.argmax().shape == [])
        #expect(x.argmin(axis: -1, keepDims: true).shape == [2, 1])
        #expect(x.argmax(keepDims: true).shape == [1, 1])
        let y = Tensor((0..<24).map { Float(($0 * 7) % 24) }, shape: [2, 3, 4])
        #expect(y.argmax(axis: 1).scalars == [2, 2, 2, 0, 2, 1, 2, 2])  // numpy.argmax
    }

    @Test func logSumExpIsStable() {
        expectClose(x23.logSumExp(axes: [1]).scalars, [3.407606, 8.142932])
        expectClose(x23.logSumExp(axes: [0], keepDims: true).scalars, [4.0485873, 6.01815, 8.006715])
        let big = Tensor([1000, 1000])
        expectClose([big.logSumExp().item], [1000.6931])
        let small = Tensor([-1000, -1000])
        expectClose([small.logSumExp().item], [-999.3069])
        #expect(Tensor([-.infinity, -.infinity]).logSumExp().item == -.infinity)
        let x = Tensor.randomNormal([2, 3, 4], generator: RandomGenerator(seed: 6), requiresGrad: true)
        expectGradients([x]) { $0[0].logSumExp(axes: [1]) }
        expectGradients([x]) { $0[0].logSumExp(axes: [0, 2], keepDims: true) }
        expectGradients([x]) { $0[0].logSumExp() }
    }

    @Test func softmaxAndLogSoftmax() {
        let x = Tensor([1, 2, 3, 1000, 1000, 1000], shape: [2, 3])
        expectClose(x.softmax(axis: 1).scalars, [0.09003057, 0.24472848, 0.66524094, 1.0 / 3, 1.0 / 3, 1.0 / 3])
        expectClose(x.logSoftmax(axis: 1).scalars, [-2.407606, -1.4076059, -0.40760595, -1.0986123, -1.0986123, -1.0986123])
        // Along a middle axis (inner > 1) it matches the permuted last-axis result.
        let g = RandomGenerator(seed: 12)
        let y = Tensor.randomNormal([2, 5, 3], generator: g)
        let viaLast = y.permuted([0, 2, 1]).softmax(axis: -1).permuted([0, 2, 1])
        expectClose(y.softmax(axis: 1).scalars, viaLast.scalars)
        let rowSums = y.softmax(axis: 1).sum(axis: 1).scalars
        expectClose(rowSums, [Float](repeating: 1, count: 6))
        expectClose(y.logSoftmax(axis: 0).exp().scalars, y.softmax(axis: 0).scalars)
        // Extreme inputs stay finite.
        let z = Tensor([-1e30, 0, 1e30])
        #expect(z.softmax().scalars == [0, 0, 1])
        #expect(z.logSoftmax().scalars.allSatisfy { !$0.isNaN })
    }

    @Test func softmaxGradients() {
        let x = Tensor.randomNormal([2, 3, 4], generator: RandomGenerator(seed: 10), requiresGrad: true)
        expectGradients([x]) { $0[0].softmax(axis: -1) }
        expectGradients([x]) { $0[0].softmax(axis: 1) }
        expectGradients([x]) { $0[0].logSoftmax(axis: -1) }
        expectGradients([x]) { $0[0].logSoftmax(axis: 0) }
    }
}
