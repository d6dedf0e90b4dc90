#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
internal import CHDF5
import SensoriumTensor

/// What an HDF5 path names.
public enum HDF5ObjectKind: Sendable, Equatable {
    case group, dataset, other
}

/// An HDF5 group: create and open subgroups and datasets by (nested) path, list children, check
/// existence. Paths are relative to the group, or absolute when they start with `/`.
public class HDF5Group: HDF5Object {
    /// The file object that owns this group's identifier lifetime.
    var fileObject: HDF5File { owner ?? (self as! HDF5File) }

    /// Whether `path` names an existing object (every component is checked, so missing parents give
    /// `false` rather than an error).
    public func exists(_ path: String) -> Bool {
        hdf5Enter()
        let components = path.split(separator: "/")
        if components.isEmpty { return true }
        var prefix = path.hasPrefix("/") ? "/" : ""
        for c in components {
            if c == "." { continue }
            prefix += (prefix.isEmpty || prefix.hasSuffix("/") ? "" : "/") + c
            if H5Lexists(id, prefix, swift_H5P_DEFAULT()) <= 0 {
                swift_H5E_collect(nil, 0)
                return false
            }
        }
        // A dangling soft link exists as a link but not as an object.
        return H5Oexists_by_name(id, path, swift_H5P_DEFAULT()) > 0
    }

    /// What `path` names, or nil when nothing is there.
    public func kind(of path: String) -> HDF5ObjectKind? {
        guard exists(path) else { return nil }
        let object = H5Oopen(id, path, swift_H5P_DEFAULT())
        guard object >= 0 else { swift_H5E_collect(nil, 0); return nil }
        defer { _ = H5Oclose(object) }
        let t = H5Iget_type(object)
        if t == H5I_GROUP { return .group }
        if t == H5I_DATASET { return .dataset }
        return .other
    }

    /// Names of the direct children (groups, datasets, links), in name order.
    public func children() throws -> [String] {
        hdf5Enter()
        let ctx = context
        var info = H5G_info_t()
        try ctx.check(H5Gget_info(id, &info), "H5Gget_info")
        var names: [String] = []
        names.reserveCapacity(Int(info.nlinks))
        for i in 0..<info.nlinks {
            let len = H5Lget_name_by_idx(id, ".", H5_INDEX_NAME, H5_ITER_INC, i, nil, 0, swift_H5P_DEFAULT())
            if len < 0 { throw ctx.failure("H5Lget_name_by_idx") }
            var buffer = [CChar](repeating: 0, count: Int(len) + 1)
            if H5Lget_name_by_idx(id, ".", H5_INDEX_NAME, H5_ITER_INC, i, &buffer, buffer.count, swift_H5P_DEFAULT()) < 0 {
                throw ctx.failure("H5Lget_name_by_idx")
            }
            names.append(hdf5String(buffer))
        }
        return names
    }

    /// A link-creation property list that creates missing intermediate groups. Caller closes it.
    func intermediateGroupsPlist(_ ctx: HDF5Context) throws -> hid_t {
        let lcpl = try ctx.checkID(H5Pcreate(swift_H5P_LINK_CREATE()), "H5Pcreate")
        if H5Pset_create_intermediate_group(lcpl, 1) < 0 {
            _ = H5Pclose(lcpl)
            throw ctx.failure("H5Pset_create_intermediate_group")
        }
        return lcpl
    }

    /// A group-creation property list keeping up to 65535 links inside the group's object header
    /// ("compact" storage, covered by its checksum) instead of a fractal heap, whose blocks carry no
    /// checksum (and whose corruption libhdf5 1.10 does not always survive). Caller closes it.
    func groupCreationPlist(_ ctx: HDF5Context) throws -> hid_t {
        let gcpl = try ctx.checkID(H5Pcreate(swift_H5P_GROUP_CREATE()), "H5Pcreate")
        if H5Pset_link_phase_change(gcpl, 65535, 65535) < 0 {
            _ = H5Pclose(gcpl)
            throw ctx.failure("H5Pset_link_phase_change")
        }
        return gcpl
    }

