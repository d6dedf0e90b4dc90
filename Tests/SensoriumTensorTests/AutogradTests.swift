import Testing
import Foundation
@testable import SensoriumTensor

@Suite struct AutogradTests {
    @Test func polynomialGradient() {
        let x = Tensor([1, 2, 3], requiresGrad: true)
        let y = (x * x * x + x).sum()
        y.backward()
        #expect(x.grad!.scalars == [4, 13, 28])
    }

    @Test func gradientsAccumulateUntilZeroed() {
        let x = Tensor([1, 2], requiresGrad: true)
        (x * 3).sum().backward()
        (x * 3).sum().backward()
        #expect(x.grad!.scalars == [6, 6])
        x.zeroGrad()
        #expect(x.grad == nil)
    }

    @Test func noGradScopeRecordsNothing() {
        let x = Tensor([1, 2], requiresGrad: true)
        let y = withNoGrad { x * 2 }
        #expect(!y.requiresGrad)
        #expect(y.isLeaf)
        let z = x * 2
        #expect(z.requiresGrad && !z.isLeaf)
    }

    @Test func noGradIsTaskLocal() async {
        let inner = await withNoGrad { () async -> Bool in
            await Task.detached { GradMode.isEnabled }.value
        }
        #expect(inner == true)  // a detached task does not inherit the scope
        let child = await withNoGrad { () async -> Bool in
            await withTaskGroup(of: Bool.self) { group in
                group.addTask { GradMode.isEnabled }
                return await group.next()!
            }
        }
        #expect(child == false)
        #expect(GradMode.isEnabled)
    }

    @Test func detachCutsTheGraph() {
        let x = Tensor([1, 2], requiresGrad: true)
        let y = (x * 2).detached()
        #expect(!y.requiresGrad)
        let z = (x * y).sum()
        z.backward()
        #expect(x.grad!.scalars == [2, 4])
    }

    @Test func broadcastingGradientsSumBack() {
        let a = Tensor([1, 2, 3, 4, 5, 6], shape: [2, 3], requiresGrad: true)
        let b = Tensor([10, 20, 30], shape: [3], requiresGrad: true)
        let y = (a * b).sum()
        y.backward()
        #expect(b.grad!.scalars == [5, 7, 9])
        #expect(a.grad!.scalars == [10, 20, 30, 10, 20, 30])
    }

    @Test func upstreamGradientIsUsed() {
        let x = Tensor([1, 2, 3], requiresGrad: true)
        let y = x * 2
        y.backward(Tensor([1, 0, -1]))
        #expect(x.grad!.scalars == [2, 0, -2])
    }

    /// The graph keeps the producing operations of intermediates, not their elements: an
    /// intermediate whose backward closures do not keep it is freed after the forward pass.
    @Test func intermediatesNoBackwardKeepsAreFreed() {
        let x = Tensor([1, -2, 3], requiresGrad: true)
        weak var dropped: TensorStorage?
        weak var kept: TensorStorage?
        let y: Tensor = {
            let a = x * 3          // ELU keeps its output, the sum of two tensors keeps neither
            dropped = a.storage
            let e = a.elu()
            kept = e.storage       // kept by the product and by the ELU
            return (e * e + a).sum()
        }()
        #expect(dropped == nil)
        #expect(kept != nil)
        y.backward()
        // d/dx (elu(3x)² + 3x) = 6·elu(3x)·elu'(3x) + 3
        let expected = [1, -2, 3].map { (v: Double) -> Double in
            let a = 3 * v
            let (e, slope) = a > 0 ? (a, 1.0) : (exp(a) - 1, exp(a))
            return 6 * e * slope + 3
        }
        for (g, want) in zip(x.grad!.scalars, expected) { #expect(abs(Double(g) - want) < 1e-4 * max(1, abs(want))) }
        #expect(kept == nil)
    }

    @Test func graphIsReleasedAfterBackward() {
        let x = Tensor([1, 2, 3], requiresGrad: true)
        let y = (x * x).sum()
        y.backward()
        #expect(y.node == nil)
        #expect(y.graphReleased)
    }

    @Test func finiteDifferencesForArithmetic() {
        let g = RandomGenerator(seed: 1)
        let a = Tensor.randomNormal([2, 3], generator: g, requiresGrad: true)
        let b = Tensor.randomUniform([3], low: 1, high: 2, generator: g, requiresGrad: true)
        for r in GradientCheck.check([a, b], { t in (t[0] * t[1] - t[0] / t[1] + 2 / t[1] - t[0] * 3).sum(axis: 1) }) {
            #expect(r.passed, "\(r)")
        }
    }
}
