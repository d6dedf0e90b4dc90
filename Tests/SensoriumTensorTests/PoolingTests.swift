import Testing
@testable import SensoriumTensor
#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// Direct pooling reference in Double over (planes, T, H, W); windows given per axis as closures.
private func naivePool(_ x: [Float], planes: Int, input: [Int], output: [Int], max isMax: Bool,
                       window: (Int, Int) -> Range<Int>) -> (values: [Double], argmax: [Int]) {
    var values: [Double] = [], argmax: [Int] = []
    let volume = input[0] * input[1] * input[2]
    for p in 0..<planes {
        for ot in 0..<output[0] { for oh in 0..<output[1] { for ow in 0..<output[2] {
            var acc = 0.0, count = 0, best = -Double.infinity, bestIndex = -1
            for it in window(0, ot) { for ih in window(1, oh) { for iw in window(2, ow) {
                let index = (it * input[1] + ih) * input[2] + iw
                let v = Double(x[p * volume + index])
                acc += v
                count += 1
                if v > best { best = v; bestIndex = p * volume + index }
            } } }
            values.append(isMax ? best : acc / Double(count))
            argmax.append(bestIndex)
        } } }
    }
    return (values, argmax)
}

private func expectNear(_ actual: [Float], _ expected: [Double], tol: Double = 1e-5, _ label: String,
                        sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(actual.count == expected.count, "\(label): \(actual.count) vs \(expected.count) elements",
            sourceLocation: sourceLocation)
    for i in 0..<min(actual.count, expected.count) where abs(Double(actual[i]) - expected[i]) > tol * (1 + abs(expected[i])) {
        Issue.record("\(label): element \(i) is \(actual[i]), expected \(expected[i])", sourceLocation: sourceLocation)
        return
    }
}

/// Distinct values (a shuffled ramp), so max pooling has no ties and finite differences are safe.
private func distinctTensor(_ shape: [Int], seed: UInt64, requiresGrad: Bool = true) -> Tensor {
    let gen = RandomGenerator(seed: seed)
    var values = (0..<Tensor.elementCount(shape)).map { Float($0) * 0.1 - 1 }
    for i in stride(from: values.count - 1, to: 0, by: -1) {
        values.swapAt(i, Int(gen.next() % UInt64(i + 1)))
    }
    return Tensor(values, shape: shape, requiresGrad: requiresGrad)
}

@Suite struct PoolingTests {
    /// Checks a fixed-window pool (forward and gradient) against the naive reference.
    private func verifyFixed(rank: Int, shape: [Int], kernel: [Int], stride: [Int]?, max isMax: Bool,
                             sourceLocation: SourceLocation = #_sourceLocation) {
        let x = distinctTensor(shape, seed: UInt64(shape.reduce(0, +) * 31 + kernel.reduce(0, +)))
        let y: Tensor
        switch (rank, isMax) {
        case (2, false): y = avgPool2d(x, kernelSize: kernel, stride: stride)
        case (2, true): y = maxPool2d(x, kernelSize: kernel, stride: stride)
        case (_, false): y = avgPool3d(x, kernelSize: kernel, stride: stride)
        default: y = maxPool3d(x, kernelSize: kernel, stride: stride)
        }
        let pad = 3 - rank
        let k = [Int](repeating: 1, count: pad) + (kernel.count == 1 ? [Int](repeating: kernel[0], count: rank) : kernel)
        let sv = stride ?? kernel
        let s = [Int](repeating: 1, count: pad) + (sv.count == 1 ? [Int](repeating: sv[0], count: rank) : sv)
        let input = [Int](repeating: 1, count: pad) + Array(shape.suffix(rank))
        let output = (0..<3).map { (input[$0] - k[$0]) / s[$0] + 1 }
        let planes = Tensor.elementCount(Array(shape.dropLast(rank)))
        #expect(y.shape == Array(shape.dropLast(rank)) + Array(output.suffix(rank)), sourceLocation: sourceLocation)
        let ref = naivePool(x.scalars, planes: planes, input: input, output: output, max: isMax) { axis, i in
            (i * s[axis])..<(i * s[axis] + k[axis])
        }
        let label = "\(isMax ? "max" : "avg")Pool\(rank)d \(shape) k\(kernel) s\(String(describing: stride))"
        expectNear(y.scalars, ref.values, label, sourceLocation: sourceLocation)
        // Gradient of sum(y * g).
        let g = Tensor.randomNormal(y.shape, generator: RandomGenerator(seed: 99))
        y.backward(g)
        var expected = [Double](repeating: 0, count: x.count)
        let gv = g.scalars
        if isMax {
            for (o, index) in ref.argmax.enumerated() { expected[index] += Double(gv[o]) }
        } else {
            let volume = input[0] * input[1] * input[2], outVolume = output[0] * output[1] * output[2]
            let count = Double(k[0] * k[1] * k[2])
            for p in 0..<planes {
                for o in 0..<outVolume {
                    let ow = o % output[2], oh = (o / output[2]) % output[1], ot = o / (output[1] * output[2])
                    for it in 0..<k[0] { for ih in 0..<k[1] { for iw in 0..<k[2] {
                        let index = ((ot * s[0] + it) * input[1] + oh * s[1] + ih) * input[2] + ow * s[2] + iw
                        expected[p * volume + index] += Double(gv[p * outVolume + o]) / count
                    } } }
                }
            }
        }
        expectNear(x.grad!.scalars, expected, "\(label) grad", sourceLocation: sourceLocation)
    }

