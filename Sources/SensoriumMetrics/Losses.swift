// Differentiable training losses.
//
// The Poisson loss is one fused operation recorded with `Tensor.recordOperation` rather than a
// composition of the core's `log`, `*`, `-` and `sum` (which it matches; see the tests): the fused form
// allocates no temporaries, accumulates the reduction in Double, crops the target of
// `poissonLoss3d` without copying, and has the simple gradient `1 − target / (output + eps)`.

public import SensoriumTensor
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How a loss reduces its elementwise terms.
public enum LossReduction: String, Sendable, Codable {
    /// Sum of the terms (`neuralpredictors` `avg=False`, what the SENSORIUM trainers use).
    case sum
    /// Mean of the terms (`avg=True`).
    case mean
}

/// The Poisson negative log-likelihood (up to a target-only constant) of `target` under rates
/// `output`: `output − target · log(output + eps)`, reduced over all elements, as
/// `neuralpredictors` `PoissonLoss(bias: eps, per_neuron:, avg:)`.
///
/// - Parameters:
///   - output: predicted rates (positive), any shape; receives gradients.
///   - target: observed responses, same shape; treated as a constant (no gradient).
///   - eps: added to `output` inside the log.
///   - reduction: `.sum` (default) or `.mean`.
///   - perNeuron: when true, reduce over every axis but the last (neurons), giving shape `[neurons]`;
///     otherwise a zero-dimensional scalar.
public func poissonLoss(_ output: Tensor, target: Tensor, eps: Float = PoissonLossDefaults.neuralpredictorsEps,
                        reduction: LossReduction = .sum, perNeuron: Bool = false) -> Tensor {
    precondition(output.shape == target.shape,
                 "poissonLoss: output shape \(output.shape) and target shape \(target.shape) differ")
    return PoissonKernel(output: output, target: target, targetLag: 0, eps: eps, reduction: reduction,
                         perNeuron: perNeuron, op: "poissonLoss").run()
}

/// `poissonLoss` for outputs shorter in time than their targets, as `neuralpredictors`
/// `PoissonLoss3d`: axis 1 is time, and when `target` has `lag` more frames than `output` there, its
/// first `lag` frames are dropped (so `output` is aligned with the end of `target`). All other axes
/// must match.
public func poissonLoss3d(_ output: Tensor, target: Tensor, eps: Float = PoissonLossDefaults.neuralpredictorsEps,
                          reduction: LossReduction = .sum, perNeuron: Bool = false) -> Tensor {
    let op = "poissonLoss3d"
    precondition(output.rank >= 2 && output.rank == target.rank,
                 "\(op): output \(output.shape) and target \(target.shape) need the same rank, at least 2")
    var aligned = target.shape
    aligned[1] = output.shape[1]
    precondition(aligned == output.shape && target.shape[1] >= output.shape[1],
                 "\(op): target \(target.shape) does not match output \(output.shape) apart from having at least as many frames on axis 1")
    return PoissonKernel(output: output, target: target, targetLag: target.shape[1] - output.shape[1], eps: eps,
                         reduction: reduction, perNeuron: perNeuron, op: op).run()
}

/// The fused Poisson loss: output elements are visited as `blocks` contiguous runs of `blockLength`
/// (one per index of axis 0 when the target is longer in time, else a single run), each paired with
/// the run of `target` starting `targetLag` frames in.
private struct PoissonKernel {
    let output: Tensor
    let target: Tensor
    let eps: Float
    let reduction: LossReduction
    let perNeuron: Bool
    let op: String
    let blocks: Int
    let blockLength: Int
    let targetBlockStride: Int
    let targetOffset: Int
    let neurons: Int

    init(output: Tensor, target: Tensor, targetLag: Int, eps: Float, reduction: LossReduction, perNeuron: Bool, op: String) {
        precondition(!perNeuron || output.rank >= 1, "\(op): perNeuron needs at least one axis, got shape \(output.shape)")
        self.output = output
        self.target = target
        self.eps = eps
        self.reduction = reduction
        self.perNeuron = perNeuron
        self.op = op
        if targetLag == 0 || output.shape[0] == 0 {
            blocks = 1; blockLength = output.count; targetBlockStride = 0; targetOffset = 0
        } else {
            blocks = output.shape[0]
            blockLength = output.count / output.shape[0]
            targetBlockStride = target.count / target.shape[0]
            let inner = output.rank >= 2 ? output.shape[2...].reduce(1, *) : 1
            targetOffset = targetLag * inner
        }
        neurons = perNeuron ? output.shape[output.rank - 1] : 1
    }

    /// Number of elementwise terms per reduced value.
    var termsPerValue: Int { perNeuron ? (neurons == 0 ? 0 : output.count / neurons) : output.count }

