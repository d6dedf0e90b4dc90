import Foundation
import Testing
@testable import Sensorium
import SensoriumTestSupport

/// Inference strategies (``InferenceKind``): each strategy's output equals the windows run one by
/// one through the model's single pass and averaged or tiled by hand here, is aligned with the last
/// frames of the input, leaves training mode untouched, and round-trips through JSON and checkpoints.
@Suite struct InferenceTests {
    /// A tiny DwiseNeuro model (no burn-in, no dropout) with the given inference.
    static func dwiseNeuroModel(_ inference: String) throws -> VideoModel {
        let json = """
        {"seed": 3,
         "core": {"type": "dwiseneuro", "features": [4, 8], "spatialStrides": [2, 2], "expansionRatio": 2,
                  "seReduceRatio": 4, "dropPathRate": 0},
         "stage": {"type": "cortex", "features": [8, 8], "dropPathRate": 0},
         "readout": {"type": "groupedConv", "dropout": 0},
         "shifter": {"type": "none"}, "outputNonlinearity": {"type": "identity"},
         "biasInitializationTrials": 0,
         "inference": \(inference)}
        """
        let configuration = try VideoModelConfiguration.fromJSON(json)
        return try VideoModel(configuration: configuration, mice: [MouseNeurons(key: "m", count: 5, frameSize: [8, 8])])
    }

    /// The tiny factorised model of the other suites (burn-in 6, shifter, behaviour channels).
    static func factorizedModel(_ inference: AnyInferenceConfiguration) throws -> VideoModel {
        var configuration = TinyMouse.modelConfiguration(seed: 2)
        configuration.inference = inference
        return try VideoModel(configuration: configuration, mice: [MouseNeurons(key: "m", count: 4, frameSize: [18, 32])])
    }

    static func input(batch: Int, channels: Int, frames: Int, height: Int, width: Int, seed: UInt64) -> ModelInput {
        let g = RandomGenerator(seed: seed)
        return ModelInput(video: Tensor.randomNormal([batch, channels, frames, height, width], generator: g),
                          behavior: Tensor.randomNormal([batch, 2, frames], generator: g),
                          pupilCenter: Tensor.randomNormal([batch, 2, frames], generator: g), mouse: "m")
    }

    /// The input's frames `indices`, as their own clip (behaviour and pupil centre alike).
    static func clip(_ input: ModelInput, _ indices: [Int]) -> ModelInput {
        ModelInput(video: input.video.indexSelect(axis: 2, indices: indices),
                   behavior: input.behavior?.indexSelect(axis: 2, indices: indices),
                   pupilCenter: input.pupilCenter?.indexSelect(axis: 2, indices: indices), mouse: input.mouse)
    }

    /// Sliding windows computed window by window: every end frame from `(frames − 1) · step` on by
    /// `stride` (and every end frame of the last `span` frames), each window's outputs added to its frames, divided by the
    /// counts, from the first frame after which no frame is missed. Returns that frame and
    /// `(B, L − first, N)` values.
    static func slidingByHand(_ model: VideoModel, _ input: ModelInput, frames: Int, step: Int, stride: Int) -> (first: Int, values: Tensor) {
        let length = input.video.shape[2], batch = input.video.shape[0]
        let span = (frames - 1) * step + 1
        // Every stride-th end frame, and every end frame among the last `span` frames.
        let ends = Set(Swift.stride(from: span - 1, to: length, by: stride)).union((length - span)..<length)
            .filter { $0 >= span - 1 }.sorted()
        var sums: [Int: [Float]] = [:]
        var counts: [Int: Int] = [:]
        var neurons = 0
        for e in ends {
            let indices = (0..<frames).map { e - step * (frames - 1 - $0) }
            let y = withNoGrad { model.singlePass(clip(input, indices)) }   // (B, T', N)
            let outputs = y.shape[1]
            neurons = y.shape[2]
            for j in 0..<outputs {
                let frame = indices[frames - outputs + j]
                var row = sums[frame] ?? [Float](repeating: 0, count: batch * neurons)
                for b in 0..<batch {
                    for n in 0..<neurons { row[b * neurons + n] += y.scalars[(b * outputs + j) * neurons + n] }
                }
                sums[frame] = row
                counts[frame, default: 0] += 1
            }
        }
        var first = length - 1
        while first > 0 && sums[first - 1] != nil { first -= 1 }
        var out = [Float](repeating: 0, count: batch * (length - first) * neurons)
        for f in first..<length {
            let row = sums[f]!, c = Float(counts[f]!)
            for b in 0..<batch {
                for n in 0..<neurons { out[(b * (length - first) + f - first) * neurons + n] = row[b * neurons + n] / c }
            }
        }
        return (first, Tensor(out, shape: [batch, length - first, neurons]))
    }

