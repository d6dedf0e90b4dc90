// Differentiable 1-D, 2-D and 3-D convolutions (PyTorch `F.conv1d/2d/3d` semantics), all lowered
// to one 3-D kernel built on OpenBLAS sgemm.

/// 1-D convolution (`F.conv1d`).
///
/// - Parameters:
///   - x: (N, C, L), or (C, L) for a single sample.
///   - weight: (O, C / groups, k).
///   - bias: (O), optional.
///   - stride, padding, dilation: one value, or one per spatial axis (here 1); padding is zeros on both sides.
///   - groups: C and O must both be divisible by it; `groups == C` is a depthwise convolution.
/// - Returns: (N, O, L') with L' = ⌊(L + 2·padding − dilation·(k − 1) − 1) / stride⌋ + 1.
public func conv1d(_ x: Tensor, weight: Tensor, bias: Tensor? = nil, stride: [Int] = [1], padding: [Int] = [0],
                   dilation: [Int] = [1], groups: Int = 1) -> Tensor {
    Convolution.apply(op: "conv1d", x, weight: weight, bias: bias, stride: stride, padding: padding,
                      dilation: dilation, groups: groups, spatialRank: 1)
}

/// 2-D convolution (`F.conv2d`).
///
/// - Parameters:
///   - x: (N, C, H, W), or (C, H, W) for a single sample.
///   - weight: (O, C / groups, kH, kW).
///   - bias: (O), optional.
///   - stride, padding, dilation: one value for both axes, or one per axis (H, W).
///   - groups: C and O must both be divisible by it; `groups == C` is a depthwise convolution.
/// - Returns: (N, O, H', W').
public func conv2d(_ x: Tensor, weight: Tensor, bias: Tensor? = nil, stride: [Int] = [1], padding: [Int] = [0],
                   dilation: [Int] = [1], groups: Int = 1) -> Tensor {
    Convolution.apply(op: "conv2d", x, weight: weight, bias: bias, stride: stride, padding: padding,
                      dilation: dilation, groups: groups, spatialRank: 2)
}

/// 3-D convolution (`F.conv3d`) over (time, height, width).
///
/// Spatial (1, k, k) and temporal (k, 1, 1) kernels, the building blocks of factorized video cores,
/// are fast paths: temporal and 1×1×1 kernels with unit stride run as shifted GEMMs without a
/// column matrix.
///
/// - Parameters:
///   - x: (N, C, T, H, W), or (C, T, H, W) for a single sample.
///   - weight: (O, C / groups, kT, kH, kW).
///   - bias: (O), optional.
///   - stride, padding, dilation: one value for all axes, or one per axis (T, H, W).
///   - groups: C and O must both be divisible by it.
/// - Returns: (N, O, T', H', W').
public func conv3d(_ x: Tensor, weight: Tensor, bias: Tensor? = nil, stride: [Int] = [1], padding: [Int] = [0],
                   dilation: [Int] = [1], groups: Int = 1) -> Tensor {
    Convolution.apply(op: "conv3d", x, weight: weight, bias: bias, stride: stride, padding: padding,
                      dilation: dilation, groups: groups, spatialRank: 3)
}

enum Convolution {
    /// Expands a per-axis option given as one value or `rank` values, then pads it to 3 axes.
    static func option(_ values: [Int], name: String, rank: Int, fill: Int, op: String) -> [Int] {
        precondition(values.count == 1 || values.count == rank,
                     "\(op): \(name) must have 1 or \(rank) values, got \(values)")
        let full = values.count == 1 ? [Int](repeating: values[0], count: rank) : values
        return [Int](repeating: fill, count: 3 - rank) + full
    }

    static func apply(op: String, _ x: Tensor, weight: Tensor, bias: Tensor?, stride: [Int], padding: [Int],
                      dilation: [Int], groups: Int, spatialRank rank: Int) -> Tensor {
        precondition(x.rank == rank + 2 || x.rank == rank + 1,
                     "\(op): input must be (N, C, \(rank) spatial axes) or unbatched, got shape \(x.shape) (weight \(weight.shape))")
        precondition(weight.rank == rank + 2,
                     "\(op): weight must be (out, in / groups, \(rank) kernel axes), got shape \(weight.shape) (input \(x.shape))")
        let batched = x.rank == rank + 2
        let xShape = batched ? x.shape : [1] + x.shape
        let n = xShape[0], c = xShape[1], o = weight.shape[0]
        precondition(groups >= 1 && c % groups == 0 && o % groups == 0,
                     "\(op): groups \(groups) must divide input channels \(c) and output channels \(o) (input \(x.shape), weight \(weight.shape))")
        precondition(weight.shape[1] * groups == c,
                     "\(op): weight shape \(weight.shape) expects \(weight.shape[1] * groups) input channels for groups \(groups), input has shape \(x.shape)")
        if let bias {
            precondition(bias.shape == [o], "\(op): bias shape \(bias.shape) does not match \(o) output channels (weight \(weight.shape))")
        }
        let s = option(stride, name: "stride", rank: rank, fill: 1, op: op)
        let p = option(padding, name: "padding", rank: rank, fill: 0, op: op)
        let d = option(dilation, name: "dilation", rank: rank, fill: 1, op: op)
        precondition(s.allSatisfy { $0 >= 1 } && p.allSatisfy { $0 >= 0 } && d.allSatisfy { $0 >= 1 },
                     "\(op): stride \(stride) and dilation \(dilation) must be ≥ 1, padding \(padding) ≥ 0")
        let spatial = [Int](repeating: 1, count: 3 - rank) + Array(xShape.suffix(rank))
        let kernel = [Int](repeating: 1, count: 3 - rank) + Array(weight.shape.suffix(rank))
        let g = ConvGeometry(batch: n, inChannels: c, outChannels: o, groups: groups, input: spatial, kernel: kernel,
                             stride: s, padding: p, dilation: d)
        precondition(g.outT >= 1 && g.outH >= 1 && g.outW >= 1,
                     "\(op): kernel \(Array(weight.shape.suffix(rank))) with dilation \(dilation) does not fit input \(x.shape) padded by \(padding)")
        let outSpatial = Array([g.outT, g.outH, g.outW].suffix(rank))
        let outShape = batched ? [n, o] + outSpatial : [o] + outSpatial
        let out = Tensor(uninitializedShape: outShape)
        ConvolutionKernels.forward(g, x: x.storage.pointer, weight: weight.storage.pointer,
                                   bias: bias?.storage.pointer, out: out.storage.pointer)
        let inputs = bias.map { [x, weight, $0] } ?? [x, weight]
        return Tensor.recordOperation(op, result: out, inputs: inputs) { grad in
            let gx = x.requiresGrad ? Tensor(uninitializedShape: x.shape) : nil
            let gw = weight.requiresGrad ? Tensor(uninitializedShape: weight.shape) : nil
            let gb = bias?.requiresGrad == true ? Tensor(uninitializedShape: [o]) : nil
            ConvolutionKernels.backward(g, x: x.storage.pointer, weight: weight.storage.pointer,
                                        gradOut: grad.storage.pointer, gradInput: gx?.storage.pointer,
                                        gradWeight: gw?.storage.pointer, gradBias: gb?.storage.pointer)
            return bias == nil ? [gx, gw] : [gx, gw, gb]
        }
    }
}
