/// The reference normalisation (neuralpredictors `NeuroNormalizer`, statistics source `all`),
/// applied to raw NaN-padded arrays in their on-disk (rows, T) layout:
///
/// - videos: `(x − mean) / std`
/// - responses: `x · precision`, `precision = 1/std` where `std > 0.01·nanmean(std)`, else
///   `1 / (0.01·nanmean(std))` (NaN std entries get the fallback); the mean over the whole array
/// - behavior: `x / std` (`x · (1/std)`, no centering); `(x − mean) / std` with `centerBehavior`
/// - pupil_center: `(x − mean) / std`
///
/// Options (ViV1T, `transform_mode` 2): videos `(x − min) / (max − min)` or the released code's
/// `(x − mean) / (std − mean)` (``VideoNormalization``); behaviour and pupil centre
/// `(x − min) / (max − min)` (`minMaxBehavior`). The denominator is computed first in the
/// statistics' dtype, as NumPy does.
///
/// Arithmetic follows NumPy's type rules: when the data and the statistics are both float32
/// (the usual case) every operation is done in Float exactly as NumPy does it, including the
/// pairwise summation inside `nanmean`; when either is float64 the operations run in Double and
/// the result is rounded to Float at the end (as the reference's `ToTensor` does).
struct TrialNormalizer: Sendable {
    enum Operation: Sendable {
        case identity
        case subtractDivide(mean: StatisticView, std: StatisticView)
        case multiply(StatisticView)
    }

    let operations: [MouseField: Operation]

    /// An identity normaliser (raw data).
    static let identity = TrialNormalizer(operations: [:])

    /// Builds the normaliser from the raw statistics, checking that the needed files exist and
    /// line up with data of the given shapes. `centerBehavior` also subtracts the behaviour mean.
    static func make(layout: MouseLayout, statistics: [MouseField: [String: LoadedArray]],
                     dataShapes: [MouseField: [Int]], centerBehavior: Bool = false,
                     videoNormalization: VideoNormalization = .standard, minMaxBehavior: Bool = false) throws -> TrialNormalizer {
        var ops: [MouseField: Operation] = [:]
        func need(_ field: MouseField, _ name: String) throws -> LoadedArray {
            guard let a = statistics[field]?[name] else {
                throw DataError(.missingFile, path: layout.statisticFile(field, name),
                                     expected: "the \(name) statistic of \(field.folderName) (needed for normalisation)",
                                     found: "no such file")
            }
            try ValueChecks.checkStatistic(a, field: field, name: name)
            return a
        }
        for field in MouseField.allCases {
            guard let shape = dataShapes[field] else { continue }
            let what = "\(field.folderName) statistic"
            // (x − a) / (b − a) with the named statistics a, b (min-max scaling and ViV1T's variant).
            func shifted(_ a: String, _ b: String) throws -> Operation {
                let low = try need(field, a), high = try need(field, b)
                let range = try difference(high, low)
                return .subtractDivide(mean: try StatisticView.make(low, dataShape: shape, what: what),
                                       std: try StatisticView.make(range, dataShape: shape, what: what))
            }
            switch field {
            case .videos where videoNormalization == .minMax:
                ops[field] = try shifted("min", "max")
            case .videos where videoNormalization == .viv1tMeanStd:
                ops[field] = try shifted("mean", "std")
            case .behavior where minMaxBehavior, .pupilCenter where minMaxBehavior:
                ops[field] = try shifted("min", "max")
            case .behavior where centerBehavior, .videos, .pupilCenter:
                let mean = try StatisticView.make(try need(field, "mean"), dataShape: shape, what: what)
                let std = try StatisticView.make(try need(field, "std"), dataShape: shape, what: what)
                ops[field] = .subtractDivide(mean: mean, std: std)
            case .responses:
                let std = try need(field, "std")
                let precision = LoadedArray(path: std.path, shape: std.shape, values: responsePrecision(std.values), descr: std.descr)
                ops[field] = .multiply(try StatisticView.make(precision, dataShape: shape, what: what))
            case .behavior:
                let std = try need(field, "std")
                let precision: NumericValues
                switch std.values {
                case .float(let s): precision = .float(s.map { 1 / $0 })
                case .double(let s): precision = .double(s.map { 1 / $0 })
                }
                let p = LoadedArray(path: std.path, shape: std.shape, values: precision, descr: std.descr)
                ops[field] = .multiply(try StatisticView.make(p, dataShape: shape, what: what))
            }
        }
        return TrialNormalizer(operations: ops)
    }

