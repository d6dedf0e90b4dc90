import SensoriumLayers

/// The one error type of the `Sensorium` product: why a model could not be built, loaded, run,
/// evaluated or reported, or why a configuration, run folder or report file cannot be used.
/// Every message names the file or configuration, what was expected and what was found.
public enum SensoriumError: Error, CustomStringConvertible, Equatable {
    /// A configuration file or string that cannot be used.
    case invalidConfiguration(source: String, message: String)
    /// The data does not fit the model (channels, mice, trial lengths).
    case incompatibleData(String)
    /// A state dictionary (PyTorch folder or checkpoint) that does not fit the model.
    case incompatibleState(source: String, message: String)
    /// A file or folder that could not be read or written.
    case file(path: String, message: String)
    /// The model predicts fewer frames than the scored window of a trial needs.
    case predictionTooShort(mouse: String, trial: Int, frames: Int, predicted: Int, skipFrames: Int)
    /// A trial too short for the model to predict anything.
    case trialTooShort(mouse: String, trial: Int, frames: Int, needed: Int)
    /// The model returned predictions of the wrong shape.
    case wrongPredictionShape(mouse: String, trial: Int, shape: [Int], expected: String)
    /// Evaluation or prediction options that cannot be used.
    case invalidOptions(String)

    public var description: String {
        switch self {
        case let .invalidConfiguration(source, message):
            return "configuration \(source): \(message)"
        case let .incompatibleData(message):
            return "model and data do not fit: \(message)"
        case let .incompatibleState(source, message):
            return "model state \(source): \(message)"
        case let .file(path, message):
            return "\(path): \(message)"
        case let .invalidOptions(message):
            return "evaluation options: \(message)"
        case let .predictionTooShort(mouse, trial, frames, predicted, skip):
            return "mouse \(mouse), trial \(trial): the model predicts \(predicted) of \(frames) frames, fewer than the \(frames - skip) frames scored after skipping \(skip); its burn-in must not exceed \(skip) frames"
        case let .trialTooShort(mouse, trial, frames, needed):
            return "mouse \(mouse), trial \(trial): \(frames) frames, the model needs at least \(needed)"
        case let .wrongPredictionShape(mouse, trial, shape, expected):
            return "mouse \(mouse), trial \(trial): the model returned predictions of shape \(shape), expected \(expected)"
        }
    }

    /// A readable message for any error met while reading a file: decoding errors with their key
    /// path, others as they describe themselves.
    static func describe(_ error: Error) -> String {
        (error as? DecodingError).map(describeDecodingError) ?? "\(error)"
    }
}