    @Test func pool2dMatchesNaiveOverOptions() {
        for isMax in [false, true] {
            for (kernel, stride) in [([2], nil), ([2], [2]), ([3], [2]), ([3], [1]), ([2, 3], [1, 2]), ([1, 4], nil),
                                     ([3, 2], [3, 1])] as [([Int], [Int]?)] {
                verifyFixed(rank: 2, shape: [2, 3, 7, 8], kernel: kernel, stride: stride, max: isMax)
            }
            verifyFixed(rank: 2, shape: [2, 3, 6, 8], kernel: [2, 2], stride: [2, 2], max: isMax)  // parity fixture
            verifyFixed(rank: 2, shape: [3, 5, 5], kernel: [5], stride: nil, max: isMax)  // unbatched, global
        }
    }

    @Test func pool3dMatchesNaiveOverOptions() {
        for isMax in [false, true] {
            for (kernel, stride) in [([2], nil), ([1, 2, 2], nil), ([3, 1, 1], [1]), ([2, 3, 2], [1, 2, 1])] as [([Int], [Int]?)] {
                verifyFixed(rank: 3, shape: [2, 2, 5, 6, 7], kernel: kernel, stride: stride, max: isMax)
            }
            verifyFixed(rank: 3, shape: [2, 4, 4, 5], kernel: [2], stride: [1], max: isMax)  // unbatched
        }
    }

    @Test func adaptiveAveragePoolingMatchesNaive() {
        for (input, output) in [([7, 9], [3, 4]), ([5, 5], [5, 5]), ([4, 6], [1, 1]), ([3, 4], [5, 7]), ([10, 3], [4, 2])] {
            let x = distinctTensor([2, 3] + input, seed: 5)
            let y = adaptiveAvgPool2d(x, outputSize: output)
            #expect(y.shape == [2, 3] + output)
            let ref = naivePool(x.scalars, planes: 6, input: [1] + input, output: [1] + output, max: false) { axis, i in
                let l = axis == 0 ? 1 : input[axis - 1], n = axis == 0 ? 1 : output[axis - 1]
                return Int((Double(i * l) / Double(n)).rounded(.down))..<Int((Double((i + 1) * l) / Double(n)).rounded(.up))
            }
            expectNear(y.scalars, ref.values, "adaptive \(input) -> \(output)")
        }
        let x3 = distinctTensor([1, 2, 5, 7, 6], seed: 6)
        let y3 = adaptiveAvgPool3d(x3, outputSize: [2, 3, 4])
        let ref3 = naivePool(x3.scalars, planes: 2, input: [5, 7, 6], output: [2, 3, 4], max: false) { axis, i in
            let l = [5, 7, 6][axis], n = [2, 3, 4][axis]
            return Int((Double(i * l) / Double(n)).rounded(.down))..<Int((Double((i + 1) * l) / Double(n)).rounded(.up))
        }
        expectNear(y3.scalars, ref3.values, "adaptive 3d")
        #expect(adaptiveAvgPool3d(x3, outputSize: [1]).shape == [1, 2, 1, 1, 1])
    }

