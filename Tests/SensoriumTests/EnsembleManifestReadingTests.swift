import Foundation
import Testing
import Sensorium
import SensoriumData

/// The two files the ensemble workflow reads back, given something else: an error naming the
/// file and what was expected, never a crash.
@Suite struct EnsembleManifestReadingTests {
    @Test func malformedManifestsAreRefusedNamingTheFile() throws {
        let folder = try temporaryFolder("manifest")
        defer { try? FileManager.default.removeItem(at: folder) }
        let valid = EnsembleManifest(members: [.init(folder: "seed-1", seed: 1)], mice: [.init(name: "m", unitIDs: [0, 1])],
                                     configuration: TrainingRunConfiguration())
        let good = folder.appendingPathComponent("good.json")
        try valid.write(to: good)
        #expect(try EnsembleManifest.load(from: good) == valid)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: good)) as? [String: Any])

        func variant(_ name: String, _ change: (inout [String: Any]) -> Void) throws -> URL {
            var object = json
            change(&object)
            let url = folder.appendingPathComponent(name)
            try JSONSerialization.data(withJSONObject: object).write(to: url)
            return url
        }
        let notJSON = folder.appendingPathComponent("text.json")
        try Data("seed-1\nseed-2\n".utf8).write(to: notJSON)
        let cases: [(URL, String)] = [
            (folder.appendingPathComponent("missing.json"), "cannot read the ensemble manifest"),
            (notJSON, "expected an ensemble manifest"),
            (try variant("format.json") { $0["format"] = "sensorium.run" }, "expected format \"sensorium.ensemble\""),
            (try variant("version.json") { $0["formatVersion"] = 99 }, "version 99 is newer"),
            (try variant("members.json") { $0["members"] = [Any]() }, "at least one member"),
            (try variant("nomice.json") { $0.removeValue(forKey: "mice") }, "expected an ensemble manifest"),
        ]
        for (url, expected) in cases {
            #expect {
                try EnsembleManifest.load(from: url)
            } throws: { error in
                "\(error)".contains(url.path) && "\(error)".contains(expected)
            }
        }
    }

    @Test func aFileThatIsNotASubmissionIsRefused() throws {
        let folder = try temporaryFolder("submission-read")
        defer { try? FileManager.default.removeItem(at: folder) }
        // An HDF5 file of another kind, and a file that is not HDF5 at all.
        let other = folder.appendingPathComponent("other.h5")
        let file = try HDF5File.create(other.path, overwrite: true)
        try file.setAttribute("format", "something.else")
        try file.flush()
        let text = folder.appendingPathComponent("text.h5")
        try Data("not hdf5".utf8).write(to: text)
        for url in [other, text] {
            #expect {
                try SubmissionWorkflow.read(url)
            } throws: { error in
                "\(error)".contains(url.path)
            }
        }
    }
}
