import SensoriumTensor

/// The ViV1T factorised video transformer (PyTorch `ViViT`, the core's `vivit` child): tokenizer, a
/// spatial transformer over the patches of each frame, then a temporal transformer over the frames
/// of each patch, and the tokens laid out as a feature map.
///
/// (B, C, T, H, W) → (B, E, T', h, w) with (h, w) = ``vivitFeatureMapShape(patches:)`` of P = H'·W'.
/// Keys: `reg_scale` (buffer, the L1 weight, 0), `tokenizer.…`, `spatial_transformer.blocks.<i>.…`,
/// `temporal_transformer.blocks.<i>.…`.
public final class ViViT: Module, UnaryLayer {
    /// Weight of the L1 penalty on all parameters (a zero-dimensional buffer; 0 in the paper).
    @Buffer public var regScale: Tensor
    /// Tubelets → tokens with position embeddings.
    public let tokenizer: ViViTTokenizer
    /// Attention across the P patches of each frame, on (B·T', P, E).
    public let spatialTransformer: ViViTTransformer
    /// Attention across the T' frames of each patch, on (B·P, T', E).
    public let temporalTransformer: ViViTTransformer

    override public class var keyOverrides: [String: String] {
        ["regScale": "reg_scale", "spatialTransformer": "spatial_transformer", "temporalTransformer": "temporal_transformer"]
    }

    /// The transformer of a core with configuration `c` (assumed valid), weights drawn from `generator`.
    public init(configuration c: ViViTCore.Configuration, generator: RandomGenerator) {
        regScale = Tensor(scalar: 0)
        tokenizer = ViViTTokenizer(configuration: c, generator: generator)
        spatialTransformer = ViViTTransformer(depth: c.spatialDepth, configuration: c, generator: generator)
        temporalTransformer = ViViTTransformer(depth: c.temporalDepth, configuration: c, generator: generator)
        super.init()
    }

    /// The activations after each stage, in the reference's layouts.
    public struct Intermediates {
        /// Tokenizer output with position embeddings: (B, T', P, E).
        public var tokens: Tensor
        /// After the spatial transformer: (B·T', P, E), row `b·T' + t`.
        public var spatial: Tensor
        /// After the temporal transformer: (B·P, T', E), row `b·P + p`.
        public var temporal: Tensor
        /// The feature map: (B, E, T', h, w).
        public var output: Tensor
    }

    /// Runs every stage and returns their outputs (all differentiable).
    public func intermediates(_ x: Tensor) -> Intermediates {
        let tokens = tokenizer(x)
        let (b, t, p, e) = (tokens.shape[0], tokens.shape[1], tokens.shape[2], tokens.shape[3])
        let spatial = spatialTransformer(tokens.reshaped([b * t, p, e]))
        let temporal = temporalTransformer(spatial.reshaped([b, t, p, e]).permuted([0, 2, 1, 3]).reshaped([b * p, t, e]))
        let map = vivitFeatureMapShape(patches: p)
        let output = temporal.reshaped([b, p, t, e]).permuted([0, 3, 2, 1]).reshaped([b, e, t, map.height, map.width])
        return Intermediates(tokens: tokens, spatial: spatial, temporal: temporal, output: output)
    }

    /// (B, C, T, H, W) → (B, E, T', h, w).
    public func callAsFunction(_ x: Tensor) -> Tensor { intermediates(x).output }

    /// `reg_scale · Σ|p|` over every parameter (zero when `reg_scale` is 0, as in the paper).
    public func regularizer() -> Tensor {
        let weight = regScale.item
        guard weight != 0 else { return Tensor(scalar: 0) }
        return parameters().map { $0.abs().sum() }.reduce(Tensor(scalar: 0), +) * weight
    }
}
