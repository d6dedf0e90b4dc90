import Foundation
import Testing
import SensoriumTensor
import SensoriumLayers
import SensoriumReadouts

/// Reference output of a pooled ``Cortex`` followed by a ``GroupedConvReadout``, computed with
/// PyTorch by this script:
/// ```python
/// # Reference values for Cortex + GroupedConvReadout, computed with PyTorch following DwiseNeuro's
/// # ShuffleLayer (conv → BN → SiLU → channel shuffle → DropPath(0) + tiled shortcut → BN) and
/// # Readout (Dropout1d(0) → grouped Conv1d → keep the first n → Softplus(beta)); BN in training mode.
/// import math, torch
/// import torch.nn.functional as F
///
/// def det(shape, a, b, scale=1.0):
///     n = math.prod(shape)
///     return torch.tensor([scale * math.sin(a * i + b) for i in range(n)], dtype=torch.float32).view(*shape)
///
/// N, C, T, H, W, n, groups, beta = 2, 4, 3, 2, 3, 7, 2, 0.5
/// widths = [8, 12]
/// x5 = det([N, C, T, H, W], 0.37, 0.11)
/// x = x5.mean((3, 4))                          # spatial pooling → (N, C, T)
/// prev = C
/// for i, width in enumerate(widths):
///     w = det([width, prev // groups, 1], 0.41 + 0.01 * i, 0.3)
///     g1, b1 = 1 + det([width], 0.5, 0.1 * i, 0.2), det([width], 0.6, 0.2 * i, 0.2)
///     g2, b2 = 1 + det([width], 0.7, 0.3 * i, 0.2), det([width], 0.8, 0.4 * i, 0.2)
///     y = F.conv1d(x, w, groups=groups)
///     y = F.silu(F.batch_norm(y, torch.zeros(width), torch.ones(width), g1, b1, training=True))
///     y = y.view(N, groups, -1, T).transpose(1, 2).reshape(N, -1, T)
///     s = torch.tile(x, (1, math.ceil(width / prev), 1))[:, :width]
///     s = F.batch_norm(s, torch.zeros(width), torch.ones(width), g2, b2, training=True)
///     x = y + s
///     prev = width
/// outputs = math.ceil(n / groups) * groups
/// w = det([outputs, prev // groups, 1], 0.47, 0.5)
/// b = det([outputs], 0.53, 0.6, 0.3)
/// y = F.conv1d(x, w, b, groups=groups)[:, :n]
/// y = F.softplus(y, beta=beta)                 # (N, n, T)
/// print("static let cortexReadout: [Float] =", "[" + ", ".join(f"{v:.8g}" for v in y.transpose(1, 2).flatten().tolist()) + "]")
/// ```
enum DwiseReference {
    static let cortexReadout: [Float] = [
        7.7632704, 0.071205296, 5.9555349, 0.33796075, 5.337924, 0.38172469, 1.7118316, 0.693937,
        2.8083448, 0.76853502, 2.4221978, 0.88450688, 1.8375087, 1.1524638, 0.73057193, 2.5602603,
        0.94774121, 1.9941248, 0.79397047, 2.0028484, 1.0491713, 1.6916713, 1.4709119, 1.4359889,
        1.7847133, 1.5959171, 1.3711509, 1.1698195, 0.41592285, 3.4968305, 0.62728202, 2.4523947,
        0.46838117, 2.6380761, 0.84768212, 7.018425, 0.099517688, 5.4528852, 0.39272556, 5.0640144,
        0.3814097, 1.8894095
    ]
}

