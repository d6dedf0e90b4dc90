import Foundation
import SensoriumTensor
import SensoriumData
import SensoriumMetrics

/// What ``Evaluation/evaluate(_:datasets:modelName:options:progress:)`` scores and how.
public struct EvaluationOptions: Codable, Sendable, Equatable {
    /// Frames dropped at the start of every trial before scoring (50 in SENSORIUM 2023).
    public var skipFrames: Int
    /// Trials are cut to at most this many frames (300: the competition scored the first 300); nil
    /// keeps whole trials.
    public var maxFrames: Int?
    /// Tiers of the main track (natural movies).
    public var mainTiers: [MouseTier]
    /// Tiers of the bonus track (out-of-distribution stimuli).
    public var bonusTiers: [MouseTier]
    /// The validation tier, scored separately (nil: skip it).
    public var validationTier: MouseTier?
    /// Also score the synthetic mouse's noise-free rates as predictions (the ground-truth ceiling)
    /// when the folders have them.
    public var groundTruthCeiling: Bool
    /// Keep per-neuron correlations in the report.
    public var perNeuron: Bool
    /// Trials read ahead on a background thread.
    public var prefetch: Int
    /// Multiply the predictions by each neuron's response precision before scoring
    /// (``PrecisionScaling``, DwiseNeuro's post-scaling for models trained on raw responses).
    /// Per-neuron correlations are unchanged by it; off by default.
    public var precisionScaling: Bool
    /// Stimulus families given by the user (a ``StimulusFamilyMap`` file), replacing the folders'
    /// `meta/trials/types.npy` for the mice it lists; nil: the folders' labels only.
    public var stimulusFamilies: StimulusFamilyMap?

    /// The competition's scoring: live and final test tiers, 50 frames skipped, first 300 frames.
    public init(skipFrames: Int = 50, maxFrames: Int? = 300,
                mainTiers: [MouseTier] = [.liveTestMain, .finalTestMain],
                bonusTiers: [MouseTier] = [.liveTestBonus, .finalTestBonus],
                validationTier: MouseTier? = .oracle, groundTruthCeiling: Bool = true, perNeuron: Bool = true,
                prefetch: Int = 2, precisionScaling: Bool = false, stimulusFamilies: StimulusFamilyMap? = nil) {
        self.skipFrames = skipFrames
        self.maxFrames = maxFrames
        self.mainTiers = mainTiers
        self.bonusTiers = bonusTiers
        self.validationTier = validationTier
        self.groundTruthCeiling = groundTruthCeiling
        self.perNeuron = perNeuron
        self.prefetch = prefetch
        self.precisionScaling = precisionScaling
        self.stimulusFamilies = stimulusFamilies
    }

    enum CodingKeys: String, CodingKey {
        case skipFrames, maxFrames, mainTiers, bonusTiers, validationTier, groundTruthCeiling, perNeuron, prefetch
        case precisionScaling
        case stimulusFamilies
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        skipFrames = try c.decode(Int.self, forKey: .skipFrames)
        maxFrames = try c.decodeIfPresent(Int.self, forKey: .maxFrames)
        mainTiers = try c.decode([MouseTier].self, forKey: .mainTiers)
        bonusTiers = try c.decode([MouseTier].self, forKey: .bonusTiers)
        validationTier = try c.decodeIfPresent(MouseTier.self, forKey: .validationTier)
        groundTruthCeiling = try c.decode(Bool.self, forKey: .groundTruthCeiling)
        perNeuron = try c.decode(Bool.self, forKey: .perNeuron)
        prefetch = try c.decode(Int.self, forKey: .prefetch)
        // Reports written before the option existed were not scaled.
        precisionScaling = try c.decodeIfPresent(Bool.self, forKey: .precisionScaling) ?? false
        stimulusFamilies = try c.decodeIfPresent(StimulusFamilyMap.self, forKey: .stimulusFamilies)
    }
}

