public import SensoriumTensor

// A summary in the shape of Table 1 of the SENSORIUM 2023 retrospective, with a text formatter.

/// Single-trial correlation ρ_st and correlation to average ρ_ta of one test set or track.
public struct TrackScores: Codable, Sendable, Equatable {
    /// Single-trial correlation ρ_st (eq. 1), neuron-weighted over mice.
    public var singleTrial: Double
    /// Correlation to average ρ_ta (eq. 2), neuron-weighted over mice.
    public var toAverage: Double

    public init(singleTrial: Double, toAverage: Double) {
        self.singleTrial = singleTrial
        self.toAverage = toAverage
    }

    /// The unweighted mean of several scores (nil for none): how the competition combined the
    /// OOD stimulus families into the bonus track.
    public static func mean(_ scores: [TrackScores]) -> TrackScores? {
        guard !scores.isEmpty else { return nil }
        let n = Double(scores.count)
        return TrackScores(singleTrial: scores.map(\.singleTrial).reduce(0, +) / n,
                           toAverage: scores.map(\.toAverage).reduce(0, +) / n)
    }
}

extension TrackScores {
    /// Scores one test set spread over several mice: ρ_st and ρ_ta per neuron for each mouse (trials
    /// as `frames × neurons` blocks, repeats sharing a video id), then the neuron-weighted means over
    /// all mice, as the competition scored a track.
    public static func evaluate<R: ResponseBlocks, P: ResponseBlocks, ID: Hashable>(
        _ mice: [(responses: R, predictions: P, videoIDs: [ID])], skipFrames: Int = defaultSkipFrames,
        eps: Double = defaultCorrelationEpsilon
    ) -> TrackScores {
        var st: [[Float]] = [], ta: [[Float]] = []
        for mouse in mice {
            st.append(singleTrialCorrelation(responses: mouse.responses, predictions: mouse.predictions,
                                             skipFrames: skipFrames, eps: eps))
            ta.append(correlationToAverage(responses: mouse.responses, predictions: mouse.predictions,
                                           videoIDs: mouse.videoIDs, skipFrames: skipFrames, eps: eps))
        }
        return TrackScores(singleTrial: neuronWeightedMean(st), toAverage: neuronWeightedMean(ta))
    }

    /// `evaluate` for trials given as `[frames, neurons]` tensors.
    public static func evaluate<ID: Hashable>(
        _ mice: [(responses: [Tensor], predictions: [Tensor], videoIDs: [ID])], skipFrames: Int = defaultSkipFrames,
        eps: Double = defaultCorrelationEpsilon
    ) -> TrackScores {
        evaluate(mice.map { (TensorBlocks($0.responses), TensorBlocks($0.predictions), $0.videoIDs) },
                 skipFrames: skipFrames, eps: eps)
    }
}

/// The scores of one out-of-distribution stimulus family of the bonus track.
public struct StimulusFamilyScores: Codable, Sendable, Equatable {
    /// Family name, e.g. one of `Table1Summary.oodFamilies`.
    public var family: String
    /// Its scores.
    public var scores: TrackScores

    public init(family: String, scores: TrackScores) {
        self.family = family
        self.scores = scores
    }
}

/// One model's row of Table 1: main track (natural movies) and bonus track (OOD stimuli) scores,
/// and the bonus scores per OOD stimulus family. A track that was not evaluated is `nil`.
public struct Table1Summary: Codable, Sendable, Equatable {
    /// Model name.
    public var model: String
    /// Main track (natural movies, final test).
    public var mainTrack: TrackScores?
    /// Bonus track (out-of-distribution stimuli): the mean over the families' scores.
    public var bonusTrack: TrackScores?
    /// Bonus scores per OOD stimulus family.
    public var bonusFamilies: [StimulusFamilyScores]

    /// The five OOD stimulus families of SENSORIUM 2023.
    public static let oodFamilies = [
        "directional pink noise", "flashing Gaussian dots", "random dot kinematogram",
        "drifting Gabors", "flashing natural images",
    ]

    /// A row with explicit track scores.
    public init(model: String, mainTrack: TrackScores?, bonusTrack: TrackScores?,
                bonusFamilies: [StimulusFamilyScores] = []) {
        self.model = model
        self.mainTrack = mainTrack
        self.bonusTrack = bonusTrack
        self.bonusFamilies = bonusFamilies
    }

