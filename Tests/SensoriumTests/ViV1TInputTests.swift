import Foundation
import Testing
@testable import Sensorium
@testable import SensoriumData

/// ViV1T's input normalisation (winners-spec §3.1, `transform_mode` 2) as data options, on a small
/// synthetic mouse whose `meta/statistics` hold per-element, per-frame mean, std, min and max over
/// the training tier (the SENSORIUM 2023 layout).
@Suite("ViV1T inputs")
struct ViV1TInputTests {
    private func withMouse(_ body: (String) throws -> Void) throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("viv1t-inputs-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let mouse = try SyntheticMouseGenerator.generate(configuration: .tiny, into: root.path)[0]
        try body(mouse.path)
    }

    private func options(video: VideoNormalization, minMax: Bool) -> MouseDataOptions {
        var o = MouseDataOptions(behaviorAsChannels: true, pupilCenterAsChannels: true)
        o.videoNormalization = video
        o.minMaxBehavior = minMax
        return o
    }

    @Test("the folder's statistics are per element and frame, with min and max; video, behaviour and pupil scale per frame, responses keep their precision")
    func minMaxPerFrame() throws {
        try withMouse { path in
            let reference = try MouseDataset(path: path, options: MouseDataOptions(behaviorAsChannels: true, pupilCenterAsChannels: true))
            let viv1t = try MouseDataset(path: path, options: options(video: .minMax, minMax: true))
            let quirk = try MouseDataset(path: path, options: options(video: .viv1tMeanStd, minMax: true))
            let (h, w) = (viv1t.frameHeight, viv1t.frameWidth)
            let padded = viv1t.paddedLength
            let videoStats = viv1t.statistics[.videos]
            for name in ["mean", "std", "min", "max"] {
                #expect(videoStats.present.contains(name))
            }
            #expect(videoStats.min!.shape == [h, w, padded] && viv1t.statistics[.behavior].max!.shape == [2, padded]
                    && viv1t.statistics[.pupilCenter].min!.shape == [2, padded])

            for trial in [viv1t.trials(in: .train)[0], viv1t.trials(in: .oracle)[0]] {
                let raw = try viv1t.readRaw(trial)
                let t = try viv1t.readTrial(trial), q = try quirk.readTrial(trial), r = try reference.readTrial(trial)
                // Min-max statistics of a frame only one training trial covers have max = min, so
                // scaled values are NaN there and a trial may end a little earlier than with the
                // reference normalisation: compare the frames all three have.
                let length = min(t.length, q.length, r.length)
                #expect(length > 0 && t.length <= r.length)
                // Video: (x − min) / (max − min) and the released code's (x − mean) / (std − mean),
                // per pixel and frame index, computed in Float as NumPy does.
                let x = raw[.videos]!.values.floats
                let (vMin, vMax) = (videoStats.min!.values, videoStats.max!.values)
                let (vMean, vStd) = (videoStats.mean!.values, videoStats.std!.values)
                var videoOK = true, quirkOK = true, referenceOK = true
                for f in 0..<length {
                    for p in 0..<(h * w) {
                        let k = p * padded + f
                        videoOK = videoOK && t.video[f * h * w + p] == (x[k] - vMin[k]) / (vMax[k] - vMin[k])
                        quirkOK = quirkOK && q.video[f * h * w + p] == (x[k] - vMean[k]) / (vStd[k] - vMean[k])
                        referenceOK = referenceOK && r.video[f * h * w + p] == (x[k] - vMean[k]) / vStd[k]
                    }
                }
                #expect(videoOK && quirkOK && referenceOK, "video of trial \(trial)")
                // Behaviour and pupil centre: per trace and frame.
                for (field, values) in [(MouseField.behavior, t.behavior), (.pupilCenter, t.pupilCenter)] {
                    let a = raw[field]!.values.floats
                    let s = viv1t.statistics[field]
                    let (lo, hi) = (s.min!.values, s.max!.values)
                    var ok = true
                    for row in 0..<2 {
                        for f in 0..<length {
                            let k = row * padded + f
                            ok = ok && values[row * t.length + f] == (a[k] - lo[k]) / (hi[k] - lo[k])
                        }
                    }
                    #expect(ok, "\(field) of trial \(trial)")
                }
                // Responses: × precision, as by default.
                let n = t.neuronCount
                #expect(Array(t.responses.prefix(length * n)) == Array(r.responses.prefix(length * n)))
                #expect(Array(q.responses.prefix(length * n)) == Array(t.responses.prefix(length * n)))
            }
            // Training trials scale into [0, 1] (the statistics are the training tier's).
            var lowest = Float.infinity, highest = -Float.infinity
            for trial in viv1t.trials(in: .train) {
                let t = try viv1t.readTrial(trial)
                for v in t.video + t.behavior + t.pupilCenter {
                    lowest = min(lowest, v)
                    highest = max(highest, v)
                }
            }
            #expect(lowest >= 0 && highest <= 1 && lowest < 0.01 && highest > 0.99, "\(lowest) … \(highest)")
        }
    }

    @Test("the options default to today's normalisation and come from the model configuration")
    func optionsFromTheModel() throws {
        #expect(MouseDataOptions().videoNormalization == .standard && !MouseDataOptions().minMaxBehavior)
        let baseline = try VideoModelConfiguration.factorizedBaseline.dataOptions()
        #expect(baseline == MouseDataOptions())
        for model in [VideoModelConfiguration.viv1t, .viv1tSmall] {
            let o = try model.dataOptions()
            #expect(o.behaviorAsChannels && o.pupilCenterAsChannels && o.minMaxBehavior && o.videoNormalization == .minMax)
        }
        var quirk = VideoModelConfiguration.viv1tSmall
        quirk.videoNormalization = .viv1tMeanStd
        let json = quirk.jsonString()
        #expect(json.contains("viv1tMeanStd"))
        #expect(try VideoModelConfiguration.fromJSON(json) == quirk)
        // Configurations written before these options read as today's normalisation.
        let old = try VideoModelConfiguration.fromJSON(#"{"seed": 3}"#)
        #expect(old.videoNormalization == .standard && !old.minMaxBehavior)
        #expect(throws: (any Error).self) { try VideoModelConfiguration.fromJSON(#"{"videoNormalization": "zscore"}"#) }
    }
}
