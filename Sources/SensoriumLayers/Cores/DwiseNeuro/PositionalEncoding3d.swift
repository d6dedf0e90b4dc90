import Foundation
import SensoriumTensor

/// DwiseNeuro's fixed sinusoidal 3-D positional encoding, added to its input:
/// `y = x + E` with E of shape (1, C, T, H, W), the same for every sample.
///
/// With `k = 2·⌈C / 6⌉` and frequencies `f_j = 10000^(−2j / k)` (j < k / 2, the persistent buffer
/// `inv_freq`), channels `[0, k)` are `[sin(t·f_0) … sin(t·f_{k/2−1}), cos(t·f_0) …]` over the
/// frame index t, channels `[k, 2k)` the same over the row index h and `[2k, 3k)` over the
/// column index w, truncated to the first C channels. Positions are the integer indices at the
/// input's resolution. The encoding is computed in double precision from `inv_freq` and cached
/// per input size (the cache is not state).
///
/// Input and output (N, C, T, H, W). Keys: `inv_freq` (k / 2), a buffer.
public final class PositionalEncoding3d: Module, UnaryLayer {
    /// The frequencies `f_j`, shape (k / 2).
    @Buffer public var invFreq: Tensor
    /// Channels C of the input.
    public let channels: Int
    /// The per-axis encoding width k.
    public let axisChannels: Int
    /// The encoding of the last input size, (1, C, T, H, W).
    @Transient private var cached: Tensor? = nil
    /// The frequencies `cached` was computed from.
    @Transient private var cachedFrequencies: [Float] = []

    override public class var keyOverrides: [String: String] { ["invFreq": "inv_freq"] }

    /// An encoding for `channels` channels.
    public init(channels: Int) {
        precondition(channels > 0, "PositionalEncoding3d: channels must be positive, got \(channels)")
        self.channels = channels
        var k = (channels + 5) / 6 * 2
        if k % 2 != 0 { k += 1 }
        axisChannels = k
        let frequencies = stride(from: 0, to: k, by: 2).map { j in 1 / Float(pow(10000, Double(Float(j) / Float(k)))) }
        invFreq = Tensor(frequencies, shape: [frequencies.count])
        super.init()
    }

    /// The encoding E for a (T, H, W) grid, shape (1, C, T, H, W).
    public func encoding(frames: Int, height: Int, width: Int) -> Tensor {
        precondition(invFreq.count == axisChannels / 2,
                     "PositionalEncoding3d: inv_freq has \(invFreq.count) entries, expected \(axisChannels / 2)")
        let stored = invFreq.scalars
        if let cached, cached.shape == [1, channels, frames, height, width], cachedFrequencies == stored { return cached }
        let k = axisChannels, half = k / 2
        let frequencies = stored.map(Double.init)
        let volume = frames * height * width
        let out = Tensor.zeros([1, channels, frames, height, width])
        let p = out.storage.pointer
        // Channel c ∈ [0, 3k): axis c / k, frequency (c mod k) mod half, sine for the first half.
        for c in 0..<channels {
            let axis = c / k, j = (c % k) % half, useSine = (c % k) < half
            let extent = [frames, height, width][axis]
            let values = (0..<extent).map { position -> Float in
                let angle = Double(position) * frequencies[j]
                return Float(useSine ? Foundation.sin(angle) : Foundation.cos(angle))
            }
            let plane = p + c * volume
            for t in 0..<frames {
                for h in 0..<height {
                    let row = plane + (t * height + h) * width
                    switch axis {
                    case 0: row.update(repeating: values[t], count: width)
                    case 1: row.update(repeating: values[h], count: width)
                    default: row.update(from: values, count: width)
                    }
                }
            }
        }
        cached = out
        cachedFrequencies = stored
        return out
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        precondition(x.rank == 5 && x.shape[1] == channels,
                     "PositionalEncoding3d: expected (N, \(channels), T, H, W), got \(x.shape)")
        return x + encoding(frames: x.shape[2], height: x.shape[3], width: x.shape[4])
    }

    override public var extraDescription: String { "\(channels)" }
}
