import Foundation
import Testing
import SensoriumTensor
@testable import SensoriumData

/// A copy of the tiny synthetic mouse that a test may modify.
func copyOfTinyMouse(_ name: String) throws -> String {
    let root = mouseTempPath(name)
    try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    let path = root + "/" + (tinySyntheticMouse as NSString).lastPathComponent
    try FileManager.default.copyItem(atPath: tinySyntheticMouse, toPath: path)
    return path
}

/// The raw arrays of a trial file: values in (rows, T) layout and T.
func rawTrialArray(_ mouse: MouseDataset, _ field: MouseField, _ trial: Int) throws -> (values: [Float], frames: Int) {
    let (shape, values) = try npyFloats(mouse.layout.trialFile(field, trial: trial))
    return (values, shape.last!)
}

/// DwiseNeuro's input pipeline as data options: raw values, square canvas, ReLU, strided clips.
@Suite struct ClipPipelineTests {
    /// Video (C, T, H, W) of sample `s` of a batch: value at channel c, frame k, row y, column x.
    func pixel(_ b: MouseBatch, _ s: Int, _ c: Int, _ k: Int, _ y: Int, _ x: Int) -> Float {
        b.video[(((s * b.channels + c) * b.frames + k) * b.height + y) * b.width + x]
    }

    @Test func rawValuesOnASquareCanvasEqualTheFiles() throws {
        let mouse = try MouseDataset(path: tinySyntheticMouse, options: .dwiseNeuro)
        let h = mouse.frameHeight, w = mouse.frameWidth
        #expect(h == 18 && w == 32)
        #expect(mouse.inputHeight == 32 && mouse.inputWidth == 32)
        let top = (32 - h) / 2
        #expect(top == 7)
        let loader = MouseLoader(dataset: mouse, tier: .train, batchSize: 3, mode: .strided(frames: 5, step: 2, position: .last),
                                 generator: RandomGenerator(seed: 3))
        let batch = try #require(try loader.epoch(prefetch: 0).next())
        #expect(batch.videoShape == [3, 5, 5, 32, 32])
        for s in 0..<3 {
            let trial = batch.trials[s], start = batch.starts[s]
            let video = try rawTrialArray(mouse, .videos, trial), responses = try rawTrialArray(mouse, .responses, trial)
            let behavior = try rawTrialArray(mouse, .behavior, trial), pupil = try rawTrialArray(mouse, .pupilCenter, trial)
            for k in 0..<5 {
                let t = start + 2 * k
                for y in 0..<32 {
                    for x in 0..<32 {
                        let inside = y >= top && y < top + h
                        let expected = inside ? video.values[((y - top) * w + x) * video.frames + t] : 0
                        #expect(pixel(batch, s, 0, k, y, x) == expected)
                    }
                }
                // Behaviour and pupil planes cover the whole canvas, padding rows included.
                let planes = [behavior.values[t], behavior.values[behavior.frames + t],
                              pupil.values[t], pupil.values[pupil.frames + t]]
                for (c, value) in planes.enumerated() {
                    #expect(pixel(batch, s, c + 1, k, 0, 0) == value && pixel(batch, s, c + 1, k, 31, 17) == value)
                    #expect(pixel(batch, s, c + 1, k, top + 3, 5) == value)
                }
                for n in 0..<mouse.neuronCount {
                    #expect(batch.responses[(s * 5 + k) * mouse.neuronCount + n] == max(0, responses.values[n * responses.frames + t]))
                }
                #expect(batch.behavior[(s * 2 + 1) * 5 + k] == behavior.values[behavior.frames + t])
            }
        }
    }

