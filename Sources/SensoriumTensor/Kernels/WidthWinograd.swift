// 1-D Winograd minimal filtering F(m, r) along the width for per-frame spatial convolutions
// ((1, kH, kW) kernels, unit stride, unit width dilation, at least 8 input channels per group).
//
// The direct per-frame path (`frameForward`) spends kW multiply-adds per output and tap row; F(m, r)
// with r = kW computes m neighbouring outputs of a kernel row from n = m + r − 1 products of
// transformed values (Toom–Cook on the points 0, ±1, ±2, ±1/2, …, ∞):
//
//   y[tile] = Aᵀ · ((G · g) ⊙ (Bᵀ · d[tile]))      d: n input columns, g: r taps, y: m outputs.
//
// With channels and kernel rows this becomes n independent sets of GEMMs. Per frame:
// - input transform: every padded input row of every channel is cut into tiles of n columns
//   (stepping by m) and transformed: U_p[c, row, tile] (p = 0 ..< n);
// - weight transform (once per call): V_p[kh, o, c] = Σ_kw G[p, kw] · w[o, c, kh, kw];
// - one GEMM per point p and kernel row kh: M_p[o, oh·T + tile] += V_p[kh] · U_p[:, oh + kh·dH, :]
//   (the kernel row is a shift of the view by kh·dH rows, as the direct path shifts by taps);
// - output transform: y[o, oh, tile·m + i] = Σ_p Aᵀ[i, p] · M_p[o, oh·T + tile] + bias[o].
//
// F(2, 7) (the default tile, `ConvolutionKernels.Tuning.widthWinogradTile`) does 8 products per
// kernel row and 2 outputs instead of 14: the 7 × 7 layers' GEMM work falls to 0.57 (F(4, 7): 10 for
// 4, 0.36, but see Accuracy). The input gradient is a forward
// convolution of the output gradient (`frameInputGradient`), so it takes this path too. The weight
// gradient uses the transposed transforms: dM_p = (A · dy)_p, dV_p[kh] = Σ_positions dM_p ⊗ U_p
// (one A·Bᵀ GEMM per point and kernel row, in place on the shifted view), dw = Gᵀ · dV.
//
// Accuracy (Benchmarks/profiles/factorized-small-winograd.md): with the points 0, ±1/3, ±3/4, ±4/3,
// ±2, ∞ F(4, 7)'s float32 error is about twice F(2, 7)'s and ten times the direct sum's, a few 1e-6
// of the outputs' rms for 7 × 7 kernels over 8 to 32 channels. On the neuralpredictors core fixtures
// with outputs of a few hundred (Tests/Fixtures/core_options/factorized3d_winograd_*), F(2, kW) stays
// near the direct path's error (largest 3.2e-4 against 2.6e-4) while F(4, 7) reaches 7.0e-4 and
// misses the fixture's tolerance on an output near zero, so F(2, kW) is the default.

enum WidthWinograd {
    /// The transform matrices of F(m, r): `inputT` Bᵀ (n × n, Float), `kernel` G (n × r, Double),
    /// `outputT` Aᵀ (m × n, Float).
    struct Transform {
        let m: Int, r: Int, n: Int
        let inputT: [Float]
        let kernel: [Double]
        let outputT: [Float]

        /// Finite interpolation points in order of preference (small magnitudes first); ∞ is always the last point.
        static let points: [Double] = [0, 1, -1, 2, -2, 0.5, -0.5, 3, -3, 1.0 / 3, -1.0 / 3, 4, -4, 0.25, -0.25]

        /// The n − 1 finite points of F(m, r). Nine points (F(4, 7)) use 0, ±1/3, ±3/4, ±4/3, ±2: the
        /// best of the 210 sets of four magnitudes from {1/4, 1/3, 1/2, 2/3, 3/4, 1, 4/3, 3/2, 2, 3}
        /// in a float32 simulation, half the mean error of 0, ±1, ±2, ±1/2, ±3.
        static func finitePoints(count: Int) -> [Double] {
            if count == 9 { return [0, 1.0 / 3, -1.0 / 3, 0.75, -0.75, 4.0 / 3, -4.0 / 3, 2, -2] }
            return Array(points.prefix(count))
        }

