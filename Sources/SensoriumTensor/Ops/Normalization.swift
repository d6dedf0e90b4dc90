// Batch normalisation (over axis 1) and layer normalisation (over trailing axes), with hand-written
// backward passes.

/// Batch normalisation over axis 1 of an input of rank >= 2 (N, C, ...), like `F.batch_norm`
/// (BatchNorm1d/2d/3d).
///
/// - In training mode, each channel is normalised with the mean and biased variance of the batch
///   (over every axis except 1). When given, `runningMean` and `runningVar` are updated in place,
///   PyTorch style: `running = (1 - momentum) * running + momentum * batchStat`, with the unbiased
///   variance. The update happens even when gradients are disabled; running statistics are never
///   differentiated.
/// - In evaluation mode, the running statistics are used (and required).
/// - `weight` and `bias` (shape [C]) are optional; when given, `y = xhat * weight + bias`.
///
/// - `activation` is applied to the normalised output in the same pass (`.silu`: `SiLU(batchNorm(x))`);
///   the normalised values are not kept but recomputed from `x` in the backward pass, so the fused
///   form saves one activation-sized tensor between the forward and backward passes. With
///   `.elu(alpha:)` (alpha > 0), an invertible activation, the backward pass keeps only the output
///   (which the next layer keeps anyway) and recomputes the normalised values from it, so `x` is
///   not kept at all (as in-place activated BatchNorm does); it keeps `x` instead when that
///   inversion would lose precision (a channel's weight near 0 or small against its bias, or a
///   normalised value below −10, where ELU saturates).
///
/// - `reducer` (training mode only) makes the normalisation synchronised over the processes of a
///   data-parallel run: the mean and variance are those of the union of every process's batch
///   (the per-channel sums, counts and sums of squares are summed over processes), and so are the
///   statistics of the backward pass, so N processes with batch b compute what one process with
///   the union batch computes. The gradients of `weight` and `bias` stay this process's share (the
///   trainer sums them with the other gradients).
///
/// Differentiable in `x`, `weight` and `bias` in both modes.
public func batchNorm(_ x: Tensor, runningMean: Tensor?, runningVar: Tensor?, weight: Tensor? = nil,
                      bias: Tensor? = nil, training: Bool, momentum: Float = 0.1, eps: Float = 1e-5,
                      activation: NormalizationActivation = .identity,
                      reducer: (any BatchStatisticsReducer)? = nil) -> Tensor {
    precondition(x.rank >= 2, "batchNorm: expected an input of rank >= 2 (N, C, ...), got shape \(x.shape)")
    let batch = x.shape[0], channels = x.shape[1]
    let spatial = x.shape.dropFirst(2).reduce(1, *)
    let reducer = training ? reducer : nil
    let localPerChannel = batch * spatial
    // With a reducer, statistics are over the samples of every process.
    var perChannel = localPerChannel
    for (name, t) in [("runningMean", runningMean), ("runningVar", runningVar), ("weight", weight), ("bias", bias)] {
        if let t {
            precondition(t.count == channels && t.rank <= 1,
                         "batchNorm: \(name) of shape \(t.shape) does not match \(channels) channels of input \(x.shape)")
        }
    }
    precondition(training || (runningMean != nil && runningVar != nil),
                 "batchNorm: evaluation mode needs runningMean and runningVar (input \(x.shape))")
    precondition(!training || reducer != nil || perChannel > 1,
                 "batchNorm: training needs more than one value per channel, got input \(x.shape)")

    // Per-channel statistics used for normalisation.
    var mean = [Float](repeating: 0, count: channels)
    var invStd = [Float](repeating: 0, count: channels)
    let xp = x.storage.pointer
    let minimumChannels = max(1, 32_768 / max(perChannel, 1))
    if training, let reducer {
        var variance = [Float](repeating: 0, count: channels)
        perChannel = synchronizedStatistics(xp, batch: batch, channels: channels, spatial: spatial, eps: eps,
                                            reducer: reducer, mean: &mean, variance: &variance, invStd: &invStd,
                                            minimumChannels: minimumChannels, shape: x.shape)
        updateRunningStatistics(runningMean: runningMean, runningVar: runningVar, mean: mean, variance: variance,
                                momentum: momentum, count: perChannel)
    } else if training {
        var variance = [Float](repeating: 0, count: channels)
        mean.withUnsafeMutableBufferPointer { mp in variance.withUnsafeMutableBufferPointer { vp in
            invStd.withUnsafeMutableBufferPointer { ip in
                Parallel.forRanges(channels, minimumPerThread: minimumChannels) { range in
                    for c in range {
                        var sum = 0.0
                        for b in 0..<batch { sum += rowSum(xp + (b * channels + c) * spatial, spatial) }
                        let mu = sum / Double(perChannel)
                        let muF = Float(mu)
                        var squares = 0.0
                        for b in 0..<batch {
                            squares += rowCenteredSquares(xp + (b * channels + c) * spatial, spatial, mean: muF)
                        }
                        let v = squares / Double(perChannel)
                        mp[c] = muF
                        vp[c] = Float(v)
                        ip[c] = Float(1 / (v + Double(eps)).squareRoot())
                    }
                }
            }
        }}
        if let runningMean {
            let rm = runningMean.storage.pointer
            for c in 0..<channels { rm[c] = (1 - momentum) * rm[c] + momentum * mean[c] }
        }
        if let runningVar {
            let rv = runningVar.storage.pointer
            let correction = Float(perChannel) / Float(perChannel - 1)
            for c in 0..<channels { rv[c] = (1 - momentum) * rv[c] + momentum * variance[c] * correction }
        }
    } else if let runningMean, let runningVar {
        for c in 0..<channels {
            mean[c] = runningMean.storage.pointer[c]
            invStd[c] = 1 / (runningVar.storage.pointer[c] + eps).squareRoot()
        }
    }

    let statisticsCount = perChannel
    // y = (x - mean) * invStd * weight + bias, as one scale and shift per channel.
    var scale = invStd
    var shift = [Float](repeating: 0, count: channels)
    for c in 0..<channels {
        let w = weight?.storage.pointer[c] ?? 1
        scale[c] = invStd[c] * w
        shift[c] = (bias?.storage.pointer[c] ?? 0) - mean[c] * scale[c]
    }
    let out = Tensor(uninitializedShape: x.shape)
    let op = out.storage.pointer
    let eluAlpha: Float? = if case .elu(let alpha) = activation { alpha } else { nil }
    // The smallest normalised value of each row (ELU only: whether the output can be inverted).
    var rowMinimum = [Float](repeating: 0, count: eluAlpha == nil ? 0 : batch * channels)
    scale.withUnsafeBufferPointer { sc in shift.withUnsafeBufferPointer { sh in rowMinimum.withUnsafeMutableBufferPointer { rm in
        Parallel.forRanges(batch * channels, minimumPerThread: max(1, 32_768 / max(spatial, 1))) { range in
            for r in range {
                let c = r % channels, a = sc[c], d = sh[c]
                let src = xp + r * spatial, dst = op + r * spatial
                for s in 0..<spatial { dst[s] = src[s] * a + d }
                if activation == .silu { siluRowInPlace(dst, spatial) }
                if let eluAlpha { rm[r] = eluRowInPlace(dst, spatial, alpha: eluAlpha) }
            }
        }
    }}}
    let (affineScale, affineShift) = (scale, shift)
    // ELU: keep only the output when the normalised values can be recovered from it precisely.
    var fromOutput = false
    if let eluAlpha, eluAlpha > 0, (rowMinimum.min() ?? 0) >= -10, GradMode.isEnabled {
        fromOutput = (0..<channels).allSatisfy { c in
            let w = weight?.storage.pointer[c] ?? 1, b = bias?.storage.pointer[c] ?? 0
            return abs(w) >= 1e-3 && 100 * abs(w) >= abs(b)
        }
    }
    let affineWeight = (0..<channels).map { weight?.storage.pointer[$0] ?? 1 }
    let affineBias = (0..<channels).map { bias?.storage.pointer[$0] ?? 0 }
    let keptInput: Tensor? = fromOutput ? nil : x
    let keptOutput: TensorStorage? = fromOutput ? out.storage : nil
    let (needX, inputShape) = (x.requiresGrad, x.shape)

    var inputs = [x]
    if let weight { inputs.append(weight) }
    if let bias { inputs.append(bias) }
    let name = activation == .silu ? "batchNormSiLU" : (eluAlpha == nil ? "batchNorm" : "batchNormELU")
    return Tensor.recordOperation(name, result: out, inputs: inputs) { g in
        // Per channel: sum(g) and sum(g * xhat), g taken at the normalised values z = scale·x + shift.
        var sumG = [Double](repeating: 0, count: channels)
        var sumGX = sumG
        // From the output (ELU): the gradient at z, written into the buffer that becomes dx.
        if let keptOutput, let eluAlpha {
            let xhat = Tensor(uninitializedShape: inputShape)
            eluGradientFromOutput(g.storage.pointer, y: keptOutput.pointer, into: xhat.storage.pointer, alpha: eluAlpha,
                                  weight: affineWeight, bias: affineBias, batch: batch, spatial: spatial,
                                  sumG: &sumG, sumGXhat: &sumGX, minimumChannels: minimumChannels)
            if let reducer {
                var both = sumG + sumGX
                reducer.sumOverProcesses(&both)
                precondition(both.count == 2 * channels, "batchNorm: the reducer returned \(both.count) values for \(2 * channels)")
                let (localSumG, localSumGX) = (sumG, sumGX)
                sumG = Array(both[0..<channels])
                sumGX = Array(both[channels...])
                return batchNormELUGradients(xhat: xhat, g: g.storage.pointer, y: keptOutput.pointer, alpha: eluAlpha, needX: needX, training: training,
                                             weight: weight, bias: bias, affineWeight: affineWeight, affineBias: affineBias,
                                             invStd: invStd, sumG: sumG, sumGXhat: sumGX, localSumG: localSumG,
                                             localSumGXhat: localSumGX, count: statisticsCount, batch: batch, spatial: spatial)
            }
            return batchNormELUGradients(xhat: xhat, g: g.storage.pointer, y: keptOutput.pointer, alpha: eluAlpha, needX: needX, training: training,
                                         weight: weight, bias: bias, affineWeight: affineWeight, affineBias: affineBias,
                                         invStd: invStd, sumG: sumG, sumGXhat: sumGX, localSumG: sumG,
                                         localSumGXhat: sumGX, count: statisticsCount, batch: batch, spatial: spatial)
        }
        let x = keptInput!
        // With a fused activation, the gradient at the normalised values: g · f'(z), with z
        // recomputed from x.
        let activationGradient: Tensor?
        switch activation {
        case .silu:
            activationGradient = SensoriumTensor.activationGradient(g, x: xp, scale: affineScale, shift: affineShift,
                                                                    slope: SiLUSlope(), rows: batch * channels, spatial: spatial)
        case .elu(let alpha):
            activationGradient = SensoriumTensor.activationGradient(g, x: xp, scale: affineScale, shift: affineShift,
                                                                    slope: ELUSlope(alpha: alpha), rows: batch * channels, spatial: spatial)
        case .identity:
            activationGradient = nil
        }
        let gp = (activationGradient ?? g).storage.pointer
        sumG.withUnsafeMutableBufferPointer { sg in sumGX.withUnsafeMutableBufferPointer { sgx in
            mean.withUnsafeBufferPointer { mp in invStd.withUnsafeBufferPointer { ip in
                Parallel.forRanges(channels, minimumPerThread: minimumChannels) { range in
                    for c in range {
                        let mu = mp[c], istd = ip[c]
                        var a = 0.0, bx = 0.0
                        for b in 0..<batch {
                            let offset = (b * channels + c) * spatial
                            let (sumG, sumGX) = rowGradientSums(gp + offset, xp + offset, spatial, mean: mu)
                            a += sumG
                            bx += sumGX
                        }
                        sg[c] = a
                        sgx[c] = bx * Double(istd)
                    }
                }
            }}
        }}
        // The affine gradients are this process's share; the input gradient needs the sums of all.
        let (localSumG, localSumGX) = (sumG, sumGX)
        if let reducer {
            var both = sumG + sumGX
            reducer.sumOverProcesses(&both)
            precondition(both.count == 2 * channels, "batchNorm: the reducer returned \(both.count) values for \(2 * channels)")
            sumG = Array(both[0..<channels])
            sumGX = Array(both[channels...])
        }
        var grads: [Tensor?] = []
        if x.requiresGrad {
            let gx = Tensor(uninitializedShape: x.shape)
            let gxp = gx.storage.pointer
            // Training: dx = w * istd * (g - mean(g) - xhat * mean(g * xhat)); eval: dx = w * istd * g.
            var k = [Float](repeating: 0, count: channels)   // multiplies g
            var kx = k                                        // multiplies (x - mean)
            var k0 = k                                        // constant
            for c in 0..<channels {
                let w = weight?.storage.pointer[c] ?? 1
                let istd = invStd[c]
                k[c] = w * istd
                if training {
                    let mg = Float(sumG[c] / Double(statisticsCount))
                    let mgx = Float(sumGX[c] / Double(statisticsCount))
                    kx[c] = -w * istd * istd * mgx
                    k0[c] = -w * istd * mg
                }
            }
            k.withUnsafeBufferPointer { kp in kx.withUnsafeBufferPointer { kxp in k0.withUnsafeBufferPointer { k0p in
            mean.withUnsafeBufferPointer { mp in
                Parallel.forRanges(batch * channels, minimumPerThread: max(1, 32_768 / max(spatial, 1))) { range in
                    for r in range {
                        let c = r % channels, a = kp[c], b = kxp[c], d = k0p[c], mu = mp[c]
                        let src = xp + r * spatial, grow = gp + r * spatial, dst = gxp + r * spatial
                        for s in 0..<spatial { dst[s] = a * grow[s] + b * (src[s] - mu) + d }
                    }
                }
            }}}}
            grads.append(gx)
        } else {
            grads.append(nil)
        }
        return grads + affineGradients(weight: weight, bias: bias, sumGXhat: localSumGX, sumG: localSumG)
    }
}