    /// `b − a` elementwise (same shape), in Float when both are float32, else in Double (NumPy's
    /// promotion); named after `b`'s file.
    static func difference(_ b: LoadedArray, _ a: LoadedArray) throws -> LoadedArray {
        guard a.shape == b.shape else {
            throw DataError(.inconsistent, path: b.path, expected: "the shape of \(a.path), \(MouseFiles.describe(a.shape))",
                                 found: MouseFiles.describe(b.shape))
        }
        switch (b.values, a.values) {
        case (.float(let y), .float(let x)):
            return LoadedArray(path: b.path, shape: b.shape, values: .float(zip(y, x).map { $0 - $1 }), descr: b.descr)
        default:
            let y = b.values.doubles, x = a.values.doubles
            return LoadedArray(path: b.path, shape: b.shape, values: .double(zip(y, x).map { $0 - $1 }), descr: "<f8")
        }
    }

    /// The response precision of the reference, in the dtype of `std`.
    static func responsePrecision(_ std: NumericValues) -> NumericValues {
        switch std {
        case .float(let s):
            let mean = nanMean(s)
            let threshold = Float(0.01) * mean
            return .float(s.map { $0 > threshold ? 1 / $0 : 1 / threshold })
        case .double(let s):
            let mean = nanMean(s)
            let threshold = 0.01 * mean
            return .double(s.map { $0 > threshold ? 1 / $0 : 1 / threshold })
        }
    }

    /// `np.nanmean` of a float32 array, bit-exact: NaNs replaced by 0, NumPy's pairwise sum in
    /// Float, divided by the count (in Double, rounded back to Float).
    static func nanMean(_ values: [Float]) -> Float {
        var count = 0
        let replaced = values.map { v -> Float in
            if v.isNaN { return 0 }
            count += 1
            return v
        }
        let total = replaced.withUnsafeBufferPointer { pairwiseSum($0.baseAddress!, $0.count) }
        return Float(Double(total) / Double(count))
    }

    /// `np.nanmean` of a float64 array.
    static func nanMean(_ values: [Double]) -> Double {
        var count = 0
        let replaced = values.map { v -> Double in
            if v.isNaN { return 0 }
            count += 1
            return v
        }
        let total = replaced.withUnsafeBufferPointer { pairwiseSum($0.baseAddress!, $0.count) }
        return total / Double(count)
    }

    /// NumPy's pairwise summation (`pairwise_sum` in loops_utils), reproduced exactly.
    static func pairwiseSum<T: BinaryFloatingPoint>(_ a: UnsafePointer<T>, _ n: Int) -> T {
        if n < 8 {
            var r: T = 0
            for i in 0..<n { r += a[i] }
            return r
        } else if n <= 128 {
            var r0 = a[0], r1 = a[1], r2 = a[2], r3 = a[3], r4 = a[4], r5 = a[5], r6 = a[6], r7 = a[7]
            var i = 8
            while i < n - (n % 8) {
                r0 += a[i]; r1 += a[i + 1]; r2 += a[i + 2]; r3 += a[i + 3]
                r4 += a[i + 4]; r5 += a[i + 5]; r6 += a[i + 6]; r7 += a[i + 7]
                i += 8
            }
            var res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
            while i < n { res += a[i]; i += 1 }
            return res
        } else {
            var n2 = n / 2
            n2 -= n2 % 8
            return pairwiseSum(a, n2) + pairwiseSum(a + n2, n - n2)
        }
    }

