/// The one error type of the `SensoriumData` product: a problem with a mouse folder, a packed
/// mouse, an `.npy` file or an HDF5 file. Every error names the file (or folder), the object
/// inside it where there is one, what was expected there and what was found.
///
/// ```swift
/// throw DataError(.inconsistent, path: folder, expected: "100 neurons in every trial", found: "99 in 3.npy")
/// ```
public struct DataError: Error, Equatable, Sendable, CustomStringConvertible {
    /// What kind of problem this is (for programmatic checks).
    public enum Kind: String, Sendable, Equatable, CaseIterable {
        // Folders and files.
        /// The mouse folder does not exist or is not a directory.
        case missingFolder
        /// A required sub-folder is missing.
        case missingDirectory
        /// A required file is missing (a mouse file, an `.npy` file, an HDF5 file).
        case missingFile
        /// A group, dataset or attribute inside an HDF5 file does not exist.
        case missingObject
        /// Creating a file or HDF5 object that already exists.
        case alreadyExists
        /// A file exists but cannot be read as an array (a mouse file whose codec refused it; the
        /// found text carries the codec's reason).
        case unreadableFile

        // File formats.
        /// Not a file of the expected format: no `\x93NUMPY` magic, no HDF5 signature, or an
        /// unsupported format version.
        case wrongFormat
        /// An `.npy` header dictionary that cannot be parsed or lacks a required key.
        case malformedHeader
        /// The file ends before its header or data does.
        case truncated
        /// The data section is longer than the header's shape needs.
        case sizeMismatch
        /// A dtype this reader does not support (structured, complex, object, ...).
        case unsupportedDType
        /// The array or object has the wrong type for the request (numbers where strings are
        /// expected, a group read as a dataset, ...).
        case wrongDType
        /// An array has the wrong shape or rank, or a selection is outside the shape.
        case wrongShape
        /// An element does not fit the requested type.
        case valueOutOfRange
        /// Invalid arguments given to a writer or constructor.
        case invalidArgument
        /// A system call or libhdf5 call failed (the found text carries the reason).
        case callFailed

        // Mouse folders.
        /// An array holds a value that is not allowed (unknown tier, NaN coordinate, ...).
        case invalidValue
        /// Files of the folder disagree with each other (file counts, neuron counts, ...).
        case inconsistent
        /// A trial index outside `0..<trialCount`.
        case trialOutOfRange
        /// A trial is too short for the requested clip length.
        case trialTooShort
        /// Writing a file failed.
        case writeFailed
        /// A file fails its checksum or its structure contradicts itself (a metadata or data
        /// checksum that does not match, a size larger than the file could hold).
        case corrupted
    }

    /// What kind of problem this is.
    public let kind: Kind
    /// The file or folder concerned.
    public let path: String
    /// The object inside the file (an HDF5 path such as `/data/videos`, attributes appended as
    /// `@name`), or `nil` when the error concerns the whole file or folder.
    public let object: String?
    /// The system or libhdf5 call that failed or refused (`open`, `H5Dread`, ...), or `nil`.
    public let operation: String?
    /// What was expected.
    public let expected: String
    /// What was found.
    public let found: String

    /// Creates an error about `path` (and `object` inside it, if given).
    public init(_ kind: Kind, path: String, object: String? = nil, operation: String? = nil,
                expected: String, found: String) {
        self.kind = kind
        self.path = path
        self.object = object
        self.operation = operation
        self.expected = expected
        self.found = found
    }

    /// `path[:object]: expected …, found …[ (operation)]`.
    public var description: String {
        let location = path + (object.map { ":" + $0 } ?? "")
        return "\(location): expected \(expected), found \(found)" + (operation.map { " (\($0))" } ?? "")
    }
}
