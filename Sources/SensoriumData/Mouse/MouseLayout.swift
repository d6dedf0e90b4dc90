import Foundation

/// One per-trial data field of a mouse folder (a sub-folder of `data/`).
public enum MouseField: String, CaseIterable, Sendable, Hashable {
    /// `data/videos/<i>.npy`: (H, W, T) grey levels, NaN-padded in time.
    case videos
    /// `data/responses/<i>.npy`: (neurons, T) deconvolved activity, NaN-padded.
    case responses
    /// `data/behavior/<i>.npy`: (2, T) pupil dilation and running speed, NaN-padded.
    case behavior
    /// `data/pupil_center/<i>.npy`: (2, T) horizontal and vertical eye position, NaN-padded.
    case pupilCenter = "pupil_center"

    /// The folder name under `data/` and `meta/statistics/`.
    public var folderName: String { rawValue }
}

/// Paths inside one mouse folder in the SENSORIUM 2023 layout.
///
/// ```
/// <mouse>/data/{videos,responses,behavior,pupil_center}/<i>.npy
/// <mouse>/meta/neurons/{unit_ids,cell_motor_coordinates}.npy
/// <mouse>/meta/trials/tiers.npy (+ optional trial_idx.npy, condition_hashes.npy, ...)
/// <mouse>/meta/statistics/<field>/all/{mean,std,min,max,median}.npy
/// ```
public struct MouseLayout: Sendable {
    /// The mouse folder.
    public let root: String

    /// Layout rooted at `root` (a trailing slash is ignored).
    public init(root: String) {
        var r = root
        while r.count > 1 && r.hasSuffix("/") { r.removeLast() }
        self.root = r
    }

    /// The folder's last path component (the mouse name, e.g. `dynamic29515-10-12-Video-…`).
    public var mouseName: String { (root as NSString).lastPathComponent }

    func join(_ parts: String...) -> String { ([root] + parts).joined(separator: "/") }

    /// `data/<field>`.
    public func dataDirectory(_ field: MouseField) -> String { join("data", field.folderName) }
    /// `data/<field>/<trial>.npy`.
    public func trialFile(_ field: MouseField, trial: Int) -> String { join("data", field.folderName, "\(trial).npy") }
    /// `data/<name>/<trial>.npy` for a non-standard field (for example the synthetic `rates`).
    public func extraTrialFile(_ name: String, trial: Int) -> String { join("data", name, "\(trial).npy") }
    /// `meta/neurons/<name>.npy`.
    public func neuronFile(_ name: String) -> String { join("meta", "neurons", "\(name).npy") }
    /// `meta/trials/<name>.npy`.
    public func trialInfoFile(_ name: String) -> String { join("meta", "trials", "\(name).npy") }
    /// `meta/statistics/<field>/all/<statistic>.npy`.
    public func statisticFile(_ field: MouseField, _ statistic: String) -> String {
        join("meta", "statistics", field.folderName, "all", "\(statistic).npy")
    }
    /// `meta/trials/tiers.npy`.
    public var tiersFile: String { trialInfoFile("tiers") }
}

/// Helpers turning codec errors into `DataError`s that name file, expectation and finding.
enum MouseFiles {
    // Paths inside a packed mouse (`MousePack`) are routed to its HDF5 store.

    static func exists(_ path: String) -> Bool {
        if let (store, rel) = MouseStores.route(path) { return store.exists(rel) }
        return FileManager.default.fileExists(atPath: path)
    }

    static func isDirectory(_ path: String) -> Bool {
        if let (store, rel) = MouseStores.route(path) { return store.isDirectory(rel) }
        var isDir: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDir) && isDir.boolValue
    }

    /// Names in a directory (hidden files excluded unless `includeHidden`: the reference counts
    /// every entry of a data folder as a trial).
    static func entries(_ path: String, includeHidden: Bool = false) -> [String] {
        if let (store, rel) = MouseStores.route(path) { return store.entries(rel) }
        return ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).filter { includeHidden || !$0.hasPrefix(".") }
    }

    static func readNumeric(_ path: String, expected: String) throws -> LoadedArray {
        guard exists(path) else { throw DataError(.missingFile, path: path, expected: expected, found: "no such file") }
        do {
            if let (store, rel) = MouseStores.route(path) { return try store.readNumeric(rel, fullPath: path) }
            return try ArrayFileIO.readNumeric(path)
        } catch {
            throw mapped(error, path: path, expected: expected)
        }
    }

    static func readStrings(_ path: String, expected: String) throws -> (shape: [Int], values: [String]) {
        guard exists(path) else { throw DataError(.missingFile, path: path, expected: expected, found: "no such file") }
        do {
            if let (store, rel) = MouseStores.route(path) { return try store.readStrings(rel, fullPath: path) }
            return try ArrayFileIO.readStrings(path)
        } catch {
            throw mapped(error, path: path, expected: expected)
        }
    }

    /// A codec error (from the `.npy` or HDF5 reader) restated for the mouse file at `path` with
    /// what the folder layout expects there: a dtype mismatch stays `.wrongDType`, a missing file
    /// `.missingFile`, a checksum failure `.corrupted`, any other codec refusal becomes
    /// `.unreadableFile` carrying the codec's own expected/found text. Errors that already speak
    /// of the mouse (thrown by the store itself) pass through unchanged.
    static func mapped(_ error: any Error, path: String, expected: String) -> DataError {
        guard let e = error as? DataError else {
            return DataError(.unreadableFile, path: path, expected: expected, found: "\(error)")
        }
        let reason = stripPath(e.description, path)
        switch e.kind {
        case .missingFolder, .missingDirectory, .unreadableFile, .invalidValue, .inconsistent,
             .trialOutOfRange, .trialTooShort, .writeFailed:
            return e
        case .corrupted where e.operation == nil:
            return e
        case .corrupted:
            return DataError(.corrupted, path: path, expected: expected, found: "a corrupted file (\(reason))")
        case .wrongDType:
            return DataError(.wrongDType, path: path, expected: expected, found: e.found)
        case .missingFile:
            return DataError(.missingFile, path: path, expected: expected, found: "no such file")
        default:
            return DataError(.unreadableFile, path: path, expected: expected, found: "an unreadable file (\(reason))")
        }
    }

    /// Codec messages start with the path; drop it since the error carries it already.
    static func stripPath(_ message: String, _ path: String) -> String {
        message.hasPrefix(path + ": ") ? String(message.dropFirst(path.count + 2)) : message
    }

    static func describe(_ shape: [Int]) -> String { "shape (" + shape.map(String.init).joined(separator: ", ") + (shape.count == 1 ? ",)" : ")") }
}
