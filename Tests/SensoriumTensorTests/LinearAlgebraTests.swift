import Testing
@testable import SensoriumTensor

/// Reference batched matrix product in Double with NumPy batch broadcasting (rank ≥ 2 operands).
private func naiveMatmul(_ a: Tensor, _ b: Tensor) -> (shape: [Int], values: [Double]) {
    let n = a.shape[a.rank - 2], k = a.shape[a.rank - 1], m = b.shape[b.rank - 1]
    let batchA = Array(a.shape.dropLast(2)), batchB = Array(b.shape.dropLast(2))
    let batch = Tensor.broadcastShape(batchA, batchB, op: "test")
    let sa = Tensor.broadcastStrides(from: batchA, to: batch), sb = Tensor.broadcastStrides(from: batchB, to: batch)
    let count = Tensor.elementCount(batch)
    var out = [Double](repeating: 0, count: count * n * m)
    let pa = a.scalars, pb = b.scalars
    for i in 0..<count {
        var rem = i, oa = 0, ob = 0
        for axis in stride(from: batch.count - 1, through: 0, by: -1) {
            let idx = rem % batch[axis]
            rem /= batch[axis]
            oa += idx * sa[axis]
            ob += idx * sb[axis]
        }
        for r in 0..<n { for c in 0..<m {
            var acc = 0.0
            for q in 0..<k { acc += Double(pa[oa * n * k + r * k + q]) * Double(pb[ob * k * m + q * m + c]) }
            out[(i * n + r) * m + c] = acc
        } }
    }
    return (batch + [n, m], out)
}

private func expectAllClose(_ actual: [Float], _ expected: [Double], tol: Double = 1e-4,
                            _ label: String, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(actual.count == expected.count, "\(label): count", sourceLocation: sourceLocation)
    for i in 0..<min(actual.count, expected.count) where abs(Double(actual[i]) - expected[i]) > tol * (1 + abs(expected[i])) {
        Issue.record("\(label): element \(i) is \(actual[i]), expected \(expected[i])", sourceLocation: sourceLocation)
        return
    }
}

@Suite struct LinearAlgebraTests {
    @Test func matmulBatchBroadcastingMatchesNaive() {
        let gen = RandomGenerator(seed: 1)
        let cases: [([Int], [Int])] = [
            ([3, 4], [4, 5]), ([2, 3, 4], [4, 5]), ([3, 4], [2, 4, 5]), ([2, 3, 4], [2, 4, 5]),
            ([2, 1, 3, 4], [3, 4, 2]), ([1, 3, 4], [5, 4, 2]), ([2, 1, 3, 4], [1, 3, 4, 6]), ([3, 4, 6], [3, 6, 5]),
            ([1, 1], [1, 1]), ([2, 3, 0], [0, 4]),
        ]
        for (sa, sb) in cases {
            let a = Tensor.randomNormal(sa, generator: gen, requiresGrad: true)
            let b = Tensor.randomNormal(sb, generator: gen, requiresGrad: true)
            let y = matmul(a, b)
            let ref = naiveMatmul(a, b)
            #expect(y.shape == ref.shape, "\(sa) x \(sb)")
            expectAllClose(y.scalars, ref.values, "\(sa) x \(sb)")
            // Gradients: dA = G·Bᵀ and dB = Aᵀ·G, reduced over broadcast batch axes.
            let g = Tensor.randomNormal(y.shape, generator: gen)
            y.backward(g)
            let bt = Tensor(Array(repeating: 0, count: b.count), shape: b.shape)
            let at = Tensor(Array(repeating: 0, count: a.count), shape: a.shape)
            let ga = naiveGradient(of: a, other: b, g: g, isLeft: true, scratch: at)
            let gb = naiveGradient(of: b, other: a, g: g, isLeft: false, scratch: bt)
            expectAllClose(a.grad!.scalars, ga, "\(sa) x \(sb) grad a")
            expectAllClose(b.grad!.scalars, gb, "\(sa) x \(sb) grad b")
        }
    }

