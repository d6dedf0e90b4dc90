import Foundation
import SensoriumTensor

extension RandomGenerator {
    /// Uniform in [low, high).
    func uniform(_ low: Double, _ high: Double) -> Double {
        low + (high - low) * Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0)
    }

    /// Standard normal as Double.
    func normal() -> Double { Double(nextNormal()) }

    /// Normal with mean and standard deviation.
    func normal(_ mean: Double, _ sd: Double) -> Double { mean + sd * normal() }

    /// Log-normal whose median is `median` and log-standard deviation `sigma`.
    func logNormal(median: Double, sigma: Double) -> Double { median * Foundation.exp(sigma * normal()) }

    /// Uniform integer in 0..<n.
    func index(_ n: Int) -> Int { Int(next() % UInt64(max(n, 1))) }

    /// Bernoulli draw.
    func chance(_ p: Double) -> Bool { uniform(0, 1) < p }

    /// Poisson draw (Knuth's product method for small means, a rounded normal above 30).
    func poisson(_ mean: Double) -> Int {
        guard mean > 0 else { return 0 }
        if mean > 30 { return max(0, Int((mean + Foundation.sqrt(mean) * normal()).rounded())) }
        let limit = Foundation.exp(-mean)
        var k = 0
        var p = uniform(0, 1)
        while p > limit {
            k += 1
            p *= uniform(0, 1)
        }
        return k
    }

    /// Gamma draw with shape `k` ≥ 1 and scale `theta` (Marsaglia–Tsang).
    func gamma(shape k: Double, scale theta: Double) -> Double {
        let d = k - 1.0 / 3.0
        let c = 1.0 / Foundation.sqrt(9 * d)
        while true {
            var x: Double
            var v: Double
            repeat {
                x = normal()
                v = 1 + c * x
            } while v <= 0
            v = v * v * v
            let u = uniform(0, 1)
            if u < 1 - 0.0331 * x * x * x * x { return d * v * theta }
            if Foundation.log(u) < 0.5 * x * x + d * (1 - v + Foundation.log(v)) { return d * v * theta }
        }
    }
}

/// Deterministic 64-bit seed mixing (SplitMix64 finaliser over the parts).
func mixSeed(_ parts: UInt64...) -> UInt64 {
    var h: UInt64 = 0x243F_6A88_85A3_08D3
    for p in parts {
        h ^= p &+ 0x9E37_79B9_7F4A_7C15 &+ (h << 6) &+ (h >> 2)
        var z = h
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        h = z ^ (z >> 31)
    }
    return h
}
