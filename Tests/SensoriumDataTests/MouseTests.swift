import Foundation
import Testing
import SensoriumTensor
@testable import SensoriumData

/// A unique path under the temporary directory for one test's files (tests run in parallel).
func mouseTempPath(_ name: String) -> String {
    let dir = ProcessInfo.processInfo.environment["TMPDIR"] ?? "/tmp"
    return "\(dir)/sensorium-mouse-test-\(ProcessInfo.processInfo.processIdentifier)-\(UInt64.random(in: 0...UInt64.max))-\(name)"
}

// MARK: - A hand-built mini mouse with known values

/// A mouse folder written value by value so that normalisation and lengths can be checked by hand.
/// Frames 2 × 3, padded length 6, 3 neurons; trial k has the length `lengths[k]` (NaN after it).
struct MiniMouse {
    var height = 2, width = 3, frames = 6, neurons = 3
    var tiers = ["train", "train", "oracle", "oracle", "none"]
    var lengths = [6, 4, 5, 5, 3]
    /// Pixel values: identical for trials 2 and 3 (repeats of one clip).
    func video(_ trial: Int, _ i: Int, _ j: Int, _ t: Int) -> Float {
        let clip = trial == 3 ? 2 : trial
        return Float(10 * clip + 3 * i + j) + Float(t) * 0.5
    }
    func response(_ trial: Int, _ n: Int, _ t: Int) -> Float { Float(trial + n) + Float(t) * 0.25 }
    func behavior(_ trial: Int, _ c: Int, _ t: Int) -> Float { c == 0 ? 10 + Float(t) : 2 * Float(t + trial) }
    func pupil(_ trial: Int, _ c: Int, _ t: Int) -> Float { c == 0 ? 50 + Float(t) : 40 - Float(t) }

    // Statistics (exactly representable values).
    func videoMean(_ i: Int, _ j: Int, _ t: Int) -> Float { 5 + Float(t) }
    func videoStd(_ i: Int, _ j: Int, _ t: Int) -> Float { 2 + 0.5 * Float(i) }
    /// Response std (neurons, T): one entry below the 1% floor, one NaN.
    func responseStd(_ n: Int, _ t: Int) -> Float {
        if n == 1 && t == 2 { return 0.001 }
        if n == 2 && t == 5 { return .nan }
        return 1 + Float(n) + 0.25 * Float(t)
    }
    func behaviorStd(_ c: Int, _ t: Int) -> Float { c == 0 ? 2 : 4 }
    func pupilMean(_ c: Int, _ t: Int) -> Float { c == 0 ? 50 : 40 }
    func pupilStd(_ c: Int, _ t: Int) -> Float { 2 }

    func array(_ shape: [Int], _ value: ([Int]) -> Float) -> [Float] {
        var out: [Float] = []
        func rec(_ prefix: [Int]) {
            if prefix.count == shape.count { out.append(value(prefix)); return }
            for k in 0..<shape[prefix.count] { rec(prefix + [k]) }
        }
        rec([])
        return out
    }

