public import SensoriumTensor

/// A light rows × neurons block of Float32 values in row-major order: the frames of one trial
/// (responses or predictions), or the repeats of one stimulus condition.
///
/// The metrics accept either these or rank-2 `Tensor`s of shape `[rows, neurons]`; tensors are read
/// in place, never copied.
public struct ResponseMatrix: Sendable, Equatable {
    /// The values, `rows * neurons` of them, neuron index fastest.
    public var values: [Float]
    /// Number of rows (frames of a trial, or repeats of a condition).
    public let rows: Int
    /// Number of neurons (columns).
    public let neurons: Int

    /// Wraps `values` (row-major, `rows * neurons` elements).
    public init(values: [Float], rows: Int, neurons: Int) {
        precondition(rows >= 0 && neurons >= 0, "ResponseMatrix: negative shape [\(rows), \(neurons)]")
        precondition(values.count == rows * neurons,
                     "ResponseMatrix: \(values.count) values do not fill shape [\(rows), \(neurons)]")
        self.values = values
        self.rows = rows
        self.neurons = neurons
    }

    /// Copies a rank-2 tensor of shape `[rows, neurons]`.
    public init(_ tensor: Tensor) {
        precondition(tensor.rank == 2, "ResponseMatrix: expected a tensor of shape [rows, neurons], got \(tensor.shape)")
        self.init(values: tensor.scalars, rows: tensor.shape[0], neurons: tensor.shape[1])
    }

    /// The value at `row`, `neuron`.
    public subscript(row: Int, neuron: Int) -> Float {
        get { values[row * neurons + neuron] }
        set { values[row * neurons + neuron] = newValue }
    }

    /// The same values as a `[rows, neurons]` tensor.
    public var tensor: Tensor { Tensor(values, shape: [rows, neurons]) }
}

/// Read access to a list of rows × neurons blocks, whether `ResponseMatrix` values or tensors.
///
/// The metrics only read one block at a time through `withBlock`, so large test sets need not be
/// copied.
public protocol ResponseBlocks {
    /// Number of blocks (trials or conditions).
    var blockCount: Int { get }
    /// Rows of block `index`.
    func rows(of index: Int) -> Int
    /// Neurons (columns) of block `index`.
    func neurons(of index: Int) -> Int
    /// Calls `body` with the row-major values of block `index`.
    func withBlock<R>(_ index: Int, _ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R
}

extension Array: ResponseBlocks where Element == ResponseMatrix {
    public var blockCount: Int { count }
    public func rows(of index: Int) -> Int { self[index].rows }
    public func neurons(of index: Int) -> Int { self[index].neurons }
    public func withBlock<R>(_ index: Int, _ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        try self[index].values.withUnsafeBufferPointer(body)
    }
}

/// A list of rank-2 `[rows, neurons]` tensors viewed as response blocks (read in place).
public struct TensorBlocks: ResponseBlocks {
    /// The tensors, each of shape `[rows, neurons]`.
    public let tensors: [Tensor]

    /// Wraps `tensors`; each must have rank 2.
    public init(_ tensors: [Tensor]) {
        for (i, t) in tensors.enumerated() {
            precondition(t.rank == 2, "TensorBlocks: tensor \(i) has shape \(t.shape), expected [rows, neurons]")
        }
        self.tensors = tensors
    }

    public var blockCount: Int { tensors.count }
    public func rows(of index: Int) -> Int { tensors[index].shape[0] }
    public func neurons(of index: Int) -> Int { tensors[index].shape[1] }
    public func withBlock<R>(_ index: Int, _ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        try tensors[index].withUnsafeBufferPointer(body)
    }
}