/// ρ_st and ρ_ta of one group of trials (a tier, a track, an OOD family) for one mouse.
public struct ScoreSet: Codable, Sendable, Equatable {
    /// Mean single-trial correlation over neurons.
    public var singleTrial: Double
    /// Mean correlation to average over neurons.
    public var toAverage: Double
    /// Number of trials scored.
    public var trials: Int
    /// Number of distinct videos (repeat groups).
    public var videos: Int
    /// Per-neuron ρ_st (with ``EvaluationOptions/perNeuron``).
    public var perNeuronSingleTrial: [Float]?
    /// Per-neuron ρ_ta (with ``EvaluationOptions/perNeuron``).
    public var perNeuronToAverage: [Float]?
}

/// The scores of one mouse, by group name (see ``EvaluationReport``).
public struct MouseEvaluation: Codable, Sendable, Equatable {
    /// Mouse (folder) name.
    public var mouse: String
    /// Number of neurons.
    public var neurons: Int
    /// Scores of the model, by group.
    public var scores: [String: ScoreSet]
    /// Scores of the ground-truth rates, by group (synthetic mice only).
    public var ceiling: [String: ScoreSet]?
}

/// The result of an evaluation: the Table 1 row of the model, the same row for the ground-truth
/// ceiling (synthetic mice), and the scores behind them per group and mouse.
///
/// Group names: `"main"` (all main-track tiers pooled), `"bonus"` (the mean over the OOD stimulus
/// families' scores, as the competition ranked the bonus track; all bonus trials pooled when no
/// family is known), `"bonus_pooled"` (all bonus tiers pooled), `"validation"`, each tier's raw
/// name (`"final_test_main"`, …) and `"bonus/<family>"` per OOD
/// stimulus family (from `meta/trials/types.npy`, which synthetic mice carry, or from a
/// ``StimulusFamilyMap`` in ``EvaluationOptions/stimulusFamilies``). ``stimulusFamilyLabels`` says
/// whether the families were available or the bonus score is pooled.
public struct EvaluationReport: Codable, Sendable, Equatable {
    /// Main and bonus track, and the bonus families, of the model; neuron-weighted over mice.
    public var summary: Table1Summary
    /// The same for the noise-free rates of synthetic mice (nil when no folder has them).
    public var ceiling: Table1Summary?
    /// Neuron-weighted scores of the model by group.
    public var groups: [String: TrackScores]
    /// Neuron-weighted scores of the ground-truth rates by group.
    public var ceilingGroups: [String: TrackScores]?
    /// Scores per mouse.
    public var mice: [MouseEvaluation]
    /// The options used.
    public var options: EvaluationOptions
    /// Wall-clock seconds the evaluation took.
    public var seconds: Double
    /// Per-neuron FEV, FEVE, oracle correlations and example traces of every mouse, when measured
    /// (``EvaluationWorkflow/evaluate(_:datasets:modelName:options:output:progress:)`` does).
    public var diagnostics: [NeuronDiagnostics]? = nil
    /// Where the bonus track's stimulus families came from and whether the bonus score is the
    /// family mean or pooled (nil in reports written before it existed, or without bonus trials).
    public var stimulusFamilyLabels: StimulusFamilyLabels? = nil

    /// The validation scores, when the validation tier was scored.
    public var validation: TrackScores? { groups["validation"] }

