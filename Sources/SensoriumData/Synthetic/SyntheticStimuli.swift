import Foundation
import SensoriumTensor

/// A periodic texture with a 1/f amplitude spectrum (equal power per octave), made of random
/// plane waves with integer wave numbers so that it tiles seamlessly; zero mean, unit variance.
struct PinkTexture {
    let size: Int
    var values: [Float]

    /// `orientation`: when given, wave vectors point within `spread` radians of it (oriented noise).
    init(size: Int, components: Int = 160, generator g: RandomGenerator, orientation: Double? = nil, spread: Double = 0.25) {
        self.size = size
        var v = [Float](repeating: 0, count: size * size)
        let fMin = 1.0, fMax = Double(size) * 0.3
        var cx = [Float](repeating: 0, count: size), sx = cx, cy = cx, sy = cx
        var used = 0
        var attempts = 0
        while used < components && attempts < components * 4 {
            attempts += 1
            let f = Foundation.exp(g.uniform(Foundation.log(fMin), Foundation.log(fMax)))
            let theta = orientation.map { $0 + g.uniform(-spread, spread) } ?? g.uniform(0, Double.pi)
            let kx = (f * Foundation.cos(theta)).rounded(), ky = (f * Foundation.sin(theta)).rounded()
            if kx == 0 && ky == 0 { continue }
            let phase = g.uniform(0, 2 * Double.pi)
            for i in 0..<size {
                let ax = 2 * Double.pi * kx * Double(i) / Double(size) + phase
                let ay = 2 * Double.pi * ky * Double(i) / Double(size)
                cx[i] = Float(Foundation.cos(ax)); sx[i] = Float(Foundation.sin(ax))
                cy[i] = Float(Foundation.cos(ay)); sy[i] = Float(Foundation.sin(ay))
            }
            v.withUnsafeMutableBufferPointer { p in
                for y in 0..<size {
                    let a = cy[y], b = sy[y]
                    let row = p.baseAddress! + y * size
                    for x in 0..<size { row[x] += cx[x] * a - sx[x] * b }
                }
            }
            used += 1
        }
        var mean = 0.0, sq = 0.0
        for x in v { mean += Double(x); sq += Double(x) * Double(x) }
        mean /= Double(v.count)
        let sd = max(1e-6, (sq / Double(v.count) - mean * mean).squareRoot())
        values = v.map { Float((Double($0) - mean) / sd) }
    }

    /// Bilinear sample at (y, x) with wrap-around.
    @inline(__always)
    func sample(_ y: Double, _ x: Double) -> Float {
        let fy = Foundation.floor(y), fx = Foundation.floor(x)
        let wy = Float(y - fy), wx = Float(x - fx)
        let n = size
        let y0 = ((Int(fy) % n) + n) % n, x0 = ((Int(fx) % n) + n) % n
        let y1 = (y0 + 1) % n, x1 = (x0 + 1) % n
        let a = values[y0 * n + x0], b = values[y0 * n + x1], c = values[y1 * n + x0], d = values[y1 * n + x1]
        return (a * (1 - wx) + b * wx) * (1 - wy) + (c * (1 - wx) + d * wx) * wy
    }
}

/// Renders stimulus clips: (frames, height, width) grey levels in [0, 255] at 30 Hz.
struct StimulusRenderer {
    let height: Int
    let width: Int
    let grey: Float = 128

    var textureSize: Int {
        var s = 16
        while s < 2 * max(height, width) { s *= 2 }
        return s
    }

    func render(_ family: StimulusFamily, frames: Int, generator g: RandomGenerator) -> [Float] {
        var out = [Float](repeating: grey, count: frames * height * width)
        switch family {
        case .naturalMovie: naturalMovie(&out, frames, g)
        case .directionalPinkNoise: directionalPinkNoise(&out, frames, g)
        case .gaussianDots: gaussianDots(&out, frames, g)
        case .randomDotKinematogram: randomDots(&out, frames, g)
        case .driftingGabor: driftingGabor(&out, frames, g)
        case .flashingImages: flashingImages(&out, frames, g)
        }
        for i in out.indices { out[i] = min(255, max(0, out[i])) }
        return out
    }

