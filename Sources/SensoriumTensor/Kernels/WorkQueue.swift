// Dynamic distribution of independent work items over the SDK's threads.

import Dispatch
import Synchronization

/// Runs independent work items on up to ``Parallel/threadCount`` threads, each thread taking the
/// next item from a shared counter (so a descheduled thread does not hold the others up).
///
/// Items must write disjoint memory. Which thread runs an item depends on timing, so anything an
/// item accumulates must be kept per item (and reduced in item order) for repeatable results.
/// Kernels that run single-threaded GEMMs inside items keep OpenBLAS's own threads asleep: on a
/// machine where the SDK's threads and OpenBLAS's spinning threads share the cores, that is what
/// keeps small-matrix workloads from paying for idle spinning.
enum WorkQueue {
    /// Calls `body(item)` for every item of `0..<count`; on the calling thread alone when
    /// `count < 2`, `parallel` is false or there is one thread.
    static func run(_ count: Int, parallel: Bool = true, _ body: (Int) -> Void) {
        let threads = parallel ? min(Parallel.threadCount, count) : 1
        if threads <= 1 {
            for item in 0..<count { body(item) }
            return
        }
        drain(count, threads: threads, body)
    }

    /// Calls `body(item)` for every item of `0..<count` on `threads` workers (at least 2), each
    /// taking the next item from a shared counter until none is left.
    static func drain(_ count: Int, threads: Int, _ body: (Int) -> Void) {
        let next = Atomic<Int>(0)
        withoutActuallyEscaping(body) { body in
            let box = UncheckedSendable(body)
            DispatchQueue.concurrentPerform(iterations: threads) { _ in
                while true {
                    let item = next.wrappingAdd(1, ordering: .relaxed).oldValue
                    guard item < count else { break }
                    box.value(item)
                }
            }
        }
    }
}
