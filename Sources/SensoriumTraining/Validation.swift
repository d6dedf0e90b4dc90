import SensoriumTensor
import SensoriumMetrics

/// The validation score of a model: the reference's early-stopping objective.
public struct ValidationResult: Sendable, Equatable, Codable {
    /// Neuron-weighted mean single-trial correlation over all mice (the objective).
    public var correlation: Double
    /// Mean correlation of each mouse, in the order the mice first appeared.
    public var perMouse: [MouseScore]
    /// Number of batches scored.
    public var batches: Int

    /// One mouse's score.
    public struct MouseScore: Sendable, Equatable, Codable {
        /// The mouse.
        public var mouse: String
        /// Its mean single-trial correlation over neurons.
        public var correlation: Double
        /// Number of neurons.
        public var neurons: Int
    }
}

/// Accumulates the single-trial correlation (the paper's eq. 1) of predictions against targets,
/// per mouse, over batches: per neuron over all trials and frames pooled, skipping the first
/// `skipFrames` frames of every clip (the reference's `skip=50`).
///
/// Predictions `(B, T', N)` are aligned with the last `T'` of the `T` target frames; the frames
/// scored are the last `min(T', T − skipFrames)`.
public struct SingleTrialCorrelationAccumulator {
    /// Frames dropped at the start of every clip.
    public let skipFrames: Int
    private var mice: [String] = []
    private var accumulators: [String: CorrelationAccumulator] = [:]
    /// Number of batches added.
    public private(set) var batches = 0
    /// Non-finite (NaN, ±Inf) scored targets and predictions per mouse: a correlation over them
    /// would silently read as 0, so ``validationCorrelation(of:on:skipFrames:progress:)`` refuses them.
    public private(set) var nonFinite: [String: (targets: Int, predictions: Int)] = [:]

    /// An empty accumulator.
    public init(skipFrames: Int = defaultSkipFrames) {
        precondition(skipFrames >= 0, "SingleTrialCorrelationAccumulator: negative skipFrames \(skipFrames)")
        self.skipFrames = skipFrames
    }

    /// Adds one batch of a mouse.
    public mutating func add(mouse: String, predictions: Tensor, targets: Tensor) {
        precondition(predictions.rank == 3 && targets.rank == 3 && predictions.shape[0] == targets.shape[0]
                     && predictions.shape[2] == targets.shape[2] && predictions.shape[1] <= targets.shape[1],
                     "SingleTrialCorrelationAccumulator.add: predictions \(predictions.shape) must be (B, T', N) and targets \(targets.shape) (B, T, N) with T' ≤ T")
        let b = targets.shape[0], t = targets.shape[1], tp = predictions.shape[1], n = targets.shape[2]
        let frames = min(tp, t - skipFrames)
        guard frames > 0 else { return }
        if accumulators[mouse] == nil {
            mice.append(mouse)
            accumulators[mouse] = CorrelationAccumulator(neurons: n)
        }
        precondition(accumulators[mouse]!.neurons == n,
                     "SingleTrialCorrelationAccumulator.add: mouse \(mouse) had \(accumulators[mouse]!.neurons) neurons, this batch has \(n)")
        batches += 1
        targets.withUnsafeBufferPointer { r in
            predictions.withUnsafeBufferPointer { p in
                for s in 0..<b {
                    let rStart = (s * t + (t - frames)) * n
                    let pStart = (s * tp + (tp - frames)) * n
                    var badTargets = 0, badPredictions = 0
                    for i in rStart..<(rStart + frames * n) where !r[i].isFinite { badTargets += 1 }
                    for i in pStart..<(pStart + frames * n) where !p[i].isFinite { badPredictions += 1 }
                    if badTargets + badPredictions > 0 {
                        let seen = nonFinite[mouse] ?? (0, 0)
                        nonFinite[mouse] = (seen.targets + badTargets, seen.predictions + badPredictions)
                    }
                    accumulators[mouse]!.add(responses: UnsafeBufferPointer(rebasing: r[rStart..<(rStart + frames * n)]),
                                             predictions: UnsafeBufferPointer(rebasing: p[pStart..<(pStart + frames * n)]),
                                             rows: frames)
                }
            }
        }
    }

    /// Per-neuron correlations of every mouse, in order of first appearance.
    public func perNeuron() -> [(mouse: String, correlations: [Float])] {
        mice.map { ($0, accumulators[$0]!.correlations()) }
    }

    /// The neuron-weighted mean over mice, and each mouse's mean.
    public func result() -> ValidationResult {
        let all = perNeuron()
        let scores = all.map { entry -> ValidationResult.MouseScore in
            let mean = entry.correlations.isEmpty ? 0 : entry.correlations.reduce(0.0) { $0 + Double($1) } / Double(entry.correlations.count)
            return .init(mouse: entry.mouse, correlation: mean, neurons: entry.correlations.count)
        }
        return ValidationResult(correlation: all.isEmpty ? 0 : neuronWeightedMean(all.map(\.correlations)),
                                perMouse: scores, batches: batches)
    }
}

/// The validation single-trial correlation of `model` on `data`'s validation batches, computed in
/// evaluation mode without gradients (the mode is restored afterwards). `progress` is called with
/// the number of batches scored after each one.
public func validationCorrelation<Model: TrainableModel, Data: TrainingData>(
    of model: Model, on data: Data, skipFrames: Int = defaultSkipFrames, progress: ((Int) -> Void)? = nil
) throws -> ValidationResult where Model.Batch == Data.Batch {
    let wasTraining = model.isTraining
    model.eval()
    defer { model.train(wasTraining) }
    var accumulator = SingleTrialCorrelationAccumulator(skipFrames: skipFrames)
    var done = 0
    try withNoGrad {
        try data.forEachValidationBatch { batch in
            for part in batch.scoredParts(predictions: model.forward(batch), targets: batch.targetTensor()) {
                accumulator.add(mouse: part.mouse, predictions: part.predictions, targets: part.targets)
            }
            done += 1
            progress?(done)
        }
    }
    if let (mouse, counts) = accumulator.nonFinite.sorted(by: { $0.key < $1.key }).first {
        throw TrainingError.nonFiniteValidation(mouse: mouse, targets: counts.targets, predictions: counts.predictions)
    }
    return accumulator.result()
}

