import Testing
@testable import SensoriumTensor
import SensoriumTestSupport

@Suite struct CheckpointTests {
    /// A small computation with a weight, a nonlinearity and dropout drawn from `generator`.
    private func body(_ x: Tensor, _ w: Tensor, _ generator: RandomGenerator) -> Tensor {
        let h = matmul(x, w).tanh()
        return dropout(h, p: 0.4, training: true, generator: generator) * h + x.sum(axis: 1, keepDims: true)
    }

    @Test func sameResultAndGradientsAsDirect() {
        let gen = RandomGenerator(seed: 1)
        let x0 = Tensor.randomNormal([6, 4], generator: gen, requiresGrad: true)
        let w = Tensor.randomNormal([4, 4], generator: gen, requiresGrad: true)
        let g = Tensor.randomNormal([6, 4], generator: gen)
        // An op before the checkpoint, so the input's gradient must flow back through the graph.
        func run(checkpoint: Bool) -> (Tensor, [Float], [Float], [UInt64]) {
            x0.zeroGrad(); w.zeroGrad()
            let drops = RandomGenerator(seed: 7)
            let x = x0 * 2
            let y = checkpoint
                ? checkpointed([x], parameters: [w], generators: [drops]) { t in body(t[0], w, drops) }
                : body(x, w, drops)
            y.backward(g)
            return (y, x0.grad!.scalars, w.grad!.scalars, drops.state)
        }
        let (direct, gx, gw, stateDirect) = run(checkpoint: false)
        let (replayed, cx, cw, stateReplayed) = run(checkpoint: true)
        #expect(replayed.scalars == direct.scalars)
        expectClose(cx, gx, atol: 1e-6, rtol: 1e-5, "input gradient")
        expectClose(cw, gw, atol: 1e-6, rtol: 1e-5, "weight gradient")
        #expect(stateReplayed == stateDirect)   // the stream continues as if nothing was replayed
    }

    @Test func gradientCheck() {
        let gen = RandomGenerator(seed: 2)
        let x = Tensor.randomNormal([3, 5], generator: gen, requiresGrad: true)
        let w = Tensor.randomNormal([5, 2], generator: gen, requiresGrad: true)
        expectGradients([x, w]) { t in
            checkpointed([t[0]], parameters: [t[1]]) { inner in matmul(inner[0], t[1]).sigmoid() * inner[0].sum() }
        }
    }

    /// The replay in the backward pass, and only it, runs with `Recomputation.isActive` set.
    @Test func replayIsMarked() {
        let x = Tensor.randomNormal([4, 3], generator: RandomGenerator(seed: 4), requiresGrad: true)
        var seen: [Bool] = []
        #expect(!Recomputation.isActive)
        let y = checkpointed([x], parameters: []) { t in
            seen.append(Recomputation.isActive)
            return t[0].tanh()
        }
        #expect(seen == [false])
        y.sum().backward()
        #expect(seen == [false, true])
        #expect(!Recomputation.isActive)
    }

    @Test func keepsOnlyInputsAndResult() {
        let gen = RandomGenerator(seed: 3)
        let x = Tensor.randomNormal([256, 256], generator: gen, requiresGrad: true)
        let tracker = AllocationTracker()
        tracker.track {
            let y = checkpointed([x], parameters: []) { t in (t[0].exp() * t[0]).tanh().sigmoid() }
            #expect(tracker.liveBytes == y.count * 4)
            let direct = (x.exp() * x).tanh().sigmoid()
            #expect(tracker.liveBytes > 2 * y.count * 4 + direct.count * 4)   // the direct graph keeps more
        }
    }
}
