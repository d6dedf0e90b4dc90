import Foundation
import SensoriumData

/// The stimulus family of test trials, given by the user for mice whose folders lack
/// `meta/trials/types.npy` (the bonus track is scored per family; without labels it can only be
/// pooled). For the mice it lists, the map replaces the folder's labels.
///
/// Two file formats, told apart by the first non-blank character:
///
/// - JSON, an object of mice, each an object of trial index (as a string) → family name:
///   `{"dynamic29156-11-10-Video": {"12": "drifting_gabor", "13": "gaussian_dots"}}`
/// - CSV with the header `mouse,trial,family` and one line per trial:
///   `dynamic29156-11-10-Video,12,drifting_gabor`
///
/// Family names are free text; the five SENSORIUM 2023 names of `types.npy`
/// (`directional_pink_noise`, `gaussian_dots`, `random_dot_kinematogram`, `drifting_gabor`,
/// `natural_images`) are shown by their display names. ``validate(against:bonusTiers:)`` requires
/// every mouse of the map to be evaluated, every trial index to exist, every bonus-track trial
/// of a mapped mouse to have a family, and the repeats of one video to share it.
public struct StimulusFamilyMap: Codable, Sendable, Equatable {
    /// The file the map was read from (named in errors and reports).
    public var source: String
    /// Mouse (folder name) → trial index → family name.
    public var families: [String: [Int: String]]

    public init(source: String, families: [String: [Int: String]]) {
        self.source = source
        self.families = families
    }