/// The mean, biased variance and inverse standard deviation of every channel over the samples of
/// all processes (two reductions: sums and count, then squares about the global mean); returns
/// the number of values per channel over all processes.
private func synchronizedStatistics(_ xp: UnsafeMutablePointer<Float>, batch: Int, channels: Int, spatial: Int, eps: Float,
                                    reducer: any BatchStatisticsReducer, mean: inout [Float], variance: inout [Float],
                                    invStd: inout [Float], minimumChannels: Int, shape: [Int]) -> Int {
    var sums = [Double](repeating: 0, count: channels + 1)
    sums.withUnsafeMutableBufferPointer { sp in
        Parallel.forRanges(channels, minimumPerThread: minimumChannels) { range in
            for c in range {
                var sum = 0.0
                for b in 0..<batch { sum += rowSum(xp + (b * channels + c) * spatial, spatial) }
                sp[c] = sum
            }
        }
    }
    sums[channels] = Double(batch * spatial)
    reducer.sumOverProcesses(&sums)
    precondition(sums.count == channels + 1, "batchNorm: the reducer returned \(sums.count) values for \(channels + 1)")
    let count = Int(sums[channels])
    precondition(count > 1, "batchNorm: synchronised training needs more than one value per channel over all processes, got \(count) (input \(shape))")
    for c in 0..<channels { mean[c] = Float(sums[c] / Double(count)) }
    var squares = [Double](repeating: 0, count: channels)
    squares.withUnsafeMutableBufferPointer { qp in mean.withUnsafeBufferPointer { mp in
        Parallel.forRanges(channels, minimumPerThread: minimumChannels) { range in
            for c in range {
                var q = 0.0
                for b in 0..<batch { q += rowCenteredSquares(xp + (b * channels + c) * spatial, spatial, mean: mp[c]) }
                qp[c] = q
            }
        }
    }}
    reducer.sumOverProcesses(&squares)
    precondition(squares.count == channels, "batchNorm: the reducer returned \(squares.count) values for \(channels)")
    for c in 0..<channels {
        let v = squares[c] / Double(count)
        variance[c] = Float(v)
        invStd[c] = Float(1 / (v + Double(eps)).squareRoot())
    }
    return count
}

