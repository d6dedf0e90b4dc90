import ArgumentParser
import Foundation
import Sensorium

/// Compares two run folders' training checkpoints: every tensor (model, optimizer moments, best
/// weights, moving average) and the validation correlation of every epoch, within tolerances;
/// with tolerance 0, also every integer counter and random-generator state (the same checkpoint
/// up to wall-clock times). Exits with an error when they differ.
struct CompareRuns: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "compare-runs",
                                                    abstract: "Compare the checkpoints of two training runs.")

    @Argument(help: "Run folder A.")
    var first: String
    @Argument(help: "Run folder B.")
    var second: String
    @Option(help: "Largest allowed absolute difference of a model weight.")
    var weightTolerance: Float = 0
    @Option(help: "Largest allowed difference of a validation correlation.")
    var correlationTolerance: Double = 0

    func run() throws {
        let a = try Checkpoint.read(from: URL(fileURLWithPath: RunFolder.file(first, RunFolder.checkpointFile)))
        let b = try Checkpoint.read(from: URL(fileURLWithPath: RunFolder.file(second, RunFolder.checkpointFile)))
        var problems: [String] = []
        let (worstModel, modelProblems) = compareTensors(a.children["model"] ?? .init(), b.children["model"] ?? .init(), path: "model")
        problems += modelProblems
        if worstModel > weightTolerance { problems.append("model weights differ by up to \(worstModel) > \(weightTolerance)") }
        if weightTolerance == 0 {
            let (worst, p) = compareTensors(a, b, path: "")
            problems += p
            if worst > 0 { problems.append("checkpoint tensors differ by up to \(worst)") }
            problems += compareCounters(a, b, path: "")
        }
        let ca = try correlations(a), cb = try correlations(b)
        if ca.count != cb.count { problems.append("\(ca.count) validations in A, \(cb.count) in B") }
        let worstCorrelation = zip(ca, cb).map { abs($0 - $1) }.max() ?? 0
        if worstCorrelation > correlationTolerance {
            problems.append("validation correlations differ by \(worstCorrelation) > \(correlationTolerance): \(ca) vs \(cb)")
        }
        print("compared \(first) and \(second): model weights within \(worstModel), validation correlations within \(worstCorrelation) (\(cb.map { String(format: "%.6f", $0) }.joined(separator: ", ")))")
        if !problems.isEmpty { throw ComparisonFailed(message: problems.joined(separator: "; ")) }
    }

    private func correlations(_ r: StateRecord) throws -> [Double] {
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        let history = try decoder.decode([EpochReport].self, from: Data((r.strings["history"] ?? "[]").utf8))
        return history.compactMap { $0.validation?.correlation }
    }

    private func compareTensors(_ a: StateRecord, _ b: StateRecord, path: String) -> (Float, [String]) {
        var worst: Float = 0
        var problems: [String] = []
        if Set(a.tensors.keys) != Set(b.tensors.keys) { problems.append("\(path): different tensors") }
        for (key, x) in a.tensors {
            guard let y = b.tensors[key], y.shape == x.shape else { continue }
            for (u, v) in zip(x.scalars, y.scalars) { worst = max(worst, u == v ? 0 : abs(u - v)) }
        }
        if Set(a.children.keys) != Set(b.children.keys) { problems.append("\(path): groups \(a.children.keys.sorted()) vs \(b.children.keys.sorted())") }
        for (key, child) in a.children {
            guard let other = b.children[key] else { continue }
            let (w, p) = compareTensors(child, other, path: path + "/" + key)
            worst = max(worst, w)
            problems += p
        }
        return (worst, problems)
    }

    private func compareCounters(_ a: StateRecord, _ b: StateRecord, path: String) -> [String] {
        var problems: [String] = []
        if a.integers != b.integers { problems.append("\(path): counters \(a.integers) vs \(b.integers)") }
        if a.words != b.words { problems.append("\(path): generator states differ") }
        for (key, child) in a.children {
            if let other = b.children[key] { problems += compareCounters(child, other, path: path + "/" + key) }
        }
        return problems
    }
}

/// Two runs that should match do not.
struct ComparisonFailed: Error, CustomStringConvertible {
    var message: String
    var description: String { "the runs differ: \(message)" }
}
