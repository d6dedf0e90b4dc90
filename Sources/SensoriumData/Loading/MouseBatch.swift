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

/// One sample to write into a batch: frames `start, start + step, …` of a loaded trial window of
/// `mouse`, its responses into the neuron block at `responseOffset`, optionally CutMixed with a
/// partner window (same mouse, same length) over `box`.
struct BatchSample {
    let mouse: MouseDataset
    let trial: NormalizedTrial
    let start: Int
    var responseOffset = 0
    var cutMix: (partner: NormalizedTrial, box: CutMixBox)? = nil
}

/// Fills a batch one sample at a time, so that only one full trial needs to be in memory.
///
/// Frames go onto the canvas of the first mouse's options (centred, zero padding), `frames`
/// frames `step` apart; responses `(N, T, neuronsPerFrame)`, each sample's in its block.
struct MouseBatchBuilder {
    let mouse: MouseDataset
    let batchSize: Int, frames: Int, channels: Int, step: Int
    let canvasHeight: Int, canvasWidth: Int
    /// Neurons per frame of the batch's responses (the mouse's, or all mice's for a mixed batch).
    let neuronsPerFrame: Int
    private var video: [Float], responses: [Float], behavior: [Float], pupil: [Float]
    private var trials: [Int] = [], starts: [Int] = []

    init(mouse: MouseDataset, batchSize: Int, frames: Int, step: Int = 1, neuronsPerFrame: Int? = nil) {
        precondition(step >= 1, "MouseBatchBuilder: step must be at least 1, got \(step)")
        self.mouse = mouse
        self.batchSize = batchSize
        self.frames = frames
        self.step = step
        channels = mouse.options.inputChannels
        canvasHeight = mouse.inputHeight
        canvasWidth = mouse.inputWidth
        self.neuronsPerFrame = neuronsPerFrame ?? mouse.neuronCount
        let hw = canvasHeight * canvasWidth
        video = [Float](repeating: 0, count: batchSize * channels * frames * hw)
        responses = [Float](repeating: 0, count: batchSize * frames * self.neuronsPerFrame)
        behavior = [Float](repeating: 0, count: batchSize * 2 * frames)
        pupil = [Float](repeating: 0, count: batchSize * 2 * frames)
    }

    /// Copies frames `start, start + step, …` of `t` into the next sample.
    mutating func add(_ t: NormalizedTrial, start: Int) {
        add(BatchSample(mouse: mouse, trial: t, start: start))
    }

    /// Writes `sample` into the next slot.
    mutating func add(_ sample: BatchSample) {
        let s = trials.count
        precondition(s < batchSize, "MouseBatchBuilder: batch of \(batchSize) is full")
        let shape = sampleShape
        withDestination { Self.write(sample, slot: s, to: $0, shape: shape) }
        trials.append(sample.trial.index)
        starts.append(sample.trial.start + sample.start)
    }

    /// Fills every sample of an empty builder with `load(slot)`, the samples on concurrent
    /// threads (each loads its trial and writes its own part of the arrays). The first error in
    /// slot order is rethrown.
    mutating func fillConcurrently(_ load: (Int) throws -> BatchSample) throws {
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
                                Self.write(item, slot: k, to: d, shape: shape)
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
        let channels: Int, frames: Int, step: Int
        let canvasHeight: Int, canvasWidth: Int
        let neuronsPerFrame: Int
    }

    private var sampleShape: SampleShape {
        SampleShape(channels: channels, frames: frames, step: step, canvasHeight: canvasHeight, canvasWidth: canvasWidth,
                    neuronsPerFrame: neuronsPerFrame)
    }

