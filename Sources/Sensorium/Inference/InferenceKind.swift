import SensoriumTensor
import SensoriumLayers

/// How a ``VideoModel`` in evaluation mode predicts an input longer than one pass should read:
/// the configuration of an inference strategy, by which a model configuration names it
/// (``VideoModelConfiguration/inference``).
///
/// A strategy runs the model's single pass (`pass`) on clips cut from the input and assembles
/// their outputs into predictions `(B, L', N)` for the **last `L'` frames** of the `L`-frame input,
/// the same contract as one pass (``VideoModel``), so evaluation, validation and prediction files
/// need no change. Training mode never uses a strategy.
public protocol InferenceConfiguration: ComponentConfiguration {
    /// Whether the strategy replaces the single pass for an input of `frames` frames (false: one
    /// pass over the whole input).
    func applies(toFrames frames: Int) -> Bool
    /// Checks the options against the model; `outputFrames(T)` is the number of output frames one
    /// pass gives for a clip of `T` frames (nil when the clip is too short for the model). Throws
    /// ``/SensoriumLayers/ComponentError/invalid(kind:type:message:)`` naming the problem.
    func check(outputFrames: (Int) -> Int?) throws
    /// Predictions `(B, L', N)` for `input` (`L` frames, ``applies(toFrames:)`` true), aligned with
    /// its last `L'` frames. `pass` runs the model once on a batch of clips `(B', C, T, H, W)`
    /// (behaviour and pupil centre cut alike) and returns `(B', T', N)` aligned with each clip's
    /// last `T'` frames. Differentiable when `pass` is.
    func predict(_ input: ModelInput, pass: (ModelInput) -> Tensor) -> Tensor
}

/// The family of inference strategies. Built-in: `wholeTrial` (one pass, ViV1T's and the
/// baselines'), `slidingWindows` (DwiseNeuro's averaged sliding windows) and `strideTiles`
/// (Dynamic-V1FM's tiled windows). A user registers their own with
/// `InferenceKind.registry.register(MyInference.self)`.
public enum InferenceKind: ComponentKind {
    public typealias Base = any InferenceConfiguration
    public static let name = "inference"
    public static let registry = ComponentRegistry<InferenceKind>(builtIns: [
        WholeTrialInference.self, SlidingWindowInference.self, StrideTileInference.self,
    ])
}

/// An inference configuration of any registered type.
public typealias AnyInferenceConfiguration = Configured<InferenceKind>

extension Configured where Kind == InferenceKind {
    /// One pass over the whole input (the default).
    public static var wholeTrial: Configured { Configured(WholeTrialInference()) }
    /// DwiseNeuro's sliding windows (``SlidingWindowInference``).
    public static func slidingWindows(_ c: SlidingWindowInference = .init()) -> Configured { Configured(c) }
    /// Dynamic-V1FM's tiled windows (``StrideTileInference``).
    public static func strideTiles(_ c: StrideTileInference = .init()) -> Configured { Configured(c) }

    /// Whether the strategy replaces the single pass for `frames` input frames.
    public func applies(toFrames frames: Int) -> Bool { base.applies(toFrames: frames) }
    /// Checks the options against a model (see ``InferenceConfiguration/check(outputFrames:)``).
    public func check(outputFrames: (Int) -> Int?) throws { try base.check(outputFrames: outputFrames) }
    /// Predictions for the last `L'` frames of `input` (see ``InferenceConfiguration/predict(_:pass:)``).
    public func predict(_ input: ModelInput, pass: (ModelInput) -> Tensor) -> Tensor { base.predict(input, pass: pass) }
}

extension ModelInput {
    /// The clips cut from this input at the given frame indices, stacked clip-major along the batch
    /// axis: clip `k` of sample `b` is batch entry `k · N + b`; video, behaviour and pupil centre
    /// are cut alike. Each clip is `frames.lowerBound ..< frames.upperBound` with `step`.
    func clips(_ ranges: [Range<Int>], step: Int) -> ModelInput {
        precondition(!ranges.isEmpty, "ModelInput.clips: no clips")
        func cut(_ x: Tensor) -> Tensor {
            Tensor.concatenate(ranges.map { x.sliced(axis: 2, range: $0, step: step) }, axis: 0)
        }
        return ModelInput(video: cut(video), behavior: behavior.map(cut), pupilCenter: pupilCenter.map(cut), mouse: mouse)
    }
}
