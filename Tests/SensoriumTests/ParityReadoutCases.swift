import Foundation
import Sensorium
import SensoriumTestSupport

/// The readout and shifter parity cases, mapped onto the SDK's readout ops.
extension ParityCase {
    /// `full_gaussian2d`: x (N,C,H,W), mu (1,n,1,2), sigma (1,n,2,2 | 1,n,1,2 | 1,n,1,1),
    /// features (1,C,1,n), bias (n), optional shift (N,2) and noise (N,n,1,2).
    func fullGaussian2dCase(_ t: [String: Tensor]) throws -> Tensor {
        guard let x = t["x"], let mu = t["mu"], let sigma = t["sigma"], let features = t["features"] else {
            throw FixtureError.malformed("full_gaussian2d: x, mu, sigma and features are required")
        }
        let batch = x.shape[0], neurons = mu.shape[1]
        // Grid positions (N, n, 1, 2): mu in eval; mu + sigma · noise in training.
        var grid = mu.expanded(to: [batch, neurons, 1, 2])
        if (params["mode"] as? String) == "train_with_noise" {
            guard let noise = t["noise"] else { throw FixtureError.malformed("full_gaussian2d: train_with_noise needs noise") }
            switch params["gauss_type"] as? String ?? "full" {
            case "full":
                // grid[m,n,0,c] = sum_d sigma[0,n,c,d] * noise[m,n,0,d] + mu
                let s = sigma.reshaped([1, neurons, 2, 2])
                let z = noise.reshaped([batch, neurons, 1, 2])
                grid = (s * z).sum(axis: 3).reshaped([batch, neurons, 1, 2]) + mu
            default:
                grid = noise * sigma + mu
            }
        }
        grid = grid.clamped(min: -1, max: 1)
        if let shift = t["shift"] { grid = grid + shift.reshaped([batch, 1, 1, 2]) }
        let sampled = gridSample(x, grid: grid, paddingMode: .zeros, alignCorners: true)   // (N, C, n, 1)
        let channels = x.shape[1]
        var out = (sampled.reshaped([batch, channels, neurons]) * features.reshaped([1, channels, neurons])).sum(axis: 1)
        if let bias = t["bias"] { out = out + bias }
        return out
    }

    /// `mlp_shifter`: Linear + Tanh layers, parameters `mlp_<index>_weight|bias`.
    func mlpShifterCase(_ t: [String: Tensor]) throws -> Tensor {
        guard var h = t["pupil_center"] else { throw FixtureError.malformed("mlp_shifter: pupil_center missing") }
        let layers = Int((params["shift_layers"] as? NSNumber)?.intValue ?? 0)
        for layer in 0..<layers {
            guard let w = t["mlp_\(2 * layer)_weight"] else { throw FixtureError.malformed("mlp_shifter: mlp_\(2 * layer)_weight missing") }
            h = linear(h, weight: w, bias: t["mlp_\(2 * layer)_bias"]).tanh()
        }
        return h
    }
}
