import Foundation

/// One problem found in a mouse folder.
public struct MouseFolderProblem: Sendable, Equatable, CustomStringConvertible {
    /// How serious it is.
    public enum Severity: String, Sendable, Comparable {
        /// Informational (for example dummy all-zero test responses).
        case note
        /// Readable, but suspicious or different from the reference's expectations.
        case warning
        /// The folder cannot be used as is (by this SDK or the reference loader).
        case error

        public static func < (a: Severity, b: Severity) -> Bool {
            let order: [Severity] = [.note, .warning, .error]
            return order.firstIndex(of: a)! < order.firstIndex(of: b)!
        }
    }

    public let severity: Severity
    /// The file or folder concerned.
    public let path: String
    /// What is wrong: expected and found.
    public let message: String

    public var description: String { "\(severity.rawValue): \(path): \(message)" }
}

/// Length statistics of a set of trials.
public struct TrialLengthSummary: Sendable, Equatable {
    public let count: Int
    public let minimum: Int
    public let maximum: Int
    public let mean: Double
    /// Trials with no NaN padding at all (true length = padded length).
    public let unpadded: Int
}

/// What `MouseFolderInspector` found in a mouse folder.
public struct MouseFolderReport: Sendable, CustomStringConvertible {
    /// The folder and its name.
    public let path: String
    public var name: String { (path as NSString).lastPathComponent }
    /// Neurons (from unit_ids), nil when unreadable.
    public var neurons: Int?
    /// Trials (entries of tiers.npy), nil when unreadable.
    public var trials: Int?
    /// Trials per tier.
    public var tierCounts: [MouseTier: Int] = [:]
    /// Frame size and padded length of the first trial.
    public var frameHeight: Int?, frameWidth: Int?, paddedLength: Int?
    /// True lengths (reference rule) per tier, for the trials scanned.
    public var lengths: [MouseTier: TrialLengthSummary] = [:]
    /// Statistic files present per field (mean, std, min, max, median).
    public var statisticsPresent: [MouseField: [String]] = [:]
    /// Unique clips and repeats per clip (min, max) in tiers with repeats.
    public var repeats: [MouseTier: (clips: Int, minRepeats: Int, maxRepeats: Int)] = [:]
    /// Whether repeat groups came from `meta/trials/condition_hashes.npy` (else from pixels).
    public var repeatsFromMetadata = false
    /// Every problem found, most serious first.
    public var problems: [MouseFolderProblem] = []
    /// Trials whose files were scanned.
    public var trialsScanned = 0

    /// Whether no problem of severity `.error` was found.
    public var isUsable: Bool { !problems.contains { $0.severity == .error } }

    public var description: String {
        var lines = ["Mouse folder \(path)"]
        lines.append("  neurons: \(neurons.map(String.init) ?? "?")   trials: \(trials.map(String.init) ?? "?")"
            + "   frames: \(frameHeight.map(String.init) ?? "?")×\(frameWidth.map(String.init) ?? "?"), padded to \(paddedLength.map(String.init) ?? "?")")
        for tier in MouseTier.allCases {
            guard let n = tierCounts[tier] else { continue }
            var line = "  \(tier.rawValue.padding(toLength: 17, withPad: " ", startingAt: 0)) \(String(n).leftPadded(4)) trials"
            if let l = lengths[tier] {
                line += String(format: "   length %d–%d (mean %.1f)", l.minimum, l.maximum, l.mean)
                if l.unpadded > 0 { line += ", \(l.unpadded) unpadded" }
            }
            if let r = repeats[tier] {
                line += "   \(r.clips) clips × " + (r.minRepeats == r.maxRepeats ? "\(r.minRepeats)" : "\(r.minRepeats)–\(r.maxRepeats)") + " repeats"
            }
            lines.append(line)
        }
        if !repeats.isEmpty { lines.append("  repeat groups from " + (repeatsFromMetadata ? "meta/trials/condition_hashes.npy" : "identical frames")) }
        for field in MouseField.allCases {
            let present = statisticsPresent[field] ?? []
            lines.append("  statistics \(field.folderName): " + (present.isEmpty ? "none" : present.joined(separator: ", ")))
        }
        lines.append("  trials scanned: \(trialsScanned)")
        if problems.isEmpty {
            lines.append("  no problems found")
        } else {
            lines.append("  \(problems.count) problem(s):")
            lines += problems.map { "    " + $0.description }
        }
        return lines.joined(separator: "\n")
    }
}

private extension String {
    func leftPadded(_ n: Int) -> String { count >= n ? self : String(repeating: " ", count: n - count) + self }
}

