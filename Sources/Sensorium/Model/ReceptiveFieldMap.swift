import Foundation
import SensoriumTensor
import SensoriumData
internal import COpenBLAS

/// Receptive-field centres estimated from data, before any training: the correlation of each
/// neuron's response with the local contrast energy of the frames a few frames earlier.
///
/// A classic mapping method (reverse correlation with an energy stimulus representation): every
/// frame of the normalised training videos becomes a coarse map of local contrast energy
/// (difference-of-Gaussians band pass, squared, blurred, pooled `pooling × pooling`), averaged
/// over `lags`; one GEMM then gives, for every neuron, the correlation of its response with the
/// energy at every map position. The smoothed map's peak is the neuron's centre. Simple and complex cells both
/// respond to local contrast in their receptive field, so the peak marks the field whatever the
/// neuron's preferred orientation and phase.
///
/// ``VideoModel`` uses it to start Gaussian readouts at the receptive fields instead of at random
/// positions (``VideoModelConfiguration/readoutPositionInitialization``).
public struct ReceptiveFieldMap: Sendable {
    /// The options of the estimate.
    public struct Options: Sendable, Codable, Equatable {
        /// Response frames are correlated with the energy of the frames `lags` earlier (averaged).
        public var lags: ClosedRange<Int>
        /// Side of the square pixel blocks the energy map is pooled over.
        public var pooling: Int
        /// Standard deviations (pixels) of the difference of Gaussians that defines the band.
        public var centerSigma: Double, surroundSigma: Double
        /// Standard deviation (pixels) of the blur applied to the squared band-passed frame.
        public var energySigma: Double
        /// At most this many training trials are read (all of them when nil).
        public var maximumTrials: Int?

        /// The defaults suit 36 × 64 frames at 30 Hz and calcium responses (on the synthetic mice
        /// they place a quadratic retinotopic map through the reliable centres within about one
        /// pixel of the true centres).
        public init(lags: ClosedRange<Int> = 3...7, pooling: Int = 2, centerSigma: Double = 1.5, surroundSigma: Double = 4,
                    energySigma: Double = 4, maximumTrials: Int? = nil) {
            self.lags = lags
            self.pooling = pooling
            self.centerSigma = centerSigma
            self.surroundSigma = surroundSigma
            self.energySigma = energySigma
            self.maximumTrials = maximumTrials
        }

        private enum CodingKeys: String, CodingKey {
            case lags, pooling, centerSigma, surroundSigma, energySigma, maximumTrials
        }