/// PyTorch's running-statistics update with the unbiased variance of `count` values per channel.
private func updateRunningStatistics(runningMean: Tensor?, runningVar: Tensor?, mean: [Float], variance: [Float],
                                     momentum: Float, count: Int) {
    if let runningMean {
        let rm = runningMean.storage.pointer
        for c in mean.indices { rm[c] = (1 - momentum) * rm[c] + momentum * mean[c] }
    }
    if let runningVar {
        let rv = runningVar.storage.pointer
        let correction = Float(count) / Float(count - 1)
        for c in variance.indices { rv[c] = (1 - momentum) * rv[c] + momentum * variance[c] * correction }
    }
}

/// An activation fused into ``batchNorm(_:runningMean:runningVar:weight:bias:training:momentum:eps:activation:reducer:)``.
public enum NormalizationActivation: Sendable, Equatable {
    /// None: the normalised values themselves.
    case identity
    /// SiLU, x·σ(x).
    case silu
    /// ELU, z for z > 0 and alpha·(e^z − 1) otherwise (`nn.ELU(alpha)`).
    case elu(alpha: Float)
}

/// SiLU of `n` values in place, eight lanes at a time.
private func siluRowInPlace(_ row: UnsafeMutablePointer<Float>, _ n: Int) {
    let f = SiLUFunction()
    var i = 0
    while i + 8 <= n {
        let v = UnsafeRawPointer(row + i).loadUnaligned(as: SIMD8<Float>.self)
        UnsafeMutableRawPointer(row + i).storeBytes(of: f.value(v), as: SIMD8<Float>.self)
        i += 8
    }
    while i < n {
        row[i] = f.value(row[i])
        i += 1
    }
}

