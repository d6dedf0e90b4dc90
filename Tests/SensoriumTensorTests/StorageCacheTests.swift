import Testing
@testable import SensoriumTensor

@Suite(.serialized) struct StorageCacheTests {
    @Test func sizeClassesRoundUpByAtMostAnEighth() {
        for bytes in [1, 4095, 4096, 262_144, 262_145, 300_000, 1 << 20, (1 << 20) + 1, 50_000_000, 123_456_789] {
            let c = StorageCache.sizeClass(bytes)
            #expect(c >= bytes && c % 4096 == 0)
            #expect(bytes < 4096 || Double(c) <= Double(bytes) * 1.125 + 4096)
        }
        #expect(StorageCache.sizeClass(1 << 20) == 1 << 20)
    }

    @Test func freedLargeBuffersAreReusedAndTracked() {
        let tracker = AllocationTracker()
        let count = 777_777   // an unusual size class, so concurrently running tests do not take the block
        var first: UnsafeMutablePointer<Float>?
        tracker.track {
            let a = Tensor.full([count], 2)
            first = a.storage.pointer
            #expect(a.scalars.allSatisfy { $0 == 2 })
        }
        #expect(tracker.liveBytes == 0)
        tracker.track {
            let b = Tensor.zeros([count - 1000])   // same size class
            #expect(b.storage.pointer == first)
            #expect(b.scalars.allSatisfy { $0 == 0 })
            #expect(tracker.liveBytes == (count - 1000) * 4)
        }
        #expect(tracker.liveBytes == 0)
        #expect(tracker.peakBytes == count * 4)
    }

    @Test func limitBoundsTheCache() {
        let saved = TensorStorage.cacheLimitBytes
        defer { TensorStorage.cacheLimitBytes = saved }
        TensorStorage.releaseCachedMemory()
        TensorStorage.cacheLimitBytes = 3 << 20
        do {
            let tensors = (0..<4).map { _ in Tensor.zeros([1 << 18]) }   // 1 MiB each
            #expect(tensors.count == 4)
        }
        // Other suites may allocate concurrently, so only the bound is certain.
        #expect(TensorStorage.cachedBytes <= 3 << 20)
        TensorStorage.cacheLimitBytes = 1 << 20
        #expect(TensorStorage.cachedBytes <= 1 << 20)
    }
}
