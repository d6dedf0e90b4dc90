import Testing
@testable import SensoriumTensor

@Suite struct GraphMemoryTests {
    /// A small two-layer network trained by hand for 1,000 steps: the tensor memory alive after the
    /// loop equals what was alive after the first step (parameters and their gradients), so every
    /// graph, activation and temporary is released.
    @Test func memoryReturnsToBaselineAfterThousandSteps() {
        let generator = RandomGenerator(seed: 3)
        let tracker = AllocationTracker()
        var afterFirstStep = 0
        tracker.track {
            let w1 = Tensor.randomNormal([8, 16], std: 0.3, generator: generator, requiresGrad: true)
            let w2 = Tensor.randomNormal([16, 4], std: 0.3, generator: generator, requiresGrad: true)
            let x = Tensor.randomNormal([32, 8], generator: generator)
            let y = Tensor.randomNormal([32, 4], generator: generator)
            for step in 0..<1_001 {
                // Measured once the first step's locals are gone.
                if step == 1 { afterFirstStep = tracker.liveBytes }
                let hidden = matmul(x, w1).elu(alpha: 1)
                let loss = (matmul(hidden, w2) - y).square().mean()
                loss.backward()
                withNoGrad {
                    for w in [w1, w2] {
                        w.assign(w - w.grad! * 0.01)
                        w.zeroGrad()
                    }
                }
            }
            #expect(afterFirstStep > 0)
            #expect(tracker.liveBytes == afterFirstStep)
            #expect(tracker.allocationCount > 10_000)
            _ = (w1, w2, x, y)
        }
        #expect(tracker.liveBytes == 0)
    }

    @Test func savedActivationsAreFreedByBackward() {
        let tracker = AllocationTracker()
        tracker.track {
            let x = Tensor.ones([256, 256], requiresGrad: true)
            let before = tracker.liveBytes
            let loss = (x.exp() * x).sum()
            #expect(tracker.liveBytes > before)
            loss.backward()
            // Only x.grad and the (released) loss remain beyond x itself.
            #expect(tracker.liveBytes <= before + 256 * 256 * 4 + 64)
        }
    }
}
