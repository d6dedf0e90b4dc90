import SensoriumTensor

/// Cuts a video into overlapping space-time patches (tubelets), the first stage of the ViV1T
/// tokenizer: (B, C, T, H, W) → (B, T', H'·W', C·kT·kH·kW) by ``/SensoriumTensor/unfoldPatches3d(_:kernel:stride:)``.
/// Has no parameters.
public final class TubeletUnfold: Module, UnaryLayer {
    /// Patch extent (kT, kH, kW).
    public let kernel: [Int]
    /// Step between patches (sT, sH, sW).
    public let stride: [Int]

    /// Patches of `kernel` (kT, kH, kW) every `stride` (sT, sH, sW).
    public init(kernel: [Int], stride: [Int]) {
        precondition(kernel.count == 3 && stride.count == 3 && kernel.allSatisfy { $0 > 0 } && stride.allSatisfy { $0 > 0 },
                     "TubeletUnfold: kernel and stride must be three positive extents, got \(kernel) and \(stride)")
        self.kernel = kernel
        self.stride = stride
        super.init()
    }

    public func callAsFunction(_ x: Tensor) -> Tensor { unfoldPatches3d(x, kernel: kernel, stride: stride) }

    override public var extraDescription: String { "kernel: \(kernel), stride: \(stride)" }
}
