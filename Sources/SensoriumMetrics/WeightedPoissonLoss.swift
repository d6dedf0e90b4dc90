// The Poisson loss with a weight per sample and neuron (DwiseNeuro's masked, distilled loss).

public import SensoriumTensor
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The weighted Poisson negative log-likelihood `Σ_{b,t,n} w[b,n] · (output − target · log(output + eps))`
/// of rates `output` `(B, T', N)` against `target` `(B, T, N)` (`T ≥ T'`: the output is aligned
/// with the last `T'` target frames, as ``poissonLoss3d(_:target:eps:reduction:perNeuron:)``), with
/// weights `(B, 1, N)` that are the same for every frame.
///
/// Entries of weight 0 are skipped: they add nothing (even when their target or output is NaN or
/// infinite) and their gradient is exactly 0, so a sample's loss can be restricted to its own
/// mouse's neurons in a batch that holds the responses of several mice. The gradient with respect
/// to `output` is `w · (1 − target / (output + eps))`; `target` and `weights` are constants.
/// The sum is accumulated in Double. Returns a zero-dimensional scalar.
public func weightedPoissonLoss3d(_ output: Tensor, target: Tensor, weights: Tensor,
                                  eps: Float = Float(PoissonLossDefaults.trainerEps)) -> Tensor {
    let op = "weightedPoissonLoss3d"
    precondition(output.rank == 3 && target.rank == 3 && target.shape[0] == output.shape[0]
                 && target.shape[2] == output.shape[2] && target.shape[1] >= output.shape[1],
                 "\(op): output \(output.shape) must be (B, T', N) and target \(target.shape) (B, T ≥ T', N)")
    precondition(weights.shape == [output.shape[0], 1, output.shape[2]],
                 "\(op): weights \(weights.shape) must be (B, 1, N) for output \(output.shape)")
    let b = output.shape[0], tp = output.shape[1], n = output.shape[2], t = target.shape[1]
    let rows = b * tp, lag = t - tp
    let po = output.storage.pointer, pt = target.storage.pointer, pw = weights.storage.pointer
    // Row r = (sample s, output frame k): output row r, target row s·T + lag + k, weights row s.
    let chunks = max(1, min(Parallel.threadCount * 4, rows))
    var partial = [Double](repeating: 0, count: chunks)
    partial.withUnsafeMutableBufferPointer { part in
        let p = part.baseAddress!
        Parallel.forRanges(chunks, minimumPerThread: 1) { range in
            for c in range {
                var acc = 0.0
                for r in (rows * c / chunks)..<(rows * (c + 1) / chunks) {
                    let s = r / max(tp, 1), k = r - s * tp
                    let o = po + r * n, y = pt + (s * t + lag + k) * n, w = pw + s * n
                    for j in 0..<n where w[j] != 0 {
                        acc += Double(w[j]) * Double(o[j] - y[j] * logf(o[j] + eps))
                    }
                }
                p[c] = acc
            }
        }
    }
    let result = Tensor([Float(partial.reduce(0, +))], shape: [])
    return Tensor.recordOperation(op, result: result, inputs: [output, target, weights]) { g in
        let grad = Tensor(uninitializedShape: output.shape)
        let d = grad.storage.pointer, gs = g.storage.pointer[0]
        Parallel.forRanges(rows, minimumPerThread: max(1, 16_384 / max(n, 1))) { range in
            for r in range {
                let s = r / max(tp, 1), k = r - s * tp
                let o = po + r * n, y = pt + (s * t + lag + k) * n, w = pw + s * n, dr = d + r * n
                for j in 0..<n {
                    dr[j] = w[j] == 0 ? 0 : gs * w[j] * (1 - y[j] / (o[j] + eps))
                }
            }
        }
        return [grad, nil, nil]
    }
}