    private func naturalMovie(_ out: inout [Float], _ frames: Int, _ g: RandomGenerator) {
        let hw = height * width
        var t = 0
        while t < frames {
            let shot = Int(g.uniform(60, 200))
            let texture = PinkTexture(size: textureSize, generator: g)
            let luminance = Float(g.uniform(80, 150)), contrast = Float(g.uniform(28, 55))
            var py = g.uniform(0, Double(textureSize)), px = g.uniform(0, Double(textureSize))
            let panY = g.normal(0, 0.3), panX = g.normal(0, 0.6)
            var vy = 0.0, vx = 0.0
            // A textured object crossing the scene.
            let hasObject = g.chance(0.6)
            let objectTexture = hasObject ? PinkTexture(size: textureSize, components: 80, generator: g) : nil
            let radius = g.uniform(0.15, 0.3) * Double(height)
            var oy = g.uniform(0, Double(height)), ox = g.uniform(0, Double(width))
            let ovy = g.normal(0, 0.4), ovx = g.normal(0, 0.9)
            let objectLuminance = Float(g.uniform(60, 180)), objectContrast = Float(g.uniform(20, 50))
            for _ in 0..<shot where t < frames {
                out.withUnsafeMutableBufferPointer { o in
                    let base = o.baseAddress! + t * hw
                    for i in 0..<height {
                        for j in 0..<width {
                            var value = luminance + contrast * texture.sample(py + Double(i), px + Double(j))
                            if let objectTexture {
                                let dy = Double(i) - oy, dx = Double(j) - ox
                                let r = (dy * dy + dx * dx).squareRoot()
                                let alpha = Float(1 / (1 + Foundation.exp((r - radius) / 1.2)))
                                if alpha > 0.01 {
                                    let ov = objectLuminance + objectContrast * objectTexture.sample(dy + 7, dx + 13)
                                    value = value * (1 - alpha) + ov * alpha
                                }
                            }
                            base[i * width + j] = value
                        }
                    }
                }
                // Camera: smooth random velocity around a pan, Ornstein–Uhlenbeck with τ = 20 frames.
                vy += (panY - vy) / 20 + g.normal(0, 0.12)
                vx += (panX - vx) / 20 + g.normal(0, 0.18)
                py += vy; px += vx
                oy += ovy; ox += ovx
                t += 1
            }
        }
    }

    private func directionalPinkNoise(_ out: inout [Float], _ frames: Int, _ g: RandomGenerator) {
        let hw = height * width
        var t = 0
        while t < frames {
            let segment = Int(g.uniform(30, 45))
            let direction = Double(g.index(16)) * 2 * Double.pi / 16
            let texture = PinkTexture(size: textureSize, components: 120, generator: g, orientation: direction, spread: 0.2)
            let speed = g.uniform(1.0, 2.0)
            var py = g.uniform(0, Double(textureSize)), px = g.uniform(0, Double(textureSize))
            for _ in 0..<segment where t < frames {
                for i in 0..<height {
                    for j in 0..<width {
                        out[t * hw + i * width + j] = grey + 60 * texture.sample(py + Double(i), px + Double(j))
                    }
                }
                // Move the pattern along its wave vector (stripes drift perpendicular to themselves).
                py -= speed * Foundation.sin(direction)
                px -= speed * Foundation.cos(direction)
                t += 1
            }
        }
    }

    private func gaussianDots(_ out: inout [Float], _ frames: Int, _ g: RandomGenerator) {
        let hw = height * width
        let scale = Double(height) / 36
        var t = 0
        while t < frames {
            let cy = g.uniform(0, Double(height)), cx = g.uniform(0, Double(width))
            let sigma = g.uniform(2.5, 4.0) * scale
            let amplitude: Float = g.chance(0.5) ? 110 : -110
            for _ in 0..<9 where t < frames {
                for i in 0..<height {
                    for j in 0..<width {
                        let dy = Double(i) - cy, dx = Double(j) - cx
                        out[t * hw + i * width + j] = grey + amplitude * Float(Foundation.exp(-(dy * dy + dx * dx) / (2 * sigma * sigma)))
                    }
                }
                t += 1
            }
            t += 6  // grey gap (already grey)
        }
    }