    /// Writes the folder and returns its path.
    func write(to root: String = mouseTempPath("minimouse")) throws -> String {
        let fm = FileManager.default
        for sub in ["data/videos", "data/responses", "data/behavior", "data/pupil_center", "meta/neurons", "meta/trials"] {
            try fm.createDirectory(atPath: root + "/" + sub, withIntermediateDirectories: true)
        }
        func put(_ values: [Float], _ shape: [Int], _ rel: String) throws {
            try NPYFile.write(NPYArray(floats: values, shape: shape), to: root + "/" + rel)
        }
        for k in tiers.indices {
            let L = lengths[k]
            try put(array([height, width, frames]) { $0[2] < L ? video(k, $0[0], $0[1], $0[2]) : .nan }, [height, width, frames], "data/videos/\(k).npy")
            try put(array([neurons, frames]) { $0[1] < L ? response(k, $0[0], $0[1]) : .nan }, [neurons, frames], "data/responses/\(k).npy")
            try put(array([2, frames]) { $0[1] < L ? behavior(k, $0[0], $0[1]) : .nan }, [2, frames], "data/behavior/\(k).npy")
            try put(array([2, frames]) { $0[1] < L ? pupil(k, $0[0], $0[1]) : .nan }, [2, frames], "data/pupil_center/\(k).npy")
        }
        try NPYFile.write(NPYArray(strings: tiers), to: root + "/meta/trials/tiers.npy")
        try NPYFile.write(NPYArray(ints: (0..<neurons).map { 100 + 7 * $0 }), to: root + "/meta/neurons/unit_ids.npy")
        try put(array([neurons, 3]) { Float($0[0] * 10 + $0[1]) }, [neurons, 3], "meta/neurons/cell_motor_coordinates.npy")
        func stat(_ field: String, _ name: String, _ values: [Float], _ shape: [Int]) throws {
            try fm.createDirectory(atPath: root + "/meta/statistics/\(field)/all", withIntermediateDirectories: true)
            try put(values, shape, "meta/statistics/\(field)/all/\(name).npy")
        }
        try stat("videos", "mean", array([height, width, frames]) { videoMean($0[0], $0[1], $0[2]) }, [height, width, frames])
        try stat("videos", "std", array([height, width, frames]) { videoStd($0[0], $0[1], $0[2]) }, [height, width, frames])
        try stat("responses", "std", array([neurons, frames]) { responseStd($0[0], $0[1]) }, [neurons, frames])
        try stat("responses", "mean", array([neurons, frames]) { _ in 1 }, [neurons, frames])
        try stat("behavior", "std", array([2, frames]) { behaviorStd($0[0], $0[1]) }, [2, frames])
        try stat("pupil_center", "mean", array([2, frames]) { pupilMean($0[0], $0[1]) }, [2, frames])
        try stat("pupil_center", "std", array([2, frames]) { pupilStd($0[0], $0[1]) }, [2, frames])
        return root
    }

    /// The reference response precision, by hand: threshold = 1% of the mean of the non-NaN stds.
    func precision(_ n: Int, _ t: Int) -> Float {
        var sum: Float = 0, count: Float = 0
        for a in 0..<neurons { for b in 0..<frames where !responseStd(a, b).isNaN { sum += responseStd(a, b); count += 1 } }
        let threshold = Float(0.01) * (sum / count)
        let s = responseStd(n, t)
        return s > threshold ? 1 / s : 1 / threshold
    }
}

func expectMouseError(_ kind: DataError.Kind, pathSuffix: String, _ body: () throws -> Void,
                      sourceLocation: SourceLocation = #_sourceLocation) {
    do {
        try body()
        Issue.record("expected a \(kind) error about …\(pathSuffix), got none", sourceLocation: sourceLocation)
    } catch let e as DataError {
        #expect(e.kind == kind, "\(e)", sourceLocation: sourceLocation)
        #expect(e.path.hasSuffix(pathSuffix), "\(e)", sourceLocation: sourceLocation)
        #expect(!e.expected.isEmpty && !e.found.isEmpty, sourceLocation: sourceLocation)
        #expect(e.description.contains("expected") && e.description.contains("found"), sourceLocation: sourceLocation)
    } catch {
        Issue.record("expected DataError(\(kind)), got \(error)", sourceLocation: sourceLocation)
    }
}

// MARK: - Reading and normalisation

@Suite struct MouseDatasetTests {
    @Test func opensAndReportsMetadata() throws {
        let mini = MiniMouse()
        let path = try mini.write()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let mouse = try MouseDataset(path: path + "/")
        #expect(mouse.name == (path as NSString).lastPathComponent)
        #expect(mouse.trialCount == 5)
        #expect(mouse.tiers == [.train, .train, .oracle, .oracle, .none])
        #expect(mouse.trials(in: .oracle) == [2, 3])
        #expect(mouse.tierCounts[.train] == 2)
        #expect(mouse.unitIDs == [100, 107, 114])
        #expect(mouse.neuronCount == 3)
        #expect(mouse.cellMotorCoordinates == [0, 1, 2, 10, 11, 12, 20, 21, 22])
        #expect(mouse.frameHeight == 2 && mouse.frameWidth == 3 && mouse.paddedLength == 6)
        #expect(mouse.statistics[.videos].present == ["mean", "std"])
        #expect(mouse.statistics[.responses].std?.shape == [3, 6])
        #expect(mouse.statistics[.pupilCenter].min == nil)
    }

