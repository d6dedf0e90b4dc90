/// How a mouse's video frames are normalised with the `meta/statistics/videos/all` statistics, per
/// pixel and frame index (``MouseDataOptions/videoNormalization``).
public enum VideoNormalization: String, Codable, Sendable, CaseIterable {
    /// `(x − mean) / std`: the SENSORIUM reference (`NeuroNormalizer`). The default.
    case standard
    /// `(x − min) / (max − min)`: ViV1T's `transform_mode` 2 as intended (its behaviour and pupil
    /// centre scaling).
    case minMax
    /// `(x − mean) / (std − mean)`: what ViV1T's released code computes for `transform_mode` 2 (it
    /// reads the mean and std statistics where min and max were meant). Only for bit-parity with
    /// models trained by that code.
    case viv1tMeanStd
}
