import Testing
import SensoriumTensor
import SensoriumTestSupport
@testable import SensoriumData
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: Helpers

/// File helpers shared by the SensoriumData I/O tests.
enum DataIOTest {
    /// A unique path in the temporary directory (tests run in parallel).
    static func tempPath(_ name: String) -> String {
        FileManager.default.temporaryDirectory
            .appendingPathComponent("sensorium-test-\(getpid())-\(UInt64.random(in: 0...UInt64.max))-\(name)").path
    }

    /// The parity fixture folder, found the way the parity suite finds it.
    static func parityFixtureRoot() -> String {
        Fixtures.folder(environmentKey: "SENSORIUM_PARITY_FIXTURES", defaultSubfolder: "parity").path
    }

    static func writeBytes(_ bytes: [UInt8], to path: String) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        precondition(fd >= 0, "cannot create \(path)")
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
    }

    static func readBytes(_ path: String) -> [UInt8] {
        let fd = open(path, O_RDONLY)
        precondition(fd >= 0, "cannot open \(path)")
        defer { close(fd) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            out.append(contentsOf: chunk[0..<n])
        }
        return out
    }

    static func hexBytes(_ hex: String) -> [UInt8] {
        let chars = Array(hex.utf8)
        func nibble(_ c: UInt8) -> UInt8 { c <= 57 ? c - 48 : c - 87 }
        return stride(from: 0, to: chars.count, by: 2).map { nibble(chars[$0]) << 4 | nibble(chars[$0 + 1]) }
    }
}

/// Builds an .npy file by hand (independently of the library's writer): magic, version, header
/// length (2 bytes for 1.x, 4 otherwise), the header text and the data.
func handmadeNPY(header: String, data: [UInt8] = [], major: UInt8 = 1, minor: UInt8 = 0, pad: Bool = true) -> [UInt8] {
    var text = Array(header.utf8)
    let preamble = major == 1 ? 10 : 12
    if pad {
        while (preamble + text.count + 1) % 64 != 0 { text.append(0x20) }
        text.append(0x0A)
    }
    var out: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, major, minor]
    let n = text.count
    if major == 1 { out += [UInt8(n & 0xFF), UInt8(n >> 8)] } else { out += (0..<4).map { UInt8((n >> (8 * $0)) & 0xFF) } }
    return out + text + data
}

func npyHeaderDict(_ descr: String, fortran: Bool = false, shape: String) -> String {
    "{'descr': '\(descr)', 'fortran_order': \(fortran ? "True" : "False"), 'shape': \(shape), }"
}

/// Reads `bytes` as an .npy file and returns the thrown DataError (nil if it read fine).
func npyError(_ bytes: [UInt8], name: String, _ body: (String) throws -> Void = { _ = try NPYFile.read($0) }) -> (DataError?, String) {
    let path = DataIOTest.tempPath(name)
    DataIOTest.writeBytes(bytes, to: path)
    defer { unlink(path) }
    do {
        try body(path)
        return (nil, path)
    } catch let error as DataError {
        return (error, path)
    } catch {
        Issue.record("unexpected error type \(error)")
        return (nil, path)
    }
}

// MARK: Reference files written by NumPy 2.4 (numpy.lib.format.write_array)

enum NPYExpected {
    case floats([Double])
    case ints([Int])
    case bools([Bool])
    case strings([String])
}

struct NPYNumpyCase: CustomTestStringConvertible, Sendable {
    let name: String
    let hex: String
    let descr: String
    let shape: [Int]
    let fortran: Bool
    let expected: NPYExpected
    var testDescription: String { name }
}

extension NPYExpected: Sendable {}

