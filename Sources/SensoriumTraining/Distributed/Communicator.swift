import SensoriumTensor

/// Why a collective operation between the processes of a data-parallel run failed.
public struct CommunicatorError: Error, CustomStringConvertible, Equatable {
    /// What went wrong, for the user.
    public var message: String

    /// An error with a message.
    public init(_ message: String) { self.message = message }

    public var description: String { "distributed training: \(message)" }
}

/// The group of processes of a data-parallel training run, and the collective operations the
/// ``Trainer`` needs between them.
///
/// Every process (a *rank*, `0 ..< size`) calls the same collective operations in the same order
/// with buffers of the same length; each call returns once every rank has taken part. Sums must be
/// identical on every rank (bit for bit), so that the ranks' parameters never drift apart.
///
/// Implementations: ``SingleProcessCommunicator`` (one process, the default), ``ThreadCommunicator``
/// (ranks as threads of one process, for tests), and the MPI communicator of the `SensoriumMPI`
/// package in `Distributed/` (ranks as processes started by `mpiexec`).
public protocol Communicator: AnyObject {
    /// This process's index, `0 ..< size`; rank 0 decides, logs and writes checkpoints.
    var rank: Int { get }
    /// Number of processes.
    var size: Int { get }
    /// Replaces `values` by their element-wise sum over all ranks (same length on every rank).
    func allReduceSum(_ values: UnsafeMutableBufferPointer<Float>) throws
    /// Replaces `values` by their element-wise sum over all ranks (same length on every rank).
    func allReduceSum(_ values: UnsafeMutableBufferPointer<Double>) throws
    /// Replaces `values` on every rank by those of rank `root`.
    func broadcast(_ values: UnsafeMutableBufferPointer<Float>, root: Int) throws
    /// Replaces `values` on every rank by those of rank `root`.
    func broadcast(_ values: UnsafeMutableBufferPointer<Double>, root: Int) throws
    /// Returns once every rank has called it.
    func barrier() throws
}

extension Communicator {
    /// Whether this is rank 0, the rank that decides, logs and writes checkpoints.
    public var isRoot: Bool { rank == 0 }

    /// Replaces `values` by their element-wise sum over all ranks.
    public func allReduceSum(_ values: inout [Double]) throws {
        try values.withUnsafeMutableBufferPointer { try allReduceSum($0) }
    }

    /// Replaces `values` by their element-wise sum over all ranks.
    public func allReduceSum(_ values: inout [Float]) throws {
        try values.withUnsafeMutableBufferPointer { try allReduceSum($0) }
    }

    /// Replaces `values` by those of rank `root`.
    public func broadcast(_ values: inout [Double], root: Int = 0) throws {
        try values.withUnsafeMutableBufferPointer { try broadcast($0, root: root) }
    }

    /// Replaces `values` by those of rank `root`.
    public func broadcast(_ values: inout [Float], root: Int = 0) throws {
        try values.withUnsafeMutableBufferPointer { try broadcast($0, root: root) }
    }

    /// One value's sum over all ranks.
    public func sum(_ value: Double) throws -> Double {
        var v = [value]
        try allReduceSum(&v)
        return v[0]
    }
}

/// One process training alone: every collective is the identity. The ``Trainer``'s default.
public final class SingleProcessCommunicator: Communicator {
    /// A communicator of one rank.
    public init() {}
    public var rank: Int { 0 }
    public var size: Int { 1 }
    public func allReduceSum(_ values: UnsafeMutableBufferPointer<Float>) throws {}
    public func allReduceSum(_ values: UnsafeMutableBufferPointer<Double>) throws {}
    public func broadcast(_ values: UnsafeMutableBufferPointer<Float>, root: Int) throws {
        guard root == 0 else { throw CommunicatorError("broadcast from rank \(root) in a group of 1") }
    }
    public func broadcast(_ values: UnsafeMutableBufferPointer<Double>, root: Int) throws {
        guard root == 0 else { throw CommunicatorError("broadcast from rank \(root) in a group of 1") }
    }
    public func barrier() throws {}
}

/// Synchronised batch normalisation through a communicator: sums the statistics of every rank.
///
/// A failed reduction in the middle of a forward or backward pass cannot be recovered (the ranks
/// would disagree about the model), so it stops the process with the communicator's message.
public final class CommunicatorStatisticsReducer: BatchStatisticsReducer {
    /// The ranks whose statistics are summed.
    public let communicator: any Communicator

    /// A reducer over `communicator`'s ranks.
    public init(communicator: any Communicator) { self.communicator = communicator }

    public func sumOverProcesses(_ values: inout [Double]) {
        do {
            try communicator.allReduceSum(&values)
        } catch {
            fatalError("synchronised batch normalisation: \(error)")
        }
    }
}
