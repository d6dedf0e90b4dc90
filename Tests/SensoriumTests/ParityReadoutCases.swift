import Foundation
import Sensorium
import SensoriumTestSupport

/// The readout and shifter parity cases, run through the SDK's modules: `FullGaussian2d` (with the
/// fused sample-and-dot op) and `MLPShifter`, holding the fixture's tensors as their parameters so
/// that the suite's gradient checks see the modules' gradients.
extension ParityCase {
    /// `full_gaussian2d`: x (N,C,H,W), mu (1,n,1,2), sigma (1,n,2,2 | 1,n,1,2 | 1,n,1,1),
    /// features (1,C,1,n), bias (n), optional shift (N,2) and noise (N,n,1,2).
    func fullGaussian2dCase(_ t: [String: Tensor]) throws -> Tensor {
        guard let x = t["x"], let mu = t["mu"], let sigma = t["sigma"], let features = t["features"] else {
            throw FixtureError.malformed("full_gaussian2d: x, mu, sigma and features are required")
        }
        let typeName = params["gauss_type"] as? String ?? "full"
        guard let covariance = GaussianCovariance(rawValue: typeName) else {
            throw FixtureError.malformed("full_gaussian2d: unknown gauss_type \(typeName)")
        }
        let alignCorners = (params["align_corners"] as? NSNumber)?.boolValue ?? true
        let batch = x.shape[0], neurons = mu.shape[1]
        let readout = FullGaussian2d(inputChannels: x.shape[1], neuronCount: neurons, covariance: covariance,
                                     positions: .free(), bias: t["bias"] != nil, alignCorners: alignCorners,
                                     generator: RandomGenerator(seed: 0))
        // The module's parameters become the fixture's tensors (same keys and shapes as the reference).
        readout.freePositions = mu
        readout.sigma = sigma
        readout.featureWeights = features
        if let bias = t["bias"] { readout.bias = bias }
        let noise: Tensor?
        switch params["mode"] as? String ?? "eval" {
        case "eval":
            readout.eval()
            noise = nil
        case "train_with_noise":
            readout.train()
            guard let n = t["noise"] else { throw FixtureError.malformed("full_gaussian2d: train_with_noise needs noise") }
            noise = n.reshaped([batch, neurons, 2])
        case let other:
            throw FixtureError.malformed("full_gaussian2d: unknown mode \(other)")
        }
        return readout.predictFrames(x, shift: t["shift"], noise: noise)
    }

    /// `mlp_shifter`: Linear + Tanh layers, parameters `mlp_<index>_weight|bias`.
    func mlpShifterCase(_ t: [String: Tensor]) throws -> Tensor {
        guard let pupil = t["pupil_center"] else { throw FixtureError.malformed("mlp_shifter: pupil_center missing") }
        let layers = Int((params["shift_layers"] as? NSNumber)?.intValue ?? 0)
        var linears: [Linear] = []
        for layer in 0..<layers {
            guard let w = t["mlp_\(2 * layer)_weight"] else {
                throw FixtureError.malformed("mlp_shifter: mlp_\(2 * layer)_weight missing")
            }
            linears.append(Linear(weight: w, bias: t["mlp_\(2 * layer)_bias"]))
        }
        let shifter = MLPShifter(linearLayers: linears)
        // The module's keys are the reference's (`mlp.0.weight`, ...).
        let keys = shifter.namedParameters().map(\.path)
        let expected = (0..<layers).flatMap { ["mlp.\(2 * $0).weight"] + (t["mlp_\(2 * $0)_bias"] != nil ? ["mlp.\(2 * $0).bias"] : []) }
        guard keys == expected else { throw FixtureError.malformed("mlp_shifter: module keys \(keys), expected \(expected)") }
        return shifter(pupil)
    }
}