    /// Creates the missing groups leading to `path` (not `path` itself), each with compact links.
    func createParents(of path: String, _ ctx: HDF5Context) throws {
        let components = path.split(separator: "/").dropLast()
        var prefix = path.hasPrefix("/") ? "/" : ""
        for c in components where c != "." {
            prefix += (prefix.isEmpty || prefix.hasSuffix("/") ? "" : "/") + c
            if exists(prefix) { continue }
            let gcpl = try groupCreationPlist(ctx)
            defer { _ = H5Pclose(gcpl) }
            let gid = try ctx.checkID(H5Gcreate2(id, prefix, swift_H5P_DEFAULT(), gcpl, swift_H5P_DEFAULT()), "H5Gcreate2")
            _ = H5Gclose(gid)
        }
    }

    /// Creates the group at `path`, creating missing parents. Throws `alreadyExists` if something is there.
    @discardableResult
    public func createGroup(_ path: String) throws -> HDF5Group {
        hdf5Enter()
        let ctx = context.child(path)
        if exists(path) { throw ctx.error(.alreadyExists, "H5Gcreate2", expected: "no object at \(ctx.object)", found: "an existing object") }
        try createParents(of: path, ctx)
        let gcpl = try groupCreationPlist(ctx)
        defer { _ = H5Pclose(gcpl) }
        let gid = try ctx.checkID(H5Gcreate2(id, path, swift_H5P_DEFAULT(), gcpl, swift_H5P_DEFAULT()), "H5Gcreate2")
        return HDF5Group(id: gid, closer: .group, owner: fileObject, filePath: filePath, path: ctx.object)
    }

    /// Opens the group at `path`, creating it (and missing parents) if absent.
    public func groupCreatingIfNeeded(_ path: String) throws -> HDF5Group {
        exists(path) ? try group(path) : try createGroup(path)
    }

    /// Opens the existing group at `path`.
    public func group(_ path: String) throws -> HDF5Group {
        hdf5Enter()
        let ctx = context.child(path)
        switch kind(of: path) {
        case nil: throw ctx.error(.missingObject, "H5Gopen2", expected: "a group at \(ctx.object)", found: "nothing")
        case .group?: break
        case let other?: throw ctx.error(.wrongDType, "H5Gopen2", expected: "a group", found: "a \(other)")
        }
        let gid = try ctx.checkID(H5Gopen2(id, path, swift_H5P_DEFAULT()), "H5Gopen2")
        return HDF5Group(id: gid, closer: .group, owner: fileObject, filePath: filePath, path: ctx.object)
    }

    /// Opens the existing dataset at `path`.
    public func dataset(_ path: String) throws -> HDF5Dataset {
        hdf5Enter()
        let ctx = context.child(path)
        switch kind(of: path) {
        case nil: throw ctx.error(.missingObject, "H5Dopen2", expected: "a dataset at \(ctx.object)", found: "nothing")
        case .dataset?: break
        case let other?: throw ctx.error(.wrongDType, "H5Dopen2", expected: "a dataset", found: "a \(other)")
        }
        let did = try ctx.checkID(H5Dopen2(id, path, swift_H5P_DEFAULT()), "H5Dopen2")
        return try HDF5Dataset(id: did, owner: fileObject, filePath: filePath, path: ctx.object)
    }

    /// Removes the link at `path` (the space is reclaimed only when the file is repacked, as in HDF5).
    public func remove(_ path: String) throws {
        hdf5Enter()
        let ctx = context.child(path)
        guard exists(path) else { throw ctx.error(.missingObject, "H5Ldelete", expected: "an object at \(ctx.object)", found: "nothing") }
        try ctx.check(H5Ldelete(id, path, swift_H5P_DEFAULT()), "H5Ldelete")
    }

    // MARK: Creating datasets

    /// Creates an n-d dataset of `T` with `shape` (elements zero-filled), creating missing parent groups.
    /// `chunks` selects chunked storage (required for compression); `compressionLevel` (0...9) enables
    /// gzip and defaults chunks to the whole shape.
    @discardableResult
    public func createDataset<T: HDF5Scalar>(_ path: String, shape: [Int], of type: T.Type,
                                             chunks: [Int]? = nil, compressionLevel: Int? = nil) throws -> HDF5Dataset {
        hdf5Enter()
        let ctx = context.child(path)
        let fileType = try ctx.checkID(H5Tcopy(T.hdf5Kind.nativeType), "H5Tcopy")
        defer { _ = H5Tclose(fileType) }
        return try createDataset(path, shape: shape, fileType: fileType, chunks: chunks,
                                 compressionLevel: compressionLevel, ctx: ctx)
    }

