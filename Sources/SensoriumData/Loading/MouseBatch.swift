import SensoriumTensor

/// A batch of clips (or full trials) from one mouse, as plain Float arrays so that it can cross
/// threads; `videoTensor()` etc. wrap them as tensors.
///
/// Layouts follow PyTorch: video (N, C, T, H, W) with channels [frame, pupil dilation, running
/// speed, (pupil x, pupil y)]; responses (N, T, neurons), time-major like model outputs;
/// behavior and pupil centre (N, 2, T).
public struct MouseBatch: Sendable {
    /// Name of the mouse (folder name).
    public let mouse: String
    /// File index of each sample's trial.
    public let trials: [Int]
    /// First frame of each sample within its trial.
    public let starts: [Int]
    /// Batch size N, input channels C, frames T, frame size H × W, neurons.
    public let batchSize: Int, channels: Int, frames: Int, height: Int, width: Int, neuronCount: Int
    /// Inputs, (N, C, T, H, W).
    public var video: [Float]
    /// Targets, (N, T, neurons).
    public var responses: [Float]
    /// Behaviour, (N, 2, T): pupil dilation, running speed.
    public var behavior: [Float]
    /// Pupil centre, (N, 2, T): horizontal, vertical.
    public var pupilCenter: [Float]
    /// For a batch mixing mice: each sample's mouse and the neuron blocks of ``responses``
    /// (`neuronCount` is then the total over all mice); nil for a batch of one mouse.
    public var mixture: MouseMixture?
    /// Per sample and neuron, `(N, neurons)`, the weight a loss gives the responses (the same for
    /// every frame); nil: every entry weighs 1. Mixed batches set it (0 outside a sample's own
    /// mouse, or a distillation weight).
    public var responseWeights: [Float]?

    /// A batch from its arrays (shapes as documented on each property).
    public init(mouse: String, trials: [Int], starts: [Int], batchSize: Int, channels: Int, frames: Int, height: Int, width: Int,
                neuronCount: Int, video: [Float], responses: [Float], behavior: [Float], pupilCenter: [Float],
                mixture: MouseMixture? = nil, responseWeights: [Float]? = nil) {
        precondition(trials.count == batchSize && starts.count == batchSize,
                     "MouseBatch: \(trials.count) trials and \(starts.count) starts for a batch of \(batchSize)")
        precondition(video.count == batchSize * channels * frames * height * width,
                     "MouseBatch: video of \(video.count) values for (\(batchSize), \(channels), \(frames), \(height), \(width))")
        precondition(responses.count == batchSize * frames * neuronCount,
                     "MouseBatch: responses of \(responses.count) values for (\(batchSize), \(frames), \(neuronCount))")
        precondition(behavior.count == batchSize * 2 * frames && pupilCenter.count == batchSize * 2 * frames,
                     "MouseBatch: behaviour \(behavior.count) and pupil \(pupilCenter.count) values for (\(batchSize), 2, \(frames))")
        precondition(mixture.map { $0.sampleMouse.count == batchSize && $0.totalNeurons == neuronCount } ?? true,
                     "MouseBatch: the mixture's \(mixture?.sampleMouse.count ?? 0) samples and \(mixture?.totalNeurons ?? 0) neurons do not match (\(batchSize), \(neuronCount))")
        precondition(responseWeights.map { $0.count == batchSize * neuronCount } ?? true,
                     "MouseBatch: \(responseWeights?.count ?? 0) response weights for (\(batchSize), \(neuronCount))")
        self.mouse = mouse
        self.trials = trials
        self.starts = starts
        self.batchSize = batchSize
        self.channels = channels
        self.frames = frames
        self.height = height
        self.width = width
        self.neuronCount = neuronCount
        self.video = video
        self.responses = responses
        self.behavior = behavior
        self.pupilCenter = pupilCenter
        self.mixture = mixture
        self.responseWeights = responseWeights
    }

    /// (N, C, T, H, W).
    public var videoShape: [Int] { [batchSize, channels, frames, height, width] }
    /// (N, T, neurons).
    public var responseShape: [Int] { [batchSize, frames, neuronCount] }
    /// (N, 2, T).
    public var behaviorShape: [Int] { [batchSize, 2, frames] }

