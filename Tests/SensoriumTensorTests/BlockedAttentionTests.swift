import Testing
@testable import SensoriumTensor
import SensoriumTestSupport

@Suite struct BlockedAttentionTests {
    /// Output and all three gradients of the blocked op against the plain SDPA.
    private func compare(batch: [Int], L: Int, S: Int, d: Int, dv: Int, block: Int, scale: Float? = nil, seed: UInt64) {
        let gen = RandomGenerator(seed: seed)
        let q = Tensor.randomNormal(batch + [L, d], std: 1.5, generator: gen, requiresGrad: true)
        let k = Tensor.randomNormal(batch + [S, d], std: 1.5, generator: gen, requiresGrad: true)
        let v = Tensor.randomNormal(batch + [S, dv], generator: gen, requiresGrad: true)
        let g = Tensor.randomNormal(batch + [L, dv], generator: gen)
        let plain = scaledDotProductAttention(q, k, v, scale: scale)
        plain.backward(g)
        let (gq, gk, gv) = (q.grad!, k.grad!, v.grad!)
        for t in [q, k, v] { t.zeroGrad() }
        let blocked = blockedScaledDotProductAttention(q, k, v, scale: scale, blockSize: block)
        blocked.backward(g)
        let label = "batch \(batch) L \(L) S \(S) d \(d) dv \(dv) block \(block)"
        #expect(blocked.shape == plain.shape)
        expectClose(blocked, plain.scalars, atol: 1e-6, rtol: 1e-5, "\(label) output")
        expectClose(q.grad!, gq.scalars, atol: 1e-6, rtol: 1e-4, "\(label) grad q")
        expectClose(k.grad!, gk.scalars, atol: 1e-6, rtol: 1e-4, "\(label) grad k")
        expectClose(v.grad!, gv.scalars, atol: 1e-6, rtol: 1e-4, "\(label) grad v")
    }

    @Test func matchesPlainAttention() {
        compare(batch: [2, 3], L: 13, S: 9, d: 5, dv: 4, block: 4, seed: 1)     // last block partial
        compare(batch: [3], L: 8, S: 8, d: 6, dv: 6, block: 8, seed: 2)         // one exact block
        compare(batch: [1], L: 5, S: 11, d: 3, dv: 7, block: 64, seed: 3)       // block larger than L
        compare(batch: [], L: 17, S: 6, d: 4, dv: 2, block: 1, seed: 4)         // rank 2, one row per block
        compare(batch: [2, 2], L: 10, S: 10, d: 8, dv: 3, block: 3, scale: 0.7, seed: 5)
    }

    /// Rows of 37 and 64 keys take the eight-lane softmax and exponential (with a tail for 37):
    /// output and gradients against the composed ops `matmul(softmax(q kᵀ · scale), v)`.
    @Test func vectorisedSoftmaxMatchesComposedOps() {
        for (S, seed) in [(37, UInt64(11)), (64, UInt64(12))] {
            let gen = RandomGenerator(seed: seed)
            let q = Tensor.randomNormal([3, 20, 8], std: 1.5, generator: gen, requiresGrad: true)
            let k = Tensor.randomNormal([3, S, 8], std: 1.5, generator: gen, requiresGrad: true)
            let v = Tensor.randomNormal([3, S, 5], generator: gen, requiresGrad: true)
            let g = Tensor.randomNormal([3, 20, 5], generator: gen)
            let composed = matmul((matmul(q, k.transposed(1, 2)) * 0.6).softmax(axis: -1), v)
            composed.backward(g)
            let reference = [q, k, v].map { $0.grad!.scalars }
            for t in [q, k, v] { t.zeroGrad() }
            let blocked = blockedScaledDotProductAttention(q, k, v, scale: 0.6, blockSize: 8)
            blocked.backward(g)
            expectClose(blocked, composed.scalars, atol: 1e-5, rtol: 1e-4, "S \(S) output")
            for (t, r) in zip([q, k, v], reference) { expectClose(t.grad!, r, atol: 1e-5, rtol: 1e-3, "S \(S) gradient \(t.shape)") }
        }
    }

    @Test func multiHeadMatchesSplitHeads() {
        let gen = RandomGenerator(seed: 9)
        let (B, L, S, H, d, dv) = (3, 7, 5, 3, 4, 2)
        let q = Tensor.randomNormal([B, L, H * d], generator: gen, requiresGrad: true)
        let k = Tensor.randomNormal([B, S, H * d], generator: gen, requiresGrad: true)
        let v = Tensor.randomNormal([B, S, H * dv], generator: gen, requiresGrad: true)
        let g = Tensor.randomNormal([B, L, H * dv], generator: gen)
        func heads(_ x: Tensor, _ width: Int) -> Tensor { x.reshaped([B, x.shape[1], H, width]).permuted([0, 2, 1, 3]) }
        let reference = scaledDotProductAttention(heads(q, d), heads(k, d), heads(v, dv)).permuted([0, 2, 1, 3]).reshaped([B, L, H * dv])
        reference.backward(g)
        let (gq, gk, gv) = (q.grad!, k.grad!, v.grad!)
        for t in [q, k, v] { t.zeroGrad() }
        let packed = multiHeadBlockedAttention(q, k, v, heads: H, blockSize: 3)
        packed.backward(g)
        expectClose(packed, reference.scalars, atol: 1e-6, rtol: 1e-5, "output")
        expectClose(q.grad!, gq.scalars, atol: 1e-6, rtol: 1e-4, "grad q")
        expectClose(k.grad!, gk.scalars, atol: 1e-6, rtol: 1e-4, "grad k")
        expectClose(v.grad!, gv.scalars, atol: 1e-6, rtol: 1e-4, "grad v")
    }

