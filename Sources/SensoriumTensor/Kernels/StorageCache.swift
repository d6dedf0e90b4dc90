// A caching allocator for large tensor buffers.
//
// Training steps allocate and free the same large buffers (activations, gradients) every step.
// glibc serves blocks above its mmap threshold (at most 32 MiB) with fresh mmaps and returns them
// to the kernel on free, so every step paid a page fault and a kernel page clear per 4 KiB of every
// large tensor (copying a 50 MB tensor cost 25 ms of CPU instead of 5 ms). Large buffers are
// therefore mapped here directly and, when freed, kept for reuse, up to a limit of resident bytes
// (the oldest blocks are unmapped first). By default the limit follows the workload: the resident
// budget below (about the peak of the bytes the workload itself had in use), at least 1 GiB, so a
// training step whose tensors peak above 1 GiB finds its buffers again in the next step instead
// of faulting gigabytes in again (dwiseneuro-step: 1.2 M faults per step with a fixed 1 GiB). An
// explicit limit (`SENSORIUM_TENSOR_CACHE_MB`, `TensorStorage.cacheLimitBytes`) is a hard bound.
//
// Any cached block can serve any request, so freed memory is reused before new memory is mapped
// and the resident set stays close to the bytes actually live: each block reserves more address
// space than it was first asked for (`capacity`, never touched beyond use, so never resident) and
// remembers how much of it may be resident (`resident`). A request takes the block whose resident
// size fits it best; a smaller one grows in place, faulting in only the difference. (In a backward
// pass the activations freed belong to later layers, the gradients allocated to earlier ones, so
// sizes rarely match exactly.) A larger one keeps its unused tail resident for the next larger
// request, unless the resident total exceeds the peak of the requested bytes by more than a
// sixteenth (plus 48 MiB); then the tail goes back to the system (`madvise(MADV_DONTNEED)`). The
// resident set so stays near the peak of the live bytes without faulting pages in again every step.
// (With 16 MiB instead of 48, factorized-small's step faulted 25–36 MB in again every step, 6,400–
// 9,100 faults, for 13 MB less peak; a fraction of an eighth instead of the sixteenth costs hundreds
// of megabytes on multi-gigabyte workloads.)
import Synchronization
#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

final class StorageCache: Sendable {
    /// Buffers of at least this many bytes are mapped and cached here; smaller ones use malloc.
    static let minimumBytes = 1 << 18
    static let page = 4096

    /// Explicit bound on the resident bytes held for reuse from `SENSORIUM_TENSOR_CACHE_MB`; nil:
    /// the automatic bound (`State.effectiveLimit`).
    static let defaultLimit: Int? = {
        if let text = getenv("SENSORIUM_TENSOR_CACHE_MB"), let mb = Int(String(cString: text)), mb >= 0 {
            return mb << 20
        }
        return nil
    }()

    /// The automatic bound's floor.
    static let minimumAutomaticLimit = 1 << 30

    /// What a tensor's storage remembers about its block.
    struct Handle: Sendable {
        /// Bytes of address space mapped (0: not a cached block).
        var capacity: Int
        /// Bytes from the start of the block that may be resident.
        var resident: Int
        /// Bytes requested (page-rounded) by the current user of the block.
        var requested: Int
        static let none = Handle(capacity: 0, resident: 0, requested: 0)
    }

    /// A mapped block; the cache owns it exclusively while it sits in the free list.
    struct Block: @unchecked Sendable {
        var pointer: UnsafeMutableRawPointer
        var handle: Handle
        var stamp: Int
    }

    struct State {
        var free: [Block] = []
        /// Resident bytes of the free blocks.
        var cachedBytes = 0
        /// Explicit bound on `cachedBytes`; nil: the resident budget, at least `minimumAutomaticLimit`.
        var limit: Int? = nil
        var clock = 0
        var hits = 0, misses = 0
        /// Bytes requested by the blocks in use, its peak, and resident bytes of all blocks
        /// (in use and free).
        var requested = 0, peakRequested = 0, resident = 0
        /// Resident bytes allowed beyond the peak of the requested bytes and a sixteenth of it.
        var slack = 48 << 20

        /// Resident bytes allowed before tails of reused blocks are trimmed.
        var residentBudget: Int { peakRequested + peakRequested >> 4 + slack }

        /// The bound on `cachedBytes` in force: the explicit limit, else the resident budget (the
        /// memory the workload's own peak needed), at least `minimumAutomaticLimit`.
        var effectiveLimit: Int { limit ?? max(StorageCache.minimumAutomaticLimit, residentBudget) }
    }

    let state: Mutex<State>

    /// The cache behind every `TensorStorage`.
    static let shared = StorageCache(limit: defaultLimit)

    /// A cache holding at most `limit` resident bytes of free blocks (nil: the automatic bound).
    init(limit: Int?) {
        var s = State()
        s.limit = limit
        state = Mutex(s)
    }

    deinit { purge() }

    @inline(__always) static func roundUp(_ bytes: Int, _ to: Int) -> Int { (bytes + to - 1) / to * to }