    /// Table 1's layout for the model, with the ceiling row and the model's fraction of the
    /// ceiling when known, then the bonus track per OOD family.
    public func formatted(digits: Int = 3) -> String {
        var rows = [summary]
        if let ceiling { rows.append(ceiling) }
        var text = Table1Summary.formatTable(rows, digits: digits)
        if let ceiling {
            func ratio(_ a: Double?, _ b: Double?) -> String {
                guard let a, let b, b != 0 else { return "–" }
                return String(format: "%.0f%%", 100 * a / b)
            }
            let m = summary.mainTrack, cm = ceiling.mainTrack, b = summary.bonusTrack, cb = ceiling.bonusTrack
            text += "\nFraction of the ceiling: main ρ_st \(ratio(m?.singleTrial, cm?.singleTrial)), ρ_ta \(ratio(m?.toAverage, cm?.toAverage)); bonus ρ_st \(ratio(b?.singleTrial, cb?.singleTrial)), ρ_ta \(ratio(b?.toAverage, cb?.toAverage))"
        }
        if !summary.bonusFamilies.isEmpty {
            let ceilingFamilies = Dictionary((ceiling?.bonusFamilies ?? []).map { ($0.family, $0.scores) }, uniquingKeysWith: { a, _ in a })
            let width = max(summary.bonusFamilies.map(\.family.count).max() ?? 0, "Bonus family".count)
            func pad(_ s: String, _ w: Int, left: Bool = false) -> String {
                let fill = String(repeating: " ", count: max(0, w - s.count))
                return left ? fill + s : s + fill
            }
            func number(_ x: Double?) -> String { x.map { String(format: "%.\(digits)f", $0) } ?? "–" }
            text += "\n\n" + pad("Bonus family", width) + "  " + pad("ρ_st", 7, left: true) + "  " + pad("ρ_ta", 7, left: true)
            if ceiling != nil { text += "  " + pad("ceil ρ_st", 9, left: true) + "  " + pad("ceil ρ_ta", 9, left: true) }
            for f in summary.bonusFamilies {
                text += "\n" + pad(f.family, width) + "  " + pad(number(f.scores.singleTrial), 7, left: true)
                    + "  " + pad(number(f.scores.toAverage), 7, left: true)
                if ceiling != nil {
                    let c = ceilingFamilies[f.family]
                    text += "  " + pad(number(c?.singleTrial), 9, left: true) + "  " + pad(number(c?.toAverage), 9, left: true)
                }
            }
        }
        if let labels = stimulusFamilyLabels {
            text += "\n\n" + labels.message
        }
        if let v = validation {
            text += "\n\nValidation (\(options.validationTier?.rawValue ?? "")): ρ_st " + String(format: "%.\(digits)f", v.singleTrial)
                + ", ρ_ta " + String(format: "%.\(digits)f", v.toAverage)
            if let c = ceilingGroups?["validation"] {
                text += " (ceiling " + String(format: "%.\(digits)f", c.singleTrial) + ", " + String(format: "%.\(digits)f", c.toAverage) + ")"
            }
        }
        return text
    }
}

/// Progress of an evaluation, reported after every trial.
public struct EvaluationProgress: Sendable {
    /// The mouse being scored.
    public var mouse: String
    /// Trials of this mouse done and in total.
    public var trialsDone: Int
    public var trialsTotal: Int
}

/// Scores trained models on the validation and test tiers as SENSORIUM 2023 did.
public enum Evaluation {
    /// The display name of an OOD stimulus family as written in `meta/trials/types.npy`, matching
    /// ``/SensoriumMetrics/Table1Summary/oodFamilies`` for the five SENSORIUM 2023 families.
    public static func familyDisplayName(_ raw: String) -> String {
        switch raw {
        case StimulusFamily.directionalPinkNoise.rawValue: return "directional pink noise"
        case StimulusFamily.gaussianDots.rawValue: return "flashing Gaussian dots"
        case StimulusFamily.randomDotKinematogram.rawValue: return "random dot kinematogram"
        case StimulusFamily.driftingGabor.rawValue: return "drifting Gabors"
        case StimulusFamily.flashingImages.rawValue: return "flashing natural images"
        default: return raw.replacingOccurrences(of: "_", with: " ")
        }
    }

    /// The stimulus family of every trial (`meta/trials/types.npy`), or nil when the folder has none.
    public static func stimulusTypes(of dataset: MouseDataset) throws -> [String]? {
        let path = dataset.layout.trialInfoFile("types")
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        let types: [String]
        do {
            types = try NPY.read(path).strings()
        } catch {
            throw SensoriumError.file(path: path, message: "expected a string array of stimulus types: \(error)")
        }
        guard types.count == dataset.trialCount else {
            throw SensoriumError.file(path: path, message: "expected \(dataset.trialCount) stimulus types (one per trial), found \(types.count)")
        }
        return types
    }