    @Test func packedMatchesSlicedInputs() {
        let gen = RandomGenerator(seed: 10)
        let (B, N, H, d, extra) = (2, 9, 3, 4, 5)
        let packed = Tensor.randomNormal([B, N, 3 * H * d + extra], generator: gen, requiresGrad: true)
        let g = Tensor.randomNormal([B, N, H * d], generator: gen)
        let parts = packed.split(sizes: [H * d, H * d, H * d, extra], axis: 2)
        let reference = multiHeadBlockedAttention(parts[0], parts[1], parts[2], heads: H, blockSize: 4)
        reference.backward(g)
        let referenceGrad = packed.grad!.scalars
        packed.zeroGrad()
        let ours = packedMultiHeadBlockedAttention(packed, heads: H, headDim: d, blockSize: 2)
        expectClose(ours, reference.scalars, atol: 1e-6, rtol: 1e-5, "output")
        ours.backward(g)
        expectClose(packed.grad!, referenceGrad, atol: 1e-6, rtol: 1e-4, "gradient")
        // Value width differing from the key width.
        let p2 = Tensor.randomNormal([1, 6, 2 * 2 * 3 + 2 * 5 + 1], generator: gen, requiresGrad: true)
        expectGradients([p2]) { t in packedMultiHeadBlockedAttention(t[0], heads: 2, headDim: 3, valueDim: 5, blockSize: 4) }
    }

    @Test func gradient() {
        let gen = RandomGenerator(seed: 13)
        let q = Tensor.randomNormal([2, 5, 4], generator: gen, requiresGrad: true)
        let k = Tensor.randomNormal([2, 6, 4], generator: gen, requiresGrad: true)
        let v = Tensor.randomNormal([2, 6, 3], generator: gen, requiresGrad: true)
        expectGradients([q, k, v]) { t in blockedScaledDotProductAttention(t[0], t[1], t[2], blockSize: 2) }
        let k2 = Tensor.randomNormal([2, 6, 4], generator: gen)   // only some inputs need gradients
        expectGradients([q, k2, v]) { t in blockedScaledDotProductAttention(t[0], t[1], t[2], scale: 0.8, blockSize: 3) }
        let qh = Tensor.randomNormal([2, 4, 6], generator: gen, requiresGrad: true)
        let kh = Tensor.randomNormal([2, 5, 6], generator: gen, requiresGrad: true)
        let vh = Tensor.randomNormal([2, 5, 4], generator: gen, requiresGrad: true)
        expectGradients([qh, kh, vh]) { t in multiHeadBlockedAttention(t[0], t[1], t[2], heads: 2, blockSize: 3) }
    }

    @Test func largeLogitsStayFinite() {
        let gen = RandomGenerator(seed: 8)
        let q = Tensor.randomNormal([2, 3, 4], std: 1000, generator: gen, requiresGrad: true)
        let k = Tensor.randomNormal([2, 6, 4], std: 1000, generator: gen)
        let v = Tensor.randomNormal([2, 6, 5], generator: gen)
        let y = blockedScaledDotProductAttention(q, k, v, blockSize: 2)
        #expect(y.scalars.allSatisfy { $0.isFinite })
        y.sum().backward()
        #expect(q.grad!.scalars.allSatisfy { $0.isFinite })
    }

    /// Memory kept for backward and used during it, for L = S queries and keys.
    private struct Measured { var saved: Int; var backwardExtra: Int }

    private func measure(groups: Int, length: Int, depth: Int, block: Int, blocked: Bool) -> Measured {
        let gen = RandomGenerator(seed: 21)
        let q = Tensor.randomNormal([groups, length, depth], generator: gen, requiresGrad: true)
        let k = Tensor.randomNormal([groups, length, depth], generator: gen, requiresGrad: true)
        let v = Tensor.randomNormal([groups, length, depth], generator: gen, requiresGrad: true)
        let g = Tensor.randomNormal([groups, length, depth], generator: gen)
        let tracker = AllocationTracker()
        var result = Measured(saved: 0, backwardExtra: 0)
        tracker.track {
            let y = blocked ? blockedScaledDotProductAttention(q, k, v, blockSize: block) : scaledDotProductAttention(q, k, v)
            let afterForward = tracker.liveBytes
            result.saved = afterForward - y.count * 4
            y.backward(g)
            // Beyond what forward kept: the three input gradients, each also copied into its leaf's `.grad`.
            result.backwardExtra = tracker.peakBytes - afterForward - 2 * 3 * q.count * 4
        }
        return result
    }

    @Test func backwardMemoryDoesNotGrowWithTheSquareOfTheSequence() {
        let (groups, depth, block) = (4, 8, 32)
        let workers = Parallel.threadCount
        for length in [128, 512] {
            let blocked = measure(groups: groups, length: length, depth: depth, block: block, blocked: true)
            let plain = measure(groups: groups, length: length, depth: depth, block: block, blocked: false)
            let fullMatrix = groups * length * length * 4
            // Kept for backward: one log-sum-exp per query row, nothing quadratic.
            #expect(blocked.saved == groups * length * 4, "L = \(length): kept \(blocked.saved) bytes")
            // The plain op too keeps only the log-sum-exps (it recomputes the probabilities in backward).
            #expect(plain.saved == groups * length * 4, "L = \(length): plain SDPA kept \(plain.saved) bytes")
            // During backward: at most two (block × S) scratch matrices per worker.
            let scratchBound = min(workers, groups) * 2 * block * length * 4
            #expect(blocked.backwardExtra <= scratchBound,
                    "L = \(length): backward used \(blocked.backwardExtra) extra bytes, bound \(scratchBound)")
            #expect(blocked.backwardExtra < fullMatrix / 4)
        }
    }
}