    func createDataset(_ path: String, shape: [Int], fileType: hid_t, chunks: [Int]?, compressionLevel: Int?,
                       ctx: HDF5Context) throws -> HDF5Dataset {
        guard shape.allSatisfy({ $0 >= 0 }) else {
            throw ctx.error(.wrongShape, "H5Screate_simple", expected: "non-negative extents", found: "shape \(shape)")
        }
        if exists(path) { throw ctx.error(.alreadyExists, "H5Dcreate2", expected: "no object at \(ctx.object)", found: "an existing object") }
        var dims = shape.map { hsize_t($0) }
        let space = shape.isEmpty
            ? try ctx.checkID(H5Screate(H5S_SCALAR), "H5Screate")
            : try ctx.checkID(H5Screate_simple(Int32(shape.count), &dims, nil), "H5Screate_simple")
        defer { _ = H5Sclose(space) }
        let dcpl = try ctx.checkID(H5Pcreate(swift_H5P_DATASET_CREATE()), "H5Pcreate")
        defer { _ = H5Pclose(dcpl) }
        var chunkShape = chunks
        if let level = compressionLevel {
            guard (0...9).contains(level) else {
                throw ctx.error(.invalidArgument, "H5Pset_deflate", expected: "a compression level in 0...9", found: "\(level)")
            }
            if chunkShape == nil { chunkShape = shape.map { max($0, 1) } }
        }
        // Data checksums: every non-empty array of fixed-size elements is chunked (≈ 1 MiB chunks along the first axis by
        // default) with the Fletcher32 filter, which libhdf5 verifies for every chunk it reads; a
        // scalar is stored compact, inside its (checksummed) object header.
        let itemSize = max(1, H5Tget_size(fileType))
        let elements = shape.reduce(1) { $0.multipliedReportingOverflow(by: $1).partialValue }
        let rowBytes = shape.dropFirst().reduce(itemSize) { $0.multipliedReportingOverflow(by: $1).partialValue }
        // (Filters cannot apply to variable-length types, whose bytes live in the global heap.)
        let variableLength = H5Tis_variable_str(fileType) > 0 || H5Tget_class(fileType) == H5T_VLEN
        let checksummed = !shape.isEmpty && elements > 0 && rowBytes < (1 << 30) && !variableLength
        if checksummed && chunkShape == nil {
            chunkShape = [min(shape[0], max(1, (1 << 20) / rowBytes))] + shape.dropFirst()
        }
        if shape.isEmpty && itemSize <= 1 << 15 {
            try ctx.check(H5Pset_layout(dcpl, H5D_COMPACT), "H5Pset_layout")
        }
        if let chunkShape {
            guard chunkShape.count == shape.count, !shape.isEmpty,
                  zip(chunkShape, shape).allSatisfy({ c, d in c >= 1 && c <= max(d, 1) }) else {
                throw ctx.error(.wrongShape, "H5Pset_chunk", expected: "one chunk extent in 1...dim per axis of shape \(shape)",
                                found: "chunks \(chunkShape)")
            }
            var cdims = chunkShape.map { hsize_t($0) }
            try ctx.check(H5Pset_chunk(dcpl, Int32(cdims.count), &cdims), "H5Pset_chunk")
            if let level = compressionLevel {
                try ctx.check(H5Pset_deflate(dcpl, UInt32(level)), "H5Pset_deflate")
            }
            if checksummed {
                try ctx.check(H5Pset_fletcher32(dcpl), "H5Pset_fletcher32")
            }
        }
        try createParents(of: path, ctx)
        let lcpl = try intermediateGroupsPlist(ctx)
        defer { _ = H5Pclose(lcpl) }
        let did = try ctx.checkID(H5Dcreate2(id, path, fileType, space, lcpl, dcpl, swift_H5P_DEFAULT()), "H5Dcreate2")
        return try HDF5Dataset(id: did, owner: fileObject, filePath: filePath, path: ctx.object)
    }