    /// Address space reserved for a new block first asked for `bytes`: twice that (at most 1 GiB
    /// more), so the block can grow in place when reused for a larger request; pages never touched
    /// cost nothing. Under strict overcommit accounting (`vm.overcommit_memory = 2`), where the
    /// reservation would count as committed memory, exactly `bytes`.
    static func reservation(_ bytes: Int) -> Int {
        strictOvercommit ? bytes : roundUp(bytes + min(bytes, 1 << 30), 2 << 20)
    }

    static let strictOvercommit: Bool = {
        #if canImport(Glibc)
        guard let file = fopen("/proc/sys/vm/overcommit_memory", "r") else { return false }
        defer { fclose(file) }
        return fgetc(file) == 50   // "2"
        #else
        return false
        #endif
    }()

    /// A page-aligned buffer of at least `bytes` bytes (≥ `minimumBytes`) and the handle to pass
    /// back to `release`.
    func allocate(_ bytes: Int) -> (UnsafeMutableRawPointer, Handle) {
        let size = Self.roundUp(bytes, Self.page)
        let (chosen, trim): (Block?, Bool) = state.withLock { s in
            s.requested += size
            s.peakRequested = max(s.peakRequested, s.requested)
            // Best fit by resident size: the block needing the least growth or trimming.
            var best = -1, bestCost = Int.max
            for (i, b) in s.free.enumerated() where b.handle.capacity >= size {
                let r = b.handle.resident
                let cost = r >= size ? r - size : 2 * (size - r)   // faulting in costs more than trimming
                if cost < bestCost { best = i; bestCost = cost }
            }
            guard best >= 0 else {
                s.misses += 1
                s.resident += size
                return (nil, false)
            }
            s.hits += 1
            let block = s.free.remove(at: best)
            let r = block.handle.resident
            s.cachedBytes -= r
            // A larger block keeps its tail resident (ready for the next larger request) unless
            // the resident total is over budget; a smaller one grows.
            let trim = r > size && s.resident > s.residentBudget
            s.resident += trim ? size - r : max(size - r, 0)
            return (block, trim)
        }
        guard var block = chosen else {
            let capacity = Self.reservation(size)
            guard let p = Self.map(capacity) else {
                // Out of address space or memory: give the cached blocks back and try once more.
                purge()
                guard let p = Self.map(capacity) else {
                    fatalError("TensorStorage: could not map \(capacity) bytes for a buffer of \(bytes) bytes (errno \(errno))")
                }
                return (p, Handle(capacity: capacity, resident: size, requested: size))
            }
            return (p, Handle(capacity: capacity, resident: size, requested: size))
        }
        if trim { _ = madvise(block.pointer + size, block.handle.resident - size, MADV_DONTNEED) }
        block.handle.resident = trim ? size : max(block.handle.resident, size)
        block.handle.requested = size
        return (block.pointer, block.handle)
    }

    /// Returns a block from `allocate` to the cache (or to the system beyond the cache's limit).
    func release(_ pointer: UnsafeMutableRawPointer, handle: Handle) {
        let block = Block(pointer: pointer, handle: handle, stamp: 0)
        let evicted: [Block] = state.withLock { s in
            s.requested -= handle.requested
            let limit = s.effectiveLimit
            guard handle.resident <= limit else {
                s.resident -= handle.resident
                return [block]
            }
            s.clock += 1
            var cached = block
            cached.stamp = s.clock
            s.free.append(cached)
            s.cachedBytes += handle.resident
            return s.cachedBytes > limit ? Self.evictOldest(&s, keeping: limit) : []
        }
        for b in evicted { munmap(b.pointer, b.handle.capacity) }
    }

    /// Removes the oldest free blocks until at most `keeping` resident bytes stay cached.
    static func evictOldest(_ s: inout State, keeping: Int) -> [Block] {
        var out: [Block] = []
        s.free.sort { $0.stamp < $1.stamp }
        var drop = 0
        while s.cachedBytes > keeping && drop < s.free.count {
            s.cachedBytes -= s.free[drop].handle.resident
            s.resident -= s.free[drop].handle.resident
            out.append(s.free[drop])
            drop += 1
        }
        s.free.removeFirst(drop)
        return out
    }

    /// A fresh anonymous mapping of `capacity` bytes, or nil.
    static func map(_ capacity: Int) -> UnsafeMutableRawPointer? {
        #if canImport(Glibc)
        let flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE
        #else
        let flags = MAP_PRIVATE | MAP_ANON
        #endif
        let p = mmap(nil, capacity, PROT_READ | PROT_WRITE, flags, -1, 0)
        guard let p, p != MAP_FAILED else { return nil }
        return p
    }

    /// Unmaps every cached block.
    func purge() {
        let blocks: [Block] = state.withLock { s in
            let all = s.free
            s.free = []
            s.resident -= s.cachedBytes
            s.cachedBytes = 0
            return all
        }
        for b in blocks { munmap(b.pointer, b.handle.capacity) }
    }

    /// Sets the bound on cached resident bytes (nil: the automatic bound), unmapping the oldest
    /// blocks above it.
    func setLimit(_ limit: Int?) {
        let evicted: [Block] = state.withLock { s in
            s.limit = limit.map { max(0, $0) }
            return Self.evictOldest(&s, keeping: s.effectiveLimit)
        }
        for b in evicted { munmap(b.pointer, b.handle.capacity) }
    }
}
