// sensorium-mpi: the `sensorium` commands with `train --distributed` over MPI, plus the
// measurements of Documentation/Distributed.md (`step-bench`, `allreduce-bench`).
//
//   mpiexec -n 2 sensorium-mpi train --distributed mice/ -o run/ --batch-size 4
//
// An error on one rank aborts the whole job (MPI_Abort), so the other ranks never wait for it.
import ArgumentParser
import Foundation
import Sensorium
import SensoriumCommandLine
import SensoriumMPI

DistributedLaunch.register { try MPICommunicator.world() }

let arguments = Array(CommandLine.arguments.dropFirst())
do {
    switch arguments.first {
    case "step-bench":
        let command = try StepBench.parse(Array(arguments.dropFirst()))
        try command.run()
    case "compare-runs":
        let command = try CompareRuns.parse(Array(arguments.dropFirst()))
        try command.run()
    case "preset-volume":
        let command = try PresetVolume.parse(Array(arguments.dropFirst()))
        try command.run()
    case "allreduce-bench":
        let command = try AllReduceBench.parse(Array(arguments.dropFirst()))
        try command.run()
    default:
        var command = try SensoriumCommand.parseAsRoot(arguments)
        try command.run()
    }
} catch {
    if MPICommunicator.isActive, let world = try? MPICommunicator.world(), world.size > 1, !(error is CleanExit) {
        FileHandle.standardError.write(Data("sensorium-mpi rank \(world.rank) of \(world.size): \(SensoriumCommand.message(for: error))\nstopping every rank (MPI_Abort)\n".utf8))
        MPICommunicator.abort(code: 1)
    }
    MPICommunicator.finalize()
    SensoriumCommand.exit(withError: error)
}
MPICommunicator.finalize()
