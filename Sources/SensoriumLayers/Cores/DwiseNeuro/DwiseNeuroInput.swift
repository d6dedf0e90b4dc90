import SensoriumTensor

/// DwiseNeuro's model input (`StackInputsProcessor` in lRomul/sensorium): the video and the four
/// behaviour signals stacked as channels of one clip.
///
/// Channel 0 holds the raw frames (not normalised) zero-padded into a centred canvas: rows
/// `[(canvasHeight − H) / 2, … + H)`, columns `[(canvasWidth − W) / 2, … + W)` (integer halves).
/// Channels 1–4 are pupil dilation, running speed, pupil x and pupil y, each value broadcast as a
/// constant plane over the whole canvas (padding included) at its time step.
public enum DwiseNeuroInput {
    /// Inputs that do not fit together.
    public struct ShapeError: Error, CustomStringConvertible {
        /// What is wrong.
        public var description: String
    }

    /// Number of channels of the assembled input.
    public static let channels = 5

    /// Assembles the model input.
    ///
    /// - Parameters:
    ///   - video: raw frames (N, T, H, W).
    ///   - behavior: (N, 2, T): dilation, speed.
    ///   - pupilCenter: (N, 2, T): x, y.
    ///   - canvasHeight, canvasWidth: the canvas (DwiseNeuro 64 × 64), at least H × W.
    /// - Returns: (N, 5, T, canvasHeight, canvasWidth).
    /// - Throws: ``ShapeError`` when the shapes disagree or the frame does not fit the canvas.
    public static func assemble(video: Tensor, behavior: Tensor, pupilCenter: Tensor,
                                canvasHeight: Int, canvasWidth: Int) throws(ShapeError) -> Tensor {
        guard video.rank == 4 else { throw ShapeError(description: "DwiseNeuroInput: video must be (N, T, H, W), got \(video.shape)") }
        let (n, t, h, w) = (video.shape[0], video.shape[1], video.shape[2], video.shape[3])
        guard behavior.shape == [n, 2, t], pupilCenter.shape == [n, 2, t] else {
            throw ShapeError(description: "DwiseNeuroInput: behavior \(behavior.shape) and pupil center \(pupilCenter.shape) must both be (N, 2, T) = \([n, 2, t]) for video \(video.shape)")
        }
        guard canvasHeight >= h, canvasWidth >= w else {
            throw ShapeError(description: "DwiseNeuroInput: frames \(h)×\(w) do not fit the canvas \(canvasHeight)×\(canvasWidth)")
        }
        let top = (canvasHeight - h) / 2, left = (canvasWidth - w) / 2
        let plane = canvasHeight * canvasWidth
        let out = Tensor.zeros([n, channels, t, canvasHeight, canvasWidth])
        let dst = out.storage.pointer
        let v = video.storage.pointer, b = behavior.storage.pointer, p = pupilCenter.storage.pointer
        for sample in 0..<n {
            let clip = dst + sample * channels * t * plane
            for step in 0..<t {
                let frame = clip + step * plane
                let source = v + (sample * t + step) * h * w
                for row in 0..<h {
                    (frame + (top + row) * canvasWidth + left).update(from: source + row * w, count: w)
                }
                for k in 0..<4 {
                    let value = k < 2 ? b[(sample * 2 + k) * t + step] : p[(sample * 2 + k - 2) * t + step]
                    (clip + ((k + 1) * t + step) * plane).update(repeating: value, count: plane)
                }
            }
        }
        return out
    }
}