    @Test func normalisationMatchesHandComputedValues() throws {
        let mini = MiniMouse()
        let path = try mini.write()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let mouse = try MouseDataset(path: path)
        for k in 0..<5 {
            let trial = try mouse.readTrial(k)
            let L = mini.lengths[k]
            #expect(trial.length == L)
            #expect(trial.tier == mouse.tiers[k])
            for t in 0..<L {
                for i in 0..<2 {
                    for j in 0..<3 {
                        let expected = (mini.video(k, i, j, t) - mini.videoMean(i, j, t)) / mini.videoStd(i, j, t)
                        #expect(trial.video[(t * 2 + i) * 3 + j] == expected)
                    }
                }
                for n in 0..<3 {
                    #expect(trial.responses[t * 3 + n] == mini.response(k, n, t) * mini.precision(n, t))
                }
                for c in 0..<2 {
                    #expect(trial.behavior[c * L + t] == mini.behavior(k, c, t) * (1 / mini.behaviorStd(c, t)))
                    #expect(trial.pupilCenter[c * L + t] == (mini.pupil(k, c, t) - mini.pupilMean(c, t)) / mini.pupilStd(c, t))
                }
            }
        }
        // The floor and NaN fallback: 1 / (0.01 · mean std).
        let p = try #require(mouse.responsePrecision)
        #expect(p.values[1 * 6 + 2] == mini.precision(1, 2))
        #expect(p.values[2 * 6 + 5] == mini.precision(2, 5))
        #expect(mini.precision(1, 2) == mini.precision(2, 5))
    }

    @Test func rawReadingWithoutNormalisation() throws {
        let mini = MiniMouse()
        let path = try mini.write()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let mouse = try MouseDataset(path: path, options: MouseDataOptions(normalize: false))
        let trial = try mouse.readTrial(1)
        #expect(trial.length == 4)
        #expect(trial.video[(2 * 2 + 1) * 3 + 2] == mini.video(1, 1, 2, 2))
        #expect(trial.responses[3 * 3 + 2] == mini.response(1, 2, 3))
        #expect(trial.behavior[4 + 1] == mini.behavior(1, 1, 1))
    }

    @Test func trialLengthIsTheEarliestNaNOverAllFields() throws {
        var mini = MiniMouse()
        mini.lengths = [6, 6, 6, 6, 6]
        let path = try mini.write()
        defer { try? FileManager.default.removeItem(atPath: path) }
        // Trial 0: no NaN anywhere → full padded length.
        // Trial 1: responses padded from frame 4, pupil centre from frame 5 → 4.
        let r = mini.array([3, 6]) { $0[1] < 4 ? mini.response(1, $0[0], $0[1]) : .nan }
        try NPYFile.write(NPYArray(floats: r, shape: [3, 6]), to: path + "/data/responses/1.npy")
        let p = mini.array([2, 6]) { $0[1] < 5 ? mini.pupil(1, $0[0], $0[1]) : .nan }
        try NPYFile.write(NPYArray(floats: p, shape: [2, 6]), to: path + "/data/pupil_center/1.npy")
        // Trial 2: the video padded from frame 2 → 2. (NaN inside a field, before its padding, is
        // refused: HostileInputTests.)
        let v = mini.array([2, 3, 6]) { $0[2] < 2 ? mini.video(2, $0[0], $0[1], $0[2]) : .nan }
        try NPYFile.write(NPYArray(floats: v, shape: [2, 3, 6]), to: path + "/data/videos/2.npy")
        let mouse = try MouseDataset(path: path)
        #expect(try mouse.trialLength(0) == 6)
        #expect(try mouse.trialLength(1) == 4)
        #expect(try mouse.trialLength(2) == 2)
        #expect(try mouse.readTrial(1).responses.count == 4 * 3)
    }