    /// Runs `model` over whole trials of the validation and test tiers of every mouse (batch size 1,
    /// trials cut to their true length and at most `options.maxFrames`), and computes the
    /// single-trial correlation ρ_st (eq. 1) and the correlation to average ρ_ta (eq. 2) per neuron,
    /// skipping the first `options.skipFrames` frames of every trial: per mouse, per tier, per
    /// track (main: natural-movie tiers pooled; bonus: OOD tiers pooled) and per OOD family, then
    /// neuron-weighted over mice. With synthetic mice, the noise-free rates are scored the same way
    /// (the ground-truth ceiling).
    ///
    /// Memory stays bounded: correlations are accumulated trial by trial, and the repeats of one
    /// video are averaged before the next video is read.
    public static func evaluate<Model: TrainableModel>(
        _ model: Model, datasets: [MouseDataset], modelName: String = "Model",
        options: EvaluationOptions = EvaluationOptions(), progress: ((EvaluationProgress) -> Void)? = nil
    ) throws -> EvaluationReport where Model.Batch == MouseBatch {
        guard options.skipFrames >= 0 else { throw SensoriumError.invalidOptions("skipFrames must be ≥ 0, got \(options.skipFrames)") }
        if let m = options.maxFrames, m <= options.skipFrames {
            throw SensoriumError.invalidOptions("maxFrames (\(m)) must exceed skipFrames (\(options.skipFrames)), or nothing is scored")
        }
        guard !datasets.isEmpty else { throw SensoriumError.invalidOptions("no mouse datasets to evaluate") }
        if let video = model as? VideoModel { try video.checkCompatible(with: datasets) }
        try options.stimulusFamilies?.validate(against: datasets, bonusTiers: options.bonusTiers)
        let labels = try datasets.map { try familyLabels(of: $0, map: options.stimulusFamilies) }
        let start = ContinuousClock.now
        var mice: [MouseEvaluation] = []
        for (dataset, label) in zip(datasets, labels) {
            mice.append(try evaluateMouse(model, dataset: dataset, families: label?.families, options: options, progress: progress))
        }
        let elapsed = ContinuousClock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18

        let groups = rankBonusByFamilies(combine(mice.map { ($0.neurons, $0.scores) }))
        let summary = table(modelName, groups)
        var ceiling: Table1Summary?
        var ceilingGroups: [String: TrackScores]?
        let withCeiling = mice.compactMap { m in m.ceiling.map { (m.neurons, $0) } }
        if !withCeiling.isEmpty {
            let g = rankBonusByFamilies(combine(withCeiling))
            ceilingGroups = g
            ceiling = table("Ground-truth ceiling", g)
        }
        var report = EvaluationReport(summary: summary, ceiling: ceiling, groups: groups, ceilingGroups: ceilingGroups,
                                      mice: mice, options: options, seconds: seconds)
        report.stimulusFamilyLabels = familyStatus(mice: mice, sources: labels.map { $0?.source }, familyCount: summary.bonusFamilies.count)
        return report
    }

    /// Each trial's stimulus family for `dataset` (from the map when it lists the mouse, else from
    /// `meta/trials/types.npy`) and where it came from; nil when the mouse has no labels.
    static func familyLabels(of dataset: MouseDataset, map: StimulusFamilyMap?) throws -> (families: [String?], source: String)? {
        if let map, let trials = map.families[dataset.name] {
            var families = [String?](repeating: nil, count: dataset.trialCount)
            for (trial, family) in trials where trial >= 0 && trial < dataset.trialCount { families[trial] = family }
            return (families, map.source)
        }
        guard let types = try stimulusTypes(of: dataset) else { return nil }
        return (types.map { Optional($0) }, "meta/trials/types.npy")
    }

