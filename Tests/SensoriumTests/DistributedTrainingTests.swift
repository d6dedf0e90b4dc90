import Testing
import Foundation
import Logging
@testable import Sensorium
@testable import SensoriumTraining

/// Runs `body(rank)` for every rank of a group on its own thread (big stacks for autodiff) and
/// returns the results in rank order; rethrows the first error.
/// Each rank's body builds its own objects; shared inputs are only read.
func runRanks<R>(_ size: Int, _ body: @escaping (ThreadCommunicator) throws -> R) throws -> [R] {
    let communicators = ThreadCommunicator.group(size: size, timeout: .seconds(300))
    let box = RankResults<R>()
    let work = UncheckedSendable(value: body)
    let done = DispatchGroup()
    for c in communicators {
        done.enter()
        let thread = Thread {
            let r = Result { try work.value(c) }
            box.lock.lock(); box.results[c.rank] = r; box.lock.unlock()
            done.leave()
        }
        thread.stackSize = 64 << 20
        thread.start()
    }
    done.wait()
    return try (0..<size).map { try box.results[$0]!.get() }
}

final class RankResults<R>: @unchecked Sendable {
    let lock = NSLock()
    var results: [Int: Result<R, any Error>] = [:]
}

struct UncheckedSendable<T>: @unchecked Sendable {
    let value: T
}

/// A small model with batch normalisation in its core and no random draws in training (a
/// factorised readout), so that data-parallel and single-process runs can be compared exactly.
enum DistributedFixture {
    static func modelConfiguration() -> VideoModelConfiguration {
        let core = Factorized3dCore.Configuration(inputChannels: 3, hiddenChannels: [4, 6], spatialInputKernel: [5, 5],
                                                  temporalInputKernel: 5, spatialHiddenKernel: [3, 3], temporalHiddenKernel: 3)
        return VideoModelConfiguration(seed: 4, core: .factorized3d(core), readout: .factorized(), shifter: nil)
    }

    struct Run: Sendable {
        var parameters: [String: [Float]]
        var correlations: [Double]
        var losses: [Double]
    }

    /// Trains `epochs` epochs on the tiny mouse with rank batch `batch` as one rank of `communicator`
    /// (its shard of every global batch when there are several ranks).
    static func train(batch: Int, epochs: Int, communicator: any Communicator, synchronizedBatchNorm: Bool = true,
                      seed: UInt64 = 3) throws -> Run {
        let dataset = try TinyMouse.dataset()
        let model = try VideoModel(configuration: modelConfiguration(), datasets: [dataset])
        freezeBiasesBeforeBatchNorm(model)
        let data = MouseTrainingData(datasets: [dataset], batchSize: batch, frames: 24, validationBatchSize: 2,
                                     validationMaxFrames: 60, prefetch: 0)
        if communicator.size > 1 { data.shard = DataShard(rank: communicator.rank, count: communicator.size) }
        var configuration = TrainerConfiguration.reference
        configuration.earlyStopping = .fixedEpochs(epochs)
        configuration.seed = seed
        let trainer = Trainer(model: model, data: data, configuration: configuration, logger: Logger(label: "test"),
                              communicator: communicator, synchronizedBatchNorm: synchronizedBatchNorm)
        try trainer.fit()
        let state = model.stateDict()
        return Run(parameters: state.mapValues(\.scalars), correlations: trainer.history.compactMap { $0.validation?.correlation },
                   losses: trainer.history.compactMap(\.trainingLoss))
    }

    /// The convolution biases that feed straight into a batch normalisation have a zero gradient
    /// in exact arithmetic (the normalisation removes every per-channel shift); in Float it is
    /// rounding noise (~1e-9), which Adam's `m/√v` turns into ±lr steps whose signs depend on the
    /// order of summation. Comparing two summation orders, they are frozen (as they should be in a
    /// model that normalises right after them).
    static func freezeBiasesBeforeBatchNorm(_ model: Module) {
        for (path, p) in model.namedParameters() where path.hasPrefix("core.features.") && path.contains(".conv_") && path.hasSuffix(".bias") {
            p.requiresGrad = false
        }
    }