@Suite struct GroupedConvTests {
    /// Cortex (two shuffle layers, BatchNorm in training mode) and the grouped-conv readout with
    /// softplus β = 0.5 equal the PyTorch reference.
    @Test func cortexAndReadoutMatchPyTorch() {
        let g = RandomGenerator(seed: 1)
        let cortex = Cortex(configuration: .init(inputChannels: 4, features: [8, 12], groups: 2, dropPathRate: 0), generator: g)
        for (i, layer) in cortex.layers.layers.enumerated() {
            let shuffle = layer as! ShuffleLayer
            let width = shuffle.conv.outChannels, d = Double(i)
            shuffle.conv.weight.assign(deterministic(shuffle.conv.weight.shape, 0.41 + 0.01 * d, 0.3))
            shuffle.bn.bn.weight!.assign(deterministic([width], 0.5, 0.1 * d, scale: 0.2) + 1)
            shuffle.bn.bn.bias!.assign(deterministic([width], 0.6, 0.2 * d, scale: 0.2))
            shuffle.bnShortcut.bn.weight!.assign(deterministic([width], 0.7, 0.3 * d, scale: 0.2) + 1)
            shuffle.bnShortcut.bn.bias!.assign(deterministic([width], 0.8, 0.4 * d, scale: 0.2))
        }
        let readout = GroupedConvReadout(inputChannels: 12, neuronCount: 7, configuration: .init(groups: 2, dropout: 0, softplusBeta: 0.5), generator: g)
        readout.convolution.weight.assign(deterministic([8, 6, 1], 0.47, 0.5))
        readout.convolution.bias!.assign(deterministic([8], 0.53, 0.6, scale: 0.3))
        let x = deterministic([2, 4, 3, 2, 3], 0.37, 0.11)
        let features = cortex(x)
        #expect(features.shape == [2, 12, 3, 1, 1])
        let y = readout(features)
        #expect(y.shape == [2, 3, 7])
        #expect(readout.appliesOutputNonlinearity)
        expectNear(y, Tensor(DwiseReference.cortexReadout, shape: [2, 3, 7]), atol: 1e-4, rtol: 1e-4, "cortex + readout")
    }

