#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import SensoriumTensor

extension NPYFile {
    /// Reads the array stored at a file URL; see `read(_:mapping:)`.
    public static func read(_ url: URL, mapping: Mapping = .automatic) throws -> NPYArray {
        try read(url.npyFilePath, mapping: mapping)
    }

    /// Reads the array at a file URL as a Float32 tensor; see `readTensor(_:)`.
    public static func readTensor(_ url: URL) throws -> Tensor {
        try readTensor(url.npyFilePath)
    }

    /// Reads only the header of the file at a URL.
    public static func readHeader(_ url: URL) throws -> NPYHeader {
        try readHeader(url.npyFilePath)
    }

    /// Writes `array` to a file URL; see `write(_:to:version:)`.
    public static func write(_ array: NPYArray, to url: URL, version: NPYVersion = .v1) throws {
        try write(array, to: url.npyFilePath, version: version)
    }

    /// Writes a tensor (float32) to a file URL.
    public static func write(_ tensor: Tensor, to url: URL, version: NPYVersion = .v1) throws {
        try write(tensor, to: url.npyFilePath, version: version)
    }
}

extension NPY {
    /// Reads the array at a file URL.
    public static func read(_ url: URL) throws -> NPYArray { try NPYFile.read(url) }
    /// Reads the array at a file URL as a Float32 tensor.
    public static func readTensor(_ url: URL) throws -> Tensor { try NPYFile.readTensor(url) }
    /// Writes `tensor` to a file URL as float32.
    public static func write(_ tensor: Tensor, to url: URL) throws { try NPYFile.write(tensor, to: url) }
    /// Writes `array` to a file URL.
    public static func write(_ array: NPYArray, to url: URL) throws { try NPYFile.write(array, to: url) }
}

extension URL {
    /// The file-system path of a file URL.
    var npyFilePath: String {
        withUnsafeFileSystemRepresentation { $0.map { String(cString: $0) } ?? "" }
    }
}