    /// d(sum(G ⊙ matmul))/d(operand) by perturbing nothing: direct summation over the broadcast product.
    private func naiveGradient(of t: Tensor, other: Tensor, g: Tensor, isLeft: Bool, scratch: Tensor) -> [Double] {
        let a = isLeft ? t : other, b = isLeft ? other : t
        let n = a.shape[a.rank - 2], k = a.shape[a.rank - 1], m = b.shape[b.rank - 1]
        let batchA = Array(a.shape.dropLast(2)), batchB = Array(b.shape.dropLast(2))
        let batch = Tensor.broadcastShape(batchA, batchB, op: "test")
        let sa = Tensor.broadcastStrides(from: batchA, to: batch), sb = Tensor.broadcastStrides(from: batchB, to: batch)
        var grad = [Double](repeating: 0, count: t.count)
        let pa = a.scalars, pb = b.scalars, pg = g.scalars
        for i in 0..<Tensor.elementCount(batch) {
            var rem = i, oa = 0, ob = 0
            for axis in stride(from: batch.count - 1, through: 0, by: -1) {
                let idx = rem % batch[axis]
                rem /= batch[axis]
                oa += idx * sa[axis]
                ob += idx * sb[axis]
            }
            for r in 0..<n { for c in 0..<m { for q in 0..<k {
                let gv = Double(pg[(i * n + r) * m + c])
                if isLeft {
                    grad[oa * n * k + r * k + q] += gv * Double(pb[ob * k * m + q * m + c])
                } else {
                    grad[ob * k * m + q * m + c] += gv * Double(pa[oa * n * k + r * k + q])
                }
            } } }
        }
        return grad
    }

    @Test func matmulVectorCases() {
        let a = Tensor([1, 2, 3])
        let b = Tensor([4, 5, 6])
        let dot = matmul(a, b)
        #expect(dot.shape == [])
        #expect(dot.item == 32)
        let m = Tensor([1, 2, 3, 4, 5, 6], shape: [2, 3])
        let mv = matmul(m, a)
        #expect(mv.shape == [2])
        #expect(mv.scalars == [14, 32])
        let vm = matmul(Tensor([1, 1]), m)
        #expect(vm.shape == [3])
        #expect(vm.scalars == [5, 7, 9])
        let batched = Tensor([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], shape: [2, 2, 3])
        let bv = matmul(batched, a)
        #expect(bv.shape == [2, 2])
        #expect(bv.scalars == [14, 32, 50, 68])
        let vb = matmul(Tensor([1, -1]), batched)
        #expect(vb.shape == [2, 3])
        #expect(vb.scalars == [-3, -3, -3, -3, -3, -3])
    }

    /// Values from torch 2.13: a = arange(24).reshape(2,3,4)/10 - 1, b = arange(8).reshape(4,2)/4 - 0.5.
    @Test func matmulMatchesTorch() {
        let a = Tensor((0..<24).map { Float($0) / 10 - 1 }, shape: [2, 3, 4])
        let b = Tensor((0..<8).map { Float($0) / 4 - 0.5 }, shape: [4, 2])
        let y = matmul(a, b)
        let torch: [Double] = [-0.6, -1.45, -0.2, -0.65, 0.2, 0.15, 0.6, 0.95, 1.0, 1.75, 1.4, 2.55]
        expectAllClose(y.scalars, torch, tol: 1e-5, "torch")
    }

