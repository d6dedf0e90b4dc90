import SensoriumTensor

/// Checks a built-in core's options before it is built, so that a configuration file or a flag can
/// never reach a precondition of the core's constructor: each failure is a ``ComponentError``
/// naming the option, what it must be and what it is.
struct CoreOptionChecks {
    let type: String
    private(set) var problems: [String] = []

    init(type: String) { self.type = type }

    mutating func require(_ condition: Bool, _ message: @autoclosure () -> String) {
        if !condition { problems.append(message()) }
    }

    /// A positive count.
    mutating func positive(_ value: Int, _ name: String) {
        require(value > 0, "\(name) must be positive, got \(value)")
    }

    /// A non-empty list of positive values.
    mutating func positiveList(_ values: [Int], _ name: String) {
        require(!values.isEmpty && values.allSatisfy { $0 > 0 }, "\(name) must be a non-empty list of positive values, got \(values)")
    }

    /// One value for all layers or one per layer.
    mutating func perLayer(_ count: Int, layers: Int, _ name: String) {
        require(count == 1 || count == layers, "\(name) needs 1 or \(layers) values, got \(count)")
    }

    /// One value for all layers or one per layer, expanded to one per layer (nil, and a problem
    /// recorded, for any other count).
    mutating func perLayerValues<T>(_ values: [T], layers: Int, _ name: String) -> [T]? {
        perLayer(values.count, layers: layers, name)
        guard values.count == 1 || values.count == layers else { return nil }
        return SensoriumLayers.perLayer(values, count: layers, name: name, core: type)
    }

    /// Kernels of `rank` positive sizes.
    mutating func kernel(_ k: [Int], rank: Int, _ name: String) {
        require(k.count == rank && k.allSatisfy { $0 > 0 }, "\(name) must be \(rank) positive sizes, got \(k)")
    }

    /// Throws the problems found, all of them.
    func finish() throws {
        guard problems.isEmpty else {
            throw ComponentError.invalid(kind: CoreKind.name, type: type, message: problems.joined(separator: "; "))
        }
    }
}

extension Factorized3dCore.Configuration {
    /// The options' problems, as one error (nil options are the defaults').
    func check() throws {
        var c = CoreOptionChecks(type: Self.typeName)
        c.positive(inputChannels, "inputChannels")
        c.positiveList(hiddenChannels, "hiddenChannels")
        let hidden = max(hiddenChannels.count - 1, 1)
        c.kernel(spatialInputKernel, rank: 2, "spatialInputKernel")
        c.positive(temporalInputKernel, "temporalInputKernel")
        c.perLayer(spatialHiddenKernels.count, layers: hidden, "spatialHiddenKernels")
        for k in spatialHiddenKernels { c.kernel(k, rank: 2, "spatialHiddenKernels") }
        c.perLayer(temporalHiddenKernels.count, layers: hidden, "temporalHiddenKernels")
        c.require(temporalHiddenKernels.allSatisfy { $0 > 0 }, "temporalHiddenKernels must be positive, got \(temporalHiddenKernels)")
        c.perLayer(stride.count, layers: max(hiddenChannels.count, 1), "stride")
        c.require(stride.allSatisfy { $0 > 0 }, "stride must be positive, got \(stride)")
        c.require(spatialDilation > 0 && temporalDilation > 0, "dilations must be positive")
        c.perLayer(hiddenSpatialDilation.count, layers: hidden, "hiddenSpatialDilation")
        c.perLayer(hiddenTemporalDilation.count, layers: hidden, "hiddenTemporalDilation")
        c.require((hiddenSpatialDilation + hiddenTemporalDilation).allSatisfy { $0 > 0 }, "hidden dilations must be positive")
        c.require(momentum >= 0 && momentum <= 1, "momentum must be in [0, 1], got \(momentum)")
        c.require(gammaInputSpatial.isFinite && gammaInputTemporal.isFinite, "the gammas must be finite")
        c.require(!constantInputChannels || !padding,
                  "constantInputChannels needs padding false (padded borders are not constant)")
        let layers = max(hiddenChannels.count, 1)
        let energy = c.perLayerValues(energyChannels, layers: layers, "energyChannels")
        let linear = c.perLayerValues(linearChannels, layers: layers, "linearChannels")
        let groups = c.perLayerValues(temporalGroups, layers: layers, "temporalGroups")
        if let energy {
            c.require(zip(energy, hiddenChannels).allSatisfy { $0 >= 0 && $0 <= $1 },
                      "energyChannels must be between 0 and each layer's channels \(hiddenChannels), got \(energyChannels)")
            c.require(energyFunction != .quadrature || energy.allSatisfy { $0 % 2 == 0 },
                      "quadrature energy units come in pairs: energyChannels must be even, got \(energyChannels)")
        }
        if let linear { c.require(linear.allSatisfy { $0 >= 0 }, "linearChannels must be non-negative, got \(linearChannels)") }
        if let groups {
            c.require(zip(groups, hiddenChannels).allSatisfy { $0 > 0 && $1 % $0 == 0 },
                      "temporalGroups must be positive and divide each layer's channels \(hiddenChannels), got \(temporalGroups)")
        }
        if let energy, let linear {
            c.require(zip(zip(energy, linear), hiddenChannels).allSatisfy { $0.0 + $0.1 <= $1 },
                      "energyChannels \(energyChannels) and linearChannels \(linearChannels) together must fit in each layer's channels \(hiddenChannels)")
        }
        try c.finish()
    }
}

