import SensoriumTensor
import SensoriumLayers

/// Maps the pupil centre of every frame to a shift of the readout grid (where the animal looks).
///
/// Input `(…, 2)`, typically `(N, T, 2)` with the z-scored pupil centre of each output frame;
/// output the same shape, in normalised grid units.
public protocol Shifter: Module {
    /// The grid shift for each frame: `(…, 2)` in, `(…, 2)` out.
    func callAsFunction(_ pupilCenter: Tensor) -> Tensor
    /// The shifter's regularisation term (zero when it has none).
    func regularizer() -> Tensor
}

extension Shifter {
    public func regularizer() -> Tensor { Tensor(scalar: 0) }
}