    /// Writes `sample` into slot `s` of `d`, CutMixing it when it has a partner.
    private static func write(_ sample: BatchSample, slot s: Int, to d: Destination, shape: SampleShape) {
        precondition(sample.mouse.options.inputChannels == shape.channels && sample.mouse.inputHeight == shape.canvasHeight
                        && sample.mouse.inputWidth == shape.canvasWidth,
                     "MouseBatchBuilder: mouse \(sample.mouse.name) gives \(sample.mouse.options.inputChannels) channels on a \(sample.mouse.inputHeight) × \(sample.mouse.inputWidth) canvas, the batch \(shape.channels) on \(shape.canvasHeight) × \(shape.canvasWidth)")
        let neurons = sample.mouse.neuronCount
        precondition(sample.responseOffset >= 0 && sample.responseOffset + neurons <= shape.neuronsPerFrame,
                     "MouseBatchBuilder: neuron block \(sample.responseOffset) ..< \(sample.responseOffset + neurons) outside \(shape.neuronsPerFrame) neurons")
        let c = shape.channels, frames = shape.frames
        let hw = shape.canvasHeight * shape.canvasWidth
        let sampleVideo = d.video + s * c * frames * hw
        let sampleResponses = d.responses + s * frames * shape.neuronsPerFrame + sample.responseOffset
        writeWindow(sample.trial, start: sample.start, mouse: sample.mouse, shape: shape,
                    video: sampleVideo, responses: sampleResponses, responseStride: shape.neuronsPerFrame)
        let t = sample.trial, start = sample.start, step = shape.step
        for row in 0..<2 {
            for k in 0..<frames {
                d.behavior[(s * 2 + row) * frames + k] = t.behavior[row * t.behaviorFrames + start + k * step]
                d.pupil[(s * 2 + row) * frames + k] = t.pupil[row * t.pupilFrames + start + k * step]
            }
        }
        guard let (partner, box) = sample.cutMix else { return }
        precondition(box.height == shape.canvasHeight && box.width == shape.canvasWidth,
                     "MouseBatchBuilder: CutMix box on \(box.height) × \(box.width), canvas \(shape.canvasHeight) × \(shape.canvasWidth)")
        // The partner window, written alone, then its box pasted over every plane and its
        // responses mixed in with the box's area share.
        var partnerVideo = [Float](repeating: 0, count: c * frames * hw)
        var partnerResponses = [Float](repeating: 0, count: frames * neurons)
        partnerVideo.withUnsafeMutableBufferPointer { pv in partnerResponses.withUnsafeMutableBufferPointer { pr in
            writeWindow(partner, start: sample.start, mouse: sample.mouse, shape: shape,
                        video: pv.baseAddress!, responses: pr.baseAddress!, responseStride: neurons)
            box.paste(from: pv.baseAddress!, into: sampleVideo, planes: c * frames)
            let a = box.areaFraction, keep = 1 - a
            for k in 0..<frames {
                let own = sampleResponses + k * shape.neuronsPerFrame, other = pr.baseAddress! + k * neurons
                for j in 0..<neurons { own[j] = keep * own[j] + a * other[j] }
            }
        }}
    }

    /// Writes the input channels `(C, T, canvas)` and responses `(T, neurons)` (row stride
    /// `responseStride`) of frames `start, start + step, …` of `t`.
    private static func writeWindow(_ t: NormalizedTrial, start: Int, mouse: MouseDataset, shape: SampleShape,
                                    video: UnsafeMutablePointer<Float>, responses: UnsafeMutablePointer<Float>,
                                    responseStride: Int) {
        let frames = shape.frames, step = shape.step
        precondition(start >= 0 && start + (frames - 1) * step < t.length,
                     "MouseBatchBuilder: frames \(start) … \(start + (frames - 1) * step) (step \(step)) outside trial \(t.index) of length \(t.length)")
        let opts = mouse.options
        let h = mouse.frameHeight, w = mouse.frameWidth
        let ch = shape.canvasHeight, cw = shape.canvasWidth, hw = ch * cw
        let neurons = mouse.neuronCount
        t.video.withUnsafeBufferPointer { src in
            if ch == h && cw == w {
                ClipCopy.transposeWindow(src.baseAddress!, rows: h * w, rowStride: t.videoFrames, start: start, frames: frames,
                                         step: step, into: video, frameStride: hw)
            } else {
                // Centred on the canvas (the reference's (size − height) // 2); the rest stays 0.
                let top = (ch - h) / 2, left = (cw - w) / 2
                for y in 0..<h {
                    ClipCopy.transposeWindow(src.baseAddress! + y * w * t.videoFrames, rows: w, rowStride: t.videoFrames,
                                             start: start, frames: frames, step: step,
                                             into: video + (top + y) * cw + left, frameStride: hw)
                }
            }
        }
        var channel = 1
        func broadcast(_ values: [Float], rowStride: Int, row: Int) {
            let base = video + channel * frames * hw
            for k in 0..<frames {
                (base + k * hw).update(repeating: values[row * rowStride + start + k * step], count: hw)
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
                                     step: step, into: responses, frameStride: responseStride)
        }
        if opts.responsesThroughReLU {
            for k in 0..<frames {
                let row = responses + k * responseStride
                for j in 0..<neurons where row[j] < 0 { row[j] = 0 }
            }
        }
    }

    /// The batch (samples added so far must fill it).
    func finish(mixture: MouseMixture? = nil, responseWeights: [Float]? = nil, name: String? = nil) -> MouseBatch {
        precondition(trials.count == batchSize, "MouseBatchBuilder: \(trials.count) of \(batchSize) samples added")
        return MouseBatch(mouse: name ?? mouse.name, trials: trials, starts: starts, batchSize: batchSize, channels: channels,
                          frames: frames, height: canvasHeight, width: canvasWidth, neuronCount: neuronsPerFrame,
                          video: video, responses: responses, behavior: behavior, pupilCenter: pupil,
                          mixture: mixture, responseWeights: responseWeights)
    }
}
