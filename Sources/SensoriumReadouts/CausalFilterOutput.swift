import Foundation
import SensoriumTensor
import SensoriumLayers

/// An output nonlinearity followed by a learned causal temporal filter shared by all neurons:
/// `y(t) = Σₖ wₖ · f(x)(t − k)` for `k = 0 ..< taps`, with non-negative weights that sum to one
/// (the softmax of `logits`, key `logits`; the inner nonlinearity's keys under `inner.`).
///
/// Calcium indicators smooth a neuron's firing over time after the spike-generating nonlinearity,
/// which a pointwise nonlinearity after the readout cannot express; this layer restores that
/// order. Input and output `(B, T, neurons)`; output frame `t` reads input frames `t − taps + 1 … t`,
/// and the first frames, which lack that history, repeat the first frame instead (so a constant
/// stays constant, and the output has as many frames as the input).
public final class CausalFilterOutput: Module, UnaryLayer {
    /// The nonlinearity applied before the filter (nil: none).
    public let inner: (any UnaryLayer)?
    /// `(taps)`: the filter's weights are `softmax(logits)`; `logits[k]` weighs the frame `k` frames back.
    public private(set) var logits: Tensor

    /// A filter of `taps` weights (at least 1) after `inner`, starting close to the identity: the
    /// logits fall by `initialDecay` per frame back (weights ∝ e^(−initialDecay·k)).
    public init(inner: (any UnaryLayer)?, taps: Int, initialDecay: Float = 2) {
        precondition(taps >= 1, "CausalFilterOutput: taps must be at least 1, got \(taps)")
        self.inner = inner
        logits = Tensor((0..<taps).map { -initialDecay * Float($0) }, shape: [taps], requiresGrad: true)
        super.init()
    }

    /// The number of weights.
    public var taps: Int { logits.count }

    /// The current weights `(taps)`, summing to one.
    public var weights: [Float] { withNoGrad { logits.softmax(axis: 0).scalars } }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        precondition(x.rank == 3, "CausalFilterOutput: input must be (B, T, neurons), got \(x.shape)")
        let rates = inner.map { $0(x) } ?? x
        let frames = rates.shape[1]
        guard taps > 1, frames > 0 else { return rates }
        let w = logits.softmax(axis: 0)
        // The input after `taps − 1` copies of its first frame (the history it lacks); the input
        // delayed by k frames is then the window of `frames` frames that ends k frames early.
        let padded = Tensor.concatenate([rates.sliced(axis: 1, range: 0..<1).tiled(axis: 1, length: taps - 1), rates], axis: 1)
        var sum = rates * w.sliced(axis: 0, range: 0..<1)
        for k in 1..<taps {
            sum = sum + padded.sliced(axis: 1, range: (taps - 1 - k)..<(taps - 1 - k + frames)) * w.sliced(axis: 0, range: k..<(k + 1))
        }
        return sum
    }

    override public var extraDescription: String {
        "taps: \(taps), weights: [" + weights.map { String(format: "%.3f", $0) }.joined(separator: ", ") + "]"
    }

    /// An inner output nonlinearity followed by the causal filter (type `causalFilter`).
    public struct Configuration: OutputNonlinearityConfiguration, Equatable {
        public static var typeName: String { "causalFilter" }
        public static var defaults: Self { Self() }
        /// The number of frames the filter reads (the current one and `taps − 1` before it), at least 1.
        public var taps: Int = 8
        /// The nonlinearity before the filter.
        public var inner: AnyOutputNonlinearityConfiguration = .baseline
        public init() {}
        public init(taps: Int, inner: AnyOutputNonlinearityConfiguration = .baseline) {
            self.taps = taps
            self.inner = inner
        }
        public func makeLayer() throws -> (any UnaryLayer)? {
            guard taps >= 1 else {
                throw ComponentError.invalid(kind: OutputNonlinearityKind.name, type: Self.typeName, message: "taps must be at least 1, got \(taps)")
            }
            return CausalFilterOutput(inner: try inner.makeLayer(), taps: taps)
        }
        /// The inner nonlinearity's inverse: the weights sum to one, so a constant passes unchanged.
        public func inverse(_ y: Float) -> Float { inner.inverse(y) }
    }
}
