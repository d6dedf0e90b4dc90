import Foundation
import Testing
import SensoriumTensor
@testable import SensoriumData

/// One tiny synthetic mouse generated once per test process and shared (read-only) by tests.
let tinySyntheticMouse: String = {
    let dir = mouseTempPath("synthetic")
    let summaries = try! SyntheticMouseGenerator.generate(configuration: .tiny, into: dir)
    return summaries[0].path
}()

func npyFloats(_ path: String) throws -> (shape: [Int], values: [Float]) {
    let a = try NPYFile.read(path)
    return (a.shape, try a.floats())
}

@Suite struct SyntheticMouseTests {
    @Test func writesTheExactLayout() throws {
        let c = SyntheticMouseConfiguration.tiny
        let mouse = try MouseDataset(path: tinySyntheticMouse)
        #expect(mouse.name == SyntheticMouseGenerator.mouseName(index: 0, configuration: c))
        #expect(mouse.trialCount == c.trialsPerMouse)
        #expect(mouse.neuronCount == c.neurons)
        #expect(mouse.frameHeight == c.height && mouse.frameWidth == c.width && mouse.paddedLength == c.paddedLength)
        #expect(mouse.tierCounts[.train] == c.trainTrials)
        #expect(mouse.tierCounts[.oracle] == c.oracleClips * c.repeats)
        #expect(mouse.tierCounts[.finalTestBonus] == 2 * c.finalTestBonusClipsPerFamily * c.repeats)
        #expect(mouse.tierCounts[MouseTier.none] == c.noneTrials)
        #expect(Set(mouse.unitIDs).count == c.neurons)
        for field in MouseField.allCases {
            #expect(mouse.statistics[field].present == ["mean", "std", "min", "max", "median"])
        }
        let root = tinySyntheticMouse
        for file in ["config.json", "meta/trials/trial_idx.npy", "meta/trials/condition_hashes.npy", "meta/trials/types.npy",
                     "meta/synthetic/ground_truth.json", "meta/synthetic/rf_grid_positions.npy", "data/rates/0.npy"] {
            #expect(FileManager.default.fileExists(atPath: root + "/" + file), "\(file)")
        }
        // Session order is a permutation.
        let order = try NPYFile.read(root + "/meta/trials/trial_idx.npy").ints()
        #expect(order.sorted() == Array(0..<mouse.trialCount))
    }

