/// Interleaves the loaders of several mice round-robin, like neuralpredictors' `LongCycler`:
/// an epoch is `mice × max(batches per mouse)` batches in strict mouse order 0, 1, …; every mouse
/// starts a fresh (reshuffled) pass at the start of an epoch, and a mouse with fewer batches
/// starts another pass when it runs out. One round (one batch of every mouse) is one optimizer
/// step of the reference's gradient accumulation.
///
/// A single prefetcher serves all mice, so memory is `prefetch` batches whatever the number of
/// mice.
///
/// ```swift
/// let cycler = MouseCycler(loaders: mice.map { MouseLoader(dataset: $0, tier: .train, generator: g.fork()) })
/// let epoch = cycler.epoch()
/// while let step = try epoch.nextStep() {          // one batch per mouse
///     for (mouse, batch) in step { accumulateGradients(mouse, batch) }
///     optimizer.step()
/// }
/// ```
public final class MouseCycler {
    /// One loader per mouse, in cycling order.
    public let loaders: [MouseLoader]
    private var pending: [[BatchPlan]]

    /// Cycles over `loaders` (their `mouseIndex` is set to their position).
    public init(loaders: [MouseLoader]) {
        precondition(!loaders.isEmpty, "MouseCycler: needs at least one loader")
        for (i, l) in loaders.enumerated() {
            l.mouseIndex = i
            precondition(l.batchesPerEpoch > 0, "MouseCycler: mouse \(l.dataset.name) has no batch in tier \(l.tier.rawValue)")
        }
        self.loaders = loaders
        self.pending = loaders.map { _ in [] }
    }

    /// Rounds (optimizer steps) per epoch: the largest number of batches of any mouse.
    public var stepsPerEpoch: Int { loaders.map(\.batchesPerEpoch).max() ?? 0 }

    /// Batches per epoch: `mice × stepsPerEpoch`.
    public var batchesPerEpoch: Int { loaders.count * stepsPerEpoch }

    private func nextPlan(_ mouse: Int) -> BatchPlan {
        if pending[mouse].isEmpty { pending[mouse] = loaders[mouse].planEpoch() }
        return pending[mouse].removeFirst()
    }

    /// Plans one cycler epoch.
    public func planEpoch() -> [BatchPlan] {
        // LongCycler makes new iterators every epoch: passes left unfinished are dropped.
        pending = loaders.map { _ in [] }
        var plans: [BatchPlan] = []
        plans.reserveCapacity(batchesPerEpoch)
        for _ in 0..<stepsPerEpoch {
            for m in loaders.indices { plans.append(nextPlan(m)) }
        }
        return plans
    }

    /// One epoch of interleaved batches, prefetched.
    public func epoch(prefetch: Int = 2, workers: Int = 1) -> CyclerEpoch {
        CyclerEpoch(stream: BatchStream(plans: planEpoch(), makers: loaders.map(\.maker), prefetch: prefetch, workers: workers),
                    mice: loaders.count)
    }
}

/// One epoch of a `MouseCycler`.
public final class CyclerEpoch {
    private let stream: BatchStream
    private let mice: Int

    init(stream: BatchStream, mice: Int) {
        self.stream = stream
        self.mice = mice
    }

    /// Number of batches.
    public var count: Int { stream.count }

    /// The next batch and the index of its mouse, nil at the end.
    public func next() throws -> (mouseIndex: Int, batch: MouseBatch)? { try stream.nextWithMouse() }

    /// The next round: one batch of every mouse in order, nil at the end.
    public func nextStep() throws -> [(mouseIndex: Int, batch: MouseBatch)]? {
        var step: [(mouseIndex: Int, batch: MouseBatch)] = []
        for _ in 0..<mice {
            guard let b = try stream.nextWithMouse() else { return step.isEmpty ? nil : step }
            step.append(b)
        }
        return step
    }

    /// Stops background work early.
    public func cancel() { stream.cancel() }
}
