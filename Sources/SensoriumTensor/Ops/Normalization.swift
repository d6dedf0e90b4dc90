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
///   form saves one activation-sized tensor between the forward and backward passes.
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
    scale.withUnsafeBufferPointer { sc in shift.withUnsafeBufferPointer { sh in
        Parallel.forRanges(batch * channels, minimumPerThread: max(1, 32_768 / max(spatial, 1))) { range in
            for r in range {
                let c = r % channels, a = sc[c], d = sh[c]
                let src = xp + r * spatial, dst = op + r * spatial
                for s in 0..<spatial { dst[s] = src[s] * a + d }
                if activation == .silu { siluRowInPlace(dst, spatial) }
            }
        }
    }}
    let (affineScale, affineShift) = (scale, shift)

    var inputs = [x]
    if let weight { inputs.append(weight) }
    if let bias { inputs.append(bias) }
    return Tensor.recordOperation(activation == .silu ? "batchNormSiLU" : "batchNorm", result: out, inputs: inputs) { g in
        // With a fused activation, the gradient at the normalised values z = scale·x + shift:
        // g · SiLU'(z), with z recomputed from x.
        let activationGradient: Tensor? = activation == .silu
            ? siluGradient(g, x: xp, scale: affineScale, shift: affineShift, rows: batch * channels, spatial: spatial)
            : nil
        let gp = (activationGradient ?? g).storage.pointer
        // Per channel: sum(g) and sum(g * xhat).
        var sumG = [Double](repeating: 0, count: channels)
        var sumGX = sumG
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
        if let weight {
            grads.append(weight.requiresGrad ? Tensor(localSumGX.map { Float($0) }, shape: weight.shape) : nil)
        }
        if let bias {
            grads.append(bias.requiresGrad ? Tensor(localSumG.map { Float($0) }, shape: bias.shape) : nil)
        }
        return grads
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

/// `g · SiLU'(scale[c]·x + shift[c])` for rows of `spatial` values (row r in channel r mod C).
private func siluGradient(_ g: Tensor, x: UnsafePointer<Float>, scale: [Float], shift: [Float], rows: Int,
                          spatial: Int) -> Tensor {
    let out = Tensor(uninitializedShape: g.shape)
    let gp = g.storage.pointer, op = out.storage.pointer
    let channels = scale.count
    let f = SiLUFunction()
    scale.withUnsafeBufferPointer { sc in shift.withUnsafeBufferPointer { sh in
        Parallel.forRanges(rows, minimumPerThread: max(1, 32_768 / max(spatial, 1))) { range in
            for r in range {
                let c = r % channels, a = sc[c], d = sh[c]
                let src = x + r * spatial, grow = gp + r * spatial, dst = op + r * spatial
                var i = 0
                while i + 8 <= spatial {
                    let z = UnsafeRawPointer(src + i).loadUnaligned(as: SIMD8<Float>.self) * a + d
                    let gv = UnsafeRawPointer(grow + i).loadUnaligned(as: SIMD8<Float>.self)
                    UnsafeMutableRawPointer(dst + i).storeBytes(of: gv * f.derivative(z, z), as: SIMD8<Float>.self)
                    i += 8
                }
                while i < spatial {
                    let z = src[i] * a + d
                    dst[i] = grow[i] * f.derivative(z, z)
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
