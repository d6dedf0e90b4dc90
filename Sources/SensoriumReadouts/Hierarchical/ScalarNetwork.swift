import SensoriumTensor

/// A one-hidden-layer network applied to every element of `x` on its own:
/// `out = Σ_j outputWeight[j] · ELU(inputWeight[j] · x + inputBias[j])`.
///
/// This is what the refinement of the hierarchical readout computes (`Conv1d(1, h, 1)`, `ELU`,
/// `Conv1d(h, 1, 1, bias: false)` over a one-channel sequence), fused so that the
/// (elements × h) hidden activations are never stored.
///
/// - Parameters:
///   - x: any shape.
///   - inputWeight, inputBias, outputWeight: (h) each.
/// - Returns: the shape of `x`. Differentiable in every argument.
public func scalarNetwork(_ x: Tensor, inputWeight: Tensor, inputBias: Tensor, outputWeight: Tensor) -> Tensor {
    let hidden = inputWeight.count
    precondition(inputWeight.rank == 1 && inputBias.shape == [hidden] && outputWeight.shape == [hidden],
                 "scalarNetwork: weights must be (h) each, got inputWeight \(inputWeight.shape), inputBias \(inputBias.shape), outputWeight \(outputWeight.shape)")
    let count = x.count
    let out = Tensor(uninitializedShape: x.shape)
    let xp = x.storage.pointer, op = out.storage.pointer
    let a = inputWeight.storage.pointer, b = inputBias.storage.pointer, c = outputWeight.storage.pointer
    Parallel.forRanges(count, minimumPerThread: max(1, 32_768 / max(1, hidden))) { range in
        for i in range {
            let v = xp[i]
            var s: Float = 0
            for j in 0..<hidden {
                let z = a[j] * v + b[j]
                s += c[j] * (z > 0 ? z : expm1f(z))
            }
            op[i] = s
        }
    }
    return Tensor.recordOperation("scalarNetwork", result: out, inputs: [x, inputWeight, inputBias, outputWeight]) { g in
        let needX = x.requiresGrad
        let needParameters = inputWeight.requiresGrad || inputBias.requiresGrad || outputWeight.requiresGrad
        let gx: Tensor? = needX ? Tensor(uninitializedShape: x.shape) : nil
        let chunks = needParameters ? max(1, min(Parallel.threadCount, count / max(1, 32_768 / max(1, hidden)))) : 1
        // Per chunk: d inputWeight, d inputBias, d outputWeight.
        let partial = Tensor.zeros([chunks, 3, hidden])
        let gp = g.storage.pointer, gxp = gx?.storage.pointer, pp = partial.storage.pointer
        Parallel.forRanges(chunks, minimumPerThread: 1) { range in
            for k in range {
                let da = pp + k * 3 * hidden, db = da + hidden, dc = db + hidden
                for i in (count * k / chunks)..<(count * (k + 1) / chunks) {
                    let v = xp[i], gv = gp[i]
                    var dx: Float = 0
                    for j in 0..<hidden {
                        let z = a[j] * v + b[j]
                        let e = z > 0 ? z : expm1f(z)
                        let slope: Float = z > 0 ? 1 : e + 1
                        let back = gv * c[j] * slope
                        dx += back * a[j]
                        if needParameters {
                            da[j] += back * v
                            db[j] += back
                            dc[j] += gv * e
                        }
                    }
                    gxp?[i] = dx
                }
            }
        }
        var grads: [Tensor?] = [gx, nil, nil, nil]
        if needParameters {
            let total = Tensor.zeros([3, hidden])
            let tp = total.storage.pointer
            for k in 0..<chunks {
                for i in 0..<(3 * hidden) { tp[i] += pp[k * 3 * hidden + i] }
            }
            if inputWeight.requiresGrad { grads[1] = total.sliced(axis: 0, range: 0..<1).reshaped([hidden]) }
            if inputBias.requiresGrad { grads[2] = total.sliced(axis: 0, range: 1..<2).reshaped([hidden]) }
            if outputWeight.requiresGrad { grads[3] = total.sliced(axis: 0, range: 2..<3).reshaped([hidden]) }
        }
        return grads
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