/// The slope f'(z) of a batch norm's fused activation at the normalised values z, eight lanes
/// or one at a time (a protocol, not a closure, so that the kernel is specialised per activation).
private protocol FusedActivationSlope {
    func callAsFunction(_ z: SIMD8<Float>) -> SIMD8<Float>
    func callAsFunction(_ z: Float) -> Float
}

/// SiLU'(z).
private struct SiLUSlope: FusedActivationSlope {
    let f = SiLUFunction()
    func callAsFunction(_ z: SIMD8<Float>) -> SIMD8<Float> { f.derivative(z, z) }
    func callAsFunction(_ z: Float) -> Float { f.derivative(z, z) }
}

/// ELU'(z) = 1 for z > 0 and alpha·e^z otherwise.
private struct ELUSlope: FusedActivationSlope {
    let alpha: Float
    func callAsFunction(_ z: SIMD8<Float>) -> SIMD8<Float> { simdSelect(z .> 0, SIMD8<Float>(repeating: 1), alpha * simdExp(z)) }
    func callAsFunction(_ z: Float) -> Float { z > 0 ? 1 : alpha * fastExp(z) }
}

/// `g · f'(scale[c]·x + shift[c])` for rows of `spatial` values (row r in channel r mod C).
private func activationGradient<Slope: FusedActivationSlope>(_ g: Tensor, x: UnsafePointer<Float>, scale: [Float], shift: [Float],
                                                            slope: Slope, rows: Int, spatial: Int) -> Tensor {
    let out = Tensor(uninitializedShape: g.shape)
    let gp = g.storage.pointer, op = out.storage.pointer
    let channels = scale.count
    scale.withUnsafeBufferPointer { sc in shift.withUnsafeBufferPointer { sh in
        Parallel.forRanges(rows, minimumPerThread: max(1, 32_768 / max(spatial, 1))) { range in
            for r in range {
                let c = r % channels, a = sc[c], d = sh[c]
                let src = x + r * spatial, grow = gp + r * spatial, dst = op + r * spatial
                var i = 0
                while i + 8 <= spatial {
                    let z = UnsafeRawPointer(src + i).loadUnaligned(as: SIMD8<Float>.self) * a + d
                    let gv = UnsafeRawPointer(grow + i).loadUnaligned(as: SIMD8<Float>.self)
                    UnsafeMutableRawPointer(dst + i).storeBytes(of: gv * slope(z), as: SIMD8<Float>.self)
                    i += 8
                }
                while i < spatial {
                    dst[i] = grow[i] * slope(src[i] * a + d)
                    i += 1
                }
            }
        }
    }}
    return out
}