let npyNumpyCases: [NPYNumpyCase] = [
    NPYNumpyCase(name: "f4_c", hex: "934e554d5059010076007b276465736372273a20273c6634272c2027666f727472616e5f6f72646572273a2046616c73652c20277368617065273a2028322c2033292c207d202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020200a0000c03f000000c000004040000080400000a8400000c0c0", descr: "<f4", shape: [2, 3], fortran: false,
              expected: .floats([1.5, -2.0, 3.0, 4.0, 5.25, -6.0])),
    NPYNumpyCase(name: "f4_be_fortran", hex: "934e554d5059010076007b276465736372273a20273e6634272c2027666f727472616e5f6f72646572273a20547275652c20277368617065273a2028322c2033292c207d20202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020200a3fc0000040800000c000000040a8000040400000c0c00000", descr: ">f4", shape: [2, 3], fortran: true,
              expected: .floats([1.5, -2.0, 3.0, 4.0, 5.25, -6.0])),
    NPYNumpyCase(name: "f8_le_fortran", hex: "934e554d5059010076007b276465736372273a20273c6638272c2027666f727472616e5f6f72646572273a20547275652c20277368617065273a2028322c2033292c207d20202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020200a000000000000f83f000000000000104000000000000000c00000000000001540000000000000084000000000000018c0", descr: "<f8", shape: [2, 3], fortran: true,
              expected: .floats([1.5, -2.0, 3.0, 4.0, 5.25, -6.0])),
    NPYNumpyCase(name: "f8_be", hex: "934e554d5059010076007b276465736372273a20273e6638272c2027666f727472616e5f6f72646572273a2046616c73652c20277368617065273a2028322c2033292c207d202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020200a3ff8000000000000c000000000000000400800000000000040100000000000004015000000000000c018000000000000", descr: ">f8", shape: [2, 3], fortran: false,
              expected: .floats([1.5, -2.0, 3.0, 4.0, 5.25, -6.0])),
    NPYNumpyCase(name: "f2_le", hex: "934e554d5059010076007b276465736372273a20273c6632272c2027666f727472616e5f6f72646572273a2046616c73652c20277368617065273a2028382c292c207d2020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020200a0000003c00c00038ff7b0100007c0080", descr: "<f2", shape: [8], fortran: false,
              expected: .floats([0.0, 1.0, -2.0, 0.5, 65504.0, 5.960464477539063e-08, .infinity, -0.0])),
    NPYNumpyCase(name: "f2_be", hex: "934e554d5059010076007b276465736372273a20273e6632272c2027666f727472616e5f6f72646572273a2046616c73652c20277368617065273a2028332c292c207d2020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020200a3554c7806400", descr: ">f2", shape: [3], fortran: false,
              expected: .floats([0.3330078125, -7.5, 1024.0])),
    NPYNumpyCase(name: "i1", hex: "934e554d5059010076007b276465736372273a20277c6931272c2027666f727472616e5f6f72646572273a2046616c73652c20277368617065273a2028322c2033292c207d202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020200a00ff7f800506", descr: "|i1", shape: [2, 3], fortran: false,
              expected: .ints([0, -1, 127, -128, 5, 6])),
    NPYNumpyCase(name: "i2_be_fortran", hex: "934e554d5059010076007b276465736372273a20273e6932272c2027666f727472616e5f6f72646572273a20547275652c20277368617065273a2028322c2033292c207d20202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020200a00009c00ff3803e8633804b0", descr: ">i2", shape: [2, 3], fortran: true,
              expected: .ints([0, -200, 25400, -25600, 1000, 1200])),
    NPYNumpyCase(name: "i4_le", hex: "934e554d5059010076007b276465736372273a20273c6934272c2027666f727472616e5f6f72646572273a2046616c73652c20277368617065273a2028322c2033292c207d202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020200a0000000090eefeff90a68700004877ff30570500a0680600", descr: "<i4", shape: [2, 3], fortran: false,
              expected: .ints([0, -70000, 8890000, -8960000, 350000, 420000])),
    NPYNumpyCase(name: "i8_be", hex: "934e554d5059010076007b276465736372273a20273e6938272c2027666f727472616e5f6f72646572273a2046616c73652c20277368617065273a2028322c2033292c207d202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020200a0000000000000000ffffff000000000000007f0000000000ffff80000000000000000500000000000000060000000000", descr: ">i8", shape: [2, 3], fortran: false,
              expected: .ints([0, -1099511627776, 139637976727552, -140737488355328, 5497558138880, 6597069766656])),
    NPYNumpyCase(name: "u1", hex: "934e554d5059010076007b276465736372273a20277c7531272c2027666f727472616e5f6f72646572273a2046616c73652c20277368617065273a2028322c2033292c207d202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020200a0001ff800709", descr: "|u1", shape: [2, 3], fortran: false,
              expected: .ints([0, 1, 255, 128, 7, 9])),
    NPYNumpyCase(name: "u2_be", hex: "934e554d5059010076007b276465736372273a20273e7532272c2027666f727472616e5f6f72646572273a2046616c73652c20277368617065273a2028322c2033292c207d202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020200a000000faf9067d0006d608ca", descr: ">u2", shape: [2, 3], fortran: false,
              expected: .ints([0, 250, 63750, 32000, 1750, 2250])),
    NPYNumpyCase(name: "u4_le_fortran", hex: "934e554d5059010076007b276465736372273a20273c7534272c2027666f727472616e5f6f72646572273a20547275652c20277368617065273a2028322c2033292c207d20202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020200a000000000000127a0024f40000fcac0600dc2ff300449508", descr: "<u4", shape: [2, 3], fortran: true,
              expected: .ints([0, 16000000, 4080000000, 2048000000, 112000000, 144000000])),
    NPYNumpyCase(name: "u8_le", hex: "934e554d5059010076007b276465736372273a20273c7538272c2027666f727472616e5f6f72646572273a2046616c73652c20277368617065273a2028322c2033292c207d202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020200a00000000000000000000000000000400000000000000fc0300000000000000020000000000001c000000000000002400", descr: "<u8", shape: [2, 3], fortran: false,
              expected: .ints([0, 1125899906842624, 287104476244869120, 144115188075855872, 7881299347898368, 10133099161583616])),
    NPYNumpyCase(name: "b1_fortran", hex: "934e554d5059010076007b276465736372273a20277c6231272c2027666f727472616e5f6f72646572273a20547275652c20277368617065273a2028322c2033292c207d20202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020200a010000000101", descr: "|b1", shape: [2, 3], fortran: true,
              expected: .bools([true, false, true, false, false, true])),
    NPYNumpyCase(name: "U_tiers", hex: "934e554d5059010076007b276465736372273a20273c553136272c2027666f727472616e5f6f72646572273a2046616c73652c20277368617065273a2028352c292c207d20202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020200a740000007200000061000000690000006e00000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000006f0000007200000061000000630000006c00000065000000000000000000000000000000000000000000000000000000000000000000000000000000000000006c0000006900000076000000650000005f000000740000006500000073000000740000005f0000006d00000061000000690000006e00000000000000000000006e0000006f0000006e0000006500000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000066000000690000006e000000610000006c0000005f000000740000006500000073000000740000005f000000620000006f0000006e0000007500000073000000", descr: "<U16", shape: [5], fortran: false,
              expected: .strings(["train", "oracle", "live_test_main", "none", "final_test_bonus"])),
    NPYNumpyCase(name: "U_be_unicode", hex: "934e554d5059010076007b276465736372273a20273e5535272c2027666f727472616e5f6f72646572273a2046616c73652c20277368617065273a2028342c292c207d2020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020200a00000068000000e90000006c0000006c0000006f000003c90000000000000000000000000000000000000000000000000000000000000000000000000001f64200000078000000000000000000000000", descr: ">U5", shape: [4], fortran: false,
              expected: .strings(["héllo", "ω", "", "🙂x"])),
    NPYNumpyCase(name: "S_bytes", hex: "934e554d5059010076007b276465736372273a20277c5334272c2027666f727472616e5f6f72646572273a2046616c73652c20277368617065273a2028332c292c207d2020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020200a616200000000000078797a00", descr: "|S4", shape: [3], fortran: false,
              expected: .strings(["ab", "", "xyz"])),
    NPYNumpyCase(name: "v2_f4", hex: "934e554d50590200740000007b276465736372273a20273c6634272c2027666f727472616e5f6f72646572273a2046616c73652c20277368617065273a2028322c2033292c207d20202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020200a0000c03f000000c000004040000080400000a8400000c0c0", descr: "<f4", shape: [2, 3], fortran: false,
              expected: .floats([1.5, -2.0, 3.0, 4.0, 5.25, -6.0])),
    NPYNumpyCase(name: "v3_i2", hex: "934e554d50590300740000007b276465736372273a20273c6932272c2027666f727472616e5f6f72646572273a2046616c73652c20277368617065273a2028322c2033292c207d20202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020200a0000ffff7f0080ff05000600", descr: "<i2", shape: [2, 3], fortran: false,
              expected: .ints([0, -1, 127, -128, 5, 6])),
    NPYNumpyCase(name: "scalar_f8", hex: "934e554d5059010076007b276465736372273a20273c6638272c2027666f727472616e5f6f72646572273a2046616c73652c20277368617065273a2028292c207d20202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020200a0000000000000a40", descr: "<f8", shape: [], fortran: false,
              expected: .floats([3.25])),
    NPYNumpyCase(name: "empty_f4", hex: "934e554d5059010076007b276465736372273a20273c6634272c2027666f727472616e5f6f72646572273a2046616c73652c20277368617065273a2028302c2033292c207d202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020200a", descr: "<f4", shape: [0, 3], fortran: false,
              expected: .floats([])),
    NPYNumpyCase(name: "i4_3d_fortran", hex: "934e554d5059010076007b276465736372273a20273c6934272c2027666f727472616e5f6f72646572273a20547275652c20277368617065273a2028322c20332c2034292c207d20202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020200a000000000c00000004000000100000000800000014000000010000000d00000005000000110000000900000015000000020000000e00000006000000120000000a00000016000000030000000f00000007000000130000000b00000017000000", descr: "<i4", shape: [2, 3, 4], fortran: true,
              expected: .ints([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23])),
]

