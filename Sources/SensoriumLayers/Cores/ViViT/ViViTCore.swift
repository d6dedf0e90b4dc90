import SensoriumTensor

/// The ViV1T core (SENSORIUM 2023, 3rd place; PyTorch `ViViTCore`, registered as `vivit`): the
/// behaviour of every frame appended to the video as constant planes, then the ``ViViT`` factorised
/// transformer.
///
/// Input (B, C, T, H, W) with C = ``Configuration/inputChannels`` (video channels, then dilation,
/// speed, pupil x, pupil y; ``callAsFunction(video:behavior:pupilCenter:)`` assembles it); output
/// (B, E, T', h, w) with `T' = (T − temporalPatch)/temporalStride + 1`. Output frame t' covers input
/// frames t' ..< t' + temporalPatch and belongs to the last of them (``burnInFrames`` = temporalPatch − 1
/// for stride 1): tokenisation is causal, temporal attention is not.
///
/// In a model (`{"type": "vivit", …}`), the data assemble the input: a core of 5 input channels
/// makes the mouse data give the frame, behaviour and pupil centre planes in this order.
///
/// All keys live under `vivit.` (`core.vivit.tokenizer.spatial_pos_embedding`, …), as in PyTorch.
public final class ViViTCore: Module, Core {
    /// The configuration the core was built with.
    public let configuration: Configuration
    /// The transformer.
    public let vivit: ViViT

    /// Builds the core; throws when the configuration is invalid.
    public init(configuration: Configuration = Configuration(), generator: RandomGenerator) throws(ViViTConfigurationError) {
        try configuration.validate()
        self.configuration = configuration
        vivit = ViViT(configuration: configuration, generator: generator)
        super.init()
    }

    public var outputChannels: Int { configuration.embeddingDim }

    public var burnInFrames: Int { configuration.temporalPatch - 1 }

    /// (N, E, T', h, w) for an input (N, C, T, H, W).
    public func outputShape(for inputShape: [Int]) -> [Int] {
        let c = configuration
        guard let grid = PatchGrid3d(inputShape: inputShape, kernel: [c.temporalPatch, c.spatialPatch, c.spatialPatch],
                                     stride: [c.temporalStride, c.spatialStride, c.spatialStride]) else {
            preconditionFailure("ViViTCore.outputShape: input \(inputShape) is too small for the tubelets of \(c)")
        }
        let map = vivitFeatureMapShape(patches: grid.positions[1] * grid.positions[2])
        return [inputShape[0], c.embeddingDim, grid.positions[0], map.height, map.width]
    }

    /// Assembled input (B, C, T, H, W) → (B, E, T', h, w).
    public func callAsFunction(_ x: Tensor) -> Tensor {
        checkInput(x)
        return vivit(x)
    }

    /// The stages of the forward pass for an assembled input (see ``ViViT/Intermediates``).
    public func intermediates(_ x: Tensor) -> ViViT.Intermediates {
        checkInput(x)
        return vivit.intermediates(x)
    }

    /// The core input: `video` (B, Cv, T, H, W) followed by every channel of `behavior` (B, Cb, T)
    /// and `pupilCenter` (B, Cp, T), each broadcast over the frame as a constant plane:
    /// (B, Cv + Cb + Cp, T, H, W). Differentiable in all three.
    public static func assembleInput(video: Tensor, behavior: Tensor, pupilCenter: Tensor) -> Tensor {
        precondition(video.rank == 5, "ViViTCore: video must be (B, C, T, H, W), got \(video.shape)")
        let (b, t, h, w) = (video.shape[0], video.shape[2], video.shape[3], video.shape[4])
        func planes(_ values: Tensor, _ name: String) -> Tensor {
            precondition(values.rank == 3 && values.shape[0] == b && values.shape[2] == t,
                         "ViViTCore: \(name) must be (\(b), channels, \(t)) for video \(video.shape), got \(values.shape)")
            let c = values.shape[1]
            return values.reshaped([b, c, t, 1, 1]).expanded(to: [b, c, t, h, w])
        }
        return Tensor.concatenate([video, planes(behavior, "behavior"), planes(pupilCenter, "pupilCenter")], axis: 1)
    }

    /// Video (B, Cv, T, H, W), behaviour (B, 2, T) = [dilation, speed] and pupil centre (B, 2, T) =
    /// [x, y] → (B, E, T', h, w).
    public func callAsFunction(video: Tensor, behavior: Tensor, pupilCenter: Tensor) -> Tensor {
        self(ViViTCore.assembleInput(video: video, behavior: behavior, pupilCenter: pupilCenter))
    }

    /// `reg_scale · Σ|p|` (zero in the paper).
    public func regularizer() -> Tensor { vivit.regularizer() }

    private func checkInput(_ x: Tensor) {
        precondition(x.rank == 5 && x.shape[1] == configuration.inputChannels,
                     "ViViTCore: expected input (B, \(configuration.inputChannels), T, H, W), got \(x.shape)")
        precondition(x.shape[2] >= configuration.temporalPatch,
                     "ViViTCore: input \(x.shape) has fewer frames than one tubelet (\(configuration.temporalPatch))")
    }
}
