import Foundation
import Testing
import SensoriumTensor
@testable import SensoriumData
import SensoriumTestSupport

// Seeded mutation fuzzing of the data readers (issue #16): `.npy` headers and data, mouse folder
// layouts and packed HDF5 mice. Every mutated input must give either a correct read or a
// `DataError`: never a crash, another error type, a hang or a
// memory blow-up, and a mouse that still reads must read as before unless the mutation could only
// change values within the valid range (a data byte flip, a finite value written, a relabelled
// byte order or layout that NumPy would read the same way).
//
// `make test` runs a few cases of each kind; `make fuzz` runs thousands (settings: `Fuzz` in
// Tests/Support/Fuzzing.swift).

extension Fuzz {
    /// Runs one case: nil when `body` read the input, the message when an SDK error refused it.
    /// Any other error, a slow case or memory growth is recorded as an issue.
    static func run(_ label: String, _ body: () throws -> Void) -> String? {
        switch guarded(label, body) {
        case nil: return nil
        case let e as DataError: return e.description
        case let error?:
            Issue.record("\(label): unexpected error type \(type(of: error)): \(error)")
            return "\(error)"
        }
    }

    static func temporary(_ name: String) -> String { mouseTempPath("fuzz-" + name) }

    static func bytes(_ path: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: URL(fileURLWithPath: path))) }

    static func write(_ bytes: [UInt8], _ path: String) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: path), options: .atomic)
    }

    /// Every file under `root` (relative paths), sorted.
    static func files(under root: String) -> [String] {
        let all = (FileManager.default.enumerator(atPath: root)?.allObjects as? [String]) ?? []
        return all.filter { rel in
            var isDirectory: ObjCBool = false
            return FileManager.default.fileExists(atPath: root + "/" + rel, isDirectory: &isDirectory) && !isDirectory.boolValue
        }.sorted()
    }

    /// Everything a training or evaluation would see of a mouse, as bit patterns.
    static func fingerprint(_ path: String) throws -> [UInt32] {
        let mouse = try MouseDataset(path: path)
        var out: [UInt32] = mouse.unitIDs.map { UInt32(truncatingIfNeeded: $0) }
        out += mouse.tiers.map { UInt32(MouseTier.allCases.firstIndex(of: $0)!) }
        out += mouse.cellMotorCoordinates.map(\.bitPattern)
        for k in 0..<mouse.trialCount {
            let t = try mouse.readTrial(k)
            out.append(UInt32(t.length))
            for values in [t.video, t.responses, t.behavior, t.pupilCenter] { out += values.map(\.bitPattern) }
        }
        return out
    }

}

@Suite(.serialized) struct DataFuzzTests {
    // MARK: .npy files

    /// Valid arrays of every kind a mouse holds.
    static func npySeeds() throws -> [[UInt8]] {
        let arrays: [NPYArray] = [
            NPYArray(floats: [1, 2, 3, .nan, 5, 6, 7, .nan, 9, 10, 11, .nan], shape: [3, 4]),
            try NPYArray(dtype: .float64, fortranOrder: true, shape: [2, 3, 2],
                         bytes: (0..<12).flatMap { v in withUnsafeBytes(of: (Double(v) * 1.5).bitPattern.littleEndian) { Array($0) } }),
            try NPYArray(dtype: .float32, byteOrder: .big, shape: [2, 2],
                         bytes: [Float(1), 2, 3, 4].flatMap { v in withUnsafeBytes(of: v.bitPattern.bigEndian) { Array($0) } }),
            NPYArray(ints: [100, 107, 114, 121, 128]),
            NPYArray(strings: ["train", "oracle", "none", "live_test_main"]),
            NPYArray(bools: [true, false, true, true], shape: [4]),
            NPYArray(floats: [Float](repeating: 0.5, count: 300), shape: [3, 10, 10]),
        ]
        let path = Fuzz.temporary("seed.npy")
        defer { try? FileManager.default.removeItem(atPath: path) }
        return try arrays.map { a in
            try NPYFile.write(a, to: path)
            return try Fuzz.bytes(path)
        }
    }

    static let headerTokens = ["'<f4'", "'<i4'", "'>f4'", "'<f8'", "'|u1'", "'<U99999999999'", "'|O'", "'<c8'", "'|S0'", "'<U0'",
                               "True", "False", "(3, 4)", "(4, 3)", "(12,)", "()", "(0,)", "(-3, 4)", "(3, 99999999999999)",
                               "(0, 9223372036854775807, 2)", "(4611686018427387904, 4)", "[3, 4]", "None", "'shape'", "{", "}", ",", "'"]