@Suite struct NPYNumpyReferenceTests {
    @Test(arguments: npyNumpyCases)
    func readsNumpyFile(_ c: NPYNumpyCase) throws {
        let path = DataIOTest.tempPath("\(c.name).npy")
        DataIOTest.writeBytes(DataIOTest.hexBytes(c.hex), to: path)
        defer { unlink(path) }
        for mapping in [NPYFile.Mapping.never, .always] {
            let a = try NPYFile.read(path, mapping: mapping)
            #expect(a.shape == c.shape)
            #expect(a.descr == c.descr)
            #expect(a.fortranOrder == c.fortran)
            #expect(a.isMemoryMapped == (mapping == .always && a.byteCount > 0))
            switch c.expected {
            case .floats(let v):
                let f = try a.floats()
                #expect(f.count == v.count)
                for (x, y) in zip(f, v) { #expect(x == Float(y) || (x.isNaN && y.isNaN)) }
                #expect(try a.doubles() == v)  // f2/f4 values are exact in Double
                let t = try a.tensor()
                #expect(t.shape == c.shape)
                #expect(t.scalars == f)
                #expect(try NPYFile.readTensor(path).scalars == f)
            case .ints(let v):
                #expect(try a.ints() == v)
                #expect(try a.doubles() == v.map(Double.init))
                #expect(try a.floats() == v.map(Float.init))
                #expect(try a.bools() == v.map { $0 != 0 })
            case .bools(let v):
                #expect(try a.bools() == v)
                #expect(try a.ints() == v.map { $0 ? 1 : 0 })
                #expect(try a.floats() == v.map { $0 ? 1 : 0 })
            case .strings(let v):
                #expect(try a.strings() == v)
                #expect(throws: DataError.self) { try a.floats() }
            }
        }
    }

    /// Every reference file survives read → write (each version) → read with identical bytes.
    @Test(arguments: npyNumpyCases)
    func rewritesNumpyFile(_ c: NPYNumpyCase) throws {
        let original = DataIOTest.hexBytes(c.hex)
        let src = DataIOTest.tempPath("\(c.name)-src.npy")
        DataIOTest.writeBytes(original, to: src)
        defer { unlink(src) }
        let a = try NPYFile.read(src)
        for version in [NPYVersion.v1, .v2, .v3] {
            let dst = DataIOTest.tempPath("\(c.name)-\(version).npy")
            defer { unlink(dst) }
            try NPYFile.write(a, to: dst, version: version)
            let header = try NPYFile.readHeader(dst)
            #expect(header.version == version)
            #expect(header.dataOffset % 64 == 0)
            let b = try NPYFile.read(dst)
            #expect(b.shape == a.shape && b.dtype == a.dtype && b.byteOrder == a.byteOrder && b.fortranOrder == a.fortranOrder)
            #expect(b.withUnsafeBytes { Array($0) } == a.withUnsafeBytes { Array($0) })
            if version == .v1 && c.name != "v2_f4" && c.name != "v3_i2" {
                // Same header text as NumPy writes.
                #expect(DataIOTest.readBytes(dst) == original)
            }
        }
    }
}

// MARK: Round trips through the typed constructors

@Suite struct NPYRoundTripTests {
    @Test func tensorRoundTrip() throws {
        let path = DataIOTest.tempPath("t.npy")
        defer { unlink(path) }
        let t = Tensor([1, -2.5, 3, 4, 5, 6], shape: [2, 3])
        try NPY.write(t, to: path)
        let back = try NPY.readTensor(path)
        #expect(back.shape == [2, 3])
        #expect(back.scalars == t.scalars)
        let viaInit = try Tensor(npyFile: path)
        #expect(viaInit.scalars == t.scalars)
        let a = try NPYFile.read(path)
        #expect(a.dtype == .float32)
        #expect(a.byteOrder == .little)
        #expect(a.descr == "<f4")
        #expect(try a.floats() == t.scalars)
    }