    /// Reads a JSON or CSV family map; throws ``SensoriumError/file(path:message:)`` naming the
    /// file and the offending entry.
    public static func load(from path: String) throws -> StimulusFamilyMap {
        let expanded = (path as NSString).expandingTildeInPath
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: expanded)) } catch {
            throw SensoriumError.file(path: path, message: "cannot read the stimulus family map (\(error.localizedDescription))")
        }
        let text = String(decoding: data, as: UTF8.self)
        let first = text.first { !$0.isWhitespace }
        return StimulusFamilyMap(source: path, families: first == "{" ? try parseJSON(data, path: path) : try parseCSV(text, path: path))
    }

    static func parseJSON(_ data: Data, path: String) throws -> [String: [Int: String]] {
        let object: Any
        do { object = try JSONSerialization.jsonObject(with: data) } catch {
            throw SensoriumError.file(path: path, message: "expected a JSON object {mouse: {trial index: family}}, found invalid JSON (\(error.localizedDescription))")
        }
        guard let mice = object as? [String: Any] else {
            throw SensoriumError.file(path: path, message: "expected a JSON object {mouse: {trial index: family}}")
        }
        var out: [String: [Int: String]] = [:]
        for (mouse, value) in mice {
            guard let trials = value as? [String: Any] else {
                throw SensoriumError.file(path: path, message: "mouse \(mouse): expected an object {trial index: family}")
            }
            var map: [Int: String] = [:]
            for (key, family) in trials {
                guard let trial = Int(key.trimmingCharacters(in: .whitespaces)) else {
                    throw SensoriumError.file(path: path, message: "mouse \(mouse): expected an integer trial index, found \"\(key)\"")
                }
                guard let name = family as? String, !name.isEmpty else {
                    throw SensoriumError.file(path: path, message: "mouse \(mouse), trial \(trial): expected a family name (a non-empty string), found \(family)")
                }
                map[trial] = name
            }
            out[mouse] = map
        }
        return out
    }

    static func parseCSV(_ text: String, path: String) throws -> [String: [Int: String]] {
        var lines = text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated()
            .map { (number: $0.offset + 1, text: $0.element.trimmingCharacters(in: .whitespaces)) }
            .filter { !$0.text.isEmpty }
        guard let header = lines.first else {
            throw SensoriumError.file(path: path, message: "expected a JSON object or a CSV table with the header mouse,trial,family; the file is empty")
        }
        let columns = header.text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        guard columns == ["mouse", "trial", "family"] else {
            throw SensoriumError.file(path: path, message: "expected a JSON object or a CSV table with the header mouse,trial,family; found \"\(header.text)\" on line \(header.number)")
        }
        lines.removeFirst()
        var out: [String: [Int: String]] = [:]
        for line in lines {
            let fields = line.text.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard fields.count == 3, !fields[0].isEmpty, !fields[2].isEmpty else {
                throw SensoriumError.file(path: path, message: "line \(line.number): expected mouse,trial,family, found \"\(line.text)\"")
            }
            guard let trial = Int(fields[1]) else {
                throw SensoriumError.file(path: path, message: "line \(line.number): expected an integer trial index, found \"\(fields[1])\"")
            }
            if let previous = out[fields[0]]?[trial], previous != fields[2] {
                throw SensoriumError.file(path: path, message: "line \(line.number): mouse \(fields[0]), trial \(trial) has two families (\(previous), \(fields[2]))")
            }
            out[fields[0], default: [:]][trial] = fields[2]
        }
        return out
    }

    /// Checks the map against the mice to evaluate: every mouse of the map is among them, every
    /// trial index is in `0..<trialCount`, and every trial of a mapped mouse in `bonusTiers` has
    /// a family. Throws ``SensoriumError/file(path:message:)`` naming the map file.
    public func validate(against datasets: [MouseDataset], bonusTiers: [MouseTier]) throws {
        let byName = Dictionary(datasets.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        for mouse in families.keys.sorted() {
            guard let dataset = byName[mouse] else {
                throw SensoriumError.file(path: source, message: "unknown mouse \(mouse): the evaluated mice are \(byName.keys.sorted().joined(separator: ", "))")
            }
            let trials = families[mouse]!
            if let bad = trials.keys.sorted().first(where: { $0 < 0 || $0 >= dataset.trialCount }) {
                throw SensoriumError.file(path: source, message: "mouse \(mouse): trial index \(bad) out of range 0..<\(dataset.trialCount)")
            }
            for tier in bonusTiers {
                if let missing = dataset.trials(in: tier).first(where: { trials[$0] == nil }) {
                    throw SensoriumError.file(path: source, message: "mouse \(mouse): no family for trial \(missing) of the bonus tier \(tier.rawValue)")
                }
                // Repeats of one video are averaged together: they must share a family.
                let groups: [[Int]]
                do { groups = try dataset.repeatGroups(in: tier) } catch {
                    throw SensoriumError.file(path: source, message: "mouse \(mouse): cannot group the repeats of \(tier.rawValue) (\(error))")
                }
                for group in groups {
                    if let other = group.first(where: { trials[$0] != trials[group[0]] }) {
                        throw SensoriumError.file(path: source, message: "mouse \(mouse): trials \(group[0]) and \(other) repeat one video but have different families (\(trials[group[0]]!), \(trials[other]!))")
                    }
                }
            }
        }
    }

    enum CodingKeys: String, CodingKey { case source, families }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        source = try c.decode(String.self, forKey: .source)
        let raw = try c.decode([String: [String: String]].self, forKey: .families)
        families = try raw.mapValues { trials in
            Dictionary(uniqueKeysWithValues: try trials.map { key, value in
                guard let t = Int(key) else {
                    throw DecodingError.dataCorruptedError(forKey: .families, in: c, debugDescription: "trial index \(key) is not an integer")
                }
                return (t, value)
            })
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(source, forKey: .source)
        try c.encode(families.mapValues { Dictionary(uniqueKeysWithValues: $0.map { (String($0.key), $0.value) }) }, forKey: .families)
    }
}

/// Where the bonus track's stimulus families came from, and so how the bonus score was computed
/// (in `evaluation.json` and `results.json` as `stimulus_families`).
public struct StimulusFamilyLabels: Codable, Sendable, Equatable {
    /// True when every mouse with bonus-track trials has family labels: the bonus score is then
    /// the mean over the families. False: families are unavailable and the bonus score is pooled
    /// over all bonus trials (or, when only some mice are labelled, the family mean of those).
    public var available: Bool
    /// `"family mean"` or `"pooled"`.
    public var bonusScore: String
    /// Mouse → where its labels came from (a family map file or `meta/trials/types.npy`).
    public var sources: [String: String]
    /// Mice with bonus-track trials but no labels.
    public var unlabeledMice: [String]
    /// The sentence printed with the table.
    public var message: String

    enum CodingKeys: String, CodingKey {
        case available, bonusScore = "bonus_score", sources, unlabeledMice = "unlabeled_mice", message
    }

    public init(available: Bool, bonusScore: String, sources: [String: String], unlabeledMice: [String], message: String) {
        self.available = available
        self.bonusScore = bonusScore
        self.sources = sources
        self.unlabeledMice = unlabeledMice
        self.message = message
    }
}
