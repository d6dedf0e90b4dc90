import Foundation
import Testing
import SensoriumTensor

/// The settings and guards every seeded fuzz suite shares (issue #16): the data readers'
/// (`DataFuzzTests`) and the configuration files' and command lines' (`ConfigurationFuzzTests`).
///
/// `make test` runs a few cases of each kind; `make fuzz` runs thousands:
///   SENSORIUM_FUZZ_CASES    cases per kind (default 8)
///   SENSORIUM_FUZZ_SEED     seed (default 16); case k of a kind uses seed + k, so a failure names
///                           the seed that reproduces it alone with SENSORIUM_FUZZ_CASES=1
///   SENSORIUM_FUZZ_VERBOSE  1: name every case on standard error before it runs (a crash then
///                           shows which case crashed)
public enum Fuzz {
    public static let environment = ProcessInfo.processInfo.environment
    /// Cases per kind.
    public static let casesPerKind = Int(environment["SENSORIUM_FUZZ_CASES"] ?? "") ?? 8
    /// The seed of case 0.
    public static let seed = UInt64(environment["SENSORIUM_FUZZ_SEED"] ?? "") ?? 16
    /// SENSORIUM_FUZZ_VERBOSE=1 names every case on stderr before it runs (to find a crashing one).
    public static let verbose = environment["SENSORIUM_FUZZ_VERBOSE"] == "1"
    /// A case taking longer than this is reported as a hang (the watchdog ends the process at 4×).
    public static let slowSeconds = 30.0
    /// Resident memory above this after a case is a blow-up.
    public static let memoryLimit = 2 << 30

    /// Resident set size of this process in bytes (Linux), 0 when unknown.
    public static func residentBytes() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return 0 }
        return pages * Int(getpagesize())
    }

    /// Peak resident memory of the process so far, for the summaries.
    public static var peakMemory: String {
        var usage = rusage()
        getrusage(Int32(RUSAGE_SELF.rawValue), &usage)
        return "peak resident memory \(usage.ru_maxrss >> 10) MiB"
    }

    /// The mutations' random source of case `k` of a kind.
    public static func generator(_ kind: UInt64, _ k: Int) -> RandomGenerator {
        RandomGenerator(seed: seed &+ UInt64(k) &+ kind &* 1_000_003)
    }

    /// Runs one case under the watchdog: nil when `body` accepted the input, the error when it
    /// refused it. A slow case or memory growth is recorded as an issue (a crash ends the process,
    /// which fails the run; with SENSORIUM_FUZZ_VERBOSE=1 the last case named is the culprit).
    /// `slow` overrides ``slowSeconds`` for cases known to be long (building the largest models
    /// in a debug build).
    public static func guarded(_ label: String, slow: Double = slowSeconds, _ body: () throws -> Void) -> (any Error)? {
        let start = Date()
        if verbose { FileHandle.standardError.write(Data("fuzz: \(label)\n".utf8)) }
        Watchdog.shared.begin(label, limit: 4 * slow)
        defer {
            Watchdog.shared.end()
            let seconds = Date().timeIntervalSince(start)
            if seconds > slow { Issue.record("\(label): took \(seconds) s (hang?)") }
            let rss = residentBytes()
            if rss > memoryLimit { Issue.record("\(label): resident memory \(rss >> 20) MiB after the case") }
        }
        do {
            try body()
            return nil
        } catch {
            return error
        }
    }
}

/// Ends the process when one fuzz case runs for far too long, naming it (a hang must not pass
/// silently or block `make fuzz` forever).
public final class Watchdog: @unchecked Sendable {
    public static let shared = Watchdog()
    private let lock = NSLock()
    private var label: String?
    private var start = Date()
    private var limit = 4 * Fuzz.slowSeconds

    private init() {
        Thread.detachNewThread { [self] in
            while true {
                Thread.sleep(forTimeInterval: 1)
                lock.lock()
                let current = label, since = Date().timeIntervalSince(start), limit = self.limit
                lock.unlock()
                if let current, since > limit {
                    FileHandle.standardError.write(Data("fuzz: case \(current) hangs (\(Int(since)) s); stopping\n".utf8))
                    exit(3)
                }
            }
        }
    }

    /// Watches the case `label`, ending the process when it runs longer than `limit` seconds.
    public func begin(_ label: String, limit: Double = 4 * Fuzz.slowSeconds) {
        lock.lock(); self.label = label; start = Date(); self.limit = limit; lock.unlock()
    }

    public func end() {
        lock.lock(); label = nil; lock.unlock()
    }
}