    static func expectClose(_ a: Tensor, _ b: Tensor, _ what: String) {
        #expect(a.shape == b.shape, "\(what): shape \(a.shape) vs \(b.shape)")
        guard a.shape == b.shape else { return }
        var worst: Float = 0
        for (x, y) in zip(a.scalars, b.scalars) { worst = max(worst, abs(x - y) / (1e-5 + 1e-4 * abs(y))) }
        #expect(worst <= 1, "\(what): worst |error| / (1e-5 + 1e-4 |ref|) = \(worst)")
    }

    // MARK: - Sliding windows

    @Test func slidingWindowsEqualWindowsAveragedByHand() throws {
        let model = try Self.dwiseNeuroModel(#"{"type": "slidingWindows", "frames": 4, "step": 2, "windowsPerPass": 3}"#)
        model.eval()
        let input = Self.input(batch: 2, channels: 5, frames: 15, height: 8, width: 8, seed: 1)
        let y = withNoGrad { model(input) }
        let (first, reference) = Self.slidingByHand(model, input, frames: 4, step: 2, stride: 1)
        #expect(first == 0, "a core without burn-in predicts every frame")
        #expect(y.shape == [2, 15, 5])
        Self.expectClose(y, reference, "sliding windows (DwiseNeuro core)")
        // The votes: frame 0 from one window, the middle frames from `frames` windows.
        let strategy = try #require(model.inference.as(SlidingWindowInference.self))
        let cover = strategy.coverage(inputFrames: 15, outputs: 4)
        #expect(cover.first == 0 && cover.counts == [1, 1, 2, 2, 3, 3, 4, 4, 4, 3, 3, 2, 2, 1, 1])
    }

    /// A core with burn-in: each window predicts only its last sampled frames; the first predicted
    /// frame is later and the output is aligned with the last L' frames. A coprime stride skips windows.
    @Test func slidingWindowsWithBurnInAndStrideAlignWithTheLastFrames() throws {
        for (stride, perPass, expectedFirst, length) in [(1, 4, 12, 30), (3, 2, 14, 60)] {
            let strategy = SlidingWindowInference(frames: 9, step: 2, stride: stride, windowsPerPass: perPass)
            let model = try Self.factorizedModel(.slidingWindows(strategy))
            model.eval()
            let input = Self.input(batch: 1, channels: 3, frames: length, height: 18, width: 32, seed: 2)
            let y = withNoGrad { model(input) }
            let (first, reference) = Self.slidingByHand(model, input, frames: 9, step: 2, stride: stride)
            // Windows of 9 sampled frames give 9 − 6 = 3 outputs, the frames e − 4, e − 2, e; the first
            // window ends at 16. With stride 3 (ends 16, 19, 22, …, then every end of the last 17
            // frames) frame 13 is never predicted.
            #expect(first == expectedFirst, "stride \(stride)")
            #expect(y.shape == [1, length - first, 4])
            Self.expectClose(y, reference, "sliding windows with burn-in, stride \(stride)")
        }
    }

    @Test func slidingWindowsAreDifferentiable() throws {
        let model = try Self.dwiseNeuroModel(#"{"type": "slidingWindows", "frames": 3, "step": 2, "windowsPerPass": 2}"#)
        model.eval()
        let input = Self.input(batch: 1, channels: 5, frames: 9, height: 8, width: 8, seed: 3)
        input.video.requiresGrad = true
        let weights = Tensor.randomNormal([1, 9, 5], generator: RandomGenerator(seed: 4))
        (model(input) * weights).sum().backward()
        let strategyGradient = try #require(input.video.grad).scalars
        // The same loss written as the hand-made average of single passes.
        let video = input.video.detached().copy()
        video.requiresGrad = true
        let byHand = ModelInput(video: video, behavior: input.behavior, pupilCenter: input.pupilCenter, mouse: "m")
        var total: Tensor?
        var counts = [Float](repeating: 0, count: 9)
        var pieces: [(Tensor, [Int])] = []
        for e in 4..<9 {
            let indices = [e - 4, e - 2, e]
            pieces.append((model.singlePass(Self.clip(byHand, indices)), indices))
            for i in indices { counts[i] += 1 }
        }
        for (y, indices) in pieces {
            var scale = [Float](repeating: 0, count: 9 * 3)
            for (j, f) in indices.enumerated() { scale[f * 3 + j] = 1 / counts[f] }
            // (1, 3, 5) → (1, 9, 5): a fixed (9 × 3) placement-and-average matrix.
            let placed = matmul(Tensor(scale, shape: [9, 3]), y.reshaped([3, 5])).reshaped([1, 9, 5])
            total = total.map { $0 + placed } ?? placed
        }
        (total! * weights).sum().backward()
        let handGradient = try #require(video.grad).scalars
        var worst: Float = 0
        for (a, b) in zip(strategyGradient, handGradient) { worst = max(worst, abs(a - b) / (1e-5 + 1e-3 * abs(b))) }
        #expect(worst <= 1, "input gradients through the strategy and by hand: worst ratio \(worst)")
    }

    @Test func rowAccumulationGradient() {
        let g = RandomGenerator(seed: 5)
        let x = Tensor.randomNormal([2, 5, 3], generator: g)
        x.requiresGrad = true
        let results = GradientCheck.check([x]) { $0[0].accumulatingRows(into: 4, targets: [0, 2, 2, 3, 0]) }
        for r in results { #expect(r.passed, "\(r)") }
        let dropped = GradientCheck.check([x]) { $0[0].accumulatingRows(into: 3, targets: [-1, 2, 0, -1, 0]) }
        for r in dropped { #expect(r.passed, "\(r)") }
        let y = withNoGrad { x.accumulatingRows(into: 4, targets: [0, 2, 2, 3, 0]) }
        let s = x.scalars, o = y.scalars
        #expect(o[0] == s[0] + s[12] && o[3] == 0 && o[6] == s[3] + s[6] && o[9] == s[9], "rows add into their targets")
        let z = withNoGrad { x.accumulatingRows(into: 3, targets: [-1, 2, 0, -1, 0]) }
        #expect(z.scalars[0] == s[6] + s[12] && z.scalars[3] == 0 && z.scalars[6] == s[3], "a target of −1 drops its row")
    }

    // MARK: - Stride tiles

    /// Dynamic-V1FM's windows for a 299-frame trial: starts 35, 50, …, 260 keeping 15 frames each,
    /// then the [-30:] window keeping its last 9 outputs; every frame 50 … 298 exactly once.
    @Test func strideTilesReproduceThePaperWindows() {
        let strategy = StrideTileInference()
        let windows = strategy.windows(inputFrames: 299)
        #expect(windows.dropLast().map(\.start) == Array(stride(from: 35, through: 260, by: 15)))
        #expect(windows.dropLast().allSatisfy { $0.kept == 15 })
        #expect(windows.last == StrideTileInference.Window(start: 269, kept: 9))
        #expect(strategy.firstPredictedFrame(inputFrames: 299) == 50)
        for length in [31, 44, 64, 65, 66, 80, 299, 300] {
            var frames: [Int] = []
            for w in strategy.windows(inputFrames: length) {
                #expect(w.start >= 0 && w.start + strategy.frames <= length)
                frames += Array((w.start + strategy.frames - w.kept)..<(w.start + strategy.frames))
            }
            let first = strategy.firstPredictedFrame(inputFrames: length)
            #expect(frames == Array(first..<length), "L = \(length): every frame from \(first) once, in order")
        }
        // DwiseNeuro's: 270 windows for 300 frames, every frame predicted, up to 16 times.
        let sliding = SlidingWindowInference()
        #expect(sliding.windowEnds(inputFrames: 300) == Array(30...299))
        let cover = sliding.coverage(inputFrames: 300, outputs: 16)
        #expect(cover.first == 0 && cover.counts.count == 300 && cover.counts.max() == 16 && !cover.counts.contains(0))
    }

    /// Stride tiles computed window by window: `f₀ = max(frames − stride, min(firstKept, L − stride))`,
    /// windows from `f₀ − (frames − stride)` every `stride` while they fit, each keeping its last
    /// `stride` outputs, then `[L − frames, L)` for the rest.
    static func tilesByHand(_ model: VideoModel, _ input: ModelInput, frames: Int, stride: Int, firstKept: Int) -> (first: Int, values: Tensor) {
        let length = input.video.shape[2]
        let first = max(frames - stride, min(firstKept, length - stride))
        var pieces: [Tensor] = []
        var start = first - (frames - stride), covered = first
        while start + frames <= length {
            let out = withNoGrad { model.singlePass(clip(input, Array(start..<(start + frames)))) }
            pieces.append(out.sliced(axis: 1, range: (out.shape[1] - stride)..<out.shape[1]))
            covered = start + frames
            start += stride
        }
        if covered < length {
            let out = withNoGrad { model.singlePass(clip(input, Array((length - frames)..<length))) }
            pieces.append(out.sliced(axis: 1, range: (out.shape[1] - (length - covered))..<out.shape[1]))
        }
        return (first, Tensor.concatenate(pieces, axis: 1))
    }

    /// Dynamic-V1FM's core (Swin, 2 frames per token: a window of 8 frames gives 4 outputs).
    @Test func strideTilesOnTheSwinCore() throws {
        var configuration = try VideoModelConfiguration.fromJSON(WinnerRegistryTests.swinJSON)
        configuration.inference = .strideTiles(StrideTileInference(frames: 8, stride: 4, firstKeptFrame: 10, windowsPerPass: 2))
        let model = try VideoModel(configuration: configuration, mice: [MouseNeurons(key: "m", count: 20, frameSize: [18, 32])])
        model.eval()
        for length in [9, 23, 30] {
            let input = Self.input(batch: 1, channels: 1, frames: length, height: 18, width: 32, seed: UInt64(40 + length))
            let y = withNoGrad { model(input) }
            let (first, reference) = Self.tilesByHand(model, input, frames: 8, stride: 4, firstKept: 10)
            #expect(y.shape == [1, length - first, 20], "L = \(length)")
            Self.expectClose(y, reference, "stride tiles on the Swin core, L = \(length)")
        }
        // A window must give at least `stride` outputs: 8 frames give 4, not 5.
        #expect(throws: SensoriumError.self) {
            try model.useInference(.strideTiles(StrideTileInference(frames: 8, stride: 5)))
        }
    }

    @Test func strideTilesEqualWindowsTiledByHand() throws {
        let strategy = StrideTileInference(frames: 10, stride: 3, firstKeptFrame: 12, windowsPerPass: 3)
        let model = try Self.factorizedModel(.strideTiles(strategy))
        model.eval()
        for length in [11, 24, 29] {
            let input = Self.input(batch: 2, channels: 3, frames: length, height: 18, width: 32, seed: UInt64(length))
            let y = withNoGrad { model(input) }
            let (first, reference) = Self.tilesByHand(model, input, frames: 10, stride: 3, firstKept: 12)
            #expect(first == max(7, min(12, length - 3)))
            #expect(y.shape == [2, length - first, 4], "L = \(length)")
            Self.expectClose(y, reference, "stride tiles, L = \(length)")
        }
    }

    // MARK: - Where strategies apply

    @Test func trainingModeAndShortInputsRunOnePass() throws {
        let model = try Self.dwiseNeuroModel(#"{"type": "slidingWindows", "frames": 4, "step": 2}"#)
        let long = Self.input(batch: 1, channels: 5, frames: 12, height: 8, width: 8, seed: 6)
        model.train()
        let trained = model(long), single = model.singlePass(long)
        #expect(trained.shape == [1, 12, 5])
        #expect(trained.scalars == single.scalars, "training mode is one pass over the whole input, bit for bit")
        model.eval()
        let short = Self.input(batch: 1, channels: 5, frames: 6, height: 8, width: 8, seed: 7)   // < span 7
        let (a, b) = withNoGrad { (model(short), model.singlePass(short)) }
        #expect(a.scalars == b.scalars, "inputs shorter than a window run in one pass")
        let (c, d) = withNoGrad { (model(long), model.singlePass(long)) }
        #expect(c.shape == d.shape && c.scalars != d.scalars, "longer inputs go through the windows in evaluation mode")

        let whole = try Self.dwiseNeuroModel(#"{"type": "wholeTrial"}"#)
        whole.eval()
        let (e, f) = withNoGrad { (whole(long), whole.singlePass(long)) }
        #expect(e.scalars == f.scalars, "wholeTrial is one pass")
    }

    @Test func invalidStrategiesAreRefusedNamingTheProblem() throws {
        // Step 2 and stride 2 only ever predict frames of one parity.
        #expect {
            try Self.dwiseNeuroModel(#"{"type": "slidingWindows", "frames": 4, "step": 2, "stride": 2}"#)
        } throws: { "\($0)".contains("unpredicted") && "\($0)".contains("stride") }
        // Windows of 8 frames give 2 outputs of the factorised core (burn-in 6), fewer than the stride 3.
        #expect {
            try Self.factorizedModel(.strideTiles(StrideTileInference(frames: 8, stride: 3)))
        } throws: { "\($0)".contains("fewer than the 3") }
        #expect {
            try Self.factorizedModel(.slidingWindows(SlidingWindowInference(frames: 4, step: 1)))
        } throws: { "\($0)".contains("no output frames") }
        #expect {
            try VideoModelConfiguration.fromJSON(#"{"inference": {"type": "slidingWindows", "strides": 2}}"#)
        } throws: { "\($0)".contains("strides") }
        #expect {
            try VideoModelConfiguration.fromJSON(#"{"inference": {"type": "tiles"}}"#)
        } throws: { "\($0)".contains("strideTiles") }
    }

    // MARK: - Configuration

    @Test func inferenceRoundTripsThroughJSONAndCheckpoints() throws {
        let plain = try VideoModelConfiguration.fromJSON("{}")
        #expect(plain.inference == .wholeTrial)
        #expect(plain.jsonString().contains("\"inference\""))
        let partial = try VideoModelConfiguration.fromJSON(#"{"inference": {"type": "strideTiles", "stride": 10}}"#)
        #expect(partial.inference.as(StrideTileInference.self) == StrideTileInference(frames: 30, stride: 10, firstKeptFrame: 50))
        for strategy in [AnyInferenceConfiguration.wholeTrial, .slidingWindows(), .strideTiles(),
                         .slidingWindows(SlidingWindowInference(frames: 8, step: 3, stride: 2, windowsPerPass: 5))] {
            var c = VideoModelConfiguration()
            c.inference = strategy
            #expect(try VideoModelConfiguration.fromJSON(c.jsonString()) == c)
            let decoded = try JSONDecoder().decode(VideoModelConfiguration.self, from: JSONEncoder().encode(c))
            #expect(decoded == c)
        }
        // A configuration saved before the key existed decodes to one pass.
        var old = try JSONSerialization.jsonObject(with: Data(VideoModelConfiguration().jsonString().utf8)) as! [String: Any]
        old.removeValue(forKey: "inference")
        let oldData = try JSONSerialization.data(withJSONObject: old)
        #expect(try JSONDecoder().decode(VideoModelConfiguration.self, from: oldData).inference == .wholeTrial)

        let model = try Self.dwiseNeuroModel(#"{"type": "slidingWindows", "frames": 4, "step": 2, "windowsPerPass": 2}"#)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sensorium-inference-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try model.save(to: dir.appendingPathComponent("model.h5"))
        let loaded = try VideoModel.load(from: dir.appendingPathComponent("model.h5"))
        #expect(loaded.inference == model.inference)
        // Changing the strategy later is checked and recorded in the architecture.
        try loaded.useInference(.wholeTrial)
        #expect(loaded.architecture?.configuration.inference == .wholeTrial)
        #expect(throws: SensoriumError.self) { try loaded.useInference(.slidingWindows(SlidingWindowInference(frames: 0))) }
    }

    @Test func everyBuiltInStrategyIsRegistered() {
        #expect(InferenceKind.registry.typeNames == ["wholeTrial", "slidingWindows", "strideTiles"])
    }

    // MARK: - Precision scaling

    @Test func precisionFactorsUseTheThreshold() {
        // Mean of the non-NaN stds 2.5275, threshold 0.025275.
        let p = PrecisionScaling(std: [2, 0.01, .nan, 8, 0.1], neurons: 5)
        let f = p.factors
        #expect(f[0] == 0.5 && f[3] == 0.125 && abs(f[4] - 10) < 1e-5)
        #expect(abs(f[1] - 1 / 0.025275) < 1e-3 && f[1] == f[2], "small and NaN stds take the threshold")
        // Per frame: (2 neurons, 3 frames); frames beyond the statistics take the threshold.
        let q = PrecisionScaling(std: [1, 2, 4, 0.5, 0.25, 8], neurons: 2, frames: 3)
        #expect(q.factor(neuron: 0, frame: 1) == 0.5 && q.factor(neuron: 1, frame: 2) == 0.125)
        #expect(q.factor(neuron: 1, frame: 5) == q.fallback && abs(q.fallback - 1 / (0.01 * 15.75 / 6)) < 1e-2)
        var values: [Float] = [1, 1, 1, 1]             // rows = frames 1 and 2, 2 neurons
        q.apply(to: &values, firstFrame: 1)
        #expect(values == [0.5, 4, 0.25, 0.125])
    }

    /// Predictions scaled per neuron by the precision; per-neuron correlations unchanged.
    @Test func precisionScalingScalesPredictionsNotCorrelations() throws {
        let dataset = try TinyMouse.dataset()
        let model = try VideoModel(configuration: TinyMouse.modelConfiguration(seed: 3), datasets: [dataset])
        let precision = try PrecisionScaling(dataset: dataset)
        #expect(precision.neurons == dataset.neuronCount)
        var plain: [TrialPrediction] = [], scaled: [TrialPrediction] = []
        try Predictions.forEach(model, datasets: [dataset], tiers: [.finalTestMain], skipFrames: 10) { plain.append($0) }
        try Predictions.forEach(model, datasets: [dataset], tiers: [.finalTestMain], skipFrames: 10,
                                precisionScaling: true) { scaled.append($0) }
        #expect(!plain.isEmpty && plain.count == scaled.count)
        for (p, s) in zip(plain, scaled) {
            for n in 0..<p.neurons {
                for t in 0..<p.frames {
                    let i = n * p.frames + t
                    let factor = precision.factor(neuron: n, frame: 10 + t)   // the kept frames start after the skipped 10
                    #expect(abs(s.values[i] - p.values[i] * factor) <= 1e-6 * max(1, abs(s.values[i])))
                }
            }
        }
        var options = EvaluationOptions(skipFrames: 10, groundTruthCeiling: false)
        let a = try Evaluation.evaluate(model, datasets: [dataset], options: options)
        options.precisionScaling = true
        let b = try Evaluation.evaluate(model, datasets: [dataset], options: options)
        let ma = try #require(a.summary.mainTrack), mb = try #require(b.summary.mainTrack)
        if precision.frames == nil {
            #expect(abs(ma.singleTrial - mb.singleTrial) < 1e-5 && abs(ma.toAverage - mb.toAverage) < 1e-5,
                    "a factor per neuron leaves per-neuron correlations unchanged")
        } else {
            #expect(ma.singleTrial != mb.singleTrial, "per-frame factors reach the scores")
        }
        #expect(b.options.precisionScaling && !a.options.precisionScaling)
        let decoded = try JSONDecoder().decode(EvaluationOptions.self, from: JSONEncoder().encode(options))
        #expect(decoded == options)
    }

    /// `sensorium predict --precision-scale` writes the predictions times the precision.
    @Test func predictCommandScalesWithTheFlag() throws {
        let dataset = try TinyMouse.dataset()
        let model = try VideoModel(configuration: TinyMouse.modelConfiguration(seed: 4), datasets: [dataset])
        let root = try temporaryFolder("precision")
        defer { try? FileManager.default.removeItem(at: root) }
        try model.save(to: root.appendingPathComponent("model.h5"))
        var read: [[MousePredictions]] = []
        for flags in [[], ["--precision-scale"]] {
            let out = root.appendingPathComponent(flags.isEmpty ? "plain" : "scaled")
            let result = try SensoriumTool.run(["predict", "-m", root.path, TinyMouse.root, "-o", out.path, "--format", "npy",
                                                "--tiers", "final", "--skip-frames", "10"] + flags)
            #expect(result.status == 0, "\(result.all)")
            read.append(try Predictions.readNPY(folder: out))
        }
        let precision = try PrecisionScaling(dataset: dataset)
        let plain = try #require(read[0].first), scaled = try #require(read[1].first)
        #expect(!plain.trials.isEmpty && plain.trials.count == scaled.trials.count)
        for (p, s) in zip(plain.trials, scaled.trials) {
            for n in 0..<p.neurons {
                for t in 0..<p.frames {
                    let i = n * p.frames + t
                    #expect(abs(s.values[i] - p.values[i] * precision.factor(neuron: n, frame: 10 + t)) <= 1e-6 * max(1, abs(s.values[i])))
                }
            }
        }
    }
}
