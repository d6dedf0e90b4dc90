import Foundation
import SensoriumTensor
import SensoriumLayers
import SensoriumData

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A tree of named values: the saved state of a trainer component (optimizer, scheduler, early
/// stopping, moving average, …) and, nested, of a whole training run.
///
/// In an HDF5 checkpoint a record is a group: tensors become float32 datasets, `words` uint64
/// datasets, children subgroups, and integers, reals and strings attributes (strings longer than
/// a few kilobytes are stored as string datasets, because HDF5 attributes are small).
public struct StateRecord {
    /// Float32 tensors.
    public var tensors: [String: Tensor] = [:]
    /// Integers.
    public var integers: [String: Int64] = [:]
    /// Floating-point numbers (stored in double precision, so bitwise round trips).
    public var reals: [String: Double] = [:]
    /// Strings (UTF-8).
    public var strings: [String: String] = [:]
    /// Arrays of 64-bit words (random generator states).
    public var words: [String: [UInt64]] = [:]
    /// Nested records.
    public var children: [String: StateRecord] = [:]

    /// An empty record.
    public init() {}

    /// Whether the record holds nothing.
    public var isEmpty: Bool {
        tensors.isEmpty && integers.isEmpty && reals.isEmpty && strings.isEmpty && words.isEmpty && children.isEmpty
    }

    /// Whether two records hold the same names and bitwise-identical values.
    public func isIdentical(to other: StateRecord) -> Bool {
        guard integers == other.integers, strings == other.strings, words == other.words,
              Set(reals.keys) == Set(other.reals.keys),
              reals.allSatisfy({ $0.value.bitPattern == other.reals[$0.key]!.bitPattern }),
              Set(tensors.keys) == Set(other.tensors.keys),
              Set(children.keys) == Set(other.children.keys) else { return false }
        for (key, t) in tensors {
            let o = other.tensors[key]!
            guard t.shape == o.shape else { return false }
            let same = t.withUnsafeBufferPointer { a in
                o.withUnsafeBufferPointer { b in
                    memcmp(a.baseAddress!, b.baseAddress!, a.count * MemoryLayout<Float>.stride) == 0
                }
            }
            if !same { return false }
        }
        return children.allSatisfy { $0.value.isIdentical(to: other.children[$0.key]!) }
    }

    /// A record of a module's state: `parameters/<path>` and `buffers/<path>`, as copies.
    public static func moduleState(_ module: Module) -> StateRecord {
        var parameters = StateRecord(), buffers = StateRecord()
        for (path, t) in module.namedParameters() { parameters.tensors[path] = t.copy() }
        for (path, t) in module.namedBuffers() { buffers.tensors[path] = t.copy() }
        var record = StateRecord()
        record.children["parameters"] = parameters
        record.children["buffers"] = buffers
        return record
    }

    /// The flat state dictionary (parameters and buffers by dotted path) of a ``moduleState(_:)`` record.
    public var moduleStateDict: [String: Tensor] {
        var out: [String: Tensor] = [:]
        for (k, v) in children["parameters"]?.tensors ?? [:] { out[k] = v }
        for (k, v) in children["buffers"]?.tensors ?? [:] { out[k] = v }
        return out
    }
}

/// Reading and writing ``StateRecord`` trees as HDF5 checkpoint files.
///
/// Writes are atomic: the file is written under a temporary name in the same directory, flushed
/// to disk, and renamed over the destination, so a crash or an error while writing leaves the
/// previous checkpoint untouched and never a half-written file under the final name.
public enum Checkpoint {
    /// The `format` attribute of every checkpoint file.
    public static let formatName = "sensorium.checkpoint"
    /// The `format_version` attribute written by this version of the SDK.
    public static let formatVersion: Int64 = 1

    /// Strings longer than this are stored as datasets rather than attributes.
    static let attributeStringLimit = 8_192

    /// Writes `record` to `url` atomically (temporary sibling file, fsync, rename).
    public static func write(_ record: StateRecord, to url: URL) throws {
        try write(record, to: url, beforeCommit: nil)
    }

    /// `write(_:to:)` with a hook that runs after the temporary file is complete and before the
    /// rename (tests use it to simulate a failure at the last moment).
    static func write(_ record: StateRecord, to url: URL, beforeCommit: (() throws -> Void)?) throws {
        let destination = url.standardizedFileURL.path
        let directory = (destination as NSString).deletingLastPathComponent
        let name = (destination as NSString).lastPathComponent
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw TrainingError.file(path: destination, message: "the directory \(directory) does not exist")
        }
        removeStaleTemporaries(directory: directory, name: name)
        let temporary = (directory as NSString).appendingPathComponent(".\(name).tmp-\(getpid())-\(temporaryCounter.next())")
        do {
            try writeFile(record, path: temporary)
            try syncFile(temporary)
            try beforeCommit?()
            guard rename(temporary, destination) == 0 else {
                throw TrainingError.file(path: destination, message: "renaming \(temporary) failed: \(String(cString: strerror(errno)))")
            }
            syncDirectory(directory)
        } catch {
            unlink(temporary)
            if let e = error as? TrainingError { throw e }
            throw TrainingError.file(path: destination, message: "writing failed (\(error)); the previous file, if any, is unchanged")
        }
    }

    /// Removes the temporary files of earlier writes of `name` whose process no longer runs (a
    /// run killed while it wrote a checkpoint leaves a full-size `.name.tmp-<pid>-<n>` behind).
    static func removeStaleTemporaries(directory: String, name: String) {
        let prefix = ".\(name).tmp-"
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return }
        for entry in entries where entry.hasPrefix(prefix) {
            guard let pid = Int32(entry.dropFirst(prefix.count).prefix { $0 != "-" }), pid != getpid() else { continue }
            // The writer is gone when signalling it fails with "no such process".
            if kill(pid, 0) != 0 && errno == ESRCH {
                unlink((directory as NSString).appendingPathComponent(entry))
            }
        }
    }

    /// Writes the whole file; every HDF5 object is released (and the file closed) on return.
    private static func writeFile(_ record: StateRecord, path: String) throws {
        let file = try HDF5File.create(path, overwrite: true)
        try file.setAttribute("format", formatName)
        try file.setAttribute("format_version", formatVersion)
        try writeRecord(record, into: file)
        try file.flush()
    }

    private static func writeRecord(_ record: StateRecord, into group: HDF5Group) throws {
        for key in record.tensors.keys.sorted() {
            try group.createDataset(key, tensor: record.tensors[key]!)
        }
        for key in record.words.keys.sorted() {
            let values = record.words[key]!
            try group.createDataset(key, values: values, shape: [values.count])
        }
        for key in record.integers.keys.sorted() { try group.setAttribute(key, record.integers[key]!) }
        for key in record.reals.keys.sorted() { try group.setAttribute(key, record.reals[key]!) }
        for key in record.strings.keys.sorted() {
            let value = record.strings[key]!
            if value.utf8.count > attributeStringLimit {
                try group.createDataset(key, strings: [value], shape: [])
            } else {
                try group.setAttribute(key, value)
            }
        }
        for key in record.children.keys.sorted() {
            let child = try group.createGroup(key)
            try writeRecord(record.children[key]!, into: child)
        }
    }

    private static func syncFile(_ path: String) throws {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else {
            throw TrainingError.file(path: path, message: "cannot reopen the temporary file to flush it: \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        guard fsync(fd) == 0 else {
            throw TrainingError.file(path: path, message: "fsync failed: \(String(cString: strerror(errno)))")
        }
    }

    private static func syncDirectory(_ path: String) {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return }
        _ = fsync(fd)
        close(fd)
    }

    /// Reads a checkpoint file written by ``write(_:to:)``.
    public static func read(from url: URL) throws -> StateRecord {
        let path = url.standardizedFileURL.path
        let file: HDF5File
        do {
            file = try HDF5File.open(path)
        } catch {
            throw TrainingError.file(path: path, message: "cannot open: \(error)")
        }
        let format = (try? file.hasAttribute("format")) == true ? try file.stringAttribute("format") : "none"
        guard format == formatName else {
            throw TrainingError.file(path: path, message: "expected an HDF5 file with format attribute '\(formatName)', found '\(format)'")
        }
        let version: Int64 = try file.attribute("format_version")
        guard version <= formatVersion else {
            throw TrainingError.file(path: path, message: "format version \(version) is newer than this SDK reads (\(formatVersion))")
        }
        var record = try readRecord(file)
        record.strings["format"] = nil
        record.integers["format_version"] = nil
        return record
    }

    private static func readRecord(_ group: HDF5Group) throws -> StateRecord {
        var record = StateRecord()
        for name in try group.children() {
            switch group.kind(of: name) {
            case .group?:
                record.children[name] = try readRecord(try group.group(name))
            case .dataset?:
                let ds = try group.dataset(name)
                switch ds.elementType {
                case .float(bytes: 4):
                    record.tensors[name] = try ds.readTensor()
                case .unsignedInteger(bytes: 8):
                    record.words[name] = try ds.read(as: UInt64.self)
                case .string:
                    record.strings[name] = try ds.readStrings().first ?? ""
                case let other:
                    throw TrainingError.file(path: group.filePath, message: "dataset \(ds.path) has unexpected type \(other)")
                }
            default:
                continue
            }
        }
        for name in try group.attributeNames() {
            switch try group.attributeType(name) {
            case .signedInteger, .unsignedInteger:
                record.integers[name] = try group.attribute(name, as: Int64.self)
            case .float:
                record.reals[name] = try group.attribute(name, as: Double.self)
            case .string:
                record.strings[name] = try group.stringAttribute(name)
            case let other:
                throw TrainingError.file(path: group.filePath, message: "attribute \(name) of \(group.path) has unexpected type \(other)")
            }
        }
        return record
    }

    /// The model state (parameters and buffers by dotted path) saved in a training checkpoint, for
    /// example to evaluate a trained model without resuming its training.
    public static func modelState(from url: URL) throws -> [String: Tensor] {
        let record = try read(from: url)
        guard let model = record.children["model"] else {
            throw TrainingError.file(path: url.path, message: "expected a 'model' group with the model state, found none")
        }
        return model.moduleStateDict
    }

    /// Writes only the state of `module` (parameters and buffers), plus an optional configuration
    /// string (for example the model's JSON configuration), as a checkpoint.
    public static func writeModel(_ module: Module, configuration: String? = nil, to url: URL) throws {
        var record = StateRecord()
        record.children["model"] = StateRecord.moduleState(module)
        if let configuration { record.strings["configuration"] = configuration }
        try write(record, to: url)
    }

    /// Loads the model state saved in a checkpoint into `module` (strictly: every key must match).
    public static func loadModel(_ module: Module, from url: URL) throws {
        let state = try modelState(from: url)
        do {
            try module.loadStateDict(state)
        } catch {
            throw TrainingError.file(path: url.path, message: "the model state does not fit the module: \(error)")
        }
    }
}

/// Unique suffixes for temporary files within this process.
private let temporaryCounter = TemporaryCounter()

private final class TemporaryCounter: @unchecked Sendable {
    private var value: UInt64 = 0
    private let lock = NSLock()
    func next() -> UInt64 {
        lock.lock()
        defer { lock.unlock() }
        value += 1
        return value
    }
}