    /// Creates a dataset holding `values` (row-major) with `shape`.
    @discardableResult
    public func createDataset<T: HDF5Scalar>(_ path: String, values: [T], shape: [Int],
                                             chunks: [Int]? = nil, compressionLevel: Int? = nil) throws -> HDF5Dataset {
        let expected = shape.reduce(1, *)
        guard values.count == expected else {
            throw context.child(path).error(.wrongShape, "createDataset", expected: "\(expected) values for shape \(shape)",
                                            found: "\(values.count)")
        }
        let ds = try createDataset(path, shape: shape, of: T.self, chunks: chunks, compressionLevel: compressionLevel)
        try ds.write(values)
        return ds
    }

    /// Creates a float32 dataset holding the tensor's elements with its shape.
    @discardableResult
    public func createDataset(_ path: String, tensor: Tensor, chunks: [Int]? = nil,
                              compressionLevel: Int? = nil) throws -> HDF5Dataset {
        let ds = try createDataset(path, shape: tensor.shape, of: Float.self, chunks: chunks, compressionLevel: compressionLevel)
        try ds.write(tensor)
        return ds
    }

    /// Creates a dataset of variable-length UTF-8 strings (as h5py writes `str` arrays), or with
    /// `fixedLength` of NUL-padded UTF-8 strings as wide as the longest (whose bytes, unlike those of
    /// variable-length strings, are covered by the data checksum; trailing NULs are not kept).
    @discardableResult
    public func createDataset(_ path: String, strings: [String], shape: [Int]? = nil, fixedLength: Bool = false) throws -> HDF5Dataset {
        hdf5Enter()
        let ctx = context.child(path)
        let shape = shape ?? [strings.count]
        guard shape.reduce(1, *) == strings.count else {
            throw ctx.error(.wrongShape, "createDataset", expected: "\(shape.reduce(1, *)) strings for shape \(shape)", found: "\(strings.count)")
        }
        if fixedLength {
            let width = max(1, strings.map(\.utf8.count).max() ?? 1)
            let type = try ctx.checkID(H5Tcopy(swift_H5T_C_S1()), "H5Tcopy")
            defer { _ = H5Tclose(type) }
            guard H5Tset_size(type, width) >= 0, H5Tset_cset(type, H5T_CSET_UTF8) >= 0,
                  H5Tset_strpad(type, H5T_STR_NULLPAD) >= 0 else { throw ctx.failure("H5Tset_size") }
            var bytes = [UInt8](repeating: 0, count: width * strings.count)
            for (i, s) in strings.enumerated() {
                for (j, b) in s.utf8.enumerated() { bytes[i * width + j] = b }
            }
            let ds = try createDataset(path, shape: shape, fileType: type, chunks: nil, compressionLevel: nil, ctx: ctx)
            if !strings.isEmpty {
                _ = try bytes.withUnsafeBytes { raw in
                    try ctx.check(H5Dwrite(ds.id, type, swift_H5S_ALL(), swift_H5S_ALL(), swift_H5P_DEFAULT(), raw.baseAddress!), "H5Dwrite")
                }
            }
            return ds
        }
        let type = try hdf5VariableStringType(ctx)
        defer { _ = H5Tclose(type) }
        let ds = try createDataset(path, shape: shape, fileType: type, chunks: nil, compressionLevel: nil, ctx: ctx)
        if !strings.isEmpty {
            _ = try hdf5WithCStrings(strings) { buffer in
                try ctx.check(H5Dwrite(ds.id, type, swift_H5S_ALL(), swift_H5S_ALL(), swift_H5P_DEFAULT(), buffer), "H5Dwrite")
            }
        }
        return ds
    }
}

/// An HDF5 file, which is also its root group `/`.
///
/// ```swift
/// let f = try HDF5File.create("/tmp/x.h5")
/// try f.createDataset("data/responses", values: [1, 2, 3, 4] as [Float], shape: [2, 2])
/// try f.group("data").setAttribute("unit", "spikes")
/// let r = try HDF5File.open("/tmp/x.h5").dataset("data/responses").readTensor()
/// ```
public final class HDF5File: HDF5Group {
    /// How an existing file is opened.
    public enum Mode: Sendable {
        case readOnly, readWrite
    }

