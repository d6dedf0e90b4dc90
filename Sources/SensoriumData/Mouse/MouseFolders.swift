import Foundation

/// Finds mouse folders (SENSORIUM 2023 layout: `data/` and `meta/`) from paths given by a user:
/// each path is a mouse folder itself or a folder holding mouse folders. A mouse packed into one
/// HDF5 file (`MousePack`, extension `.h5` or `.hdf5`) counts as a mouse folder.
public enum MouseFolders {
    /// Whether `path` names a packed mouse file (by its extension).
    public static func isMouseFile(_ path: String) -> Bool {
        let ext = (path as NSString).pathExtension.lowercased()
        var isDirectory: ObjCBool = false
        return (ext == "h5" || ext == "hdf5") && FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
            && !isDirectory.boolValue
    }

    /// Whether `path` looks like a mouse folder (has `data/` or `meta/`).
    public static func isMouseFolder(_ path: String) -> Bool {
        var isDirectory: ObjCBool = false
        let fm = FileManager.default
        for sub in ["data", "meta"] {
            if fm.fileExists(atPath: (path as NSString).appendingPathComponent(sub), isDirectory: &isDirectory), isDirectory.boolValue {
                return true
            }
        }
        return false
    }

    /// The mouse folders directly inside `path`, sorted by name.
    public static func children(of path: String) -> [String] {
        let fm = FileManager.default
        guard let names = try? fm.contentsOfDirectory(atPath: path) else { return [] }
        return names.sorted().map { (path as NSString).appendingPathComponent($0) }.filter { isMouseFolder($0) || isMouseFile($0) }
    }

    /// Expands `paths` into mouse folders: a mouse folder stays, a folder of mouse folders becomes
    /// its children. Throws `DataError` naming a path that does not exist or holds no mouse
    /// folder, and when the same mouse (folder name) appears twice.
    public static func resolve(_ paths: [String]) throws -> [String] {
        guard !paths.isEmpty else {
            throw DataError(.missingFolder, path: "(no data path given)", expected: "at least one mouse folder", found: "none")
        }
        var result: [String] = []
        var names: [String: String] = [:]
        for raw in paths {
            let path = (raw as NSString).expandingTildeInPath
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                throw DataError(.missingFolder, path: path, expected: "a mouse folder or a folder of mouse folders", found: "nothing")
            }
            guard isDirectory.boolValue || isMouseFile(path) else {
                throw DataError(.missingFolder, path: path, expected: "a mouse folder, a packed mouse (.h5) or a folder of mouse folders",
                                     found: "a file")
            }
            let found = isMouseFolder(path) || isMouseFile(path) ? [path] : children(of: path)
            guard !found.isEmpty else {
                throw DataError(.missingFolder, path: path, expected: "a mouse folder (with data/ and meta/) or a folder of mouse folders",
                                     found: "a folder without any")
            }
            for folder in found {
                let name = ((folder as NSString).lastPathComponent as NSString).deletingPathExtension
                if let previous = names[name] {
                    throw DataError(.invalidValue, path: folder, expected: "each mouse once",
                                         found: "mouse \(name) also at \(previous)")
                }
                names[name] = folder
                result.append(folder)
            }
        }
        return result
    }
}
