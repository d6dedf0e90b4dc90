import Foundation

/// A mouse folder packed into one HDF5 file, and the store that reads it back.
///
/// Every `.npy` file of the folder becomes a dataset at the same relative path without the
/// extension (`data/videos/3.npy` → `/data/videos/3`, `meta/trials/tiers.npy` →
/// `/meta/trials/tiers`), with its dtype (float32 stays float32, float64 float64, integers and
/// booleans keep their width, strings become variable-length UTF-8). The root carries the
/// attributes `format` (`sensorium-2023-mouse`), `mouse` (the folder name) and `config`
/// (`config.json`, when present).
///
/// `MouseDataset(path:)` opens such a file like a folder: the same checks, the same lazy
/// per-trial reading, identical batches.
///
/// Integrity: the file is written in the newest HDF5 format (libhdf5 checksums and verifies all
/// metadata), every array is chunked with a Fletcher32 checksum that libhdf5 verifies before it
/// returns a chunk's values, and strings are stored fixed-length so that the checksum covers them.
/// A mismatch is a `DataError` of kind `.corrupted` naming the file and object.
///
/// ```swift
/// try MousePack.pack(folder: "data/dynamic29515-…", into: "data/dynamic29515-….h5")
/// let mouse = try MouseDataset(path: "data/dynamic29515-….h5")
/// ```
public enum MousePack {
    /// The `format` attribute of packed mice.
    public static let formatName = "sensorium-2023-mouse"

    /// Packs the mouse folder at `folder` into the HDF5 file `file`; an existing file is replaced
    /// only with `overwrite`.
    public static func pack(folder: String, into file: String, overwrite: Bool = false) throws {
        let layout = MouseLayout(root: folder)
        guard MouseFiles.isDirectory(layout.root), !MouseStores.isPacked(layout.root) else {
            throw DataError(.missingFolder, path: layout.root, expected: "a mouse folder to pack", found: MouseFiles.exists(layout.root) ? "a file" : "nothing")
        }
        if FileManager.default.fileExists(atPath: file) && !overwrite {
            throw DataError(.writeFailed, path: file, expected: "no existing file (or overwrite: true)", found: "an existing file")
        }
        let out: HDF5File
        do { out = try HDF5File.create(file, overwrite: true) } catch {
            throw DataError(.writeFailed, path: file, expected: "a writable HDF5 file", found: "\(error)")
        }
        func fail(_ rel: String, _ error: any Error) -> DataError {
            DataError(.writeFailed, path: file + ":/" + rel, expected: "a copy of \(layout.root)/\(rel)", found: "\(error)")
        }
        guard let all = FileManager.default.enumerator(atPath: layout.root)?.allObjects as? [String] else {
            throw DataError(.unreadableFile, path: layout.root, expected: "a readable folder", found: "no listing")
        }
        for rel in all.sorted() where rel.hasSuffix(".npy") {
            let path = layout.root + "/" + rel
            let array: NPYArray
            do { array = try NPYFile.read(path) } catch { throw MouseFiles.mapped(error, path: path, expected: "a readable .npy file") }
            let target = String(rel.dropLast(4))
            do {
                switch array.dtype {
                case .float32, .float16: try out.createDataset(target, values: try array.floats(), shape: array.shape)
                case .float64: try out.createDataset(target, values: try array.doubles(), shape: array.shape)
                case .int8: try out.createDataset(target, values: try array.ints().map { Int8($0) }, shape: array.shape)
                case .int16: try out.createDataset(target, values: try array.ints().map { Int16($0) }, shape: array.shape)
                case .int32: try out.createDataset(target, values: try array.ints().map { Int32($0) }, shape: array.shape)
                case .int64: try out.createDataset(target, values: try array.ints().map { Int64($0) }, shape: array.shape)
                case .uint8, .bool: try out.createDataset(target, values: try array.ints().map { UInt8($0) }, shape: array.shape)
                case .uint16: try out.createDataset(target, values: try array.ints().map { UInt16($0) }, shape: array.shape)
                case .uint32: try out.createDataset(target, values: try array.ints().map { UInt32($0) }, shape: array.shape)
                case .uint64: try out.createDataset(target, values: try array.doubles().map { UInt64($0) }, shape: array.shape)
                case .unicode, .bytes: try out.createDataset(target, strings: try array.strings(), shape: array.shape, fixedLength: true)
                }
            } catch let e as DataError {
                throw e
            } catch {
                throw fail(rel, error)
            }
        }
        // Empty data folders still exist as groups.
        for field in MouseField.allCases where MouseFiles.isDirectory(layout.dataDirectory(field)) {
            do { _ = try out.groupCreatingIfNeeded("data/\(field.folderName)") } catch { throw fail("data/\(field.folderName)", error) }
        }
        do {
            try out.setAttribute("format", fixedLengthString: formatName)
            try out.setAttribute("mouse", fixedLengthString: layout.mouseName)
            if let config = try? String(contentsOfFile: layout.root + "/config.json", encoding: .utf8) {
                try out.setAttribute("config", fixedLengthString: config)
            }
            try out.flush()
        } catch { throw fail("", error) }
    }
}

/// Reads a packed mouse; every access holds a lock (libhdf5 is not thread-safe).
final class MouseHDF5Store: @unchecked Sendable {
    let path: String
    let file: HDF5File
    let mouseName: String
    /// Device, inode, size and modification time of the file when it was opened.
    let identity: [String]
    private let lock = NSLock()

