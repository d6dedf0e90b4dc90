import Foundation
import SensoriumData

/// DwiseNeuro's optional post-scaling (winners-spec §1.7): predictions multiplied per neuron by
/// the response precision `1/std_n` of the dataset's statistics
/// (`meta/statistics/responses/all/std.npy`), where a `std_n` below 1 % of the mean std (or NaN)
/// is replaced by that threshold: the factor SENSORIUM's normalisation multiplies responses by.
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
public enum PrecisionScaling {
    /// The per-neuron factors `1/max(std_n, 0.01 · mean std)` of `dataset` (NaN stds use the
    /// threshold; the mean ignores NaNs), in neuron order. Throws when the dataset has no response
    /// std, or one that is not one value per neuron.
    public static func factors(for dataset: MouseDataset) throws -> [Float] {
        guard let std = dataset.statistics.fields[.responses]?.std else {
            throw SensoriumError.incompatibleData("precision scaling needs the response std of mouse \(dataset.name) (meta/statistics/responses/all/std.npy), which it does not have")
        }
        guard std.values.count == dataset.neuronCount else {
            throw SensoriumError.incompatibleData("precision scaling needs one response std per neuron of mouse \(dataset.name) (\(dataset.neuronCount)), the statistic has shape \(std.shape)")
        }
        return factors(std: std.values)
    }

    /// The factors for per-neuron stds: `1/std_n`, with stds below 1 % of their mean (NaNs
    /// ignored in the mean) or NaN replaced by that threshold.
    public static func factors(std: [Float]) -> [Float] {
        var sum = 0.0, count = 0
        for s in std where !s.isNaN { sum += Double(s); count += 1 }
        let threshold = Float(0.01 * (count > 0 ? sum / Double(count) : 0))
        return std.map { $0 > threshold ? 1 / $0 : 1 / threshold }
    }

    /// Multiplies time-major predictions `(frames, neurons)` (row-major) by `factors` in place.
    static func apply(_ factors: [Float], to values: inout [Float]) {
        let n = factors.count
        precondition(n > 0 && values.count % n == 0, "PrecisionScaling: \(values.count) values are not rows of \(n) neurons")
        values.withUnsafeMutableBufferPointer { v in
            factors.withUnsafeBufferPointer { f in
                for row in 0..<(v.count / n) {
                    let r = v.baseAddress! + row * n
                    for j in 0..<n { r[j] *= f[j] }
                }
            }
        }
    }
}