    @Test func urlOverloads() throws {
        let path = DataIOTest.tempPath("url.npy")
        defer { unlink(path) }
        let url = URL(fileURLWithPath: path)
        try NPY.write(Tensor([1, 2, 3], shape: [3]), to: url)
        #expect(try NPY.readTensor(url).scalars == [1, 2, 3])
        #expect(try NPYFile.read(url).floats() == [1, 2, 3])
        #expect(try NPYFile.readHeader(url).shape == [3])
        #expect(throws: DataError.npyFileNotFound(path: path + ".missing")) {
            try NPY.read(URL(fileURLWithPath: path + ".missing"))
        }
    }

    @Test func typedConstructorsRoundTrip() throws {
        let path = DataIOTest.tempPath("typed.npy")
        defer { unlink(path) }

        try NPY.write(NPYArray(doubles: [1, 2.5, -3, .pi], shape: [2, 2]), to: path)
        var a = try NPY.read(path)
        #expect(a.descr == "<f8" && a.shape == [2, 2])
        #expect(try a.doubles() == [1, 2.5, -3, .pi])

        try NPY.write(NPYArray(ints: [Int.min, -1, 0, Int.max], shape: [4]), to: path)
        a = try NPY.read(path)
        #expect(a.descr == "<i8")
        #expect(try a.ints() == [Int.min, -1, 0, Int.max])

        try NPY.write(NPYArray(int32s: [-5, 7, Int32.max], shape: [3, 1]), to: path)
        a = try NPY.read(path)
        #expect(a.descr == "<i4" && a.shape == [3, 1])
        #expect(try a.ints() == [-5, 7, Int(Int32.max)])

        try NPY.write(NPYArray(uint8s: [0, 200, 255], shape: [3]), to: path)
        a = try NPY.read(path)
        #expect(a.descr == "|u1")
        #expect(try a.ints() == [0, 200, 255])

        try NPY.write(NPYArray(bools: [true, false, false, true], shape: [2, 2]), to: path)
        a = try NPY.read(path)
        #expect(a.descr == "|b1")
        #expect(try a.bools() == [true, false, false, true])

        let words = ["train", "oracle", "", "ünïcødé 🙂", "none"]
        try NPY.write(NPYArray(strings: words), to: path)
        a = try NPY.read(path)
        #expect(a.descr == "<U9")
        #expect(try a.strings() == words)

        try NPY.write(NPYArray(floats: [42], shape: []), to: path)
        a = try NPY.read(path)
        #expect(a.shape == [] && a.count == 1)
        #expect(try a.floats() == [42])
        #expect(try NPY.readTensor(path).item == 42)

        try NPY.write(NPYArray(floats: [], shape: [0, 5]), to: path)
        a = try NPY.read(path)
        #expect(a.shape == [0, 5] && a.count == 0)
        #expect(try a.floats() == [])
    }