    /// Whether the file was opened writable.
    public let isWritable: Bool

    private init(id: hid_t, path: String, writable: Bool) {
        self.isWritable = writable
        super.init(id: id, closer: .file, owner: nil, filePath: path, path: "/")
    }

    /// Creates a new file at `path`. With `overwrite` an existing file is truncated; otherwise an
    /// existing file is an `alreadyExists` error.
    public static func create(_ path: String, overwrite: Bool = true) throws -> HDF5File {
        hdf5Enter()
        let ctx = HDF5Context(file: path, object: "/")
        if !overwrite && access(path, F_OK) == 0 {
            throw ctx.error(.alreadyExists, "H5Fcreate", expected: "no file (or overwrite: true)", found: "an existing file")
        }
        let flags = overwrite ? swift_H5F_ACC_TRUNC() : swift_H5F_ACC_EXCL()
        // The newest file format: libhdf5 then checksums all of the file's metadata (superblock,
        // object headers, indices) and verifies it whenever it reads it.
        let fapl = try ctx.checkID(H5Pcreate(swift_H5P_FILE_ACCESS()), "H5Pcreate")
        defer { _ = H5Pclose(fapl) }
        try ctx.check(H5Pset_libver_bounds(fapl, swift_H5F_LIBVER_LATEST(), swift_H5F_LIBVER_LATEST()), "H5Pset_libver_bounds")
        let fid = try ctx.checkID(H5Fcreate(path, flags, swift_H5P_DEFAULT(), fapl), "H5Fcreate")
        // Not inherited by child processes (the descriptor holds libhdf5's file lock).
        _ = swift_H5F_set_cloexec(fid)
        return HDF5File(id: fid, path: path, writable: true)
    }

    /// Opens an existing file.
    public static func open(_ path: String, mode: Mode = .readOnly) throws -> HDF5File {
        hdf5Enter()
        let ctx = HDF5Context(file: path, object: "/")
        guard access(path, F_OK) == 0 else {
            throw ctx.error(.missingFile, "H5Fopen", expected: "an HDF5 file", found: "no such file")
        }
        let flags = mode == .readOnly ? swift_H5F_ACC_RDONLY() : swift_H5F_ACC_RDWR()
        let fid = H5Fopen(path, flags, swift_H5P_DEFAULT())
        if fid < 0 {
            if !hasHDF5Signature(path) {
                swift_H5E_collect(nil, 0)
                throw ctx.error(.wrongFormat, "H5Fopen", expected: "the HDF5 signature 89 48 44 46 0d 0a 1a 0a",
                                found: "none (not an HDF5 file)")
            }
            throw ctx.failure("H5Fopen")
        }
        _ = swift_H5F_set_cloexec(fid)
        return HDF5File(id: fid, path: path, writable: mode == .readWrite)
    }

    /// Loads every object of the file (groups, datasets and their headers): in files of the newest
    /// format, which the SDK writes, libhdf5 verifies each header's checksum, so a corrupted
    /// structure is a ``DataError`` of kind `.corrupted` here rather than later. Returns the number
    /// of objects.
    @discardableResult
    public func verifyObjects() throws -> Int {
        hdf5Enter()
        let n = swift_H5_verify_objects(id)
        if n < 0 { throw context.failure("H5Ovisit") }
        return Int(n)
    }

    /// Writes buffered data to disk.
    public func flush() throws {
        hdf5Enter()
        try context.check(H5Fflush(id, H5F_SCOPE_GLOBAL), "H5Fflush")
    }

    /// Whether the file carries the HDF5 superblock signature at offset 0, 512, 1024, ... (user block).
    private static func hasHDF5Signature(_ path: String) -> Bool {
        let fd = Glibc_open(path)
        guard fd >= 0 else { return false }
        defer { _ = close(fd) }
        let signature: [UInt8] = [0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A]
        var offset = 0
        var buffer = [UInt8](repeating: 0, count: 8)
        while offset <= 1 << 20 {
            let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, 8, off_t(offset)) }
            if n < 8 { return false }
            if buffer == signature { return true }
            offset = offset == 0 ? 512 : offset * 2
        }
        return false
    }
}

private func Glibc_open(_ path: String) -> Int32 { open(path, O_RDONLY) }