    static func maxDifference(_ a: [String: [Float]], _ b: [String: [Float]]) -> Float {
        precondition(a.keys.sorted() == b.keys.sorted(), "different state keys")
        var worst: Float = 0
        for (key, x) in a { for (u, v) in zip(x, b[key]!) { worst = max(worst, abs(u - v)) } }
        return worst
    }
}

@Suite(.serialized) struct DistributedTrainingTests {
    @Test func threadCommunicatorSumsInRankOrderAndBroadcasts() throws {
        let results = try runRanks(3) { c -> [Double] in
            var floats: [Float] = [Float(c.rank) + 0.1, 1e8, -1e8 + Float(c.rank)]
            try c.allReduceSum(&floats)
            var doubles = [Double(c.rank) * 0.5, 1]
            try c.allReduceSum(&doubles)
            var fromTwo = [Double(c.rank)]
            try c.broadcast(&fromTwo, root: 2)
            try c.barrier()
            return floats.map(Double.init) + doubles + fromTwo
        }
        let expectedFloat: [Float] = [(0.1 as Float) + 1.1 + 2.1, 1e8 + 1e8 + 1e8, ((-1e8 as Float) + (-1e8 + 1)) + (-1e8 + 2)]
        for r in results {
            #expect(r == results[0], "every rank has the same bits")
            #expect(Array(r[0..<3]) == expectedFloat.map(Double.init), "Float sums in rank order")
            #expect(Array(r[3...]) == [1.5, 3, 2])
        }
    }

    @Test func aMissingRankIsAnErrorNotAHang() throws {
        let communicators = ThreadCommunicator.group(size: 2, timeout: .milliseconds(200))
        var values = [1.0]
        #expect(throws: CommunicatorError.self) { try communicators[0].allReduceSum(&values) }
        // The group stays broken: the late rank learns about it too.
        #expect(throws: CommunicatorError.self) { try communicators[1].allReduceSum(&values) }
    }

