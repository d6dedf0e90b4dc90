import Testing
import Foundation
@testable import Sensorium
@testable import SensoriumTraining

/// A fresh empty directory for one test.
func makeTrainerTestDirectory(_ name: String) throws -> URL {
    let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("sensorium-trainer-tests-\(getpid())-\(name)-\(UInt64.random(in: 0...UInt64.max))")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

@Suite("Checkpoints")
struct CheckpointTests {
    private func sampleRecord(_ scale: Float) -> StateRecord {
        var r = StateRecord()
        r.tensors["weight"] = Tensor([1, -2, 3.5, .infinity].map { $0 * scale }, shape: [2, 2])
        r.tensors["scalar"] = Tensor(scalar: 0.1 * scale)
        r.integers["step"] = 42
        r.integers["negative"] = -7
        r.reals["best"] = -.infinity
        r.reals["lr"] = 0.000135
        r.reals["nan"] = .nan
        r.strings["configuration"] = "{\"seed\": 42}"
        r.strings["history"] = String(repeating: "é long text ", count: 2_000)
        r.words["rng"] = [0, .max, 0x1234_5678_9ABC_DEF0, 1 << 32, 5]
        var child = StateRecord()
        child.tensors["features.layer0.conv.weight"] = Tensor((0..<24).map { Float($0) * scale }, shape: [2, 3, 4])
        child.integers["nested"] = 1
        var grandchild = StateRecord()
        grandchild.reals["x"] = 1e-300
        child.children["deeper"] = grandchild
        r.children["model"] = child
        return r
    }

    @Test func roundTripIsBitwise() throws {
        let dir = try makeTrainerTestDirectory("roundtrip")
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("a.h5")
        let record = sampleRecord(1)
        try Checkpoint.write(record, to: url)
        let back = try Checkpoint.read(from: url)
        #expect(back.isIdentical(to: record))
        #expect(back.strings["history"]!.count == record.strings["history"]!.count)
        #expect(!back.isIdentical(to: sampleRecord(2)))
    }

    @Test func failedWriteLeavesThePreviousFileIntact() throws {
        let dir = try makeTrainerTestDirectory("atomic")
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("checkpoint.h5")
        let old = sampleRecord(1)
        try Checkpoint.write(old, to: url)
        let before = try Data(contentsOf: url)

        struct Boom: Error {}
        #expect(throws: TrainingError.self) {
            try Checkpoint.write(self.sampleRecord(3), to: url, beforeCommit: { throw Boom() })
        }
        #expect(try Data(contentsOf: url) == before)
        #expect(try Checkpoint.read(from: url).isIdentical(to: old))
        // The temporary file is gone: only the checkpoint remains.
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["checkpoint.h5"])

        // A successful write replaces the file whole.
        try Checkpoint.write(sampleRecord(3), to: url)
        #expect(try Checkpoint.read(from: url).isIdentical(to: sampleRecord(3)))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["checkpoint.h5"])
    }

    @Test func writeUsesATemporarySiblingThenRenames() throws {
        let dir = try makeTrainerTestDirectory("sibling")
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("c.h5")
        var seen: [String] = []
        try Checkpoint.write(sampleRecord(1), to: url, beforeCommit: {
            seen = try FileManager.default.contentsOfDirectory(atPath: dir.path)
        })
        // At commit time the complete file sits under a hidden temporary name next to the target.
        #expect(seen.count == 1 && seen[0].hasPrefix(".c.h5.tmp-"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["c.h5"])
    }

    @Test func temporariesOfKilledRunsAreRemovedByTheNextWrite() throws {
        let dir = try makeTrainerTestDirectory("stale")
        defer { try? FileManager.default.removeItem(at: dir) }
        // A run killed while writing left its temporary file; a live process's is kept.
        let child = Process()
        child.executableURL = URL(fileURLWithPath: "/bin/true")
        try child.run()
        child.waitUntilExit()
        let dead = dir.appendingPathComponent(".c.h5.tmp-\(child.processIdentifier)-0")
        let live = dir.appendingPathComponent(".c.h5.tmp-1-0")         // pid 1 always runs
        let other = dir.appendingPathComponent(".d.h5.tmp-\(child.processIdentifier)-0")
        for url in [dead, live, other] { try Data(repeating: 7, count: 64).write(to: url) }
        try Checkpoint.write(sampleRecord(1), to: dir.appendingPathComponent("c.h5"))
        let left = Set(try FileManager.default.contentsOfDirectory(atPath: dir.path))
        #expect(left == ["c.h5", live.lastPathComponent, other.lastPathComponent])
    }

    @Test func badPathsGiveClearErrors() throws {
        let dir = try makeTrainerTestDirectory("errors")
        defer { try? FileManager.default.removeItem(at: dir) }
        let missingDir = dir.appendingPathComponent("nope/c.h5")
        do {
            try Checkpoint.write(sampleRecord(1), to: missingDir)
            Issue.record("writing into a missing directory succeeded")
        } catch let e as TrainingError {
            #expect(e.description.contains("does not exist"))
        }
        let notHDF5 = dir.appendingPathComponent("x.h5")
        try Data("hello".utf8).write(to: notHDF5)
        #expect(throws: TrainingError.self) { _ = try Checkpoint.read(from: notHDF5) }
        #expect(throws: TrainingError.self) { _ = try Checkpoint.read(from: dir.appendingPathComponent("missing.h5")) }
    }

    @Test func modelOnlyCheckpoints() throws {
        let dir = try makeTrainerTestDirectory("model")
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("model.h5")
        let a = ToyModel(features: 3, hidden: 4, mice: ["m0": 2], seed: 1)
        try Checkpoint.writeModel(a, configuration: "{\"hidden\": 4}", to: url)
        let b = ToyModel(features: 3, hidden: 4, mice: ["m0": 2], seed: 2)
        #expect(b.core.weight.scalars != a.core.weight.scalars)
        try Checkpoint.loadModel(b, from: url)
        for (k, v) in a.stateDict() { #expect(b.stateDict()[k]!.scalars == v.scalars) }
        #expect(try Checkpoint.read(from: url).strings["configuration"] == "{\"hidden\": 4}")
        let wrong = ToyModel(features: 3, hidden: 5, mice: ["m0": 2], seed: 2)
        #expect(throws: TrainingError.self) { try Checkpoint.loadModel(wrong, from: url) }
    }

    @Test func configurationJSON() throws {
        let c = TrainerConfiguration.reference
        let back = try TrainerConfiguration.fromJSON(c.jsonString())
        #expect(back == c)
        let cosine = TrainerConfiguration.warmupCosineRecipe
        #expect(try TrainerConfiguration.fromJSON(cosine.jsonString()) == cosine)
        let partial = try TrainerConfiguration.fromJSON("""
            {"seed": 7, "optimizer": {"type": "sgd", "learningRate": 0.05, "momentum": 0.9},
             "schedule": {"type": "warmupCosine", "cosineEpochs": 20},
             "earlyStopping": {"maxEpochs": 22}, "gradientClipNorm": 1.5}
            """)
        #expect(partial.seed == 7)
        #expect(partial.optimizer == .sgd(.init(learningRate: 0.05, momentum: 0.9)))
        #expect(partial.schedule == .warmupCosine(.init(warmupEpochs: 3, cosineEpochs: 20, minLearningRate: 0)))
        #expect(partial.earlyStopping.maxEpochs == 22 && partial.earlyStopping.patience == 5)
        #expect(partial.gradientClipNorm == 1.5 && partial.loss == .poisson(eps: 1e-8, scaled: true))
        // Configurations written before losses were components still read.
        let old = try TrainerConfiguration.fromJSON(#"{"scaleLoss": false, "poissonEps": 1e-6}"#)
        #expect(old.loss == .poisson(eps: 1e-6, scaled: false))
        #expect(try TrainerConfiguration.fromJSON("{}") == .reference)
        #expect(throws: ComponentError.self) { _ = try TrainerConfiguration.fromJSON("{\"optimizer\": {\"type\": \"lion\"}}") }
        #expect(throws: ComponentError.self) { _ = try TrainerConfiguration.fromJSON("{\"earlyStopping\": {\"patience\": 0}}") }
        // Typos are refused with the nearest known key, at the top and inside a component.
        for (json, typo, hint) in [(#"{"optimzer": {"type": "sgd"}}"#, "optimzer", "optimizer"),
                                   (#"{"optimizer": {"type": "adamW", "learningrate": 0.01}}"#, "learningrate", "learningRate"),
                                   (#"{"earlyStopping": {"maxEpoch": 3}}"#, "maxEpoch", "maxEpochs")] {
            do {
                _ = try TrainerConfiguration.fromJSON(json)
                Issue.record("\(json) was accepted")
            } catch {
                #expect("\(error)".contains(typo) && "\(error)".contains(hint), "\(error)")
            }
        }
        let dir = try makeTrainerTestDirectory("config")
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("bad.json")
        try Data("{\"schedule\": {\"type\": \"reduceOnPlateau\", \"factor\": 2}}".utf8).write(to: file)
        do {
            _ = try TrainerConfiguration.load(from: file)
            Issue.record("a factor of 2 was accepted")
        } catch let e as TrainingError {
            #expect(e.description.contains("bad.json") && e.description.contains("factor"))
        }
    }
}