    /// Values printed by torch 2.13 for x = sin(0.37 · arange(35)).reshape(1, 1, 5, 7).
    @Test func poolingMatchesTorch() {
        let x = Tensor((0..<35).map { Float(sin(0.37 * Double($0))) }, shape: [1, 1, 5, 7], requiresGrad: true)
        expectNear(adaptiveAvgPool2d(x, outputSize: [3, 4]).scalars,
                   [0.266564, 0.232511, 0.093203, -0.050133, 0.183101, 0.079535, -0.08238, -0.184991,
                    0.046544, -0.096503, -0.234076, -0.266208], tol: 2e-6, "torch adaptive_avg_pool2d")
        expectNear(avgPool2d(x, kernelSize: [2, 3], stride: [1, 2]).scalars,
                   [0.258875, 0.174678, -0.000886, -0.233299, -0.249713, -0.135511, 0.138523, 0.250678,
                    0.231713, -0.002658, -0.177287, -0.259184], tol: 2e-6, "torch avg_pool2d")
        let y = maxPool2d(x, kernelSize: [3], stride: [2])
        expectNear(y.scalars, [0.674288, 0.995881, 0.995881, 0.996476, 0.792427, 0.898708], tol: 2e-6, "torch max_pool2d")
        y.sum().backward()
        var grad = [Double](repeating: 0, count: 35)
        grad[2] = 1; grad[4] = 2; grad[20] = 1; grad[21] = 1; grad[23] = 1
        expectNear(x.grad!.scalars, grad, "torch max_pool2d grad")
        let x3 = Tensor((0..<60).map { Float(cos(0.21 * Double($0))) }, shape: [1, 1, 3, 4, 5])
        expectNear(adaptiveAvgPool3d(x3, outputSize: [2, 3, 2]).scalars,
                   [0.410384, 0.427692, 0.316888, 0.170553, -0.095035, -0.257968, -0.314428, -0.167224,
                    0.098561, 0.260856, 0.41251, 0.426813], tol: 2e-6, "torch adaptive_avg_pool3d")
    }

    @Test func maxPoolPropagatesNaN() {
        let x = Tensor([1, .nan, 3, 4], shape: [1, 1, 2, 2])
        #expect(maxPool2d(x, kernelSize: [2]).item.isNaN)
    }

    @Test func gradientChecks() {
        let x2 = distinctTensor([2, 2, 5, 6], seed: 21)
        for r in GradientCheck.check([x2], { avgPool2d($0[0], kernelSize: [3, 2], stride: [2, 1]) }) { #expect(r.passed, "avg2d \(r)") }
        for r in GradientCheck.check([x2], { maxPool2d($0[0], kernelSize: [2, 3], stride: [1, 2]) }) { #expect(r.passed, "max2d \(r)") }
        for r in GradientCheck.check([x2], { adaptiveAvgPool2d($0[0], outputSize: [3, 4]) }) { #expect(r.passed, "adaptive2d \(r)") }
        let x3 = distinctTensor([1, 2, 4, 5, 4], seed: 22)
        for r in GradientCheck.check([x3], { avgPool3d($0[0], kernelSize: [2, 2, 2], stride: [1, 2, 1]) }) { #expect(r.passed, "avg3d \(r)") }
        for r in GradientCheck.check([x3], { maxPool3d($0[0], kernelSize: [2]) }) { #expect(r.passed, "max3d \(r)") }
        for r in GradientCheck.check([x3], { adaptiveAvgPool3d($0[0], outputSize: [3, 2, 3]) }) { #expect(r.passed, "adaptive3d \(r)") }
    }

    /// Enough planes to split across threads.
    @Test func largeInputsRunInParallel() {
        let x = distinctTensor([4, 16, 32, 32], seed: 23, requiresGrad: false)
        let y = maxPool2d(x, kernelSize: [2])
        let ref = naivePool(x.scalars, planes: 64, input: [1, 32, 32], output: [1, 16, 16], max: true) { axis, i in
            axis == 0 ? 0..<1 : (i * 2)..<(i * 2 + 2)
        }
        expectNear(y.scalars, ref.values, "large max pool")
        let a = adaptiveAvgPool2d(x, outputSize: [5, 7])
        let refA = naivePool(x.scalars, planes: 64, input: [1, 32, 32], output: [1, 5, 7], max: false) { axis, i in
            let n = [1, 5, 7][axis], l = [1, 32, 32][axis]
            return (i * l / n)..<(((i + 1) * l + n - 1) / n)
        }
        expectNear(a.scalars, refA.values, "large adaptive pool")
    }
}
