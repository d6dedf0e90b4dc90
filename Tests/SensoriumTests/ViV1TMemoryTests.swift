import Foundation
import Testing
@testable import Sensorium

/// Tensor memory of one paper-size transformer block, forward and backward in training mode, at
/// the paper's token counts for one 140-frame clip (116 steps × 435 patches × 112): the spatial
/// block attends over 435 patches in 116 sequences, the temporal block over 116 steps in 435
/// sequences. Opt-in (`SENSORIUM_VIVIT_PAPER_MEMORY=1`, about a minute each in a debug build);
/// both must stay under 4 GB. Results are in Documentation/ViV1T.md.
@Suite("ViV1T paper-size block memory")
struct ViV1TMemoryTests {
    private func measure(sequences: Int, length: Int, label: String) -> Int {
        let c = ViViTCore.Configuration()
        let gen = RandomGenerator(seed: 17)
        let block = ParallelTransformerBlock(embeddingDim: c.embeddingDim, heads: c.heads, headDim: c.headDim, mlpDim: c.mlpDim,
                                             attentionDropout: c.attentionDropout, feedForwardDropout: c.feedForwardDropout,
                                             dropPath: c.dropPath, attentionBlockSize: c.attentionBlockSize, generator: gen)
        let x = Tensor.randomNormal([sequences, length, c.embeddingDim], generator: gen, requiresGrad: true)
        let g = Tensor.randomNormal(x.shape, generator: gen)
        let tracker = AllocationTracker()
        let start = Date()
        var afterForward = 0
        tracker.track {
            let y = block(x)
            afterForward = tracker.liveBytes
            y.backward(g)
        }
        let mb = { (bytes: Int) in String(format: "%.1f MB", Double(bytes) / 1_048_576) }
        let plain = sequences * c.heads * length * length * 4
        print("ViV1T paper \(label) block (\(sequences) sequences × \(length) tokens × \(c.embeddingDim)): kept for backward \(mb(afterForward)), peak \(mb(tracker.peakBytes)), \(String(format: "%.1f", Date().timeIntervalSince(start))) s; plain SDPA probabilities alone \(mb(plain))")
        return tracker.peakBytes
    }

    @Test(.enabled(if: ProcessInfo.processInfo.environment["SENSORIUM_VIVIT_PAPER_MEMORY"] == "1"))
    func paperTemporalBlockMemory() {
        let c = ViViTCore.Configuration()
        let steps = 140 - c.temporalPatch + 1
        #expect(measure(sequences: c.spatialPositions, length: steps, label: "temporal") < 4 << 30)
    }

    @Test(.enabled(if: ProcessInfo.processInfo.environment["SENSORIUM_VIVIT_PAPER_MEMORY"] == "1"))
    func paperSpatialBlockMemoryAgain() {
        let c = ViViTCore.Configuration()
        let steps = 140 - c.temporalPatch + 1
        #expect(measure(sequences: steps, length: c.spatialPositions, label: "spatial") < 4 << 30)
    }
}