    private func randomDots(_ out: inout [Float], _ frames: Int, _ g: RandomGenerator) {
        let hw = height * width
        let count = max(8, hw / 40)
        var ys = (0..<count).map { _ in g.uniform(0, Double(height)) }
        var xs = (0..<count).map { _ in g.uniform(0, Double(width)) }
        var age = (0..<count).map { _ in g.index(12) }
        var t = 0
        while t < frames {
            let direction = Double(g.index(8)) * 2 * Double.pi / 8
            let speed = g.uniform(1.0, 2.0) * Double(height) / 36
            let dotValue: Float = g.chance(0.5) ? 235 : 20
            let coherent = (0..<count).map { _ in g.chance(0.9) }
            let randomDirections = (0..<count).map { _ in g.uniform(0, 2 * Double.pi) }
            for _ in 0..<30 where t < frames {
                for d in 0..<count {
                    let cy = ys[d], cx = xs[d]
                    let i0 = max(0, Int(cy) - 2), i1 = min(height - 1, Int(cy) + 2)
                    let j0 = max(0, Int(cx) - 2), j1 = min(width - 1, Int(cx) + 2)
                    if i0 <= i1 && j0 <= j1 {
                        for i in i0...i1 {
                            for j in j0...j1 {
                                let dy = Double(i) - cy, dx = Double(j) - cx
                                let w = Float(Foundation.exp(-(dy * dy + dx * dx) / (2 * 0.8 * 0.8)))
                                let k = t * hw + i * width + j
                                out[k] = out[k] * (1 - w) + dotValue * w
                            }
                        }
                    }
                    let a = coherent[d] ? direction : randomDirections[d]
                    ys[d] += speed * Foundation.sin(a)
                    xs[d] += speed * Foundation.cos(a)
                    age[d] += 1
                    if age[d] >= 12 {
                        age[d] = 0
                        ys[d] = g.uniform(0, Double(height)); xs[d] = g.uniform(0, Double(width))
                    }
                    ys[d] = (ys[d] + Double(height)).truncatingRemainder(dividingBy: Double(height))
                    xs[d] = (xs[d] + Double(width)).truncatingRemainder(dividingBy: Double(width))
                }
                t += 1
            }
        }
    }

    private func driftingGabor(_ out: inout [Float], _ frames: Int, _ g: RandomGenerator) {
        let hw = height * width
        let scale = Double(height) / 36
        var t = 0
        while t < frames {
            let cy = g.uniform(0.2, 0.8) * Double(height), cx = g.uniform(0.2, 0.8) * Double(width)
            let theta = Double(g.index(16)) * 2 * Double.pi / 16
            let period = g.uniform(8, 16) * scale
            let sigma = g.uniform(5, 9) * scale
            let cyclesPerFrame = g.uniform(1.5, 4) / 30
            var phase = g.uniform(0, 2 * Double.pi)
            for _ in 0..<30 where t < frames {
                for i in 0..<height {
                    for j in 0..<width {
                        let dy = Double(i) - cy, dx = Double(j) - cx
                        let along = dx * Foundation.cos(theta) + dy * Foundation.sin(theta)
                        let envelope = Foundation.exp(-(dy * dy + dx * dx) / (2 * sigma * sigma))
                        out[t * hw + i * width + j] = grey + Float(110 * envelope * Foundation.cos(2 * Double.pi * along / period - phase))
                    }
                }
                phase += 2 * Double.pi * cyclesPerFrame
                t += 1
            }
        }
    }

    private func flashingImages(_ out: inout [Float], _ frames: Int, _ g: RandomGenerator) {
        let hw = height * width
        var t = 0
        while t < frames {
            let texture = PinkTexture(size: textureSize, generator: g)
            let luminance = Float(g.uniform(80, 150)), contrast = Float(g.uniform(30, 55))
            let py = g.uniform(0, Double(textureSize)), px = g.uniform(0, Double(textureSize))
            var image = [Float](repeating: 0, count: hw)
            for i in 0..<height {
                for j in 0..<width { image[i * width + j] = luminance + contrast * texture.sample(py + Double(i), px + Double(j)) }
            }
            for _ in 0..<15 where t < frames {
                for k in 0..<hw { out[t * hw + k] = image[k] }
                t += 1
            }
            t += 10  // grey gap
        }
    }
}