    @Test func trialsAreNaNPaddedWithVariableLengths() throws {
        let c = SyntheticMouseConfiguration.tiny
        let mouse = try MouseDataset(path: tinySyntheticMouse)
        var lengths: [Int] = []
        for k in 0..<mouse.trialCount {
            let L = try mouse.trialLength(k)
            lengths.append(L)
            #expect(L >= c.frames - c.lengthJitter && L <= c.maximumLength && L < c.paddedLength)
            let r = try npyFloats(tinySyntheticMouse + "/data/responses/\(k).npy")
            #expect(r.shape == [c.neurons, c.paddedLength])
            for t in 0..<c.paddedLength { #expect(r.values[t].isNaN == (t >= L)) }
            let b = try npyFloats(tinySyntheticMouse + "/data/behavior/\(k).npy")
            #expect(b.values[c.paddedLength + L - 1].isFinite)
            #expect(b.values[c.paddedLength + L].isNaN)
        }
        #expect(lengths.contains(c.maximumLength))
        #expect(Set(lengths).count > 2)
    }

    @Test func repeatsAndStimulusTypes() throws {
        let c = SyntheticMouseConfiguration.tiny
        let mouse = try MouseDataset(path: tinySyntheticMouse)
        let types = try NPYFile.read(tinySyntheticMouse + "/meta/trials/types.npy").strings()
        for tier in [MouseTier.oracle, .liveTestMain, .liveTestBonus, .finalTestMain, .finalTestBonus] {
            let groups = try mouse.repeatGroups(in: tier)
            #expect(groups.allSatisfy { $0.count == c.repeats }, "\(tier)")
            for g in groups { #expect(Set(g.map { types[$0] }).count == 1) }
        }
        #expect(mouse.trials(in: .train).allSatisfy { types[$0] == StimulusFamily.naturalMovie.rawValue })
        #expect(mouse.trials(in: .liveTestBonus).allSatisfy { types[$0] == StimulusFamily.outOfDistribution[0].rawValue })
        #expect(Set(mouse.trials(in: .finalTestBonus).map { types[$0] })
                == Set(StimulusFamily.outOfDistribution[1...2].map(\.rawValue)))
        // Identical frames: grouping by pixels agrees with the hashes.
        let oracle = mouse.trials(in: .oracle)
        #expect(try RepeatGrouping.pixelGroups(mouse, oracle) == mouse.repeatGroups(in: .oracle))
    }

    @Test func normalisationOfTheGeneratedMouseByHand() throws {
        let mouse = try MouseDataset(path: tinySyntheticMouse)
        let root = tinySyntheticMouse
        let T = mouse.paddedLength, N = mouse.neuronCount, H = mouse.frameHeight, W = mouse.frameWidth
        let vm = try npyFloats(root + "/meta/statistics/videos/all/mean.npy").values
        let vs = try npyFloats(root + "/meta/statistics/videos/all/std.npy").values
        let rs = try npyFloats(root + "/meta/statistics/responses/all/std.npy").values
        let bs = try npyFloats(root + "/meta/statistics/behavior/all/std.npy").values
        let pm = try npyFloats(root + "/meta/statistics/pupil_center/all/mean.npy").values
        let ps = try npyFloats(root + "/meta/statistics/pupil_center/all/std.npy").values
        // Precision by hand: 1% of the mean of the non-NaN stds (Double mean; equal to NumPy's to
        // within an ulp, which cannot flip these comparisons).
        let finite = rs.filter { !$0.isNaN }
        let threshold = Float(0.01) * Float(finite.map(Double.init).reduce(0, +) / Double(finite.count))
        for k in [0, 7, mouse.trialCount - 1] {
            let trial = try mouse.readTrial(k)
            let v = try npyFloats(root + "/data/videos/\(k).npy").values
            let r = try npyFloats(root + "/data/responses/\(k).npy").values
            let b = try npyFloats(root + "/data/behavior/\(k).npy").values
            let p = try npyFloats(root + "/data/pupil_center/\(k).npy").values
            for t in Swift.stride(from: 0, to: trial.length, by: 7) {
                for (i, j) in [(0, 0), (H / 2, W / 3), (H - 1, W - 1)] {
                    let e = (i * W + j) * T + t
                    #expect(trial.video[(t * H + i) * W + j] == (v[e] - vm[e]) / vs[e])
                }
                for n in [0, N / 2, N - 1] {
                    let s = rs[n * T + t]
                    let precision = s > threshold ? 1 / s : 1 / threshold
                    #expect(trial.responses[t * N + n] == r[n * T + t] * precision)
                }
                for c in 0..<2 {
                    #expect(trial.behavior[c * trial.length + t] == b[c * T + t] * (1 / bs[c * T + t]))
                    #expect(trial.pupilCenter[c * trial.length + t] == (p[c * T + t] - pm[c * T + t]) / ps[c * T + t])
                }
            }
        }
    }

    @Test func statisticsArePerFrameOverTrainingTrials() throws {
        let mouse = try MouseDataset(path: tinySyntheticMouse)
        let root = tinySyntheticMouse
        let T = mouse.paddedLength
        let w = SyntheticMouseConfiguration.tiny.statisticsWindow
        let train = mouse.trials(in: .train)
        func check(_ field: String, rows: Int, window: Int, points: [(Int, Int)]) throws {
            let mean = try npyFloats(root + "/meta/statistics/\(field)/all/mean.npy")
            let std = try npyFloats(root + "/meta/statistics/\(field)/all/std.npy")
            let median = try npyFloats(root + "/meta/statistics/\(field)/all/median.npy")
            let minimum = try npyFloats(root + "/meta/statistics/\(field)/all/min.npy")
            #expect(mean.values.count == rows * T)
            // No trial reaches the last padded frame: its statistics are NaN, as in the real data.
            #expect(mean.values[T - 1].isNaN && std.values[2 * T - 1].isNaN)
            let trials = try train.map { try npyFloats(root + "/data/\(field)/\($0).npy").values }
            for (n, t) in points {
                var xs: [Double] = []
                for x in trials { for u in max(0, t - window)...min(T - 1, t + window) { xs.append(Double(x[n * T + u])) } }
                xs = xs.filter { !$0.isNaN }.sorted()
                let m = xs.reduce(0, +) / Double(xs.count)
                let s = (xs.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(xs.count)).squareRoot()
                let med = xs.count % 2 == 1 ? xs[xs.count / 2] : (xs[xs.count / 2 - 1] + xs[xs.count / 2]) / 2
                #expect(abs(Double(mean.values[n * T + t]) - m) <= 1e-5 * max(1, abs(m)), "\(field) \(n) \(t)")
                #expect(abs(Double(std.values[n * T + t]) - s) <= 1e-5 * max(1, s), "\(field) \(n) \(t)")
                #expect(abs(Double(median.values[n * T + t]) - med) <= 1e-5 * max(1, abs(med)), "\(field) \(n) \(t)")
                #expect(Double(minimum.values[n * T + t]) == Double(Float(xs[0])), "\(field) \(n) \(t)")
            }
        }
        // Responses pool ±w frames (w = 10 by default); the other fields are strictly per frame.
        try check("responses", rows: mouse.neuronCount, window: w, points: [(0, 0), (3, 17), (mouse.neuronCount - 1, T - 2)])
        try check("videos", rows: mouse.frameHeight * mouse.frameWidth, window: 0, points: [(0, 0), (40, 30), (100, T - 2)])
        try check("pupil_center", rows: 2, window: 0, points: [(0, 5), (1, T - 2)])
        #expect(try npyFloats(root + "/meta/statistics/behavior/all/std.npy").shape == [2, T])
        #expect(try npyFloats(root + "/meta/statistics/videos/all/mean.npy").shape == [mouse.frameHeight, mouse.frameWidth, T])
        var values = [5.0, 1, 4, 2, 3, 3]
        #expect(SyntheticMouseGenerator.median(&values) == 3)
        values = [9, 1, 7]
        #expect(SyntheticMouseGenerator.median(&values) == 7)
    }

    @Test func responsesAreNonNegativeAndHeavyTailed() throws {
        let mouse = try MouseDataset(path: tinySyntheticMouse, options: MouseDataOptions(normalize: false))
        var values: [Double] = []
        for k in mouse.trials(in: .train) {
            let t = try mouse.readTrial(k)
            values += t.responses.map(Double.init)
            let rates = try mouse.readRawArray("rates", trial: k).values.filter { !$0.isNaN }
            #expect(rates.allSatisfy { $0 > 0 })
        }
        #expect(values.allSatisfy { $0 >= 0 })
        let m = values.reduce(0, +) / Double(values.count)
        let v = values.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(values.count)
        let kurtosis = values.reduce(0) { $0 + Foundation.pow($1 - m, 4) } / Double(values.count) / (v * v)
        #expect(kurtosis > 5, "kurtosis \(kurtosis)")
        #expect(v.squareRoot() > m, "std \(v.squareRoot()) mean \(m)")
    }

    @Test func noiseCeilingIsKnownAndBelowOne() throws {
        let mouse = try MouseDataset(path: tinySyntheticMouse)
        // Tiny trials are 60 frames: score from frame 10 on.
        let c = try SyntheticGroundTruth.noiseCeiling(of: mouse, tier: .oracle, skip: 10)
        #expect(c.singleTrial > 0.05 && c.singleTrial < 0.9)
        let ta = try #require(c.toAverage)
        #expect(ta > c.singleTrial && ta < 1)
        #expect(c.perNeuronSingleTrial.count == mouse.neuronCount)
        let info = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: tinySyntheticMouse + "/meta/synthetic/ground_truth.json"))) as? [String: Any]
        let summary = info?["summary"] as? [String: Any]
        #expect((summary?["ceilings"] as? [String: Any])?["oracle"] != nil)
        let rates = try SyntheticGroundTruth.rates(of: mouse, trial: mouse.trials(in: .oracle)[0])
        #expect(rates.count == (try mouse.trialLength(mouse.trials(in: .oracle)[0])) * mouse.neuronCount)
    }

    @Test func groundTruthRetinotopyIsSmooth() throws {
        let coords = try npyFloats(tinySyntheticMouse + "/meta/neurons/cell_motor_coordinates.npy").values
        let grid = try npyFloats(tinySyntheticMouse + "/meta/synthetic/rf_grid_positions.npy")
        #expect(grid.shape == [SyntheticMouseConfiguration.tiny.neurons, 2])
        #expect(grid.values.allSatisfy { abs($0) <= 1 })
        // Grid positions are a smooth function of cortical position: regress on (x, y) linearly.
        let n = grid.shape[0]
        func corr(_ a: [Double], _ b: [Double]) -> Double {
            let ma = a.reduce(0, +) / Double(a.count), mb = b.reduce(0, +) / Double(b.count)
            var sab = 0.0, saa = 0.0, sbb = 0.0
            for i in a.indices { sab += (a[i] - ma) * (b[i] - mb); saa += (a[i] - ma) * (a[i] - ma); sbb += (b[i] - mb) * (b[i] - mb) }
            return sab / (saa * sbb).squareRoot()
        }
        let gx = (0..<n).map { Double(grid.values[2 * $0]) }
        let x = (0..<n).map { Double(coords[3 * $0]) }, y = (0..<n).map { Double(coords[3 * $0 + 1]) }
        #expect(max(abs(corr(gx, x)), abs(corr(gx, y))) > 0.5)
    }

    @Test func generationIsDeterministicPerSeed() throws {
        var c = SyntheticMouseConfiguration.tiny
        c.trainTrials = 3; c.oracleClips = 1; c.repeats = 2; c.liveTestBonusClips = 0; c.finalTestBonusClipsPerFamily = 0
        c.liveTestMainClips = 0; c.finalTestMainClips = 0; c.noneTrials = 0; c.neurons = 8
        let a = mouseTempPath("det-a"), b = mouseTempPath("det-b"), d = mouseTempPath("det-c")
        defer { for p in [a, b, d] { try? FileManager.default.removeItem(atPath: p) } }
        let pa = try SyntheticMouseGenerator.generate(configuration: c, into: a)[0].path
        let pb = try SyntheticMouseGenerator.generate(configuration: c, into: b)[0].path
        var other = c
        other.seed += 1
        let pd = try SyntheticMouseGenerator.generate(configuration: other, into: d)[0].path
        let files = ["data/videos/0.npy", "data/responses/2.npy", "data/behavior/1.npy", "data/pupil_center/4.npy", "data/rates/3.npy",
                     "meta/trials/tiers.npy", "meta/neurons/unit_ids.npy", "meta/statistics/responses/all/std.npy"]
        for f in files {
            let x = try Data(contentsOf: URL(fileURLWithPath: pa + "/" + f))
            #expect(x == (try Data(contentsOf: URL(fileURLWithPath: pb + "/" + f))), "\(f)")
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: pa + "/data/responses/2.npy")) != Data(contentsOf: URL(fileURLWithPath: pd + "/data/responses/2.npy")))
        // Refuses to overwrite unless asked.
        #expect(throws: DataError.self) { try SyntheticMouseGenerator.generate(configuration: c, into: a) }
        _ = try SyntheticMouseGenerator.generate(configuration: c, into: a, overwrite: true)
    }

    @Test func groundTruthKnobs() throws {
        var c = SyntheticMouseConfiguration.tiny
        c.trainTrials = 3; c.oracleClips = 1; c.repeats = 2; c.liveTestBonusClips = 0; c.finalTestBonusClipsPerFamily = 0
        c.liveTestMainClips = 0; c.finalTestMainClips = 0; c.noneTrials = 0; c.neurons = 12
        c.complexFraction = 0; c.directionSelectiveFraction = 0; c.statisticsWindow = 0
        let dir = mouseTempPath("knobs")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = try SyntheticMouseGenerator.generate(configuration: c, into: dir)[0].path
        #expect(try NPYFile.read(path + "/meta/synthetic/is_complex.npy").ints() == [Int](repeating: 0, count: 12))
        #expect(try npyFloats(path + "/meta/synthetic/direction.npy").values == [Float](repeating: 0, count: 12))
        // Window 0: strictly per-frame response statistics.
        let mouse = try MouseDataset(path: path)
        let T = mouse.paddedLength
        let std = try npyFloats(path + "/meta/statistics/responses/all/std.npy").values
        let xs = try mouse.trials(in: .train).map { Double(try npyFloats(path + "/data/responses/\($0).npy").values[5 * T + 9]) }
        let m = xs.reduce(0, +) / Double(xs.count)
        let sd = (xs.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(xs.count)).squareRoot()
        #expect(abs(Double(std[5 * T + 9]) - sd) <= 1e-5 * max(1, sd))
        c.complexFraction = 1.5
        #expect(throws: DataError.self) { try SyntheticMouseGenerator.generate(configuration: c, into: dir, overwrite: true) }
    }

    @Test(arguments: StimulusFamily.allCases)
    func stimulusFamiliesRender(_ family: StimulusFamily) {
        let renderer = StimulusRenderer(height: 18, width: 32)
        let frames = 40
        let v = renderer.render(family, frames: frames, generator: RandomGenerator(seed: 3))
        #expect(v.count == frames * 18 * 32)
        #expect(v.allSatisfy { $0 >= 0 && $0 <= 255 })
        let mean = v.reduce(0, +) / Float(v.count)
        let sd = (v.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Float(v.count)).squareRoot()
        #expect(sd > 5, "\(family) is nearly blank")
        #expect(v == renderer.render(family, frames: frames, generator: RandomGenerator(seed: 3)))
        // Something changes over time.
        let hw = 18 * 32
        let change = (0..<hw).reduce(Float(0)) { $0 + abs(v[$1] - v[(frames - 1) * hw + $1]) }
        #expect(change > 0)
    }

    @Test func invalidConfigurationsAreRefused() {
        var c = SyntheticMouseConfiguration.tiny
        c.neurons = 0
        #expect(throws: DataError.self) { try SyntheticMouseGenerator.generate(configuration: c, into: "/tmp/never") }
        c = .tiny
        c.lengthJitter = 40
        #expect(throws: DataError.self) { try SyntheticMouseGenerator.generate(configuration: c, into: "/tmp/never") }
        #expect(SyntheticMouseConfiguration.default.paddedLength == 313)
        #expect(SyntheticMouseConfiguration.default.trialsPerMouse == 372)
    }
}