    @Test func statisticsThatEndEarlyCutTrials() throws {
        var mini = MiniMouse()
        mini.lengths = [6, 6, 6, 6, 6]
        let path = try mini.write()
        defer { try? FileManager.default.removeItem(atPath: path) }
        // Video statistics NaN at frame 5 (no training trial covered it) → every trial ends at 5.
        var m = mini.array([2, 3, 6]) { mini.videoMean($0[0], $0[1], $0[2]) }
        for p in 0..<6 { m[p * 6 + 5] = .nan }
        try NPYFile.write(NPYArray(floats: m, shape: [2, 3, 6]), to: path + "/meta/statistics/videos/all/mean.npy")
        let mouse = try MouseDataset(path: path)
        #expect(try mouse.trialLength(0) == 5)
        let raw = try MouseDataset(path: path, options: MouseDataOptions(normalize: false))
        #expect(try raw.trialLength(0) == 6)
    }

    @Test func float64DataIsNormalisedInDouble() throws {
        let mini = MiniMouse()
        let path = try mini.write()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let v = mini.array([2, 3, 6]) { $0[2] < 6 ? mini.video(0, $0[0], $0[1], $0[2]) + 0.1 : .nan }.map(Double.init)
        try NPYFile.write(NPYArray(doubles: v, shape: [2, 3, 6]), to: path + "/data/videos/0.npy")
        let mouse = try MouseDataset(path: path)
        let trial = try mouse.readTrial(0)
        let x = Double(mini.video(0, 1, 2, 3) + 0.1)
        let expected = Float((x - Double(mini.videoMean(1, 2, 3))) / Double(mini.videoStd(1, 2, 3)))
        #expect(trial.video[(3 * 2 + 1) * 3 + 2] == expected)
    }

    @Test func perNeuronStatisticsAreAccepted() throws {
        let mini = MiniMouse()
        let path = try mini.write()
        defer { try? FileManager.default.removeItem(atPath: path) }
        try NPYFile.write(NPYArray(floats: [1, 2, 4], shape: [3]), to: path + "/meta/statistics/responses/all/std.npy")
        try NPYFile.write(NPYArray(floats: [3], shape: []), to: path + "/meta/statistics/videos/all/std.npy")
        let mouse = try MouseDataset(path: path)
        let trial = try mouse.readTrial(0)
        #expect(trial.responses[2 * 3 + 2] == mini.response(0, 2, 2) * (1 / 4))
        #expect(trial.video[(1 * 2 + 0) * 3 + 1] == (mini.video(0, 0, 1, 1) - mini.videoMean(0, 1, 1)) / 3)
    }

    @Test func repeatGroupsFromPixelsAndFromMetadata() throws {
        let mini = MiniMouse()
        let path = try mini.write()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let mouse = try MouseDataset(path: path)
        #expect(try mouse.repeatGroups(in: .oracle) == [[2, 3]])
        #expect(try mouse.repeatGroups(in: .train) == [[0], [1]])
        #expect(try mouse.repeatGroups(in: .liveTestMain) == [])
        try NPYFile.write(NPYArray(strings: ["a", "b", "c", "d", "e"]), to: path + "/meta/trials/condition_hashes.npy")
        let withHashes = try MouseDataset(path: path)
        #expect(try withHashes.repeatGroups(in: .oracle) == [[2], [3]])
        try NPYFile.write(NPYArray(ints: [1, 2, 3, 3, 4]), to: path + "/meta/trials/condition_hashes.npy")
        #expect(try MouseDataset(path: path).repeatGroups(in: .oracle) == [[2, 3]])
    }

    @Test func pixelGroupingToleratesSmallDifferences() throws {
        let mini = MiniMouse()
        let path = try mini.write()
        defer { try? FileManager.default.removeItem(atPath: path) }
        // Trial 3 repeats trial 2 up to 0.5 grey levels and is one frame shorter.
        let v = mini.array([2, 3, 6]) { $0[2] < 4 ? mini.video(2, $0[0], $0[1], $0[2]) + 0.5 : .nan }
        try NPYFile.write(NPYArray(floats: v, shape: [2, 3, 6]), to: path + "/data/videos/3.npy")
        #expect(try MouseDataset(path: path).repeatGroups(in: .oracle) == [[2, 3]])
        let w = mini.array([2, 3, 6]) { $0[2] < 5 ? mini.video(2, $0[0], $0[1], $0[2]) + 3 : .nan }
        try NPYFile.write(NPYArray(floats: w, shape: [2, 3, 6]), to: path + "/data/videos/3.npy")
        #expect(try MouseDataset(path: path).repeatGroups(in: .oracle) == [[2], [3]])
    }

