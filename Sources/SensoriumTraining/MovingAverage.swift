import SensoriumTensor
import SensoriumLayers

/// An exponential moving average of a module's weights (the "EMA model" of the winning SENSORIUM
/// 2023 entries): after every optimizer step, `average ← decay · average + (1 − decay) · weight`
/// for each parameter. Buffers (BatchNorm running statistics) are copied as they are, or, with
/// ``Configuration/averageBuffers`` (DwiseNeuro's `ModelEma`, which averages the whole state
/// dictionary), averaged like the parameters; BatchNorm's `num_batches_tracked` counters are always
/// copied (an average of a step counter is meaningless).
///
/// The average lives in its own tensors; ``withAveragedWeights(_:)`` swaps it into the module for
/// evaluation and swaps the training weights back afterwards.
public final class ExponentialMovingAverage {
    /// Settings of the moving average.
    public struct Configuration: Codable, Sendable, Equatable {
        /// The decay per update (0.999 in the first-place recipe).
        public var decay: Double
        /// Use `min(decay, (1 + n) / (10 + n))` at update `n`, so that the early average is not
        /// dominated by the random initialisation.
        public var warmup: Bool
        /// Average the buffers (BatchNorm running mean and variance) too, as DwiseNeuro's EMA of
        /// the full state dictionary does; false copies them.
        public var averageBuffers: Bool

        /// A configuration.
        public init(decay: Double = 0.999, warmup: Bool = false, averageBuffers: Bool = false) {
            precondition(decay >= 0 && decay <= 1, "ExponentialMovingAverage: decay must be in [0, 1], got \(decay)")
            self.decay = decay
            self.warmup = warmup
            self.averageBuffers = averageBuffers
        }

        /// DwiseNeuro's: decay 0.999 from the first step, buffers averaged.
        public static var dwiseNeuro: Configuration { Configuration(decay: 0.999, warmup: false, averageBuffers: true) }
    }

    /// The settings.
    public let configuration: Configuration
    /// The module being averaged.
    public let module: Module
    /// Number of updates so far.
    public private(set) var updates = 0
    private var parameters: [(path: String, live: Tensor, average: Tensor)]
    private var buffers: [(path: String, live: Tensor, average: Tensor)]

    /// Starts the average at the module's current weights.
    public init(module: Module, configuration: Configuration = .init()) {
        self.module = module
        self.configuration = configuration
        parameters = module.namedParameters().map { ($0.path, $0.tensor, $0.tensor.copy()) }
        buffers = module.namedBuffers().map { ($0.path, $0.tensor, $0.tensor.copy()) }
    }

    /// The decay used by the next update.
    public var currentDecay: Double {
        configuration.warmup ? Swift.min(configuration.decay, Double(1 + updates) / Double(10 + updates)) : configuration.decay
    }

    /// Folds the module's current weights into the average.
    public func update() {
        let weight = Float(1 - currentDecay)
        updates += 1
        let averaged = configuration.averageBuffers
            ? parameters + buffers.filter { !Self.isCounter($0.path) } : parameters
        for entry in averaged {
            let a = entry.average.storage.pointer, p = entry.live.storage.pointer
            Parallel.forRanges(entry.average.count, minimumPerThread: 65_536) { range in
                for i in range { a[i] = a[i] + weight * (p[i] - a[i]) }
            }
        }
        for entry in buffers where !configuration.averageBuffers || Self.isCounter(entry.path) {
            entry.average.assign(entry.live)
        }
    }

    /// Whether the buffer at `path` is a step counter (BatchNorm's `num_batches_tracked`).
    static func isCounter(_ path: String) -> Bool {
        path == "num_batches_tracked" || path.hasSuffix(".num_batches_tracked")
    }

    /// The averaged state dictionary (parameters and buffers by dotted path), as copies.
    public func stateDict() -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        for e in parameters { out[e.path] = e.average.copy() }
        for e in buffers { out[e.path] = e.average.copy() }
        return out
    }

    /// Replaces the average with `state` (for example a saved best average).
    public func load(_ state: [String: Tensor]) throws {
        for e in parameters + buffers {
            guard let t = state[e.path], t.shape == e.average.shape else {
                throw TrainingError.invalidState("moving average: no tensor of shape \(e.average.shape) for \(e.path)")
            }
        }
        for e in parameters + buffers { e.average.assign(state[e.path]!) }
    }

    /// Runs `body` with the averaged weights in the module, then restores the training weights.
    public func withAveragedWeights<R>(_ body: () throws -> R) rethrows -> R {
        let all = parameters + buffers
        let saved = all.map { $0.live.copy() }
        for e in all { e.live.assign(e.average) }
        defer { for (e, s) in zip(all, saved) { e.live.assign(s) } }
        return try body()
    }

    /// Copies the averaged weights into the module for good.
    public func copyToModule() {
        for e in parameters + buffers { e.live.assign(e.average) }
    }

    /// The state for checkpoints.
    public func stateRecord() -> StateRecord {
        var r = StateRecord()
        r.integers["updates"] = Int64(updates)
        for (k, v) in stateDict() { r.tensors[k] = v }
        return r
    }

    /// Restores a state saved by ``stateRecord()``.
    public func loadState(_ record: StateRecord) throws {
        guard let n = record.integers["updates"] else { throw TrainingError.invalidState("moving average: no update count") }
        try load(record.tensors)
        updates = Int(n)
    }
}

// MARK: - Decoding with defaults for missing keys

extension ExponentialMovingAverage.Configuration {
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = Self()
        self.init()
        decay = try c.value(.decay, or: d.decay)
        warmup = try c.value(.warmup, or: d.warmup)
        averageBuffers = try c.value(.averageBuffers, or: d.averageBuffers)
        try c.require(decay >= 0 && decay <= 1, .decay, "must be in [0, 1]")
    }
}
