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

    /// `blockConfigurations.count` blocks and a drop path of rate `dropPath`.
    public init(blockConfigurations: [SwinBlock.Configuration], dropPath rate: Float, generator: RandomGenerator) {
        precondition(!blockConfigurations.isEmpty, "SwinTransformer: needs at least one block")
        blocks = blockConfigurations.map { SwinBlock(configuration: $0, generator: generator) }
        dropPath = SwinDropPath(p: rate, generator: generator)
        super.init()
    }

    /// x (B, T', H', W', C), behaviour (B, T, b) → (B, T', H', W', C).
    public func callAsFunction(_ x: Tensor, behavior: Tensor) -> Tensor {
        var y = x
        for block in blocks { y = block(y, behavior: behavior, dropPath: dropPath.callAsFunction) }
        return y
    }
}