    @Test func pairwiseSumMatchesNumPy() {
        // NumPy: a = np.arange(1, 1001, dtype=np.float32) * np.float32(0.37); np.sum(a) == 185185.0,
        // np.nanmean(a) == 185.185, while a naive float32 loop gives 185185.02.
        let values = (1...1000).map { Float($0) * Float(0.37) }
        let s = values.withUnsafeBufferPointer { TrialNormalizer.pairwiseSum($0.baseAddress!, $0.count) }
        #expect(s == Float(185185.0))
        #expect(values.reduce(0, +) != s)
        #expect(TrialNormalizer.nanMean(values) == Float(185.185))
        #expect(TrialNormalizer.nanMean([Float(1), .nan, 3]) == 2)
    }
}

// MARK: - Malformed folders: each gives its own clear error

@Suite struct MalformedMouseFolderTests {
    func withMini(_ mutate: (String) throws -> Void, _ check: (String) -> Void) throws {
        let path = try MiniMouse().write()
        defer { try? FileManager.default.removeItem(atPath: path) }
        try mutate(path)
        check(path)
    }
    func open(_ path: String) throws { _ = try MouseDataset(path: path) }
    func remove(_ path: String) throws { try FileManager.default.removeItem(atPath: path) }
    func floats(_ values: [Float], _ shape: [Int], _ path: String) throws { try NPYFile.write(NPYArray(floats: values, shape: shape), to: path) }

    @Test func missingFolder() {
        expectMouseError(.missingFolder, pathSuffix: "nowhere") { _ = try MouseDataset(path: "/tmp/sensorium-test-nowhere") }
    }

    @Test func folderIsAFile() throws {
        let p = mouseTempPath("file")
        _ = FileManager.default.createFile(atPath: p, contents: Data([1]))
        defer { try? FileManager.default.removeItem(atPath: p) }
        // A regular file is tried as a packed mouse (MousePack) and refused as such.
        expectMouseError(.unreadableFile, pathSuffix: (p as NSString).lastPathComponent) { try open(p) }
    }

    @Test func missingDataDirectory() throws {
        try withMini({ try remove($0 + "/data") }) { p in expectMouseError(.missingDirectory, pathSuffix: "/data") { try open(p) } }
    }

    @Test func missingTrialsDirectory() throws {
        try withMini({ try remove($0 + "/meta/trials") }) { p in expectMouseError(.missingDirectory, pathSuffix: "meta/trials") { try open(p) } }
    }

    @Test func missingTiersFile() throws {
        try withMini({ try remove($0 + "/meta/trials/tiers.npy") }) { p in expectMouseError(.missingFile, pathSuffix: "tiers.npy") { try open(p) } }
    }

    @Test func numericTiers() throws {
        try withMini({ try floats([0, 1, 2, 3, 4], [5], $0 + "/meta/trials/tiers.npy") }) { p in
            expectMouseError(.wrongDType, pathSuffix: "tiers.npy") { try open(p) }
        }
    }

    @Test func twoDimensionalTiers() throws {
        try withMini({ try NPYFile.write(NPYArray(strings: ["train", "train", "oracle", "oracle"], shape: [2, 2]), to: $0 + "/meta/trials/tiers.npy") }) { p in
            expectMouseError(.wrongShape, pathSuffix: "tiers.npy") { try open(p) }
        }
    }

    @Test func unknownTier() throws {
        try withMini({ try NPYFile.write(NPYArray(strings: ["train", "validation", "oracle", "oracle", "none"]), to: $0 + "/meta/trials/tiers.npy") }) { p in
            expectMouseError(.invalidValue, pathSuffix: "tiers.npy") { try open(p) }
        }
    }

    @Test func emptyTiers() throws {
        try withMini({ try NPYFile.write(NPYArray(strings: [String](), shape: [0]), to: $0 + "/meta/trials/tiers.npy") }) { p in
            expectMouseError(.wrongShape, pathSuffix: "tiers.npy") { try open(p) }
        }
    }

    @Test func corruptTiersFile() throws {
        try withMini({ _ = FileManager.default.createFile(atPath: $0 + "/meta/trials/tiers.npy", contents: Data("not numpy".utf8)) }) { p in
            expectMouseError(.unreadableFile, pathSuffix: "tiers.npy") { try open(p) }
        }
    }