    /// The video as a tensor (N, C, T, H, W).
    public func videoTensor() -> Tensor { Tensor(video, shape: videoShape) }
    /// The responses as a tensor (N, T, neurons).
    public func responseTensor() -> Tensor { Tensor(responses, shape: responseShape) }
    /// The behaviour as a tensor (N, 2, T).
    public func behaviorTensor() -> Tensor { Tensor(behavior, shape: behaviorShape) }
    /// The pupil centre as a tensor (N, 2, T).
    public func pupilCenterTensor() -> Tensor { Tensor(pupilCenter, shape: behaviorShape) }
    /// The response weights as a tensor (N, 1, neurons), broadcasting over frames; nil without weights.
    public func responseWeightTensor() -> Tensor? { responseWeights.map { Tensor($0, shape: [batchSize, 1, neuronCount]) } }

    /// Bytes held by the four arrays.
    public var byteCount: Int { 4 * (video.count + responses.count + behavior.count + pupilCenter.count) }

    /// Bytes of a batch of the given size (for memory planning).
    public static func byteCount(batchSize: Int, channels: Int, frames: Int, height: Int, width: Int, neurons: Int) -> Int {
        4 * batchSize * frames * (channels * height * width + neurons + 4)
    }

    /// Assembles a batch from normalised trials and the window of each to take.
    static func assemble(mouse: MouseDataset, items: [(trial: NormalizedTrial, start: Int)], frames: Int) -> MouseBatch {
        var builder = MouseBatchBuilder(mouse: mouse, batchSize: items.count, frames: frames)
        for item in items { builder.add(item.trial, start: item.start) }
        return builder.finish()
    }
}

/// Fills a batch one sample at a time, so that only one full trial needs to be in memory.
struct MouseBatchBuilder {
    let mouse: MouseDataset
    let batchSize: Int, frames: Int, channels: Int
    private var video: [Float], responses: [Float], behavior: [Float], pupil: [Float]
    private var trials: [Int] = [], starts: [Int] = []

    init(mouse: MouseDataset, batchSize: Int, frames: Int) {
        self.mouse = mouse
        self.batchSize = batchSize
        self.frames = frames
        channels = mouse.options.inputChannels
        let hw = mouse.frameHeight * mouse.frameWidth
        video = [Float](repeating: 0, count: batchSize * channels * frames * hw)
        responses = [Float](repeating: 0, count: batchSize * frames * mouse.neuronCount)
        behavior = [Float](repeating: 0, count: batchSize * 2 * frames)
        pupil = [Float](repeating: 0, count: batchSize * 2 * frames)
    }

    /// Copies frames `start ..< start + frames` of `t` into the next sample.
    mutating func add(_ t: NormalizedTrial, start: Int) {
        let s = trials.count
        precondition(s < batchSize, "MouseBatchBuilder: batch of \(batchSize) is full")
        let shape = sampleShape
        withDestination { Self.write(t, start: start, slot: s, to: $0, shape: shape) }
        trials.append(t.index)
        starts.append(t.start + start)
    }

    /// Fills every sample of an empty builder with the window `start ..< start + frames` of
    /// `load(slot)`, the samples on concurrent threads (each loads its trial and writes its own
    /// part of the arrays). The first error in slot order is rethrown.
    mutating func fillConcurrently(_ load: (Int) throws -> (trial: NormalizedTrial, start: Int)) throws {
        precondition(trials.isEmpty, "MouseBatchBuilder: fillConcurrently needs an empty builder, \(trials.count) samples added")
        let count = batchSize
        var indices = [Int](repeating: 0, count: count), windowStarts = indices
        var failures = [(any Error)?](repeating: nil, count: count)
        let shape = sampleShape
        withDestination { d in
            indices.withUnsafeMutableBufferPointer { ip in windowStarts.withUnsafeMutableBufferPointer { sp in
                failures.withUnsafeMutableBufferPointer { fp in
                    Parallel.forRanges(count, minimumPerThread: 1) { range in
                        for k in range {
                            do {
                                let item = try load(k)
                                Self.write(item.trial, start: item.start, slot: k, to: d, shape: shape)
                                ip[k] = item.trial.index
                                sp[k] = item.trial.start + item.start
                            } catch {
                                fp[k] = error
                            }
                        }
                    }
                }
            }}
        }
        if let failure = failures.lazy.compactMap({ $0 }).first { throw failure }
        trials = indices
        starts = windowStarts
    }