extension Basic3dCore.Configuration {
    func check() throws {
        var c = CoreOptionChecks(type: Self.typeName)
        c.positive(inputChannels, "inputChannels")
        c.positiveList(hiddenChannels, "hiddenChannels")
        let hidden = max(hiddenChannels.count - 1, 1)
        c.kernel(inputKernel, rank: 3, "inputKernel")
        c.perLayer(hiddenKernels.count, layers: hidden, "hiddenKernels")
        for k in hiddenKernels { c.kernel(k, rank: 3, "hiddenKernels") }
        c.perLayer(stride.count, layers: max(hiddenChannels.count, 1), "stride")
        c.require(stride.allSatisfy { $0 > 0 }, "stride must be positive, got \(stride)")
        c.require(spatialDilation > 0 && temporalDilation > 0, "dilations must be positive")
        c.perLayer(hiddenSpatialDilation.count, layers: hidden, "hiddenSpatialDilation")
        c.perLayer(hiddenTemporalDilation.count, layers: hidden, "hiddenTemporalDilation")
        c.require(momentum >= 0 && momentum <= 1, "momentum must be in [0, 1], got \(momentum)")
        try c.finish()
    }
}

/// The options both 2-D cores check alike.
func check2d(_ c: inout CoreOptionChecks, inputChannels: Int, hiddenChannels: [Int], inputKern: Int, hiddenKern: [Int],
             stride: Int, stack: [Int]?, bias: [Bool], batchNorm: [Bool], batchNormScale: [Bool], momentum: Float) {
    c.positive(inputChannels, "inputChannels")
    c.positiveList(hiddenChannels, "hiddenChannels")
    let layers = max(hiddenChannels.count, 1)
    c.positive(inputKern, "inputKern")
    c.perLayer(hiddenKern.count, layers: max(layers - 1, 1), "hiddenKern")
    c.require(hiddenKern.allSatisfy { $0 > 0 }, "hiddenKern must be positive, got \(hiddenKern)")
    c.positive(stride, "stride")
    for (name, values) in [("bias", bias), ("batchNorm", batchNorm), ("batchNormScale", batchNormScale)] {
        c.perLayer(values.count, layers: layers, name)
    }
    if let stack {
        c.require(!stack.isEmpty && stack.allSatisfy { $0 >= -layers && $0 < layers },
                  "stack indices must be in -\(layers)..<\(layers), got \(stack)")
    }
    c.require(momentum >= 0 && momentum <= 1, "momentum must be in [0, 1], got \(momentum)")
}

