import SensoriumTensor

extension ViViTCore {
    /// Why inputs of shape (N, C, T, H, W) cannot be read: fewer frames or pixels than one
    /// tubelet, or more tubelet positions than the position tables hold (sized by `frameHeight`,
    /// `frameWidth` and `maxFrames`); nil when they can.
    public func inputProblem(for inputShape: [Int]) -> String? {
        let c = configuration
        guard inputShape.count == 5 else { return "expected an input (N, C, T, H, W), got \(inputShape)" }
        guard let grid = PatchGrid3d(inputShape: inputShape, kernel: [c.temporalPatch, c.spatialPatch, c.spatialPatch],
                                     stride: [c.temporalStride, c.spatialStride, c.spatialStride]) else {
            return "frames of \(inputShape[3]) × \(inputShape[4]) (\(inputShape[2]) frames) are smaller than one tubelet of temporalPatch \(c.temporalPatch) × spatialPatch \(c.spatialPatch)"
        }
        let patches = grid.positions[1] * grid.positions[2]
        if patches > c.spatialPositions {
            return "frames of \(inputShape[3]) × \(inputShape[4]) give \(patches) tubelet positions, more than the \(c.spatialPositions) of the spatial position table sized by frameHeight \(c.frameHeight) × frameWidth \(c.frameWidth); set frameHeight and frameWidth to the data's frame size"
        }
        if grid.positions[0] > c.temporalPositions {
            return "\(inputShape[2]) frames give \(grid.positions[0]) tubelets, more than the \(c.temporalPositions) of the temporal position table (raise maxFrames, now \(c.maxFrames))"
        }
        return nil
    }
}