    /// Normalises one field given as (rows, T) values in C order. The result is (rows, W) for the
    /// frames of `window` (all frames when nil), W = the window's length.
    func apply(_ field: MouseField, values: NumericValues, rows: Int, frames: Int, window: Range<Int>? = nil) -> [Float] {
        let op = operations[field] ?? .identity
        let w = window ?? 0..<frames
        precondition(w.lowerBound >= 0 && w.upperBound <= frames, "TrialNormalizer.apply: window \(w) outside \(frames) frames")
        let g = Geometry(rows: rows, frames: frames, start: w.lowerBound, width: w.count)
        var out = [Float](repeating: 0, count: rows * w.count)
        out.withUnsafeMutableBufferPointer { o in
            let o = o.baseAddress!
            switch (op, values) {
            case (.identity, .float(let x)):
                for r in 0..<rows { for k in 0..<g.width { o[r * g.width + k] = x[r * frames + g.start + k] } }
            case (.identity, .double(let x)):
                for r in 0..<rows { for k in 0..<g.width { o[r * g.width + k] = Float(x[r * frames + g.start + k]) } }
            case (.subtractDivide(let mean, let std), .float(let x)):
                if case .float(let m) = mean.values, case .float(let s) = std.values {
                    Self.subtractDivideFloat(x, m, s, mean, std, g, o)
                } else {
                    Self.subtractDivideDouble(values.doubles, mean.values.doubles, std.values.doubles, mean, std, g, o)
                }
            case (.subtractDivide(let mean, let std), .double(let x)):
                Self.subtractDivideDouble(x, mean.values.doubles, std.values.doubles, mean, std, g, o)
            case (.multiply(let factor), .float(let x)):
                if case .float(let f) = factor.values {
                    Self.multiplyFloat(x, f, factor, g, o)
                } else {
                    Self.multiplyDouble(values.doubles, factor.values.doubles, factor, g, o)
                }
            case (.multiply(let factor), .double(let x)):
                Self.multiplyDouble(x, factor.values.doubles, factor, g, o)
            }
        }
        return out
    }

    /// Input (rows, frames); output frames `start ..< start + width`.
    struct Geometry {
        let rows: Int, frames: Int, start: Int, width: Int
        /// Output frames `0 ..< computed(covered)` have statistics; the rest are NaN.
        func computed(_ covered: Int) -> Int { max(0, min(width, covered - start)) }
    }

    private static func subtractDivideFloat(_ x: [Float], _ m: [Float], _ s: [Float], _ mv: StatisticView, _ sv: StatisticView,
                                            _ g: Geometry, _ o: UnsafeMutablePointer<Float>) {
        let n = g.computed(min(g.frames, mv.timeLength, sv.timeLength))
        x.withUnsafeBufferPointer { xp in
            m.withUnsafeBufferPointer { mp in
                s.withUnsafeBufferPointer { sp in
                    let ms = mv.timeStride, ss = sv.timeStride
                    for r in 0..<g.rows {
                        let xr = xp.baseAddress! + r * g.frames + g.start
                        let mr = mp.baseAddress! + mv.rowOffset[r] + g.start * ms
                        let sr = sp.baseAddress! + sv.rowOffset[r] + g.start * ss
                        let orow = o + r * g.width
                        // Unit and zero strides (per-frame or per-row statistics) get loops the
                        // compiler vectorises; same operations, same results.
                        if ms == 1 && ss == 1 {
                            for k in 0..<n { orow[k] = (xr[k] - mr[k]) / sr[k] }
                        } else if ms == 0 && ss == 0 && n > 0 {
                            let m0 = mr[0], s0 = sr[0]
                            for k in 0..<n { orow[k] = (xr[k] - m0) / s0 }
                        } else {
                            for k in 0..<n { orow[k] = (xr[k] - mr[k * ms]) / sr[k * ss] }
                        }
                        for k in n..<g.width { orow[k] = .nan }
                    }
                }
            }
        }
    }