    /// Handwritten files in every version, both byte orders and both layouts, for each numeric dtype.
    @Test func handwrittenVersionsOrdersAndEndians() throws {
        // 2x3 logical values 1...6 (C order); Fortran storage order is 1,4,2,5,3,6.
        let logical: [Double] = [1, 2, 3, 4, 5, 6]
        let fortranStorage: [Double] = [1, 4, 2, 5, 3, 6]
        func encode(_ v: Double, _ code: String, bigEndian: Bool) -> [UInt8] {
            var bytes: [UInt8]
            switch code {
            case "f2": bytes = withUnsafeBytes(of: NPYHalf(Float(v)).bits.littleEndian, Array.init)
            case "f4": bytes = withUnsafeBytes(of: Float(v).bitPattern.littleEndian, Array.init)
            case "f8": bytes = withUnsafeBytes(of: v.bitPattern.littleEndian, Array.init)
            case "i1", "u1", "b1": bytes = [UInt8(code == "b1" ? 1 : Int(v))]
            case "i2", "u2": bytes = withUnsafeBytes(of: Int16(v).littleEndian, Array.init)
            case "i4", "u4": bytes = withUnsafeBytes(of: Int32(v).littleEndian, Array.init)
            default: bytes = withUnsafeBytes(of: Int64(v).littleEndian, Array.init)
            }
            return bigEndian ? bytes.reversed() : bytes
        }
        for code in ["f2", "f4", "f8", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8"] {
            for bigEndian in [false, true] {
                for fortran in [false, true] {
                    for (major, minor) in [(UInt8(1), UInt8(0)), (2, 0), (3, 0)] {
                        let order = code.hasSuffix("1") ? "|" : (bigEndian ? ">" : "<")
                        let storage = fortran ? fortranStorage : logical
                        let data = storage.flatMap { encode($0, code, bigEndian: bigEndian) }
                        let bytes = handmadeNPY(header: npyHeaderDict(order + code, fortran: fortran, shape: "(2, 3)"),
                                                data: data, major: major, minor: minor)
                        let path = DataIOTest.tempPath("hand-\(code).npy")
                        DataIOTest.writeBytes(bytes, to: path)
                        defer { unlink(path) }
                        let a = try NPYFile.read(path)
                        let context = "\(order)\(code) fortran=\(fortran) v\(major).\(minor)"
                        #expect(a.shape == [2, 3], "\(context)")
                        #expect(a.fortranOrder == fortran, "\(context)")
                        #expect(try a.doubles() == logical, "\(context)")
                        #expect(try NPYFile.readTensor(path).scalars == logical.map(Float.init), "\(context)")
                        #expect(try NPYFile.readHeader(path).version == NPYVersion(major: major, minor: minor))
                        if !code.hasPrefix("f") { #expect(try a.ints() == logical.map { Int($0) }, "\(context)") }
                    }
                }
            }
        }
    }

    @Test func float16Conversions() {
        for bits in [UInt16(0x0000), 0x8000, 0x3C00, 0xC000, 0x7BFF, 0x0001, 0x03FF, 0x0400, 0x7C00, 0xFC00, 0x3555] {
            let f = NPYHalf(bits: bits).float
            #expect(NPYHalf(f).bits == bits, "half bits \(bits)")
        }
        #expect(NPYHalf(bits: 0x0001).float == 0x1p-24)
        #expect(NPYHalf(bits: 0x7E00).float.isNaN)
        #expect(NPYHalf(Float(65520)).bits == 0x7C00)  // rounds to infinity
        #expect(NPYHalf(Float(1) + 0x1p-11).bits == 0x3C00)  // ties to even
    }

    @Test func largeArraysAreMemoryMapped() throws {
        let path = DataIOTest.tempPath("large.npy")
        defer { unlink(path) }
        let n = (NPYFile.mappingThreshold / 4) + 1000
        let values = (0..<n).map { Float($0 % 1000) * 0.5 }
        try NPY.write(NPYArray(floats: values, shape: [n / 8, 8].reduce(1, *) == n ? [n / 8, 8] : [n]), to: path)
        let a = try NPYFile.read(path)
        #expect(a.isMemoryMapped)
        #expect(try a.floats() == values)
        #expect(!(try NPYFile.read(path, mapping: .never)).isMemoryMapped)

        // Zero-copy tensor: copy-on-write, the file stays untouched.
        let t = try NPY.readTensor(path)
        #expect(t.scalars == values)
        t.withUnsafeMutableBufferPointer { $0[0] = -1 }
        #expect(t.scalars[0] == -1)
        #expect(try NPY.readTensor(path).scalars[0] == 0)
        #expect(try NPYFile.read(path).floats()[0] == 0)
    }

    @Test func writerSwitchesToVersion2ForHugeHeaders() throws {
        let path = DataIOTest.tempPath("v2.npy")
        defer { unlink(path) }
        // 25000 axes of extent 1: the header text exceeds 65535 bytes.
        let shape = [Int](repeating: 1, count: 25000)
        try NPY.write(NPYArray(floats: [7], shape: shape), to: path)
        let header = try NPYFile.readHeader(path)
        #expect(header.version == .v2)
        #expect(header.shape == shape)
        #expect(try NPY.read(path).floats() == [7])
    }
}

// MARK: Fixtures

@Suite struct NPYFixtureTests {
    @Test func readsEveryConv3dFixture() throws {
        let dir = DataIOTest.parityFixtureRoot() + "/conv3d_full"
        let names = ["x", "weight", "bias", "output", "grad_output", "grad_x", "grad_weight", "grad_bias"]
        let expectedShapes = [
            "bias": [3], "grad_bias": [3],
        ]
        for name in names {
            let path = "\(dir)/\(name).npy"
            let t = try NPY.readTensor(path)
            #expect(t.count > 0, "\(name)")
            #expect(t.scalars.allSatisfy { $0.isFinite }, "\(name)")
            let a = try NPYFile.read(path, mapping: .never)
            #expect(a.descr == "<f4" && !a.fortranOrder, "\(name)")
            #expect(a.shape == t.shape, "\(name)")
            #expect(try a.floats() == t.scalars, "\(name)")
            if let shape = expectedShapes[name] { #expect(a.shape == shape, "\(name)") }
        }
        // conv3d: x is N,C,T,H,W and weight is Cout,Cin,kT,kH,kW.
        let x = try NPY.readTensor("\(dir)/x.npy"), w = try NPY.readTensor("\(dir)/weight.npy")
        #expect(x.rank == 5 && w.rank == 5 && x.shape[1] == w.shape[1])
        #expect(try NPY.readTensor("\(dir)/grad_x.npy").shape == x.shape)
        #expect(try NPY.readTensor("\(dir)/grad_weight.npy").shape == w.shape)
    }
}

// MARK: Malformed files

@Suite struct NPYMalformedTests {
    let good = npyHeaderDict("<f4", shape: "(2,)")
    let twoFloats: [UInt8] = [0, 0, 128, 63, 0, 0, 0, 64]

