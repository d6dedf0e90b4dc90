import Testing
import Foundation
@testable import Sensorium
@testable import SensoriumTraining
import SensoriumTestSupport

/// The bonus track's stimulus families: said to be unavailable (and the bonus score pooled) when a
/// folder has no labels, taken from a user's family map, and a malformed map refused naming it.
@Suite struct StimulusFamilyTests {
    /// A copy of the tiny synthetic mouse without `meta/trials/types.npy`, in a fresh folder.
    static func unlabeledMouse() throws -> (dataset: MouseDataset, folder: URL, types: [String]) {
        let original = try TinyMouse.dataset()
        let types = try #require(try Evaluation.stimulusTypes(of: original))
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("sensorium-families-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let copy = folder.appendingPathComponent(original.name)
        try FileManager.default.copyItem(atPath: TinyMouse.root + "/" + original.name, toPath: copy.path)
        try FileManager.default.removeItem(atPath: try MouseDataset(path: copy.path).layout.trialInfoFile("types"))
        let dataset = try MouseDataset(path: copy.path)
        #expect(try Evaluation.stimulusTypes(of: dataset) == nil)
        return (dataset, folder, types)
    }

    static let options = EvaluationOptions(validationTier: nil, groundTruthCeiling: false, perNeuron: false)

    @Test func withoutLabelsTheBonusScoreIsPooledAndSaysSo() throws {
        let (dataset, folder, _) = try Self.unlabeledMouse()
        defer { try? FileManager.default.removeItem(at: folder) }
        let report = try Evaluation.evaluate(ResponseEchoModel(dropFirst: 0), datasets: [dataset], options: Self.options)
        let labels = try #require(report.stimulusFamilyLabels)
        #expect(!labels.available)
        #expect(labels.bonusScore == "pooled")
        #expect(labels.unlabeledMice == [dataset.name])
        #expect(report.summary.bonusFamilies.isEmpty)
        #expect(report.groups["bonus"] == report.groups["bonus_pooled"])
        #expect(report.formatted().contains("Stimulus families unavailable"))
        #expect(report.formatted().contains("pooled"))
        // results.json carries it.
        let object = try #require(try JSONSerialization.jsonObject(with: Data(report.results().jsonString().utf8)) as? [String: Any])
        let field = try #require(object["stimulus_families"] as? [String: Any])
        #expect(field["available"] as? Bool == false)
        #expect(field["bonus_score"] as? String == "pooled")
        // evaluation.json too.
        let decoded = try ReportJSON.decoder().decode(EvaluationReport.self, from: ReportJSON.encoder().encode(report))
        #expect(decoded.stimulusFamilyLabels == labels)
    }

    @Test func labelledFoldersSayWhereTheFamiliesCameFrom() throws {
        let report = try Evaluation.evaluate(ResponseEchoModel(), datasets: [try TinyMouse.dataset()], options: Self.options)
        let labels = try #require(report.stimulusFamilyLabels)
        #expect(labels.available && labels.bonusScore == "family mean")
        #expect(labels.sources.values.allSatisfy { $0 == "meta/trials/types.npy" })
        #expect(report.formatted().contains("mean over 3 stimulus families"))
    }

    @Test func aFamilyMapScoresTheBonusTrackPerFamily() throws {
        let (dataset, folder, types) = try Self.unlabeledMouse()
        defer { try? FileManager.default.removeItem(at: folder) }
        let reference = try Evaluation.evaluate(ResponseEchoModel(), datasets: [try TinyMouse.dataset()], options: Self.options)
        let bonusTrials = [MouseTier.liveTestBonus, .finalTestBonus].flatMap { dataset.trials(in: $0) }

        // The folder's own labels, written as a JSON map and as a CSV map: the same scores.
        var json: [String: String] = [:]
        var csv = "mouse,trial,family\n"
        for t in bonusTrials {
            json[String(t)] = types[t]
            csv += "\(dataset.name),\(t),\(types[t])\n"
        }
        let jsonURL = folder.appendingPathComponent("families.json"), csvURL = folder.appendingPathComponent("families.csv")
        try JSONSerialization.data(withJSONObject: [dataset.name: json]).write(to: jsonURL)
        try Data(csv.utf8).write(to: csvURL)
        for url in [jsonURL, csvURL] {
            let map = try StimulusFamilyMap.load(from: url.path)
            var options = Self.options
            options.stimulusFamilies = map
            let report = try Evaluation.evaluate(ResponseEchoModel(), datasets: [dataset], options: options)
            #expect(report.summary.bonusFamilies == reference.summary.bonusFamilies, "\(url.lastPathComponent)")
            #expect(report.summary.bonusTrack == reference.summary.bonusTrack)
            #expect(report.summary.bonusFamilies.count == 3)
            let labels = try #require(report.stimulusFamilyLabels)
            #expect(labels.available && labels.sources == [dataset.name: url.path])
        }

        // Families of the user's choosing: the videos (repeat groups) alternately "even" and "odd";
        // "bonus" is the mean of the two.
        var parity: [Int: String] = [:]
        var evenTrials = 0
        for (k, group) in try [MouseTier.liveTestBonus, .finalTestBonus].flatMap({ try dataset.repeatGroups(in: $0) }).enumerated() {
            for t in group { parity[t] = k % 2 == 0 ? "even_trials" : "odd_trials" }
            if k % 2 == 0 { evenTrials += group.count }
        }
        var options = Self.options
        options.stimulusFamilies = StimulusFamilyMap(source: "parity.json", families: [dataset.name: parity])
        let report = try Evaluation.evaluate(ResponseEchoModel(), datasets: [dataset], options: options)
        #expect(Set(report.summary.bonusFamilies.map(\.family)) == ["even trials", "odd trials"])
        let even = try #require(report.groups["bonus/even trials"]), odd = try #require(report.groups["bonus/odd trials"])
        #expect(abs(report.groups["bonus"]!.singleTrial - (even.singleTrial + odd.singleTrial) / 2) < 1e-12)
        #expect(report.mice[0].scores["bonus/even trials"]!.trials == evenTrials)
        // The map survives evaluation.json.
        let decoded = try ReportJSON.decoder().decode(EvaluationReport.self, from: ReportJSON.encoder().encode(report))
        #expect(decoded.options.stimulusFamilies == options.stimulusFamilies)
        // Repeats of one video with two families are refused.
        var split = parity
        let repeated = try #require(try dataset.repeatGroups(in: .finalTestBonus).first { $0.count > 1 })
        split[repeated[1]] = "other"
        options.stimulusFamilies = StimulusFamilyMap(source: "split.json", families: [dataset.name: split])
        #expect(throws: SensoriumError.file(path: "split.json", message: "mouse \(dataset.name): trials \(repeated[0]) and \(repeated[1]) repeat one video but have different families (\(parity[repeated[0]]!), other)")) {
            try Evaluation.evaluate(ResponseEchoModel(), datasets: [dataset], options: options)
        }
    }