    @Test func missingFieldDirectory() throws {
        try withMini({ try remove($0 + "/data/pupil_center") }) { p in expectMouseError(.missingDirectory, pathSuffix: "data/pupil_center") { try open(p) } }
    }

    @Test func missingTrialFile() throws {
        try withMini({ try remove($0 + "/data/responses/3.npy") }) { p in expectMouseError(.missingFile, pathSuffix: "responses/3.npy") { try open(p) } }
    }

    @Test func extraFileInFieldDirectory() throws {
        try withMini({ try floats([1], [1], $0 + "/data/behavior/5.npy") }) { p in
            expectMouseError(.inconsistent, pathSuffix: "data/behavior") { try open(p) }
        }
    }

    @Test func missingUnitIDs() throws {
        try withMini({ try remove($0 + "/meta/neurons/unit_ids.npy") }) { p in expectMouseError(.missingFile, pathSuffix: "unit_ids.npy") { try open(p) } }
    }

    @Test func fractionalUnitIDs() throws {
        try withMini({ try floats([1, 2.5, 3], [3], $0 + "/meta/neurons/unit_ids.npy") }) { p in
            expectMouseError(.invalidValue, pathSuffix: "unit_ids.npy") { try open(p) }
        }
    }

    @Test func duplicateUnitIDs() throws {
        try withMini({ try NPYFile.write(NPYArray(ints: [4, 5, 4]), to: $0 + "/meta/neurons/unit_ids.npy") }) { p in
            expectMouseError(.invalidValue, pathSuffix: "unit_ids.npy") { try open(p) }
        }
    }

    @Test func coordinatesWithTwoColumns() throws {
        try withMini({ try floats([Float](repeating: 0, count: 6), [3, 2], $0 + "/meta/neurons/cell_motor_coordinates.npy") }) { p in
            expectMouseError(.wrongShape, pathSuffix: "cell_motor_coordinates.npy") { try open(p) }
        }
    }

    @Test func coordinatesForTheWrongNumberOfNeurons() throws {
        try withMini({ try floats([Float](repeating: 0, count: 12), [4, 3], $0 + "/meta/neurons/cell_motor_coordinates.npy") }) { p in
            expectMouseError(.inconsistent, pathSuffix: "cell_motor_coordinates.npy") { try open(p) }
        }
    }

    @Test func nanCoordinates() throws {
        try withMini({ try floats([0, 0, 0, 1, .nan, 1, 2, 2, 2], [3, 3], $0 + "/meta/neurons/cell_motor_coordinates.npy") }) { p in
            expectMouseError(.invalidValue, pathSuffix: "cell_motor_coordinates.npy") { try open(p) }
        }
    }

    @Test func videoWithoutTimeAxis() throws {
        try withMini({ try floats([Float](repeating: 1, count: 6), [2, 3], $0 + "/data/videos/0.npy") }) { p in
            expectMouseError(.wrongShape, pathSuffix: "videos/0.npy") { try open(p) }
        }
    }

    @Test func responsesForTheWrongNumberOfNeurons() throws {
        try withMini({ try floats([Float](repeating: 1, count: 24), [4, 6], $0 + "/data/responses/0.npy") }) { p in
            expectMouseError(.wrongShape, pathSuffix: "responses/0.npy") { try open(p) }
        }
    }

    @Test func behaviorWithThreeRows() throws {
        try withMini({ try floats([Float](repeating: 1, count: 18), [3, 6], $0 + "/data/behavior/0.npy") }) { p in
            expectMouseError(.wrongShape, pathSuffix: "behavior/0.npy") { try open(p) }
        }
    }

    @Test func missingVideoMeanStatistic() throws {
        try withMini({ try remove($0 + "/meta/statistics/videos/all/mean.npy") }) { p in
            expectMouseError(.missingFile, pathSuffix: "videos/all/mean.npy") { try open(p) }
        }
    }

    @Test func responseStatisticThatDoesNotBroadcast() throws {
        try withMini({ try floats([Float](repeating: 1, count: 24), [4, 6], $0 + "/meta/statistics/responses/all/std.npy") }) { p in
            expectMouseError(.wrongShape, pathSuffix: "responses/all/std.npy") { try open(p) }
        }
    }

