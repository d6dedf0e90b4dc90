import SensoriumData
import SensoriumTensor

/// One rank's share of the training batches of a data-parallel run.
///
/// Every rank plans the epoch with the **global** batch size (the rank batch times ``count``) from
/// the same generator (a pure function of the seed and the epoch), so all ranks agree on one
/// permutation of the trials and on every clip start. Global batch `g` of `B` trials is split in
/// contiguous parts: rank `r` gets trials `⌊r·B/count⌋ ..< ⌊(r+1)·B/count⌋`. With full batches,
/// `count` ranks with batch `b` see exactly the samples one process with batch `count·b` sees, in
/// the same rounds.
///
/// A global batch with fewer trials than ranks (an epoch's last, partial batch) would leave some
/// rank without samples, so it is dropped on every rank; a round left without batches is dropped.
/// Choose batch sizes so that this does not happen when comparing with a single-process run.
public struct DataShard: Sendable, Equatable, Codable {
    /// This rank, `0 ..< count`.
    public var rank: Int
    /// Number of ranks.
    public var count: Int

    /// The share of rank `rank` of `count` ranks.
    public init(rank: Int, count: Int) {
        precondition(count >= 1 && rank >= 0 && rank < count, "DataShard: rank \(rank) outside 0..<\(count)")
        self.rank = rank
        self.count = count
    }

    /// The positions of this rank's samples in a global batch of `size` samples.
    public func range(inBatchOf size: Int) -> Range<Int> {
        (rank * size / count)..<((rank + 1) * size / count)
    }

    /// This rank's part of a global batch plan (nil when the batch has fewer samples than ranks).
    public func part(of plan: BatchPlan) -> BatchPlan? {
        guard plan.trials.count >= count else { return nil }
        let r = range(inBatchOf: plan.trials.count)
        return BatchPlan(mouseIndex: plan.mouseIndex, trials: Array(plan.trials[r]), draws: Array(plan.draws[r]),
                         cutMix: plan.cutMix.isEmpty ? [] : Array(plan.cutMix[r]))
    }
}

extension MouseTrainingData {
    /// The epoch planned with the global batch, each round cut to this rank's parts.
    func shardedRounds(generator: RandomGenerator, shard: DataShard) -> TrainingRounds<MouseBatch> {
        let (_, plans, makers) = planEpoch(generator: generator, batchSize: batchSize * shard.count)
        let mice = datasets.count
        var roundSizes: [Int] = []
        var parts: [BatchPlan] = []
        for start in stride(from: 0, to: plans.count, by: mice) {
            let round = plans[start..<min(start + mice, plans.count)].compactMap { shard.part(of: $0) }
            guard !round.isEmpty else { continue }
            roundSizes.append(round.count)
            parts += round
        }
        let prefetch = self.prefetch, workers = self.workers
        let sizes = roundSizes, shardPlans = parts
        return TrainingRounds(count: sizes.count) { first in
            let skipped = sizes.prefix(first).reduce(0, +)
            let stream = BatchStream(plans: Array(shardPlans.dropFirst(skipped)), makers: makers,
                                     prefetch: prefetch, workers: workers)
            var round = first
            return {
                guard round < sizes.count else { return nil }
                defer { round += 1 }
                var batches: [MouseBatch] = []
                batches.reserveCapacity(sizes[round])
                for _ in 0..<sizes[round] {
                    guard let batch = try stream.next() else { return batches.isEmpty ? nil : batches }
                    batches.append(batch)
                }
                return batches
            }
        }
    }
}
