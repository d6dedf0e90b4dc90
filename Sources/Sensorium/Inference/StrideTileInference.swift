import SensoriumTensor
import SensoriumLayers

/// Dynamic-V1FM's inference (winners-spec §2.5): windows of ``frames`` consecutive frames every
/// ``stride`` frames, each predicting only its last `stride` frames (the first `frames − stride`
/// are context), tiled so that every frame from the first kept frame `f₀` to the end is predicted
/// by exactly one window; no averaging.
///
/// `f₀ = max(frames − stride, min(firstKeptFrame, L − stride))`: the paper's 50 (its windows start
/// at 35, 50, …) when the trial is long enough. Windows start at `f₀ − (frames − stride) + i ·
/// stride` while they fit; when the last one ends before `L`, a tail window `[L − frames, L)`
/// predicts the remaining frames with its last outputs (the paper's `[-30:]` window, whose last 9
/// outputs give frames 290…298 of a 299-frame trial).
///
/// Output `(B, L − f₀, N)` for the last `L − f₀` frames. Needs a model whose `frames`-frame clip
/// gives at least `stride` outputs (Dynamic-V1FM: 30 frames → 15 outputs for the last 15 frames).
/// Applies to inputs longer than ``frames``; up to ``windowsPerPass`` windows go through the model
/// together.
///
/// JSON: `{"type": "strideTiles", "frames": 30, "stride": 15, "firstKeptFrame": 50, "windowsPerPass": 8}`.
public struct StrideTileInference: InferenceConfiguration, Equatable {
    public static var typeName: String { "strideTiles" }
    public static var defaults: Self { Self() }

    /// Frames per window (Dynamic-V1FM 30).
    public var frames: Int = 30
    /// Frames between window starts, and the frames each window predicts (Dynamic-V1FM 15).
    public var stride: Int = 15
    /// The first frame to predict when the input is long enough (Dynamic-V1FM 50: the first scored frame).
    public var firstKeptFrame: Int = 50
    /// Windows run through the model together.
    public var windowsPerPass: Int = 8

    public init() {}

    public init(frames: Int = 30, stride: Int = 15, firstKeptFrame: Int = 50, windowsPerPass: Int = 8) {
        self.frames = frames
        self.stride = stride
        self.firstKeptFrame = firstKeptFrame
        self.windowsPerPass = windowsPerPass
    }

    public func applies(toFrames frames: Int) -> Bool { frames > self.frames }

    /// One window: its first input frame and how many of its last outputs it keeps.
    public struct Window: Equatable, Sendable {
        public var start: Int
        public var kept: Int
    }

    /// The windows for an input of `inputFrames` frames (more than ``frames``), in frame order;
    /// their kept frames tile `f₀ ..< inputFrames`.
    public func windows(inputFrames: Int) -> [Window] {
        let first = firstPredictedFrame(inputFrames: inputFrames)
        var windows: [Window] = []
        var start = first - (frames - stride)
        while start + frames <= inputFrames {
            windows.append(Window(start: start, kept: stride))
            start += stride
        }
        let end = start - stride + frames
        if end < inputFrames { windows.append(Window(start: inputFrames - frames, kept: inputFrames - end)) }
        return windows
    }

    /// The first predicted frame f₀ for an input of `inputFrames` frames.
    public func firstPredictedFrame(inputFrames: Int) -> Int {
        Swift.max(frames - stride, Swift.min(firstKeptFrame, inputFrames - stride))
    }

    public func check(outputFrames: (Int) -> Int?) throws {
        func fail(_ message: String) -> ComponentError { .invalid(kind: InferenceKind.name, type: Self.typeName, message: message) }
        guard frames >= 1, stride >= 1, stride <= frames, firstKeptFrame >= 0, windowsPerPass >= 1 else {
            throw fail("frames, stride and windowsPerPass must be positive with stride ≤ frames and firstKeptFrame ≥ 0, got frames \(frames), stride \(stride), firstKeptFrame \(firstKeptFrame), windowsPerPass \(windowsPerPass)")
        }
        let outputs = outputFrames(frames) ?? 0
        guard outputs >= stride else {
            throw fail("a window of \(frames) frames gives \(outputs) output frames, fewer than the \(stride) each window must predict (stride)")
        }
    }

    public func predict(_ input: ModelInput, pass: (ModelInput) -> Tensor) -> Tensor {
        let length = input.video.shape[2], batch = input.video.shape[0]
        precondition(length > frames, "StrideTileInference: an input of \(length) frames is not longer than one window (\(frames))")
        let all = windows(inputFrames: length)
        var pieces: [Tensor] = []
        for chunkStart in Swift.stride(from: 0, to: all.count, by: windowsPerPass) {
            let chunk = Array(all[chunkStart..<Swift.min(chunkStart + windowsPerPass, all.count)])
            let out = pass(input.clips(chunk.map { $0.start..<($0.start + frames) }, step: 1))
            let outputs = out.shape[1]
            precondition(out.rank == 3 && out.shape[0] == chunk.count * batch && outputs >= stride,
                         "StrideTileInference: \(chunk.count) windows of \(batch) clips gave \(out.shape), expected (\(chunk.count * batch), ≥ \(stride), N)")
            for (k, window) in chunk.enumerated() {
                let clip = chunk.count == 1 ? out : out.sliced(axis: 0, range: (k * batch)..<((k + 1) * batch))
                pieces.append(clip.sliced(axis: 1, range: (outputs - window.kept)..<outputs))
            }
        }
        return pieces.count == 1 ? pieces[0] : Tensor.concatenate(pieces, axis: 1)
    }
}