    @Test func stringStatistic() throws {
        try withMini({ try NPYFile.write(NPYArray(strings: ["x"]), to: $0 + "/meta/statistics/behavior/all/std.npy") }) { p in
            expectMouseError(.wrongDType, pathSuffix: "behavior/all/std.npy") { try open(p) }
        }
    }

    @Test func laterTrialWithTheWrongFrameSize() throws {
        try withMini({ try floats([Float](repeating: 1, count: 4 * 3 * 6), [4, 3, 6], $0 + "/data/videos/2.npy") }) { p in
            expectMouseError(.wrongShape, pathSuffix: "videos/2.npy") { _ = try MouseDataset(path: p).readTrial(2) }
        }
    }

    @Test func truncatedTrialFile() throws {
        try withMini({ p in
            let full = try Data(contentsOf: URL(fileURLWithPath: p + "/data/responses/1.npy"))
            try full.prefix(full.count - 8).write(to: URL(fileURLWithPath: p + "/data/responses/1.npy"))
        }) { p in
            expectMouseError(.unreadableFile, pathSuffix: "responses/1.npy") { _ = try MouseDataset(path: p).readTrial(1) }
        }
    }

    @Test func trialIndexOutOfRange() throws {
        try withMini({ _ in }) { p in
            expectMouseError(.trialOutOfRange, pathSuffix: (p as NSString).lastPathComponent) { _ = try MouseDataset(path: p).readTrial(5) }
        }
    }

    @Test func trialTooShortForClips() throws {
        try withMini({ _ in }) { p in
            expectMouseError(.trialTooShort, pathSuffix: "responses/1.npy") {
                let mouse = try MouseDataset(path: p)
                let loader = MouseLoader(dataset: mouse, tier: .train, batchSize: 2, mode: .clips(frames: 5), generator: RandomGenerator(seed: 1))
                _ = try loader.epoch(prefetch: 0).next()
            }
        }
    }

    @Test func conditionHashesOfTheWrongLength() throws {
        try withMini({ try NPYFile.write(NPYArray(strings: ["a", "b"]), to: $0 + "/meta/trials/condition_hashes.npy") }) { p in
            expectMouseError(.wrongShape, pathSuffix: "condition_hashes.npy") { _ = try MouseDataset(path: p).repeatGroups(in: .oracle) }
        }
    }

    @Test func objectArrayInsteadOfResponses() throws {
        try withMini({ p in
            // A pickled object array header: refused without unpickling.
            var header = "{'descr': '|O', 'fortran_order': False, 'shape': (3, 6), }"
            while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
            header += "\n"
            var bytes: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1, 0, UInt8(header.utf8.count), 0] + Array(header.utf8)
            bytes += [UInt8](repeating: 0, count: 8 * 18)
            try Data(bytes).write(to: URL(fileURLWithPath: p + "/data/responses/0.npy"))
        }) { p in
            expectMouseError(.unreadableFile, pathSuffix: "responses/0.npy") { try open(p) }
        }
    }
}

// MARK: - A mouse packed into one HDF5 file