    /// Keys follow DwiseNeuro (`layers.<i>.conv`, `layers.<i>.bn.bn`, `layers.<i>.bn_sc.bn`,
    /// `layer.1` of the readout, `gate.beta` when learned).
    @Test func keys() {
        let g = RandomGenerator(seed: 2)
        let cortex = Cortex(configuration: .init(inputChannels: 4, features: [8], groups: 2, dropPathRate: 0), generator: g)
        let keys = Set(cortex.stateDict().keys)
        #expect(keys == ["layers.0.conv.weight", "layers.0.bn.bn.weight", "layers.0.bn.bn.bias", "layers.0.bn.bn.running_mean",
                         "layers.0.bn.bn.running_var", "layers.0.bn.bn.num_batches_tracked", "layers.0.bn_sc.bn.weight",
                         "layers.0.bn_sc.bn.bias", "layers.0.bn_sc.bn.running_mean", "layers.0.bn_sc.bn.running_var",
                         "layers.0.bn_sc.bn.num_batches_tracked"])
        let readout = GroupedConvReadout(inputChannels: 8, neuronCount: 5, configuration: .init(groups: 2, dropout: 0, softplusBeta: 1, learnableBeta: true), generator: g)
        #expect(readout.namedParameters().map(\.path) == ["layer.1.weight", "layer.1.bias", "gate.beta"])
        #expect(readout.convolution.weight.shape == [6, 4, 1])
    }

    /// Neurons of group i see only channel block i; extra outputs of the rounded-up convolution
    /// are dropped; the shift is ignored.
    @Test func groupsSeeTheirOwnChannels() {
        let readout = GroupedConvReadout(inputChannels: 4, neuronCount: 5, configuration: .init(groups: 2, dropout: 0, softplusBeta: nil), generator: RandomGenerator(seed: 3))
        #expect(!readout.appliesOutputNonlinearity)
        let x = randn([1, 4, 2, 3, 3], seed: 4, requiresGrad: true)
        let y = readout(x, shift: Tensor.zeros([1, 2, 2]))
        #expect(y.shape == [1, 2, 5])
        y.sliced(axis: 2, range: 0..<3).sum().backward()     // neurons 0…2: group 0
        let g = x.grad!.reshaped([4, 18]).abs().sum(axis: 1).scalars
        #expect(g[0] > 0 && g[1] > 0 && g[2] == 0 && g[3] == 0)
    }

    /// The bias starts at the inverse softplus of the mean responses, so a zero input predicts
    /// them; without a gate it is the means themselves.
    @Test func biasFromMeanResponses() {
        let readout = GroupedConvReadout(inputChannels: 2, neuronCount: 3, configuration: .init(groups: 1, dropout: 0, softplusBeta: 0.07), generator: RandomGenerator(seed: 5))
        let means = Tensor([0.5, 2, 30])
        readout.initializeBias(meanResponses: means)
        readout.convolution.weight.assign(Tensor.zeros([4 - 1, 2, 1]))
        readout.eval()
        expectNear(readout(Tensor.zeros([1, 2, 1, 1, 1])).reshaped([3]), means, atol: 1e-4, rtol: 1e-4, "softplus inverse")
        let linear = GroupedConvReadout(inputChannels: 2, neuronCount: 3, configuration: .init(groups: 1, dropout: 0, softplusBeta: nil), generator: RandomGenerator(seed: 6))
        linear.initializeBias(meanResponses: means)
        #expect(Array(linear.convolution.bias!.scalars.prefix(3)) == [0.5, 2, 30])
    }

    /// Channel dropout zeroes whole channels across time in training and is the identity in eval;
    /// shuffle interleaves the two groups; the tiled shortcut repeats the input channels.
    @Test func dropoutShuffleAndTile() {
        let dropout = ChannelDropout(p: 0.5, generator: RandomGenerator(seed: 7))
        let x = Tensor.ones([4, 6, 5])
        let y = dropout(x).scalars
        for s in 0..<4 {
            for c in 0..<6 {
                let row = y[(s * 6 + c) * 5..<(s * 6 + c + 1) * 5]
                #expect(row.allSatisfy { $0 == 0 } || row.allSatisfy { $0 == 2 })
            }
        }
        dropout.eval()
        #expect(dropout(x).scalars == x.scalars)

        let layer = ShuffleLayer(inFeatures: 2, outFeatures: 6, groups: 2, generator: RandomGenerator(seed: 8))
        let channels = Tensor([0, 1, 2, 3, 4, 5], shape: [1, 6, 1])
        #expect(layer.shuffleChannels(channels).scalars == [0, 3, 1, 4, 2, 5])
        layer.eval()
        let shortcut = layer.tiledShortcut(Tensor([7, 9], shape: [1, 2, 1])).scalars
        let expected: [Float] = [7, 9, 7, 9, 7, 9].map { $0 / (1 + 1e-5).squareRoot() }
        for i in 0..<6 { #expect(abs(shortcut[i] - expected[i]) < 1e-5) }
    }

    /// Finite differences through cortex and readout (eval-mode BatchNorm, learned β).
    @Test func gradientCheck() {
        let g = RandomGenerator(seed: 9)
        let cortex = Cortex(configuration: .init(inputChannels: 2, features: [4], groups: 2, dropPathRate: 0), generator: g)
        let readout = GroupedConvReadout(inputChannels: 4, neuronCount: 3, configuration: .init(groups: 2, dropout: 0, softplusBeta: 0.8, learnableBeta: true), generator: g)
        cortex.eval(); readout.eval()
        let x = randn([2, 2, 3, 2, 2], seed: 10, requiresGrad: true)
        let shuffle = cortex.layers[0] as! ShuffleLayer
        let beta = readout.namedParameters().first { $0.path == "gate.beta" }!.tensor
        expectGradientsPass([x, shuffle.conv.weight, shuffle.bn.bn.weight!, readout.convolution.weight, beta], epsilon: 1e-3) {
            readout(cortex($0[0]))
        }
    }

    /// Without pooling the cortex acts on every pixel, so a Gaussian readout can sit behind it.
    @Test func unpooledCortexFeedsAGaussianReadout() {
        let g = RandomGenerator(seed: 11)
        let cortex = Cortex(configuration: .init(inputChannels: 4, features: [4, 8], groups: 2, dropPathRate: 0, poolSpatially: false), generator: g)
        let x = randn([2, 4, 2, 5, 6], seed: 12)
        let features = cortex(x)
        #expect(features.shape == [2, 8, 2, 5, 6])
        let readout = FullGaussian2d(inputChannels: 8, neuronCount: 4, generator: g)
        #expect(readout(features).shape == [2, 2, 4])
        #expect(cortex(randn([2, 4, 7], seed: 13)).shape == [2, 8, 7])
    }
}
