import Testing
import SensoriumTensor
@testable import SensoriumData
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A unique path in the temporary directory (tests run in parallel).
func uniqueTempPath(_ name: String) -> String {
    let dir = String(cString: getenv("TMPDIR") ?? strdup("/tmp"))
    return "\(dir)/sensorium-\(getpid())-\(UInt64.random(in: 0...UInt64.max))-\(name)"
}

/// The parity fixture folder (as the lead's parity suite finds it).
func parityFixtureRoot() -> String {
    if let env = getenv("SENSORIUM_PARITY_FIXTURES") { return String(cString: env) }
    return "/work/shared/fixtures/parity"
}

@Suite struct NPYBasicTests {
    @Test func tensorRoundTrip() throws {
        let path = uniqueTempPath("t.npy")
        defer { unlink(path) }
        let t = Tensor([1, -2.5, 3, 4, 5, 6], shape: [2, 3])
        try NPY.write(t, to: path)
        let back = try NPY.readTensor(path)
        #expect(back.shape == [2, 3])
        #expect(back.scalars == t.scalars)
        let a = try NPYFile.read(path)
        #expect(a.dtype == .float32)
        #expect(a.byteOrder == .little)
        #expect(try a.floats() == t.scalars)
    }

    @Test func readsConv3dFixtures() throws {
        let dir = parityFixtureRoot() + "/conv3d_full"
        for name in ["x", "weight", "bias", "output", "grad_output", "grad_x", "grad_weight", "grad_bias"] {
            let path = "\(dir)/\(name).npy"
            guard access(path, F_OK) == 0 else { continue }
            let t = try NPY.readTensor(path)
            #expect(t.count > 0)
            #expect(t.scalars.allSatisfy { $0.isFinite })
            let a = try NPYFile.read(path, mapping: .never)
            #expect(a.shape == t.shape)
            #expect(try a.floats() == t.scalars)
        }
    }
}