@Suite struct MousePackTests {
    @Test func packedSyntheticMouseGivesIdenticalBatches() throws {
        let file = mouseTempPath("packed.h5")
        defer { try? FileManager.default.removeItem(atPath: file) }
        try MousePack.pack(folder: tinySyntheticMouse, into: file)
        let folder = try MouseDataset(path: tinySyntheticMouse)
        let packed = try MouseDataset(path: file)
        #expect(packed.name == folder.name)
        #expect(packed.tiers == folder.tiers && packed.unitIDs == folder.unitIDs)
        #expect(packed.cellMotorCoordinates == folder.cellMotorCoordinates)
        #expect(packed.paddedLength == folder.paddedLength && packed.frameHeight == folder.frameHeight)
        func bits(_ a: StatisticArray?) -> [UInt32] { a?.values.map(\.bitPattern) ?? [] }
        #expect(bits(packed.statistics[.responses].std) == bits(folder.statistics[.responses].std))
        #expect(bits(packed.statistics[.videos].median) == bits(folder.statistics[.videos].median))
        #expect(packed.statistics[.videos].median?.shape == folder.statistics[.videos].median?.shape)
        for tier in [MouseTier.oracle, .finalTestBonus] { #expect(try packed.repeatGroups(in: tier) == folder.repeatGroups(in: tier)) }
        for mode in [ClipMode.clips(frames: 24), .fullTrials(maxFrames: nil)] {
            let a = MouseLoader(dataset: folder, tier: .train, batchSize: 3, mode: mode, generator: RandomGenerator(seed: 8))
            let b = MouseLoader(dataset: packed, tier: .train, batchSize: 3, mode: mode, generator: RandomGenerator(seed: 8))
            let sa = a.epoch(prefetch: 2), sb = b.epoch(prefetch: 2, workers: 2)
            while let x = try sa.next() {
                let y = try #require(try sb.next())
                #expect(x.mouse == y.mouse && x.trials == y.trials && x.starts == y.starts)
                #expect(x.video == y.video && x.responses == y.responses)
                #expect(x.behavior == y.behavior && x.pupilCenter == y.pupilCenter)
            }
            #expect(try sb.next() == nil)
        }
        // Ground truth and inspection work on the packed file too.
        let trial = folder.trials(in: .oracle)[0]
        #expect(try SyntheticGroundTruth.rates(of: packed, trial: trial) == SyntheticGroundTruth.rates(of: folder, trial: trial))
        let report = MouseFolderInspector.inspect(path: file)
        #expect(report.isUsable && report.trials == folder.trialCount, "\(report.problems)")
        #expect(!report.problems.contains { $0.path.hasSuffix("config.json") })
    }

    @Test func packKeepsFloat64AndPixelGrouping() throws {
        let mini = MiniMouse()
        let path = try mini.write()
        let file = mouseTempPath("mini.h5")
        defer { try? FileManager.default.removeItem(atPath: path); try? FileManager.default.removeItem(atPath: file) }
        let v = mini.array([2, 3, 6]) { mini.video(0, $0[0], $0[1], $0[2]) + 0.1 }.map(Double.init)
        try NPYFile.write(NPYArray(doubles: v, shape: [2, 3, 6]), to: path + "/data/videos/0.npy")
        try MousePack.pack(folder: path, into: file)
        #expect(throws: DataError.self) { try MousePack.pack(folder: path, into: file) }
        try MousePack.pack(folder: path, into: file, overwrite: true)
        let a = try MouseDataset(path: path), b = try MouseDataset(path: file)
        for k in 0..<5 { #expect(try a.readTrial(k).video == b.readTrial(k).video) }
        #expect(try b.repeatGroups(in: .oracle) == [[2, 3]])
        #expect(b.name == a.name)
    }

    @Test func packedFileErrorsNameTheObject() throws {
        let notHDF5 = mouseTempPath("plain.h5")
        try Data("plain text".utf8).write(to: URL(fileURLWithPath: notHDF5))
        defer { try? FileManager.default.removeItem(atPath: notHDF5) }
        expectMouseError(.unreadableFile, pathSuffix: "plain.h5") { _ = try MouseDataset(path: notHDF5) }
        // An HDF5 file that is not a packed mouse.
        let other = mouseTempPath("other.h5")
        defer { try? FileManager.default.removeItem(atPath: other) }
        let f = try HDF5File.create(other)
        try f.createDataset("x", values: [Float(1)], shape: [1])
        try f.flush()
        expectMouseError(.invalidValue, pathSuffix: "other.h5") { _ = try MouseDataset(path: other) }
        // A packed mouse missing a trial dataset.
        let path = try MiniMouse().write()
        defer { try? FileManager.default.removeItem(atPath: path) }
        try FileManager.default.removeItem(atPath: path + "/data/responses/4.npy")
        let broken = mouseTempPath("broken.h5")
        defer { try? FileManager.default.removeItem(atPath: broken) }
        try MousePack.pack(folder: path, into: broken)
        expectMouseError(.missingFile, pathSuffix: "broken.h5/data/responses/4.npy") { _ = try MouseDataset(path: broken) }
        expectMouseError(.missingFolder, pathSuffix: "nothing-here") { try MousePack.pack(folder: "/tmp/nothing-here", into: broken, overwrite: true) }
    }
}