    /// Whether the bonus track could be scored per family, said in a sentence; nil when no mouse
    /// has bonus-track trials.
    static func familyStatus(mice: [MouseEvaluation], sources: [String?], familyCount: Int) -> StimulusFamilyLabels? {
        let withBonus = zip(mice, sources).filter { $0.0.scores["bonus"] != nil }
        guard !withBonus.isEmpty else { return nil }
        var bySource: [String: String] = [:]
        for (mouse, source) in withBonus { if let source { bySource[mouse.mouse] = source } }
        let unlabeled = withBonus.filter { $0.1 == nil }.map(\.0.mouse)
        let familyMean = familyCount > 0
        let message: String
        if unlabeled.isEmpty && familyMean {
            let origins = Set(bySource.values).sorted().joined(separator: ", ")
            message = "Bonus track: mean over \(familyCount) stimulus families (labels from \(origins))."
        } else if familyMean {
            message = "Stimulus families unavailable for \(unlabeled.count) of \(withBonus.count) mice (\(unlabeled.joined(separator: ", "))): "
                + "the bonus score is the mean over the families of the labelled mice; all bonus trials pooled are in bonus_pooled. "
                + "Give the families with --families FILE."
        } else {
            message = "Stimulus families unavailable (no meta/trials/types.npy, no --families map): the bonus score is pooled over "
                + "all bonus trials, not the competition's mean over stimulus families."
        }
        return StimulusFamilyLabels(available: unlabeled.isEmpty && familyMean, bonusScore: familyMean ? "family mean" : "pooled",
                                    sources: bySource, unlabeledMice: unlabeled, message: message)
    }

    /// Neuron-weighted means over mice of every group (over the mice that have it).
    static func combine(_ mice: [(neurons: Int, scores: [String: ScoreSet])]) -> [String: TrackScores] {
        var names = Set<String>()
        for m in mice { names.formUnion(m.scores.keys) }
        var out: [String: TrackScores] = [:]
        for name in names {
            var st = 0.0, ta = 0.0, count = 0
            for m in mice {
                guard let s = m.scores[name] else { continue }
                st += s.singleTrial * Double(m.neurons)
                ta += s.toAverage * Double(m.neurons)
                count += m.neurons
            }
            if count > 0 { out[name] = TrackScores(singleTrial: st / Double(count), toAverage: ta / Double(count)) }
        }
        return out
    }

    /// Keeps the pooled bonus score as `"bonus_pooled"` and, when OOD families are known, makes
    /// `"bonus"` the mean of their scores: the competition ranked the bonus track by the average
    /// single-trial correlation over the five OOD stimulus types.
    static func rankBonusByFamilies(_ groups: [String: TrackScores]) -> [String: TrackScores] {
        var out = groups
        guard let pooled = groups["bonus"] else { return out }
        out["bonus_pooled"] = pooled
        if let familyMean = TrackScores.mean(groups.filter { $0.key.hasPrefix("bonus/") }.map(\.value)) {
            out["bonus"] = familyMean
        }
        return out
    }

    /// The Table 1 row of some group scores.
    static func table(_ name: String, _ groups: [String: TrackScores]) -> Table1Summary {
        let families = groups.keys.filter { $0.hasPrefix("bonus/") }.map { String($0.dropFirst("bonus/".count)) }
        let order = Table1Summary.oodFamilies
        let sorted = families.sorted { a, b in
            let ia = order.firstIndex(of: a) ?? order.count, ib = order.firstIndex(of: b) ?? order.count
            return ia != ib ? ia < ib : a < b
        }
        return Table1Summary(model: name, mainTrack: groups["main"], bonusTrack: groups["bonus"],
                             bonusFamilies: sorted.map { StimulusFamilyScores(family: $0, scores: groups["bonus/" + $0]!) })
    }

    /// The groups a trial of `tier` (with stimulus family `family`) is scored in.
    static func groupNames(tier: MouseTier, family: String?, options: EvaluationOptions) -> [String] {
        var names: [String] = []
        if tier == options.validationTier { names.append("validation") }
        if options.mainTiers.contains(tier) { names.append("main") }
        if options.bonusTiers.contains(tier) {
            names.append("bonus")
            if let family { names.append("bonus/" + familyDisplayName(family)) }
        }
        if !names.isEmpty { names.append(tier.rawValue) }
        return names
    }

