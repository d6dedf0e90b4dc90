import Foundation

/// Ranks as threads of one process, for tests and for data-parallel training on one machine
/// without MPI: ``group(size:timeout:)`` makes `size` communicators sharing one rendezvous; run each in its
/// own thread (a `Thread`, not a shared pool that may run them one after another).
///
/// Sums are exact and deterministic: every rank adds the contributions in rank order
/// (`((v₀ + v₁) + v₂) + …`), so all ranks get the same bits, run after run.
///
/// A rank that does not arrive within ``timeout`` makes the others throw instead of waiting forever.
public final class ThreadCommunicator: Communicator, @unchecked Sendable {
    public let rank: Int
    public var size: Int { shared.size }
    private let shared: Rendezvous

    /// How long a collective waits for the other ranks before throwing.
    public var timeout: Duration {
        get { shared.timeout }
    }

    private init(rank: Int, shared: Rendezvous) {
        self.rank = rank
        self.shared = shared
    }

    /// `size` communicators of one group, rank 0 first.
    /// - Parameter timeout: how long a collective waits for the other ranks (default 120 s).
    public static func group(size: Int, timeout: Duration = .seconds(120)) -> [ThreadCommunicator] {
        precondition(size >= 1, "ThreadCommunicator.group: size must be at least 1, got \(size)")
        let shared = Rendezvous(size: size, timeout: timeout)
        return (0..<size).map { ThreadCommunicator(rank: $0, shared: shared) }
    }

    public func allReduceSum(_ values: UnsafeMutableBufferPointer<Float>) throws {
        try collective("allReduceSum(Float)", values.map(Double.init), root: nil) { all in
            // Float sums in rank order, identical on every rank.
            var out = [Float](repeating: 0, count: values.count)
            for contribution in all { for i in out.indices { out[i] += Float(contribution[i]) } }
            return out.map(Double.init)
        } apply: { result in
            for i in values.indices { values[i] = Float(result[i]) }
        }
    }

    public func allReduceSum(_ values: UnsafeMutableBufferPointer<Double>) throws {
        try collective("allReduceSum(Double)", Array(values), root: nil) { all in
            var out = [Double](repeating: 0, count: values.count)
            for contribution in all { for i in out.indices { out[i] += contribution[i] } }
            return out
        } apply: { result in
            for i in values.indices { values[i] = result[i] }
        }
    }

    public func broadcast(_ values: UnsafeMutableBufferPointer<Float>, root: Int) throws {
        try collective("broadcast(Float)", values.map(Double.init), root: root) { all in all[root] } apply: { result in
            for i in values.indices { values[i] = Float(result[i]) }
        }
    }

    public func broadcast(_ values: UnsafeMutableBufferPointer<Double>, root: Int) throws {
        try collective("broadcast(Double)", Array(values), root: root) { all in all[root] } apply: { result in
            for i in values.indices { values[i] = result[i] }
        }
    }

    public func barrier() throws {
        try collective("barrier", [], root: nil) { _ in [] } apply: { _ in }
    }

    /// Deposits this rank's contribution, waits for every rank, combines (each rank computes the
    /// same combination from the same contributions), and waits until every rank has read them.
    private func collective(_ name: String, _ contribution: [Double], root: Int?,
                            combine: ([[Double]]) -> [Double], apply: ([Double]) -> Void) throws {
        if let root, !(0..<size).contains(root) {
            throw CommunicatorError("\(name) from rank \(root) in a group of \(size)")
        }
        let all = try shared.exchange(rank: rank, name: name, contribution)
        let result = combine(all)
        apply(result)
        try shared.release(rank: rank, name: name)
    }
}

/// The shared state of a ``ThreadCommunicator`` group: a two-phase barrier carrying contributions.
private final class Rendezvous: @unchecked Sendable {
    let size: Int
    let timeout: Duration
    private let condition = NSCondition()
    private var contributions: [[Double]?]
    private var names: [String?]
    private var arrived = 0
    private var departed = 0
    private var generation = 0
    private var broken: String?

    init(size: Int, timeout: Duration) {
        self.size = size
        self.timeout = timeout
        contributions = Array(repeating: nil, count: size)
        names = Array(repeating: nil, count: size)
    }

    private func deadline() -> Date {
        let c = timeout.components
        return Date(timeIntervalSinceNow: Double(c.seconds) + Double(c.attoseconds) * 1e-18)
    }

    /// Phase 1: every rank's contribution, once all have arrived.
    func exchange(rank: Int, name: String, _ contribution: [Double]) throws -> [[Double]] {
        condition.lock()
        defer { condition.unlock() }
        // Wait until the previous collective has been left by every rank.
        let until = deadline()
        while departed != 0 && broken == nil {
            if !condition.wait(until: until) { try fail("rank \(rank) waited more than \(timeout) to start \(name)") }
        }
        if let broken { throw CommunicatorError(broken) }
        contributions[rank] = contribution
        names[rank] = name
        arrived += 1
        let myGeneration = generation
        if arrived == size {
            let kinds = Set(names.compactMap { $0 })
            let counts = Set(contributions.map { $0?.count ?? -1 })
            if kinds.count != 1 || counts.count != 1 {
                try fail("ranks called different collectives (\(names.map { $0 ?? "?" })) or lengths (\(contributions.map { $0?.count ?? -1 }))")
            }
            generation += 1
            condition.broadcast()
        } else {
            while generation == myGeneration && broken == nil {
                if !condition.wait(until: until) {
                    try fail("rank \(rank) waited more than \(timeout) in \(name) for the other ranks (\(arrived) of \(size) arrived)")
                }
            }
        }
        if let broken { throw CommunicatorError(broken) }
        return contributions.map { $0! }
    }

    /// Phase 2: the last rank to leave clears the contributions.
    func release(rank: Int, name: String) throws {
        condition.lock()
        defer { condition.unlock() }
        departed += 1
        if departed == size {
            for i in 0..<size { contributions[i] = nil; names[i] = nil }
            arrived = 0
            departed = 0
            condition.broadcast()
        }
    }

    private func fail(_ message: String) throws -> Never {
        broken = broken ?? message
        condition.broadcast()
        throw CommunicatorError(broken!)
    }
}
