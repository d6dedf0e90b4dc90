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
/// Differentiable in `x`, `weight` and `bias` in both modes.
public func batchNorm(_ x: Tensor, runningMean: Tensor?, runningVar: Tensor?, weight: Tensor? = nil,
                      bias: Tensor? = nil, training: Bool, momentum: Float = 0.1, eps: Float = 1e-5) -> Tensor {
    precondition(x.rank >= 2, "batchNorm: expected an input of rank >= 2 (N, C, ...), got shape \(x.shape)")
    let batch = x.shape[0], channels = x.shape[1]
    let spatial = x.shape.dropFirst(2).reduce(1, *)
    let perChannel = batch * spatial
    for (name, t) in [("runningMean", runningMean), ("runningVar", runningVar), ("weight", weight), ("bias", bias)] {
        if let t {
            precondition(t.count == channels && t.rank <= 1,
                         "batchNorm: \(name) of shape \(t.shape) does not match \(channels) channels of input \(x.shape)")
        }
    }
    precondition(training || (runningMean != nil && runningVar != nil),
                 "batchNorm: evaluation mode needs runningMean and runningVar (input \(x.shape))")
    precondition(!training || perChannel > 1,
                 "batchNorm: training needs more than one value per channel, got input \(x.shape)")

    // Per-channel statistics used for normalisation.
    var mean = [Float](repeating: 0, count: channels)
    var invStd = [Float](repeating: 0, count: channels)
    let xp = x.storage.pointer
    let minimumChannels = max(1, 32_768 / max(perChannel, 1))
    if training {
        var variance = [Float](repeating: 0, count: channels)
        mean.withUnsafeMutableBufferPointer { mp in variance.withUnsafeMutableBufferPointer { vp in
            invStd.withUnsafeMutableBufferPointer { ip in
                Parallel.forRanges(channels, minimumPerThread: minimumChannels) { range in
                    for c in range {
                        var sum = 0.0
                        for b in 0..<batch { sum += NormalizationKernels.sum(xp + (b * channels + c) * spatial, spatial) }
                        let mu = sum / Double(perChannel)
                        let muF = Float(mu)
                        var squares = 0.0
                        for b in 0..<batch {
                            squares += NormalizationKernels.squaredDeviations(xp + (b * channels + c) * spatial, spatial, from: muF)
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
            }
        }
    }}

    var inputs = [x]
    if let weight { inputs.append(weight) }
    if let bias { inputs.append(bias) }
    return Tensor.recordOperation("batchNorm", result: out, inputs: inputs) { g in
        let gp = g.storage.pointer
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
                            let (pa, pb) = NormalizationKernels.sumAndCenteredDot(gp + offset, xp + offset, spatial, center: mu)
                            a += pa
                            bx += pb
                        }
                        sg[c] = a
                        sgx[c] = bx * Double(istd)
                    }
                }
            }}
        }}
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
                    let mg = Float(sumG[c] / Double(perChannel))
                    let mgx = Float(sumGX[c] / Double(perChannel))
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
            grads.append(weight.requiresGrad ? Tensor(sumGX.map { Float($0) }, shape: weight.shape) : nil)
        }
        if let bias {
            grads.append(bias.requiresGrad ? Tensor(sumG.map { Float($0) }, shape: bias.shape) : nil)
        }
        return grads
    }
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
        var grads: [Tensor?] = []
        if x.requiresGrad {
            let gx = Tensor(uninitializedShape: x.shape)
            let gxp = gx.storage.pointer
            mean.withUnsafeBufferPointer { mp in invStd.withUnsafeBufferPointer { ip in
                Parallel.forRanges(rows, minimumPerThread: minimumRows) { range in
                    for r in range {
                        let src = xp + r * width, grow = gp + r * width, dst = gxp + r * width
                        let mu = mp[r], istd = ip[r]
                        // dxhat = g * w; dx = istd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)).
                        var sumD: Float = 0, sumDX: Float = 0
                        for i in 0..<width {
                            let d = grow[i] * (wp?[i] ?? 1)
                            sumD += d
                            sumDX += d * (src[i] - mu) * istd
                        }
                        let md = sumD / Float(width), mdx = sumDX / Float(width)
                        for i in 0..<width {
                            let d = grow[i] * (wp?[i] ?? 1)
                            dst[i] = istd * (d - md - (src[i] - mu) * istd * mdx)
                        }
                    }
                }
            }}
            grads.append(gx)
        } else {
            grads.append(nil)
        }
        let needW = weight?.requiresGrad ?? false, needB = bias?.requiresGrad ?? false
        var gw = [Double](repeating: 0, count: needW ? width : 0)
        var gb = [Double](repeating: 0, count: needB ? width : 0)
        if needW || needB {
            for r in 0..<rows {
                let src = xp + r * width, grow = gp + r * width
                let mu = mean[r], istd = invStd[r]
                if needW { for i in 0..<width { gw[i] += Double(grow[i] * (src[i] - mu) * istd) } }
                if needB { for i in 0..<width { gb[i] += Double(grow[i]) } }
            }
        }
        if let weight { grads.append(needW ? Tensor(gw.map { Float($0) }, shape: weight.shape) : nil) }
        if let bias { grads.append(needB ? Tensor(gb.map { Float($0) }, shape: bias.shape) : nil) }
        return grads
    }
}

