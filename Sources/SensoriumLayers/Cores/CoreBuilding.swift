import SensoriumTensor

// Construction shared by the built-in cores: the normalisation after each convolution, the 3-D
// cores' layer loop (`Basic3dCore`, `Factorized3dCore`) and the 2-D cores' per-layer options and
// outputs (`Stacked2dCore`, `RotationEquivariant2dCore`). Only construction order and names live
// here; each core keeps its own public surface.

/// The normalisation a built-in core puts after a layer's convolution, as neuralpredictors does:
/// BatchNorm (affine only when it both shifts and scales), then a separate shift (`bias`) or scale
/// (`scale`) layer when only one of the two is wanted.
struct CoreNormalization {
    /// BatchNorm at all.
    var batchNorm: Bool
    /// A learned shift.
    var bias: Bool
    /// A learned scale.
    var scale: Bool
    /// BatchNorm momentum (PyTorch convention).
    var momentum: Float

    /// The named layers (`norm`, then `bias` or `scale`); empty without BatchNorm.
    func layers(norm: (_ affine: Bool) -> any UnaryLayer, shift: () -> any UnaryLayer,
                scale makeScale: () -> any UnaryLayer) -> [(String, any UnaryLayer)] {
        guard batchNorm else { return [] }
        var result: [(String, any UnaryLayer)] = [("norm", norm(bias && scale))]
        if bias && !scale { result.append(("bias", shift())) }
        if !bias && scale { result.append(("scale", makeScale())) }
        return result
    }

    /// The channel-wise form for (N, C, …) inputs with 2 or 3 spatial axes.
    func layers(channels: Int, spatialRank: Int) -> [(String, any UnaryLayer)] {
        layers(norm: { affine in
                   spatialRank == 3 ? BatchNorm3d(channels, momentum: momentum, affine: affine)
                                    : BatchNorm2d(channels, momentum: momentum, affine: affine)
               },
               shift: { ChannelBias(channels: channels, spatialRank: spatialRank) },
               scale: { ChannelScale(channels: channels, spatialRank: spatialRank) })
    }
}

/// A layer of a built-in core: its convolutions, normalisation and (optional) nonlinearity, in
/// that order.
func coreLayer(_ convolutions: [(String, any UnaryLayer)], normalization: [(String, any UnaryLayer)],
               nonlinearity: CoreNonlinearity?, energy: (count: Int, function: EnergyFunction) = (0, .square),
               linearChannels: Int = 0) -> Sequential {
    var block = convolutions + normalization
    if energy.count > 0 || linearChannels > 0 {
        block.append(("nonlin", EnergyChannels(count: energy.count, function: energy.function, nonlinearity: nonlinearity?.makeLayer(),
                                               linearCount: linearChannels)))
    } else if let nonlinearity {
        block.append(("nonlin", nonlinearity.makeLayer()))
    }
    return Sequential(named: block)
}

/// The channels a layer of `channels` hands on when `energy` of them are energy units: all of
/// them, less half the energy units when those are ``EnergyFunction/quadrature`` pairs.
func handedOn(_ channels: Int, energy: Int, _ function: EnergyFunction) -> Int {
    channels - energy + function.outputCount(energy)
}

/// Re-initialises convolutions the way the built-in cores do: Xavier-normal weights, zero biases,
/// in order (so the generator is drawn from in the reference's order).
func initializeXavierNormal(_ convolutions: [Convolution], generator: RandomGenerator) {
    for conv in convolutions {
        conv.weight.initialize(with: .xavierNormal(), generator: generator)
        conv.bias?.initialize(with: .zeros, generator: generator)
    }
}

// MARK: - 3-D cores

/// The options every built-in core has.
protocol LayeredCoreOptions {
    var hiddenChannels: [Int] { get }
    var momentum: Float { get }
    var nonlinearity: CoreNonlinearity { get }
    var finalNonlinearity: Bool { get }
}

