internal import CHDF5
import SensoriumTensor

/// An n-dimensional HDF5 dataset: read and write whole, or by ranges of the first axis (for lazy
/// per-trial reads of `trials × ...` arrays).
public final class HDF5Dataset: HDF5Object {
    /// Extent of each axis (empty for a scalar dataset).
    public let shape: [Int]
    /// The stored element type.
    public let elementType: HDF5ElementType

    init(id: hid_t, owner: HDF5File, filePath: String, path: String) throws {
        let ctx = HDF5Context(file: filePath, object: path)
        let space = H5Dget_space(id)
        let type = H5Dget_type(id)
        defer {
            if space >= 0 { _ = H5Sclose(space) }
            if type >= 0 { _ = H5Tclose(type) }
        }
        guard space >= 0, type >= 0 else {
            _ = H5Dclose(id)
            throw ctx.failure(space < 0 ? "H5Dget_space" : "H5Dget_type")
        }
        let rank = Int(H5Sget_simple_extent_ndims(space))
        guard rank >= 0 else {
            _ = H5Dclose(id)
            throw ctx.failure("H5Sget_simple_extent_ndims")
        }
        var dims = [hsize_t](repeating: 0, count: max(rank, 1))
        if rank > 0 { _ = H5Sget_simple_extent_dims(space, &dims, nil) }
        // Sizes come from the file: check them (an extent ≥ 2^63, an element count or byte size that
        // overflows, or more bytes than the file could hold) before anything is allocated.
        var shape: [Int] = []
        var total = 1
        var corrupt: (expected: String, found: String)? = nil
        for d in dims.prefix(rank) {
            guard let v = Int(exactly: d) else { corrupt = ("extents that fit a 64-bit signed integer", "extent \(d)"); break }
            shape.append(v)
            let (p, overflow) = total.multipliedReportingOverflow(by: v)
            if overflow { corrupt = ("an element count that fits a 64-bit integer", "shape \(dims.prefix(rank).map { $0 }), whose count overflows"); break }
            total = p
        }
        let elementType = HDF5ElementType(typeID: type)
        if corrupt == nil {
            let (bytes, overflow) = total.multipliedReportingOverflow(by: max(1, H5Tget_size(type)))
            if overflow {
                corrupt = ("a byte size that fits a 64-bit integer", "shape \(shape) of \(elementType), whose byte size overflows")
            } else if !owner.isWritable {
                var fileSize: hsize_t = 0
                if H5Fget_filesize(owner.id, &fileSize) >= 0 {
                    // Deflate expands at most 1032:1; without such a filter data cannot exceed the file.
                    let filters = swift_H5D_filter_flags(id)
                    let expanding = filters < 0 || filters & Int32(SWIFT_H5D_EXPANDING_FILTER) != 0
                    let size = Int(clamping: fileSize)
                    let limit = size.multipliedReportingOverflow(by: expanding ? 1032 : 1).partialValue + (1 << 20)
                    if bytes > limit || bytes < 0 {
                        corrupt = (expected: "a dataset no larger than the file's \(size) bytes can hold",
                                   found: "shape \(shape) of \(elementType), \(bytes) bytes")
                    }
                } else {
                    swift_H5E_collect(nil, 0)
                }
            }
        }
        if let corrupt {
            _ = H5Dclose(id)
            throw ctx.error(.corrupted, "H5Dget_space", expected: corrupt.expected, found: corrupt.found)
        }
        self.shape = shape
        self.elementType = elementType
        super.init(id: id, closer: .dataset, owner: owner, filePath: filePath, path: path)
    }

    /// Whether libhdf5 checks a Fletcher32 checksum of every chunk of this dataset when reading it
    /// (the SDK writes every non-empty, non-scalar dataset this way).
    public var hasChecksum: Bool {
        let filters = swift_H5D_filter_flags(id)
        return filters > 0 && filters & Int32(SWIFT_H5D_FLETCHER32) != 0
    }

    /// Number of elements.
    public var count: Int { shape.reduce(1, *) }
    /// Number of axes.
    public var rank: Int { shape.count }

    private func requireNumeric(_ call: String) throws {
        guard elementType.isNumeric else {
            throw context.error(.wrongDType, call, expected: "a numeric dataset", found: "\(elementType)")
        }
    }

    /// Runs `body` with (memory space, file space, selected shape) for `rows` of the first axis, or the
    /// whole dataset when `rows` is nil.
    private func withSelection<R>(rows: Range<Int>?, call: String,
                                  _ body: (hid_t, hid_t, [Int]) throws -> R) throws -> R {
        let ctx = context
        guard let rows else { return try body(swift_H5S_ALL(), swift_H5S_ALL(), shape) }
        guard rank >= 1 else {
            throw ctx.error(.wrongShape, call, expected: "a dataset with rows (rank ≥ 1)", found: "a scalar dataset")
        }
        guard rows.lowerBound >= 0, rows.upperBound <= shape[0] else {
            throw ctx.error(.wrongShape, call, expected: "rows within the first axis of shape \(shape)", found: "rows \(rows), out of range")
        }
        let selected = [rows.count] + shape.dropFirst()
        let fileSpace = try ctx.checkID(H5Dget_space(id), "H5Dget_space")
        defer { _ = H5Sclose(fileSpace) }
        var start = [hsize_t](repeating: 0, count: rank)
        start[0] = hsize_t(rows.lowerBound)
        var counts = selected.map { hsize_t($0) }
        try ctx.check(H5Sselect_hyperslab(fileSpace, H5S_SELECT_SET, &start, nil, &counts, nil), "H5Sselect_hyperslab")
        let memSpace = try ctx.checkID(H5Screate_simple(Int32(rank), &counts, nil), "H5Screate_simple")
        defer { _ = H5Sclose(memSpace) }
        return try body(memSpace, fileSpace, selected)
    }