    @Test func malformedMapsAreRefusedNamingTheFile() throws {
        let (dataset, folder, types) = try Self.unlabeledMouse()
        defer { try? FileManager.default.removeItem(at: folder) }
        let bonusTrials = [MouseTier.liveTestBonus, .finalTestBonus].flatMap { dataset.trials(in: $0) }
        let complete = bonusTrials.map { "\(dataset.name),\($0),\(types[$0])" }.joined(separator: "\n")

        /// The error of loading `text` as a map and evaluating with it.
        func failure(_ name: String, _ text: String) throws -> String {
            let url = folder.appendingPathComponent(name)
            try Data(text.utf8).write(to: url)
            do {
                var options = Self.options
                options.stimulusFamilies = try StimulusFamilyMap.load(from: url.path)
                _ = try Evaluation.evaluate(ResponseEchoModel(), datasets: [dataset], options: options)
            } catch let error as SensoriumError {
                guard case let .file(path, _) = error else { Issue.record("\(name): \(error)"); return "" }
                #expect(path == url.path, "\(name): \(error)")
                return error.description
            }
            Issue.record("\(name) was accepted")
            return ""
        }
        #expect(try failure("unknown.csv", "mouse,trial,family\n" + complete + "\nnobody,1,gaussian_dots").contains("unknown mouse nobody"))
        #expect(try failure("range.csv", "mouse,trial,family\n" + complete + "\n\(dataset.name),\(dataset.trialCount),gaussian_dots")
            .contains("trial index \(dataset.trialCount) out of range 0..<\(dataset.trialCount)"))
        #expect(try failure("negative.json", "{\"\(dataset.name)\": {\"-1\": \"gaussian_dots\"}}").contains("out of range"))
        #expect(try failure("header.csv", "animal;trial;family\n").contains("header mouse,trial,family"))
        #expect(try failure("fields.csv", "mouse,trial,family\n\(dataset.name),3").contains("line 2"))
        #expect(try failure("index.csv", "mouse,trial,family\n\(dataset.name),three,gaussian_dots").contains("integer trial index"))
        #expect(try failure("broken.json", "{\"\(dataset.name)\": ").contains("invalid JSON"))
        #expect(try failure("shape.json", "{\"\(dataset.name)\": [\"gaussian_dots\"]}").contains("expected an object"))
        #expect(try failure("incomplete.csv", "mouse,trial,family\n\(dataset.name),\(bonusTrials[0]),gaussian_dots")
            .contains("no family for trial \(bonusTrials[1])"))
        #expect(try failure("empty.csv", "").contains("empty"))
        #expect(throws: SensoriumError.self) { try StimulusFamilyMap.load(from: folder.appendingPathComponent("missing.json").path) }
    }

    /// `sensorium evaluate` end to end: the message without labels, the family table with a map,
    /// a malformed map refused naming it.
    @Test func evaluateCommandReportsFamilies() throws {
        let (dataset, folder, types) = try Self.unlabeledMouse()
        defer { try? FileManager.default.removeItem(at: folder) }
        let model = try VideoModel(configuration: TinyMouse.modelConfiguration(seed: 3), datasets: [dataset])
        try model.initializeFromData([dataset])
        let checkpoint = folder.appendingPathComponent("model.h5")
        try model.save(to: checkpoint)
        let mouse = folder.appendingPathComponent(dataset.name).path

        let plain = try SensoriumTool.run(["evaluate", "-m", checkpoint.path, mouse, "--no-ceiling", "-o", folder.appendingPathComponent("plain").path])
        #expect(plain.status == 0, "\(plain.all)")
        #expect(plain.stdout.contains("Stimulus families unavailable"), "\(plain.stdout)")
        let written = try EvaluationReport.load(from: folder.appendingPathComponent("plain/evaluation.json"))
        #expect(written.stimulusFamilyLabels?.available == false && written.stimulusFamilyLabels?.bonusScore == "pooled")

        let bonusTrials = [MouseTier.liveTestBonus, .finalTestBonus].flatMap { dataset.trials(in: $0) }
        let map = folder.appendingPathComponent("families.csv")
        try Data(("mouse,trial,family\n" + bonusTrials.map { "\(dataset.name),\($0),\(types[$0])" }.joined(separator: "\n")).utf8).write(to: map)
        let mapped = try SensoriumTool.run(["evaluate", "-m", checkpoint.path, mouse, "--no-ceiling", "--families", map.path])
        #expect(mapped.status == 0, "\(mapped.all)")
        #expect(mapped.stdout.contains("Bonus family") && mapped.stdout.contains("mean over 3 stimulus families"), "\(mapped.stdout)")
        #expect(!mapped.stdout.contains("unavailable"))

        let bad = folder.appendingPathComponent("bad.csv")
        try Data("mouse,trial,family\nnobody,1,gaussian_dots\n".utf8).write(to: bad)
        let refused = try SensoriumTool.run(["evaluate", "-m", checkpoint.path, mouse, "--families", bad.path])
        #expect(refused.status != 0)
        #expect(refused.stderr.contains(bad.path) && refused.stderr.contains("unknown mouse nobody"), "\(refused.all)")
    }
}
