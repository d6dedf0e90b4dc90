// A caching allocator for large tensor buffers.
//
// Training steps allocate and free the same large buffers (activations, gradients) every step.
// glibc serves blocks above its mmap threshold (at most 32 MiB) with fresh mmaps and returns them
// to the kernel on free, so every step paid a page fault and a kernel page clear per 4 KiB of every
// large tensor (copying a 50 MB tensor cost 25 ms of CPU instead of 5 ms). Large buffers are
// therefore mapped here directly and, when freed, kept in size-bucketed free lists for reuse,
// bounded by `limit` bytes (oldest blocks are unmapped first).
//
// Size classes have 8 steps per power of two (at most 12.5 % rounding), so a buffer freed by one
// step is reused by the same allocation in the next step. Pages of a fresh mapping that are never
// written are never resident, so the rounding costs resident memory only when a block is reused
// for a slightly larger request of the same class.
import Synchronization
#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

enum StorageCache {
    /// Buffers of at least this many bytes are mapped and cached here; smaller ones use malloc.
    static let minimumBytes = 1 << 18

    /// Default bound on the bytes held in the free lists (`SENSORIUM_TENSOR_CACHE_MB` overrides).
    static let defaultLimit: Int = {
        if let text = getenv("SENSORIUM_TENSOR_CACHE_MB"), let mb = Int(String(cString: text)), mb >= 0 {
            return mb << 20
        }
        return 1 << 30
    }()

    /// A mapped block; the cache owns it exclusively while it sits in a free list.
    struct Block: @unchecked Sendable {
        var pointer: UnsafeMutableRawPointer
        var bytes: Int
        var stamp: Int
    }

    struct State {
        /// Free blocks by size class (bytes), newest last.
        var free: [Int: [Block]] = [:]
        var cachedBytes = 0
        var limit = StorageCache.defaultLimit
        var clock = 0
        var hits = 0, misses = 0
        /// Bytes currently handed out (mapped and in use).
        var liveBytes = 0
    }

    static let state = Mutex(State())

    /// The size class of a request: rounded up to a multiple of 1/8 of its power of two (at
    /// least one page).
    @inline(__always)
    static func sizeClass(_ bytes: Int) -> Int {
        let page = 4096
        let b = max(bytes, page)
        let top = Int.bitWidth - 1 - (b - 1).leadingZeroBitCount   // floor(log2(b - 1))
        let step = max(page, (1 << max(top, 0)) >> 3)
        return (b + step - 1) / step * step
    }

    /// A buffer of at least `bytes` bytes (which must be ≥ `minimumBytes`), page aligned;
    /// returns the pointer and the class size to pass back to `release`.
    static func allocate(_ bytes: Int) -> (UnsafeMutableRawPointer, Int) {
        let size = sizeClass(bytes)
        let reused: UnsafeMutableRawPointer? = state.withLock { s in
            s.liveBytes += size
            guard var list = s.free[size], let block = list.popLast() else {
                s.misses += 1
                return nil
            }
            s.free[size] = list.isEmpty ? nil : list
            s.cachedBytes -= size
            s.hits += 1
            return block.pointer
        }
        if let reused { return (reused, size) }
        return (map(size), size)
    }

    /// Returns a block from `allocate` to the cache (or to the system beyond the cache's limit).
    static func release(_ pointer: UnsafeMutableRawPointer, size: Int) {
        let block = Block(pointer: pointer, bytes: size, stamp: 0)
        let evicted: [Block] = state.withLock { s in
            s.liveBytes -= size
            guard size <= s.limit else { return [block] }
            s.clock += 1
            var cached = block
            cached.stamp = s.clock
            s.free[size, default: []].append(cached)
            s.cachedBytes += size
            return s.cachedBytes > s.limit ? evictOldest(&s, keeping: s.limit) : []
        }
        for block in evicted { munmap(block.pointer, block.bytes) }
    }

    /// Removes the oldest free blocks until at most `keeping` bytes stay cached.
    static func evictOldest(_ s: inout State, keeping: Int) -> [Block] {
        var out: [Block] = []
        while s.cachedBytes > keeping {
            var oldest: (size: Int, stamp: Int)?
            for (size, list) in s.free {
                if let first = list.first, oldest == nil || first.stamp < oldest!.stamp { oldest = (size, first.stamp) }
            }
            guard let o = oldest, var list = s.free[o.size] else { break }
            out.append(list.removeFirst())
            s.free[o.size] = list.isEmpty ? nil : list
            s.cachedBytes -= o.size
        }
        return out
    }

    static func map(_ size: Int) -> UnsafeMutableRawPointer {
        let p = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        guard let p, p != MAP_FAILED else {
            fatalError("TensorStorage: could not map \(size) bytes (errno \(errno))")
        }
        return p
    }

    /// Unmaps every cached block.
    static func purge() {
        let blocks: [Block] = state.withLock { s in
            let all = s.free.values.flatMap { $0 }
            s.free = [:]
            s.cachedBytes = 0
            return all
        }
        for block in blocks { munmap(block.pointer, block.bytes) }
    }

    /// Sets the bound on cached bytes, unmapping the oldest blocks above it.
    static func setLimit(_ limit: Int) {
        let evicted: [Block] = state.withLock { s in
            s.limit = max(0, limit)
            return evictOldest(&s, keeping: s.limit)
        }
        for block in evicted { munmap(block.pointer, block.bytes) }
    }
}