    /// Mutates a valid `.npy` file; returns the bytes and a description.
    static func mutateNPY(_ original: [UInt8], _ g: RandomGenerator) -> ([UInt8], String) {
        var b = original
        let headerEnd = min(b.count, 10 + Int(b[8]) + Int(b[9]) << 8)
        switch Int.random(in: 0..<7, using: &g.asRNG) {
        case 0:
            let n = Int.random(in: 1...4, using: &g.asRNG)
            for _ in 0..<n { b[Int.random(in: 0..<b.count, using: &g.asRNG)] ^= UInt8(1) << UInt8.random(in: 0..<8, using: &g.asRNG) }
            return (b, "\(n) bit flips")
        case 1:
            let at = Int.random(in: 0..<headerEnd, using: &g.asRNG)
            let chars = Array("0129-(),'TFN<>|UOfi \n{}:".utf8)
            b[at] = chars[Int.random(in: 0..<chars.count, using: &g.asRNG)]
            return (b, "header byte \(at) replaced")
        case 2:
            // Replace one token of the header text by another (the header length field is updated,
            // the data is left where it was).
            var text = String(decoding: b[10..<headerEnd], as: UTF8.self)
            let from = headerTokens.filter { text.contains($0) }
            guard let old = from.randomElement(using: &g.asRNG) else { return (b, "no token") }
            let new = headerTokens[Int.random(in: 0..<headerTokens.count, using: &g.asRNG)]
            text = text.replacingOccurrences(of: old, with: new)
            let header = Array(text.utf8)
            let out = Array(b[0..<8]) + [UInt8(header.count & 0xFF), UInt8((header.count >> 8) & 0xFF)] + header + Array(b[headerEnd...])
            return (out, "header \(old) → \(new)")
        case 3:
            let n = Int.random(in: 0..<b.count, using: &g.asRNG)
            return (Array(b.prefix(n)), "truncated to \(n) bytes")
        case 4:
            let n = Int.random(in: 1...100, using: &g.asRNG)
            b += (0..<n).map { _ in UInt8.random(in: 0...255, using: &g.asRNG) }
            return (b, "\(n) bytes appended")
        case 5:
            let v = UInt16.random(in: 0...UInt16.max, using: &g.asRNG)
            b[8] = UInt8(v & 0xFF); b[9] = UInt8(v >> 8)
            return (b, "header length \(v)")
        default:
            b[6] = UInt8.random(in: 0...4, using: &g.asRNG); b[7] = UInt8.random(in: 0...1, using: &g.asRNG)
            return (b, "version \(b[6]).\(b[7])")
        }
    }

    @Test func npyFiles() throws {
        let seeds = try Self.npySeeds()
        let path = Fuzz.temporary("case.npy")
        defer { try? FileManager.default.removeItem(atPath: path) }
        var read = 0, refused = 0
        for k in 0..<(Fuzz.casesPerKind * 4) {
            let g = Fuzz.generator(1, k)
            let (bytes, what) = Self.mutateNPY(seeds[k % seeds.count], g)
            try Fuzz.write(bytes, path)
            let mapping: NPYFile.Mapping = k % 2 == 0 ? .never : .always
            let outcome = Fuzz.run("npy seed \(Fuzz.seed &+ UInt64(k)) (\(what))") {
                let a = try NPYFile.read(path, mapping: mapping)
                switch a.dtype {
                case .unicode, .bytes:
                    _ = try a.strings()
                default:
                    let f = try a.floats(), d = try a.doubles(), t = try a.tensor()
                    #expect(f.count == a.count && d.count == a.count && t.count == a.count)
                    _ = try? a.ints()
                    _ = try NPYFile.readTensor(path)
                }
            }
            if outcome == nil { read += 1 } else { refused += 1 }
        }
        print("fuzz npy: \(read + refused) cases, \(read) read, \(refused) refused with DataError; \(Fuzz.peakMemory)")
    }

    // MARK: Mouse folders

    enum FolderMutation: Int, CaseIterable {
        case byteFlips, valueWrite, truncate, delete, extraEntry, directoryForFile, headerRelabel, metadata
    }