/// Layer normalisation over the trailing axes given by `normalizedShape`, like `F.layer_norm`:
/// each slice is shifted to zero mean and scaled to unit (biased) variance, then multiplied by
/// `weight` and shifted by `bias` (both of shape `normalizedShape`, optional).
///
/// Differentiable in `x`, `weight` and `bias`.
public func layerNorm(_ x: Tensor, normalizedShape: [Int], weight: Tensor? = nil, bias: Tensor? = nil,
                      eps: Float = 1e-5) -> Tensor {
    let k = normalizedShape.count
    precondition(k >= 1 && x.rank >= k && Array(x.shape.suffix(k)) == normalizedShape,
                 "layerNorm: normalizedShape \(normalizedShape) does not match the trailing axes of input \(x.shape)")
    for (name, t) in [("weight", weight), ("bias", bias)] {
        if let t {
            precondition(t.shape == normalizedShape,
                         "layerNorm: \(name) of shape \(t.shape) does not match normalizedShape \(normalizedShape)")
        }
    }
    let width = normalizedShape.reduce(1, *)
    let rows = width == 0 ? 0 : x.count / width
    let xp = x.storage.pointer
    let wp = weight?.storage.pointer, bp = bias?.storage.pointer
    var mean = [Float](repeating: 0, count: rows)
    var invStd = mean
    let out = Tensor(uninitializedShape: x.shape)
    let op = out.storage.pointer
    let minimumRows = max(1, 16_384 / max(width, 1))
    mean.withUnsafeMutableBufferPointer { mp in invStd.withUnsafeMutableBufferPointer { ip in
        Parallel.forRanges(rows, minimumPerThread: minimumRows) { range in
            for r in range {
                let src = xp + r * width, dst = op + r * width
                var sum: Float = 0
                for i in 0..<width { sum += src[i] }
                let mu = sum / Float(width)
                var squares: Float = 0
                for i in 0..<width { let d = src[i] - mu; squares += d * d }
                let istd = 1 / (squares / Float(width) + eps).squareRoot()
                mp[r] = mu
                ip[r] = istd
                switch (wp, bp) {
                case let (w?, b?): for i in 0..<width { dst[i] = (src[i] - mu) * istd * w[i] + b[i] }
                case let (w?, nil): for i in 0..<width { dst[i] = (src[i] - mu) * istd * w[i] }
                case let (nil, b?): for i in 0..<width { dst[i] = (src[i] - mu) * istd + b[i] }
                case (nil, nil): for i in 0..<width { dst[i] = (src[i] - mu) * istd }
                }
            }
        }
    }}

    var inputs = [x]
    if let weight { inputs.append(weight) }
    if let bias { inputs.append(bias) }
    return Tensor.recordOperation("layerNorm", result: out, inputs: inputs) { g in
        let gp = g.storage.pointer
        let needX = x.requiresGrad
        let needW = weight?.requiresGrad ?? false, needB = bias?.requiresGrad ?? false
        let gx: Tensor? = needX ? Tensor(uninitializedShape: x.shape) : nil
        let gxp = gx?.storage.pointer
        // Rows are split into blocks; each block accumulates its own weight/bias gradient partials.
        let blocks = max(1, min(Parallel.threadCount, rows * width / 16_384))
        var partialW = [Double](repeating: 0, count: needW ? blocks * width : 0)
        var partialB = [Double](repeating: 0, count: needB ? blocks * width : 0)
        mean.withUnsafeBufferPointer { mp in invStd.withUnsafeBufferPointer { ip in
        partialW.withUnsafeMutableBufferPointer { pw in partialB.withUnsafeMutableBufferPointer { pb in
            Parallel.forRanges(blocks, minimumPerThread: 1) { blockRange in
                for block in blockRange {
                    let accW = needW ? pw.baseAddress.map { $0 + block * width } : nil
                    let accB = needB ? pb.baseAddress.map { $0 + block * width } : nil
                    for r in (rows * block / blocks)..<(rows * (block + 1) / blocks) {
                        let src = xp + r * width, grow = gp + r * width
                        let mu = mp[r], istd = ip[r]
                        if let accW { for i in 0..<width { accW[i] += Double(grow[i] * (src[i] - mu) * istd) } }
                        if let accB { for i in 0..<width { accB[i] += Double(grow[i]) } }
                        guard let gxp else { continue }
                        let dst = gxp + r * width
                        // dxhat = g * w; dx = istd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)).
                        var sumD: Float = 0, sumDX: Float = 0
                        if let wp {
                            for i in 0..<width {
                                let d = grow[i] * wp[i]
                                sumD += d
                                sumDX += d * (src[i] - mu)
                            }
                        } else {
                            for i in 0..<width {
                                sumD += grow[i]
                                sumDX += grow[i] * (src[i] - mu)
                            }
                        }
                        let md = sumD / Float(width), mdx = sumDX * istd * istd / Float(width)
                        if let wp {
                            for i in 0..<width { dst[i] = istd * (grow[i] * wp[i] - md - (src[i] - mu) * mdx) }
                        } else {
                            for i in 0..<width { dst[i] = istd * (grow[i] - md - (src[i] - mu) * mdx) }
                        }
                    }
                }
            }
        }}}}
        func reduceBlocks(_ partial: [Double], shape: [Int]) -> Tensor {
            let out = Tensor(uninitializedShape: shape)
            let o = out.storage.pointer
            for i in 0..<width {
                var acc = 0.0
                for block in 0..<blocks { acc += partial[block * width + i] }
                o[i] = Float(acc)
            }
            return out
        }
        var grads: [Tensor?] = [gx]
        if let weight { grads.append(needW ? reduceBlocks(partialW, shape: weight.shape) : nil) }
        if let bias { grads.append(needB ? reduceBlocks(partialB, shape: bias.shape) : nil) }
        return grads
    }
}