    static func evaluateMouse<Model: TrainableModel>(
        _ model: Model, dataset: MouseDataset, families types: [String?]?, options: EvaluationOptions,
        progress: ((EvaluationProgress) -> Void)?
    ) throws -> MouseEvaluation where Model.Batch == MouseBatch {
        let hasRates = options.groundTruthCeiling && SyntheticGroundTruth.hasRates(dataset)
        var tiers: [MouseTier] = []
        for t in [options.validationTier].compactMap({ $0 }) + options.mainTiers + options.bonusTiers where !tiers.contains(t) {
            tiers.append(t)
        }
        // Trials ordered video by video, so that each video's repeats are averaged and released
        // before the next.
        var videos: [(tier: MouseTier, trials: [Int], groups: [String])] = []
        for tier in tiers where !dataset.trials(in: tier).isEmpty {
            for group in try dataset.repeatGroups(in: tier) {
                let family = types?[group[0]]
                let names = groupNames(tier: tier, family: family, options: options)
                if !names.isEmpty { videos.append((tier, group, names)) }
            }
        }
        let n = dataset.neuronCount
        let skip = options.skipFrames
        var scores = ScoreAccumulators(neurons: n)
        var ceilingScores = ScoreAccumulators(neurons: n)
        let order = videos.flatMap { v in v.trials.map { (trial: $0, tier: v.tier) } }
        var done = 0
        var videoIndex = 0
        var sums = VideoSums(neurons: n)
        var leftInVideo = videos.first?.trials.count ?? 0
        let factors = options.precisionScaling ? try PrecisionScaling(dataset: dataset) : nil
        try forEachPredictedTrial(model, dataset: dataset, trials: order, maxFrames: options.maxFrames,
                                  minimumFrames: minimumTrialFrames(model), prefetch: options.prefetch,
                                  precision: factors) { p in
            let video = videos[videoIndex]
            let frames = p.frames, predicted = p.predictedFrames
            let count = max(frames - skip, 0)
            guard predicted >= count else {
                throw SensoriumError.predictionTooShort(mouse: dataset.name, trial: p.trial, frames: frames,
                                                         predicted: predicted, skipFrames: skip)
            }
            let rates = hasRates ? try SyntheticGroundTruth.rates(of: dataset, trial: p.trial) : nil
            scores.register(video.groups, trial: true)
            if hasRates { ceilingScores.register(video.groups, trial: true) }
            if count > 0 {
                p.batch.responses.withUnsafeBufferPointer { r in
                    p.predictions.withUnsafeBufferPointer { y in
                        let rw = UnsafeBufferPointer(rebasing: r[(skip * n)..<(frames * n)])
                        let yw = UnsafeBufferPointer(rebasing: y[((predicted - count) * n)..<(predicted * n)])
                        scores.addTrial(video.groups, responses: rw, predictions: yw, rows: count)
                        if let rates {
                            rates.withUnsafeBufferPointer { c in
                                let cw = UnsafeBufferPointer(rebasing: c[(skip * n)..<(frames * n)])
                                ceilingScores.addTrial(video.groups, responses: rw, predictions: cw, rows: count)
                                sums.add(responses: rw, predictions: yw, ceiling: cw, rows: count)
                            }
                        } else {
                            sums.add(responses: rw, predictions: yw, ceiling: nil, rows: count)
                        }
                    }
                }
            }
            leftInVideo -= 1
            if leftInVideo == 0 {
                let average = sums.averaged()
                scores.register(video.groups, trial: false)
                scores.addVideo(video.groups, responses: average.responses, predictions: average.predictions, rows: average.rows)
                if let c = average.ceiling {
                    ceilingScores.register(video.groups, trial: false)
                    ceilingScores.addVideo(video.groups, responses: average.responses, predictions: c, rows: average.rows)
                }
                sums = VideoSums(neurons: n)
                videoIndex += 1
                leftInVideo = videoIndex < videos.count ? videos[videoIndex].trials.count : 0
            }
            done += 1
            progress?(EvaluationProgress(mouse: dataset.name, trialsDone: done, trialsTotal: order.count))
        }
        return MouseEvaluation(mouse: dataset.name, neurons: n, scores: scores.scoreSets(perNeuron: options.perNeuron),
                               ceiling: hasRates ? ceilingScores.scoreSets(perNeuron: options.perNeuron) : nil)
    }
}

