import Testing
@testable import SensoriumTensor

@Suite struct StorageCacheTests {
    /// Writes every page of the first `bytes` bytes and checks the pattern reads back.
    func touch(_ p: UnsafeMutableRawPointer, _ bytes: Int, value: UInt8) -> Bool {
        let b = p.assumingMemoryBound(to: UInt8.self)
        for i in stride(from: 0, to: bytes, by: 4096) { b[i] = value }
        return stride(from: 0, to: bytes, by: 4096).allSatisfy { b[$0] == value }
    }

    @Test func freedBlocksServeTheClosestRequest() {
        let cache = StorageCache(limit: 1 << 30)
        let mb = 1 << 20
        let (a, ha) = cache.allocate(8 * mb)
        let (b, hb) = cache.allocate(2 * mb)
        #expect(touch(a, 8 * mb, value: 1) && touch(b, 2 * mb, value: 2))
        #expect(ha.resident == 8 * mb && ha.capacity >= 16 * mb)
        cache.release(a, handle: ha)
        cache.release(b, handle: hb)
        #expect(cache.state.withLock { $0.cachedBytes } == 10 * mb)
        // 7 MiB: the 8 MiB block (no trim within 1/8 + 1 MiB); 3 MiB: the 2 MiB block, grown in place.
        let (c, hc) = cache.allocate(7 * mb)
        #expect(c == a && hc.resident == 8 * mb)
        let (d, hd) = cache.allocate(3 * mb)
        #expect(d == b && hd.resident == 3 * mb)
        #expect(touch(d, 3 * mb, value: 3))
        // Nothing cached: a new mapping.
        let (e, he) = cache.allocate(1 * mb)
        #expect(e != a && e != b && he.resident == mb)
        #expect(cache.state.withLock { ($0.hits, $0.misses) } == (2, 3))
        for (p, h) in [(c, hc), (d, hd), (e, he)] { cache.release(p, handle: h) }
        // A much smaller request trims the tail of the block it takes.
        let (f, hf) = cache.allocate(mb / 2)
        #expect(hf.resident == mb / 2 || f == e)
        cache.release(f, handle: hf)
        cache.purge()
        #expect(cache.state.withLock { $0.cachedBytes } == 0)
    }

    @Test func tailsAreTrimmedOnlyOverBudget() {
        let mb = 1 << 20
        let cache = StorageCache(limit: 1 << 30)
        cache.state.withLock { $0.slack = 0 }
        let a = cache.allocate(8 * mb), b = cache.allocate(8 * mb)
        #expect(touch(a.0, 8 * mb, value: 1) && touch(b.0, 8 * mb, value: 1))
        cache.release(a.0, handle: a.1)
        cache.release(b.0, handle: b.1)
        // Within budget (resident 16 MiB, peak requested 16 MiB): the tail stays resident.
        let c = cache.allocate(mb)
        #expect(c.0 == a.0 && c.1.resident == 8 * mb)
        // The other block grows in place to 14 MiB: resident 22 MiB, over the budget of 16 · 9/8 MiB.
        let d = cache.allocate(14 * mb)
        #expect(d.0 == b.0 && d.1.resident == 14 * mb && touch(d.0, 14 * mb, value: 2))
        #expect(cache.state.withLock { ($0.resident, $0.peakRequested) } == (22 * mb, 16 * mb))
        cache.release(c.0, handle: c.1)
        cache.release(d.0, handle: d.1)
        let e = cache.allocate(mb)
        #expect(e.0 == a.0 && e.1.resident == mb)
        #expect(cache.state.withLock { $0.resident } == 15 * mb)
        #expect(touch(e.0, mb, value: 3))
        cache.release(e.0, handle: e.1)
        #expect(cache.state.withLock { $0.requested } == 0)
    }

    @Test func limitBoundsTheCachedBytes() {
        let mb = 1 << 20
        let cache = StorageCache(limit: 3 * mb)
        let blocks = (0..<4).map { _ in cache.allocate(mb) }
        for (p, h) in blocks { cache.release(p, handle: h) }
        #expect(cache.state.withLock { ($0.cachedBytes, $0.free.count) } == (3 * mb, 3))
        cache.setLimit(mb)
        #expect(cache.state.withLock { ($0.cachedBytes, $0.free.count) } == (mb, 1))
        // The newest block stays.
        #expect(cache.state.withLock { $0.free[0].pointer } == blocks[3].0)
    }

    @Test func automaticLimitFollowsThePeak() {
        let mb = 1 << 20
        let cache = StorageCache(limit: nil)
        cache.state.withLock { $0.slack = 0 }
        #expect(cache.state.withLock { $0.effectiveLimit } == StorageCache.minimumAutomaticLimit)
        // Below the floor: the floor. Above it: the resident budget, peak requested · 17/16.
        cache.state.withLock { $0.peakRequested = 2048 * mb }
        #expect(cache.state.withLock { $0.effectiveLimit } == 2176 * mb)
        let blocks = (0..<3).map { _ in cache.allocate(mb) }
        for (p, h) in blocks { cache.release(p, handle: h) }
        #expect(cache.state.withLock { ($0.cachedBytes, $0.free.count) } == (3 * mb, 3))
        // An explicit limit is a hard bound; nil restores the automatic one.
        cache.setLimit(mb)
        #expect(cache.state.withLock { ($0.cachedBytes, $0.effectiveLimit) } == (mb, mb))
        cache.setLimit(nil)
        #expect(cache.state.withLock { $0.effectiveLimit } == 2176 * mb)
        cache.purge()
    }

    @Test func tensorsUseTheCacheAndTrackBytes() {
        let tracker = AllocationTracker()
        let count = 777_777
        tracker.track {
            let a = Tensor.full([count], 2)
            #expect(a.scalars.allSatisfy { $0 == 2 })
        }
        #expect(tracker.liveBytes == 0)
        tracker.track {
            let b = Tensor.zeros([count + 5000])
            #expect(b.scalars.allSatisfy { $0 == 0 })
            #expect(tracker.liveBytes == (count + 5000) * 4)
        }
        #expect(tracker.liveBytes == 0)
        #expect(tracker.peakBytes == (count + 5000) * 4)
        #expect(TensorStorage.cachedBytes <= TensorStorage.cacheLimitBytes)
    }
}
