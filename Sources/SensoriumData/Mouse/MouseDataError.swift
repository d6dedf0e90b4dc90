/// A problem with a mouse folder or one of its files. Every error names the file (or folder),
/// what was expected there and what was found.
public struct MouseDataError: Error, Equatable, Sendable, CustomStringConvertible {
    /// What kind of problem this is (for programmatic checks).
    public enum Kind: String, Sendable, Equatable {
        /// The mouse folder does not exist or is not a directory.
        case missingFolder
        /// A required sub-folder is missing.
        case missingDirectory
        /// A required file is missing.
        case missingFile
        /// A file exists but cannot be read as an array (bad magic, truncated, bad header, ...).
        case unreadableFile
        /// An array has the wrong dtype (for example numbers where strings are expected).
        case wrongDType
        /// An array has the wrong shape or rank.
        case wrongShape
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
        /// A file fails its checksum or its structure contradicts itself (a packed mouse whose
        /// data or metadata checksum does not match, a size larger than the file).
        case corrupted
    }

    /// What kind of problem this is.
    public let kind: Kind
    /// The file or folder concerned.
    public let path: String
    /// What was expected.
    public let expected: String
    /// What was found.
    public let found: String

    /// Creates an error.
    public init(_ kind: Kind, path: String, expected: String, found: String) {
        self.kind = kind
        self.path = path
        self.expected = expected
        self.found = found
    }

    public var description: String { "\(path): expected \(expected), found \(found)" }
}