    func run() -> Tensor {
        let n = neurons
        let sums = perNeuron ? reducePerNeuron() : [reduceAll()]
        let scale = reduction == .mean ? 1 / Double(termsPerValue) : 1  // 0 terms: NaN mean, like PyTorch
        let result = Tensor(sums.map { Float($0 * scale) }, shape: perNeuron ? [n] : [])
        let (output, target, eps, blocks, blockLength, targetBlockStride, targetOffset) =
            (self.output, self.target, self.eps, self.blocks, self.blockLength, self.targetBlockStride, self.targetOffset)
        let gradScale = Float(scale)
        return Tensor.recordOperation(op, result: result, inputs: [output, target]) { g in
            let grad = Tensor(uninitializedShape: output.shape)
            let po = output.storage.pointer, pt = target.storage.pointer, pg = g.storage.pointer
            let dst = grad.storage.pointer
            for b in 0..<blocks {
                let o = po + b * blockLength, t = pt + b * targetBlockStride + targetOffset, d = dst + b * blockLength
                Parallel.forRanges(blockLength) { range in
                    if n == 1 || g.count == 1 {
                        let gs = pg[0] * gradScale
                        for i in range { d[i] = gs * (1 - t[i] / (o[i] + eps)) }
                    } else {
                        for i in range { d[i] = pg[i % n] * gradScale * (1 - t[i] / (o[i] + eps)) }
                    }
                }
            }
            return [grad, nil]
        }
    }

    /// Splits `0..<count` into chunks evaluated in parallel; `body(chunk, range)`.
    private func chunked(_ count: Int, granularity: Int, _ body: (Int, Range<Int>) -> Void) -> Int {
        let chunks = max(1, min(Parallel.threadCount * 4, count / max(granularity, 1)))
        Parallel.forRanges(chunks, minimumPerThread: 1) { range in
            for c in range { body(c, (count * c / chunks)..<(count * (c + 1) / chunks)) }
        }
        return chunks
    }

    private func reduceAll() -> Double {
        let total = blocks * blockLength
        guard total > 0 else { return 0 }
        var partial = [Double](repeating: 0, count: Parallel.threadCount * 4)
        let po = output.storage.pointer, pt = target.storage.pointer, eps = self.eps
        let (blockLength, targetBlockStride, targetOffset) = (self.blockLength, self.targetBlockStride, self.targetOffset)
        partial.withUnsafeMutableBufferPointer { part in
            let p = part.baseAddress!
            _ = chunked(total, granularity: 16_384) { c, range in
                var acc = 0.0
                var i = range.lowerBound
                while i < range.upperBound {
                    let b = i / blockLength, start = i - b * blockLength
                    let end = min(blockLength, start + range.upperBound - i)
                    let o = po + b * blockLength, t = pt + b * targetBlockStride + targetOffset
                    for k in start..<end { acc += Double(o[k] - t[k] * logf(o[k] + eps)) }
                    i += end - start
                }
                p[c] = acc
            }
        }
        return partial.reduce(0, +)
    }

    private func reducePerNeuron() -> [Double] {
        let n = neurons
        guard n > 0 else { return [] }
        let rowsPerBlock = blockLength / n, totalRows = blocks * rowsPerBlock
        let maxChunks = Parallel.threadCount * 4
        var partial = [Double](repeating: 0, count: maxChunks * n)
        let po = output.storage.pointer, pt = target.storage.pointer, eps = self.eps
        let (blockLength, targetBlockStride, targetOffset) = (self.blockLength, self.targetBlockStride, self.targetOffset)
        partial.withUnsafeMutableBufferPointer { part in
            let p = part.baseAddress!
            _ = chunked(totalRows, granularity: max(1, 16_384 / n)) { c, range in
                let acc = p + c * n
                for row in range {
                    let b = row / max(rowsPerBlock, 1), r = row - b * rowsPerBlock
                    let o = po + b * blockLength + r * n, t = pt + b * targetBlockStride + targetOffset + r * n
                    for j in 0..<n { acc[j] += Double(o[j] - t[j] * logf(o[j] + eps)) }
                }
            }
        }
        var sums = [Double](repeating: 0, count: n)
        for c in 0..<maxChunks { for j in 0..<n { sums[j] += partial[c * n + j] } }
        return sums
    }
}

/// The two `eps` values of the reference code, each used where its reference uses it.
public enum PoissonLossDefaults {
    /// neuralpredictors' `PoissonLoss3d` and the scorer's numpy loss: `1e-12`.
    public static let neuralpredictorsEps: Float = 1e-12
    /// The starter kit's training loss (`PoissonLoss(bias=1e-8)` through `PoissonNLLLoss`): `1e-8`.
    public static let trainerEps: Double = 1e-8
}
