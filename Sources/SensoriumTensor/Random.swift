/// The seeded pseudo-random generator behind every random draw in the SDK (xoshiro256**,
/// seeded through SplitMix64). Same seed, same numbers, on every run and machine.
///
/// It is a reference type so that layers (dropout, readout sampling) and data loaders can share
/// one stream; its state can be saved and restored for exact resumption.
public final class RandomGenerator: RandomNumberGenerator {
    @usableFromInline var s0: UInt64 = 0, s1: UInt64 = 0, s2: UInt64 = 0, s3: UInt64 = 0
    private var spareNormal: Float?

    /// A generator seeded with `seed`.
    public init(seed: UInt64) { reseed(seed) }

    /// Restarts the stream from `seed`.
    public func reseed(_ seed: UInt64) {
        var x = seed
        func splitMix() -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s0 = splitMix(); s1 = splitMix(); s2 = splitMix(); s3 = splitMix()
        spareNormal = nil
    }

    /// The full internal state, for checkpoints.
    public var state: [UInt64] {
        get { [s0, s1, s2, s3, spareNormal.map { UInt64($0.bitPattern) | (1 << 32) } ?? 0] }
        set {
            precondition(newValue.count == 5, "RandomGenerator.state: expected 5 words, got \(newValue.count)")
            s0 = newValue[0]; s1 = newValue[1]; s2 = newValue[2]; s3 = newValue[3]
            spareNormal = newValue[4] & (1 << 32) != 0 ? Float(bitPattern: UInt32(truncatingIfNeeded: newValue[4])) : nil
        }
    }

    /// A new independent generator derived from this one's stream (for example one per worker).
    public func fork() -> RandomGenerator { RandomGenerator(seed: next()) }

    @inlinable
    public func next() -> UInt64 {
        let result = ((s1 &* 5) << 7 | (s1 &* 5) >> 57) &* 9
        let t = s1 << 17
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3
        s2 ^= t
        s3 = (s3 << 45) | (s3 >> 19)
        return result
    }

    /// Uniform in [0, 1).
    @inlinable
    public func nextUniform() -> Float {
        Float(next() >> 40) * (1.0 / 16_777_216.0)
    }

    /// Writes `count` draws of ``nextUniform()`` to `buffer`: the same numbers and the same stream
    /// position as `count` calls, with the state kept in registers.
    public func fillUniform(_ buffer: UnsafeMutablePointer<Float>, count: Int) {
        var (a, b, c, d) = (s0, s1, s2, s3)
        for i in 0..<count {
            let result = ((b &* 5) << 7 | (b &* 5) >> 57) &* 9
            let t = b << 17
            c ^= a; d ^= b; b ^= c; a ^= d
            c ^= t
            d = (d << 45) | (d >> 19)
            buffer[i] = Float(result >> 40) * (1.0 / 16_777_216.0)
        }
        (s0, s1, s2, s3) = (a, b, c, d)
    }

    /// Standard normal (Box-Muller on Double precision, rounded to Float).
    public func nextNormal() -> Float {
        if let spare = spareNormal { spareNormal = nil; return spare }
        var u1: Double
        repeat { u1 = Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0) } while u1 <= 0
        let u2 = Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0)
        let r = (-2 * _log(u1)).squareRoot()
        let theta = 2 * Double.pi * u2
        spareNormal = Float(r * _sin(theta))
        return Float(r * _cos(theta))
    }
}

#if canImport(Glibc)
import Glibc
@inline(__always) private func _log(_ x: Double) -> Double { Glibc.log(x) }
@inline(__always) private func _sin(_ x: Double) -> Double { Glibc.sin(x) }
@inline(__always) private func _cos(_ x: Double) -> Double { Glibc.cos(x) }
#else
import Darwin
@inline(__always) private func _log(_ x: Double) -> Double { Darwin.log(x) }
@inline(__always) private func _sin(_ x: Double) -> Double { Darwin.sin(x) }
@inline(__always) private func _cos(_ x: Double) -> Double { Darwin.cos(x) }
#endif
