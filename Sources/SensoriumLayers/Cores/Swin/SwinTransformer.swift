import SensoriumTensor

/// The stack of ``SwinBlock``s of Dynamic-V1FM's core with their shared ``SwinDropPath``.
///
/// Keys: `blocks.<i>.*`, `drop_path.keep_prop`.
public final class SwinTransformer: Module {
    /// The blocks, in order.
    public let blocks: [SwinBlock]
    /// Stochastic depth on every residual branch.
    public let dropPath: SwinDropPath

    override public class var keyOverrides: [String: String] { ["dropPath": "drop_path"] }

    /// Options; the defaults are Dynamic-V1FM's (4 paper blocks, no stochastic depth).
    public struct Configuration: Codable, Equatable, Sendable {
        /// One entry per block, in order.
        public var blocks = [SwinBlock.Configuration](repeating: .init(), count: 4)
        /// Drop-path rate of every residual branch.
        public var dropPath: Float = 0

        public init(blocks: [SwinBlock.Configuration] = .init(repeating: .init(), count: 4), dropPath: Float = 0) {
            self.blocks = blocks
            self.dropPath = dropPath
        }
    }

    /// The blocks and their drop path.
    public init(configuration: Configuration, generator: RandomGenerator) {
        precondition(!configuration.blocks.isEmpty, "SwinTransformer: needs at least one block")
        blocks = configuration.blocks.map { SwinBlock(configuration: $0, generator: generator) }
        dropPath = SwinDropPath(p: configuration.dropPath, generator: generator)
        super.init()
    }

    /// x (B, T', H', W', C), behaviour (B, T, b) → (B, T', H', W', C).
    public func callAsFunction(_ x: Tensor, behavior: Tensor) -> Tensor {
        var y = x
        for block in blocks { y = block(y, behavior: behavior, dropPath: dropPath.callAsFunction) }
        return y
    }
}
