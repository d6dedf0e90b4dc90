import SensoriumTensor

/// One integer per spatial axis, written as a single integer for every axis (`3`) or as a list
/// (`[1, 3, 3]`); used for kernel sizes, strides and dilations.
public struct Extent: ExpressibleByIntegerLiteral, ExpressibleByArrayLiteral, Equatable, Sendable {
    /// One value (applies to every axis) or one per axis.
    public var values: [Int]
    /// The same value on every axis.
    public init(_ value: Int) { values = [value] }
    /// One value per axis.
    public init(_ values: [Int]) { self.values = values }
    public init(integerLiteral value: Int) { values = [value] }
    public init(arrayLiteral elements: Int...) { values = elements }

    /// The values for `rank` axes (a single value is repeated).
    public func resolved(rank: Int, name: String, layer: String) -> [Int] {
        precondition(values.count == 1 || values.count == rank,
                     "\(layer): \(name) must have 1 or \(rank) values, got \(values)")
        return values.count == 1 ? [Int](repeating: values[0], count: rank) : values
    }
}

/// Zero padding of a convolution: explicit per-axis amounts (`0`, `2`, `[0, 3, 3]`, applied on
/// both sides) or `.same`, which keeps the spatial size at stride 1 (PyTorch's `padding="same"`,
/// here for odd effective kernel sizes).
public enum Padding: ExpressibleByIntegerLiteral, ExpressibleByArrayLiteral, Equatable, Sendable {
    /// The given amount on both sides of each axis (one value for all axes, or one per axis).
    case explicit([Int])
    /// `dilation·(k − 1) / 2` on both sides of each axis.
    case same

    public init(integerLiteral value: Int) { self = .explicit([value]) }
    public init(arrayLiteral elements: Int...) { self = .explicit(elements) }

    /// The per-axis amounts for a kernel.
    public func resolved(kernelSize: [Int], dilation: [Int], layer: String) -> [Int] {
        switch self {
        case .explicit(let values):
            return Extent(values).resolved(rank: kernelSize.count, name: "padding", layer: layer)
        case .same:
            return zip(kernelSize, dilation).map { k, d in
                let span = d * (k - 1)
                precondition(span % 2 == 0, "\(layer): padding .same needs an odd effective kernel size, got kernel \(kernelSize) with dilation \(dilation)")
                return span / 2
            }
        }
    }
}

/// An N-d convolution layer (1, 2 or 3 spatial axes), the shared implementation behind
/// ``Conv1d``, ``Conv2d`` and ``Conv3d``.
///
/// `weight` has PyTorch's layout (out, in / groups, k…) and `bias` shape (out). The default
/// initialisation is PyTorch's (``Initializer/pytorchDefaultWeight``, and
/// ``Initializer/pytorchDefaultBias(fanIn:)``); re-initialise with `weight.initialize(with:generator:)`.
public class Convolution: Module, UnaryLayer {
    /// (out, in / groups, k…).
    public let weight: Tensor
    /// (out), or nil.
    public var bias: Tensor?
    /// Number of spatial axes (1, 2 or 3).
    public let spatialRank: Int
    /// Input channels.
    public let inChannels: Int
    /// Output channels.
    public let outChannels: Int
    /// Kernel extent per spatial axis.
    public let kernelSize: [Int]
    /// Stride per spatial axis.
    public let stride: [Int]
    /// Zero padding per spatial axis (both sides).
    public let padding: [Int]
    /// Dilation per spatial axis.
    public let dilation: [Int]
    /// Number of channel groups.
    public let groups: Int

    init(spatialRank: Int, inChannels: Int, outChannels: Int, kernelSize: Extent, stride: Extent,
         padding: Padding, dilation: Extent, groups: Int, bias: Bool, generator: RandomGenerator) {
        let layer = "Conv\(spatialRank)d"
        precondition(inChannels > 0 && outChannels > 0 && groups > 0,
                     "\(layer): channels and groups must be positive, got \(inChannels) -> \(outChannels), groups \(groups)")
        precondition(inChannels % groups == 0 && outChannels % groups == 0,
                     "\(layer): channels \(inChannels) -> \(outChannels) must be divisible by groups \(groups)")
        self.spatialRank = spatialRank
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.groups = groups
        self.kernelSize = kernelSize.resolved(rank: spatialRank, name: "kernelSize", layer: layer)
        self.stride = stride.resolved(rank: spatialRank, name: "stride", layer: layer)
        self.dilation = dilation.resolved(rank: spatialRank, name: "dilation", layer: layer)
        self.padding = padding.resolved(kernelSize: self.kernelSize, dilation: self.dilation, layer: layer)
        precondition(self.kernelSize.allSatisfy { $0 > 0 } && self.stride.allSatisfy { $0 > 0 }
                     && self.dilation.allSatisfy { $0 > 0 } && self.padding.allSatisfy { $0 >= 0 },
                     "\(layer): kernel \(self.kernelSize), stride \(self.stride), dilation \(self.dilation) must be positive and padding \(self.padding) non-negative")
        let shape = [outChannels, inChannels / groups] + self.kernelSize
        weight = Initializer.pytorchDefaultWeight(shape, generator: generator)
        weight.requiresGrad = true
        if bias {
            let b = Initializer.pytorchDefaultBias(fanIn: Initializer.fans(shape).fanIn)([outChannels], generator: generator)
            b.requiresGrad = true
            self.bias = b
        }
        super.init()
    }

