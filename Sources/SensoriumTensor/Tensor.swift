/// The memory behind one or more tensors: a 64-byte aligned, contiguous buffer of `Float`.
///
/// Storage is shared by tensors that are views of the same data (`reshaped`, `detached`), and freed
/// when the last of them goes away. It is never resized.
///
/// Buffers of 256 KiB and more come from a caching allocator: when freed they are kept for reuse
/// by later allocations of about the same size (a training step allocates the same buffers every
/// step), up to ``cacheLimitBytes`` bytes, instead of being returned to the system and faulted in
/// again page by page.
public final class TensorStorage {
    /// Start of the buffer.
    public let pointer: UnsafeMutablePointer<Float>
    /// Number of elements in the buffer.
    public let count: Int
    private let deallocator: (() -> Void)?
    private let tracker: AllocationTracker?
    /// The cached block behind the buffer (`.none` for a malloc'ed or borrowed one).
    private let block: StorageCache.Handle

    /// Allocates `count` uninitialised elements.
    public init(uninitializedCount count: Int) {
        self.count = count
        let bytes = max(count, 1) * MemoryLayout<Float>.stride
        let raw: UnsafeMutableRawPointer
        if bytes >= StorageCache.minimumBytes {
            (raw, block) = StorageCache.shared.allocate(bytes)
        } else {
            raw = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
            block = .none
        }
        self.pointer = raw.bindMemory(to: Float.self, capacity: max(count, 1))
        self.deallocator = nil
        self.tracker = AllocationTracker.current
        tracker?.allocated(count * MemoryLayout<Float>.stride)
    }

    /// Allocates `count` elements set to `value`.
    public convenience init(count: Int, repeating value: Float) {
        self.init(uninitializedCount: count)
        pointer.initialize(repeating: value, count: count)
    }

    /// Wraps memory owned elsewhere (for example a memory-mapped file); `release` runs when the
    /// storage is freed.
    public init(borrowing pointer: UnsafeMutablePointer<Float>, count: Int, release: @escaping () -> Void) {
        self.pointer = pointer
        self.count = count
        self.deallocator = release
        self.tracker = nil
        self.block = .none
    }

    deinit {
        if let deallocator {
            deallocator()
        } else if block.capacity > 0 {
            StorageCache.shared.release(UnsafeMutableRawPointer(pointer), handle: block)
        } else {
            UnsafeMutableRawPointer(pointer).deallocate()
        }
        tracker?.freed(count * MemoryLayout<Float>.stride)
    }

    /// The elements as a buffer.
    @inlinable public var buffer: UnsafeMutableBufferPointer<Float> {
        UnsafeMutableBufferPointer(start: pointer, count: count)
    }

    /// Upper bound on the bytes of freed large buffers kept for reuse. By default it follows the
    /// workload: about the peak of the tensor bytes in use so far (plus a sixteenth and 48 MiB), at
    /// least 1 GiB; `SENSORIUM_TENSOR_CACHE_MB` megabytes from the environment or setting this
    /// property make it a fixed bound. Lowering it frees the excess.
    public static var cacheLimitBytes: Int {
        get { StorageCache.shared.state.withLock { $0.effectiveLimit } }
        set { StorageCache.shared.setLimit(newValue) }
    }

    /// Bytes of freed large buffers currently kept for reuse.
    public static var cachedBytes: Int { StorageCache.shared.state.withLock { $0.cachedBytes } }

    /// Returns every cached buffer to the system (for example after training, before a long idle phase).
    public static func releaseCachedMemory() { StorageCache.shared.purge() }
}

/// An N-dimensional Float32 tensor on contiguous row-major storage, with reverse-mode autodiff.
///
/// A `Tensor` is a reference: optimizers update parameters in place, and the autodiff graph links
/// results to the tensors they were computed from. Shapes follow PyTorch's layouts (N, C, H, W and
/// N, C, T, H, W).
///
/// ```swift
/// let x = Tensor([1, 2, 3], shape: [3], requiresGrad: true)
/// let y = (x * x).sum()
/// y.backward()
/// x.grad!.scalars   // [2, 4, 6]
/// ```
public final class Tensor {
    /// The extent of each axis.
    public let shape: [Int]
    /// The shared buffer holding the elements (always contiguous, row-major).
    public let storage: TensorStorage
    /// Whether gradients with respect to this tensor are computed by `backward()`.
    public var requiresGrad: Bool
    /// The accumulated gradient, after `backward()`; same shape as the tensor.
    public var grad: Tensor?
    /// The graph node that produced this tensor, when it was computed with gradients enabled.
    var node: GradNode?
    /// Set once a backward pass has consumed the graph this tensor was the root of.
    var graphReleased = false

    /// Wraps existing storage; `storage.count` must equal the product of `shape`.
    public init(storage: TensorStorage, shape: [Int], requiresGrad: Bool = false) {
        precondition(shape.allSatisfy { $0 >= 0 }, "Tensor: negative dimension in shape \(shape)")
        precondition(storage.count == Tensor.elementCount(shape),
                     "Tensor: storage of \(storage.count) elements does not fit shape \(shape)")
        self.shape = shape
        self.storage = storage
        self.requiresGrad = requiresGrad
    }