/// The options `Basic3dCore` and `Factorized3dCore` share.
protocol Core3dConfiguration: LayeredCoreOptions {
    var inputChannels: Int { get }
    var spatialDilation: Int { get }
    var temporalDilation: Int { get }
    var hiddenSpatialDilation: [Int] { get }
    var hiddenTemporalDilation: [Int] { get }
    var bias: Bool { get }
    var batchNorm: Bool { get }
    var batchNormScale: Bool { get }
}

/// What the 3-D layer loop knows about layer ℓ when it asks the core for its convolutions.
struct Core3dLayer {
    /// ℓ.
    let index: Int
    /// Channels in and out.
    let inputChannels: Int, outputChannels: Int
    /// Dilations of the layer (the first layer's options for ℓ = 0, the hidden ones after).
    let spatialDilation: Int, temporalDilation: Int
    /// The first layer's convolutions take the configured bias; hidden ones always have one (the
    /// reference passes a non-empty list as `bias`).
    let convolutionBias: Bool
    /// The reference's convolution key suffix: "" for layer 0, "_ℓ" after.
    var keySuffix: String { index == 0 ? "" : "_\(index)" }

    /// The first layer's value for ℓ = 0, else the hidden layers' value ℓ − 1.
    func pick<T>(first: T, hidden: [T]) -> T { index == 0 ? first : hidden[index - 1] }
}

extension Core3dConfiguration {
    /// The layers of a 3-D core, `layer0`, `layer1`, …: the convolutions `makeConvolutions` builds
    /// for each (re-initialised Xavier-normal with zero biases), BatchNorm3d (or a separate
    /// shift / scale), and the nonlinearity after every layer when there are several (after a single
    /// layer only with `finalNonlinearity`). Returns the stack and each layer's convolutions.
    func makeFeatures(core name: String, generator: RandomGenerator, energyChannels: [Int] = [0], energyFunction: EnergyFunction = .square,
                      linearChannels: [Int] = [0],
                      _ makeConvolutions: (Core3dLayer) -> [(String, Conv3d)]) -> (features: Sequential, convolutions: [[Conv3d]]) {
        let layers = hiddenChannels.count
        precondition(layers >= 1, "\(name): need at least one layer")
        let hidden = max(layers - 1, 1)
        let spatialDilations = perLayer(hiddenSpatialDilation, count: hidden, name: "hiddenSpatialDilation", core: name)
        let temporalDilations = perLayer(hiddenTemporalDilation, count: hidden, name: "hiddenTemporalDilation", core: name)
        let normalization = CoreNormalization(batchNorm: batchNorm, bias: bias, scale: batchNormScale, momentum: momentum)
        let energy = perLayer(energyChannels, count: layers, name: "energyChannels", core: name)
        let linear = perLayer(linearChannels, count: layers, name: "linearChannels", core: name)
        var blocks: [(String, any UnaryLayer)] = []
        var convolutions: [[Conv3d]] = []
        for l in 0..<layers {
            let layer = Core3dLayer(index: l, inputChannels: l == 0 ? inputChannels : handedOn(hiddenChannels[l - 1], energy: energy[l - 1], energyFunction),
                                    outputChannels: hiddenChannels[l],
                                    spatialDilation: l == 0 ? spatialDilation : spatialDilations[l - 1],
                                    temporalDilation: l == 0 ? temporalDilation : temporalDilations[l - 1],
                                    convolutionBias: l == 0 ? bias : true)
            let named = makeConvolutions(layer)
            initializeXavierNormal(named.map(\.1), generator: generator)
            convolutions.append(named.map(\.1))
            blocks.append(("layer\(l)", coreLayer(named.map { ($0.0, $0.1 as any UnaryLayer) },
                                                   normalization: normalization.layers(channels: hiddenChannels[l], spatialRank: 3),
                                                   nonlinearity: layers > 1 || finalNonlinearity ? nonlinearity : nil,
                                                   energy: (energy[l], energyFunction), linearChannels: linear[l])))
        }
        return (Sequential(named: blocks), convolutions)
    }
}