        /// Every key optional (missing keys keep the defaults).
        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            let d = Options()
            lags = try c.decodeIfPresent(ClosedRange<Int>.self, forKey: .lags) ?? d.lags
            pooling = try c.decodeIfPresent(Int.self, forKey: .pooling) ?? d.pooling
            centerSigma = try c.decodeIfPresent(Double.self, forKey: .centerSigma) ?? d.centerSigma
            surroundSigma = try c.decodeIfPresent(Double.self, forKey: .surroundSigma) ?? d.surroundSigma
            energySigma = try c.decodeIfPresent(Double.self, forKey: .energySigma) ?? d.energySigma
            maximumTrials = try c.decodeIfPresent(Int.self, forKey: .maximumTrials)
        }
    }

    /// Frame size the centres refer to.
    public let height: Int, width: Int
    /// Centre of every neuron in frame pixels: row (0 at the top) and column, sub-pixel.
    public let rows: [Double], columns: [Double]
    /// The peak correlation of every neuron's smoothed map.
    public let peakCorrelation: [Double]
    /// The peak over the map's robust noise level (median absolute deviation × 1.4826): how
    /// clearly the neuron's field stands out. Below about 4 the centre is unreliable.
    public let significance: [Double]
    /// Number of frames the estimate used.
    public let frames: Int

    /// Number of neurons.
    public var neuronCount: Int { rows.count }

    /// Estimates the centres of every neuron of `dataset` from its training trials (the dataset
    /// should normalise; raw videos work too since the energy is computed per frame).
    public static func estimate(dataset: MouseDataset, tier: MouseTier = .train, options: Options = Options()) throws -> ReceptiveFieldMap {
        var trials = dataset.trials(in: tier)
        if let m = options.maximumTrials { trials = Array(trials.prefix(m)) }
        guard !trials.isEmpty else {
            throw SensoriumError.incompatibleData("receptive-field mapping: mouse \(dataset.name) has no \(tier.rawValue) trials")
        }
        var accumulator = try Accumulator(height: dataset.frameHeight, width: dataset.frameWidth,
                                          neurons: dataset.neuronCount, options: options)
        for trial in trials {
            let t = try dataset.readTrial(trial)
            accumulator.add(video: t.video, responses: t.responses, length: t.length)
        }
        guard let map = accumulator.finish() else {
            throw SensoriumError.incompatibleData("receptive-field mapping: the \(tier.rawValue) trials of mouse \(dataset.name) are shorter than the largest lag (\(options.lags.upperBound) frames)")
        }
        return map
    }

    /// Collects the correlations trial by trial: (P, N) cross products over frames of the lagged
    /// energy and the responses, both centred within the trial (trial-level changes of gain or
    /// contrast do not count), and their sums of squares.
    struct Accumulator {
        let options: Options
        let height: Int, width: Int, neurons: Int
        let energy: EnergyMap
        var cross: [Float]
        var sxx: [Double], syy: [Double]
        var frames = 0

        init(height: Int, width: Int, neurons: Int, options: Options) throws {
            guard options.lags.lowerBound >= 0, options.pooling >= 1, options.centerSigma > 0,
                  options.surroundSigma > options.centerSigma, options.energySigma > 0,
                  height >= options.pooling, width >= options.pooling, neurons > 0 else {
                throw SensoriumError.incompatibleData("receptive-field mapping: invalid options \(options) for \(neurons) neurons and \(height) × \(width) frames")
            }
            self.options = options
            self.height = height
            self.width = width
            self.neurons = neurons
            energy = EnergyMap(height: height, width: width, pooling: options.pooling, centerSigma: options.centerSigma,
                               surroundSigma: options.surroundSigma, energySigma: options.energySigma)
            cross = [Float](repeating: 0, count: energy.count * neurons)
            sxx = [Double](repeating: 0, count: energy.count)
            syy = [Double](repeating: 0, count: neurons)
        }

        /// Adds one trial: `video` (length, H·W), `responses` (length, neurons).
        mutating func add(video: [Float], responses: [Float], length: Int) {
            let p = energy.count, n = neurons, maxLag = options.lags.upperBound
            let count = length - maxLag
            guard count > 1 else { return }
            let perFrame = energy.compute(video: video, frames: length)
            // x[f] = mean over lags of energy[f + maxLag − lag]; y[f] = responses[f + maxLag].
            var x = [Float](repeating: 0, count: count * p)
            let scale = 1 / Float(options.lags.count)
            for f in 0..<count {
                for lag in options.lags {
                    let src = (f + maxLag - lag) * p
                    for j in 0..<p { x[f * p + j] += perFrame[src + j] * scale }
                }
            }
            var y = Array(responses[(maxLag * n)..<(length * n)])
            ReceptiveFieldMap.center(&x, rows: count, columns: p)
            ReceptiveFieldMap.center(&y, rows: count, columns: n)
            for f in 0..<count {
                for j in 0..<p { sxx[j] += Double(x[f * p + j] * x[f * p + j]) }
                for j in 0..<n { syy[j] += Double(y[f * n + j] * y[f * n + j]) }
            }
            x.withUnsafeBufferPointer { xb in
                y.withUnsafeBufferPointer { yb in
                    cross.withUnsafeMutableBufferPointer { cb in
                        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(p), Int32(n), Int32(count),
                                    1, xb.baseAddress, Int32(p), yb.baseAddress, Int32(n), 1, cb.baseAddress, Int32(n))
                    }
                }
            }
            frames += count
        }

        /// The map, or nil when no trial was longer than the largest lag.
        func finish() -> ReceptiveFieldMap? {
            guard frames > 0 else { return nil }
            let p = energy.count, n = neurons
            var rows = [Double](repeating: 0, count: n), columns = rows, peaks = rows, significance = rows
            var map = [Double](repeating: 0, count: p)
            for neuron in 0..<n {
                for j in 0..<p {
                    let d = (sxx[j] * syy[neuron]).squareRoot()
                    map[j] = d > 0 ? Double(cross[j * n + neuron]) / d : 0
                }
                let smooth = energy.smoothPooled(map)
                let peak = ReceptiveFieldMap.peak(smooth, rows: energy.rows, columns: energy.columns)
                (rows[neuron], columns[neuron]) = energy.pixel(row: peak.row, column: peak.column)
                peaks[neuron] = peak.value
                let median = ReceptiveFieldMap.median(smooth)
                let mad = ReceptiveFieldMap.median(smooth.map { abs($0 - median) }) * 1.4826
                significance[neuron] = mad > 0 ? (peak.value - median) / mad : 0
            }
            return ReceptiveFieldMap(height: height, width: width, rows: rows, columns: columns, peakCorrelation: peaks,
                                     significance: significance, frames: frames)
        }
    }

    /// Subtracts every column's mean from a row-major (rows, columns) array.
    private static func center(_ a: inout [Float], rows: Int, columns: Int) {
        var mean = [Double](repeating: 0, count: columns)
        for r in 0..<rows { for c in 0..<columns { mean[c] += Double(a[r * columns + c]) } }
        let m = mean.map { Float($0 / Double(rows)) }
        for r in 0..<rows { for c in 0..<columns { a[r * columns + c] -= m[c] } }
    }

    /// The maximum of a (rows, columns) map, refined to sub-cell precision by a parabola through
    /// the peak and its neighbours along each axis.
    private static func peak(_ map: [Double], rows: Int, columns: Int) -> (row: Double, column: Double, value: Double) {
        var best = 0
        for i in map.indices where map[i] > map[best] { best = i }
        let r = best / columns, c = best % columns
        func refine(_ minus: Double?, _ center: Double, _ plus: Double?) -> Double {
            guard let minus, let plus else { return 0 }
            let curvature = minus - 2 * center + plus
            guard curvature < 0 else { return 0 }
            return min(0.5, max(-0.5, 0.5 * (minus - plus) / curvature))
        }
        let dr = refine(r > 0 ? map[best - columns] : nil, map[best], r < rows - 1 ? map[best + columns] : nil)
        let dc = refine(c > 0 ? map[best - 1] : nil, map[best], c < columns - 1 ? map[best + 1] : nil)
        return (Double(r) + dr, Double(c) + dc, map[best])
    }

    private static func median(_ values: [Double]) -> Double {
        let s = values.sorted()
        guard !s.isEmpty else { return 0 }
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }
}