    /// What identifies the file at `path` (a replaced or rewritten file has another identity).
    static func identity(of path: String) -> [String] {
        guard let a = try? FileManager.default.attributesOfItem(atPath: path) else { return [] }
        return [a[.systemNumber], a[.systemFileNumber], a[.size], a[.modificationDate]].map { "\($0 ?? "")" }
    }

    init(path: String) throws {
        self.path = path
        identity = MouseHDF5Store.identity(of: path)
        do {
            file = try HDF5File.open(path)
        } catch {
            let corrupted = (error as? DataError)?.kind == .corrupted
            throw DataError(corrupted ? .corrupted : .unreadableFile, path: path,
                                 expected: "a mouse folder or an HDF5 file made by MousePack.pack", found: "\(error)")
        }
        let format = try? file.stringAttribute("format")
        guard format == MousePack.formatName else {
            throw DataError(.invalidValue, path: path, expected: "an HDF5 file made by MousePack.pack (attribute format = \(MousePack.formatName))",
                                 found: format.map { "format = \($0)" } ?? "no format attribute")
        }
        mouseName = (try? file.stringAttribute("mouse")) ?? ((path as NSString).lastPathComponent as NSString).deletingPathExtension
        // Verify every object header on open (their checksums), so that a corrupted structure is
        // reported as such instead of as a missing file; data chunks are verified when read.
        do {
            try file.verifyObjects()
        } catch {
            let corrupted = (error as? DataError)?.kind == .corrupted
            throw DataError(corrupted ? .corrupted : .unreadableFile, path: path,
                                 expected: "an intact HDF5 file made by MousePack.pack", found: "\(error)")
        }
    }

    private func object(_ rel: String) -> String { rel.hasSuffix(".npy") ? String(rel.dropLast(4)) : rel }

    func exists(_ rel: String) -> Bool {
        lock.lock(); defer { lock.unlock() }
        if rel.isEmpty { return true }
        if rel.hasSuffix(".npy") { return file.kind(of: object(rel)) == .dataset }
        return file.kind(of: rel) == .group
    }

    func isDirectory(_ rel: String) -> Bool {
        lock.lock(); defer { lock.unlock() }
        return rel.isEmpty || file.kind(of: rel) == .group
    }

    func entries(_ rel: String) -> [String] {
        lock.lock(); defer { lock.unlock() }
        guard let group = try? (rel.isEmpty ? file : file.group(rel)), let names = try? group.children() else { return [] }
        return names.map { name in
            let child = rel.isEmpty ? name : rel + "/" + name
            return file.kind(of: child) == .dataset ? name + ".npy" : name
        }
    }

    func readNumeric(_ rel: String, fullPath: String) throws -> LoadedArray {
        lock.lock(); defer { lock.unlock() }
        let ds = try file.dataset(object(rel))
        let values: NumericValues
        let descr: String
        switch ds.elementType {
        case .float(let bytes) where bytes <= 4:
            values = .float(try ds.read(as: Float.self)); descr = "<f\(bytes)"
        case .float(let bytes):
            values = .double(try ds.read(as: Double.self)); descr = "<f\(bytes)"
        case .signedInteger(let bytes), .unsignedInteger(let bytes):
            let kind = ds.elementType.description
            values = bytes <= 2 ? .float(try ds.read(as: Float.self)) : .double(try ds.read(as: Double.self))
            descr = kind
        default:
            throw DataError.npyTypeMismatch(path: fullPath, requested: "numbers", found: ds.elementType.description)
        }
        return LoadedArray(path: fullPath, shape: ds.shape, values: values, descr: descr)
    }

    func readStrings(_ rel: String, fullPath: String) throws -> (shape: [Int], values: [String]) {
        lock.lock(); defer { lock.unlock() }
        let ds = try file.dataset(object(rel))
        guard case .string = ds.elementType else {
            throw DataError.npyTypeMismatch(path: fullPath, requested: "strings", found: ds.elementType.description)
        }
        return (ds.shape, try ds.readStrings())
    }
}

/// Packed mice opened so far, by path; file access of `MouseFiles` is routed to them.
enum MouseStores {
    nonisolated(unsafe) private static var stores: [String: MouseHDF5Store] = [:]
    private static let lock = NSLock()

    /// Opens (once) the packed mouse at `path` when `path` is a regular file; a file replaced or
    /// rewritten since it was opened is opened again.
    static func openIfPacked(_ path: String) throws {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir), !isDir.boolValue else { return }
        lock.lock()
        let known = stores[path]
        lock.unlock()
        if let known, known.identity == MouseHDF5Store.identity(of: path) { return }
        lock.lock(); stores[path] = nil; lock.unlock()
        let store = try MouseHDF5Store(path: path)
        lock.lock(); stores[path] = store; lock.unlock()
    }

    /// Forgets the packed mouse at `path` (its file is closed once no dataset uses it).
    static func close(_ path: String) {
        lock.lock(); stores[path] = nil; lock.unlock()
    }

    static func isPacked(_ root: String) -> Bool {
        lock.lock(); defer { lock.unlock() }
        return stores[root] != nil
    }

    /// The store holding `path` and the path relative to the store's root.
    static func route(_ path: String) -> (MouseHDF5Store, String)? {
        lock.lock(); defer { lock.unlock() }
        if stores.isEmpty { return nil }
        if let s = stores[path] { return (s, "") }
        var prefix = path
        while let slash = prefix.lastIndex(of: "/"), slash > prefix.startIndex {
            prefix = String(prefix[..<slash])
            if let s = stores[prefix] { return (s, String(path.dropFirst(prefix.count + 1))) }
        }
        return nil
    }
}
