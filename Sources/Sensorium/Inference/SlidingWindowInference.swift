import SensoriumTensor
import SensoriumLayers

/// DwiseNeuro's inference (winners-spec §1.7): windows of ``frames`` frames taken every ``step``-th
/// input frame, one window per end frame `e` from `(frames − 1) · step` to `L − 1` every
/// ``stride`` frames (and every end frame of the last `span` frames); each window's outputs are added to
/// the frames they belong to and every frame is divided by the number of windows that predicted
/// it (DwiseNeuro: up to 16 votes per frame, all from windows of the same parity).
///
/// Output `(B, L', N)` for the last `L'` frames: `L' = L − f₀`, `f₀` the first frame from which
/// every frame is predicted by some window (0 for DwiseNeuro, whose core has no burn-in, so
/// `L' = L`; windows of a core with burn-in, or a stride above 1, leave some early frames out).
/// ``check(outputFrames:)`` refuses a `stride` that would leave frames after the first window
/// unpredicted. A window's `T'` outputs belong to its last `T'` sampled frames,
/// `e − step · (T' − 1 − j)`.
///
/// Applies to inputs with more than ``frames`` frames that hold at least one window
/// (`(frames − 1) · step + 1` frames); shorter inputs, such as the subsampled training clips, run
/// in one pass. Video, behaviour and pupil centre are sampled at the same frames; up to
/// ``windowsPerPass`` windows go through the model together.
///
/// JSON: `{"type": "slidingWindows", "frames": 16, "step": 2, "stride": 1, "windowsPerPass": 8}`.
public struct SlidingWindowInference: InferenceConfiguration, Equatable {
    public static var typeName: String { "slidingWindows" }
    public static var defaults: Self { Self() }

    /// Frames per window (DwiseNeuro 16).
    public var frames: Int = 16
    /// Input frames between the frames of a window (DwiseNeuro 2: frames `e − 30, e − 28, …, e`).
    public var step: Int = 2
    /// Input frames between the end frames of consecutive windows (DwiseNeuro 1: every end frame).
    public var stride: Int = 1
    /// Windows run through the model together (bounds memory: one pass holds this many clips).
    public var windowsPerPass: Int = 8

    public init() {}

    public init(frames: Int = 16, step: Int = 2, stride: Int = 1, windowsPerPass: Int = 8) {
        self.frames = frames
        self.step = step
        self.stride = stride
        self.windowsPerPass = windowsPerPass
    }

    /// Input frames one window spans, `(frames − 1) · step + 1` (DwiseNeuro 31).
    public var span: Int { (frames - 1) * step + 1 }

    public func applies(toFrames frames: Int) -> Bool { frames > self.frames && frames >= span }

    /// The end frames of the windows for an input of `inputFrames` frames (at least ``span``):
    /// every ``stride``-th frame from `span − 1`, and every frame of the last ``span`` frames, so
    /// that the end of the input is predicted whatever the stride (with stride 1, just every frame).
    public func windowEnds(inputFrames: Int) -> [Int] {
        let tail = Swift.max(span - 1, inputFrames - span)
        return Swift.stride(from: span - 1, to: tail, by: stride).map { $0 } + Array(tail..<inputFrames)
    }

    /// Which frames the windows predict and how often, for `outputs` outputs per window.
    struct Coverage {
        /// The first predicted frame f₀: every frame from it to the end is predicted by a window;
        /// earlier frames are not predicted (some of them may be by a window, but not all).
        let first: Int
        /// Windows predicting each frame from f₀ to the end.
        let counts: [Int]
    }

    /// The input frame of output `j` of the window ending at `end` (`outputs` outputs per window).
    func frame(ofOutput j: Int, end: Int, outputs: Int) -> Int { end - step * (outputs - 1 - j) }

    func coverage(inputFrames: Int, outputs: Int) -> Coverage {
        var counts = [Int](repeating: 0, count: inputFrames)
        for e in windowEnds(inputFrames: inputFrames) {
            for j in 0..<outputs { counts[frame(ofOutput: j, end: e, outputs: outputs)] += 1 }
        }
        var first = inputFrames - 1
        while first > 0 && counts[first - 1] > 0 { first -= 1 }
        return Coverage(first: first, counts: Array(counts[first...]))
    }

    public func check(outputFrames: (Int) -> Int?) throws {
        func fail(_ message: String) -> ComponentError { .invalid(kind: InferenceKind.name, type: Self.typeName, message: message) }
        guard frames >= 1, step >= 1, stride >= 1, windowsPerPass >= 1 else {
            throw fail("frames, step, stride and windowsPerPass must be positive, got \(frames), \(step), \(stride), \(windowsPerPass)")
        }
        guard let outputs = outputFrames(frames), outputs >= 1, outputs <= frames else {
            throw fail("a window of \(frames) frames gives the model no output frames; use more frames per window")
        }
        // Every frame from the end of the first window on must be predicted; the pattern of
        // predicted frames repeats with the strides, so a few periods show every gap.
        let longest = span + 2 * (stride + step) * frames + stride * step
        for length in span...longest {
            let first = coverage(inputFrames: length, outputs: outputs).first
            if first > span - 1 {
                throw fail("windows every \(stride) frames sampling every \(step)-th frame leave frame \(first - 1) of a \(length)-frame input unpredicted; use a stride with no common factor with the step (1 always works)")
            }
        }
    }

    public func predict(_ input: ModelInput, pass: (ModelInput) -> Tensor) -> Tensor {
        let length = input.video.shape[2], batch = input.video.shape[0]
        precondition(length >= span, "SlidingWindowInference: an input of \(length) frames is shorter than one window (\(span) frames)")
        let ends = windowEnds(inputFrames: length)
        var total: Tensor?
        var cover: Coverage?
        var outputs = 0
        for chunkStart in Swift.stride(from: 0, to: ends.count, by: windowsPerPass) {
            let chunk = Array(ends[chunkStart..<Swift.min(chunkStart + windowsPerPass, ends.count)])
            let g = chunk.count
            let out = pass(input.clips(chunk.map { ($0 + 1 - span)..<($0 + 1) }, step: step))
            precondition(out.rank == 3 && out.shape[0] == g * batch && out.shape[1] >= 1 && out.shape[1] <= frames,
                         "SlidingWindowInference: \(g) windows of \(batch) clips gave \(out.shape), expected (\(g * batch), 1…\(frames), N)")
            if cover == nil {
                outputs = out.shape[1]
                cover = coverage(inputFrames: length, outputs: outputs)
            }
            precondition(out.shape[1] == outputs, "SlidingWindowInference: windows gave \(out.shape[1]) and \(outputs) output frames")
            let neurons = out.shape[2]
            let rows = g == 1 || batch == 1
                ? out.reshaped([batch, g * outputs, neurons])
                : out.reshaped([g, batch, outputs, neurons]).permuted([1, 0, 2, 3]).reshaped([batch, g * outputs, neurons])
            var targets: [Int] = []
            targets.reserveCapacity(g * outputs)
            for e in chunk {
                for j in 0..<outputs {
                    let f = frame(ofOutput: j, end: e, outputs: outputs)
                    targets.append(f >= cover!.first ? f - cover!.first : -1)
                }
            }
            let part = rows.accumulatingRows(into: cover!.counts.count, targets: targets)
            total = total.map { $0 + part } ?? part
        }
        let weights = Tensor(cover!.counts.map { 1 / Float($0) }, shape: [1, cover!.counts.count, 1])
        return total! * weights
    }
}