    @Test func gradientCheckMatmul() {
        let gen = RandomGenerator(seed: 5)
        let a = Tensor.randomNormal([2, 1, 3, 4], generator: gen, requiresGrad: true)
        let b = Tensor.randomNormal([3, 4, 2], generator: gen, requiresGrad: true)
        for r in GradientCheck.check([a, b], { matmul($0[0], $0[1]) }) { #expect(r.passed, "\(r)") }
        let v = Tensor.randomNormal([4], generator: gen, requiresGrad: true)
        for r in GradientCheck.check([a, v], { matmul($0[0], $0[1]) }) { #expect(r.passed, "\(r)") }
        let w = Tensor.randomNormal([3], generator: gen, requiresGrad: true)
        for r in GradientCheck.check([w, a], { matmul($0[0], $0[1]) }) { #expect(r.passed, "\(r)") }
    }

    @Test func linearMatchesNaiveAndTorch() {
        let gen = RandomGenerator(seed: 8)
        let x = Tensor.randomNormal([2, 3, 5], generator: gen, requiresGrad: true)
        let w = Tensor.randomNormal([4, 5], generator: gen, requiresGrad: true)
        let b = Tensor.randomNormal([4], generator: gen, requiresGrad: true)
        let y = linear(x, weight: w, bias: b)
        #expect(y.shape == [2, 3, 4])
        var ref = [Double]()
        for r in 0..<6 { for o in 0..<4 {
            var acc = Double(b.scalars[o])
            for i in 0..<5 { acc += Double(x.scalars[r * 5 + i]) * Double(w.scalars[o * 5 + i]) }
            ref.append(acc)
        } }
        expectAllClose(y.scalars, ref, "linear")
        // torch: F.linear(arange(6).reshape(2,3)/2, arange(6).reshape(2,3)/3 - 1, tensor([0.5, -0.25]))
        let tx = Tensor((0..<6).map { Float($0) / 2 }, shape: [2, 3])
        let tw = Tensor((0..<6).map { Float($0) / 3 - 1 }, shape: [2, 3])
        let ty = linear(tx, weight: tw, bias: Tensor([0.5, -0.25]))
        expectAllClose(ty.scalars, [-0.16666663, 0.58333331, -3.16666651, 2.08333325], tol: 1e-5, "torch linear")
        let noBias = linear(Tensor([1, 2, 3]), weight: tw)
        #expect(noBias.shape == [2])
        expectAllClose(noBias.scalars, [-3.33333325, 2.66666651], tol: 1e-5, "vector linear")
    }

    /// Many rows through a small weight: the forward product and the input gradient run as pieces of
    /// rows, the weight gradient as per-piece partial products (``ThinGEMM``) on two or more threads.
    /// Against Double references of y = x·Wᵀ + b, dx = g·W, dW = gᵀ·x, db = Σ g.
    @Test func longThinLinearMatchesNaive() {
        let gen = RandomGenerator(seed: 10)
        let (rows, inF, outF) = (4_500, 24, 40)
        #expect(!ThinGEMM.splits(rows: 6, n: outF, k: inF))
        if Parallel.threadCount > 1 { #expect(ThinGEMM.splits(rows: rows, n: outF, k: inF)) }
        let x = Tensor.randomNormal([3, rows / 3, inF], generator: gen, requiresGrad: true)
        let w = Tensor.randomNormal([outF, inF], generator: gen, requiresGrad: true)
        let b = Tensor.randomNormal([outF], generator: gen, requiresGrad: true)
        let g = Tensor.randomNormal([3, rows / 3, outF], generator: gen)
        let y = linear(x, weight: w, bias: b)
        y.backward(g)
        let (xs, ws, bs, gs) = (x.scalars, w.scalars, b.scalars, g.scalars)
        var refY = [Double](), refX = [Double](repeating: 0, count: rows * inF)
        var refW = [Double](repeating: 0, count: outF * inF), refB = [Double](repeating: 0, count: outF)
        for r in 0..<rows {
            for o in 0..<outF {
                var acc = Double(bs[o])
                for i in 0..<inF { acc += Double(xs[r * inF + i]) * Double(ws[o * inF + i]) }
                refY.append(acc)
                let go = Double(gs[r * outF + o])
                refB[o] += go
                for i in 0..<inF {
                    refX[r * inF + i] += go * Double(ws[o * inF + i])
                    refW[o * inF + i] += go * Double(xs[r * inF + i])
                }
            }
        }
        expectAllClose(y.scalars, refY, tol: 1e-4, "y")
        expectAllClose(x.grad!.scalars, refX, tol: 1e-4, "dx")
        expectAllClose(w.grad!.scalars, refW, tol: 2e-3, "dW")
        expectAllClose(b.grad!.scalars, refB, tol: 2e-3, "db")
    }

    @Test func gradientCheckLinear() {
        let gen = RandomGenerator(seed: 9)
        let x = Tensor.randomNormal([2, 3, 5], generator: gen, requiresGrad: true)
        let w = Tensor.randomNormal([4, 5], generator: gen, requiresGrad: true)
        let b = Tensor.randomNormal([4], generator: gen, requiresGrad: true)
        for r in GradientCheck.check([x, w, b], { linear($0[0], weight: $0[1], bias: $0[2]) }) { #expect(r.passed, "\(r)") }
        for r in GradientCheck.check([x, w], { linear($0[0], weight: $0[1]) }) { #expect(r.passed, "\(r)") }
    }

    @Test func solveMatchesReference() throws {
        let a = Tensor([4, 1, 0, 1, 3, 1, 0, 1, 2], shape: [3, 3])
        let x = Tensor([1, -2, 3, 0.5, 1, -1], shape: [3, 2])
        let b = matmul(a, x)
        let solved = try solve(a, b)
        expectAllClose(solved.scalars, x.scalars.map(Double.init), tol: 1e-5, "solve")
        let vector = try solve(a, Tensor([5, 2, 4]))
        #expect(vector.shape == [3])
        expectAllClose(matmul(a, vector).scalars, [5, 2, 4], tol: 1e-5, "solve vector")
        // Batched.
        let gen = RandomGenerator(seed: 4)
        let batch = Tensor.randomNormal([2, 4, 4], generator: gen) + Tensor.eyeForTest(4) * 4
        let rhs = Tensor.randomNormal([2, 4, 3], generator: gen)
        let xs = try solve(batch, rhs)
        expectAllClose(matmul(batch, xs).scalars, rhs.scalars.map(Double.init), tol: 1e-4, "batched solve")
    }

    @Test func solveReportsSingularMatrix() {
        let singular = Tensor([1, 2, 2, 4], shape: [2, 2])
        #expect(throws: LinearAlgebraError.singularMatrix(batchIndex: 0, pivot: 1)) {
            try solve(singular, Tensor([1, 2]))
        }
    }

    @Test func svdReconstructsAndMatchesTorch() throws {
        let gen = RandomGenerator(seed: 6)
        for shape in [[5, 3], [3, 5], [4, 4], [2, 3, 2]] {
            let a = Tensor.randomNormal(shape, generator: gen)
            let (u, s, vt) = try svd(a)
            let m = shape[shape.count - 2], n = shape[shape.count - 1], r = min(m, n)
            let batch = Array(shape.dropLast(2))
            #expect(u.shape == batch + [m, r] && s.shape == batch + [r] && vt.shape == batch + [r, n])
            let us = u * s.reshaped(batch + [1, r])
            expectAllClose(matmul(us, vt).scalars, a.scalars.map(Double.init), tol: 1e-5, "svd \(shape)")
            let sv = s.scalars
            for i in 1..<sv.count where i % r != 0 { #expect(sv[i - 1] >= sv[i]) }
        }
        // torch.linalg.svdvals(tensor([[3., 1., 1.], [-1., 3., 1.]])) = [3.4641, 3.1623]
        let (_, s, _) = try svd(Tensor([3, 1, 1, -1, 3, 1], shape: [2, 3]))
        expectAllClose(s.scalars, [Double(12).squareRoot(), Double(10).squareRoot()], tol: 1e-5, "torch svdvals")
    }

    @Test func svdReportsNonFiniteInput() {
        let bad = Tensor([.nan, 1, 2, 3], shape: [2, 2])
        #expect(throws: LinearAlgebraError.nonFiniteInput(op: "svd", shape: [2, 2])) { try svd(bad) }
    }
}

extension Tensor {
    /// Identity matrix for these tests (independent of other helpers' `eye`).
    fileprivate static func eyeForTest(_ n: Int) -> Tensor {
        let t = Tensor.zeros([n, n])
        for i in 0..<n { t[i, i] = 1 }
        return t
    }
}