    @Test func missingFile() {
        let path = DataIOTest.tempPath("does-not-exist.npy")
        #expect(throws: DataError.npyFileNotFound(path: path)) { try NPYFile.read(path) }
        #expect(throws: DataError.npyFileNotFound(path: path)) { try NPY.readTensor(path) }
        #expect("\(DataError.npyFileNotFound(path: path))".contains(path))
    }

    @Test func writeIntoMissingDirectory() {
        let path = DataIOTest.tempPath("no-such-dir") + "/x.npy"
        #expect { try NPY.write(Tensor([1], shape: [1]), to: path) } throws: { error in
            guard let e = error as? DataError, e.kind == .callFailed, e.operation == "open" else { return false }
            return e.path == path && e.found.contains("No such file")
        }
    }

    @Test func directoryInsteadOfFile() {
        let path = DataIOTest.tempPath("dir.npy")
        mkdir(path, 0o755)
        defer { rmdir(path) }
        #expect { try NPYFile.read(path) } throws: { error in
            guard let e = error as? DataError, e.kind == .callFailed else { return false }
            return e.path == path && e.found.contains("directory")
        }
    }

    @Test func emptyFile() {
        let (error, path) = npyError([], name: "empty.npy")
        #expect(error == .npyBadMagic(path: path, found: []))
        #expect(error?.description.contains("empty file") == true)
    }