// MARK: - Accurate, vectorised row sums

/// Elements summed in Float lanes before folding into Double: keeps long reductions accurate.
private let reductionBlock = 4_096

/// Loads eight consecutive floats.
@inline(__always)
private func load8(_ p: UnsafePointer<Float>) -> SIMD8<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
}

/// Sum of `n` floats.
@inline(__always)
private func rowSum(_ p: UnsafePointer<Float>, _ n: Int) -> Double {
    var total = 0.0
    var start = 0
    while start < n {
        let end = min(n, start + reductionBlock)
        var acc = SIMD8<Float>()
        var i = start
        while i + 8 <= end { acc += load8(p + i); i += 8 }
        var tail: Float = 0
        while i < end { tail += p[i]; i += 1 }
        total += Double(acc.sum() + tail)
        start = end
    }
    return total
}

/// Sum of `(p[i] - mean)^2` over `n` floats.
@inline(__always)
private func rowCenteredSquares(_ p: UnsafePointer<Float>, _ n: Int, mean: Float) -> Double {
    var total = 0.0
    var start = 0
    let m = SIMD8<Float>(repeating: mean)
    while start < n {
        let end = min(n, start + reductionBlock)
        var acc = SIMD8<Float>()
        var i = start
        while i + 8 <= end { let d = load8(p + i) - m; acc += d * d; i += 8 }
        var tail: Float = 0
        while i < end { let d = p[i] - mean; tail += d * d; i += 1 }
        total += Double(acc.sum() + tail)
        start = end
    }
    return total
}

