import Foundation
import Testing
@testable import SensoriumMetrics

/// The metrics fixture folder: `SENSORIUM_METRICS_FIXTURES`, else `../shared/fixtures/metrics`
/// relative to the package root.
private func metricsFixtureRoot() -> URL {
    if let env = ProcessInfo.processInfo.environment["SENSORIUM_METRICS_FIXTURES"], !env.isEmpty {
        return URL(fileURLWithPath: env)
    }
    let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()  // SensoriumMetricsTests
        .deletingLastPathComponent()  // Tests
        .deletingLastPathComponent()  // package root
    return packageRoot.appendingPathComponent("../shared/fixtures/metrics").standardizedFileURL
}

/// Minimal reader for the fixtures' little-endian float32 C-order NPY files (temporary: to be
/// replaced by SensoriumData's NPY reader once it is on main).
private func readFloatNPY(_ url: URL) throws -> (shape: [Int], values: [Float]) {
    struct BadNPY: Error, CustomStringConvertible { var description: String }
    let data = try Data(contentsOf: url)
    let bytes = [UInt8](data)
    guard bytes.count > 10, bytes[0] == 0x93, Array(bytes[1...5]) == Array("NUMPY".utf8) else {
        throw BadNPY(description: "\(url.path): expected the NPY magic string, found something else")
    }
    let major = bytes[6]
    let headerLength: Int, headerStart: Int
    if major == 1 {
        headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
        headerStart = 10
    } else {
        headerLength = Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
        headerStart = 12
    }
    let header = String(decoding: bytes[headerStart..<(headerStart + headerLength)], as: UTF8.self)
    guard header.contains("'descr': '<f4'"), header.contains("'fortran_order': False") else {
        throw BadNPY(description: "\(url.path): expected little-endian float32 in C order, found header \(header)")
    }
    guard let open = header.range(of: "'shape': ("), let close = header[open.upperBound...].firstIndex(of: ")") else {
        throw BadNPY(description: "\(url.path): no shape in header \(header)")
    }
    let shape = header[open.upperBound..<close].split(separator: ",")
        .compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
    let count = shape.reduce(1, *)
    let start = headerStart + headerLength
    guard bytes.count - start == 4 * count else {
        throw BadNPY(description: "\(url.path): expected \(4 * count) data bytes for shape \(shape), found \(bytes.count - start)")
    }
    var values = [Float](repeating: 0, count: count)
    for i in 0..<count {
        let o = start + 4 * i
        let bits = UInt32(bytes[o]) | UInt32(bytes[o + 1]) << 8 | UInt32(bytes[o + 2]) << 16 | UInt32(bytes[o + 3]) << 24
        values[i] = Float(bitPattern: bits)
    }
    return (shape, values)
}

@Suite struct MetricsFixtureTests {
    @Test func everyMetricsCase() throws {
        let root = metricsFixtureRoot()
        let cases = try FileManager.default.contentsOfDirectory(atPath: root.path).sorted()
            .filter { FileManager.default.fileExists(atPath: root.appendingPathComponent($0).appendingPathComponent("case.json").path) }
        #expect(!cases.isEmpty, "no metrics fixtures found in \(root.path)")
        for name in cases {
            let dir = root.appendingPathComponent(name)
            let json = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("case.json"))) as! [String: Any]
            #expect(json["op"] as? String == "sensorium_metrics", "\(name): unknown op")
            let skip = json["skip"] as? Int ?? 50
            let tol = json["tol"] as? [String: Double] ?? [:]
            let rtol = tol["rtol"] ?? 1e-4, atol = tol["atol"] ?? 1e-5

            // Fixture layout: (trials, neurons, frames); ours: one (frames, neurons) block per trial.
            let (shape, responses) = try readFloatNPY(dir.appendingPathComponent("responses.npy"))
            let (pshape, predictions) = try readFloatNPY(dir.appendingPathComponent("predictions.npy"))
            #expect(shape == pshape)
            let ids = try readFloatNPY(dir.appendingPathComponent("video_ids.npy")).values.map { Int($0) }
            let (trials, neurons, frames) = (shape[0], shape[1], shape[2])
            func blocks(_ v: [Float]) -> [ResponseMatrix] {
                (0..<trials).map { t in
                    var out = [Float](repeating: 0, count: frames * neurons)
                    for n in 0..<neurons { for f in 0..<frames { out[f * neurons + n] = v[(t * neurons + n) * frames + f] } }
                    return ResponseMatrix(values: out, rows: frames, neurons: neurons)
                }
            }
            let r = blocks(responses), p = blocks(predictions)

            let st = singleTrialCorrelation(responses: r, predictions: p, skipFrames: skip)
            let ta = correlationToAverage(responses: r, predictions: p, videoIDs: ids, skipFrames: skip)
            let expectedST = try readFloatNPY(dir.appendingPathComponent("single_trial.npy")).values
            let expectedTA = try readFloatNPY(dir.appendingPathComponent("to_average.npy")).values
            #expect(st.count == expectedST.count && ta.count == expectedTA.count)
            for (ours, ref) in zip(st, expectedST) {
                #expect(Double(abs(ours - ref)) <= atol + rtol * Double(abs(ref)), "\(name) single_trial: \(st) vs \(expectedST)")
            }
            for (ours, ref) in zip(ta, expectedTA) {
                #expect(Double(abs(ours - ref)) <= atol + rtol * Double(abs(ref)), "\(name) to_average: \(ta) vs \(expectedTA)")
            }
        }
    }
}
