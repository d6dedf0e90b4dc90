#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import SensoriumTensor

func npyUnmap(_ base: UnsafeMutableRawPointer, _ length: Int) {
    _ = munmap(base, length)
}

private func errnoMessage(_ code: Int32) -> String {
    guard let s = strerror(code) else { return "errno \(code)" }
    return String(cString: s) + " (errno \(code))"
}

/// An open file descriptor, closed when the value goes away.
final class NPYDescriptor {
    let fd: Int32
    let path: String

    /// Opens `path`; errors name `reportedPath` (the user's file when `path` is a temporary sibling).
    init(path: String, flags: Int32, mode: mode_t = 0, reportedPath: String? = nil) throws {
        self.path = reportedPath ?? path
        var fd: Int32
        repeat { fd = open(path, flags, mode) } while fd < 0 && errno == EINTR
        guard fd >= 0 else {
            let code = errno
            if code == ENOENT && flags & O_CREAT == 0 { throw DataError.npyFileNotFound(path: reportedPath ?? path) }
            throw DataError.npyIO(path: reportedPath ?? path, operation: "open", message: errnoMessage(code))
        }
        self.fd = fd
    }

    deinit { _ = close(fd) }

    func size() throws -> Int {
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            throw DataError.npyIO(path: path, operation: "fstat", message: errnoMessage(errno))
        }
        if (st.st_mode & S_IFMT) == S_IFDIR {
            throw DataError.npyIO(path: path, operation: "read", message: "a directory")
        }
        return Int(st.st_size)
    }

    /// Reads up to `count` bytes at `offset`; returns how many were read (fewer only at end of file).
    func read(into dst: UnsafeMutableRawPointer, count: Int, at offset: Int) throws -> Int {
        var done = 0
        while done < count {
            let n = pread(fd, dst + done, count - done, off_t(offset + done))
            if n < 0 {
                if errno == EINTR { continue }
                throw DataError.npyIO(path: path, operation: "read", message: errnoMessage(errno))
            }
            if n == 0 { break }
            done += n
        }
        return done
    }

    func readBytes(count: Int, at offset: Int) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        let n = try out.withUnsafeMutableBytes { try read(into: $0.baseAddress!, count: count, at: offset) }
        out.removeLast(count - n)
        return out
    }

    func write(_ src: UnsafeRawPointer, count: Int) throws {
        var done = 0
        while done < count {
            let n = Glibc_write(fd, src + done, count - done)
            if n < 0 {
                if errno == EINTR { continue }
                throw DataError.npyIO(path: path, operation: "write", message: errnoMessage(errno))
            }
            done += n
        }
    }

    /// Maps the whole file privately (copy-on-write when `writable`).
    func map(length: Int, writable: Bool) throws -> UnsafeMutableRawPointer {
        let prot = writable ? (PROT_READ | PROT_WRITE) : PROT_READ
        guard let p = mmap(nil, length, prot, MAP_PRIVATE, fd, 0), p != MAP_FAILED else {
            throw DataError.npyIO(path: path, operation: "mmap", message: errnoMessage(errno))
        }
        return p
    }
}

@inline(__always)
private func Glibc_write(_ fd: Int32, _ buf: UnsafeRawPointer, _ n: Int) -> Int {
    write(fd, buf, n)
}

/// Reading and writing NumPy `.npy` files (format versions 1.0, 2.0 and 3.0).
///
/// Large arrays are memory-mapped instead of copied (see `Mapping`). All failures throw ``DataError``
/// naming the file and the problem.
public enum NPYFile {
    /// Whether `read` memory-maps the data section. A mapped file must not be truncated or rewritten
    /// in place by another process while arrays or tensors read from it are alive (the system would
    /// raise SIGBUS); this library's own writer replaces files atomically, which is safe.
    public enum Mapping: Sendable {
        /// Map when the data section is at least `mappingThreshold` bytes.
        case automatic
        /// Always map (unless the array is empty).
        case always
        /// Always copy into memory.
        case never
    }

    /// Data sections at least this large are memory-mapped by `Mapping.automatic` (1 MiB).
    public static let mappingThreshold = 1 << 20

    /// Reads and validates only the header of the file at `path`.
    public static func readHeader(_ path: String) throws -> NPYHeader {
        let file = try NPYDescriptor(path: path, flags: O_RDONLY)
        let size = try file.size()
        return try readHeader(file, fileSize: size).header
    }