/// Inspects a mouse folder in the SENSORIUM 2023 layout and reports its content and every problem
/// it finds (without stopping at the first, unlike `MouseDataset`). Used by the CLI's `inspect`.
///
/// ```swift
/// let report = MouseFolderInspector.inspect(path: "data/dynamic29515-…")
/// print(report)
/// ```
public enum MouseFolderInspector {
    /// Inspects `path`. `scanTrials`: how many trials to read fully for shapes, lengths and
    /// values (nil: all of them; 0: metadata only). `clipFrames`: trials shorter than this are
    /// reported (80, the baselines' clip length).
    public static func inspect(path: String, scanTrials: Int? = nil, clipFrames: Int = 80) -> MouseFolderReport {
        var report = collect(path: path, scanTrials: scanTrials, clipFrames: clipFrames)
        // Most serious first, stable within a severity.
        report.problems = report.problems.enumerated()
            .sorted { $0.element.severity != $1.element.severity ? $0.element.severity > $1.element.severity : $0.offset < $1.offset }
            .map(\.element)
        return report
    }

    static func collect(path: String, scanTrials: Int?, clipFrames: Int) -> MouseFolderReport {
        let layout = MouseLayout(root: path)
        var report = MouseFolderReport(path: layout.root)
        func problem(_ s: MouseFolderProblem.Severity, _ p: String, _ m: String) {
            report.problems.append(MouseFolderProblem(severity: s, path: p, message: m))
        }
        func problem(_ e: DataError, _ s: MouseFolderProblem.Severity = .error) {
            problem(s, e.path, "expected \(e.expected), found \(e.found)")
        }

        do {
            try MouseStores.openIfPacked(layout.root)
        } catch let e as DataError {
            problem(e)
            return report
        } catch {}
        let packed = MouseStores.isPacked(layout.root)
        guard MouseFiles.isDirectory(layout.root) else {
            problem(.error, layout.root, "expected a mouse folder (data/, meta/), found " + (MouseFiles.exists(layout.root) ? "a file" : "nothing"))
            return report
        }
        for sub in ["data", "meta", "meta/trials", "meta/neurons", "meta/statistics"] where !MouseFiles.isDirectory(layout.root + "/" + sub) {
            problem(.error, layout.root + "/" + sub, "expected the directory \(sub)/, found nothing")
        }
        if !packed && !MouseFiles.exists(layout.root + "/config.json") {
            problem(.note, layout.root + "/config.json", "absent: the reference loader writes {\"links\": {}} there on first use (needs write access)")
        }

        // Tiers.
        var tiers: [MouseTier]?
        do {
            tiers = try MouseDataset.readTiers(layout)
        } catch let e as DataError {
            problem(e)
            if e.kind == .invalidValue, let (_, values) = try? ArrayFileIO.readStrings(layout.tiersFile) {
                let unknown = Set(values.filter { MouseTier(rawValue: $0) == nil })
                if unknown.count > 1 {
                    problem(.error, layout.tiersFile, "unknown tiers: " + unknown.sorted().map { "\"\($0)\"" }.joined(separator: ", "))
                }
            }
        } catch { problem(.error, layout.tiersFile, "\(error)") }
        if let tiers {
            report.trials = tiers.count
            for t in tiers { report.tierCounts[t, default: 0] += 1 }
            if report.tierCounts[.train, default: 0] == 0 { problem(.warning, layout.tiersFile, "no train trials") }
            if report.tierCounts[.oracle, default: 0] == 0 { problem(.warning, layout.tiersFile, "no oracle (validation) trials") }
        }

        // Trial files.
        for field in MouseField.allCases {
            let dir = layout.dataDirectory(field)
            guard MouseFiles.isDirectory(dir) else {
                problem(.error, dir, "expected a directory of trial files, found nothing")
                continue
            }
            guard let n = report.trials else { continue }
            let names = Set(MouseFiles.entries(dir, includeHidden: true))
            let missing = (0..<n).filter { !names.contains("\($0).npy") }
            if !missing.isEmpty {
                problem(.error, dir, "expected \(n) files 0.npy … \(n - 1).npy (one per entry of tiers.npy), missing \(missing.count): "
                        + missing.prefix(5).map { "\($0).npy" }.joined(separator: ", ") + (missing.count > 5 ? ", …" : ""))
            }
            let extra = names.filter { name in
                guard name.hasSuffix(".npy"), let i = Int(name.dropLast(4)) else { return true }
                return i < 0 || i >= n
            }
            if !extra.isEmpty {
                problem(.error, dir, "expected only trial files 0.npy … \(n - 1).npy, found \(extra.count) other entr\(extra.count == 1 ? "y" : "ies"): "
                        + extra.sorted().prefix(5).joined(separator: ", ") + " (the reference counts every entry as a trial)")
            }
        }

        // Neurons.
        do {
            let (ids, _) = try MouseDataset.readNeurons(layout)
            report.neurons = ids.count
        } catch let e as DataError { problem(e) } catch { problem(.error, layout.neuronFile("unit_ids"), "\(error)") }

        // First trial shapes.
        var dataShapes: [MouseField: [Int]] = [:]
        if let n = report.trials, n > 0 {
            for field in MouseField.allCases {
                let p = layout.trialFile(field, trial: 0)
                guard MouseFiles.exists(p) else { continue }
                do {
                    let a = try MouseFiles.readNumeric(p, expected: "a numeric trial array")
                    dataShapes[field] = a.shape
                } catch let e as DataError { problem(e) } catch { problem(.error, p, "\(error)") }
            }
            if let v = dataShapes[.videos] {
                if v.count == 3 {
                    report.frameHeight = v[0]; report.frameWidth = v[1]; report.paddedLength = v[2]
                    if v[0] != 36 || v[1] != 64 {
                        problem(.note, layout.trialFile(.videos, trial: 0), "frames are \(v[0])×\(v[1]); SENSORIUM 2023 uses 36×64")
                    }
                } else {
                    problem(.error, layout.trialFile(.videos, trial: 0), "expected a video of shape (height, width, T), found \(MouseFiles.describe(v))")
                }
            }
            let h = report.frameHeight ?? 0, w = report.frameWidth ?? 0
            for field in [MouseField.responses, .behavior, .pupilCenter] {
                guard let s = dataShapes[field] else { continue }
                let a = LoadedArray(path: layout.trialFile(field, trial: 0), shape: s, values: .float([]), descr: "")
                do {
                    try MouseDataset.checkShape(a, field: field, height: h, width: w, neurons: report.neurons ?? s.first ?? 0)
                } catch let e as DataError { problem(e) } catch {}
            }
        }

        // Statistics.
        var rawStats: [MouseField: [String: LoadedArray]] = [:]
        for field in MouseField.allCases {
            var present: [String] = []
            var arrays: [String: LoadedArray] = [:]
            for name in MouseStatistics.names {
                let p = layout.statisticFile(field, name)
                guard MouseFiles.exists(p) else { continue }
                present.append(name)
                do {
                    let a = try MouseFiles.readNumeric(p, expected: "a numeric statistic")
                    arrays[name] = a
                    // Statistics normalisation uses are errors when unusable; the others warnings.
                    let used = name == "std" || (name == "mean" && (field == .videos || field == .pupilCenter))
                    do {
                        for note in try ValueChecks.checkStatistic(a, field: field, name: name) { problem(.note, p, note) }
                    } catch let e as DataError { problem(e, used ? .error : .warning) }
                    let nans = a.values.doubles.filter(\.isNaN).count
                    if nans > 0 && nans < a.values.count {
                        problem(.note, p, "\(nans) of \(a.values.count) entries are NaN (frames no trial covers get NaN statistics; they end trials there)")
                    }
                    if let shape = dataShapes[field] {
                        do {
                            let view = try StatisticView.make(a, dataShape: shape, what: "\(field.folderName) \(name)")
                            if view.timeStride == 1 && view.timeLength != shape.last! {
                                problem(.warning, p, "per-frame statistic covers \(view.timeLength) frames but trials are padded to \(shape.last!): the reference loader cannot broadcast it (here frames beyond it are treated as NaN statistics)")
                            } else if view.timeStride == 0 && a.shape.count >= 1 && a.shape == Array(shape.dropLast()) && a.shape.count < shape.count {
                                problem(.note, p, "statistic is constant over time \(MouseFiles.describe(a.shape)); the 2023 reference expects per-frame statistics and NumPy would not broadcast this shape")
                            }
                        } catch let e as DataError { problem(e) } catch {}
                    }
                } catch let e as DataError { problem(e) } catch { problem(.error, p, "\(error)") }
            }
            report.statisticsPresent[field] = present
            rawStats[field] = arrays
            let needed = field == .responses || field == .behavior ? ["std"] : ["mean", "std"]
            for name in needed where !present.contains(name) {
                problem(.error, layout.statisticFile(field, name), "expected the \(name) statistic of \(field.folderName) (needed for normalisation), found nothing")
            }
        }
        if let r = rawStats[.responses]?["std"], let n = report.neurons, r.shape.first != n, r.values.count > 1 {
            problem(.error, r.path, "expected response statistics with \(n) rows (one per neuron), found \(MouseFiles.describe(r.shape))")
        }

        // Per-trial scan, through MouseDataset when it opens.
        guard report.isUsable, let tiers else { return report }
        let dataset: MouseDataset
        do {
            dataset = try MouseDataset(path: layout.root)
        } catch let e as DataError {
            problem(e)
            return report
        } catch {
            problem(.error, layout.root, "\(error)")
            return report
        }
        let toScan = scanTrials.map { min($0, tiers.count) } ?? tiers.count
        var lengthsByTier: [MouseTier: [Int]] = [:]
        var unpadded: [MouseTier: Int] = [:]
        var zeroResponsesByTier: [MouseTier: (zero: Int, total: Int)] = [:]
        var paddedLengths = Set<Int>()
        var negative = 0, worstNegative: Float = 0
        for trial in 0..<toScan {
            do {
                let t = try dataset.loadNormalized(trial)
                report.trialsScanned += 1
                let tier = tiers[trial]
                lengthsByTier[tier, default: []].append(t.length)
                paddedLengths.insert(t.videoFrames)
                if t.length == t.videoFrames && t.length == t.responseFrames { unpadded[tier, default: 0] += 1 }
                if t.length < clipFrames && tier != .none {
                    problem(.warning, layout.trialFile(.videos, trial: trial), "true length \(t.length) frames, shorter than \(clipFrames)-frame training clips")
                }
                // Field lengths that disagree by more than a frame.
                var fieldLengths: [(MouseField, Int)] = []
                for field in MouseField.allCases {
                    let raw = try MouseFiles.readNumeric(layout.trialFile(field, trial: trial), expected: "a numeric trial array")
                    let frames = raw.shape.last!
                    let values = raw.values.floats
                    let l = MouseDataset.firstNaNFrame(values, rows: values.count / frames, frames: frames, limit: frames)
                    fieldLengths.append((field, l))
                    if field == .responses {
                        let rows = values.count / frames
                        var allZero = true
                        for r in 0..<rows {
                            for f in 0..<l {
                                let v = values[r * frames + f]
                                if v != 0 { allZero = false }
                                if v < -1e-3 { negative += 1; worstNegative = min(worstNegative, v) }
                            }
                        }
                        var z = zeroResponsesByTier[tier, default: (0, 0)]
                        z.total += 1
                        if allZero { z.zero += 1 }
                        zeroResponsesByTier[tier] = z
                    }
                }
                let ls = fieldLengths.map(\.1)
                if let lo = ls.min(), let hi = ls.max(), hi - lo > 1 {
                    problem(.warning, layout.trialFile(.videos, trial: trial),
                            "fields end at different frames (" + fieldLengths.map { "\($0.0.folderName) \($0.1)" }.joined(separator: ", ") + "); the true length is the minimum, \(t.length)")
                }
            } catch let e as DataError {
                problem(e)
            } catch {
                problem(.error, layout.trialFile(.videos, trial: trial), "\(error)")
            }
        }
        for (tier, ls) in lengthsByTier {
            report.lengths[tier] = TrialLengthSummary(count: ls.count, minimum: ls.min()!, maximum: ls.max()!,
                                                      mean: Double(ls.reduce(0, +)) / Double(ls.count), unpadded: unpadded[tier, default: 0])
        }
        if paddedLengths.count > 1 {
            problem(.warning, layout.dataDirectory(.videos), "trials are padded to different lengths \(paddedLengths.sorted()); the reference's per-frame statistics need one padded length")
        }
        if negative > 0 {
            problem(.warning, layout.dataDirectory(.responses), "\(negative) response values below −0.001 (lowest \(worstNegative)); deconvolved activity is expected non-negative")
        }
        for (tier, z) in zeroResponsesByTier where z.zero > 0 {
            problem(z.zero == z.total && tier != .train ? .note : .warning, layout.dataDirectory(.responses),
                    "\(z.zero) of \(z.total) scanned \(tier.rawValue) trials have all-zero responses" + (z.zero == z.total ? " (dummy labels, as in the competition mice's test tiers)" : ""))
        }

        // Repeats.
        report.repeatsFromMetadata = MouseFiles.exists(layout.trialInfoFile("condition_hashes"))
        for tier in MouseTier.allCases where tier.hasRepeats && report.tierCounts[tier, default: 0] > 0 {
            do {
                let groups = try dataset.repeatGroups(in: tier)
                let sizes = groups.map(\.count)
                report.repeats[tier] = (groups.count, sizes.min() ?? 0, sizes.max() ?? 0)
                if sizes.max() ?? 0 < 2 {
                    problem(.warning, layout.trialInfoFile("tiers"), "tier \(tier.rawValue) has no repeated clip (correlation to average is undefined)")
                }
            } catch let e as DataError { problem(e) } catch { problem(.error, layout.root, "\(error)") }
        }
        return report
    }
}
