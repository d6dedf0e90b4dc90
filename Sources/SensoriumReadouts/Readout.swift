import SensoriumTensor
import SensoriumLayers

/// Maps the features a core computes for a clip to the predicted responses of one mouse's neurons.
///
/// A readout receives the core output `(N, C, T, H, W)` (batch, channels, frames, height, width)
/// and, optionally, a per-frame grid shift `(N, T, 2)` from a ``Shifter``; it returns
/// `(N, T, neurons)`. It owns its parameters (discovered by ``/SensoriumLayers/Module``), exposes a regularisation
/// term for the loss, and can set its bias from the mean responses of the training data.
///
/// Readouts return linear predictions unless ``appliesOutputNonlinearity`` is `true`; a model puts
/// its output nonlinearity (``ELUPlusOne``, ``SoftplusOutput``, ``Exponential``) after the readouts
/// that do not apply one themselves.
///
/// Write your own by subclassing ``/SensoriumLayers/Module`` and conforming to this protocol:
/// ```swift
/// final class MeanPoolReadout: Module, Readout {
///     let weight: Tensor            // (C, neurons)
///     let bias: Tensor              // (neurons)
///     var inputChannels: Int { weight.shape[0] }
///     var neuronCount: Int { weight.shape[1] }
///     func callAsFunction(_ features: Tensor, shift: Tensor?) -> Tensor {
///         let pooled = features.mean(axes: [3, 4]).transposed(1, 2)   // (N, T, C)
///         return matmul(pooled, weight) + bias
///     }
///     func initializeBias(meanResponses: Tensor) { bias.assign(meanResponses) }
/// }
/// ```
public protocol Readout: Module {
    /// Number of core channels the readout expects (axis 1 of its input).
    var inputChannels: Int { get }
    /// Number of neurons it predicts (the last axis of its output).
    var neuronCount: Int { get }
    /// Whether the output already went through an output nonlinearity (`false` by default).
    var appliesOutputNonlinearity: Bool { get }

    /// Predicts responses from core features `(N, C, T, H, W)` and an optional per-frame grid shift
    /// `(N, T, 2)` (readouts without a spatial grid ignore it); returns `(N, T, neurons)`.
    func callAsFunction(_ features: Tensor, shift: Tensor?) -> Tensor

    /// The same with the whole model input at hand (behaviour, pupil centre, mouse), for readouts
    /// that read more than the features; by default the features-only form.
    func callAsFunction(_ features: Tensor, shift: Tensor?, input: ModelInput) -> Tensor

    /// The readout's regularisation term, a scalar to add to the loss (zero when it has none).
    func regularizer() -> Tensor

    /// Sets the bias so that predictions start near the mean response of every neuron;
    /// `meanResponses` has shape `(neurons)`.
    func initializeBias(meanResponses: Tensor)
}

extension Readout {
    public var appliesOutputNonlinearity: Bool { false }

    public func regularizer() -> Tensor { Tensor(scalar: 0) }

    /// Predicts responses from core features `(N, C, T, H, W)` without a shift.
    public func callAsFunction(_ features: Tensor) -> Tensor { self(features, shift: nil) }

    /// Predicts responses from features, a shift and the whole model input (behaviour, pupil
    /// centre, mouse); readouts that use only the features ignore the input. A readout that reads
    /// behaviour (ViV1T's) implements this form.
    public func callAsFunction(_ features: Tensor, shift: Tensor?, input: ModelInput) -> Tensor { self(features, shift: shift) }

    /// Sets the bias from a batch of responses `(…, neurons)` (the mean over every other axis),
    /// as the reference initialises it from one training batch.
    public func initializeBias(fromResponses responses: Tensor) {
        precondition(responses.rank >= 1 && responses.shape[responses.rank - 1] == neuronCount,
                     "initializeBias(fromResponses:): expected responses (…, \(neuronCount)), got \(responses.shape)")
        let mean = withNoGrad { responses.reshaped([-1, neuronCount]).mean(axis: 0) }
        initializeBias(meanResponses: mean)
    }

    /// Checks the input of a readout: rank 5 with `inputChannels` channels, and a shift of
    /// `(N, T, 2)` when given.
    public func checkInput(_ features: Tensor, shift: Tensor?, readout name: String) {
        precondition(features.rank == 5 && features.shape[1] == inputChannels,
                     "\(name): expected core features (N, \(inputChannels), T, H, W), got \(features.shape)")
        if let shift {
            precondition(shift.shape == [features.shape[0], features.shape[2], 2],
                         "\(name): shift must be (N, T, 2) = \([features.shape[0], features.shape[2], 2]) for features \(features.shape), got \(shift.shape)")
        }
    }
}

/// How a regulariser reduces a tensor to a scalar.
public enum RegularizerReduction: String, Sendable, Codable, Equatable {
    /// Sum over all elements (the reference default).
    case sum
    /// Mean over all elements.
    case mean
}
