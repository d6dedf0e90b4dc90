import SensoriumTensor
import SensoriumLayers

/// One pass over the whole input: the output is the model's own, `(B, L − burn-in, N)` for the
/// last `L − burn-in` frames (`L'` depends on the core, e.g. `L − 24` for ViV1T). The default, and
/// ViV1T's inference (whole trials of about 300 frames in one pass), also the baselines'.
///
/// JSON: `{"type": "wholeTrial"}` (no options).
public struct WholeTrialInference: InferenceConfiguration, Equatable {
    public static var typeName: String { "wholeTrial" }
    public static var defaults: Self { Self() }

    public init() {}

    /// Never: every input runs in one pass.
    public func applies(toFrames frames: Int) -> Bool { false }
    public func check(outputFrames: (Int) -> Int?) throws {}
    public func predict(_ input: ModelInput, pass: (ModelInput) -> Tensor) -> Tensor { pass(input) }
}
