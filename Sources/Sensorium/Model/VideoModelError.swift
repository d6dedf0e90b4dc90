/// Why a ``VideoModel`` could not be built, loaded or run on some data.
public enum VideoModelError: Error, CustomStringConvertible, Equatable {
    /// A configuration file or string that cannot be used.
    case invalidConfiguration(source: String, message: String)
    /// The data does not fit the model (channels, mice, trial lengths).
    case incompatibleData(String)
    /// A state dictionary (PyTorch folder or checkpoint) that does not fit the model.
    case incompatibleState(source: String, message: String)
    /// A file that could not be read or written.
    case file(path: String, message: String)

    public var description: String {
        switch self {
        case let .invalidConfiguration(source, message):
            return "model configuration \(source): \(message)"
        case let .incompatibleData(message):
            return "model and data do not fit: \(message)"
        case let .incompatibleState(source, message):
            return "model state \(source): \(message)"
        case let .file(path, message):
            return "\(path): \(message)"
        }
    }
}