    /// Reads the array stored at `path`.
    public static func read(_ path: String, mapping: Mapping = .automatic) throws -> NPYArray {
        let file = try NPYDescriptor(path: path, flags: O_RDONLY)
        let size = try file.size()
        let (header, dataBytes) = try readHeader(file, fileSize: size)
        let useMap: Bool
        switch mapping {
        case .automatic: useMap = dataBytes >= mappingThreshold
        case .always: useMap = dataBytes > 0
        case .never: useMap = false
        }
        let buffer: NPYBuffer
        if useMap {
            let base = try file.map(length: size, writable: false)
            buffer = NPYBuffer(mapping: base, length: size, dataOffset: header.dataOffset, byteCount: dataBytes)
        } else {
            buffer = NPYBuffer(byteCount: dataBytes)
            let n = try file.read(into: buffer.base, count: dataBytes, at: header.dataOffset)
            guard n == dataBytes else {
                throw DataError.npyTruncatedData(path: path, shape: header.shape, descr: header.descr,
                                             expectedBytes: dataBytes, foundBytes: n)
            }
        }
        return NPYArray(shape: header.shape, dtype: header.dtype, byteOrder: header.byteOrder,
                        fortranOrder: header.fortranOrder, source: path, buffer: buffer)
    }

    /// Reads the array at `path` as a Float32 tensor (converting from any numeric dtype, reordering
    /// Fortran data). Little-endian float32 C-order files of at least `mappingThreshold` bytes are
    /// memory-mapped copy-on-write and wrapped without copying: writes to the tensor never reach the file.
    public static func readTensor(_ path: String) throws -> Tensor {
        let file = try NPYDescriptor(path: path, flags: O_RDONLY)
        let size = try file.size()
        let (header, dataBytes) = try readHeader(file, fileSize: size)
        if header.dtype == .float32, header.byteOrder == NPYByteOrder.native,
           !header.fortranOrder || header.shape.count <= 1,
           header.dataOffset % 64 == 0, dataBytes >= mappingThreshold {
            let base = try file.map(length: size, writable: true)
            let floats = (base + header.dataOffset).bindMemory(to: Float.self, capacity: header.count)
            let storage = TensorStorage(borrowing: floats, count: header.count) { npyUnmap(base, size) }
            return Tensor(storage: storage, shape: header.shape)
        }
        if header.dtype == .float32, header.byteOrder == NPYByteOrder.native,
           !header.fortranOrder || header.shape.count <= 1 {
            let storage = TensorStorage(uninitializedCount: header.count)
            let n = try file.read(into: UnsafeMutableRawPointer(storage.pointer), count: dataBytes, at: header.dataOffset)
            guard n == dataBytes else {
                throw DataError.npyTruncatedData(path: path, shape: header.shape, descr: header.descr,
                                             expectedBytes: dataBytes, foundBytes: n)
            }
            return Tensor(storage: storage, shape: header.shape)
        }
        return try read(path, mapping: .automatic).tensor()
    }