        /// Toom–Cook construction: the product of a degree r − 1 and a degree m − 1 polynomial is
        /// evaluated at the n points (Vandermonde V, ∞ = leading coefficient) and interpolated (V⁻¹);
        /// the correlation is the transpose of that convolution: Bᵀ = V⁻ᵀ, G = V_r, Aᵀ = V_mᵀ. Every
        /// row of Bᵀ is scaled to a largest magnitude of 1 and G's row by the inverse factor.
        init(m: Int, r: Int) {
            precondition(m >= 1 && r >= 1 && m + r - 2 <= Transform.points.count, "F(\(m), \(r)) is not supported")
            self.m = m
            self.r = r
            let n = m + r - 1
            self.n = n
            let a = Transform.finitePoints(count: n - 1)
            func power(_ x: Double, _ k: Int) -> Double { k == 0 ? 1 : (1..<k + 1).reduce(1.0) { p, _ in p * x } }
            // V (n × n): finite rows a_j^k, the last row picks the leading coefficient.
            var v = [Double](repeating: 0, count: n * n)
            for j in 0..<(n - 1) { for k in 0..<n { v[j * n + k] = power(a[j], k) } }
            v[(n - 1) * n + n - 1] = 1
            let inverse = Transform.inverted(v, n)
            var bt = [Double](repeating: 0, count: n * n)
            var g = [Double](repeating: 0, count: n * r)
            var at = [Float](repeating: 0, count: m * n)
            for p in 0..<n {
                for j in 0..<n { bt[p * n + j] = inverse[j * n + p] }
                let scale = (0..<n).map { abs(bt[p * n + $0]) }.max() ?? 1
                // Entries that are zero in exact arithmetic come out of the inversion as ±1e-17 or so.
                for j in 0..<n { bt[p * n + j] = abs(bt[p * n + j]) < 1e-12 * scale ? 0 : bt[p * n + j] / scale }
                for k in 0..<r { g[p * r + k] = scale * (p == n - 1 ? (k == r - 1 ? 1 : 0) : power(a[p], k)) }
                for i in 0..<m { at[i * n + p] = Float(p == n - 1 ? (i == m - 1 ? 1 : 0) : power(a[p], i)) }
            }
            inputT = bt.map { Float($0) }
            kernel = g
            outputT = at
        }

        /// The inverse of the n × n matrix `a` (Gauss–Jordan with partial pivoting).
        static func inverted(_ a: [Double], _ n: Int) -> [Double] {
            var lhs = a
            var rhs = [Double](repeating: 0, count: n * n)
            for i in 0..<n { rhs[i * n + i] = 1 }
            for col in 0..<n {
                var pivot = col
                for row in col..<n where abs(lhs[row * n + col]) > abs(lhs[pivot * n + col]) { pivot = row }
                if pivot != col {
                    for k in 0..<n {
                        lhs.swapAt(col * n + k, pivot * n + k)
                        rhs.swapAt(col * n + k, pivot * n + k)
                    }
                }
                let d = lhs[col * n + col]
                for k in 0..<n { lhs[col * n + k] /= d; rhs[col * n + k] /= d }
                for row in 0..<n where row != col {
                    let f = lhs[row * n + col]
                    guard f != 0 else { continue }
                    for k in 0..<n { lhs[row * n + k] -= f * lhs[col * n + k]; rhs[row * n + k] -= f * rhs[col * n + k] }
                }
            }
            return rhs
        }
    }

    /// Outputs per tile (`ConvolutionKernels.Tuning.widthWinogradTile`).
    static var tileOutputs: Int { ConvolutionKernels.tuning.widthWinogradTile }

    /// Whether the geometry can take the Winograd path at all (any kW ≥ 2; the dispatch adds `pays`).
    static func supports(_ g: ConvGeometry) -> Bool {
        g.kT == 1 && g.sT == 1 && g.pT == 0 && g.sH == 1 && g.sW == 1 && g.dW == 1 && g.kW >= 2
            && g.kW + tileOutputs - 1 <= 12
            && g.groupInChannels >= 8 && g.groupOutChannels >= 4 && g.outW >= 1 && g.outH >= 1
    }

    /// Whether the per-frame path should use it: kernels 5 to 7 wide on rows of at least 8 outputs
    /// (3-wide kernels save less, wider ones need worse-conditioned points).
    static func pays(_ g: ConvGeometry) -> Bool {
        ConvolutionKernels.tuning.widthWinograd && supports(g) && (5...7).contains(g.kW) && g.outW >= 8
    }

