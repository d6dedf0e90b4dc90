import Testing
import Foundation
import SensoriumTensor
@testable import SensoriumData
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Asserts that `body` throws a `DataError` of `kind` from the HDF5 layer (one that names the
/// libhdf5 call and the object), and returns it for further checks.
@discardableResult
func expectHDF5Failure<R>(_ kind: DataError.Kind, sourceLocation: SourceLocation = #_sourceLocation,
                        _ body: () throws -> R) -> DataError? {
    do {
        _ = try body()
        Issue.record("expected DataError.\(kind), nothing was thrown", sourceLocation: sourceLocation)
    } catch let error as DataError {
        #expect(error.kind == kind && error.operation != nil && error.object != nil, "\(error)", sourceLocation: sourceLocation)
        return error
    } catch {
        Issue.record("expected DataError.\(kind), got \(error)", sourceLocation: sourceLocation)
    }
    return nil
}

@Suite struct HDF5Tests {
    @Test func nestedGroupsDatasetsAndAttributesRoundTrip() throws {
        let path = DataIOTest.tempPath("roundtrip.h5")
        defer { unlink(path) }
        do {
            let f = try HDF5File.create(path)
            #expect(f.isWritable && f.path == "/")
            let c = try f.createGroup("a/b/c")
            #expect(c.path == "/a/b/c")
            try f.createGroup("/z")
            let b = try f.group("a/b")
            try b.createDataset("floats", values: [1.5, -2, 3, 4, 5, 6] as [Float], shape: [2, 3])
            try b.createDataset("c/doubles", values: [Double.pi, -1e300], shape: [2])
            try f.createDataset("ints32", values: [Int32.min, 0, Int32.max, 7], shape: [2, 1, 2])
            try f.createDataset("ints64", values: [Int64.min, 42, Int64.max], shape: [3])
            try f.createDataset("bytes", values: [0, 128, 255] as [UInt8], shape: [3])
            try f.createDataset("scalar", values: [2.5] as [Double], shape: [])
            try f.createDataset("empty", values: [Float](), shape: [0, 4])
            try f.createDataset("x/tensor", tensor: Tensor([1, 2, 3, 4, 5, 6, 7, 8], shape: [2, 2, 2]))
            try f.createDataset("tiers", strings: ["train", "oracle", "", "final_test_bonus", "ünïcødé"])

            try f.setAttribute("title", "sensorium")
            try f.setAttribute("version", 3)
            try c.setAttribute("mean", 0.25 as Float)
            try c.setAttribute("window", values: [1, 2, 3] as [Int32])
            let ds = try f.dataset("a/b/floats")
            try ds.setAttribute("unit", "spikes/s")
            try ds.setAttribute("unit", "Hz")  // replaces
            try ds.setAttribute("rate", 30.0)
        }
        let f = try HDF5File.open(path)
        #expect(!f.isWritable)
        #expect(try f.children() == ["a", "bytes", "empty", "ints32", "ints64", "scalar", "tiers", "x", "z"])
        #expect(try f.group("a").children() == ["b"])
        #expect(try f.group("/a/b").children() == ["c", "floats"])
        #expect(try f.group("a/b/c").children() == ["doubles"])
        #expect(f.exists("a/b/c/doubles") && f.exists("/a/b") && f.exists("/") && f.exists(""))
        #expect(!f.exists("a/nope/c") && !f.exists("a/b/c/doubles/deeper") && !f.exists("q"))
        #expect(f.kind(of: "a/b") == .group && f.kind(of: "a/b/floats") == .dataset && f.kind(of: "nope") == nil)
        #expect(try f.group("a").exists("b/floats"))

        let floats = try f.dataset("a/b/floats")
        #expect(floats.shape == [2, 3] && floats.elementType == .float(bytes: 4) && floats.path == "/a/b/floats")
        #expect(try floats.read(as: Float.self) == [1.5, -2, 3, 4, 5, 6])
        #expect(try floats.read(as: Double.self) == [1.5, -2, 3, 4, 5, 6])
        #expect(try floats.readTensor().shape == [2, 3])
        let doubles = try f.group("a").dataset("b/c/doubles")
        #expect(doubles.elementType == .float(bytes: 8))
        #expect(try doubles.read(as: Double.self) == [Double.pi, -1e300])
        let i32 = try f.dataset("ints32")
        #expect(i32.shape == [2, 1, 2] && i32.elementType == .signedInteger(bytes: 4))
        #expect(try i32.read(as: Int32.self) == [Int32.min, 0, Int32.max, 7])
        #expect(try i32.read(as: Int64.self) == [Int64(Int32.min), 0, Int64(Int32.max), 7])
        #expect(try f.dataset("ints64").read(as: Int64.self) == [Int64.min, 42, Int64.max])
        #expect(try f.dataset("ints64").read(as: Int.self) == [Int.min, 42, Int.max])
        let bytes = try f.dataset("bytes")
        #expect(bytes.elementType == .unsignedInteger(bytes: 1))
        #expect(try bytes.read(as: UInt8.self) == [0, 128, 255])
        #expect(try bytes.readTensor().scalars == [0, 128, 255])
        let scalar = try f.dataset("scalar")
        #expect(scalar.shape == [] && scalar.count == 1)
        #expect(try scalar.read(as: Double.self) == [2.5])
        #expect(try scalar.readTensor().item == 2.5)
        let empty = try f.dataset("empty")
        #expect(try empty.shape == [0, 4] && empty.read(as: Float.self).isEmpty)
        #expect(try f.dataset("x/tensor").readTensor().scalars == [1, 2, 3, 4, 5, 6, 7, 8])
        let tiers = try f.dataset("tiers")
        #expect(tiers.elementType == .string(variableLength: true, bytes: MemoryLayout<UnsafeRawPointer>.size))
        #expect(try tiers.readStrings() == ["train", "oracle", "", "final_test_bonus", "ünïcødé"])

        #expect(try f.stringAttribute("title") == "sensorium")
        #expect(try f.attribute("version", as: Int.self) == 3)
        #expect(try f.attribute("version", as: Double.self) == 3)
        #expect(try f.attributeNames() == ["title", "version"])
        let c = try f.group("a/b/c")
        #expect(try c.attribute("mean", as: Float.self) == 0.25)
        #expect(try c.attributeValues("window", as: Int32.self) == [1, 2, 3])
        #expect(try c.attributeValues("window", as: Double.self) == [1, 2, 3])
        #expect(try c.attributeType("window") == .signedInteger(bytes: 4))
        #expect(try floats.stringAttribute("unit") == "Hz")
        #expect(try floats.attribute("rate", as: Double.self) == 30)
        #expect(try floats.hasAttribute("unit") && !(try floats.hasAttribute("nope")))
        #expect(try floats.attributeNames() == ["rate", "unit"])
    }

    /// Files are opened close-on-exec: a child process started while a file is open (MPI's singleton
    /// start-up, a spawned tool) must not keep its descriptor, which holds libhdf5's file lock.
    @Test func fileDescriptorsAreCloseOnExec() throws {
        #if os(Linux)
        let path = DataIOTest.tempPath("cloexec.h5")
        defer { unlink(path) }
        func descriptors(of target: String) -> [Int32] {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
            return names.compactMap { name in
                guard let fd = Int32(name),
                      let link = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/" + name),
                      link == target else { return nil }
                return fd
            }
        }
        let created = try HDF5File.create(path)
        try created.createDataset("x", values: [1, 2] as [Float], shape: [2])
        let real = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
        let writing = descriptors(of: real)
        #expect(!writing.isEmpty, "the open file \(real) among /proc/self/fd")
        for fd in writing { #expect(fcntl(fd, F_GETFD) & FD_CLOEXEC != 0, "fd \(fd) of the created file") }
        _ = consume created
        let opened = try HDF5File.open(path)
        let reading = descriptors(of: real)
        #expect(!reading.isEmpty)
        for fd in reading { #expect(fcntl(fd, F_GETFD) & FD_CLOEXEC != 0, "fd \(fd) of the opened file") }
        #expect(try opened.dataset("x").read(as: Float.self) == [1, 2])
        #endif
    }

    @Test func firstAxisHyperslabs() throws {
        let path = DataIOTest.tempPath("slabs.h5")
        defer { unlink(path) }
        let f = try HDF5File.create(path)
        let values = (0..<30).map { Float($0) }
        let ds = try f.createDataset("trials", values: values, shape: [5, 2, 3], chunks: [1, 2, 3], compressionLevel: 4)
        let rows = try ds.readTensor(rows: 1..<3)
        #expect(rows.shape == [2, 2, 3])
        #expect(rows.scalars == Array(values[6..<18]))
        let trial = try ds.readTensor(row: 4)
        #expect(trial.shape == [2, 3] && trial.scalars == Array(values[24..<30]))
        #expect(try ds.read(rows: 0..<1, as: Int32.self) == [0, 1, 2, 3, 4, 5])
        #expect(try ds.readTensor(rows: 2..<2).shape == [0, 2, 3])

        try ds.write([Float](repeating: -1, count: 6), rows: 3..<4)
        try ds.write(Tensor([9, 9, 9, 9, 9, 9], shape: [1, 2, 3]), rows: 0..<1)
        let all = try ds.read(as: Float.self)
        #expect(Array(all[0..<6]) == [9, 9, 9, 9, 9, 9])
        #expect(Array(all[18..<24]) == [Float](repeating: -1, count: 6))
        #expect(Array(all[6..<18]) == Array(values[6..<18]))

        // A dataset created empty and filled trial by trial.
        let lazy = try f.createDataset("lazy", shape: [3, 4], of: Double.self)
        #expect(try lazy.read(as: Double.self) == [Double](repeating: 0, count: 12))
        for r in 0..<3 { try lazy.write((0..<4).map { Double(r * 10 + $0) }, rows: r..<(r + 1)) }
        #expect(try lazy.read(as: Double.self) == [0, 1, 2, 3, 10, 11, 12, 13, 20, 21, 22, 23])

        let e = expectHDF5Failure(.wrongShape) { try ds.readTensor(rows: 4..<6) }
        #expect(e?.description.contains("out of range") == true && e?.object == "/trials")
        expectHDF5Failure(.wrongShape) { try ds.write([Float](repeating: 0, count: 5), rows: 0..<1) }
        expectHDF5Failure(.wrongShape) { try f.createDataset("scalar", values: [1.0], shape: []).readTensor(rows: 0..<1) }
    }

    @Test func missingObjectsAndMisuse() throws {
        let path = DataIOTest.tempPath("errors.h5")
        defer { unlink(path) }
        let f = try HDF5File.create(path)
        try f.createGroup("g/h")
        try f.createDataset("g/d", values: [1, 2] as [Float], shape: [2])
        try f.createDataset("names", strings: ["a", "b"])

        var e = expectHDF5Failure(.missingObject) { try f.group("g/nope") }
        #expect(e?.object == "/g/nope" && e?.path == path)
        #expect(e?.description.contains(path) == true && e?.description.contains("/g/nope") == true)
        e = expectHDF5Failure(.missingObject) { try f.dataset("nope/deeper/d") }
        #expect(e?.object == "/nope/deeper/d" && e?.operation == "H5Dopen2")
        expectHDF5Failure(.missingObject) { try f.group("g").dataset("x") }
        e = expectHDF5Failure(.missingObject) { try f.dataset("g/d").stringAttribute("unit") }
        #expect(e?.object == "/g/d@unit")
        expectHDF5Failure(.missingObject) { try f.deleteAttribute("nope") }
        expectHDF5Failure(.missingObject) { try f.remove("nope") }

        e = expectHDF5Failure(.wrongDType) { try f.dataset("g/h") }
        #expect(e?.description.contains("found a group") == true)
        expectHDF5Failure(.wrongDType) { try f.group("g/d") }
        e = expectHDF5Failure(.wrongDType) { try f.dataset("names").read(as: Float.self) }
        #expect(e?.description.contains("variable-length string") == true)
        expectHDF5Failure(.wrongDType) { try f.dataset("g/d").readStrings() }
        try f.setAttribute("label", "x")
        try f.setAttribute("n", 1.0)
        expectHDF5Failure(.wrongDType) { try f.attribute("label", as: Double.self) }
        expectHDF5Failure(.wrongDType) { try f.stringAttribute("n") }

        e = expectHDF5Failure(.alreadyExists) { try f.createGroup("g/h") }
        #expect(e?.object == "/g/h")
        expectHDF5Failure(.alreadyExists) { try f.createDataset("g/d", values: [1] as [Float], shape: [1]) }
        expectHDF5Failure(.wrongShape) { try f.createDataset("bad", values: [1, 2, 3] as [Float], shape: [2, 2]) }
        expectHDF5Failure(.wrongShape) { try f.dataset("g/d").write([1, 2, 3] as [Float]) }
        expectHDF5Failure(.wrongShape) { try f.createDataset("badchunks", shape: [4], of: Float.self, chunks: [8]) }
        expectHDF5Failure(.wrongShape) { try f.setAttribute("pair", values: [1.0, 2.0]); return try f.attribute("pair", as: Double.self) }

        try f.remove("g/d")
        #expect(!f.exists("g/d"))
        try f.deleteAttribute("label")
        #expect(try !f.hasAttribute("label"))
    }

    @Test func fileLevelErrors() throws {
        let missing = DataIOTest.tempPath("missing.h5")
        let e = expectHDF5Failure(.missingFile) { try HDF5File.open(missing) }
        #expect(e?.path == missing && e?.description.contains(missing) == true)

        let garbage = DataIOTest.tempPath("garbage.h5")
        DataIOTest.writeBytes(Array("this is not an HDF5 file at all, just text".utf8), to: garbage)
        defer { unlink(garbage) }
        let g = expectHDF5Failure(.wrongFormat) { try HDF5File.open(garbage) }
        #expect(g?.description.contains("signature") == true)

        // A real file cut in half: the signature is there, libhdf5 reports the damage.
        let good = DataIOTest.tempPath("good.h5")
        defer { unlink(good) }
        do {
            let f = try HDF5File.create(good)
            try f.createDataset("d", values: [Float](repeating: 1, count: 4096), shape: [4096])
        }
        let bytes = DataIOTest.readBytes(good)
        let truncated = DataIOTest.tempPath("truncated.h5")
        DataIOTest.writeBytes(Array(bytes.prefix(bytes.count / 2)), to: truncated)
        defer { unlink(truncated) }
        let t = expectHDF5Failure(.callFailed) { try HDF5File.open(truncated).dataset("d").read(as: Float.self) }
        #expect(t?.operation == "H5Fopen" && t?.found.isEmpty == false)

        // Writing through a read-only handle fails with libhdf5's reason.
        do {
            let ro = try HDF5File.open(good)
            let w = expectHDF5Failure(.callFailed) { try ro.createGroup("new") }
            #expect(w?.operation == "H5Gcreate2" && w?.found.isEmpty == false)
            // While it is open read-only, libhdf5 refuses a read-write open of the same file.
            let again = expectHDF5Failure(.callFailed) { try HDF5File.open(good, mode: .readWrite) }
            #expect(again?.description.contains("already open") == true)
        }
        // Read-write reopening works and keeps the data.
        do {
            let rw = try HDF5File.open(good, mode: .readWrite)
            try rw.createGroup("new")
            try rw.flush()
        }
        #expect(try HDF5File.open(good).exists("new"))

        let exists = expectHDF5Failure(.alreadyExists) { try HDF5File.create(good, overwrite: false) }
        #expect(exists?.path == good)
        let dir = DataIOTest.tempPath("dir")
        mkdir(dir, 0o755)
        defer { rmdir(dir) }
        expectHDF5Failure(.callFailed) { try HDF5File.create(dir + "/no/such/dir/x.h5") }
    }
}

/// A file written by h5py 3 (libver="latest"): fixed-length byte strings, a big-endian float64
/// dataset in a group and a fixed-length string attribute, none of which our writer produces.
let h5pyFileHex =
    "894844460d0a1a0a030808000000000000000000ffffffffffffffff32080000000000003000000000000000277356214f4844520200780212000000" +
    "00ffffffffffffffffffffffffffffffff0a0200010000061000000100057469657273b300000000000000060c000001000167bf0100000000000015" +
    "1200040000ffffffffffffffffffffffffffffffff0c1e00000300060008000400006669786564001301000003000000020000006162639e6f19424f" +
    "4844520201000101140000020101010300000000000000030000000000000003080001130100000600000005020001030a0812000003010008000000" +
    "000000120000000000000000bc0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000" +
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000" +
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000" +
    "00000000000000000000000000000000000000000000008a3f09b44f484452020078021200000000ffffffffffffffffffffffffffffffff0a020001" +
    "0000060d0000010002626542020000000000000047000000000000000000000000000000000000000000000000000000000000000000000000000000" +
    "00000000000000000000000000000000000000000000000000000000000000000000da20e9aa4f484452020100010124000002020101020000000000" +
    "00000200000000000000020000000000000002000000000000000314000111213f000800000000004000340b0034ff03000005020001030a08120000" +
    "03011208000000000000200000000000000000a000000000000000000000000000000000000000000000000000000000000000000000000000000000" +
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000" +
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000" +
    "00000a52e211000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000" +
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000" +
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000" +
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000" +
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000" +
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000" +
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000" +
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000" +
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000" +
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000" +
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000" +
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000" +
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000" +
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000" +
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000" +
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000" +
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000" +
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000" +
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000" +
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000" +
    "0000000000000000747261696e006f7261636c656e6f6e6500003ff8000000000000c00000000000000040080000000000004010000000000000"

@Suite struct HDF5InteropTests {
    @Test func readsFileWrittenByH5py() throws {
        let path = DataIOTest.tempPath("h5py.h5")
        DataIOTest.writeBytes(DataIOTest.hexBytes(h5pyFileHex), to: path)
        defer { unlink(path) }
        let f = try HDF5File.open(path)
        #expect(try f.children() == ["g", "tiers"])
        let tiers = try f.dataset("tiers")
        #expect(tiers.elementType == .string(variableLength: false, bytes: 6))
        #expect(try tiers.readStrings() == ["train", "oracle", "none"])
        let be = try f.dataset("g/be")
        #expect(be.elementType == .float(bytes: 8) && be.shape == [2, 2])
        #expect(try be.read(as: Double.self) == [1.5, -2, 3, 4])
        #expect(try be.readTensor(row: 1).scalars == [3, 4])
        #expect(try f.stringAttribute("fixed") == "abc")
        #expect(try f.attributeType("fixed") == .string(variableLength: false, bytes: 3))
    }
}