    /// Parses preamble and header; checks that the data section has exactly the size the header implies.
    static func readHeader(_ file: NPYDescriptor, fileSize: Int) throws -> (header: NPYHeader, dataBytes: Int) {
        let path = file.path
        let head = try file.readBytes(count: min(fileSize, 12), at: 0)
        let magicPart = Array(head.prefix(6))
        guard magicPart == Array(npyMagic.prefix(magicPart.count)), !magicPart.isEmpty else {
            throw DataError.npyBadMagic(path: path, found: magicPart)
        }
        guard head.count >= 8 else {
            throw DataError.npyTruncatedHeader(path: path, expectedBytes: 10, foundBytes: head.count)
        }
        let version = NPYVersion(major: head[6], minor: head[7])
        guard version == .v1 || version == .v2 || version == .v3 else {
            throw DataError.npyUnsupportedVersion(path: path, major: Int(head[6]), minor: Int(head[7]))
        }
        let preamble = NPYHeaderCodec.preambleLength(version)
        guard head.count >= preamble else {
            throw DataError.npyTruncatedHeader(path: path, expectedBytes: preamble, foundBytes: head.count)
        }
        var headerLength = 0
        for i in stride(from: preamble - 1, through: 8, by: -1) { headerLength = headerLength << 8 | Int(head[i]) }
        let dataOffset = preamble + headerLength
        guard fileSize >= dataOffset else {
            throw DataError.npyTruncatedHeader(path: path, expectedBytes: dataOffset, foundBytes: fileSize)
        }
        let textBytes = try file.readBytes(count: headerLength, at: preamble)
        guard textBytes.count == headerLength else {
            throw DataError.npyTruncatedHeader(path: path, expectedBytes: dataOffset, foundBytes: preamble + textBytes.count)
        }
        let text: String
        if version.major >= 3 {
            guard let s = String(validating: textBytes, as: UTF8.self) else {
                throw DataError.npyMalformedHeader(path: path, problem: "header is not valid UTF-8",
                                               header: String(decoding: textBytes, as: UTF8.self))
            }
            text = s
        } else {
            // Latin-1: every byte is the code point of the same value.
            var scalars = String.UnicodeScalarView()
            for b in textBytes { scalars.append(Unicode.Scalar(b)) }
            text = String(scalars)
        }
        let (descr, fortran, shape) = try NPYHeaderCodec.parseDictionary(text, path: path)
        let (dtype, byteOrder) = try NPYHeaderCodec.parseDescr(descr, path: path)
        var dataBytes = dtype.itemSize
        var bound = max(dtype.itemSize, 1)
        for d in shape {
            // Like NumPy, refuse shapes whose extents overflow even when another extent is 0 (any
            // product of them, e.g. strides, must stay representable).
            let (p, overflow) = dataBytes.multipliedReportingOverflow(by: d)
            let (b, boundOverflow) = bound.multipliedReportingOverflow(by: max(d, 1))
            guard !overflow, !boundOverflow else {
                throw DataError.npyMalformedHeader(path: path, problem: "shape \(shape) is too large", header: text)
            }
            dataBytes = p
            bound = b
        }
        let available = fileSize - dataOffset
        let header = NPYHeader(version: version, dtype: dtype, byteOrder: byteOrder, fortranOrder: fortran,
                               shape: shape, dataOffset: dataOffset)
        if available < dataBytes {
            throw DataError.npyTruncatedData(path: path, shape: shape, descr: header.descr,
                                         expectedBytes: dataBytes, foundBytes: available)
        }
        if available > dataBytes {
            throw DataError.npyDataSizeMismatch(path: path, shape: shape, descr: header.descr,
                                            expectedBytes: dataBytes, foundBytes: available)
        }
        return (header, dataBytes)
    }

    /// Writes `array` to `path` (replacing any file there), with its dtype, byte order and layout.
    /// The format version is 1.0 unless the header needs 2.0 or `version` asks for a later one.
    public static func write(_ array: NPYArray, to path: String, version: NPYVersion = .v1) throws {
        guard version == .v1 || version == .v2 || version == .v3 else {
            throw DataError.npyUnsupportedVersion(path: path, major: Int(version.major), minor: Int(version.minor))
        }
        let (_, header) = NPYHeaderCodec.encode(dtype: array.dtype, byteOrder: array.byteOrder,
                                                fortranOrder: array.fortranOrder, shape: array.shape,
                                                minimumVersion: version)
        // Write a temporary sibling and rename it over `path`, so readers never see a partial file.
        let temporary = "\(path).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        do {
            let file = try NPYDescriptor(path: temporary, flags: O_WRONLY | O_CREAT | O_EXCL, mode: 0o644,
                                         reportedPath: path)
            try header.withUnsafeBytes { try file.write($0.baseAddress!, count: $0.count) }
            if array.byteCount > 0 {
                try file.write(array.buffer.base, count: array.byteCount)
            }
        } catch {
            _ = unlink(temporary)
            throw error
        }
        if rename(temporary, path) != 0 {
            let code = errno
            _ = unlink(temporary)
            throw DataError.npyIO(path: path, operation: "rename", message: errnoMessage(code))
        }
    }

    /// Writes a tensor as little-endian float32 in C order.
    public static func write(_ tensor: Tensor, to path: String, version: NPYVersion = .v1) throws {
        try write(NPYArray(tensor: tensor), to: path, version: version)
    }
}

/// Short names for the common cases.
public enum NPY {
    /// Reads the array at `path`; see `NPYFile.read`.
    public static func read(_ path: String) throws -> NPYArray { try NPYFile.read(path) }

    /// Reads the array at `path` as a Float32 tensor (from any numeric dtype); see `NPYFile.readTensor`.
    public static func readTensor(_ path: String) throws -> Tensor { try NPYFile.readTensor(path) }

    /// Writes `tensor` to `path` as float32 (format 1.0).
    public static func write(_ tensor: Tensor, to path: String) throws { try NPYFile.write(tensor, to: path) }

    /// Writes `array` to `path` (format 1.0, or 2.0 when the header needs it).
    public static func write(_ array: NPYArray, to path: String) throws { try NPYFile.write(array, to: path) }
}

extension Tensor {
    /// Loads a tensor from an `.npy` file (any numeric dtype, converted to Float32).
    public convenience init(npyFile path: String) throws {
        let t = try NPYFile.readTensor(path)
        self.init(storage: t.storage, shape: t.shape)
    }
}
