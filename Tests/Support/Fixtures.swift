import Foundation
import Testing
import SensoriumTensor
import SensoriumData

/// Locating and reading the PyTorch fixtures for the test targets: `../shared/fixtures` beside the
/// package when it exists, else the repository's own copy in `Tests/Fixtures` (Tests/Fixtures/README.md).
public enum Fixtures {
    /// The package root (two levels above this file's folder).
    public static let packageRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The fixture folder of one kind (`parity`, `cores`, `models`, `metrics`, `winners`), in this order:
    /// the folder named by the environment variable `environmentKey` (relative paths from the package
    /// root); else `../shared/fixtures/<defaultSubfolder>` beside the package when that folder exists;
    /// else the repository's copy `Tests/Fixtures/<defaultSubfolder>`.
    public static func folder(environmentKey: String, defaultSubfolder: String) -> URL {
        resolveFolder(subfolder: defaultSubfolder, override: ProcessInfo.processInfo.environment[environmentKey],
                      packageRoot: packageRoot)
    }

    /// The resolution of `folder(environmentKey:defaultSubfolder:)` for an explicit package root and
    /// environment value (`nil` or empty: not set).
    public static func resolveFolder(subfolder: String, override: String?, packageRoot: URL) -> URL {
        if let override, !override.isEmpty {
            let root = URL(fileURLWithPath: packageRoot.path, isDirectory: true)
            return URL(fileURLWithPath: override, relativeTo: root).standardizedFileURL
        }
        let shared = packageRoot.appendingPathComponent("../shared/fixtures/\(subfolder)").standardizedFileURL
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: shared.path, isDirectory: &isDirectory), isDirectory.boolValue {
            return shared
        }
        return repositoryFolder(subfolder, packageRoot: packageRoot)
    }

    /// The repository's fixture folder `Tests/Fixtures/<subfolder>` (copies of the shared fixtures made by
    /// `Tools/sync_fixtures.sh`, plus the SDK's own cases listed in `Tests/Fixtures/OWN`).
    public static func repositoryFolder(_ subfolder: String, packageRoot: URL = Fixtures.packageRoot) -> URL {
        packageRoot.appendingPathComponent("Tests/Fixtures/\(subfolder)").standardizedFileURL
    }

    /// The SDK's own entries of `Tests/Fixtures/<subfolder>` as `Tests/Fixtures/OWN` lists them (lines
    /// `<subfolder>/<name>`, `#` comments), sorted; the other entries there are copies of the shared fixtures.
    public static func ownEntries(_ subfolder: String, packageRoot: URL = Fixtures.packageRoot) -> [String] {
        let list = packageRoot.appendingPathComponent("Tests/Fixtures/OWN")
        guard let text = try? String(contentsOf: list, encoding: .utf8) else { return [] }
        let prefix = subfolder + "/"
        return text.split(whereSeparator: \.isNewline).compactMap { line -> String? in
            let entry = line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)[0]
                .trimmingCharacters(in: .whitespaces)
            guard entry.hasPrefix(prefix), entry.count > prefix.count else { return nil }
            return String(entry.dropFirst(prefix.count))
        }.sorted()
    }

    /// Names of the sub-folders of `folder` that contain `marker`, sorted.
    public static func cases(in folder: URL, marker: String) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        return names.filter {
            FileManager.default.fileExists(atPath: folder.appendingPathComponent($0).appendingPathComponent(marker).path)
        }.sorted()
    }

    /// Reads `name.npy` in `folder` as a tensor.
    public static func tensor(_ name: String, in folder: URL) throws -> Tensor {
        try NPY.readTensor(folder.appendingPathComponent("\(name).npy").path)
    }

    /// Reads a JSON object.
    public static func json(_ url: URL) throws -> [String: Any] {
        let data = try Data(contentsOf: url)
        guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw FixtureError.malformed("\(url.path): expected a JSON object")
        }
        return object
    }
}

/// A fixture folder that could not be used.
public enum FixtureError: Error, CustomStringConvertible {
    case malformed(String)
    public var description: String {
        switch self { case .malformed(let message): return message }
    }
}

/// The worst element of a comparison `|ours - ref| <= atol + rtol * |ref|`.
public struct Closeness: CustomStringConvertible, Sendable {
    public var passed: Bool
    public var worstIndex: Int
    public var ours: Float
    public var reference: Float
    public var maxAbsoluteError: Float
    public var description: String {
        "worst element \(worstIndex): ours \(ours) vs reference \(reference); max |error| \(maxAbsoluteError)"
    }

    /// Compares element by element; shapes must match exactly.
    public static func compare(_ ours: Tensor, _ reference: Tensor, atol: Float, rtol: Float) -> Closeness {
        precondition(ours.count == reference.count, "compare: shapes \(ours.shape) and \(reference.shape) differ")
        var result = Closeness(passed: true, worstIndex: 0, ours: 0, reference: 0, maxAbsoluteError: 0)
        var worstExcess: Float = -.infinity
        let a = ours.scalars, b = reference.scalars
        for i in 0..<a.count {
            let error = abs(a[i] - b[i])
            let excess = error - (atol + rtol * abs(b[i]))
            if excess > worstExcess || error.isNaN {
                worstExcess = error.isNaN ? .infinity : excess
                result.worstIndex = i; result.ours = a[i]; result.reference = b[i]
            }
            result.maxAbsoluteError = max(result.maxAbsoluteError, error.isNaN ? .infinity : error)
        }
        result.passed = worstExcess <= 0 || a.isEmpty
        return result
    }
}

/// Records a test issue unless `ours` matches `reference` within tolerance (shapes included).
public func expectClose(_ ours: Tensor, _ reference: Tensor, atol: Float, rtol: Float, _ label: String,
                        sourceLocation: SourceLocation = #_sourceLocation) {
    guard ours.shape == reference.shape else {
        Issue.record("\(label): shape \(ours.shape), expected \(reference.shape)", sourceLocation: sourceLocation)
        return
    }
    let c = Closeness.compare(ours, reference, atol: atol, rtol: rtol)
    if !c.passed { Issue.record("\(label): \(c)", sourceLocation: sourceLocation) }
}
