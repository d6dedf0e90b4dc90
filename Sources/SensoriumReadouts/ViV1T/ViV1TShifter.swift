import SensoriumTensor
import SensoriumLayers

/// ViV1T's per-mouse shifter (`shifter_mode` 1): the pupil centre of a frame → Linear(2, h) → tanh →
/// Linear(h, h) → tanh → … → Linear(h, 2) → tanh, the shift of the readout grid for that frame.
///
/// The network is ``MLPShifter``'s; ViV1T adds the buffer `reg_scale` (its L1 weight, 0), so keys are
/// `reg_scale`, `mlp.0.weight`, `mlp.0.bias`, `mlp.2.…`, `mlp.4.…`. The reference's Xavier
/// initialisation never runs (it filters `parameters()` for `nn.Linear`), so weights start with
/// PyTorch's default Linear initialisation, as here. Input (…, 2) → output (…, 2).
public final class ViV1TShifter: Module, Shifter {
    /// Hyper-parameters; the defaults are the paper's.
    public struct Configuration: Codable, Equatable, Sendable {
        /// Values per frame fed to the network (2: pupil x, y).
        public var inputFeatures: Int = 2
        /// Hidden width (`shifter_size`).
        public var hiddenFeatures: Int = 5
        /// Number of Linear layers (`shifter_layers`).
        public var layers: Int = 3
        /// The paper configuration.
        public init() {}
    }

    /// The configuration it was built with.
    public let configuration: Configuration
    /// Weight of the L1 penalty on the parameters (zero-dimensional buffer).
    @Buffer public var regScale: Tensor
    /// Linear/tanh stack keyed `0`, `1`, ….
    public let mlp: Sequential

    override public class var keyOverrides: [String: String] { ["regScale": "reg_scale"] }

    /// A shifter with PyTorch's default Linear initialisation drawn from `generator`.
    public init(configuration: Configuration = Configuration(), generator: RandomGenerator) {
        precondition(configuration.inputFeatures > 0 && configuration.hiddenFeatures > 0 && configuration.layers > 0,
                     "ViV1TShifter: sizes must be positive, got \(configuration)")
        self.configuration = configuration
        regScale = Tensor(scalar: 0)
        mlp = MLPShifter(inputFeatures: configuration.inputFeatures, hiddenChannels: configuration.hiddenFeatures,
                         layers: configuration.layers, generator: generator).mlp
        super.init()
    }

    /// Per-frame input (…, inputFeatures) → shift (…, 2).
    public func callAsFunction(_ pupilCenter: Tensor) -> Tensor {
        precondition(pupilCenter.rank >= 1 && pupilCenter.shape[pupilCenter.rank - 1] == configuration.inputFeatures,
                     "ViV1TShifter: expected (…, \(configuration.inputFeatures)), got \(pupilCenter.shape)")
        return mlp(pupilCenter)
    }

    /// `reg_scale · Σ|p|` (zero in the paper).
    public func regularizer() -> Tensor {
        let weight = regScale.item
        guard weight != 0 else { return Tensor(scalar: 0) }
        return parameters().map { $0.abs().sum() }.reduce(Tensor(scalar: 0), +) * weight
    }
}