/// Local contrast energy of frames on a pooled grid: `blur_e((blur_c(x) − blur_s(x))²)` averaged
/// over `pooling × pooling` blocks (blurs: separable Gaussians, edges clamped).
///
/// Every blur is a banded matrix with the clamped edges folded in, applied to a whole trial at
/// once: along rows as (H × H) · (H × T·W) with the frames laid out (H, T, W), along columns as
/// (H·T × W) · (W × W)ᵀ — six GEMMs per trial.
struct EnergyMap {
    let height: Int, width: Int, pooling: Int
    let rows: Int, columns: Int
    /// Blur matrices (out × in, row-major) along the frame's height and width.
    let centerH: [Float], surroundH: [Float], energyH: [Float]
    let centerW: [Float], surroundW: [Float], energyW: [Float]

    init(height: Int, width: Int, pooling: Int, centerSigma: Double, surroundSigma: Double, energySigma: Double) {
        self.height = height
        self.width = width
        self.pooling = pooling
        rows = height / pooling
        columns = width / pooling
        centerH = Self.blurMatrix(size: height, sigma: centerSigma)
        surroundH = Self.blurMatrix(size: height, sigma: surroundSigma)
        energyH = Self.blurMatrix(size: height, sigma: energySigma)
        centerW = Self.blurMatrix(size: width, sigma: centerSigma)
        surroundW = Self.blurMatrix(size: width, sigma: surroundSigma)
        energyW = Self.blurMatrix(size: width, sigma: energySigma)
    }

    /// The (size × size) matrix of a normalised Gaussian blur of radius ⌈2.5σ⌉ whose taps beyond
    /// the edges read the edge sample.
    static func blurMatrix(size: Int, sigma: Double) -> [Float] {
        let radius = max(1, Int((2.5 * sigma).rounded(.up)))
        let taps = (-radius...radius).map { Foundation.exp(-Double($0 * $0) / (2 * sigma * sigma)) }
        let total = taps.reduce(0, +)
        var m = [Double](repeating: 0, count: size * size)
        for i in 0..<size {
            for (k, weight) in taps.enumerated() {
                m[i * size + min(size - 1, max(0, i + k - radius))] += weight / total
            }
        }
        return m.map(Float.init)
    }