    @Test func differentCollectivesOnTwoRanksAreAnError() throws {
        #expect(throws: CommunicatorError.self) {
            _ = try runRanks(2) { c in
                var v = [Double](repeating: 1, count: c.rank + 1)
                try c.allReduceSum(&v)
            }
        }
    }

    /// Synchronised batch normalisation on two halves of a batch computes what plain batch
    /// normalisation computes on the whole batch: outputs, running statistics, input gradients,
    /// and affine gradients once summed over ranks.
    @Test func synchronizedBatchNormEqualsTheWholeBatch() throws {
        let g = RandomGenerator(seed: 12)
        let x = Tensor.randomNormal([4, 3, 2, 5], generator: g) * 2 + 0.5
        let upstream = Tensor.randomNormal([4, 3, 2, 5], generator: g)
        func run(_ input: Tensor, _ up: Tensor, reducer: (any BatchStatisticsReducer)?) -> (y: [Float], dx: [Float], dw: [Float], db: [Float], rm: [Float], rv: [Float]) {
            let layer = BatchNorm2d(3)
            layer.weight!.assign(Tensor([1.5, 0.5, -1], shape: [3]))
            layer.statisticsReducer = reducer
            layer.train()
            let xi = input.copy()
            xi.requiresGrad = true
            let y = layer(xi)
            (y * up).sum().backward()
            return (y.scalars, xi.grad!.scalars, layer.weight!.grad!.scalars, layer.bias!.grad!.scalars,
                    layer.runningMean!.scalars, layer.runningVar!.scalars)
        }
        let whole = run(x, upstream, reducer: nil)
        let halves = try runRanks(2) { c in
            let part = c.rank * 2..<(c.rank * 2 + 2)
            let r = run(x.sliced(axis: 0, range: part), upstream.sliced(axis: 0, range: part),
                        reducer: CommunicatorStatisticsReducer(communicator: c))
            return [r.y, r.dx, r.dw, r.db, r.rm, r.rv]
        }
        func close(_ a: [Float], _ b: [Float], _ what: String) {
            #expect(a.count == b.count)
            let worst = zip(a, b).map { abs($0 - $1) / max(1, abs($1)) }.max() ?? 0
            // Float rounding of sums taken in another order: a few ulps of values of order 1.
            #expect(worst < 1e-5, "\(what): worst relative difference \(worst)")
        }
        close(halves[0][0] + halves[1][0], whole.y, "outputs")
        close(halves[0][1] + halves[1][1], whole.dx, "input gradients")
        close(zip(halves[0][2], halves[1][2]).map(+), whole.dw, "weight gradient summed over ranks")
        close(zip(halves[0][3], halves[1][3]).map(+), whole.db, "bias gradient summed over ranks")
        close(halves[0][4], whole.rm, "running mean")
        close(halves[1][5], whole.rv, "running variance")
        // Without the reducer each half is normalised on its own: visibly different.
        let alone = run(x.sliced(axis: 0, range: 0..<2), upstream.sliced(axis: 0, range: 0..<2), reducer: nil)
        let gap = zip(alone.y, whole.y.prefix(alone.y.count)).map { abs($0 - $1) }.max() ?? 0
        #expect(gap > 1e-2, "the halves' own statistics differ from the batch's (gap \(gap))")
    }

    @Test func dataShardsPartitionEveryGlobalBatch() throws {
        let dataset = try TinyMouse.dataset()
        let whole = MouseTrainingData(datasets: [dataset], batchSize: 4, frames: 24, prefetch: 0)
        let (_, plans, _) = whole.planEpoch(generator: RandomGenerator(seed: 5))
        var parts: [[BatchPlan]] = []
        for rank in 0..<2 {
            let data = MouseTrainingData(datasets: [dataset], batchSize: 2, frames: 24, prefetch: 0)
            data.shard = DataShard(rank: rank, count: 2)
            let rounds = try data.trainingRounds(epoch: 0, generator: RandomGenerator(seed: 5))
            #expect(rounds.count == 2, "6 trials in global batches of 4 and 2")
            parts.append(plans.compactMap { DataShard(rank: rank, count: 2).part(of: $0) })
        }
        for (k, plan) in plans.enumerated() {
            #expect(parts[0][k].trials + parts[1][k].trials == plan.trials)
            #expect(parts[0][k].draws + parts[1][k].draws == plan.draws)
        }
        // A global batch smaller than the rank count is dropped on every rank.
        #expect(DataShard(rank: 0, count: 3).part(of: BatchPlan(trials: [1, 2], draws: [0, 0])) == nil)
    }

    /// The validation correlation scored by two ranks (each a share of the batches, the pooled
    /// sums reduced) equals the single-process one to Double rounding.
    @Test func validationOverRanksEqualsOneProcess() throws {
        func score(_ communicator: any Communicator) throws -> ValidationResult {
            let dataset = try TinyMouse.dataset()
            let model = try VideoModel(configuration: DistributedFixture.modelConfiguration(), datasets: [dataset])
            let data = MouseTrainingData(datasets: [dataset], batchSize: 2, frames: 24, validationBatchSize: 2,
                                         validationMaxFrames: 60, prefetch: 0)
            return try validationCorrelation(of: model, on: data, skipFrames: 10, communicator: communicator)
        }
        let single = try score(SingleProcessCommunicator())
        let ranks = try runRanks(2) { try score($0) }
        #expect(single.batches == 3 && ranks[0].batches == 3)
        #expect(ranks[0] == ranks[1], "every rank has the same result")
        #expect(abs(ranks[0].correlation - single.correlation) < 1e-12,
                "two ranks \(ranks[0].correlation), one process \(single.correlation)")
        #expect(abs(single.correlation) > 1e-3, "a non-trivial score")
    }

    /// The criterion: 2 ranks with batch 1 end with the parameters of 1 process with batch
    /// 2 after 6 steps (2 epochs of 3 global batches), with synchronised batch normalisation.
    @Test func twoRanksWithBatchBTrainLikeOneWithBatch2B() throws {
        let one = try DistributedFixture.train(batch: 2, epochs: 2, communicator: SingleProcessCommunicator())
        let two = try runRanks(2) { try DistributedFixture.train(batch: 1, epochs: 2, communicator: $0) }
        #expect(two[0].parameters == two[1].parameters, "the replicas are bit-identical")
        let gap = DistributedFixture.maxDifference(two[0].parameters, one.parameters)
        // Each step's gradient equals the single-process one up to Float summation order (the
        // batch's sums are split in two and added once more, relative 1e-7 per sum); Adam turns a
        // relative gradient change ε into an update change of at most ~lr·ε/(1 − β) per step, far
        // below 1e-4 over 6 steps of lr 5e-3. A wrong sum/mean choice or unsynchronised statistics
        // differ by 1e-3 or more (checked below).
        #expect(gap < 1e-4, "largest parameter difference \(gap)")
        #expect(DistributedFixture.maxDifference(two[0].parameters, two[1].parameters) == 0)
        #expect(one.correlations.count == 3 && two[0].correlations.count == 3)
        for (a, b) in zip(two[0].correlations, one.correlations) {
            // The same weights up to ~1e-6 give correlations within ~1e-7 (measured 5e-8).
            #expect(abs(a - b) < 1e-6, "validation correlation \(a) with 2 ranks, \(b) with one")
        }
        for (a, b) in zip(two[0].losses, one.losses) {
            #expect(abs(a - b) <= 1e-4 * abs(b), "training loss \(a) with 2 ranks, \(b) with one")
        }
        // The comparison can fail: each rank's own BatchNorm statistics move the parameters measurably.
        let unsynchronized = try runRanks(2) {
            try DistributedFixture.train(batch: 1, epochs: 2, communicator: $0, synchronizedBatchNorm: false)
        }
        let unsynchronizedGap = DistributedFixture.maxDifference(unsynchronized[0].parameters, one.parameters)
        #expect(unsynchronizedGap > 10 * gap && unsynchronizedGap > 1e-4,
                "unsynchronised statistics differ by \(unsynchronizedGap), synchronised by \(gap)")
    }

    /// A resumed data-parallel run ends where the uninterrupted one ends.
    @Test func resumeIsExactOverRanks() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("sensorium-ddp-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("checkpoint.h5")
        func trainer(_ c: any Communicator) throws -> (Trainer<VideoModel, MouseTrainingData>, VideoModel) {
            let dataset = try TinyMouse.dataset()
            let model = try VideoModel(configuration: DistributedFixture.modelConfiguration(), datasets: [dataset])
            DistributedFixture.freezeBiasesBeforeBatchNorm(model)
            let data = MouseTrainingData(datasets: [dataset], batchSize: 1, frames: 24, validationBatchSize: 2,
                                         validationMaxFrames: 60, prefetch: 0)
            data.shard = DataShard(rank: c.rank, count: c.size)
            var configuration = TrainerConfiguration.reference
            configuration.earlyStopping = .fixedEpochs(2)
            let t = Trainer(model: model, data: data, configuration: configuration, logger: Logger(label: "test"), communicator: c)
            return (t, model)
        }
        let straight = try runRanks(2) { c in
            let (t, m) = try trainer(c)
            try t.fit()
            return m.stateDict().mapValues(\.scalars)
        }
        let resumed = try runRanks(2) { c in
            let (t, _) = try trainer(c)
            t.checkpointURL = url
            try t.fit(until: .steps(4))
            try c.barrier()
            let (again, m) = try trainer(c)
            try again.restore(from: url)
            #expect(again.globalStep == 4)
            try again.fit()
            return m.stateDict().mapValues(\.scalars)
        }
        #expect(resumed[0] == straight[0], "resumed at step 4 of 6, the parameters are bit-identical")
        #expect(resumed[1] == resumed[0])
    }
}
