import Foundation
import SensoriumTensor

/// What the generator wrote for one mouse.
public struct SyntheticMouseSummary: Sendable, Codable {
    /// Mouse folder name and path.
    public let name: String
    public let path: String
    /// Neurons and trials.
    public let neurons: Int
    public let trials: Int
    /// Trials per tier (raw values of `MouseTier`).
    public let tierCounts: [String: Int]
    /// OOD families of the live and final bonus tiers.
    public let liveBonusFamilies: [StimulusFamily]
    public let finalBonusFamilies: [StimulusFamily]
    /// Noise ceilings (mean over neurons) per tier: the true rate against the noisy responses,
    /// both normalised, frames from 50 on, as the metrics compute them.
    public let ceilings: [String: NoiseCeiling]
}

/// Writes synthetic mice in the exact SENSORIUM 2023 folder layout from a seeded ground-truth
/// model of a V1 population (see `DataFormat.md`, "The synthetic mouse"), with the noise-free
/// rates alongside (`data/rates/<i>.npy`) and the model's parameters in `meta/synthetic/`.
///
/// ```swift
/// let mice = try SyntheticMouseGenerator.generate(configuration: .default, into: "/tmp/synthetic")
/// let mouse = try MouseDataset(path: mice[0].path)
/// ```
public enum SyntheticMouseGenerator {
    /// The folder name of mouse `index` (`synthetic<seed>-<index>-Video`).
    public static func mouseName(index: Int, configuration: SyntheticMouseConfiguration) -> String {
        "synthetic\(configuration.seed)-\(index)-Video"
    }

    /// Generates every mouse of `configuration` into `directory` (created if needed). An existing
    /// mouse folder is replaced only with `overwrite`.
    @discardableResult
    public static func generate(configuration: SyntheticMouseConfiguration = .default, into directory: String,
                                overwrite: Bool = false) throws -> [SyntheticMouseSummary] {
        try configuration.validate()
        return try (0..<configuration.mice).map {
            try generateMouse(index: $0, configuration: configuration, into: directory, overwrite: overwrite)
        }
    }

    struct Clip {
        let family: StimulusFamily
        let seed: UInt64
        let length: Int
    }

    struct TrialSpec {
        let tier: MouseTier
        let clip: Int
    }