    /// A tensor of `shape` whose elements are uninitialised; ops fill it before it is seen.
    public convenience init(uninitializedShape shape: [Int]) {
        self.init(storage: TensorStorage(uninitializedCount: Tensor.elementCount(shape)), shape: shape)
    }

    /// A tensor holding `scalars` in row-major order.
    public convenience init(_ scalars: [Float], shape: [Int], requiresGrad: Bool = false) {
        precondition(scalars.count == Tensor.elementCount(shape),
                     "Tensor: \(scalars.count) scalars do not fill shape \(shape)")
        let storage = TensorStorage(uninitializedCount: scalars.count)
        scalars.withUnsafeBufferPointer { src in
            if let base = src.baseAddress { storage.pointer.initialize(from: base, count: scalars.count) }
        }
        self.init(storage: storage, shape: shape, requiresGrad: requiresGrad)
    }

    /// A one-dimensional tensor holding `scalars`.
    public convenience init(_ scalars: [Float], requiresGrad: Bool = false) {
        self.init(scalars, shape: [scalars.count], requiresGrad: requiresGrad)
    }

    /// A zero-dimensional tensor holding `value`.
    public convenience init(scalar value: Float, requiresGrad: Bool = false) {
        self.init([value], shape: [], requiresGrad: requiresGrad)
    }

    /// Number of elements of a shape.
    @inlinable public static func elementCount(_ shape: [Int]) -> Int {
        var n = 1
        for d in shape { n *= d }
        return n
    }

    /// Number of elements.
    @inlinable public var count: Int { storage.count }
    /// Number of axes.
    @inlinable public var rank: Int { shape.count }
    /// Row-major strides, in elements.
    public var strides: [Int] { Tensor.contiguousStrides(shape) }

    /// Row-major strides of a shape.
    public static func contiguousStrides(_ shape: [Int]) -> [Int] {
        var strides = [Int](repeating: 1, count: shape.count)
        var acc = 1
        for i in stride(from: shape.count - 1, through: 0, by: -1) {
            strides[i] = acc
            acc *= shape[i]
        }
        return strides
    }

    /// The elements in row-major order.
    public var scalars: [Float] { Array(storage.buffer) }

    /// The single element of a one-element tensor.
    public var item: Float {
        precondition(count == 1, "item: tensor of shape \(shape) has \(count) elements, expected 1")
        return storage.pointer[0]
    }

    /// Reads or writes one element by its full index (one integer per axis): `t[1, 2]` of a
    /// `[3, 4]` tensor is a `Float`. Unlike PyTorch, `t[0]` of a rank-2 tensor is not a row (a
    /// precondition names the shape); for sub-tensors use ``sliced(axis:range:step:)``
    /// (`t.sliced(axis: 0, range: 0..<1)`, shape `[1, 4]`) or ``indexSelect(axis:indices:)``.
    public subscript(index: Int...) -> Float {
        get { storage.pointer[flatIndex(index)] }
        set { storage.pointer[flatIndex(index)] = newValue }
    }

    private func flatIndex(_ index: [Int]) -> Int {
        precondition(index.count == rank, "subscript: index \(index) does not match shape \(shape)")
        var flat = 0
        var acc = 1
        for axis in stride(from: rank - 1, through: 0, by: -1) {
            let i = index[axis]
            precondition(i >= 0 && i < shape[axis], "subscript: index \(index) out of range for shape \(shape)")
            flat += i * acc
            acc *= shape[axis]
        }
        return flat
    }

    /// Normalises a possibly negative axis against `rank`.
    public static func normalizeAxis(_ axis: Int, rank: Int, op: String) -> Int {
        let a = axis < 0 ? axis + rank : axis
        precondition(a >= 0 && a < Swift.max(rank, 1), "\(op): axis \(axis) out of range for rank \(rank)")
        return a
    }

    /// Runs `body` with a read-only view of the elements.
    @inlinable public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        try body(UnsafeBufferPointer(storage.buffer))
    }

    /// Runs `body` with a mutable view of the elements. Writes bypass autodiff.
    @inlinable public func withUnsafeMutableBufferPointer<R>(_ body: (UnsafeMutableBufferPointer<Float>) throws -> R) rethrows -> R {
        try body(storage.buffer)
    }

    /// An independent copy of the elements (no graph connection).
    public func copy() -> Tensor {
        let out = Tensor(uninitializedShape: shape)
        out.storage.pointer.update(from: storage.pointer, count: count)
        return out
    }

    /// Overwrites the elements with those of `other` (same element count), outside autodiff.
    public func assign(_ other: Tensor) {
        precondition(other.count == count, "assign: shapes \(shape) and \(other.shape) differ")
        storage.pointer.update(from: other.storage.pointer, count: count)
    }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let preview = count <= 16 ? "\(scalars)" : "\(Array(storage.buffer.prefix(8))) ..."
        return "Tensor(shape: \(shape), \(preview)\(requiresGrad ? ", requiresGrad" : ""))"
    }
}