    /// Mutates the mouse folder at `root`; returns a description, whether a read that succeeds may
    /// legitimately return other values, and the mutation.
    static func mutateFolder(_ root: String, _ g: RandomGenerator) throws -> (String, Bool) {
        let files = Fuzz.files(under: root).filter { $0.hasSuffix(".npy") }
        let rel = files[Int.random(in: 0..<files.count, using: &g.asRNG)]
        let path = root + "/" + rel
        let mutation = FolderMutation(rawValue: Int.random(in: 0..<FolderMutation.allCases.count, using: &g.asRNG))!
        switch mutation {
        case .byteFlips:
            var b = try Fuzz.bytes(path)
            let dataOffset = (try? NPYFile.readHeader(path).dataOffset) ?? b.count
            let n = Int.random(in: 1...3, using: &g.asRNG)
            var inData = true
            for _ in 0..<n {
                let at = Int.random(in: 0..<b.count, using: &g.asRNG)
                inData = inData && at >= dataOffset
                b[at] ^= UInt8(1) << UInt8.random(in: 0..<8, using: &g.asRNG)
            }
            try Fuzz.write(b, path)
            return ("\(n) bit flips in \(rel)", inData)
        case .valueWrite:
            let a = try NPYFile.read(path)
            guard a.dtype.isNumeric, a.count > 0 else { return ("nothing written to \(rel)", false) }
            var v = try a.floats()
            let value: Float = [.nan, .infinity, -.infinity, 1e30, -1, 0, 3.5][Int.random(in: 0..<7, using: &g.asRNG)]
            let at = Int.random(in: 0..<v.count, using: &g.asRNG)
            v[at] = value
            try NPYFile.write(NPYArray(floats: v, shape: a.shape), to: path)
            return ("\(value) written at \(at) of \(rel)", value.isFinite)
        case .truncate:
            let b = try Fuzz.bytes(path)
            let n = Int.random(in: 0..<b.count, using: &g.asRNG)
            try Fuzz.write(Array(b.prefix(n)), path)
            return ("\(rel) truncated to \(n) bytes", false)
        case .delete:
            try FileManager.default.removeItem(atPath: path)
            return ("\(rel) deleted", false)
        case .extraEntry:
            let field = MouseField.allCases[Int.random(in: 0..<4, using: &g.asRNG)].folderName
            let name = [".extra.npy", "extra.npy", "5.npy", "-1.npy", ".DS_Store", "0.npy.bak", "dir"][Int.random(in: 0..<7, using: &g.asRNG)]
            let target = root + "/data/" + field + "/" + name
            if name == "dir" {
                try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
            } else {
                try Fuzz.write(try Fuzz.bytes(root + "/data/" + field + "/0.npy"), target)
            }
            return ("extra entry data/\(field)/\(name)", false)
        case .directoryForFile:
            try FileManager.default.removeItem(atPath: path)
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            return ("\(rel) replaced by a directory", false)
        case .headerRelabel:
            var b = try Fuzz.bytes(path)
            let headerEnd = min(b.count, 10 + Int(b[8]) + Int(b[9]) << 8)
            let text = String(decoding: b[10..<headerEnd], as: UTF8.self)
            let swaps = [("<f4", "<i4"), ("<f4", ">f4"), ("<f4", "<u4"), ("<f8", "<i8"), ("<f8", ">f8"), ("False", "True "),
                         ("<i8", "<f8"), ("<i8", "<u8"), ("<U", "|S"), ("(3, 6)", "(6, 3)"), ("(2, 6)", "(6, 2)"), ("(2, 3, 6)", "(3, 2, 6)")]
            let possible = swaps.filter { text.contains($0.0) }
            guard let (old, new) = possible.randomElement(using: &g.asRNG) else { return ("no relabel of \(rel)", false) }
            let replaced = Array(text.replacingOccurrences(of: old, with: new).utf8)
            guard replaced.count == headerEnd - 10 else { return ("no relabel of \(rel)", false) }
            b.replaceSubrange(10..<headerEnd, with: replaced)
            try Fuzz.write(b, path)
            // Byte order, layout and shape relabels are read as NumPy would read them.
            return ("\(rel) relabelled \(old) → \(new)", true)
        case .metadata:
            let choice = Int.random(in: 0..<5, using: &g.asRNG)
            switch choice {
            case 0: try NPYFile.write(NPYArray(doubles: [100, 1e30, 114], shape: [3]), to: root + "/meta/neurons/unit_ids.npy")
            case 1: try NPYFile.write(NPYArray(ints: [100, 100, 114]), to: root + "/meta/neurons/unit_ids.npy")
            case 2: try NPYFile.write(NPYArray(strings: ["train", "trian", "oracle", "oracle", "none"]), to: root + "/meta/trials/tiers.npy")
            case 3: try NPYFile.write(NPYArray(floats: [1, 2, 3]), to: root + "/meta/trials/tiers.npy")
            default: try NPYFile.write(NPYArray(floats: [0, 0, 0, 1, .infinity, 1, 2, 2, 2], shape: [3, 3]), to: root + "/meta/neurons/cell_motor_coordinates.npy")
            }
            return ("metadata corruption \(choice)", false)
        }
    }