    private static func subtractDivideDouble(_ x: [Double], _ m: [Double], _ s: [Double], _ mv: StatisticView, _ sv: StatisticView,
                                             _ g: Geometry, _ o: UnsafeMutablePointer<Float>) {
        let n = g.computed(min(g.frames, mv.timeLength, sv.timeLength))
        for r in 0..<g.rows {
            let xb = r * g.frames, mb = mv.rowOffset[r], sb = sv.rowOffset[r], ob = r * g.width
            for k in 0..<n {
                let t = g.start + k
                o[ob + k] = Float((x[xb + t] - m[mb + t * mv.timeStride]) / s[sb + t * sv.timeStride])
            }
            for k in n..<g.width { o[ob + k] = .nan }
        }
    }

    private static func multiplyFloat(_ x: [Float], _ f: [Float], _ fv: StatisticView,
                                      _ g: Geometry, _ o: UnsafeMutablePointer<Float>) {
        let n = g.computed(min(g.frames, fv.timeLength))
        x.withUnsafeBufferPointer { xp in
            f.withUnsafeBufferPointer { fp in
                let fs = fv.timeStride
                for r in 0..<g.rows {
                    let xr = xp.baseAddress! + r * g.frames + g.start
                    let fr = fp.baseAddress! + fv.rowOffset[r] + g.start * fs
                    let orow = o + r * g.width
                    if fs == 1 {
                        for k in 0..<n { orow[k] = xr[k] * fr[k] }
                    } else if fs == 0 && n > 0 {
                        let f0 = fr[0]
                        for k in 0..<n { orow[k] = xr[k] * f0 }
                    } else {
                        for k in 0..<n { orow[k] = xr[k] * fr[k * fs] }
                    }
                    for k in n..<g.width { orow[k] = .nan }
                }
            }
        }
    }

    private static func multiplyDouble(_ x: [Double], _ f: [Double], _ fv: StatisticView,
                                       _ g: Geometry, _ o: UnsafeMutablePointer<Float>) {
        let n = g.computed(min(g.frames, fv.timeLength))
        for r in 0..<g.rows {
            let xb = r * g.frames, fb = fv.rowOffset[r], ob = r * g.width
            for k in 0..<n {
                let t = g.start + k
                o[ob + k] = Float(x[xb + t] * f[fb + t * fv.timeStride])
            }
            for k in n..<g.width { o[ob + k] = .nan }
        }
    }

    // MARK: Predicting where normalised values are NaN

    /// The first frame at which the statistics of `field` alone make normalised values NaN
    /// (`Int.max` when never): a NaN mean, std or precision, or a frame beyond per-frame statistics.
    func statisticsNaNFrame(_ field: MouseField) -> Int {
        switch operations[field] ?? .identity {
        case .identity: return .max
        case .subtractDivide(let mean, let std): return min(Self.firstNaN(mean), Self.firstNaN(std))
        case .multiply(let factor): return Self.firstNaN(factor)
        }
    }

    /// Whether a normalised value of `field` is NaN exactly when its raw value is NaN or its
    /// statistics are (no 0/0, 0·∞ or ∞−∞ possible: means finite, stds and factors finite and non-zero).
    func nanFollowsRawAndStatistics(_ field: MouseField) -> Bool {
        func ok(_ v: NumericValues, nonZero: Bool) -> Bool {
            v.doubles.allSatisfy { $0.isNaN || ($0.isFinite && (!nonZero || $0 != 0)) }
        }
        switch operations[field] ?? .identity {
        case .identity: return true
        case .subtractDivide(let mean, let std): return ok(mean.values, nonZero: false) && ok(std.values, nonZero: true)
        case .multiply(let factor): return ok(factor.values, nonZero: true)
        }
    }

    static func firstNaN(_ view: StatisticView) -> Int {
        let values = view.values.doubles
        if view.timeStride == 0 {
            return view.rowOffset.contains { values[$0].isNaN } ? 0 : .max
        }
        var best = view.timeLength
        for offset in Set(view.rowOffset) {
            var t = 0
            while t < best {
                if values[offset + t].isNaN { best = t; break }
                t += 1
            }
        }
        return best
    }
}
