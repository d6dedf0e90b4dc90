import Foundation
import SensoriumData

/// DwiseNeuro's optional post-scaling (winners-spec §1.7): predictions multiplied by the response
/// precision `1/std` of the dataset's statistics (`meta/statistics/responses/all/std.npy`), where
/// a std below 1 % of the mean std (or NaN) is replaced by that threshold: the factor SENSORIUM's
/// normalisation multiplies responses by. One factor per neuron, or per neuron and frame when the
/// statistics are per frame `(neurons, T)` (frames beyond `T` take the threshold).
///
/// **What it is for.** A model trained on *raw* responses (DwiseNeuro opens the data without
/// normalisation) predicts raw response levels, while the competition server, the other winners
/// and this SDK's normalised datasets score *precision-normalised* responses. The scaling puts
/// the predictions on the targets' scale; DwiseNeuro's authors report 0.25 → 0.27 on the live
/// leaderboard from it. Per-neuron correlations (ρ_st and ρ_ta as ``Evaluation`` computes them)
/// do not change under a per-neuron factor; what changes are the prediction files
/// (``Predictions``) and any measure that compares levels or pools neurons (Poisson loss, squared
/// error, correlations across neurons). Leave it off for models trained on normalised responses
/// (the baselines, Dynamic-V1FM, ViV1T): they already predict that scale.
public struct PrecisionScaling: Sendable, Equatable {
    /// Neurons.
    public let neurons: Int
    /// Frames of per-frame statistics (nil: one factor per neuron).
    public let frames: Int?
    /// The factors, `(neurons)` or `(neurons, frames)` row-major.
    public let factors: [Float]
    /// The factor of frames without statistics (`1 / threshold`).
    public let fallback: Float

    /// The factors of `dataset`'s response std. Throws when the dataset has none, or one that is
    /// neither `(neurons)` nor `(neurons, T)`.
    public init(dataset: MouseDataset) throws {
        guard let std = dataset.statistics.fields[.responses]?.std else {
            throw SensoriumError.incompatibleData("precision scaling needs the response std of mouse \(dataset.name) (meta/statistics/responses/all/std.npy), which it does not have")
        }
        let n = dataset.neuronCount
        let shape = std.shape.filter { $0 != 1 }
        if std.values.count == n {
            self.init(std: std.values, neurons: n, frames: nil)
        } else if shape.count == 2 && shape[0] == n {
            self.init(std: std.values, neurons: n, frames: shape[1])
        } else {
            throw SensoriumError.incompatibleData("precision scaling needs a response std of shape (\(n)) or (\(n), T) for mouse \(dataset.name), the statistic has shape \(std.shape)")
        }
    }

    /// The factors for stds `(neurons)` or `(neurons, frames)`: `1/std`, with stds below 1 % of
    /// their mean (NaNs ignored in the mean) or NaN replaced by that threshold.
    public init(std: [Float], neurons: Int, frames: Int? = nil) {
        precondition(std.count == neurons * (frames ?? 1), "PrecisionScaling: \(std.count) stds for \(neurons) neurons × \(frames ?? 1) frames")
        var sum = 0.0, count = 0
        for s in std where !s.isNaN { sum += Double(s); count += 1 }
        let threshold = Float(0.01 * (count > 0 ? sum / Double(count) : 0))
        self.neurons = neurons
        self.frames = frames
        factors = std.map { $0 > threshold ? 1 / $0 : 1 / threshold }
        fallback = 1 / threshold
    }

    /// The factor of `neuron` at `frame` of the trial.
    public func factor(neuron: Int, frame: Int) -> Float {
        guard let frames else { return factors[neuron] }
        return frame < frames ? factors[neuron * frames + frame] : fallback
    }

    /// Multiplies time-major predictions `(rows, neurons)` (row-major) whose first row is frame
    /// `firstFrame` of the trial, in place.
    func apply(to values: inout [Float], firstFrame: Int) {
        let n = neurons
        precondition(values.count % n == 0, "PrecisionScaling: \(values.count) values are not rows of \(n) neurons")
        values.withUnsafeMutableBufferPointer { v in
            factors.withUnsafeBufferPointer { f in
                for r in 0..<(v.count / n) {
                    let p = v.baseAddress! + r * n, frame = firstFrame + r
                    if let frames {
                        if frame < frames {
                            for j in 0..<n { p[j] *= f[j * frames + frame] }
                        } else {
                            for j in 0..<n { p[j] *= fallback }
                        }
                    } else {
                        for j in 0..<n { p[j] *= f[j] }
                    }
                }
            }
        }
    }
}
