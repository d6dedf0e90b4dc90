import Foundation
import Logging
import SensoriumTensor
import SensoriumLayers

// Data-parallel training: the Trainer on a communicator.
//
// Every rank holds a full replica of the model, optimizer, schedule and early-stopping state and
// takes the same optimizer steps on the same summed gradient, so the replicas never drift apart.
//
// Why the gradients are summed, not averaged. The reference's data term for a batch of B samples
// of a mouse with K trials is L(B) = sqrt(K/B) · Σ_{i∈B} ℓ_i (a sum over samples, scaled). One
// process with the global batch B = N·b computes ∇L = sqrt(K/(N·b)) · Σ_{i∈B} ∇ℓ_i. Rank r with its
// b samples B_r computes, with the *global* batch size in its LossContext,
// ∇L_r = sqrt(K/(N·b)) · Σ_{i∈B_r} ∇ℓ_i, and Σ_r ∇L_r = ∇L exactly (the B_r partition B). With the
// rank's own batch size instead, Σ_r ∇L_r = sqrt(N) · ∇L and the mean would be ∇L / sqrt(N):
// neither the sum nor the mean is right, which is why the trainer passes the global size. Any loss
// that is a sum over samples (scaled or not) is handled the same way; a loss that averages over
// its batch would need its mean taken over the global batch. Regularisers depend on the
// parameters only, identical on every rank: rank 0 adds them, the others do not, so the sum
// counts them once. The gradient buffers of all parameters, a flag per parameter telling whether
// it received a gradient (a parameter no rank touched keeps no gradient, as in one process) and
// each batch's loss are all-reduced as one fused Float buffer.

extension Trainer {
    /// A trainer that is one rank of a data-parallel run over `communicator`'s ranks.
    ///
    /// Every rank builds the same model (its initial parameters are replaced by rank 0's when
    /// training starts, and checked by a checksum), the same configuration and a data source that
    /// gives the rank its share of every global batch (for ``MouseTrainingData``, set its
    /// ``MouseTrainingData/shard``). With one rank (``SingleProcessCommunicator``) the trainer is
    /// the plain single-process trainer, bit for bit.
    ///
    /// - Parameters:
    ///   - communicator: the ranks.
    ///   - synchronizedBatchNorm: whether every batch normalisation of the model computes its
    ///     training statistics over the batches of all ranks (then N ranks with batch b train
    ///     exactly like one process with batch N·b); otherwise each rank normalises with its own
    ///     batch's statistics.
    ///
    /// Rank 0 alone notifies the observers, logs below `.error` and writes checkpoints; the
    /// validation set is scored by all ranks together (see
    /// ``validationCorrelation(of:on:skipFrames:communicator:progress:)``) and early stopping follows rank
    /// 0's objective. Random draws of the model (dropout, readout sampling) come from streams
    /// reseeded for every (seed, rank, step).
    public convenience init(model: Model, data: Source, configuration: TrainerConfiguration = .reference,
                            loss: (any TrainingLoss)? = nil, logger: Logger = Logger(label: "sensorium.trainer"),
                            communicator: any Communicator, synchronizedBatchNorm: Bool = true) {
        var logger = logger
        if !communicator.isRoot { logger.logLevel = max(logger.logLevel, .error) }
        self.init(model: model, data: data, configuration: configuration, loss: loss, logger: logger)
        self.setCommunicator(communicator, synchronizedBatchNorm: synchronizedBatchNorm)
    }

    /// Rank 0's decision, on every rank.
    func distributedDecision(_ local: Bool) throws -> Bool {
        guard communicator.size > 1 else { return local }
        var flag = [local ? 1.0 : 0.0]
        try communicator.broadcast(&flag, root: 0)
        return flag[0] != 0
    }

    /// The tensors every replica must hold identically: parameters, buffers, and the moving
    /// average's shadow copies.
    private func replicatedTensors() -> [Tensor] {
        var tensors = model.parameters() + model.buffers()
        if let movingAverage {
            let state = movingAverage.stateDict()
            tensors += state.keys.sorted().map { state[$0]! }
        }
        return tensors
    }

    /// Copies rank 0's parameters and buffers to every rank, then checks that all replicas and
    /// counters agree (a 64-bit checksum of every value and of the step counters).
    func synchronizeReplicas() throws {
        let tensors = model.parameters() + model.buffers()
        let total = tensors.reduce(0) { $0 + $1.count }
        var flat = [Float](repeating: 0, count: total)
        var offset = 0
        for t in tensors {
            t.withUnsafeBufferPointer { src in for i in 0..<src.count { flat[offset + i] = src[i] } }
            offset += t.count
        }
        try communicator.broadcast(&flat, root: 0)
        offset = 0
        for t in tensors {
            t.withUnsafeMutableBufferPointer { dst in for i in 0..<dst.count { dst[i] = flat[offset + i] } }
            offset += t.count
        }
        if let movingAverage {
            var state = movingAverage.stateDict()
            let keys = state.keys.sorted()
            var shadow = keys.flatMap { state[$0]!.scalars }
            try communicator.broadcast(&shadow, root: 0)
            var at = 0
            for key in keys {
                let t = state[key]!
                state[key] = Tensor(Array(shadow[at..<(at + t.count)]), shape: t.shape)
                at += t.count
            }
            try movingAverage.load(state)
        }
        let local = replicaChecksum()
        var root = local
        try communicator.broadcast(&root, root: 0)
        let mismatches = try communicator.sum(root == local ? 0 : 1)
        if mismatches > 0 {
            throw CommunicatorError("the replicas differ after the broadcast from rank 0 (\(Int(mismatches)) of \(communicator.size) ranks have another checksum of the weights or counters: resumed from different checkpoints?)")
        }
        logger.info("\(communicator.size) replicas synchronised: \(total) values, checksum \(String(UInt64(local[0]) << 32 | UInt64(local[1]), radix: 16))")
    }