/// Per-group correlation accumulators of one mouse: ρ_st over trials, ρ_ta over repeat-averaged videos.
struct ScoreAccumulators {
    let neurons: Int
    var singleTrial: [String: CorrelationAccumulator] = [:]
    var toAverage: [String: CorrelationAccumulator] = [:]
    var trials: [String: Int] = [:]
    var videos: [String: Int] = [:]

    init(neurons: Int) { self.neurons = neurons }

    /// Makes sure every group exists and counts one trial (or one video) in each.
    mutating func register(_ groups: [String], trial: Bool) {
        for g in groups {
            if singleTrial[g] == nil {
                singleTrial[g] = CorrelationAccumulator(neurons: neurons)
                toAverage[g] = CorrelationAccumulator(neurons: neurons)
            }
            if trial { trials[g, default: 0] += 1 } else { videos[g, default: 0] += 1 }
        }
    }

    mutating func addTrial(_ groups: [String], responses: UnsafeBufferPointer<Float>, predictions: UnsafeBufferPointer<Float>, rows: Int) {
        for g in groups { singleTrial[g]!.add(responses: responses, predictions: predictions, rows: rows) }
    }

    mutating func addVideo(_ groups: [String], responses: [Double], predictions: [Double], rows: Int) {
        guard rows > 0 else { return }
        responses.withUnsafeBufferPointer { r in
            predictions.withUnsafeBufferPointer { p in
                for g in groups { toAverage[g]!.add(responses: r, predictions: p, rows: rows) }
            }
        }
    }

    func scoreSets(perNeuron: Bool) -> [String: ScoreSet] {
        var out: [String: ScoreSet] = [:]
        for (g, st) in singleTrial {
            let a = st.correlations(), b = toAverage[g]!.correlations()
            func mean(_ v: [Float]) -> Double { v.isEmpty ? 0 : v.reduce(0.0) { $0 + Double($1) } / Double(v.count) }
            out[g] = ScoreSet(singleTrial: mean(a), toAverage: mean(b), trials: trials[g] ?? 0, videos: videos[g] ?? 0,
                              perNeuronSingleTrial: perNeuron ? a : nil, perNeuronToAverage: perNeuron ? b : nil)
        }
        return out
    }
}

/// Sums over the repeats of one video, frame by frame (frames counted from the first scored frame).
struct VideoSums {
    let neurons: Int
    var responses: [Double] = []
    var predictions: [Double] = []
    var ceiling: [Double]?
    var repeats: [Int] = []

    init(neurons: Int) { self.neurons = neurons }

    mutating func add(responses r: UnsafeBufferPointer<Float>, predictions p: UnsafeBufferPointer<Float>,
                      ceiling c: UnsafeBufferPointer<Float>?, rows: Int) {
        let n = neurons
        if repeats.count < rows {
            repeats += [Int](repeating: 0, count: rows - repeats.count)
            responses += [Double](repeating: 0, count: rows * n - responses.count)
            predictions += [Double](repeating: 0, count: rows * n - predictions.count)
        }
        if c != nil {
            if ceiling == nil { ceiling = [] }
            if ceiling!.count < rows * n { ceiling! += [Double](repeating: 0, count: rows * n - ceiling!.count) }
        }
        for f in 0..<rows { repeats[f] += 1 }
        VideoSums.accumulate(r, into: &responses, count: rows * n)
        VideoSums.accumulate(p, into: &predictions, count: rows * n)
        if let c { VideoSums.accumulate(c, into: &ceiling!, count: rows * n) }
    }

