import SensoriumTensor

/// Everything a model reads for one batch, handed to the core, the core-to-readout stage, the
/// shifter and the readout alike: a core or readout that uses behaviour finds it here.
///
/// - `video`: `(N, C, T, H, W)`; channel 0 is the frame, further channels may repeat behaviour or
///   the pupil centre as constant planes (the baselines' input).
/// - `behavior`: `(N, B, T)` per-frame behaviour (pupil dilation and running speed: B = 2), or nil.
/// - `pupilCenter`: `(N, 2, T)`, or nil.
/// - `mouse`: the data key of the mouse the batch belongs to.
public struct ModelInput {
    public var video: Tensor
    public var behavior: Tensor?
    public var pupilCenter: Tensor?
    public var mouse: String

    /// An input; behaviour and pupil centre must have the video's batch size and frames.
    public init(video: Tensor, behavior: Tensor? = nil, pupilCenter: Tensor? = nil, mouse: String) {
        precondition(video.rank == 5, "ModelInput: expected video (N, C, T, H, W), got \(video.shape)")
        for (name, t) in [("behavior", behavior), ("pupilCenter", pupilCenter)] {
            guard let t else { continue }
            precondition(t.rank == 3 && t.shape[0] == video.shape[0] && t.shape[2] == video.shape[2],
                         "ModelInput: \(name) must be (N, ·, T) = (\(video.shape[0]), ·, \(video.shape[2])) for video \(video.shape), got \(t.shape)")
        }
        self.video = video
        self.behavior = behavior
        self.pupilCenter = pupilCenter
        self.mouse = mouse
    }

    /// The last `frames` frames of a per-frame input `(N, ·, T)`, as `(N, frames, ·)`: what a
    /// readout or shifter of a core with burn-in aligns with its `frames` output frames.
    public static func lastFrames(_ x: Tensor, _ frames: Int) -> Tensor {
        let total = x.shape[2]
        precondition(frames >= 1 && frames <= total, "ModelInput.lastFrames: \(frames) of \(total) frames")
        let cut = frames == total ? x : x.sliced(axis: 2, range: (total - frames)..<total)
        return cut.transposed(1, 2)
    }
}

extension Core {
    /// The features for a whole model input; cores that read only the video use `input.video`.
    public func callAsFunction(_ input: ModelInput) -> Tensor { self(input.video) }
}