/// `(sum(g), sum(g * (x - mean)))` over `n` elements.
@inline(__always)
private func rowGradientSums(_ g: UnsafePointer<Float>, _ x: UnsafePointer<Float>, _ n: Int,
                             mean: Float) -> (Double, Double) {
    var totalG = 0.0, totalGX = 0.0
    var start = 0
    let m = SIMD8<Float>(repeating: mean)
    while start < n {
        let end = min(n, start + reductionBlock)
        var accG = SIMD8<Float>(), accGX = SIMD8<Float>()
        var i = start
        while i + 8 <= end {
            let gv = load8(g + i)
            accG += gv
            accGX += gv * (load8(x + i) - m)
            i += 8
        }
        var tailG: Float = 0, tailGX: Float = 0
        while i < end { tailG += g[i]; tailGX += g[i] * (x[i] - mean); i += 1 }
        totalG += Double(accG.sum() + tailG)
        totalGX += Double(accGX.sum() + tailGX)
        start = end
    }
    return (totalG, totalGX)
}

/// ELU of `n` values in place, eight lanes at a time; returns the smallest value before the ELU.
private func eluRowInPlace(_ row: UnsafeMutablePointer<Float>, _ n: Int, alpha: Float) -> Float {
    let f = ELUFunction(alpha: alpha)
    var low = SIMD8<Float>(repeating: .infinity)
    var i = 0
    while i + 8 <= n {
        let v = UnsafeRawPointer(row + i).loadUnaligned(as: SIMD8<Float>.self)
        low = simdSelect(v .< low, v, low)
        // f.value(v), with the select as a blend.
        UnsafeMutableRawPointer(row + i).storeBytes(of: simdSelect(v .> 0, v, alpha * simdExpm1(v)), as: SIMD8<Float>.self)
        i += 8
    }
    var smallest = low.min()
    while i < n {
        smallest = Swift.min(smallest, row[i])
        row[i] = f.value(row[i])
        i += 1
    }
    return smallest
}

/// The normalised values x̂ = (z − bias)·inverseWeight of eight ELU outputs y, with z = y for
/// y > 0 and log(1 + y/alpha) otherwise. The fused op only keeps its output when every z ≥ −10, so
/// 1 + y/alpha is a normal number in (4.5e-5, 1] there and the logarithm needs no special cases;
/// its absolute error (≈ 1e-7) is that of the normalised values themselves.
@inline(__always)
private func normalizedFromELU(_ y: SIMD8<Float>, inverseAlpha: Float, inverseWeight: Float,
                               bias: Float) -> SIMD8<Float> {
    // Positive outputs are the normalised values themselves: no logarithm for eight of them.
    let positive = y .> 0
    if all(positive) { return (y - bias) * inverseWeight }
    let logW = simdLogOfNormal(1 + y * inverseAlpha)
    return (simdSelect(positive, y, logW) - bias) * inverseWeight
}

/// Sums, per channel, gz = g · ELU'(z) (ELU'(z) = 1 for y > 0, y + alpha otherwise) and gz · x̂,
/// with x̂ recomputed from the ELU output y and written to `xhatOut` (so that the input-gradient
/// pass reads it instead of taking the logarithms again).
private func eluGradientFromOutput(_ g: UnsafePointer<Float>, y: UnsafePointer<Float>, into xhatOut: UnsafeMutablePointer<Float>,
                                   alpha: Float, weight: [Float], bias: [Float], batch: Int, spatial: Int,
                                   sumG: inout [Double], sumGXhat: inout [Double], minimumChannels: Int) {
    let channels = weight.count
    let inverseAlpha = 1 / alpha
    let one = SIMD8<Float>(repeating: 1)
    sumG.withUnsafeMutableBufferPointer { sg in sumGXhat.withUnsafeMutableBufferPointer { sgx in
        Parallel.forRanges(channels, minimumPerThread: minimumChannels) { range in
            for c in range {
                let wc = weight[c], bc = bias[c], iw = 1 / wc
                var a = 0.0, ax = 0.0
                for b in 0..<batch {
                    let offset = (b * channels + c) * spatial
                    let yr = y + offset, gr = g + offset, dst = xhatOut + offset
                    var accG = SIMD8<Float>(), accGX = SIMD8<Float>()
                    var i = 0
                    while i + 8 <= spatial {
                        let yv = UnsafeRawPointer(yr + i).loadUnaligned(as: SIMD8<Float>.self)
                        let gv = UnsafeRawPointer(gr + i).loadUnaligned(as: SIMD8<Float>.self)
                        let d = gv * simdSelect(yv .> 0, one, yv + alpha)
                        let xhat = normalizedFromELU(yv, inverseAlpha: inverseAlpha, inverseWeight: iw, bias: bc)
                        UnsafeMutableRawPointer(dst + i).storeBytes(of: xhat, as: SIMD8<Float>.self)
                        accG += d
                        accGX += d * xhat
                        i += 8
                        // Fold into Double every 4,096 values, as the other reductions do.
                        if i & 4095 == 0 {
                            a += Double(accG.sum()); ax += Double(accGX.sum())
                            accG = SIMD8(); accGX = SIMD8()
                        }
                    }
                    a += Double(accG.sum()); ax += Double(accGX.sum())
                    while i < spatial {
                        var lane = SIMD8<Float>(repeating: 1)
                        lane[0] = yr[i]
                        let xhat = normalizedFromELU(lane, inverseAlpha: inverseAlpha, inverseWeight: iw, bias: bc)[0]
                        let d = gr[i] * (yr[i] > 0 ? 1 : yr[i] + alpha)
                        dst[i] = xhat
                        a += Double(d); ax += Double(d * xhat)
                        i += 1
                    }
                }
                sg[c] = a
                sgx[c] = ax
            }
        }
    }}
}