    /// FNV-1a over the bits of every replicated value and the step counters, as two exact 32-bit halves.
    private func replicaChecksum() -> [Double] {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        func mix(_ word: UInt64) { h = (h ^ word) &* 0x0000_0100_0000_01b3 }
        for t in replicatedTensors() {
            t.withUnsafeBufferPointer { for v in $0 { mix(UInt64(v.bitPattern)) } }
        }
        for c in [globalStep, roundInEpoch, earlyStopping.epoch] { mix(UInt64(bitPattern: Int64(c))) }
        return [Double(h >> 32), Double(h & 0xffff_ffff)]
    }

    /// Forward and backward passes of this rank's batches of a round, then one all-reduction of
    /// the fused gradients and losses; returns the round's loss summed over ranks.
    func accumulateDistributedGradients(_ round: [Model.Batch], epoch: Int) throws -> Double {
        // Random streams per (seed, rank, step): independent across ranks, reproducible on resume.
        for (i, g) in model.randomGenerators.enumerated() {
            var x = configuration.seed
            for word in [UInt64(communicator.rank), UInt64(globalStep), UInt64(i)] {
                x = (x ^ (word &+ 0x9E37_79B9_7F4A_7C15)) &* 0xBF58_476D_1CE4_E5B9
                x ^= x >> 31
            }
            g.reseed(x)
        }
        // The global batch size of each batch of the round, for the loss scale.
        var globalSizes = round.map { Double($0.batchSize) }
        let layout = try communicator.sum(Double(round.count))
        guard layout == Double(round.count * communicator.size) else {
            throw CommunicatorError("ranks have different numbers of batches in round \(roundInEpoch + 1) of epoch \(epoch + 1)")
        }
        try communicator.allReduceSum(&globalSizes)
        var losses: [Float] = []
        for (k, batch) in round.enumerated() {
            let targets = batch.targetTensor()
            let predictions = model.forward(batch)
            let context = LossContext(mouse: batch.mouse, batchSize: Int(globalSizes[k]), trialCount: data.trialCount(mouse: batch.mouse))
            var total = loss(predictions: predictions, targets: targets, context: context)
            if communicator.isRoot, let regularizer = model.regularizer(for: batch) { total = total + regularizer }
            losses.append(total.item)
            // Always backward, even on a non-finite loss: synchronised batch normalisation
            // exchanges statistics in the backward pass, and every rank must take part.
            total.backward()
        }
        let parameters = optimizer.parameters.map(\.tensor)
        let gradientCount = parameters.reduce(0) { $0 + $1.count }
        var fused = [Float](repeating: 0, count: gradientCount + parameters.count + losses.count)
        var offset = 0
        for (i, p) in parameters.enumerated() {
            if let g = p.grad {
                g.withUnsafeBufferPointer { src in for j in 0..<src.count { fused[offset + j] = src[j] } }
                fused[gradientCount + i] = 1
            }
            offset += p.count
        }
        for (k, l) in losses.enumerated() { fused[gradientCount + parameters.count + k] = l }
        try communicator.allReduceSum(&fused)
        offset = 0
        for (i, p) in parameters.enumerated() {
            if fused[gradientCount + i] > 0 {
                p.grad = Tensor(Array(fused[offset..<(offset + p.count)]), shape: p.shape)
            } else {
                p.grad = nil
            }
            offset += p.count
        }
        var roundLoss = 0.0
        for (k, batch) in round.enumerated() {
            let value = fused[gradientCount + parameters.count + k]
            guard value.isFinite else {
                optimizer.zeroGrad()
                throw TrainingError.nonFiniteLoss(epoch: epoch + 1, round: roundInEpoch + 1, mouse: batch.mouse, value: value)
            }
            roundLoss += Double(value)
        }
        return roundLoss
    }
}

extension ValidationResult {
    /// This result with rank 0's objective on every rank (early stopping is decided on rank 0).
    func decidedByRoot(_ communicator: any Communicator) throws -> ValidationResult {
        guard communicator.size > 1 else { return self }
        var value = [correlation]
        try communicator.broadcast(&value, root: 0)
        var out = self
        out.correlation = value[0]
        return out
    }
}
