import Foundation

/// Produces items `0..<count` on background threads, ahead of the consumer, through a bounded
/// queue: at most `capacity` items are produced or in production beyond the last one consumed,
/// so memory stays at `capacity` items whatever `count` is. Items come out in index order,
/// whatever the number of workers, and an error thrown while producing item `i` is rethrown by
/// the `next()` call that would have returned it.
///
/// ```swift
/// let p = Prefetcher(count: plans.count, capacity: 2) { i in try maker.makeBatch(plans[i]) }
/// while let batch = try p.next() { train(on: batch) }
/// ```
public final class Prefetcher<Element: Sendable>: @unchecked Sendable {
    private final class State: @unchecked Sendable {
        let condition = NSCondition()
        var claimed = 0
        var consumed = 0
        var stopped = false
        var results: [Int: Result<Element, any Error>] = [:]
    }

    /// Number of items.
    public let count: Int
    /// Maximum number of items produced ahead of the consumer.
    public let capacity: Int
    private let state = State()

    /// Starts `workers` background threads producing items with `produce`.
    public init(count: Int, capacity: Int = 2, workers: Int = 1,
                produce: @escaping @Sendable (Int) throws -> Element) {
        precondition(capacity >= 1, "Prefetcher: capacity must be at least 1, got \(capacity)")
        precondition(workers >= 1, "Prefetcher: workers must be at least 1, got \(workers)")
        self.count = count
        self.capacity = capacity
        let state = self.state
        for _ in 0..<min(workers, max(count, 1)) {
            let thread = Thread {
                Self.work(state: state, count: count, capacity: capacity, produce: produce)
            }
            thread.name = "SensoriumData.Prefetcher"
            thread.start()
        }
    }

    private static func work(state: State, count: Int, capacity: Int, produce: @Sendable (Int) throws -> Element) {
        while true {
            state.condition.lock()
            while !state.stopped && state.claimed < count && state.claimed >= state.consumed + capacity {
                state.condition.wait()
            }
            if state.stopped || state.claimed >= count {
                state.condition.unlock()
                return
            }
            let index = state.claimed
            state.claimed += 1
            state.condition.unlock()

            let result = Result { try produce(index) }

            state.condition.lock()
            state.results[index] = result
            state.condition.broadcast()
            state.condition.unlock()
        }
    }

    /// The next item in order, waiting for it if needed; nil after the last one.
    public func next() throws -> Element? {
        state.condition.lock()
        defer { state.condition.unlock() }
        guard state.consumed < count, !state.stopped else { return nil }
        let index = state.consumed
        while state.results[index] == nil { state.condition.wait() }
        let result = state.results.removeValue(forKey: index)!
        state.consumed += 1
        state.condition.broadcast()
        return try result.get()
    }

    /// Stops the workers after the items they are producing; `next()` then returns nil.
    public func cancel() {
        state.condition.lock()
        state.stopped = true
        state.results.removeAll()
        state.condition.broadcast()
        state.condition.unlock()
    }

    deinit { cancel() }
}
