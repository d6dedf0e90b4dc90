internal import CHDF5

/// An open HDF5 object (file, group or dataset) that owns its libhdf5 identifier and closes it in
/// `deinit`. Children keep their file open.
///
/// Concurrency: HDF5 objects are deliberately not `Sendable`. Use each file and its objects from one
/// task at a time (open the file again elsewhere if needed); libhdf5 is built thread-safe with one
/// global lock, so concurrent calls are serialised anyway.
public class HDF5Object {
    enum Closer { case file, group, dataset }

    let id: hid_t
    let closer: Closer
    /// Keeps the file open while this object lives (nil for the file itself).
    let owner: HDF5File?
    /// Path of the HDF5 file this object belongs to.
    public let filePath: String
    /// Path of the object inside the file (`/` for the root group).
    public let path: String

    init(id: hid_t, closer: Closer, owner: HDF5File?, filePath: String, path: String) {
        self.id = id
        self.closer = closer
        self.owner = owner
        self.filePath = filePath
        self.path = path
    }

    deinit {
        switch closer {
        case .file: _ = H5Fclose(id)
        case .group: _ = H5Gclose(id)
        case .dataset: _ = H5Dclose(id)
        }
    }

    var context: HDF5Context { HDF5Context(file: filePath, object: path) }

    // MARK: Attributes

    /// Whether an attribute called `name` is attached to this object.
    public func hasAttribute(_ name: String) throws -> Bool {
        hdf5Enter()
        let r = H5Aexists(id, name)
        if r < 0 { throw context.attribute(name).failure("H5Aexists") }
        return r > 0
    }

    /// Names of the attributes attached to this object, in name order.
    public func attributeNames() throws -> [String] {
        hdf5Enter()
        let ctx = context
        let n = swift_H5A_count(id)
        if n < 0 { throw ctx.failure("H5Aiterate2") }
        var names: [String] = []
        for i in 0..<UInt64(n) {
            let len = H5Aget_name_by_idx(id, ".", H5_INDEX_NAME, H5_ITER_INC, i, nil, 0, swift_H5P_DEFAULT())
            if len < 0 { throw ctx.failure("H5Aget_name_by_idx") }
            var buffer = [CChar](repeating: 0, count: Int(len) + 1)
            let got = H5Aget_name_by_idx(id, ".", H5_INDEX_NAME, H5_ITER_INC, i, &buffer, buffer.count, swift_H5P_DEFAULT())
            if got < 0 { throw ctx.failure("H5Aget_name_by_idx") }
            names.append(hdf5String(buffer))
        }
        return names
    }

    /// Removes the attribute `name`.
    public func deleteAttribute(_ name: String) throws {
        guard try hasAttribute(name) else {
            throw context.attribute(name).error(.missingObject, "deleteAttribute", expected: "an attribute '\(name)'", found: "none")
        }
        try context.attribute(name).check(H5Adelete(id, name), "H5Adelete")
    }

    /// Creates (replacing any existing) attribute `name` with `type` and `space`, and writes `buffer`.
    private func writeAttribute(_ name: String, type: hid_t, space: hid_t, buffer: UnsafeRawPointer) throws {
        let ctx = context.attribute(name)
        if try hasAttribute(name) { try ctx.check(H5Adelete(id, name), "H5Adelete") }
        let attr = try ctx.checkID(H5Acreate2(id, name, type, space, swift_H5P_DEFAULT(), swift_H5P_DEFAULT()), "H5Acreate2")
        defer { _ = H5Aclose(attr) }
        try ctx.check(H5Awrite(attr, type, buffer), "H5Awrite")
    }

    /// Sets the string attribute `name` (variable-length UTF-8, as h5py writes `str`), replacing any
    /// existing attribute of that name.
    public func setAttribute(_ name: String, _ value: String) throws {
        hdf5Enter()
        let ctx = context.attribute(name)
        let type = try hdf5VariableStringType(ctx)
        defer { _ = H5Tclose(type) }
        let space = try ctx.checkID(H5Screate(H5S_SCALAR), "H5Screate")
        defer { _ = H5Sclose(space) }
        try hdf5WithCStrings([value]) { try writeAttribute(name, type: type, space: space, buffer: $0) }
    }

    /// Sets the string attribute `name` as one fixed-length, NUL-padded UTF-8 string, stored inside
    /// the object header (so covered by its checksum in files the SDK writes, unlike a
    /// variable-length string, whose bytes live in the unchecksummed global heap).
    public func setAttribute(_ name: String, fixedLengthString value: String) throws {
        hdf5Enter()
        let ctx = context.attribute(name)
        let bytes = Array(value.utf8)
        let type = try ctx.checkID(H5Tcopy(swift_H5T_C_S1()), "H5Tcopy")
        defer { _ = H5Tclose(type) }
        guard H5Tset_size(type, max(1, bytes.count)) >= 0, H5Tset_cset(type, H5T_CSET_UTF8) >= 0,
              H5Tset_strpad(type, H5T_STR_NULLPAD) >= 0 else { throw ctx.failure("H5Tset_size") }
        let space = try ctx.checkID(H5Screate(H5S_SCALAR), "H5Screate")
        defer { _ = H5Sclose(space) }
        let padded = bytes.isEmpty ? [UInt8(0)] : bytes
        try padded.withUnsafeBytes { try writeAttribute(name, type: type, space: space, buffer: $0.baseAddress!) }
    }