    /// Sizes of one frame's transformed planes.
    struct Layout {
        let t: Transform
        /// Tiles per row, padded rows, elements per padded row's phases.
        let tiles: Int, rows: Int, phaseLength: Int
        /// Elements of one channel's transformed rows of one point (rows × tiles) and of its output rows.
        var inPlane: Int { rows * tiles }
        let outPlane: Int

        init(_ g: ConvGeometry, _ t: Transform) {
            self.t = t
            tiles = (g.outW + t.m - 1) / t.m
            rows = (g.outH - 1) + (g.kH - 1) * g.dH + 1
            phaseLength = tiles + (t.n - 1) / t.m + 1
            outPlane = g.outH * tiles
        }
    }

    /// Non-zero coefficients of a transform, one list per output row: `terms[first[p] ..< first[p + 1]]`
    /// holds (source offset, coefficient) pairs for row p, so the loops skip zeros and divide nothing.
    ///
    /// With `pairing`, rows of opposite points ±a (row q equal to row p with the odd columns negated,
    /// times a sign) are computed together: E = Σ over p's even columns, O = Σ over its odd columns,
    /// row p = E + O, row q = sign · (E − O) — half the multiply-adds. Row p's list then holds its
    /// even-column terms, then (from `middle[p]`) its odd-column ones, and row q's list is empty.
    struct Terms {
        var first: [Int] = [0]
        var middle: [Int] = []
        /// Partner row and sign of a paired row p (the first of its pair), or nil.
        var partner: [(row: Int, sign: Float)?] = []
        /// Whether row p is the second of a pair (computed with its partner).
        var isSecond: [Bool] = []
        var offsets: [Int] = []
        var coefficients: [Float] = []

        /// Row p of the (rows × columns) `matrix`; column j reads from `offset(j)`.
        init(rows: Int, columns: Int, matrix: (Int, Int) -> Float, offset: (Int) -> Int, pairing: Bool) {
            var taken = [Bool](repeating: false, count: rows)
            partner = Array(repeating: nil, count: rows)
            for p in 0..<rows where pairing && !taken[p] {
                let largest = (0..<columns).map { abs(matrix(p, $0)) }.max() ?? 0
                guard largest > 0, (0..<columns).contains(where: { $0 & 1 == 1 && matrix(p, $0) != 0 }) else { continue }
                for q in (p + 1)..<max(rows, p + 1) where !taken[q] {
                    for sign: Float in [1, -1] {
                        let mirrored = (0..<columns).allSatisfy { j in
                            let expected = sign * (j & 1 == 0 ? 1 : -1) * matrix(p, j)
                            return abs(matrix(q, j) - expected) <= 1e-6 * largest
                        }
                        if mirrored && partner[p] == nil { partner[p] = (q, sign); taken[p] = true; taken[q] = true }
                    }
                    if partner[p] != nil { break }
                }
            }
            isSecond = (0..<rows).map { taken[$0] && partner[$0] == nil }
            for p in 0..<rows {
                let skip = isSecond[p]
                for parity in [0, 1] {
                    if parity == 1 { middle.append(offsets.count) }
                    for j in 0..<columns where !skip && matrix(p, j) != 0 && (partner[p] == nil ? parity == 0 : j & 1 == parity) {
                        offsets.append(offset(j))
                        coefficients.append(matrix(p, j))
                    }
                }
                first.append(offsets.count)
            }
        }
    }

    @inline(__always)
    static func load8(_ p: UnsafePointer<Float>) -> SIMD8<Float> {
        UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
    }

