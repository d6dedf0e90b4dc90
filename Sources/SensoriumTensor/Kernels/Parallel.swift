import Dispatch

/// Splits index ranges across the machine's cores with `DispatchQueue.concurrentPerform`.
///
/// Work below `minimumPerThread` items stays on the calling thread; BLAS-heavy code should not
/// call this around a multi-threaded GEMM.
public enum Parallel {
    /// Number of worker threads used for elementwise and reduction kernels: `SENSORIUM_THREADS`
    /// when set (for example 1 per process when several processes share a machine), else the
    /// number of online cores.
    public static let threadCount: Int = {
        if let text = getenv("SENSORIUM_THREADS"), let n = Int(String(cString: text)), n >= 1 { return n }
        #if canImport(Glibc)
        return max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        #else
        return max(1, Int(sysconf(_SC_NPROCESSORS_ONLN)))
        #endif
    }()

    /// Calls `body` on disjoint sub-ranges covering `0..<count`, in parallel when `count` is large.
    @inlinable
    public static func forRanges(_ count: Int, minimumPerThread: Int = 32_768,
                                 _ body: (Range<Int>) -> Void) {
        let chunks = min(threadCount, count / max(minimumPerThread, 1))
        if chunks <= 1 {
            if count > 0 { body(0..<count) }
            return
        }
        withoutActuallyEscaping(body) { body in
            let box = UncheckedSendable(body)
            DispatchQueue.concurrentPerform(iterations: chunks) { c in
                let start = count * c / chunks
                let end = count * (c + 1) / chunks
                box.value(start..<end)
            }
        }
    }
}

/// Carries a non-Sendable value into `concurrentPerform`; callers guarantee disjoint writes.
@usableFromInline
struct UncheckedSendable<Value>: @unchecked Sendable {
    @usableFromInline let value: Value
    @usableFromInline init(_ value: Value) { self.value = value }
}

#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif
