import Foundation
import SensoriumTensor
internal import COpenBLAS

/// Ground-truth parameters of one synthetic neuron.
struct SyntheticNeuron: Sendable {
    /// Cortical position (microns): x, y in the imaging plane, z depth.
    var x: Double, y: Double, z: Double
    /// Receptive-field centre in pixels (row, column) and in the readout's normalised
    /// coordinates (−1…1, align-corners convention).
    var centerRow: Double, centerColumn: Double
    var gridX: Double, gridY: Double
    /// Gabor: orientation (radians), spatial period (pixels), envelope width (pixels), aspect, phase.
    var orientation: Double, period: Double, sigma: Double, aspect: Double, phase: Double
    /// Complex (energy) cell rather than simple (linear-rectified) cell.
    var isComplex: Bool
    /// 0: not direction selective; ±1: prefers one of the two motion directions of its orientation.
    var direction: Int
    /// Peak latency of the temporal kernel (frames).
    var latency: Double
    /// Output nonlinearity: threshold and exponent applied to the normalised drive.
    var threshold: Double, exponent: Double
    /// Spontaneous baseline relative to the mean driven rate.
    var baseline: Double
    /// Mean calcium events per frame, mean event amplitude.
    var eventRate: Double, amplitude: Double
    /// Multiplicative gain: exp(gainRunning · running_z + gainPupil · pupil_z).
    var gainRunning: Double, gainPupil: Double
    /// Calibration: scale of the drive (std for simple, mean for complex cells) and mean of the
    /// nonlinearity's output on natural movies.
    var driveScale: Double = 1, rateScale: Double = 1
}

/// The ground-truth model of a V1 population (see `DataFormat.md`, "The synthetic mouse"):
/// eye-position-shifted stimulus → Gabor quadrature pair per neuron (dot products, one GEMM) →
/// biphasic temporal kernels (two for direction-selective cells) → simple (rectified linear) or
/// complex (energy) combination → threshold-power nonlinearity → behavioural gain → Poisson
/// calcium events with gamma amplitudes → causal exponential calcium smoothing → additive
/// non-negative measurement noise.
final class SyntheticPopulation: @unchecked Sendable {
    static let kernelLength = 10
    static let calciumLength = 8
    static let calciumTau = 2.0
    /// Frames simulated before each trial on a grey screen so that filters and smoothing have history.
    static let preRoll = kernelLength + calciumLength + 6

    let height: Int, width: Int
    private(set) var neurons: [SyntheticNeuron]
    /// (2N, H·W): rows 2n, 2n+1 = even and odd Gabor of neuron n, unit norm, zero mean.
    let filters: [Float]
    /// (N, K) temporal kernels.
    let kernel1: [Float], kernel2: [Float]
    let calcium: [Double]
    /// Pixels of stimulus shift per unit of eye position (horizontal, vertical).
    let eyeGainX: Double, eyeGainY: Double
    /// Std of the additive measurement noise relative to a neuron's mean event activity.
    let noiseFloor: Double

    var count: Int { neurons.count }

    init(count n: Int, height: Int, width: Int, generator g: RandomGenerator, meanEventRate: Double, noiseFloor: Double) {
        self.noiseFloor = noiseFloor
        self.height = height
        self.width = width
        let scale = Double(height) / 36
        // Mouse-level retinotopic map and imaging window.
        let angle = g.uniform(-0.4, 0.4)
        let originX = g.uniform(-200, 200), originY = g.uniform(-200, 200)
        let bend = g.uniform(0.03, 0.09)
        var list: [SyntheticNeuron] = []
        for _ in 0..<n {
            let x = originX + g.uniform(-350, 350), y = originY + g.uniform(-350, 350), z = g.uniform(180, 420)
            let xs = (x - originX) / 350, ys = (y - originY) / 350
            let a = Foundation.cos(angle) * xs - Foundation.sin(angle) * ys
            let b = Foundation.sin(angle) * xs + Foundation.cos(angle) * ys
            let gx = min(0.7, max(-0.7, 0.02 + 0.55 * a + bend * a * a + g.normal(0, 0.03)))
            let gy = min(0.5, max(-0.5, 0.38 * b + 0.05 * a * b + g.normal(0, 0.03)))
            let period = g.logNormal(median: 12, sigma: 0.25) * scale
            let isComplex = g.chance(0.6)
            list.append(SyntheticNeuron(
                x: x, y: y, z: z,
                centerRow: (gy + 1) / 2 * Double(height - 1), centerColumn: (gx + 1) / 2 * Double(width - 1),
                gridX: gx, gridY: gy,
                orientation: g.uniform(0, Double.pi), period: period, sigma: 0.4 * period * g.uniform(0.9, 1.2),
                aspect: g.uniform(0.6, 1.0), phase: g.uniform(0, 2 * Double.pi),
                isComplex: isComplex, direction: g.chance(0.3) ? (g.chance(0.5) ? 1 : -1) : 0,
                latency: g.uniform(2.5, 4.0),
                threshold: isComplex ? g.uniform(0.3, 0.8) : g.uniform(0.0, 0.5), exponent: g.uniform(1.2, 2.0),
                baseline: g.uniform(0.1, 0.3),
                eventRate: meanEventRate * g.logNormal(median: 1, sigma: 0.5) / Foundation.exp(0.125),
                amplitude: g.logNormal(median: 30, sigma: 0.4),
                gainRunning: g.normal(0.3, 0.15), gainPupil: g.normal(0.15, 0.1)))
        }
        neurons = list
        let k = Self.kernelLength
        let hw = height * width
        var f = [Float](repeating: 0, count: 2 * n * hw)
        var k1 = [Float](repeating: 0, count: n * k), k2 = k1
        for (i, nr) in list.enumerated() {
            let (even, odd) = Self.gaborPair(nr, height: height, width: width)
            for p in 0..<hw { f[(2 * i) * hw + p] = even[p]; f[(2 * i + 1) * hw + p] = odd[p] }
            let (h1, h2) = Self.temporalKernels(latency: nr.latency)
            for t in 0..<k { k1[i * k + t] = h1[t]; k2[i * k + t] = h2[t] }
        }
        filters = f
        kernel1 = k1
        kernel2 = k2
        let c = (0..<Self.calciumLength).map { Foundation.exp(-Double($0) / Self.calciumTau) }
        let cs = c.reduce(0, +)
        calcium = c.map { $0 / cs }
        eyeGainX = 0.35 * scale * g.uniform(0.8, 1.2)
        eyeGainY = 0.35 * scale * g.uniform(0.8, 1.2)
    }

    static func gaborPair(_ n: SyntheticNeuron, height: Int, width: Int) -> ([Float], [Float]) {
        let hw = height * width
        var even = [Double](repeating: 0, count: hw), odd = even, env = even
        let c = Foundation.cos(n.orientation), s = Foundation.sin(n.orientation)
        for i in 0..<height {
            for j in 0..<width {
                let dy = Double(i) - n.centerRow, dx = Double(j) - n.centerColumn
                let along = dx * c + dy * s, across = -dx * s + dy * c
                let e = Foundation.exp(-(along * along + n.aspect * n.aspect * across * across) / (2 * n.sigma * n.sigma))
                let arg = 2 * Double.pi * along / n.period + n.phase
                env[i * width + j] = e
                even[i * width + j] = e * Foundation.cos(arg)
                odd[i * width + j] = e * Foundation.sin(arg)
            }
        }
        let envSum = env.reduce(0, +)
        func finish(_ v: [Double]) -> [Float] {
            let dc = v.reduce(0, +) / max(envSum, 1e-12)
            let w = zip(v, env).map { $0 - dc * $1 }
            let norm = max(1e-12, w.reduce(0) { $0 + $1 * $1 }.squareRoot())
            return w.map { Float($0 / norm) }
        }
        return (finish(even), finish(odd))
    }

    static func temporalKernels(latency p: Double) -> ([Float], [Float]) {
        func bump(_ t: Double, _ peak: Double) -> Double {
            let r = t / peak
            return r * r * Foundation.exp(2 * (1 - r))
        }
        let k = kernelLength
        var h1 = (0..<k).map { bump(Double($0), p) - 0.55 * bump(Double($0), 2 * p) }
        var h2 = (0..<k).map { bump(Double($0), 1.6 * p) - 0.55 * bump(Double($0), 3.2 * p) }
        func unit(_ v: inout [Double]) {
            let n = max(1e-12, v.reduce(0) { $0 + $1 * $1 }.squareRoot())
            v = v.map { $0 / n }
        }
        unit(&h1); unit(&h2)
        return (h1.map(Float.init), h2.map(Float.init))
    }

    // MARK: Responses

    /// Converts frames (L, H, W) of grey levels into eye-shifted contrast frames (L, H·W).
    func shiftedContrast(_ video: [Float], frames: Int, eyeX: [Float], eyeY: [Float]) -> [Float] {
        let hw = height * width
        var out = [Float](repeating: 0, count: frames * hw)
        for t in 0..<frames {
            let sy = eyeGainY * (Double(eyeY[t]) - BehaviorSimulator.eyeCenterY)
            let sx = eyeGainX * (Double(eyeX[t]) - BehaviorSimulator.eyeCenterX)
            let fy = Foundation.floor(sy), fx = Foundation.floor(sx)
            let wy = Float(sy - fy), wx = Float(sx - fx)
            let oy = Int(fy), ox = Int(fx)
            for i in 0..<height {
                let i0 = min(height - 1, max(0, i + oy)), i1 = min(height - 1, max(0, i + oy + 1))
                for j in 0..<width {
                    let j0 = min(width - 1, max(0, j + ox)), j1 = min(width - 1, max(0, j + ox + 1))
                    let base = t * hw
                    let v = (video[base + i0 * width + j0] * (1 - wx) + video[base + i0 * width + j1] * wx) * (1 - wy)
                        + (video[base + i1 * width + j0] * (1 - wx) + video[base + i1 * width + j1] * wx) * wy
                    out[base + i * width + j] = (v - 128) / 64
                }
            }
        }
        return out
    }

    /// Gabor projections (L, 2N) of contrast frames (L, H·W).
    func project(_ contrast: [Float], frames: Int) -> [Float] {
        let n2 = 2 * count, hw = height * width
        var out = [Float](repeating: 0, count: frames * n2)
        guard frames > 0 else { return out }
        contrast.withUnsafeBufferPointer { s in
            filters.withUnsafeBufferPointer { f in
                out.withUnsafeMutableBufferPointer { o in
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(frames), Int32(n2), Int32(hw),
                                1, s.baseAddress, Int32(hw), f.baseAddress, Int32(hw), 0, o.baseAddress, Int32(n2))
                }
            }
        }
        return out
    }

    /// The drive before normalisation (linear response for simple cells, energy for complex
    /// cells) of neuron `i` over `preRoll + frames` frames (grey screen during the pre-roll).
    func rawDrive(_ i: Int, projections p: [Float], frames: Int) -> [Double] {
        let k = Self.kernelLength, pre = Self.preRoll, n2 = 2 * count
        let nr = neurons[i]
        let s = Double(nr.direction)
        var out = [Double](repeating: 0, count: pre + frames)
        for t in 0..<frames {
            var e1 = 0.0, o1 = 0.0, e2 = 0.0, o2 = 0.0
            for tau in 0..<min(k, t + 1) {
                let row = (t - tau) * n2
                let a = Double(kernel1[i * k + tau]), b = Double(kernel2[i * k + tau])
                let e = Double(p[row + 2 * i]), o = Double(p[row + 2 * i + 1])
                e1 += a * e; o1 += a * o; e2 += b * e; o2 += b * o
            }
            if nr.isComplex {
                let x = e1 + s * o2, y = o1 - s * e2
                out[pre + t] = (x * x + y * y).squareRoot()
            } else {
                out[pre + t] = e1 + s * o2
            }
        }
        return out
    }

    /// The nonlinearity's output (mean 1 on natural movies after calibration), without gain.
    func normalizedDrive(_ i: Int, raw: [Double]) -> [Double] {
        let nr = neurons[i]
        return raw.map { value in
            let z = value / nr.driveScale - nr.threshold
            return z > 0 ? Foundation.pow(z, nr.exponent) / nr.rateScale : 0
        }
    }

    /// Sets each neuron's drive and rate scales from natural-movie clips with behaviour.
    func calibrate(videos: [[Float]], behaviors: [BehaviorTrace], frames: Int) {
        let pre = Self.preRoll
        var raw: [[Double]] = Array(repeating: [], count: count)
        for (v, b) in zip(videos, behaviors) {
            let contrast = shiftedContrast(v, frames: frames, eyeX: Array(b.eyeX[pre...]), eyeY: Array(b.eyeY[pre...]))
            let p = project(contrast, frames: frames)
            for i in 0..<count {
                // Skip the first kernel length of each clip (filters still filling).
                raw[i].append(contentsOf: rawDrive(i, projections: p, frames: frames)[(pre + Self.kernelLength)...])
            }
        }
        for i in 0..<count {
            let r = raw[i]
            let mean = r.reduce(0, +) / Double(r.count)
            if neurons[i].isComplex {
                neurons[i].driveScale = max(mean, 1e-9)
            } else {
                let v = r.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(r.count)
                neurons[i].driveScale = max(v.squareRoot(), 1e-9)
            }
            neurons[i].rateScale = 1
            let f = normalizedDrive(i, raw: r)
            neurons[i].rateScale = max(f.reduce(0, +) / Double(f.count), 1e-6)
        }
    }

    /// Behavioural gain of neuron `i` at each frame.
    func gain(_ i: Int, behavior b: BehaviorTrace) -> [Double] {
        let nr = neurons[i]
        return (0..<b.pupil.count).map { t in
            let run = (Double(b.running[t]) - BehaviorSimulator.runningMean) / BehaviorSimulator.runningScale
            let pupil = (Double(b.pupil[t]) - BehaviorSimulator.pupilMean) / BehaviorSimulator.pupilScale
            return Foundation.exp(min(2, max(-2, nr.gainRunning * run + nr.gainPupil * pupil)))
        }
    }

    /// Simulates one trial of `frames` frames: noisy responses and noise-free rates, both (N, frames).
    /// `behavior` covers `preRoll + frames` frames; `video` is (frames, H, W).
    func simulate(video: [Float], behavior b: BehaviorTrace, frames: Int, noise g: RandomGenerator) -> (responses: [Float], rates: [Float]) {
        let pre = Self.preRoll, total = pre + frames, j = Self.calciumLength
        let contrast = shiftedContrast(video, frames: frames, eyeX: Array(b.eyeX[pre...]), eyeY: Array(b.eyeY[pre...]))
        let p = project(contrast, frames: frames)
        var responses = [Float](repeating: 0, count: count * frames)
        var rates = [Float](repeating: 0, count: count * frames)
        var events = [Double](repeating: 0, count: total)
        var expected = [Double](repeating: 0, count: total)
        for i in 0..<count {
            let nr = neurons[i]
            let drive = normalizedDrive(i, raw: rawDrive(i, projections: p, frames: frames))
            let gains = gain(i, behavior: b)
            // Measurement noise: exponential (non-negative, mean = std = `floorStd`).
            let floorStd = noiseFloor * nr.amplitude * nr.eventRate
            for t in 0..<total {
                let lambda = nr.eventRate / (1 + nr.baseline) * gains[t] * (nr.baseline + drive[t])
                var x = 0.0
                let count = g.poisson(lambda)
                for _ in 0..<count { x += g.gamma(shape: 2, scale: nr.amplitude / 2) }
                events[t] = x
                expected[t] = nr.amplitude * lambda
            }
            for t in 0..<frames {
                var y = 0.0, r = 0.0
                for k in 0..<j {
                    y += calcium[k] * events[pre + t - k]
                    r += calcium[k] * expected[pre + t - k]
                }
                if floorStd > 0 {
                    y += floorStd * -Foundation.log(max(1e-300, g.uniform(0, 1)))
                    r += floorStd
                }
                responses[i * frames + t] = Float(y)
                rates[i * frames + t] = Float(r)
            }
        }
        return (responses, rates)
    }
}
