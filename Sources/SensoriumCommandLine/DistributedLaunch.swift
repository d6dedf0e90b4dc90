import Foundation
import Sensorium

/// Where `sensorium train --distributed` gets its ranks from.
///
/// The base tool has no transport between processes; an executable that links one (the
/// `sensorium-mpi` tool of the `Distributed/` package, over MPI) registers it before running the
/// commands:
/// ```swift
/// DistributedLaunch.register { try MPICommunicator.world() }
/// SensoriumCommand.main()     // `train --distributed` now trains as one rank of the MPI job
/// ```
public enum DistributedLaunch {
    /// Makes this process's communicator (called once, when a distributed command starts).
    public typealias Factory = @Sendable () throws -> any Communicator

    private final class Registry: @unchecked Sendable {
        let lock = NSLock()
        var factory: Factory?
    }
    private static let registry = Registry()

    /// Makes `factory` the source of the ranks of `--distributed` commands.
    public static func register(_ factory: @escaping Factory) {
        registry.lock.lock()
        defer { registry.lock.unlock() }
        registry.factory = factory
    }

    /// This process's communicator, or an error naming the tool to use.
    static func communicator() throws -> any Communicator {
        registry.lock.lock()
        let factory = registry.factory
        registry.lock.unlock()
        guard let factory else {
            throw SensoriumError.invalidConfiguration(
                source: "--distributed",
                message: "this sensorium has no transport between processes; build the sensorium-mpi tool (cd Distributed && swift build) and run it under mpiexec (see Documentation/Distributed.md)")
        }
        return try factory()
    }
}
