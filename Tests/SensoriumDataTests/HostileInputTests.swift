import Foundation
import Testing
import SensoriumTensor
@testable import SensoriumData

/// Regression tests of issue #16 (hostile input): each reproducer found by the probe is refused
/// with a clear error naming the file instead of crashing or being read as sound.
@Suite struct HostileInputTests {
    func withMini(_ mutate: (String) throws -> Void, _ check: (String) throws -> Void) throws {
        let path = try MiniMouse().write()
        defer { try? FileManager.default.removeItem(atPath: path) }
        try mutate(path)
        try check(path)
    }

    func floats(_ values: [Float], _ shape: [Int], _ path: String) throws {
        try NPYFile.write(NPYArray(floats: values, shape: shape), to: path)
    }

    /// Reads every trial of the mouse at `path`.
    func readAll(_ path: String) throws {
        let mouse = try MouseDataset(path: path)
        for k in 0..<mouse.trialCount { _ = try mouse.readTrial(k) }
    }

    func expectInspectError(_ path: String, pathSuffix: String, containing text: String,
                            sourceLocation: SourceLocation = #_sourceLocation) {
        let report = MouseFolderInspector.inspect(path: path)
        #expect(!report.isUsable, "\(report.problems)", sourceLocation: sourceLocation)
        #expect(report.problems.contains { $0.severity == .error && $0.path.hasSuffix(pathSuffix) && $0.message.contains(text) },
                "\(report.problems)", sourceLocation: sourceLocation)
    }

    // MARK: Crashes

    @Test func unitIDsBeyondInt64AreRefused() throws {
        for ids in [NPYArray(doubles: [100, 1e30, 114], shape: [3]),
                    NPYArray(doubles: [100, 0x1p63, 114], shape: [3]),
                    try NPYArray(dtype: .uint64, shape: [3], bytes: [UInt64(100), UInt64.max, 114].flatMap { v in
                        withUnsafeBytes(of: v.littleEndian) { Array($0) } })] {
            try withMini({ try NPYFile.write(ids, to: $0 + "/meta/neurons/unit_ids.npy") }) { p in
                expectMouseError(.invalidValue, pathSuffix: "unit_ids.npy") { _ = try MouseDataset(path: p) }
                expectInspectError(p, pathSuffix: "unit_ids.npy", containing: "neuron 1")
            }
        }
    }

    @Test func absurdSyntheticSizesAreRefusedBeforeAllocating() throws {
        for c in [SyntheticMouseConfiguration(height: 100_000), SyntheticMouseConfiguration(width: 3_000),
                  SyntheticMouseConfiguration(neurons: 90_000, height: 1_000, width: 1_000),
                  SyntheticMouseConfiguration(frames: 200_000)] {
            do {
                _ = try SyntheticMouseGenerator.generate(configuration: c, into: mouseTempPath("absurd"))
                Issue.record("expected a refusal of \(c.height)×\(c.width), \(c.neurons) neurons, \(c.frames) frames")
            } catch let e as DataError {
                #expect(e.kind == .invalidValue && e.path == "SyntheticMouseConfiguration", "\(e)")
            }
        }
    }

    /// A packed mouse whose dataset is larger than its file (here: never written, so only its
    /// extent is stored) is refused before the read allocates anything.
    @Test func hdf5SizesAreBoundedByTheFile() throws {
        let path = mouseTempPath("bounded.h5")
        defer { try? FileManager.default.removeItem(atPath: path) }
        do {
            let f = try HDF5File.create(path)
            try f.createDataset("huge", shape: [1 << 28, 16], of: Float.self)
            try f.createDataset("small", values: [1, 2, 3] as [Float], shape: [3])
            try f.flush()
        }
        let f = try HDF5File.open(path)
        #expect(try f.dataset("small").read(as: Float.self) == [1, 2, 3])
        do {
            _ = try f.dataset("huge")
            Issue.record("a 16 GiB dataset in a small file was opened")
        } catch let e as DataError {
            #expect(e.kind == .corrupted && e.expected.contains("no larger than the file") && e.object == "/huge", "\(e)")
        }
    }

    // MARK: Checksummed HDF5 files

    @Test func sdkFilesCarryChecksumsThatCatchAFlippedDataByte() throws {
        let folder = try MiniMouse().write()
        let packed = mouseTempPath("checksum.h5")
        defer {
            try? FileManager.default.removeItem(atPath: folder)
            try? FileManager.default.removeItem(atPath: packed)
            MouseStores.close(packed)
        }
        // A distinctive response value to find in the file.
        var r = MiniMouse().array([3, 6]) { $0[1] < 4 ? MiniMouse().response(1, $0[0], $0[1]) : .nan }
        r[1] = 12345.678
        try floats(r, [3, 6], folder + "/data/responses/1.npy")
        try MousePack.pack(folder: folder, into: packed)
        do {
            let f = try HDF5File.open(packed)
            #expect(try f.dataset("data/responses/1").hasChecksum)
            #expect(try f.dataset("meta/trials/tiers").hasChecksum)
            #expect(try f.dataset("meta/trials/tiers").elementType == .string(variableLength: false, bytes: 6))
        }
        let raw = MouseDataOptions(normalize: false)
        #expect(try MouseDataset(path: packed, options: raw).readTrial(1).responses[3] == 12345.678)

        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: packed)))
        let pattern = withUnsafeBytes(of: Float(12345.678).bitPattern.littleEndian) { Array($0) }
        let at = try #require((0...(bytes.count - 4)).first { Array(bytes[$0..<($0 + 4)]) == pattern })
        bytes[at] ^= 0x01                  // still a finite float: invisible without a checksum
        try Data(bytes).write(to: URL(fileURLWithPath: packed), options: .atomic)
        let mouse = try MouseDataset(path: packed, options: raw)     // a replaced file is opened again
        expectMouseError(.corrupted, pathSuffix: "data/responses/1.npy") { _ = try mouse.readTrial(1) }
        #expect(try mouse.readTrial(0).length == 6)
    }

    // MARK: Corruption that was called sound

    @Test func nonFiniteStatisticsAreRefused() throws {
        let m = MiniMouse()
        let cases: [(String, [Float], [Int], String)] = [
            ("responses/all/std.npy", m.array([3, 6]) { $0 == [1, 3] ? .infinity : m.responseStd($0[0], $0[1]) }, [3, 6], "inf at frame 3, row 1"),
            ("responses/all/std.npy", m.array([3, 6]) { $0 == [0, 1] ? -1 : m.responseStd($0[0], $0[1]) }, [3, 6], "-1.0 at frame 1, row 0"),
            ("responses/all/std.npy", [Float](repeating: 0, count: 18), [3, 6], "only zeros"),
            ("videos/all/mean.npy", m.array([2, 3, 6]) { $0 == [1, 2, 0] ? .infinity : m.videoMean($0[0], $0[1], $0[2]) }, [2, 3, 6], "frame 0, row 5"),
            ("behavior/all/std.npy", m.array([2, 6]) { $0 == [1, 4] ? 0 : m.behaviorStd($0[0], $0[1]) }, [2, 6], "0 at frame 4, row 1"),
            ("pupil_center/all/mean.npy", m.array([2, 6]) { $0 == [0, 2] ? .nan : m.pupilMean($0[0], $0[1]) }, [2, 6], "NaN at frame 2, row 0"),
        ]
        for (file, values, shape, found) in cases {
            try withMini({ try floats(values, shape, $0 + "/meta/statistics/" + file) }) { p in
                do {
                    _ = try MouseDataset(path: p)
                    Issue.record("\(file) with \(found) was accepted")
                } catch let e as DataError {
                    #expect(e.kind == .invalidValue && e.path.hasSuffix(file) && e.found.contains(found), "\(e)")
                }
                expectInspectError(p, pathSuffix: file, containing: found)
            }
        }
        // NaN at the end of a row (frames no trial covers) stays allowed, and so do NaN entries of the
        // response std (the reference's floor replaces them).
        try withMini({ try floats(m.array([2, 6]) { $0[1] == 5 ? .nan : m.pupilMean($0[0], $0[1]) }, [2, 6], $0 + "/meta/statistics/pupil_center/all/mean.npy") }) { p in
            let length = try MouseDataset(path: p).trialLength(0)
            #expect(length == 5)
        }
    }

    @Test func nonFiniteTrialValuesAreNamedByFileAndFrame() throws {
        let m = MiniMouse()
        // Trial 1 has 4 frames (NaN padding from frame 4).
        let cases: [(String, [Float], [Int], String)] = [
            ("data/responses/1.npy", m.array([3, 6]) { $0 == [0, 2] ? .nan : ($0[1] < 4 ? m.response(1, $0[0], $0[1]) : .nan) }, [3, 6], "NaN at frame 2, row 0"),
            ("data/responses/1.npy", m.array([3, 6]) { $0 == [2, 3] ? .nan : ($0[1] < 4 ? m.response(1, $0[0], $0[1]) : .nan) }, [3, 6], "NaN at frame 3, row 2"),
            ("data/behavior/1.npy", m.array([2, 6]) { $0 == [1, 1] ? .infinity : ($0[1] < 4 ? m.behavior(1, $0[0], $0[1]) : .nan) }, [2, 6], "inf at frame 1, row 1"),
            ("data/videos/1.npy", m.array([2, 3, 6]) { $0 == [0, 1, 0] ? -.infinity : ($0[2] < 4 ? m.video(1, $0[0], $0[1], $0[2]) : .nan) }, [2, 3, 6], "-inf at frame 0, row 1"),
            ("data/pupil_center/1.npy", [Float](repeating: .nan, count: 12), [2, 6], "only NaN"),
        ]
        for (file, values, shape, found) in cases {
            try withMini({ try floats(values, shape, $0 + "/" + file) }) { p in
                let mouse = try MouseDataset(path: p)
                do {
                    _ = try mouse.readTrial(1)
                    Issue.record("\(file) with \(found) was accepted")
                } catch let e as DataError {
                    #expect(e.kind == .invalidValue && e.path.hasSuffix(file) && e.found.contains(found), "\(e)")
                }
                #expect(try mouse.readTrial(0).length == 6)
                expectInspectError(p, pathSuffix: file, containing: found)
            }
        }
    }

    @Test func paddingMustAgreeAcrossTrials() throws {
        let m = MiniMouse()
        try withMini({ try floats(m.array([2, 7]) { $0[1] < 5 ? m.behavior(2, $0[0], $0[1]) : .nan }, [2, 7], $0 + "/data/behavior/2.npy") }) { p in
            expectMouseError(.inconsistent, pathSuffix: "data/behavior/2.npy") { try readAll(p) }
            expectInspectError(p, pathSuffix: "data/behavior/2.npy", containing: "padded to 6 frames")
        }
    }

    @Test func fortranOrderIsReadAsNumPyDoes() throws {
        let m = MiniMouse()
        let c = m.array([2, 3, 6]) { $0[2] < 4 ? m.video(1, $0[0], $0[1], $0[2]) : .nan }
        // The same array stored column-major: element (i, j, t) at i + 2 j + 6 t.
        var f = [Float](repeating: 0, count: 36)
        for i in 0..<2 { for j in 0..<3 { for t in 0..<6 { f[i + 2 * j + 6 * t] = c[(i * 3 + j) * 6 + t] } } }
        let bytes = f.flatMap { v in withUnsafeBytes(of: v.bitPattern.littleEndian) { Array($0) } }
        let reference = try MouseDataset(path: try MiniMouse().write()).readTrial(1)
        try withMini({ try NPYFile.write(try NPYArray(dtype: .float32, fortranOrder: true, shape: [2, 3, 6], bytes: bytes), to: $0 + "/data/videos/1.npy") }) { p in
            #expect(try NPYFile.readHeader(p + "/data/videos/1.npy").fortranOrder)
            let trial = try MouseDataset(path: p).readTrial(1)
            #expect(trial.video == reference.video && trial.length == 4)
        }
    }

    @Test func entriesThatAreNotTrialsAreRefused() throws {
        for name in [".extra.npy", "notes.txt", "7.npy"] {
            try withMini({ try floats([1], [1], $0 + "/data/videos/" + name) }) { p in
                expectMouseError(.inconsistent, pathSuffix: "data/videos") { _ = try MouseDataset(path: p) }
                expectInspectError(p, pathSuffix: "data/videos", containing: name)
            }
        }
    }

    @Test func mislabelledDTypeIsRefused() throws {
        // A float file relabelled <i4 (same size): integers cannot hold the NaN padding.
        try withMini({ p in
            let file = p + "/data/responses/3.npy"
            var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: file)))
            let header = String(decoding: bytes.prefix(128), as: UTF8.self)
            let at = try #require(header.range(of: "<f4")).lowerBound.utf16Offset(in: header)
            bytes[at + 1] = UInt8(ascii: "i")
            try Data(bytes).write(to: URL(fileURLWithPath: file))
        }) { p in
            expectMouseError(.wrongDType, pathSuffix: "data/responses/3.npy") { try readAll(p) }
            expectInspectError(p, pathSuffix: "data/responses/3.npy", containing: "<i4")
        }
        // A size that disagrees with the file's length: refused by the reader.
        try withMini({ p in
            try NPYFile.write(NPYArray(doubles: [Double](repeating: 1, count: 18), shape: [3, 6]), to: p + "/data/responses/3.npy")
            let file = p + "/data/responses/3.npy"
            var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: file)))
            let header = String(decoding: bytes.prefix(128), as: UTF8.self)
            let at = try #require(header.range(of: "<f8")).lowerBound.utf16Offset(in: header)
            bytes[at + 2] = UInt8(ascii: "4")
            try Data(bytes).write(to: URL(fileURLWithPath: file))
        }) { p in
            expectMouseError(.unreadableFile, pathSuffix: "data/responses/3.npy") { try readAll(p) }
        }
    }

    @Test func npyShapesThatOverflowAreRefused() throws {
        let path = mouseTempPath("overflow.npy")
        defer { try? FileManager.default.removeItem(atPath: path) }
        for shape in ["(0, 4611686018427387904, 4611686018427387904)", "(99999999999999999999,)", "(3037000500, 3037000500)"] {
            var header = Array(npyHeaderDict("<f4", shape: shape).utf8)
            while (10 + header.count + 1) % 64 != 0 { header.append(0x20) }
            header.append(0x0A)
            let bytes = npyMagic + [1, 0, UInt8(header.count & 0xFF), UInt8(header.count >> 8)] + header
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            #expect(throws: DataError.self) { _ = try NPYFile.read(path) }
        }
        for descr in ["<U99999999999999", "|S4294967297"] {
            var header = Array(npyHeaderDict(descr, shape: "(1,)").utf8)
            while (10 + header.count + 1) % 64 != 0 { header.append(0x20) }
            header.append(0x0A)
            let bytes = npyMagic + [1, 0, UInt8(header.count & 0xFF), UInt8(header.count >> 8)] + header
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            #expect(throws: DataError.self) { _ = try NPYFile.read(path) }
        }
    }
}