    /// Where the samples go: the four arrays' storage (valid inside `withDestination` only).
    struct Destination: @unchecked Sendable {
        let video: UnsafeMutablePointer<Float>, responses: UnsafeMutablePointer<Float>
        let behavior: UnsafeMutablePointer<Float>, pupil: UnsafeMutablePointer<Float>
    }

    private mutating func withDestination(_ body: (Destination) -> Void) {
        video.withUnsafeMutableBufferPointer { v in responses.withUnsafeMutableBufferPointer { r in
            behavior.withUnsafeMutableBufferPointer { b in pupil.withUnsafeMutableBufferPointer { p in
                body(Destination(video: v.baseAddress!, responses: r.baseAddress!, behavior: b.baseAddress!, pupil: p.baseAddress!))
            }}
        }}
    }

    /// What `write` needs to place a sample (a copy of the builder would share, and so copy, its arrays).
    struct SampleShape: Sendable {
        let mouse: MouseDataset
        let channels: Int, frames: Int
    }

    private var sampleShape: SampleShape { SampleShape(mouse: mouse, channels: channels, frames: frames) }

    /// Copies frames `start ..< start + frames` of `t` into sample `s` of `d`.
    private static func write(_ t: NormalizedTrial, start: Int, slot s: Int, to d: Destination, shape: SampleShape) {
        let mouse = shape.mouse
        let c = shape.channels, frames = shape.frames
        precondition(start >= 0 && start + frames <= t.length, "MouseBatchBuilder: window \(start)..<\(start + frames) outside trial \(t.index) of length \(t.length)")
        let opts = mouse.options
        let hw = mouse.frameHeight * mouse.frameWidth
        let neurons = mouse.neuronCount
        let sampleBase = d.video + s * c * frames * hw
        t.video.withUnsafeBufferPointer { src in
            ClipCopy.transposeWindow(src.baseAddress!, rows: hw, rowStride: t.videoFrames, start: start, frames: frames,
                                     into: sampleBase, frameStride: hw)
        }
        var channel = 1
        func broadcast(_ values: [Float], rowStride: Int, row: Int) {
            let base = sampleBase + channel * frames * hw
            for k in 0..<frames {
                (base + k * hw).update(repeating: values[row * rowStride + start + k], count: hw)
            }
            channel += 1
        }
        if opts.behaviorAsChannels {
            broadcast(t.behavior, rowStride: t.behaviorFrames, row: 0)
            broadcast(t.behavior, rowStride: t.behaviorFrames, row: 1)
        }
        if opts.pupilCenterAsChannels {
            broadcast(t.pupil, rowStride: t.pupilFrames, row: 0)
            broadcast(t.pupil, rowStride: t.pupilFrames, row: 1)
        }
        t.responses.withUnsafeBufferPointer { src in
            ClipCopy.transposeWindow(src.baseAddress!, rows: neurons, rowStride: t.responseFrames, start: start, frames: frames,
                                     into: d.responses + s * frames * neurons, frameStride: neurons)
        }
        for row in 0..<2 {
            for k in 0..<frames {
                d.behavior[(s * 2 + row) * frames + k] = t.behavior[row * t.behaviorFrames + start + k]
                d.pupil[(s * 2 + row) * frames + k] = t.pupil[row * t.pupilFrames + start + k]
            }
        }
    }

    /// The batch (samples added so far must fill it).
    func finish() -> MouseBatch {
        precondition(trials.count == batchSize, "MouseBatchBuilder: \(trials.count) of \(batchSize) samples added")
        return MouseBatch(mouse: mouse.name, trials: trials, starts: starts, batchSize: batchSize, channels: channels,
                          frames: frames, height: mouse.frameHeight, width: mouse.frameWidth, neuronCount: mouse.neuronCount,
                          video: video, responses: responses, behavior: behavior, pupilCenter: pupil)
    }
}