    @Test func stridedClipsEndAnywhereInTheirRange() throws {
        let mouse = try MouseDataset(path: tinySyntheticMouse, options: MouseDataOptions(normalize: false))
        let frames = 4, step = 3, span = (frames - 1) * step + 1
        var endsAtLast = 0, endsAtFirst = 0
        for seed in 0..<40 {
            let loader = MouseLoader(dataset: mouse, tier: .train, batchSize: 6,
                                     mode: .strided(frames: frames, step: step, position: .last), generator: RandomGenerator(seed: UInt64(seed)))
            let batch = try #require(try loader.epoch(prefetch: 0).next())
            for s in 0..<batch.batchSize {
                let trial = batch.trials[s], start = batch.starts[s], end = start + span - 1
                let length = try mouse.trialLength(trial)
                #expect(end >= span - 1 && end <= length - 1)
                if end == length - 1 { endsAtLast += 1 }
                if end == span - 1 { endsAtFirst += 1 }
                // Targets and frames at the same indices start, start + 3, …
                let responses = try rawTrialArray(mouse, .responses, trial), video = try rawTrialArray(mouse, .videos, trial)
                for k in 0..<frames {
                    #expect(batch.responses[(s * frames + k) * mouse.neuronCount + 2] == responses.values[2 * responses.frames + start + step * k])
                    #expect(pixel(batch, s, 0, k, 1, 4) == video.values[(1 * mouse.frameWidth + 4) * video.frames + start + step * k])
                }
            }
        }
        // The end frame is uniform over span − 1 … L − 1 inclusive (about 1/50 each here).
        #expect(endsAtLast > 0 && endsAtFirst > 0)
    }

    @Test func referencePlacementNeverEndsOnTheLastFrame() throws {
        let mouse = try MouseDataset(path: tinySyntheticMouse, options: MouseDataOptions(normalize: false))
        for seed in 0..<20 {
            let loader = MouseLoader(dataset: mouse, tier: .train, batchSize: 6, mode: .strided(frames: 5, step: 2, position: .reference),
                                     generator: RandomGenerator(seed: UInt64(seed)))
            let batch = try #require(try loader.epoch(prefetch: 0).next())
            for s in 0..<6 {
                let length = try mouse.trialLength(batch.trials[s])
                #expect(batch.starts[s] + 8 < length - 1)
            }
        }
        // `.clips(frames:)` and `.strided(frames:step: 1, position: .reference)` are the same clips.
        let a = MouseLoader(dataset: mouse, tier: .train, batchSize: 3, mode: .clips(frames: 7), generator: RandomGenerator(seed: 4))
        let b = MouseLoader(dataset: mouse, tier: .train, batchSize: 3, mode: .strided(frames: 7, step: 1, position: .reference),
                            generator: RandomGenerator(seed: 4))
        let x = try #require(try a.epoch(prefetch: 0).next()), y = try #require(try b.epoch(prefetch: 0).next())
        #expect(x.video == y.video && x.responses == y.responses && x.starts == y.starts)
    }

    @Test func responsesThroughReLU() throws {
        let path = try copyOfTinyMouse("relu")
        // Shift trial 0's responses down so that some are negative.
        let file = MouseLayout(root: path).trialFile(.responses, trial: 0)
        let (shape, values) = try npyFloats(file)
        try NPYFile.write(NPYArray(floats: values.map { $0.isNaN ? $0 : $0 - 0.5 }, shape: shape), to: file)
        let plain = try MouseDataset(path: path, options: MouseDataOptions(normalize: false))
        let relu = try MouseDataset(path: path, options: MouseDataOptions(normalize: false, responsesThroughReLU: true))
        let p = try plain.readTrial(0), r = try relu.readTrial(0)
        #expect(p.responses.contains { $0 < 0 })
        #expect(r.responses == p.responses.map { max(0, $0) })
        #expect(r.video == p.video)
        for dataset in [plain, relu] {
            let loader = MouseLoader(dataset: dataset, tier: .train, batchSize: 1, mode: .fullTrials(maxFrames: nil),
                                     generator: RandomGenerator(seed: 0), trials: [0])
            let batch = try #require(try loader.epoch(prefetch: 0).next())
            #expect(batch.responses == (dataset === relu ? r.responses : p.responses))
        }
    }

    @Test func defaultsKeepTheReferencePipeline() throws {
        let options = MouseDataOptions()
        #expect(options.normalize && !options.padToSquare && !options.responsesThroughReLU)
        let mouse = try MouseDataset(path: tinySyntheticMouse)
        #expect(mouse.inputHeight == mouse.frameHeight && mouse.inputWidth == mouse.frameWidth)
        let loader = MouseLoader(dataset: mouse, tier: .train, batchSize: 2, mode: .clips(frames: 10), generator: RandomGenerator(seed: 1))
        let batch = try #require(try loader.epoch(prefetch: 0).next())
        #expect(batch.height == 18 && batch.width == 32)
        let trial = try mouse.readTrial(batch.trials[0])
        let hw = 18 * 32
        #expect(Array(batch.video[0..<hw]) == Array(trial.video[(batch.starts[0] * hw)..<((batch.starts[0] + 1) * hw)]))
    }
}
