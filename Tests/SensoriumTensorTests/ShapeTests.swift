import Testing
@testable import SensoriumTensor

private func expectGradients(_ inputs: [Tensor], sourceLocation: SourceLocation = #_sourceLocation,
                             _ f: ([Tensor]) -> Tensor) {
    let results = GradientCheck.check(inputs, f)
    #expect(results.count == inputs.filter(\.requiresGrad).count, sourceLocation: sourceLocation)
    for r in results { #expect(r.passed, "\(r)", sourceLocation: sourceLocation) }
}

/// 0, 1, 2, ... in `shape`.
private func iota(_ shape: [Int], requiresGrad: Bool = false) -> Tensor {
    Tensor((0..<Tensor.elementCount(shape)).map(Float.init), shape: shape, requiresGrad: requiresGrad)
}

/// Permutation by direct index arithmetic, as the reference for the tiled kernel.
private func referencePermute(_ x: Tensor, _ perm: [Int]) -> [Float] {
    let outShape = perm.map { x.shape[$0] }
    let inStrides = x.strides
    let values = x.scalars
    return (0..<x.count).map { flat in
        var rest = flat, source = 0
        for axis in stride(from: outShape.count - 1, through: 0, by: -1) {
            source += (rest % outShape[axis]) * inStrides[perm[axis]]
            rest /= outShape[axis]
        }
        return values[source]
    }
}

@Suite struct ShapeTests {
    // MARK: Views

    @Test func squeezeAndUnsqueezeShareStorage() {
        let x = iota([2, 1, 3, 1])
        #expect(x.squeezed(axis: 1).shape == [2, 3, 1])
        #expect(x.squeezed(axis: -1).shape == [2, 1, 3])
        #expect(x.squeezed().shape == [2, 3])
        #expect(x.squeezed().storage === x.storage)
        let y = iota([2, 3])
        #expect(y.unsqueezed(axis: 0).shape == [1, 2, 3])
        #expect(y.unsqueezed(axis: 2).shape == [2, 3, 1])
        #expect(y.unsqueezed(axis: -1).shape == [2, 3, 1])
        #expect(y.unsqueezed(axis: -3).shape == [1, 2, 3])
        #expect(y.unsqueezed(axis: 1).storage === y.storage)
        let z = Tensor([1, 2, 3], shape: [3, 1], requiresGrad: true)
        expectGradients([z]) { $0[0].squeezed(axis: 1) * Tensor([1, 2, 3]) }
        expectGradients([z]) { $0[0].unsqueezed(axis: 0) }
    }

    @Test func expandGradientSumsBack() {
        let x = Tensor.randomNormal([3, 1, 2], generator: RandomGenerator(seed: 13), requiresGrad: true)
        #expect(x.expanded(to: [2, 3, 4, 2]).shape == [2, 3, 4, 2])
        expectGradients([x]) { $0[0].expanded(to: [2, 3, 4, 2]) }
    }

    // MARK: Permute

    @Test func permuteValues() {
        let x = iota([2, 3, 4])
        let p = x.permuted([2, 0, 1])
        #expect(p.shape == [4, 2, 3])
        #expect(p.scalars == referencePermute(x, [2, 0, 1]))
        #expect(p[1, 1, 2] == x[1, 2, 1])
        let t = iota([2, 3]).transposed(0, 1)
        #expect(t.shape == [3, 2] && t.scalars == [0, 3, 1, 4, 2, 5])
        #expect(iota([2, 3]).transposed().scalars == [0, 3, 1, 4, 2, 5])
        #expect(x.permuted([0, 1, 2]) === x)
        #expect(x.permuted([-1, 0, 1]).scalars == p.scalars)
    }

    @Test func permuteKernelsMatchReference() {
        // Shapes that exercise block copies, strided rows and the tiled transpose (with partial tiles).
        let cases: [([Int], [Int])] = [
            ([37, 45], [1, 0]), ([3, 33, 40], [0, 2, 1]), ([5, 6, 7], [2, 1, 0]),
            ([4, 5, 6, 7], [0, 2, 1, 3]), ([2, 3, 4, 5], [3, 1, 0, 2]), ([64, 70], [1, 0]),
            ([1, 9, 1, 8], [3, 2, 1, 0]), ([130, 3, 70], [2, 1, 0]),
        ]
        for (shape, perm) in cases {
            let x = iota(shape)
            #expect(x.permuted(perm).scalars == referencePermute(x, perm), "shape \(shape) perm \(perm)")
        }
    }

    @Test func permuteGradients() {
        let x = Tensor.randomNormal([2, 3, 4], generator: RandomGenerator(seed: 1), requiresGrad: true)
        expectGradients([x]) { $0[0].permuted([2, 0, 1]) }
        expectGradients([x]) { $0[0].transposed(0, 2) }
        expectGradients([x]) { $0[0].transposed() }
    }

    // MARK: Flip and pad

    @Test func flipValuesAndGradient() {
        let x = iota([2, 3])
        #expect(x.flipped(axes: [1]).scalars == [2, 1, 0, 5, 4, 3])
        #expect(x.flipped(axes: [0]).scalars == [3, 4, 5, 0, 1, 2])
        #expect(x.flipped(axes: [0, -1]).scalars == [5, 4, 3, 2, 1, 0])
        let y = iota([2, 3, 4])
        #expect(y.flipped(axes: [1]).flipped(axes: [1]).scalars == y.scalars)
        let g = Tensor.randomNormal([2, 3, 4], generator: RandomGenerator(seed: 2), requiresGrad: true)
        expectGradients([g]) { $0[0].flipped(axes: [0, 2]) }
    }

    @Test func padValuesAndGradient() {
        let x = Tensor([1, 2, 3, 4], shape: [2, 2])
        let p = x.padded([(before: 1, after: 0), (before: 1, after: 2)], value: -1)
        #expect(p.shape == [3, 5])
        #expect(p.scalars == [-1, -1, -1, -1, -1,
                              -1, 1, 2, -1, -1,
                              -1, 3, 4, -1, -1])
        // Fewer pairs than axes: the trailing axes are left alone.
        let q = iota([2, 2, 2]).padded([(before: 0, after: 1)])
        #expect(q.shape == [3, 2, 2])
        #expect(q.scalars == [0, 1, 2, 3, 4, 5, 6, 7, 0, 0, 0, 0])
        let g = Tensor.randomNormal([2, 3, 2], generator: RandomGenerator(seed: 3), requiresGrad: true)
        expectGradients([g]) { $0[0].padded([(before: 1, after: 1), (before: 0, after: 2), (before: 2, after: 0)], value: 0.5) }
    }

    // MARK: Concatenate, stack, split

    @Test func concatenateAlongAnyAxis() {
        let a = iota([2, 2]), b = Tensor([10, 11, 12, 13, 14, 15], shape: [2, 3])
        let c = Tensor.concatenate([a, b], axis: 1)
        #expect(c.shape == [2, 5])
        #expect(c.scalars == [0, 1, 10, 11, 12, 2, 3, 13, 14, 15])
        let d = Tensor.concatenate([a, Tensor([7, 8], shape: [1, 2])], axis: 0)
        #expect(d.shape == [3, 2] && d.scalars == [0, 1, 2, 3, 7, 8])
        #expect(Tensor.concatenate([a, b], axis: -1).scalars == c.scalars)
        let x = Tensor.randomNormal([2, 3, 2], generator: RandomGenerator(seed: 4), requiresGrad: true)
        let y = Tensor.randomNormal([2, 1, 2], generator: RandomGenerator(seed: 5), requiresGrad: true)
        let frozen = Tensor.randomNormal([2, 2, 2], generator: RandomGenerator(seed: 6))
        expectGradients([x, y]) { Tensor.concatenate([$0[0], frozen, $0[1]], axis: 1) }
    }

    @Test func stackAddsAnAxis() {
        let a = Tensor([1, 2, 3]), b = Tensor([4, 5, 6])
        #expect(Tensor.stack([a, b]).shape == [2, 3])
        #expect(Tensor.stack([a, b]).scalars == [1, 2, 3, 4, 5, 6])
        #expect(Tensor.stack([a, b], axis: 1).shape == [3, 2])
        #expect(Tensor.stack([a, b], axis: 1).scalars == [1, 4, 2, 5, 3, 6])
        #expect(Tensor.stack([a, b], axis: -1).scalars == [1, 4, 2, 5, 3, 6])
        let x = Tensor.randomNormal([2, 2], generator: RandomGenerator(seed: 7), requiresGrad: true)
        let y = Tensor.randomNormal([2, 2], generator: RandomGenerator(seed: 8), requiresGrad: true)
        expectGradients([x, y]) { Tensor.stack([$0[0], $0[1]], axis: 1) }
    }

    @Test func splitIntoPieces() {
        let x = iota([2, 5])
        let parts = x.split(sizes: [2, 0, 3], axis: 1)
        #expect(parts.map(\.shape) == [[2, 2], [2, 0], [2, 3]])
        #expect(parts[0].scalars == [0, 1, 5, 6])
        #expect(parts[2].scalars == [2, 3, 4, 7, 8, 9])
        let rows = x.split(sizes: [1, 1])
        #expect(rows[1].scalars == [5, 6, 7, 8, 9])
        let g = Tensor.randomNormal([2, 5], generator: RandomGenerator(seed: 9), requiresGrad: true)
        expectGradients([g]) { inputs in
            let p = inputs[0].split(sizes: [2, 3], axis: 1)
            return Tensor.concatenate([p[1] * 2, p[0].exp()], axis: 1)
        }
    }

    // MARK: Slicing and indexing

    @Test func sliceWithSteps() {
        let x = iota([3, 7])
        #expect(x.sliced(axis: 1, range: 1..<6, step: 2).scalars == [1, 3, 5, 8, 10, 12, 15, 17, 19])
        #expect(x.sliced(axis: 0, range: 1..<3).scalars == Array(7..<21).map(Float.init))
        #expect(x.sliced(axis: -1, range: 2..<3).shape == [3, 1])
        #expect(x.sliced(axis: 1, range: 0..<7, step: 3).scalars == [0, 3, 6, 7, 10, 13, 14, 17, 20])
        #expect(x.sliced(axis: 1, range: 4..<4).shape == [3, 0])
        let y = iota([2, 5, 3])
        let s = y.sliced(axis: 1, range: 1..<5, step: 3)
        #expect(s.shape == [2, 2, 3])
        #expect(s.scalars == [3, 4, 5, 12, 13, 14, 18, 19, 20, 27, 28, 29])
        let g = Tensor.randomNormal([2, 5, 3], generator: RandomGenerator(seed: 10), requiresGrad: true)
        expectGradients([g]) { $0[0].sliced(axis: 1, range: 1..<5, step: 2) }
        expectGradients([g]) { $0[0].sliced(axis: 2, range: 0..<2) }
    }

    @Test func indexSelectWithRepeats() {
        let x = iota([3, 4])
        let rows = x.indexSelect(axis: 0, indices: [2, 0, 2])
        #expect(rows.shape == [3, 4])
        #expect(rows.scalars == [8, 9, 10, 11, 0, 1, 2, 3, 8, 9, 10, 11])
        let cols = x.indexSelect(axis: 1, indices: [-1, 1])
        #expect(cols.scalars == [3, 1, 7, 5, 11, 9])
        let g = Tensor([1, 2, 3, 4, 5, 6], shape: [3, 2], requiresGrad: true)
        g.indexSelect(axis: 0, indices: [1, 1, 0]).sum().backward()
        #expect(g.grad!.scalars == [1, 1, 2, 2, 0, 0])
        let h = Tensor.randomNormal([2, 4, 3], generator: RandomGenerator(seed: 11), requiresGrad: true)
        expectGradients([h]) { $0[0].indexSelect(axis: 1, indices: [3, 0, 3, 1]) }
    }

    @Test func gatherFollowsTorch() {
        // The example from the torch.gather documentation.
        let t = Tensor([1, 2, 3, 4], shape: [2, 2])
        let out = t.gather(axis: 1, index: Tensor([0, 0, 1, 0], shape: [2, 2]))
        #expect(out.scalars == [1, 1, 4, 3])
        // Along axis 0, with an index smaller than the input on the other axis.
        let x = iota([3, 4])
        let g0 = x.gather(axis: 0, index: Tensor([2, 0, 1, 1, 0, 2], shape: [2, 3]))
        #expect(g0.shape == [2, 3])
        #expect(g0.scalars == [8, 1, 6, 4, 1, 10])
        // Rank 3, middle axis.
        let y = iota([2, 3, 2])
        let g1 = y.gather(axis: 1, index: Tensor([2, 0, 1, 1], shape: [2, 1, 2]))
        #expect(g1.scalars == [4, 1, 8, 9])
        // Repeated indices accumulate gradients; none flow to the index.
        let w = Tensor([1, 2, 3], shape: [1, 3], requiresGrad: true)
        w.gather(axis: 1, index: Tensor([2, 2, 0, 2], shape: [1, 4])).sum().backward()
        #expect(w.grad!.scalars == [1, 0, 3])
        let z = Tensor.randomNormal([3, 4, 2], generator: RandomGenerator(seed: 12), requiresGrad: true)
        let index = Tensor([0, 3, 2, 2, 1, 0, 3, 3, 1, 0, 0, 2], shape: [2, 3, 2])
        expectGradients([z]) { $0[0].gather(axis: 1, index: index) }
    }
}
