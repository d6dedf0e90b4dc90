import CMPI
import Foundation
import SensoriumTraining

/// The ranks of an MPI job (`MPI_COMM_WORLD`) as a ``Communicator``: the processes started by
/// `mpiexec -n N` (or a scheduler such as Slurm's `srun`), one per machine or per socket.
///
/// Collectives are MPICH's non-blocking ones (`MPI_Iallreduce`, `MPI_Ibcast`, `MPI_Ibarrier`)
/// completed by polling with a deadline: a rank that dies makes `mpiexec` stop the whole job
/// (MPICH's process manager kills the other ranks), and a rank that hangs without dying makes the
/// others throw a ``CommunicatorError`` after ``timeout`` instead of waiting forever. Errors are
/// returned, not fatal (`MPI_ERRORS_RETURN`), and reported with MPI's message.
///
/// MPICH's sums are identical on every rank (each partial sum is combined once and distributed),
/// which keeps the replicas of a data-parallel run bit-identical.
public final class MPICommunicator: Communicator {
    public let rank: Int
    public let size: Int
    /// How long a collective waits for the other ranks before throwing.
    public var timeout: Duration
    /// Seconds spent inside all-reductions so far (the communication time of training steps).
    public private(set) var allReduceSeconds = 0.0
    /// Number of all-reductions and values reduced so far.
    public private(set) var allReduceCalls = 0, allReduceValues = 0
    private let comm: MPI_Comm

    /// The world communicator; initialises MPI on first use (MPI_THREAD_FUNNELED: only the calling
    /// thread communicates) with errors returned instead of aborting.
    /// - Parameter timeout: how long a collective waits (default: `SENSORIUM_MPI_TIMEOUT` seconds, else 600).
    public static func world(timeout: Duration? = nil) throws -> MPICommunicator {
        var initialized: Int32 = 0
        MPI_Initialized(&initialized)
        if initialized == 0 {
            var provided: Int32 = 0
            let rc = MPI_Init_thread(nil, nil, sensorium_MPI_THREAD_FUNNELED(), &provided)
            guard rc == sensorium_MPI_SUCCESS() else { throw CommunicatorError("MPI_Init_thread failed: \(errorString(rc))") }
        }
        let world = sensorium_MPI_COMM_WORLD()
        try check(MPI_Comm_set_errhandler(world, sensorium_MPI_ERRORS_RETURN()), "MPI_Comm_set_errhandler")
        var rank: Int32 = 0, size: Int32 = 0
        try check(MPI_Comm_rank(world, &rank), "MPI_Comm_rank")
        try check(MPI_Comm_size(world, &size), "MPI_Comm_size")
        let seconds = ProcessInfo.processInfo.environment["SENSORIUM_MPI_TIMEOUT"].flatMap(Double.init) ?? 600
        return MPICommunicator(comm: world, rank: Int(rank), size: Int(size),
                               timeout: timeout ?? .milliseconds(Int64(seconds * 1000)))
    }

    private init(comm: MPI_Comm, rank: Int, size: Int, timeout: Duration) {
        self.comm = comm
        self.rank = rank
        self.size = size
        self.timeout = timeout
    }

    /// Whether MPI was initialised in this process and not yet finalised.
    public static var isActive: Bool {
        var initialized: Int32 = 0, finalized: Int32 = 0
        MPI_Initialized(&initialized)
        MPI_Finalized(&finalized)
        return initialized != 0 && finalized == 0
    }

    /// Ends MPI normally (every rank must call it).
    public static func finalize() {
        if isActive { MPI_Finalize() }
    }

    /// Stops every rank of the job (after an error on this one, so that the others do not wait).
    public static func abort(code: Int32 = 1) -> Never {
        if isActive { MPI_Abort(sensorium_MPI_COMM_WORLD(), code) }
        exit(code)
    }

    public func allReduceSum(_ values: UnsafeMutableBufferPointer<Float>) throws {
        try reduce(values.baseAddress, values.count, sensorium_MPI_FLOAT(), "all-reduce of \(values.count) Float values")
    }

    public func allReduceSum(_ values: UnsafeMutableBufferPointer<Double>) throws {
        try reduce(values.baseAddress, values.count, sensorium_MPI_DOUBLE(), "all-reduce of \(values.count) Double values")
    }

    public func broadcast(_ values: UnsafeMutableBufferPointer<Float>, root: Int) throws {
        try bcast(values.baseAddress, values.count, sensorium_MPI_FLOAT(), root: root)
    }

    public func broadcast(_ values: UnsafeMutableBufferPointer<Double>, root: Int) throws {
        try bcast(values.baseAddress, values.count, sensorium_MPI_DOUBLE(), root: root)
    }

    public func barrier() throws {
        var request = sensorium_MPI_REQUEST_NULL()
        try Self.check(MPI_Ibarrier(comm, &request), "MPI_Ibarrier")
        try wait(&request, "barrier")
    }

    private func reduce(_ base: UnsafeMutableRawPointer?, _ count: Int, _ type: MPI_Datatype, _ what: String) throws {
        guard count > 0, let base else { return }
        precondition(count <= Int(Int32.max), "MPICommunicator: \(what) exceeds MPI's count limit")
        let start = ContinuousClock.now
        var request = sensorium_MPI_REQUEST_NULL()
        try Self.check(MPI_Iallreduce(sensorium_MPI_IN_PLACE(), base, Int32(count), type, sensorium_MPI_SUM(), comm, &request),
                       "MPI_Iallreduce")
        try wait(&request, what)
        let elapsed = ContinuousClock.now - start
        allReduceSeconds += Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        allReduceCalls += 1
        allReduceValues += count
    }

    private func bcast(_ base: UnsafeMutableRawPointer?, _ count: Int, _ type: MPI_Datatype, root: Int) throws {
        guard (0..<size).contains(root) else { throw CommunicatorError("broadcast from rank \(root) in a group of \(size)") }
        guard count > 0, let base else { return }
        precondition(count <= Int(Int32.max), "MPICommunicator: broadcast of \(count) values exceeds MPI's count limit")
        var request = sensorium_MPI_REQUEST_NULL()
        try Self.check(MPI_Ibcast(base, Int32(count), type, Int32(root), comm, &request), "MPI_Ibcast")
        try wait(&request, "broadcast of \(count) values from rank \(root)")
    }

    /// Polls a request until it completes or the deadline passes.
    private func wait(_ request: inout MPI_Request, _ what: String) throws {
        let deadline = ContinuousClock.now + timeout
        var done: Int32 = 0
        var polls = 0
        while true {
            try Self.check(MPI_Test(&request, &done, sensorium_MPI_STATUS_IGNORE()), "MPI_Test (\(what))")
            if done != 0 { return }
            polls += 1
            if polls < 10_000 {
                sched_yield()
            } else {
                if ContinuousClock.now > deadline {
                    throw CommunicatorError("rank \(rank) of \(size): \(what) got no answer from the other ranks within \(timeout) (a rank has died or hangs); stopping the job")
                }
                usleep(200)
            }
        }
    }

    private static func check(_ rc: Int32, _ call: String) throws {
        guard rc != sensorium_MPI_SUCCESS() else { return }
        throw CommunicatorError("\(call) failed: \(errorString(rc))")
    }

    private static func errorString(_ rc: Int32) -> String {
        var buffer = [CChar](repeating: 0, count: Int(sensorium_MPI_MAX_ERROR_STRING()) + 1)
        var length: Int32 = 0
        MPI_Error_string(rc, &buffer, &length)
        return String(decoding: buffer.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self) + " (code \(rc))"
    }
}
