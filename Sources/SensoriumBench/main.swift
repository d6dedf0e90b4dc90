// sensorium-bench: runs one named workload and prints one JSON object (Documentation/Performance.md).
//
//   swift build -c release --product sensorium-bench
//   .build/release/sensorium-bench WORKLOAD [--runs N] [--mouse DIR]
//   .build/release/sensorium-bench --list
import Foundation
import Sensorium
#if canImport(Glibc)
import Glibc
#endif

func usage() -> Never {
    var text = "usage: sensorium-bench WORKLOAD [--runs N] [--mouse DIR]\nworkloads:\n"
    for w in workloads { text += "  \(w.name): \(w.summary)\n" }
    FileHandle.standardError.write(Data(text.utf8))
    exit(2)
}

var arguments = Array(CommandLine.arguments.dropFirst())
if arguments.isEmpty || arguments.contains("--help") || arguments.contains("-h") { usage() }
if arguments.contains("--list") {
    for w in workloads { print(w.name) }
    exit(0)
}
var options = BenchOptions()
var name: String?
while !arguments.isEmpty {
    let a = arguments.removeFirst()
    switch a {
    case "--runs":
        guard let v = arguments.first.flatMap({ Int($0) }), v >= 1 else { usage() }
        options.runs = v
        arguments.removeFirst()
    case "--mouse":
        guard let v = arguments.first else { usage() }
        options.mouse = v
        arguments.removeFirst()
    default:
        if name != nil { usage() }
        name = a
    }
}
guard let name, let workload = workloads.first(where: { $0.name == name }) else { usage() }

let baseRSS = currentRSS()
let tracker = AllocationTracker()
var report = Report(workload: workload.name)
do {
    try tracker.track { try workload.run(options.runs ?? workload.defaultRuns, options, &report) }
} catch {
    FileHandle.standardError.write(Data("sensorium-bench \(workload.name): \(error)\n".utf8))
    exit(1)
}
report.print(baseRSS: baseRSS, tracker: tracker)