/// The state-dictionary names of the 3-D cores' regularisers (their reference attribute names).
let core3dRegularizerKeys = ["inputWeightRegularizer": "_input_weight_regularizer", "temporalRegularizer": "temporal_regularizer"]

// MARK: - 2-D cores

/// The options `Stacked2dCore` and `RotationEquivariant2dCore` share (per-layer flags given once or
/// per layer).
protocol Core2dConfiguration: LayeredCoreOptions {
    var hiddenKern: [Int] { get }
    var stack: [Int]? { get }
    var bias: [Bool] { get }
    var batchNorm: [Bool] { get }
    var batchNormScale: [Bool] { get }
    var linear: Bool { get }
}

/// The per-layer options of a 2-D core, each given once or per layer, checked and expanded.
struct Core2dLayers {
    /// Number of layers.
    let count: Int
    /// Kernel of each hidden layer (ℓ ≥ 1 at index ℓ − 1).
    let hiddenKernels: [Int]
    /// The normalisation of each layer.
    let normalization: [CoreNormalization]
    /// The nonlinearity of each layer, if any: none when `linear`, and after the last layer only
    /// with `finalNonlinearity`.
    let nonlinearities: [CoreNonlinearity?]
    /// The normalised indices of the layers whose outputs the core concatenates.
    let stacked: [Int]

    init(_ c: some Core2dConfiguration, core name: String) {
        count = c.hiddenChannels.count
        precondition(count >= 1, "\(name): need at least one layer")
        hiddenKernels = perLayer(c.hiddenKern, count: max(count - 1, 1), name: "hiddenKern", core: name)
        let bias = perLayer(c.bias, count: count, name: "bias", core: name)
        let batchNorm = perLayer(c.batchNorm, count: count, name: "batchNorm", core: name)
        let scale = perLayer(c.batchNormScale, count: count, name: "batchNormScale", core: name)
        normalization = (0..<count).map {
            CoreNormalization(batchNorm: batchNorm[$0], bias: bias[$0], scale: scale[$0], momentum: c.momentum)
        }
        let layers = count
        nonlinearities = (0..<count).map { !c.linear && ($0 < layers - 1 || c.finalNonlinearity) ? c.nonlinearity : nil }
        stacked = Core2dLayers.normalizedStack(c.stack, layers: count, core: name)
    }

    /// `stack` with negative indices counted from the end (all layers when nil).
    static func normalizedStack(_ stack: [Int]?, layers: Int, core: String) -> [Int] {
        guard let stack else { return Array(0..<layers) }
        return stack.map { i in
            let j = i < 0 ? i + layers : i
            precondition(j >= 0 && j < layers, "\(core): stack index \(i) out of range for \(layers) layers")
            return j
        }
    }

    /// A 2-D core's output: the outputs of the `stacked` layers, concatenated along channels.
    static func output(_ outputs: [Tensor], stacked: [Int]) -> Tensor {
        if stacked.count == 1 { return outputs[stacked[0]] }
        return Tensor.concatenate(stacked.map { outputs[$0] }, axis: 1)
    }
}

/// The 2-D cores' hidden-layer penalty: the mean over hidden layers of
/// `mean_(out, in) √(Σ_(kH, kW) w²)` (zero for a single layer).
func meanGroupSparsity(ofHiddenWeights weights: [Tensor], layers: Int) -> Tensor {
    var total = Tensor(scalar: 0)
    for w in weights { total = total + w.square().sum(axes: [2, 3]).sqrt().mean() }
    return total / Float(max(layers - 1, 1))
}

/// The state-dictionary name of the 2-D cores' Laplace regulariser.
let core2dRegularizerKeys = ["inputWeightsRegularizer": "_input_weights_regularizer"]