    @Test func badMagic() {
        let zip: [UInt8] = [0x50, 0x4B, 0x03, 0x04, 0x14, 0x00, 0x00, 0x00, 0x08, 0x00, 0x00, 0x00]
        let (error, path) = npyError(zip, name: "zip.npy")
        #expect(error == .npyBadMagic(path: path, found: [0x50, 0x4B, 0x03, 0x04, 0x14, 0x00]))
        #expect(error?.description.contains("93 4e 55 4d 50 59") == true)
        #expect(error?.description.contains("50 4b 03 04") == true)
    }

    @Test func unsupportedVersion() {
        let (error, path) = npyError(handmadeNPY(header: good, data: twoFloats, major: 4, minor: 0), name: "v4.npy")
        #expect(error == .npyUnsupportedVersion(path: path, major: 4, minor: 0))
        let (error2, path2) = npyError(handmadeNPY(header: good, data: twoFloats, major: 1, minor: 1), name: "v11.npy")
        #expect(error2 == .npyUnsupportedVersion(path: path2, major: 1, minor: 1))
    }

    @Test func truncatedPreamble() {
        let (error, path) = npyError([0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1, 0, 0x76], name: "preamble.npy")
        #expect(error == .npyTruncatedHeader(path: path, expectedBytes: 10, foundBytes: 9))
        let (error2, path2) = npyError([0x93, 0x4E, 0x55], name: "magic-prefix.npy")
        #expect(error2 == .npyTruncatedHeader(path: path2, expectedBytes: 10, foundBytes: 3))
    }

    @Test func truncatedHeaderText() {
        let full = handmadeNPY(header: good, data: twoFloats)
        let cut = Array(full.prefix(40))
        let (error, path) = npyError(cut, name: "header-cut.npy")
        #expect(full.count == 128 + 8)
        #expect(error == .npyTruncatedHeader(path: path, expectedBytes: 128, foundBytes: 40))
        #expect(error?.description.contains("header of 128 bytes, found 40 bytes") == true)
    }

    @Test func unparsableHeader() {
        let text = "{'descr': '<f4', 'fortran_order': Maybe, 'shape': (2,), }"
        let (error, path) = npyError(handmadeNPY(header: text, data: twoFloats), name: "maybe.npy")
        guard let error, error.kind == .malformedHeader else {
            Issue.record("expected malformedHeader, got \(String(describing: error))"); return
        }
        #expect(error.path == path)
        #expect(error.found.contains("unexpected character 'M'"))
        let (error2, _) = npyError(handmadeNPY(header: "{'descr': '<f4', 'shape': (2,", data: twoFloats), name: "open.npy")
        guard error2?.kind == .malformedHeader else { Issue.record("got \(String(describing: error2))"); return }
        let (error3, _) = npyError(handmadeNPY(header: "[1, 2]", data: twoFloats), name: "list.npy")
        guard error3?.kind == .malformedHeader else { Issue.record("got \(String(describing: error3))"); return }
    }

    @Test func missingAndExtraKeys() {
        let (error, _) = npyError(handmadeNPY(header: "{'descr': '<f4', 'fortran_order': False, }", data: twoFloats),
                                  name: "noshape.npy")
        guard let problem = error.flatMap({ $0.kind == .malformedHeader ? $0.found : nil }) else { Issue.record("got \(String(describing: error))"); return }
        #expect(problem.hasPrefix("missing key 'shape' "))
        let (error2, _) = npyError(handmadeNPY(header: "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}", data: twoFloats),
                                   name: "extra.npy")
        guard let problem2 = error2.flatMap({ $0.kind == .malformedHeader ? $0.found : nil }) else { Issue.record("got \(String(describing: error2))"); return }
        #expect(problem2.contains("unexpected key 'x'"))
        let (error3, _) = npyError(handmadeNPY(header: "{'descr': '<f4', 'fortran_order': 0, 'shape': (2,), }", data: twoFloats),
                                   name: "fortran-int.npy")
        guard let problem3 = error3.flatMap({ $0.kind == .malformedHeader ? $0.found : nil }) else { Issue.record("got \(String(describing: error3))"); return }
        #expect(problem3.contains("'fortran_order'"))
    }

    @Test func negativeOrHugeShape() {
        let (error, _) = npyError(handmadeNPY(header: npyHeaderDict("<f4", shape: "(-2,)"), data: twoFloats), name: "neg.npy")
        guard let problem = error.flatMap({ $0.kind == .malformedHeader ? $0.found : nil }) else { Issue.record("got \(String(describing: error))"); return }
        #expect(problem.contains("negative"))
        let (error2, _) = npyError(handmadeNPY(header: npyHeaderDict("<f8", shape: "(4611686018427387904, 4)"), data: twoFloats), name: "huge.npy")
        guard let problem2 = error2.flatMap({ $0.kind == .malformedHeader ? $0.found : nil }) else { Issue.record("got \(String(describing: error2))"); return }
        #expect(problem2.contains("too large"))
    }

