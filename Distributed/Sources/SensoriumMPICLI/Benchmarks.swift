import ArgumentParser
import Foundation
import Sensorium
import SensoriumMPI

/// Training steps per second and all-reduce time per step, for Documentation/Distributed.md.
///
/// With `--distributed` under `mpiexec -n N`, each rank trains its shard of global batches of
/// `N × batch` clips; without, one process trains batches of `batch` clips. The first `--warmup`
/// steps (and the initial validation) are not timed.
struct StepBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "step-bench",
                                                    abstract: "Time training steps, alone or as a rank of an MPI job.")

    @Argument(help: "Mouse folders.")
    var data: [String]
    @Option(help: "A preset or configuration file (default: the factorised baseline).")
    var config: String?
    @Option(help: "Clips per batch (per rank with --distributed).")
    var batchSize = 4
    @Option(help: "Frames per clip.")
    var frames = 60
    @Option(help: "Timed steps.")
    var steps = 10
    @Option(help: "Untimed steps first.")
    var warmup = 2
    @Flag(help: "Run as one rank of the MPI job.")
    var distributed = false

    func run() throws {
        let communicator: any Communicator = distributed ? try MPICommunicator.world() : SingleProcessCommunicator()
        var configuration = try config.map(TrainingRunConfiguration.load(fileOrPreset:)) ?? TrainingRunConfiguration()
        configuration.data.batchSize = batchSize
        configuration.data.frames = frames
        configuration.data.validationMaxFrames = frames
        configuration.trainer.earlyStopping = .fixedEpochs(1000)
        let datasets = try TrainingWorkflow.openDatasets(data, model: configuration.model, settings: configuration.data, forTraining: false)
        let model = try VideoModel(configuration: configuration.model, datasets: datasets)
        let settings = configuration.data
        let source = MouseTrainingData(datasets: datasets, batchSize: settings.batchSize, frames: settings.frames,
                                       validationTier: settings.validationTier, validationBatchSize: settings.validationBatchSize,
                                       validationMaxFrames: settings.validationMaxFrames, prefetch: settings.prefetch,
                                       workers: settings.workers)
        if communicator.size > 1 { source.shard = DataShard(rank: communicator.rank, count: communicator.size) }
        var logger = Logger(label: "sensorium.step-bench")
        logger.logLevel = .error
        let trainer = Trainer(model: model, data: source, configuration: configuration.trainer, logger: logger,
                              communicator: communicator)
        try trainer.fit(until: .steps(warmup))
        let mpi = communicator as? MPICommunicator
        let (reduceStart, callsStart) = (mpi?.allReduceSeconds ?? 0, mpi?.allReduceCalls ?? 0)
        let start = ContinuousClock.now
        try trainer.fit(until: .steps(warmup + steps))
        let elapsed = ContinuousClock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        var reduce = [(mpi?.allReduceSeconds ?? 0) - reduceStart]
        try communicator.allReduceSum(&reduce)
        guard communicator.isRoot else { return }
        let parameters = model.trainableParameterCount
        let line: [String: Any] = [
            "ranks": communicator.size, "rank_batch": batchSize, "global_batch": batchSize * communicator.size,
            "frames": frames, "steps": steps, "seconds": seconds, "steps_per_second": Double(steps) / seconds,
            "clips_per_second": Double(steps * batchSize * communicator.size) / seconds,
            "allreduce_seconds_per_step_mean_over_ranks": reduce[0] / Double(communicator.size) / Double(steps),
            "allreduce_calls_per_step": Double((mpi?.allReduceCalls ?? 0) - callsStart) / Double(steps),
            "trainable_parameters": parameters, "gradient_bytes_per_step": 4 * parameters,
            "threads_per_process": Parallel.threadCount, "load_average": loadAverage(),
        ]
        let json = try JSONSerialization.data(withJSONObject: line, options: [.sortedKeys])
        print(String(decoding: json, as: UTF8.self))
    }
}

/// The time of one all-reduce of `values` Floats (the fused gradient of a model of that many
/// parameters), averaged over repeats after a warm-up, as the slowest rank sees it.
struct AllReduceBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "allreduce-bench",
                                                    abstract: "Time MPI all-reduces of gradient-sized Float buffers.")

    @Option(parsing: .upToNextOption, help: "Buffer sizes in Float values.")
    var values: [Int] = [1_000, 100_000, 1_000_000, 10_000_000]
    @Option(help: "Timed repeats per size.")
    var repeats = 20

    func run() throws {
        let world = try MPICommunicator.world()
        var rows: [[String: Any]] = []
        for count in values {
            var buffer = [Float](repeating: Float(world.rank + 1), count: count)
            for _ in 0..<3 { try world.allReduceSum(&buffer) }
            try world.barrier()
            let start = ContinuousClock.now
            for _ in 0..<repeats { try world.allReduceSum(&buffer) }
            let elapsed = ContinuousClock.now - start
            var seconds = [(Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18) / Double(repeats)]
            var slowest = seconds
            try world.allReduceSum(&seconds)
            slowest[0] = seconds[0] / Double(world.size)
            rows.append(["values": count, "bytes": 4 * count, "seconds_mean_over_ranks": slowest[0],
                         "bus_gigabytes_per_second": 2 * Double(world.size - 1) / Double(world.size) * Double(4 * count) / slowest[0] / 1e9])
        }
        guard world.isRoot else { return }
        let out: [String: Any] = ["ranks": world.size, "load_average": loadAverage(), "sizes": rows]
        print(String(decoding: try JSONSerialization.data(withJSONObject: out, options: [.sortedKeys]), as: UTF8.self))
    }
}

/// The 1-minute load average (other builds share this machine).
func loadAverage() -> Double {
    (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8)).flatMap { Double($0.split(separator: " ").first ?? "") } ?? -1
}
