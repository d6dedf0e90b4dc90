// The differentiable correlation term of ViV1T's training loss (`poisson_correlation`).
//
// One fused operation: two passes over the data in Double give every neuron's means, spreads and
// covariance; the backward pass is one more pass with two per-neuron coefficients. No temporaries of
// the data's size are allocated beyond the gradient itself.

public import SensoriumTensor

/// Pearson correlation of `output` with `target` for every neuron (the last axis), over all other
/// axes (samples), as ViV1T's `correlation(y1, y2, dim=0, eps)` on `'b n t -> (b t) n'` data:
/// each variable is centred and divided by (population std + `eps`), and the products averaged.
///
/// - Parameters:
///   - output: predictions (…, neurons); receives gradients.
///   - target: responses, same shape; treated as a constant.
///   - eps: added to each standard deviation (ViV1T: float32 machine epsilon, 1.19e-7).
/// - Returns: (neurons). A neuron whose prediction is constant gets correlation 0 and, there, the
///   gradient of the covariance term only.
public func perNeuronCorrelation(_ output: Tensor, target: Tensor, eps: Float = Float.ulpOfOne) -> Tensor {
    precondition(output.shape == target.shape && output.rank >= 1,
                 "perNeuronCorrelation: output \(output.shape) and target \(target.shape) must have the same shape, rank ≥ 1")
    let neurons = output.shape[output.rank - 1]
    let rows = neurons == 0 ? 0 : output.count / neurons
    precondition(rows > 0, "perNeuronCorrelation: no samples in shape \(output.shape)")
    let y = output.storage.pointer, t = target.storage.pointer
    var meanY = [Double](repeating: 0, count: neurons), meanT = meanY
    for r in 0..<rows {
        let yr = y + r * neurons, tr = t + r * neurons
        for n in 0..<neurons {
            meanY[n] += Double(yr[n])
            meanT[n] += Double(tr[n])
        }
    }
    let m = Double(rows)
    for n in 0..<neurons { meanY[n] /= m; meanT[n] /= m }
    var syy = [Double](repeating: 0, count: neurons), stt = syy, syt = syy
    for r in 0..<rows {
        let yr = y + r * neurons, tr = t + r * neurons
        for n in 0..<neurons {
            let dy = Double(yr[n]) - meanY[n], dt = Double(tr[n]) - meanT[n]
            syy[n] += dy * dy
            stt[n] += dt * dt
            syt[n] += dy * dt
        }
    }
    let e = Double(eps)
    let out = Tensor(uninitializedShape: [neurons])
    // d corr_n / d y_m = a_n (t_m − t̄_n) − b_n (y_m − ȳ_n)
    var a = [Double](repeating: 0, count: neurons), b = a
    for n in 0..<neurons {
        let sy = (syy[n] / m).squareRoot(), st = (stt[n] / m).squareRoot(), cov = syt[n] / m
        let denominator = (sy + e) * (st + e)
        out.storage.pointer[n] = Float(cov / denominator)
        a[n] = 1 / (m * denominator)
        b[n] = sy > 0 ? cov / (denominator * (sy + e)) / (m * sy) : 0
    }
    return Tensor.recordOperation("perNeuronCorrelation", result: out, inputs: [output]) { g in
        // The pointers are taken again here so that the closure keeps both tensors alive (the
        // target is often a temporary of the caller, such as a cropped copy).
        let y = output.storage.pointer, t = target.storage.pointer
        let gy = Tensor(uninitializedShape: output.shape)
        let gp = g.storage.pointer, dst = gy.storage.pointer
        let ca = (0..<neurons).map { Double(gp[$0]) * a[$0] }, cb = (0..<neurons).map { Double(gp[$0]) * b[$0] }
        for r in 0..<rows {
            let yr = y + r * neurons, tr = t + r * neurons, o = dst + r * neurons
            for n in 0..<neurons {
                o[n] = Float(ca[n] * (Double(tr[n]) - meanT[n]) - cb[n] * (Double(yr[n]) - meanY[n]))
            }
        }
        return [gy]
    }
}

/// ViV1T's correlation loss term: `Σ_n (1 − corr_n)` with corr from
/// ``perNeuronCorrelation(_:target:eps:)`` over all samples of each neuron (the last axis). The
/// recipe adds it, times 1000, to the summed Poisson loss. Returns a scalar, differentiable in `output`.
public func correlationLoss(_ output: Tensor, target: Tensor, eps: Float = Float.ulpOfOne) -> Tensor {
    (1 - perNeuronCorrelation(output, target: target, eps: eps)).sum()
}