    private func readRaw(kind: HDF5ScalarKind, rows: Range<Int>?, into buffer: UnsafeMutableRawPointer?) throws -> [Int] {
        try requireNumeric("H5Dread")
        return try withSelection(rows: rows, call: "H5Dread") { mem, file, selected in
            if selected.reduce(1, *) > 0, let buffer {
                try context.check(H5Dread(id, kind.nativeType, mem, file, swift_H5P_DEFAULT(), buffer), "H5Dread")
            }
            return selected
        }
    }

    /// All elements in row-major order, converted to `T` by libhdf5.
    public func read<T: HDF5Scalar>(as type: T.Type = T.self) throws -> [T] {
        hdf5Enter()
        return try [T](unsafeUninitializedCapacity: count) { buffer, initialized in
            _ = try readRaw(kind: T.hdf5Kind, rows: nil, into: buffer.baseAddress)
            initialized = count
        }
    }

    /// Elements of `rows` along the first axis (row-major), converted to `T`.
    public func read<T: HDF5Scalar>(rows: Range<Int>, as type: T.Type = T.self) throws -> [T] {
        hdf5Enter()
        let n = rows.count * shape.dropFirst().reduce(1, *)
        return try [T](unsafeUninitializedCapacity: max(n, 0)) { buffer, initialized in
            _ = try readRaw(kind: T.hdf5Kind, rows: rows, into: buffer.baseAddress)
            initialized = n
        }
    }

    /// The whole dataset as a Float32 tensor.
    public func readTensor() throws -> Tensor {
        hdf5Enter()
        let t = Tensor(uninitializedShape: shape)
        _ = try readRaw(kind: .float32, rows: nil, into: UnsafeMutableRawPointer(t.storage.pointer))
        return t
    }

    /// `rows` of the first axis as a Float32 tensor of shape `[rows.count] + shape[1...]`.
    public func readTensor(rows: Range<Int>) throws -> Tensor {
        hdf5Enter()
        guard rank >= 1 else {
            throw context.error(.wrongShape, "H5Dread", expected: "a dataset with rows (rank ≥ 1)", found: "a scalar dataset")
        }
        let t = Tensor(uninitializedShape: [max(rows.count, 0)] + shape.dropFirst())
        _ = try readRaw(kind: .float32, rows: rows, into: UnsafeMutableRawPointer(t.storage.pointer))
        return t
    }

    /// Row `index` of the first axis as a Float32 tensor of shape `shape[1...]` (e.g. one trial).
    public func readTensor(row index: Int) throws -> Tensor {
        try readTensor(rows: index..<(index + 1)).reshaped(Array(shape.dropFirst()))
    }

    /// The strings of a string dataset (variable or fixed length), row-major.
    public func readStrings() throws -> [String] {
        hdf5Enter()
        let ctx = context
        let type = try ctx.checkID(H5Dget_type(id), "H5Dget_type")
        defer { _ = H5Tclose(type) }
        return try hdf5ReadStrings(count: count, fileType: type, ctx: ctx, read: { memType, buffer in
            count == 0 ? 0 : H5Dread(id, memType, swift_H5S_ALL(), swift_H5S_ALL(), swift_H5P_DEFAULT(), buffer)
        }, call: "H5Dread")
    }

    private func writeRaw(kind: HDF5ScalarKind, rows: Range<Int>?, valueCount: Int, buffer: UnsafeRawPointer?) throws {
        try requireNumeric("H5Dwrite")
        try withSelection(rows: rows, call: "H5Dwrite") { mem, file, selected in
            let expected = selected.reduce(1, *)
            guard valueCount == expected else {
                throw context.error(.wrongShape, "H5Dwrite", expected: "\(expected) values for a selection of shape \(selected)",
                                    found: "\(valueCount)")
            }
            if expected > 0, let buffer {
                try context.check(H5Dwrite(id, kind.nativeType, mem, file, swift_H5P_DEFAULT(), buffer), "H5Dwrite")
            }
        }
    }

    /// Overwrites all elements with `values` (row-major; converted to the stored type by libhdf5).
    public func write<T: HDF5Scalar>(_ values: [T]) throws {
        hdf5Enter()
        try values.withUnsafeBytes { try writeRaw(kind: T.hdf5Kind, rows: nil, valueCount: values.count, buffer: $0.baseAddress) }
    }

    /// Overwrites `rows` of the first axis with `values` (row-major).
    public func write<T: HDF5Scalar>(_ values: [T], rows: Range<Int>) throws {
        hdf5Enter()
        try values.withUnsafeBytes { try writeRaw(kind: T.hdf5Kind, rows: rows, valueCount: values.count, buffer: $0.baseAddress) }
    }

    /// Overwrites all elements with the tensor's (same element count).
    public func write(_ tensor: Tensor) throws {
        hdf5Enter()
        try writeRaw(kind: .float32, rows: nil, valueCount: tensor.count, buffer: UnsafeRawPointer(tensor.storage.pointer))
    }

    /// Overwrites `rows` of the first axis with the tensor's elements.
    public func write(_ tensor: Tensor, rows: Range<Int>) throws {
        hdf5Enter()
        try writeRaw(kind: .float32, rows: rows, valueCount: tensor.count, buffer: UnsafeRawPointer(tensor.storage.pointer))
    }
}