// MARK: Data-parallel validation

extension SingleTrialCorrelationAccumulator {
    /// Records that a batch of `mouse` with `neurons` neurons and `frames` target frames exists
    /// without scoring it (another rank scores it), so that every rank knows the same mice in the
    /// same order.
    mutating func register(mouse: String, neurons: Int, frames: Int) {
        guard frames - skipFrames > 0, accumulators[mouse] == nil else { return }
        mice.append(mouse)
        accumulators[mouse] = CorrelationAccumulator(neurons: neurons)
    }

    /// Pools the accumulators of every rank: afterwards each rank holds the accumulator of all
    /// batches scored by any rank (the pooled sums, exchanged in two all-reductions: the
    /// first-order sums give the pooled means, then the sums about those means). Every rank must
    /// have registered the same mice in the same order.
    mutating func pool(over communicator: any Communicator) throws {
        let neurons = mice.map { accumulators[$0]!.neurons }
        // Round 1: batches, then per mouse its row count, non-finite counts and first-order sums.
        var first: [Double] = [Double(batches), Double(mice.count)]
        for mouse in mice {
            let a = accumulators[mouse]!
            let bad = nonFinite[mouse] ?? (0, 0)
            first += [Double(a.sampleCount), Double(bad.targets), Double(bad.predictions)]
            first += a.firstOrderSums()
        }
        let layout = try communicator.sum(Double(first.count))
        guard layout == Double(first.count * communicator.size) else {
            throw CommunicatorError("validation: the ranks saw different validation sets (\(first.count) values here, \(Int(layout)) over \(communicator.size) ranks)")
        }
        try communicator.allReduceSum(&first)
        batches = Int(first[0])
        var means: [(r: [Double], p: [Double], count: Int)] = []
        var offset = 2
        for (m, mouse) in mice.enumerated() {
            let n = neurons[m]
            let count = Int(first[offset])
            let targets = Int(first[offset + 1]), predictions = Int(first[offset + 2])
            nonFinite[mouse] = targets + predictions > 0 ? (targets, predictions) : nil
            offset += 3
            let scale = count > 0 ? 1 / Double(count) : 0
            means.append((first[offset..<(offset + n)].map { $0 * scale }, first[(offset + n)..<(offset + 2 * n)].map { $0 * scale }, count))
            offset += 2 * n
        }
        // Round 2: sums about the pooled means.
        var second: [Double] = []
        for (m, mouse) in mice.enumerated() {
            second += accumulators[mouse]!.centeredSums(meanResponses: means[m].r, meanPredictions: means[m].p)
        }
        try communicator.allReduceSum(&second)
        offset = 0
        for (m, mouse) in mice.enumerated() {
            let n = neurons[m]
            accumulators[mouse] = CorrelationAccumulator(neurons: n, sampleCount: means[m].count, meanResponses: means[m].r,
                                                         meanPredictions: means[m].p,
                                                         centeredSums: Array(second[offset..<(offset + 5 * n)]))
            offset += 5 * n
        }
    }
}

/// The validation single-trial correlation of `model` on `data` computed by all ranks of
/// `communicator` together: batch `i` of the validation set is scored by rank `i mod size`, and
/// the sufficient statistics of the correlation (pooled sums per neuron) are summed over ranks, so
/// every rank gets the correlation of the whole set (equal to the single-process value up to the
/// order of Double summation, about 1e-12). With one rank it is
/// ``validationCorrelation(of:on:skipFrames:progress:)``. `progress` is called with the number of
/// batches seen (scored here or by another rank) after each one.
public func validationCorrelation<Model: TrainableModel, Data: TrainingData>(
    of model: Model, on data: Data, skipFrames: Int = defaultSkipFrames, communicator: any Communicator,
    progress: ((Int) -> Void)? = nil
) throws -> ValidationResult where Model.Batch == Data.Batch {
    guard communicator.size > 1 else {
        return try validationCorrelation(of: model, on: data, skipFrames: skipFrames, progress: progress)
    }
    let wasTraining = model.isTraining
    model.eval()
    defer { model.train(wasTraining) }
    var accumulator = SingleTrialCorrelationAccumulator(skipFrames: skipFrames)
    var index = 0
    try withNoGrad {
        try data.forEachValidationBatch { batch in
            defer {
                index += 1
                progress?(index)
            }
            let targets = batch.targetTensor()
            if index % communicator.size == communicator.rank {
                for part in batch.scoredParts(predictions: model.forward(batch), targets: targets) {
                    accumulator.add(mouse: part.mouse, predictions: part.predictions, targets: part.targets)
                }
            } else if targets.rank == 3 {
                accumulator.register(mouse: batch.mouse, neurons: targets.shape[2], frames: targets.shape[1])
            }
        }
    }
    try accumulator.pool(over: communicator)
    if let (mouse, counts) = accumulator.nonFinite.sorted(by: { $0.key < $1.key }).first {
        throw TrainingError.nonFiniteValidation(mouse: mouse, targets: counts.targets, predictions: counts.predictions)
    }
    return accumulator.result()
}