    /// Sets the scalar numeric attribute `name`, replacing any existing attribute of that name.
    public func setAttribute<T: HDF5Scalar>(_ name: String, _ value: T) throws {
        hdf5Enter()
        let ctx = context.attribute(name)
        let space = try ctx.checkID(H5Screate(H5S_SCALAR), "H5Screate")
        defer { _ = H5Sclose(space) }
        try withUnsafeBytes(of: value) {
            try writeAttribute(name, type: T.hdf5Kind.nativeType, space: space, buffer: $0.baseAddress!)
        }
    }

    /// Sets the 1-D numeric attribute `name`, replacing any existing attribute of that name.
    public func setAttribute<T: HDF5Scalar>(_ name: String, values: [T]) throws {
        hdf5Enter()
        let ctx = context.attribute(name)
        var dims = [hsize_t(values.count)]
        let space = try ctx.checkID(H5Screate_simple(1, &dims, nil), "H5Screate_simple")
        defer { _ = H5Sclose(space) }
        try values.withUnsafeBytes { raw in
            var one: UInt8 = 0
            try withUnsafeMutableBytes(of: &one) { fallback in
                try writeAttribute(name, type: T.hdf5Kind.nativeType, space: space,
                                   buffer: raw.baseAddress ?? UnsafeRawPointer(fallback.baseAddress!))
            }
        }
    }

    /// Opens attribute `name` and runs `body` with its id, type and element count.
    private func withAttribute<R>(_ name: String, _ body: (HDF5Context, hid_t, hid_t, Int) throws -> R) throws -> R {
        hdf5Enter()
        let ctx = context.attribute(name)
        guard try hasAttribute(name) else {
            throw ctx.error(.missingObject, "H5Aopen", expected: "an attribute '\(name)' on \(path)", found: "none")
        }
        let attr = try ctx.checkID(H5Aopen(id, name, swift_H5P_DEFAULT()), "H5Aopen")
        defer { _ = H5Aclose(attr) }
        let type = try ctx.checkID(H5Aget_type(attr), "H5Aget_type")
        defer { _ = H5Tclose(type) }
        let space = try ctx.checkID(H5Aget_space(attr), "H5Aget_space")
        let count = Int(H5Sget_simple_extent_npoints(space))
        _ = H5Sclose(space)
        if count < 0 { throw ctx.failure("H5Sget_simple_extent_npoints") }
        // A count read from the file: bounded by the file's size before anything is allocated.
        if let file = owner ?? (self as? HDF5File), !file.isWritable {
            var fileSize: hsize_t = 0
            let (bytes, overflow) = count.multipliedReportingOverflow(by: max(1, H5Tget_size(type)))
            if H5Fget_filesize(file.id, &fileSize) >= 0, overflow || bytes > Int(clamping: fileSize) + (1 << 20) {
                throw ctx.error(.corrupted, "H5Aread", expected: "an attribute no larger than the file's \(fileSize) bytes can hold", found: "\(count) elements")
            }
        }
        return try body(ctx, attr, type, count)
    }

    /// Element type of attribute `name`.
    public func attributeType(_ name: String) throws -> HDF5ElementType {
        try withAttribute(name) { _, _, type, _ in HDF5ElementType(typeID: type) }
    }

    /// The value of a string attribute (variable or fixed length) holding one string.
    public func stringAttribute(_ name: String) throws -> String {
        let values = try stringAttributeValues(name)
        guard values.count == 1 else {
            throw context.attribute(name).error(.wrongShape, "stringAttribute", expected: "1 string", found: "\(values.count)")
        }
        return values[0]
    }

    /// All strings of a string attribute (scalar or array).
    public func stringAttributeValues(_ name: String) throws -> [String] {
        try withAttribute(name) { ctx, attr, type, count in
            try hdf5ReadStrings(count: count, fileType: type, ctx: ctx,
                                read: { memType, buffer in H5Aread(attr, memType, buffer) }, call: "H5Aread")
        }
    }

    /// All values of a numeric attribute, converted to `T`.
    public func attributeValues<T: HDF5Scalar>(_ name: String, as type: T.Type = T.self) throws -> [T] {
        try withAttribute(name) { ctx, attr, fileType, count in
            let element = HDF5ElementType(typeID: fileType)
            guard element.isNumeric else {
                throw ctx.error(.wrongDType, "H5Aread", expected: "a numeric attribute", found: "\(element)")
            }
            return try [T](unsafeUninitializedCapacity: max(count, 1)) { buffer, initialized in
                let status = H5Aread(attr, T.hdf5Kind.nativeType, buffer.baseAddress!)
                if status < 0 { throw ctx.failure("H5Aread") }
                initialized = count
            }
        }
    }

    /// The value of a numeric attribute holding one element, converted to `T`.
    public func attribute<T: HDF5Scalar>(_ name: String, as type: T.Type = T.self) throws -> T {
        let values = try attributeValues(name, as: T.self)
        guard values.count == 1 else {
            throw context.attribute(name).error(.wrongShape, "attribute", expected: "1 value", found: "\(values.count)")
        }
        return values[0]
    }
}
