import Synchronization

/// Counts the tensor memory allocated inside a scope and still alive, and its peak.
///
/// ```swift
/// let tracker = AllocationTracker()
/// tracker.track { _ = model(x).sum() }
/// print(tracker.liveBytes, tracker.peakBytes)
/// ```
/// Only storage allocated while the tracker is current (in this task and its child tasks) counts,
/// so trackers in concurrently running tasks do not disturb each other.
public final class AllocationTracker: Sendable {
    private struct Counts { var live = 0, peak = 0, allocations = 0 }
    private let counts = Mutex(Counts())

    @TaskLocal static var current: AllocationTracker?

    public init() {}

    /// Bytes allocated in tracked scopes and not yet freed.
    public var liveBytes: Int { counts.withLock { $0.live } }
    /// The largest value `liveBytes` has reached.
    public var peakBytes: Int { counts.withLock { $0.peak } }
    /// Number of storage allocations made in tracked scopes.
    public var allocationCount: Int { counts.withLock { $0.allocations } }

    /// Runs `body` with this tracker counting every tensor allocation.
    public func track<R>(_ body: () throws -> R) rethrows -> R {
        try AllocationTracker.$current.withValue(self) { try body() }
    }

    func allocated(_ bytes: Int) {
        counts.withLock {
            $0.live += bytes
            $0.allocations += 1
            $0.peak = max($0.peak, $0.live)
        }
    }

    func freed(_ bytes: Int) {
        counts.withLock { $0.live -= bytes }
    }
}