/// The gradients of a fused BatchNorm + ELU kept from its output: dx (written over `xhat`, which
/// holds the normalised values) and the weight and bias gradients, in `inputs` order.
private func batchNormELUGradients(xhat gz: Tensor, g: UnsafePointer<Float>, y: UnsafePointer<Float>, alpha: Float, needX: Bool, training: Bool,
                                   weight: Tensor?, bias: Tensor?, affineWeight: [Float], affineBias: [Float],
                                   invStd: [Float], sumG: [Double], sumGXhat: [Double], localSumG: [Double],
                                   localSumGXhat: [Double], count: Int, batch: Int, spatial: Int) -> [Tensor?] {
    let channels = affineWeight.count
    var grads: [Tensor?] = []
    if needX {
        // Training: dx = w·istd·(gz − mean(gz) − x̂·mean(gz·x̂)); evaluation: dx = w·istd·gz.
        var k = [Float](repeating: 0, count: channels), kx = k, k0 = k
        for c in 0..<channels {
            let w = affineWeight[c], istd = invStd[c]
            k[c] = w * istd
            if training {
                kx[c] = -w * istd * Float(sumGXhat[c] / Double(count))
                k0[c] = -w * istd * Float(sumG[c] / Double(count))
            }
        }
        let xp = gz.storage.pointer
        let one = SIMD8<Float>(repeating: 1)
        Parallel.forRanges(batch * channels, minimumPerThread: max(1, 32_768 / max(spatial, 1))) { range in
            for r in range {
                let c = r % channels, a = k[c], b = kx[c], d = k0[c]
                let row = xp + r * spatial, yr = y + r * spatial, gr = g + r * spatial
                var i = 0
                while i + 8 <= spatial {
                    let yv = UnsafeRawPointer(yr + i).loadUnaligned(as: SIMD8<Float>.self)
                    let gv = UnsafeRawPointer(gr + i).loadUnaligned(as: SIMD8<Float>.self)
                    let gzv = gv * simdSelect(yv .> 0, one, yv + alpha)
                    let xhat = UnsafeRawPointer(row + i).loadUnaligned(as: SIMD8<Float>.self)
                    UnsafeMutableRawPointer(row + i).storeBytes(of: a * gzv + b * xhat + d, as: SIMD8<Float>.self)
                    i += 8
                }
                while i < spatial {
                    let gzv = gr[i] * (yr[i] > 0 ? 1 : yr[i] + alpha)
                    row[i] = a * gzv + b * row[i] + d
                    i += 1
                }
            }
        }
        grads.append(gz)
    } else {
        grads.append(nil)
    }
    return grads + affineGradients(weight: weight, bias: bias, sumGXhat: localSumGXhat, sumG: localSumG)
}

/// The gradients of the affine weight (this process's Σ g·x̂ per channel) and bias (Σ g), one
/// entry per parameter given (nil when it needs none), in the op's input order.
private func affineGradients(weight: Tensor?, bias: Tensor?, sumGXhat: [Double], sumG: [Double]) -> [Tensor?] {
    var grads: [Tensor?] = []
    if let weight { grads.append(weight.requiresGrad ? Tensor(sumGXhat.map { Float($0) }, shape: weight.shape) : nil) }
    if let bias { grads.append(bias.requiresGrad ? Tensor(sumG.map { Float($0) }, shape: bias.shape) : nil) }
    return grads
}