    /// Cells of the pooled grid.
    var count: Int { rows * columns }

    /// The pooled energy of `frames` frames (frames, H·W) → (frames, rows·columns).
    func compute(video: [Float], frames: Int) -> [Float] {
        let h = height, w = width, n = h * frames * w
        guard frames > 0 else { return [] }
        // (T, H, W) → (H, T, W): the height blurs become one (H × H) · (H × T·W) product.
        var x = [Float](repeating: 0, count: n)
        video.withUnsafeBufferPointer { v in
            x.withUnsafeMutableBufferPointer { t in
                for f in 0..<frames {
                    for i in 0..<h {
                        (t.baseAddress! + (i * frames + f) * w).update(from: v.baseAddress! + (f * h + i) * w, count: w)
                    }
                }
            }
        }
        var a = [Float](repeating: 0, count: n), b = a, c = a
        // Band pass: blur_c(x) − blur_s(x), height then width.
        Self.multiply(centerH, x, into: &a, m: h, n: frames * w, k: h)
        Self.multiply(a, transposed: centerW, into: &c, m: h * frames, n: w, k: w)
        Self.multiply(surroundH, x, into: &a, m: h, n: frames * w, k: h)
        Self.multiply(a, transposed: surroundW, into: &b, m: h * frames, n: w, k: w)
        for i in 0..<n {
            let d = c[i] - b[i]
            c[i] = d * d
        }
        // Energy blur of the squared band.
        Self.multiply(energyH, c, into: &a, m: h, n: frames * w, k: h)
        Self.multiply(a, transposed: energyW, into: &b, m: h * frames, n: w, k: w)
        // Pool (H, T, W) into (T, rows · columns).
        var out = [Float](repeating: 0, count: frames * count)
        let inverse = 1 / Float(pooling * pooling)
        for r in 0..<rows {
            for dr in 0..<pooling {
                let i = r * pooling + dr
                for f in 0..<frames {
                    let row = (i * frames + f) * w, cell = f * count + r * columns
                    for col in 0..<columns {
                        var sum: Float = 0
                        for dc in 0..<pooling { sum += b[row + col * pooling + dc] }
                        out[cell + col] += sum * inverse
                    }
                }
            }
        }
        return out
    }

    /// `out (m × n) = a (m × k) · b (k × n)`, row-major.
    private static func multiply(_ a: [Float], _ b: [Float], into out: inout [Float], m: Int, n: Int, k: Int) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(m), Int32(n), Int32(k),
                    1, a, Int32(k), b, Int32(n), 0, &out, Int32(n))
    }

    /// `out (m × n) = a (m × k) · bᵀ` for `b` (n × k), row-major.
    private static func multiply(_ a: [Float], transposed b: [Float], into out: inout [Float], m: Int, n: Int, k: Int) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(m), Int32(n), Int32(k),
                    1, a, Int32(k), b, Int32(k), 0, &out, Int32(n))
    }

    /// A 3 × 3 binomial smoothing of a pooled map (edges clamped).
    func smoothPooled(_ map: [Double]) -> [Double] {
        let weights: [Double] = [0.25, 0.5, 0.25]
        var tmp = map, out = map
        for r in 0..<rows {
            for c in 0..<columns {
                var s = 0.0
                for k in 0..<3 { s += weights[k] * map[r * columns + min(columns - 1, max(0, c + k - 1))] }
                tmp[r * columns + c] = s
            }
        }
        for r in 0..<rows {
            for c in 0..<columns {
                var s = 0.0
                for k in 0..<3 { s += weights[k] * tmp[min(rows - 1, max(0, r + k - 1)) * columns + c] }
                out[r * columns + c] = s
            }
        }
        return out
    }

    /// The frame pixel (row, column) at the centre of pooled cell (row, column).
    func pixel(row: Double, column: Double) -> (Double, Double) {
        let half = Double(pooling - 1) / 2
        return (row * Double(pooling) + half, column * Double(pooling) + half)
    }
}