    private static func accumulate(_ src: UnsafeBufferPointer<Float>, into dst: inout [Double], count: Int) {
        dst.withUnsafeMutableBufferPointer { d in
            let o = d.baseAddress!, s = src.baseAddress!
            for i in 0..<count { o[i] += Double(s[i]) }
        }
    }

    /// Each frame's mean over the repeats that reach it.
    func averaged() -> (responses: [Double], predictions: [Double], ceiling: [Double]?, rows: Int) {
        let n = neurons
        var r = responses, p = predictions, c = ceiling
        for f in 0..<repeats.count {
            let scale = 1 / Double(repeats[f])
            for j in (f * n)..<((f + 1) * n) {
                r[j] *= scale
                p[j] *= scale
                c?[j] *= scale
            }
        }
        return (r, p, c, repeats.count)
    }
}

/// The scores of one track in the shape of the demo's `results.json`: the model's ρ_st and ρ_ta and,
/// for synthetic mice, the ground-truth ceiling's.
public struct TrackResult: Codable, Sendable, Equatable {
    public var singleTrial: Double
    public var toAverage: Double
    public var ceilingSingleTrial: Double?
    public var ceilingToAverage: Double?

    enum CodingKeys: String, CodingKey {
        case singleTrial = "single_trial", toAverage = "to_average"
        case ceilingSingleTrial = "ceiling_single_trial", ceilingToAverage = "ceiling_to_average"
    }

    public init(singleTrial: Double, toAverage: Double, ceilingSingleTrial: Double? = nil, ceilingToAverage: Double? = nil) {
        self.singleTrial = singleTrial
        self.toAverage = toAverage
        self.ceilingSingleTrial = ceilingSingleTrial
        self.ceilingToAverage = ceilingToAverage
    }
}

/// An evaluation as `results.json`:
/// `{"model", "main": {"single_trial", "to_average", "ceiling_single_trial", "ceiling_to_average"},
/// "bonus": {…}, "bonus_families": {"<family>": {…}}, "validation": {…}, "train_seconds", "eval_seconds"}`.
public struct EvaluationResults: Codable, Sendable, Equatable {
    public var model: String
    public var main: TrackResult?
    public var bonus: TrackResult?
    public var bonusFamilies: [String: TrackResult]
    public var validation: TrackResult?
    public var trainSeconds: Double?
    public var evalSeconds: Double
    /// Whether the bonus score is the mean over stimulus families or pooled because the families
    /// are unavailable, and where the labels came from.
    public var stimulusFamilies: StimulusFamilyLabels? = nil

    enum CodingKeys: String, CodingKey {
        case model, main, bonus, validation
        case bonusFamilies = "bonus_families", trainSeconds = "train_seconds", evalSeconds = "eval_seconds"
        case stimulusFamilies = "stimulus_families"
    }

    /// The JSON text (pretty-printed, sorted keys).
    public func jsonString() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        guard let data = try? encoder.encode(self) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }
}

extension EvaluationReport {
    /// The report in the shape of `results.json`, with the training time when known.
    public func results(trainSeconds: Double? = nil) -> EvaluationResults {
        func track(_ name: String) -> TrackResult? {
            guard let s = groups[name] else { return nil }
            let c = ceilingGroups?[name]
            return TrackResult(singleTrial: s.singleTrial, toAverage: s.toAverage,
                               ceilingSingleTrial: c?.singleTrial, ceilingToAverage: c?.toAverage)
        }
        var families: [String: TrackResult] = [:]
        for f in summary.bonusFamilies { families[f.family] = track("bonus/" + f.family) }
        return EvaluationResults(model: summary.model, main: track("main"), bonus: track("bonus"), bonusFamilies: families,
                                 validation: track("validation"), trainSeconds: trainSeconds, evalSeconds: seconds,
                                 stimulusFamilies: stimulusFamilyLabels)
    }
}