    /// The output shape for an input shape (N, C, spatial…); the spatial size of each axis is
    /// `⌊(L + 2·padding − dilation·(k − 1) − 1) / stride⌋ + 1`.
    public func outputShape(for inputShape: [Int]) -> [Int] {
        precondition(inputShape.count == spatialRank + 2 && inputShape[1] == inChannels,
                     "Conv\(spatialRank)d: input shape \(inputShape) does not match (N, \(inChannels), \(spatialRank) spatial axes)")
        var out = [inputShape[0], outChannels]
        for a in 0..<spatialRank {
            out.append((inputShape[a + 2] + 2 * padding[a] - dilation[a] * (kernelSize[a] - 1) - 1) / stride[a] + 1)
        }
        return out
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        switch spatialRank {
        case 1: return conv1d(x, weight: weight, bias: bias, stride: stride, padding: padding, dilation: dilation, groups: groups)
        case 2: return conv2d(x, weight: weight, bias: bias, stride: stride, padding: padding, dilation: dilation, groups: groups)
        default: return conv3d(x, weight: weight, bias: bias, stride: stride, padding: padding, dilation: dilation, groups: groups)
        }
    }

    override public var extraDescription: String {
        var parts = ["\(inChannels) -> \(outChannels)", "kernel: \(kernelSize)"]
        if stride.contains(where: { $0 != 1 }) { parts.append("stride: \(stride)") }
        if padding.contains(where: { $0 != 0 }) { parts.append("padding: \(padding)") }
        if dilation.contains(where: { $0 != 1 }) { parts.append("dilation: \(dilation)") }
        if groups != 1 { parts.append("groups: \(groups)") }
        if bias == nil { parts.append("bias: false") }
        return parts.joined(separator: ", ")
    }
}

/// 1-D convolution over (N, C, L), like PyTorch's `nn.Conv1d`.
public final class Conv1d: Convolution {
    /// A convolution from `inChannels` to `outChannels` with PyTorch's default initialisation.
    public init(_ inChannels: Int, _ outChannels: Int, kernelSize: Extent, stride: Extent = 1, padding: Padding = 0,
                dilation: Extent = 1, groups: Int = 1, bias: Bool = true, generator: RandomGenerator) {
        super.init(spatialRank: 1, inChannels: inChannels, outChannels: outChannels, kernelSize: kernelSize,
                   stride: stride, padding: padding, dilation: dilation, groups: groups, bias: bias, generator: generator)
    }
}

/// 2-D convolution over (N, C, H, W), like PyTorch's `nn.Conv2d`.
public final class Conv2d: Convolution {
    /// A convolution from `inChannels` to `outChannels` with PyTorch's default initialisation.
    public init(_ inChannels: Int, _ outChannels: Int, kernelSize: Extent, stride: Extent = 1, padding: Padding = 0,
                dilation: Extent = 1, groups: Int = 1, bias: Bool = true, generator: RandomGenerator) {
        super.init(spatialRank: 2, inChannels: inChannels, outChannels: outChannels, kernelSize: kernelSize,
                   stride: stride, padding: padding, dilation: dilation, groups: groups, bias: bias, generator: generator)
    }
}

/// 3-D convolution over (N, C, T, H, W), like PyTorch's `nn.Conv3d`.
public final class Conv3d: Convolution {
    /// A convolution from `inChannels` to `outChannels` with PyTorch's default initialisation.
    public init(_ inChannels: Int, _ outChannels: Int, kernelSize: Extent, stride: Extent = 1, padding: Padding = 0,
                dilation: Extent = 1, groups: Int = 1, bias: Bool = true, generator: RandomGenerator) {
        super.init(spatialRank: 3, inChannels: inChannels, outChannels: outChannels, kernelSize: kernelSize,
                   stride: stride, padding: padding, dilation: dilation, groups: groups, bias: bias, generator: generator)
    }
}
