import SensoriumTensor

/// A stack of ``ParallelTransformerBlock``s applied in order (keys `blocks.0.…`, `blocks.1.…`):
/// ViV1T's spatial transformer (sequences of the P patches of one frame) or temporal transformer
/// (sequences of the T' frames of one patch). (N, L, C) → (N, L, C).
public final class ViViTTransformer: Module, UnaryLayer {
    /// The blocks.
    public let blocks: [ParallelTransformerBlock]

    /// `depth` blocks with the core's sizes, initial weights drawn from `generator`.
    public init(depth: Int, configuration c: ViViTCore.Configuration, generator: RandomGenerator) {
        precondition(depth >= 0, "ViViTTransformer: depth must not be negative, got \(depth)")
        blocks = (0..<depth).map { _ in
            ParallelTransformerBlock(embeddingDim: c.embeddingDim, heads: c.heads, headDim: c.headDim, mlpDim: c.mlpDim,
                                     attentionDropout: c.attentionDropout, feedForwardDropout: c.feedForwardDropout,
                                     dropPath: c.dropPath, attentionBlockSize: c.attentionBlockSize, generator: generator)
        }
        for block in blocks { block.gradientCheckpointing = c.gradientCheckpointing }
        super.init()
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        blocks.reduce(x) { $1($0) }
    }

    override public var extraDescription: String { "depth: \(blocks.count)" }
}