/// Vectorised per-row reductions of the normalisation ops: 8 Float lanes, folded into a Double
/// every 4,096 elements to bound rounding error.
enum NormalizationKernels {
    /// Σ p[i].
    @inline(__always)
    static func sum(_ p: UnsafePointer<Float>, _ n: Int) -> Double {
        var total = 0.0, lanes = SIMD8<Float>(), i = 0
        while i + 8 <= n {
            lanes += UnsafeRawPointer(p + i).loadUnaligned(as: SIMD8<Float>.self)
            i += 8
            if i & 4095 == 0 { total += Double(lanes.sum()); lanes = SIMD8<Float>() }
        }
        var tail = lanes.sum()
        while i < n { tail += p[i]; i += 1 }
        return total + Double(tail)
    }

    /// Σ (p[i] − center)².
    @inline(__always)
    static func squaredDeviations(_ p: UnsafePointer<Float>, _ n: Int, from center: Float) -> Double {
        var total = 0.0, lanes = SIMD8<Float>(), i = 0
        let c = SIMD8<Float>(repeating: center)
        while i + 8 <= n {
            let d = UnsafeRawPointer(p + i).loadUnaligned(as: SIMD8<Float>.self) - c
            lanes += d * d
            i += 8
            if i & 4095 == 0 { total += Double(lanes.sum()); lanes = SIMD8<Float>() }
        }
        var tail = lanes.sum()
        while i < n { let d = p[i] - center; tail += d * d; i += 1 }
        return total + Double(tail)
    }

    /// (Σ g[i], Σ g[i]·(x[i] − center)).
    @inline(__always)
    static func sumAndCenteredDot(_ g: UnsafePointer<Float>, _ x: UnsafePointer<Float>, _ n: Int,
                                  center: Float) -> (Double, Double) {
        var totalG = 0.0, totalGX = 0.0, lanesG = SIMD8<Float>(), lanesGX = SIMD8<Float>(), i = 0
        let c = SIMD8<Float>(repeating: center)
        while i + 8 <= n {
            let gv = UnsafeRawPointer(g + i).loadUnaligned(as: SIMD8<Float>.self)
            let xv = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self)
            lanesG += gv
            lanesGX += gv * (xv - c)
            i += 8
            if i & 4095 == 0 {
                totalG += Double(lanesG.sum()); totalGX += Double(lanesGX.sum())
                lanesG = SIMD8<Float>(); lanesGX = SIMD8<Float>()
            }
        }
        var tailG = lanesG.sum(), tailGX = lanesGX.sum()
        while i < n { tailG += g[i]; tailGX += g[i] * (x[i] - center); i += 1 }
        return (totalG + Double(tailG), totalGX + Double(tailGX))
    }
}