extension Stacked2dCore.Configuration {
    func check() throws {
        var c = CoreOptionChecks(type: Self.typeName)
        check2d(&c, inputChannels: inputChannels, hiddenChannels: hiddenChannels, inputKern: inputKern, hiddenKern: hiddenKern,
                stride: stride, stack: stack, bias: bias, batchNorm: batchNorm, batchNormScale: batchNormScale, momentum: momentum)
        c.require(skip >= 0, "skip must be non-negative, got \(skip)")
        c.require(skip <= 1 || Set(hiddenChannels).count <= 1, "skip connections need equal hidden channels, got \(hiddenChannels)")
        c.require(inputStride > 0 && hiddenDilation > 0, "inputStride and hiddenDilation must be positive")
        try c.finish()
    }
}

extension RotationEquivariant2dCore.Configuration {
    func check() throws {
        var c = CoreOptionChecks(type: Self.typeName)
        check2d(&c, inputChannels: inputChannels, hiddenChannels: hiddenChannels, inputKern: inputKern, hiddenKern: hiddenKern,
                stride: stride, stack: stack, bias: bias, batchNorm: batchNorm, batchNormScale: batchNormScale, momentum: momentum)
        c.positive(numRotations, "numRotations")
        c.positive(upsampling, "upsampling")
        c.require(initStd > 0, "initStd must be positive, got \(initStd)")
        try c.finish()
    }
}

extension ConvGRUConfiguration {
    func check(type: String) throws {
        var c = CoreOptionChecks(type: type)
        c.positive(recChannels, "gru.recChannels")
        c.positive(groups, "gru.groups")
        c.require(recKern > 0 && recKern % 2 == 1, "gru.recKern must be odd (the state keeps its size), got \(recKern)")
        c.require(inputKern > 0 && (!padInput || inputKern % 2 == 1), "gru.inputKern must be positive, and odd with padInput, got \(inputKern)")
        c.require(recChannels % max(groups, 1) == 0, "gru.recChannels (\(recChannels)) must be divisible by gru.groups (\(groups))")
        try c.finish()
    }
}

extension DwiseNeuroCore.Configuration {
    /// The options' problems, as one error (what ``DwiseNeuroCore/init(configuration:generator:)``
    /// and its blocks would otherwise stop on).
    func check() throws {
        var c = CoreOptionChecks(type: Self.typeName)
        c.positive(inChannels, "inChannels")
        c.positiveList(features, "features")
        c.require(spatialStrides.count == features.count,
                  "spatialStrides needs one stride per entry of features (\(features.count)), got \(spatialStrides.count)")
        c.require(spatialStrides.allSatisfy { $0 > 0 }, "spatialStrides must be positive, got \(spatialStrides)")
        c.require(spatialKernel > 0 && spatialKernel % 2 == 1, "spatialKernel must be odd and positive, got \(spatialKernel)")
        c.require(temporalKernel > 0 && temporalKernel % 2 == 1, "temporalKernel must be odd and positive, got \(temporalKernel)")
        c.positive(expansionRatio, "expansionRatio")
        c.positive(seReduceRatio, "seReduceRatio")
        if expansionRatio > 0, seReduceRatio > 0, let smallest = features.filter({ $0 > 0 }).min() {
            let (mid, overflow) = smallest.multipliedReportingOverflow(by: expansionRatio)
            c.require(!overflow && mid / seReduceRatio > 0,
                      "seReduceRatio \(seReduceRatio) leaves no squeeze-excitation channels for \(smallest) features × expansionRatio \(expansionRatio)")
        }
        c.require(dropPathRate >= 0 && dropPathRate <= 1, "dropPathRate must be in [0, 1], got \(dropPathRate)")
        try c.finish()
    }
}