    /// A row whose bonus track score is the mean over `bonusFamilies` (how the competition ranked
    /// the bonus track: the average single-trial correlation over the OOD test sets); `nil` when
    /// no family is given.
    public init(model: String, mainTrack: TrackScores?, bonusFamilies: [StimulusFamilyScores]) {
        self.init(model: model, mainTrack: mainTrack, bonusTrack: TrackScores.mean(bonusFamilies.map(\.scores)),
                  bonusFamilies: bonusFamilies)
    }

    /// Table 1 of the SENSORIUM 2023 retrospective (final test), for comparison.
    public static let paperTable1: [Table1Summary] = [
        ("DwiseNeuro", 0.291, 0.542, 0.221, 0.429),
        ("Dynamic-V1FM", 0.265, 0.493, 0.183, 0.336),
        ("ViV1T", 0.243, 0.457, 0.178, 0.333),
        ("Ensemble baseline", 0.197, 0.371, 0.129, 0.241),
        ("Factorized baseline", 0.164, 0.321, 0.121, 0.223),
        ("GRU baseline", 0.106, 0.207, 0.059, 0.106),
    ].map {
        Table1Summary(model: $0.0, mainTrack: TrackScores(singleTrial: $0.1, toAverage: $0.2),
                      bonusTrack: TrackScores(singleTrial: $0.3, toAverage: $0.4))
    }

    /// This row as a small text table, with the per-family bonus scores below it.
    public func formatted(digits: Int = 3) -> String {
        var text = Table1Summary.formatTable([self], digits: digits)
        if !bonusFamilies.isEmpty {
            let width = max(bonusFamilies.map(\.family.count).max() ?? 0, "Bonus family".count)
            text += "\n" + pad("Bonus family", width) + "  " + pad("ρ_st", 7, left: true) + "  " + pad("ρ_ta", 7, left: true)
            for f in bonusFamilies {
                text += "\n" + pad(f.family, width) + "  " + pad(fmt(f.scores.singleTrial, digits), 7, left: true)
                    + "  " + pad(fmt(f.scores.toAverage, digits), 7, left: true)
            }
        }
        return text
    }

    /// Several rows as a plain-text table with Table 1's columns: main ρ_st, main ρ_ta, bonus ρ_st,
    /// bonus ρ_ta. Missing values print as "–".
    public static func formatTable(_ rows: [Table1Summary], digits: Int = 3) -> String {
        let width = max(rows.map(\.model.count).max() ?? 0, "Model".count)
        let col = 7
        func cells(_ s: TrackScores?) -> String {
            pad(s.map { fmt($0.singleTrial, digits) } ?? "–", col, left: true) + "  "
                + pad(s.map { fmt($0.toAverage, digits) } ?? "–", col, left: true)
        }
        var lines = [
            pad("", width) + "  " + pad("Main track", 2 * col + 2, left: true) + "  " + pad("Bonus track", 2 * col + 2, left: true),
            pad("Model", width) + "  " + [("ρ_st"), ("ρ_ta"), ("ρ_st"), ("ρ_ta")].map { pad($0, col, left: true) }
                .joined(separator: "  "),
        ]
        for r in rows {
            lines.append(pad(r.model, width) + "  " + cells(r.mainTrack) + "  " + cells(r.bonusTrack))
        }
        return lines.joined(separator: "\n")
    }
}

private func pad(_ s: String, _ width: Int, left: Bool = false) -> String {
    let fill = String(repeating: " ", count: max(0, width - s.count))
    return left ? fill + s : s + fill
}

/// Fixed-point formatting without Foundation.
private func fmt(_ x: Double, _ digits: Int) -> String {
    guard x.isFinite else { return x.isNaN ? "nan" : (x > 0 ? "inf" : "-inf") }
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let scaled = (abs(x) * scale).rounded()
    let whole = Int(scaled / scale)
    let frac = Int(scaled - Double(whole) * scale)
    var f = String(frac)
    f = String(repeating: "0", count: max(0, digits - f.count)) + f
    let sign = x < 0 && scaled != 0 ? "-" : ""
    return digits > 0 ? "\(sign)\(whole).\(f)" : "\(sign)\(whole)"
}