    @inline(__always)
    static func store8(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Float>.self)
    }

    /// dst[k] = initial + Σ_terms coefficient · src[offset + k] for k < count, for each of
    /// `terms`' rows p (dst = destination(p)), eight lanes at a time and the tail one by one.
    /// Paired rows (see `Terms`) start from zero whatever `initial` is.
    @inline(__always)
    static func combine(_ terms: Terms, rows: Int, source: UnsafePointer<Float>, count: Int, initial: Float,
                        destination: (Int) -> UnsafeMutablePointer<Float>) {
        terms.offsets.withUnsafeBufferPointer { offsets in
            terms.coefficients.withUnsafeBufferPointer { coefficients in
                for p in 0..<rows {
                    let lo = terms.first[p], mid = terms.middle[p], hi = terms.first[p + 1]
                    if let (q, sign) = terms.partner[p] {
                        let dst = destination(p), other = destination(q)
                        var k = 0
                        while k + 8 <= count {
                            var even = SIMD8<Float>(), odd = SIMD8<Float>()
                            for e in lo..<mid { even += coefficients[e] * load8(source + offsets[e] + k) }
                            for e in mid..<hi { odd += coefficients[e] * load8(source + offsets[e] + k) }
                            store8(even + odd, dst + k)
                            store8(sign * (even - odd), other + k)
                            k += 8
                        }
                        while k < count {
                            var even: Float = 0, odd: Float = 0
                            for e in lo..<mid { even += coefficients[e] * source[offsets[e] + k] }
                            for e in mid..<hi { odd += coefficients[e] * source[offsets[e] + k] }
                            dst[k] = even + odd
                            other[k] = sign * (even - odd)
                            k += 1
                        }
                        continue
                    }
                    if terms.isSecond[p] { continue }
                    let dst = destination(p)
                    var k = 0
                    while k + 8 <= count {
                        var acc = SIMD8<Float>(repeating: initial)
                        for e in lo..<hi { acc += coefficients[e] * load8(source + offsets[e] + k) }
                        store8(acc, dst + k)
                        k += 8
                    }
                    while k < count {
                        var acc = initial
                        for e in lo..<hi { acc += coefficients[e] * source[offsets[e] + k] }
                        dst[k] = acc
                        k += 1
                    }
                }
            }
        }
    }

    /// Bᵀ as terms over the m phases of a padded row (phase q holds columns q, q + m, …,
    /// `phaseLength` apart): column j of a tile is phase j % m at index j / m.
    static func inputTerms(_ l: Layout) -> Terms {
        let t = l.t
        return Terms(rows: t.n, columns: t.n, matrix: { t.inputT[$0 * t.n + $1] },
                     offset: { ($0 % t.m) * l.phaseLength + $0 / t.m }, pairing: true)
    }

    /// Transforms frame `frame` of batch element `nb` (channels `0 ..< g.inChannels`) into
    /// `u` (n, C, rows, tiles). `phases` holds m · phaseLength scratch elements.
    static func transformInput(_ g: ConvGeometry, _ l: Layout, _ terms: Terms, x: UnsafePointer<Float>, nb: Int,
                               frame: Int, u: UnsafeMutablePointer<Float>, phases: UnsafeMutablePointer<Float>) {
        let m = l.t.m, n = l.t.n, tiles = l.tiles
        let inPlane = g.inH * g.inW
        let pointStride = g.inChannels * l.inPlane
        let limit = min(g.inW, l.phaseLength * m - g.pW)
        for c in 0..<g.inChannels {
            let channel = x + (nb * g.inChannels + c) * g.inVolume + frame * inPlane
            for row in 0..<l.rows {
                let h = row - g.pH
                let base = u + c * l.inPlane + row * tiles
                guard h >= 0 && h < g.inH else {
                    for p in 0..<n { (base + p * pointStride).update(repeating: 0, count: tiles) }
                    continue
                }
                // Padded column q = pW + w goes to phase q % m, index q / m.
                phases.update(repeating: 0, count: m * l.phaseLength)
                let src = channel + h * g.inW
                for phase in 0..<m {
                    let dst = phases + phase * l.phaseLength
                    var w = ((phase - g.pW) % m + m) % m, k = (g.pW + w) / m
                    while w < limit { dst[k] = src[w]; w += m; k += 1 }
                }
                combine(terms, rows: n, source: phases, count: tiles, initial: 0) { base + $0 * pointStride }
            }
        }
    }

    /// The weight (O, Cg, 1, kH, kW) transformed as V (n, kH, O, Cg).
    static func transformWeight(_ g: ConvGeometry, _ t: Transform, weight: UnsafePointer<Float>) -> UnsafeMutablePointer<Float> {
        let cg = g.groupInChannels, r = t.r
        let size = t.n * g.kH * g.outChannels * cg
        let v = UnsafeMutablePointer<Float>.allocate(capacity: max(size, 1))
        for o in 0..<g.outChannels {
            for c in 0..<cg {
                for kh in 0..<g.kH {
                    let taps = weight + ((o * cg + c) * g.kH + kh) * r
                    for p in 0..<t.n {
                        var total = 0.0
                        for k in 0..<r { total += t.kernel[p * r + k] * Double(taps[k]) }
                        v[((p * g.kH + kh) * g.outChannels + o) * cg + c] = Float(total)
                    }
                }
            }
        }
        return v
    }

    /// Forward convolution into `out` (N, O, T, oH, oW), overwriting it.
    static func forward(_ g: ConvGeometry, x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                        bias: UnsafePointer<Float>?, out: UnsafeMutablePointer<Float>) {
        let t = Transform(m: tileOutputs, r: g.kW)
        let l = Layout(g, t)
        let v = transformWeight(g, t, weight: weight)
        defer { v.deallocate() }
        let cg = g.groupInChannels, og = g.groupOutChannels
        let n = t.n, m = t.m, tiles = l.tiles
        let outFrame = g.outH * g.outW
        let mSize = n * g.outChannels * l.outPlane
        let terms = inputTerms(l), outputTerms = self.outputTerms(g, l)
        ConvolutionKernels.runItems(g.batch * g.outT,
                                    parallel: ConvolutionKernels.work(g) >= ConvolutionKernels.parallelWorkThreshold) {
            _, range, single in
            let buffers = (Scratch(n * g.inChannels * l.inPlane), Scratch(mSize), Scratch(m * l.phaseLength + m * tiles))
            defer { withExtendedLifetime(buffers) {} }
            let u = buffers.0.pointer, acc = buffers.1.pointer, scratch = buffers.2.pointer
            for item in range {
                let nb = item / g.outT, frame = item % g.outT
                transformInput(g, l, terms, x: x, nb: nb, frame: frame, u: u, phases: scratch)
                for p in 0..<n {
                    for kh in 0..<g.kH {
                        for group in 0..<g.groups {
                            BLAS.gemm(m: og, n: l.outPlane, k: cg,
                                      a: v + ((p * g.kH + kh) * g.outChannels + group * og) * cg, lda: cg,
                                      b: u + (p * g.inChannels + group * cg) * l.inPlane + kh * g.dH * tiles, ldb: l.inPlane,
                                      beta: kh == 0 ? 0 : 1,
                                      c: acc + (p * g.outChannels + group * og) * l.outPlane, ldc: l.outPlane,
                                      singleThreaded: single)
                        }
                    }
                }
                transformOutput(g, l, outputTerms, acc: acc, bias: bias,
                                out: out + nb * g.outChannels * g.outVolume + frame * outFrame, scratch: scratch)
            }
        }
    }

    /// Aᵀ as terms over the n planes of M (one output channel's rows `n · O · oH · T` apart).
    static func outputTerms(_ g: ConvGeometry, _ l: Layout) -> Terms {
        let t = l.t, pointStride = g.outChannels * l.outPlane
        return Terms(rows: t.m, columns: t.n, matrix: { t.outputT[$0 * t.n + $1] }, offset: { $0 * pointStride },
                     pairing: false)
    }

    /// y[o, oh, tile·m + i] = Σ_p Aᵀ[i, p] · M_p[o, oh·T + tile] + bias[o] for one frame
    /// (`out` at the frame's first element of channel 0; channels `outVolume` apart).
    static func transformOutput(_ g: ConvGeometry, _ l: Layout, _ terms: Terms, acc: UnsafePointer<Float>,
                                bias: UnsafePointer<Float>?, out: UnsafeMutablePointer<Float>,
                                scratch: UnsafeMutablePointer<Float>) {
        let m = l.t.m, tiles = l.tiles
        for o in 0..<g.outChannels {
            let b = bias?[o] ?? 0
            for oh in 0..<g.outH {
                combine(terms, rows: m, source: acc + o * l.outPlane + oh * tiles, count: tiles, initial: b) {
                    scratch + $0 * tiles
                }
                let row = out + o * g.outVolume + oh * g.outW
                for i in 0..<m {
                    let src = scratch + i * tiles
                    var k = 0, w = i
                    while w < g.outW { row[w] = src[k]; k += 1; w += m }
                }
            }
        }
    }

    /// Weight gradient, overwriting `gradWeight` (O, Cg, 1, kH, kW).
    static func weightGradient(_ g: ConvGeometry, x: UnsafePointer<Float>, gradOut: UnsafePointer<Float>,
                               gradWeight: UnsafeMutablePointer<Float>) {
        let t = Transform(m: tileOutputs, r: g.kW)
        let l = Layout(g, t)
        let cg = g.groupInChannels, og = g.groupOutChannels
        let n = t.n, m = t.m, tiles = l.tiles
        let outFrame = g.outH * g.outW
        let items = g.batch * g.outT
        let parallel = ConvolutionKernels.work(g) >= ConvolutionKernels.parallelWorkThreshold
        let slots = max(1, ConvolutionKernels.pieces(items, parallel: parallel).count)
        // dV (n, kH, O, Cg) per piece, summed in piece order (deterministic).
        let size = n * g.kH * g.outChannels * cg
        let terms = inputTerms(l), gradientTerms = self.gradientTerms(l)
        let dv = UnsafeMutablePointer<Float>.allocate(capacity: size * slots)
        dv.initialize(repeating: 0, count: size * slots)
        defer { dv.deallocate() }
        ConvolutionKernels.runItems(items, parallel: parallel) { piece, range, single in
            let buffers = (Scratch(n * g.inChannels * l.inPlane), Scratch(n * g.outChannels * l.outPlane),
                           Scratch(m * l.phaseLength + m * tiles))
            defer { withExtendedLifetime(buffers) {} }
            let u = buffers.0.pointer, dm = buffers.1.pointer, scratch = buffers.2.pointer
            let mine = dv + piece * size
            for item in range {
                let nb = item / g.outT, frame = item % g.outT
                transformGradient(g, l, gradientTerms, gradOut: gradOut + nb * g.outChannels * g.outVolume + frame * outFrame,
                                  dm: dm, scratch: scratch)
                transformInput(g, l, terms, x: x, nb: nb, frame: frame, u: u, phases: scratch)
                for p in 0..<n {
                    for kh in 0..<g.kH {
                        for group in 0..<g.groups {
                            BLAS.gemm(transB: true, m: og, n: cg, k: l.outPlane,
                                      a: dm + (p * g.outChannels + group * og) * l.outPlane, lda: l.outPlane,
                                      b: u + (p * g.inChannels + group * cg) * l.inPlane + kh * g.dH * tiles, ldb: l.inPlane,
                                      beta: 1, c: mine + ((p * g.kH + kh) * g.outChannels + group * og) * cg, ldc: cg,
                                      singleThreaded: single)
                        }
                    }
                }
            }
        }
        for piece in 1..<slots {
            let other = dv + piece * size
            for i in 0..<size { dv[i] += other[i] }
        }
        // dw[o, c, kh, kw] = Σ_p G[p, kw] · dV_p[kh, o, c].
        let r = t.r
        for o in 0..<g.outChannels {
            for c in 0..<cg {
                for kh in 0..<g.kH {
                    let dst = gradWeight + ((o * cg + c) * g.kH + kh) * r
                    for k in 0..<r {
                        var total = 0.0
                        for p in 0..<n { total += t.kernel[p * r + k] * Double(dv[((p * g.kH + kh) * g.outChannels + o) * cg + c]) }
                        dst[k] = Float(total)
                    }
                }
            }
        }
    }

    /// A (n × m) as terms over the m phases of an output-gradient row (`tiles` apart).
    static func gradientTerms(_ l: Layout) -> Terms {
        let t = l.t
        return Terms(rows: t.n, columns: t.m, matrix: { t.outputT[$1 * t.n + $0] }, offset: { $0 * l.tiles },
                     pairing: true)
    }

    /// dM_p[o, oh·T + tile] = Σ_i Aᵀ[i, p] · dy[o, oh, tile·m + i] (zero past the row's end) for one frame.
    static func transformGradient(_ g: ConvGeometry, _ l: Layout, _ terms: Terms, gradOut: UnsafePointer<Float>,
                                  dm: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>) {
        let m = l.t.m, n = l.t.n, tiles = l.tiles
        let pointStride = g.outChannels * l.outPlane
        for o in 0..<g.outChannels {
            for oh in 0..<g.outH {
                let row = gradOut + o * g.outVolume + oh * g.outW
                // Phases: scratch[i · tiles + k] = dy[k·m + i], zero past the row's end.
                for i in 0..<m {
                    let dst = scratch + i * tiles
                    var k = 0, w = i
                    while w < g.outW { dst[k] = row[w]; k += 1; w += m }
                    while k < tiles { dst[k] = 0; k += 1 }
                }
                let base = dm + o * l.outPlane + oh * tiles
                combine(terms, rows: n, source: scratch, count: tiles, initial: 0) { base + $0 * pointStride }
            }
        }
    }
}