    @Test func unsupportedDTypes() {
        for descr in ["<c8", "<M8[ns]", "|V8", "<f16", "<i3", "x"] {
            let (error, path) = npyError(handmadeNPY(header: npyHeaderDict(descr, shape: "(1,)"), data: twoFloats), name: "dtype.npy")
            #expect(error == .npyUnsupportedDType(path: path, descr: descr), "\(descr)")
        }
        let structured = "{'descr': [('a', '<f4'), ('b', '<i4')], 'fortran_order': False, 'shape': (1,), }"
        let (error, path) = npyError(handmadeNPY(header: structured, data: twoFloats), name: "struct.npy")
        #expect(error == .npyUnsupportedDType(path: path, descr: "structured dtype (list descr)"))
    }

    @Test func objectArraysAreRefused() {
        // What numpy.save writes for np.array([{'a': 1}], dtype=object) with allow_pickle=True.
        let pickle: [UInt8] = [0x80, 0x04, 0x95, 0x00, 0x2E]
        let (error, path) = npyError(handmadeNPY(header: npyHeaderDict("|O", shape: "(1,)"), data: pickle), name: "object.npy")
        #expect(error == .npyObjectArray(path: path))
        #expect(error?.description.contains("pickle") == true)
    }

    @Test func truncatedData() {
        let (error, path) = npyError(handmadeNPY(header: npyHeaderDict("<f4", shape: "(2, 3)"), data: twoFloats), name: "short.npy")
        #expect(error == .npyTruncatedData(path: path, shape: [2, 3], descr: "<f4", expectedBytes: 24, foundBytes: 8))
        #expect(error?.description.contains("24 bytes of data for shape [2, 3] of '<f4', found 8 bytes") == true)
        // The tensor path reports the same.
        let (error2, path2) = npyError(handmadeNPY(header: npyHeaderDict("<f4", shape: "(2, 3)"), data: twoFloats), name: "short2.npy") {
            _ = try NPY.readTensor($0)
        }
        #expect(error2 == .npyTruncatedData(path: path2, shape: [2, 3], descr: "<f4", expectedBytes: 24, foundBytes: 8))
    }

    @Test func shapeDoesNotMatchDataSize() {
        let (error, path) = npyError(handmadeNPY(header: npyHeaderDict("<f4", shape: "(1,)"), data: twoFloats), name: "long.npy")
        #expect(error == .npyDataSizeMismatch(path: path, shape: [1], descr: "<f4", expectedBytes: 4, foundBytes: 8))
    }

    @Test func invalidUTF8InVersion3Header() {
        var bytes = handmadeNPY(header: npyHeaderDict("<f4", shape: "(2,)"), data: twoFloats, major: 3, minor: 0)
        bytes[14] = 0xFF
        let (error, _) = npyError(bytes, name: "utf8.npy")
        guard let problem = error.flatMap({ $0.kind == .malformedHeader ? $0.found : nil }) else { Issue.record("got \(String(describing: error))"); return }
        #expect(problem.contains("UTF-8"))
    }

    @Test func accessorTypeMismatches() throws {
        let floats = NPYArray(floats: [1.5, 2], shape: [2])
        #expect(throws: DataError.npyTypeMismatch(path: "<memory>", requested: "strings", found: "<f4")) { try floats.strings() }
        #expect(throws: DataError.npyTypeMismatch(path: "<memory>", requested: "ints", found: "<f4")) { try floats.ints() }
        let strings = NPYArray(strings: ["a"])
        #expect(throws: DataError.npyTypeMismatch(path: "<memory>", requested: "floats", found: "<U1")) { try strings.floats() }
        #expect(throws: DataError.self) { try strings.tensor() }
        let big = try NPYArray(dtype: .uint64, shape: [1], bytes: [0, 0, 0, 0, 0, 0, 0, 0x80])
        #expect(throws: DataError.npyValueOutOfRange(path: "<memory>", value: "9223372036854775808", requested: "Int")) { try big.ints() }
        // A shape whose byte size overflows is an error, not a trap.
        #expect(throws: DataError.self) { try NPYArray(dtype: .float32, shape: [1 << 62, 4], bytes: []) }
        #expect(throws: DataError.npyDataSizeMismatch(path: "<memory>", shape: [2], descr: "<f4", expectedBytes: 8, foundBytes: 3)) {
            try NPYArray(dtype: .float32, shape: [2], bytes: [1, 2, 3])
        }
    }
}