    /// Generates mouse `index` of `configuration` into `directory`.
    @discardableResult
    public static func generateMouse(index m: Int, configuration c: SyntheticMouseConfiguration, into directory: String,
                                     overwrite: Bool = false) throws -> SyntheticMouseSummary {
        try c.validate()
        let name = mouseName(index: m, configuration: c)
        let root = (directory as NSString).appendingPathComponent(name)
        let fm = FileManager.default
        if fm.fileExists(atPath: root) {
            guard overwrite else {
                throw DataError(.writeFailed, path: root, expected: "no existing folder (or overwrite: true)", found: "an existing folder")
            }
            try fm.removeItem(atPath: root)
        }
        let layout = MouseLayout(root: root)
        for sub in ["data/videos", "data/responses", "data/behavior", "data/pupil_center", "data/rates",
                    "meta/neurons", "meta/trials", "meta/synthetic"] {
            try fm.createDirectory(atPath: root + "/" + sub, withIntermediateDirectories: true)
        }
        for field in MouseField.allCases {
            try fm.createDirectory(atPath: root + "/meta/statistics/\(field.folderName)/all", withIntermediateDirectories: true)
        }
        try Data(#"{"links": {}}"#.utf8).write(to: URL(fileURLWithPath: root + "/config.json"))

        let mouseSeed = mixSeed(c.seed, UInt64(m))
        let planner = RandomGenerator(seed: mixSeed(mouseSeed, 1))
        let ood = StimulusFamily.outOfDistribution
        let liveFamilies = [ood[m % ood.count]]
        let finalFamilies = [ood[(m + 1) % ood.count], ood[(m + 2) % ood.count]]

        // Clips and trials.
        var clips: [Clip] = []
        var specs: [TrialSpec] = []
        func randomLength() -> Int { c.frames - c.lengthJitter + planner.index(2 * c.lengthJitter + 1) }
        func addClip(_ family: StimulusFamily, tier: MouseTier, repeats: Int, length: Int? = nil) {
            clips.append(Clip(family: family, seed: planner.next(), length: length ?? randomLength()))
            for _ in 0..<repeats { specs.append(TrialSpec(tier: tier, clip: clips.count - 1)) }
        }
        // A few training clips have the longest length so that every frame any trial has gets
        // statistics from several trials.
        for k in 0..<c.trainTrials {
            addClip(.naturalMovie, tier: .train, repeats: 1, length: k < min(3, c.trainTrials) ? c.maximumLength : nil)
        }
        for _ in 0..<c.oracleClips { addClip(.naturalMovie, tier: .oracle, repeats: c.repeats) }
        for _ in 0..<c.liveTestMainClips { addClip(.naturalMovie, tier: .liveTestMain, repeats: c.repeats) }
        for k in 0..<c.liveTestBonusClips { addClip(liveFamilies[k % liveFamilies.count], tier: .liveTestBonus, repeats: c.repeats) }
        for _ in 0..<c.finalTestMainClips { addClip(.naturalMovie, tier: .finalTestMain, repeats: c.repeats) }
        for family in finalFamilies {
            for _ in 0..<c.finalTestBonusClipsPerFamily { addClip(family, tier: .finalTestBonus, repeats: c.repeats) }
        }
        for _ in 0..<c.noneTrials { addClip(.naturalMovie, tier: .none, repeats: 1) }

        // Session order (behaviour runs continuously along it) and file order, both shuffled.
        let n = specs.count
        let session = shuffled(Array(0..<n), planner)      // session[k] = spec shown k-th
        let fileOf = shuffled(Array(0..<n), planner)       // fileOf[spec] = file index
        var sessionPosition = [Int](repeating: 0, count: n)
        for (k, s) in session.enumerated() { sessionPosition[s] = k }

        // Neurons.
        let population = SyntheticPopulation(count: c.neurons, height: c.height, width: c.width,
                                             generator: RandomGenerator(seed: mixSeed(mouseSeed, 2)),
                                             meanEventRate: c.meanEventRate, noiseFloor: c.noiseFloor,
                                             complexFraction: c.complexFraction, directionSelectiveFraction: c.directionSelectiveFraction)
        let renderer = StimulusRenderer(height: c.height, width: c.width)
        let pre = SyntheticPopulation.preRoll
        do {
            // Calibrate on independent natural clips with their own behaviour.
            let g = RandomGenerator(seed: mixSeed(mouseSeed, 3))
            var sim = BehaviorSimulator(generator: g.fork())
            let calibrationFrames = min(c.frames, 300)
            var videos: [[Float]] = [], traces: [BehaviorTrace] = []
            for _ in 0..<4 {
                videos.append(renderer.render(.naturalMovie, frames: calibrationFrames, generator: g.fork()))
                traces.append(sim.trace(frames: pre + calibrationFrames))
            }
            population.calibrate(videos: videos, behaviors: traces, frames: calibrationFrames)
        }

        // Behaviour along the session.
        var traces = [BehaviorTrace?](repeating: nil, count: n)
        var sim = BehaviorSimulator(generator: RandomGenerator(seed: mixSeed(mouseSeed, 4)))
        let itiGenerator = RandomGenerator(seed: mixSeed(mouseSeed, 5))
        for s in session {
            traces[s] = sim.trace(frames: pre + clips[specs[s].clip].length)
            sim.skip(frames: 15 + itiGenerator.index(30))
        }

        // Trials.
        let T = c.paddedLength, h = c.height, w = c.width, hw = h * w
        var cache: [Int: [Float]] = [:]
        for s in 0..<n {
            let spec = specs[s]
            let clip = clips[spec.clip]
            let file = fileOf[s]
            let video: [Float]
            if let v = cache[spec.clip] {
                video = v
            } else {
                video = renderer.render(clip.family, frames: clip.length, generator: RandomGenerator(seed: clip.seed))
                if spec.tier.hasRepeats { cache[spec.clip] = video }
            }
            let trace = traces[s]!
            let L = clip.length
            let (responses, rates) = population.simulate(video: video, behavior: trace, frames: L,
                                                         noise: RandomGenerator(seed: mixSeed(mouseSeed, 6, UInt64(file))))
            var v = [Float](repeating: .nan, count: hw * T)
            for t in 0..<L { for p in 0..<hw { v[p * T + t] = video[t * hw + p] } }
            try write(v, [h, w, T], layout.trialFile(.videos, trial: file))
            try write(pad(responses, rows: c.neurons, frames: L, to: T), [c.neurons, T], layout.trialFile(.responses, trial: file))
            try write(pad(rates, rows: c.neurons, frames: L, to: T), [c.neurons, T], layout.extraTrialFile("rates", trial: file))
            try write(pad(Array(trace.pupil[pre...]) + Array(trace.running[pre...]), rows: 2, frames: L, to: T), [2, T],
                      layout.trialFile(.behavior, trial: file))
            try write(pad(Array(trace.eyeX[pre...]) + Array(trace.eyeY[pre...]), rows: 2, frames: L, to: T), [2, T],
                      layout.trialFile(.pupilCenter, trial: file))
        }

        // Trial metadata.
        var tiers = [String](repeating: "", count: n), hashes = tiers, types = tiers
        var trialIdx = [Int](repeating: 0, count: n)
        for s in 0..<n {
            let f = fileOf[s]
            tiers[f] = specs[s].tier.rawValue
            let clip = clips[specs[s].clip]
            hashes[f] = String(clip.seed, radix: 16)
            types[f] = clip.family.rawValue
            trialIdx[f] = sessionPosition[s]
        }
        try catchWrite(layout.tiersFile) { try ArrayFileIO.writeStrings(tiers, to: layout.tiersFile) }
        try catchWrite(layout.trialInfoFile("condition_hashes")) { try ArrayFileIO.writeStrings(hashes, to: layout.trialInfoFile("condition_hashes")) }
        try catchWrite(layout.trialInfoFile("types")) { try ArrayFileIO.writeStrings(types, to: layout.trialInfoFile("types")) }
        try catchWrite(layout.trialInfoFile("trial_idx")) { try ArrayFileIO.writeInt64(trialIdx, shape: [n], to: layout.trialInfoFile("trial_idx")) }

        // Neurons.
        let idGenerator = RandomGenerator(seed: mixSeed(mouseSeed, 7))
        var ids = Set<Int>()
        while ids.count < c.neurons { ids.insert(1 + idGenerator.index(20 * c.neurons + 100)) }
        let unitIDs = ids.sorted()
        try catchWrite(layout.neuronFile("unit_ids")) { try ArrayFileIO.writeInt64(unitIDs, shape: [c.neurons], to: layout.neuronFile("unit_ids")) }
        let coords = population.neurons.flatMap { [Float($0.x), Float($0.y), Float($0.z)] }
        try write(coords, [c.neurons, 3], layout.neuronFile("cell_motor_coordinates"))

        // Ground-truth parameters.
        let gt = population.neurons
        let synth = root + "/meta/synthetic/"
        try write(gt.flatMap { [Float($0.gridX), Float($0.gridY)] }, [c.neurons, 2], synth + "rf_grid_positions.npy")
        try write(gt.map { Float($0.orientation) }, [c.neurons], synth + "orientation.npy")
        try write(gt.map { Float($0.period) }, [c.neurons], synth + "spatial_period.npy")
        try write(gt.map { $0.isComplex ? 1 : 0 }, [c.neurons], synth + "is_complex.npy")
        try write(gt.map { Float($0.direction) }, [c.neurons], synth + "direction.npy")
        try write(gt.map { Float($0.eventRate) }, [c.neurons], synth + "event_rate.npy")
        try write(gt.map { Float($0.gainRunning) }, [c.neurons], synth + "gain_running.npy")
        try write(gt.map { Float($0.gainPupil) }, [c.neurons], synth + "gain_pupil.npy")

        // Statistics over the statistics tiers.
        let statTrials = (0..<n).filter { c.statisticsTiers.contains(specs[$0].tier) }.map { fileOf[$0] }.sorted()
        try writeStatistics(layout: layout, trials: statTrials, shapes: [
            .videos: [h, w, T], .responses: [c.neurons, T], .behavior: [2, T], .pupilCenter: [2, T],
        ], window: [.responses: c.statisticsWindow])

        // Noise ceilings, read back through the dataset exactly as models will see it.
        let dataset = try MouseDataset(path: root)
        var ceilings: [String: NoiseCeiling] = [:]
        for tier in MouseTier.allCases where tier != .none && !dataset.trials(in: tier).isEmpty {
            ceilings[tier.rawValue] = try SyntheticGroundTruth.noiseCeiling(of: dataset, tier: tier)
        }
        var counts: [String: Int] = [:]
        for (t, k) in dataset.tierCounts { counts[t.rawValue] = k }
        let summary = SyntheticMouseSummary(name: name, path: root, neurons: c.neurons, trials: n, tierCounts: counts,
                                            liveBonusFamilies: liveFamilies, finalBonusFamilies: finalFamilies, ceilings: ceilings)
        let info = GroundTruthInfo(configuration: c, mouseIndex: m, summary: summary,
                                   eyeGainX: population.eyeGainX, eyeGainY: population.eyeGainY,
                                   frameRate: 30, preRollFrames: pre,
                                   temporalKernelFrames: SyntheticPopulation.kernelLength,
                                   calciumKernelFrames: SyntheticPopulation.calciumLength,
                                   calciumTau: SyntheticPopulation.calciumTau)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(info).write(to: URL(fileURLWithPath: synth + "ground_truth.json"))
        return summary
    }

    struct GroundTruthInfo: Codable {
        let configuration: SyntheticMouseConfiguration
        let mouseIndex: Int
        let summary: SyntheticMouseSummary
        let eyeGainX: Double, eyeGainY: Double
        let frameRate: Int
        let preRollFrames: Int
        let temporalKernelFrames: Int
        let calciumKernelFrames: Int
        let calciumTau: Double
    }

    static func shuffled(_ a: [Int], _ g: RandomGenerator) -> [Int] {
        var a = a
        if a.count > 1 {
            for i in stride(from: a.count - 1, to: 0, by: -1) { a.swapAt(i, Int(g.next() % UInt64(i + 1))) }
        }
        return a
    }

    /// (rows, frames) → (rows, padded) with NaN after `frames`.
    static func pad(_ values: [Float], rows: Int, frames: Int, to padded: Int) -> [Float] {
        var out = [Float](repeating: .nan, count: rows * padded)
        for r in 0..<rows { for t in 0..<frames { out[r * padded + t] = values[r * frames + t] } }
        return out
    }

    static func catchWrite(_ path: String, _ body: () throws -> Void) throws {
        do { try body() } catch {
            throw DataError(.writeFailed, path: path, expected: "a writable .npy file", found: "\(error)")
        }
    }

    static func write(_ values: [Float], _ shape: [Int], _ path: String) throws {
        try catchWrite(path) { try ArrayFileIO.writeFloat32(values, shape: shape, to: path) }
    }

    static func write(_ values: [Int], _ shape: [Int], _ path: String) throws {
        try catchWrite(path) { try ArrayFileIO.writeInt64(values, shape: shape, to: path) }
    }

    /// Writes mean, std (population), min, max and median over `trials` per element and frame
    /// (NaN where no trial has data), like the real `meta/statistics/<field>/all` files. With a
    /// `window` w for a field, the values of frames t−w … t+w are pooled into frame t's statistics
    /// (the sparse responses of a few dozen trials would otherwise give erratic per-frame stds —
    /// the real recordings average hundreds of trials).
    static func writeStatistics(layout: MouseLayout, trials: [Int], shapes: [MouseField: [Int]],
                                window: [MouseField: Int] = [:]) throws {
        for field in MouseField.allCases {
            let shape = shapes[field]!
            let frames = shape.last!, rows = shape.dropLast().reduce(1, *)
            let w = window[field] ?? 0
            var stats = [[Float]](repeating: [Float](repeating: .nan, count: rows * frames), count: 5)
            let budget = 16_000_000
            let chunk = max(1, min(rows, budget / max(1, frames * trials.count)))
            var r0 = 0
            while r0 < rows {
                let r1 = min(rows, r0 + chunk)
                var gathered = [[Float]]()
                gathered.reserveCapacity(trials.count)
                for t in trials {
                    let a = try MouseFiles.readNumeric(layout.trialFile(field, trial: t), expected: "a trial array")
                    gathered.append(Array(a.values.floats[(r0 * frames)..<(r1 * frames)]))
                }
                var column = [Double]()
                column.reserveCapacity(trials.count * (2 * w + 1))
                for r in r0..<r1 {
                    let base = (r - r0) * frames
                    for f in 0..<frames {
                        // Frames no trial covers keep NaN statistics.
                        guard gathered.contains(where: { !$0[base + f].isNaN }) else { continue }
                        column.removeAll(keepingCapacity: true)
                        for g in gathered {
                            for u in max(0, f - w)...min(frames - 1, f + w) {
                                let v = g[base + u]
                                if !v.isNaN { column.append(Double(v)) }
                            }
                        }
                        let k = r * frames + f
                        let n = Double(column.count)
                        let mean = column.reduce(0, +) / n
                        let variance = column.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / n
                        stats[0][k] = Float(mean)
                        stats[1][k] = Float(variance.squareRoot())
                        stats[2][k] = Float(column.min()!)
                        stats[3][k] = Float(column.max()!)
                        stats[4][k] = Float(median(&column))
                    }
                }
                r0 = r1
            }
            for (i, name) in ["mean", "std", "min", "max", "median"].enumerated() {
                try write(stats[i], shape, layout.statisticFile(field, name))
            }
        }
    }

    /// The median (mean of the two middle values for an even count), by quickselect; reorders `a`.
    static func median(_ a: inout [Double]) -> Double {
        func select(_ k: Int) -> Double {
            var lo = 0, hi = a.count - 1
            while lo < hi {
                let pivot = a[(lo + hi) / 2]
                var i = lo, j = hi
                while i <= j {
                    while a[i] < pivot { i += 1 }
                    while a[j] > pivot { j -= 1 }
                    if i <= j { a.swapAt(i, j); i += 1; j -= 1 }
                }
                if k <= j { hi = j } else if k >= i { lo = i } else { return a[k] }
            }
            return a[k]
        }
        let n = a.count
        if n % 2 == 1 { return select(n / 2) }
        let upper = select(n / 2)
        // After selecting n/2, everything before it is ≤ it: the lower middle is their maximum.
        var lower = -Double.infinity
        for i in 0..<(n / 2) { lower = max(lower, a[i]) }
        return (lower + upper) / 2
    }
}