    /// Reads the mutated input fully and inspects it: a refusal must be an SDK error that `inspect`
    /// reports as an error too; a read must equal `baseline` unless `mayChange`.
    static func check(_ path: String, label: String, baseline: [UInt32], mayChange: Bool) -> String? {
        var result: [UInt32] = []
        let refused = Fuzz.run(label) { result = try Fuzz.fingerprint(path) }
        var report: MouseFolderReport?
        _ = Fuzz.run(label + " (inspect)") { report = MouseFolderInspector.inspect(path: path) }
        if let refused {
            if report?.isUsable == true {
                Issue.record("\(label): refused (\(refused)) but inspect reports no error: \(report!.problems)")
            }
            return refused
        }
        if result != baseline && !mayChange {
            Issue.record("\(label): read without error but returns other values than the original")
        }
        if report?.isUsable == false {
            Issue.record("\(label): reads without error but inspect reports errors: \(report!.problems.filter { $0.severity == .error })")
        }
        return nil
    }

    @Test func mouseFolders() throws {
        let base = try MiniMouse().write()
        defer { try? FileManager.default.removeItem(atPath: base) }
        let baseline = try Fuzz.fingerprint(base)
        var read = 0, refused = 0
        for k in 0..<(Fuzz.casesPerKind * 2) {
            let root = Fuzz.temporary("folder-\(k)")
            try FileManager.default.copyItem(atPath: base, toPath: root)
            defer { try? FileManager.default.removeItem(atPath: root) }
            let (what, mayChange) = try Self.mutateFolder(root, Fuzz.generator(2, k))
            if let message = Self.check(root, label: "folder seed \(Fuzz.seed &+ UInt64(k)) (\(what))", baseline: baseline, mayChange: mayChange) {
                refused += 1
                if refused <= 3 { print("  e.g. \(what): \(message.replacingOccurrences(of: root, with: "<mouse>"))") }
            } else {
                read += 1
            }
        }
        print("fuzz folders: \(read + refused) cases, \(read) read, \(refused) refused with DataError; \(Fuzz.peakMemory)")
    }

    // MARK: Packed HDF5 mice

    /// The hand-built mini mouse: a small file, mostly metadata.
    @Test func packedMice() throws {
        let folder = try MiniMouse().write()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try Self.fuzzPacked(folder: folder, kind: 3, cases: Fuzz.casesPerKind * 4, name: "packed HDF5")
    }

    /// The tiny synthetic mouse (≈ 3 MB, mostly data chunks): exercises the data checksums.
    @Test func packedSyntheticMice() throws {
        try Self.fuzzPacked(folder: tinySyntheticMouse, kind: 4, cases: Fuzz.casesPerKind, name: "packed synthetic HDF5")
    }

    static func fuzzPacked(folder: String, kind: UInt64, cases: Int, name: String) throws {
        let packed = Fuzz.temporary("base.h5")
        defer {
            try? FileManager.default.removeItem(atPath: packed)
            MouseStores.close(packed)
        }
        try MousePack.pack(folder: folder, into: packed)
        let baseline = try Fuzz.fingerprint(packed)
        #expect(baseline == (try Fuzz.fingerprint(folder)))
        let original = try Fuzz.bytes(packed)
        var read = 0, refused = 0
        for k in 0..<cases {
            let g = Fuzz.generator(kind, k)
            var b = original
            let what: String
            switch Int.random(in: 0..<4, using: &g.asRNG) {
            case 0, 1:
                let n = Int.random(in: 1...8, using: &g.asRNG)
                for _ in 0..<n { b[Int.random(in: 0..<b.count, using: &g.asRNG)] ^= UInt8(1) << UInt8.random(in: 0..<8, using: &g.asRNG) }
                what = "\(n) bit flips"
            case 2:
                let at = Int.random(in: 0..<b.count, using: &g.asRNG), n = Int.random(in: 8...256, using: &g.asRNG)
                for i in at..<min(b.count, at + n) { b[i] = UInt8.random(in: 0...255, using: &g.asRNG) }
                what = "\(n) random bytes at \(at)"
            default:
                let n = Int.random(in: 0..<b.count, using: &g.asRNG)
                b = Array(b.prefix(n))
                what = "truncated to \(n) bytes"
            }
            let path = Fuzz.temporary("packed-\(k).h5")
            try Fuzz.write(b, path)
            defer {
                MouseStores.close(path)
                try? FileManager.default.removeItem(atPath: path)
            }
            // Every byte is covered by a checksum or unused: a read must return the original values.
            if let message = check(path, label: "\(name) seed \(Fuzz.seed &+ UInt64(k)) (\(what))", baseline: baseline, mayChange: false) {
                refused += 1
                if refused <= 3 { print("  e.g. \(what): \(message.replacingOccurrences(of: path, with: "<mouse.h5>").prefix(300))") }
            } else {
                read += 1
            }
        }
        print("fuzz \(name): \(read + refused) cases, \(read) read (unchanged), \(refused) refused with DataError; \(Fuzz.peakMemory)")
    }
}

extension RandomGenerator {
    /// `self` as an `inout`-able generator for the standard library's `random(in:using:)`.
    var asRNG: RandomGenerator {
        get { self }
        set {}
    }
}
