// Timing, memory and JSON reporting for sensorium-bench.
import Sensorium
#if canImport(Glibc)
import Glibc
#endif

/// CPU seconds (user + system, all threads) used by this process so far.
func cpuSeconds() -> Double {
    var usage = rusage()
    getrusage(Int32(RUSAGE_SELF.rawValue), &usage)
    return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec)
        + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) * 1e-6
}

/// Minor page faults of this process so far.
func minorFaults() -> Int {
    var usage = rusage()
    getrusage(Int32(RUSAGE_SELF.rawValue), &usage)
    return usage.ru_minflt
}

/// Wall-clock seconds since an arbitrary origin.
func wallSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

/// A field of /proc/self/status in bytes (`VmRSS`, `VmHWM`), 0 when unavailable.
func procStatusBytes(_ field: String) -> Int {
    guard let file = fopen("/proc/self/status", "r") else { return 0 }
    defer { fclose(file) }
    var line = [CChar](repeating: 0, count: 256)
    while fgets(&line, 256, file) != nil {
        let text = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        if text.hasPrefix(field + ":") {
            let digits = text.dropFirst(field.count + 1).filter { $0.isNumber }
            return (Int(digits) ?? 0) * 1024
        }
    }
    return 0
}

/// Resident set size now, in bytes.
func currentRSS() -> Int { procStatusBytes("VmRSS") }
/// Peak resident set size of the process so far, in bytes.
func peakRSS() -> Int { procStatusBytes("VmHWM") }

func median(_ values: [Double]) -> Double {
    let s = values.sorted()
    guard !s.isEmpty else { return 0 }
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}

/// Wall and CPU seconds of repeated runs of one step.
struct Timing {
    var wall: [Double] = []
    var cpu: [Double] = []
    var faults: [Double] = []

    /// Runs `body` `warmup` times untimed, then `runs` times timed.
    static func measure(runs: Int, warmup: Int = 1, _ body: () -> Void) -> Timing {
        for _ in 0..<warmup { body() }
        var t = Timing()
        for _ in 0..<runs {
            let c0 = cpuSeconds(), w0 = wallSeconds(), f0 = minorFaults()
            body()
            t.wall.append(wallSeconds() - w0)
            t.cpu.append(cpuSeconds() - c0)
            t.faults.append(Double(minorFaults() - f0))
        }
        return t
    }
}

/// A JSON value (enough for flat reports with nested arrays of objects).
indirect enum JSON {
    case string(String)
    case number(Double)
    case integer(Int)
    case array([JSON])
    case object([(String, JSON)])

    var text: String {
        switch self {
        case .string(let s):
            var out = "\""
            for ch in s.unicodeScalars {
                switch ch {
                case "\"": out += "\\\""
                case "\\": out += "\\\\"
                case "\n": out += "\\n"
                default: out.unicodeScalars.append(ch)
                }
            }
            return out + "\""
        case .number(let d): return d.isFinite ? "\(d)" : "null"
        case .integer(let i): return "\(i)"
        case .array(let a): return "[" + a.map(\.text).joined(separator: ", ") + "]"
        case .object(let o): return "{" + o.map { JSON.string($0.0).text + ": " + $0.1.text }.joined(separator: ", ") + "}"
        }
    }
}

/// The report of one workload.
struct Report {
    let workload: String
    var fields: [(String, JSON)] = []

    init(workload: String) { self.workload = workload }

    mutating func add(_ key: String, _ value: JSON) { fields.append((key, value)) }
    mutating func add(_ key: String, _ value: Double) { fields.append((key, .number(value))) }
    mutating func add(_ key: String, _ value: Int) { fields.append((key, .integer(value))) }
    mutating func add(_ key: String, _ value: String) { fields.append((key, .string(value))) }

    /// Adds the standard timing fields; `flops` per step gives `gflops` and `gflop_per_cpu_s`.
    mutating func add(timing t: Timing, flops: Double? = nil) {
        let m = median(t.wall), c = median(t.cpu)
        add("median_s", m)
        add("min_s", t.wall.min() ?? 0)
        add("max_s", t.wall.max() ?? 0)
        add("cpu_median_s", c)
        add("runs", t.wall.count)
        if !t.faults.isEmpty { add("page_faults_per_run", Int(median(t.faults))) }
        if let flops {
            add("gflops", flops / m / 1e9)
            add("gflop_per_cpu_s", flops / c / 1e9)
        }
    }

    func print(baseRSS: Int, tracker: AllocationTracker?) {
        var all: [(String, JSON)] = [("workload", .string(workload)), ("implementation", .string("swift"))]
        all += fields
        all.append(("threads", .integer(Parallel.threadCount)))
        all.append(("blas", .string("openblas-" + blasCoreName())))
        let peak = peakRSS()
        all.append(("peak_rss_bytes", .integer(peak)))
        all.append(("workload_peak_bytes", .integer(peak - baseRSS)))
        if let tracker { all.append(("tensor_peak_bytes", .integer(tracker.peakBytes))) }
        Swift.print(JSON.object(all).text)
    }
}
