import Testing
import SensoriumTensor
@testable import SensoriumLayers

/// Elementwise `|a - b| <= atol + rtol·|b|`.
func expectClose(_ a: Tensor, _ b: [Float], atol: Float = 1e-5, rtol: Float = 1e-4,
                 sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(a.count == b.count, "count \(a.count) vs \(b.count)", sourceLocation: sourceLocation)
    guard a.count == b.count else { return }
    let xs = a.scalars
    var worst = (index: 0, excess: Float(0))
    for i in 0..<xs.count {
        let excess = abs(xs[i] - b[i]) - (atol + rtol * abs(b[i]))
        if excess > worst.excess || excess.isNaN { worst = (i, excess.isNaN ? .infinity : excess) }
    }
    #expect(worst.excess <= 0, "element \(worst.index): \(xs[worst.index]) vs \(b[worst.index])",
            sourceLocation: sourceLocation)
}

func expectClose(_ a: Tensor, _ b: Tensor, atol: Float = 1e-5, rtol: Float = 1e-4,
                 sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(a.shape == b.shape, "shape \(a.shape) vs \(b.shape)", sourceLocation: sourceLocation)
    expectClose(a, b.scalars, atol: atol, rtol: rtol, sourceLocation: sourceLocation)
}

/// Runs a finite-difference gradient check and expects every input to pass.
/// A smaller `epsilon` suits small weights behind BatchNorm, where the loss is far from linear over ±1e-2.
func expectGradients(_ inputs: [Tensor], epsilon: Float = 1e-2, atol: Double = 2e-3, rtol: Double = 2e-2,
                     sourceLocation: SourceLocation = #_sourceLocation, _ f: ([Tensor]) -> Tensor) {
    for result in GradientCheck.check(inputs, epsilon: epsilon, atol: atol, rtol: rtol, f) {
        #expect(result.passed, "\(result)", sourceLocation: sourceLocation)
    }
}

private func random(_ shape: [Int], seed: UInt64, requiresGrad: Bool = false) -> Tensor {
    Tensor.randomNormal(shape, generator: RandomGenerator(seed: seed), requiresGrad: requiresGrad)
}

@Suite struct LayerTests {
    // MARK: Linear

    @Test func linearMatchesTheFormulaAndKeys() {
        let g = RandomGenerator(seed: 1)
        let layer = Linear(3, 2, generator: g)
        #expect(layer.namedParameters().map(\.path) == ["weight", "bias"])
        #expect(layer.weight.shape == [2, 3] && layer.bias!.shape == [2])
        #expect(layer.weight.requiresGrad && layer.bias!.requiresGrad)
        let bound = 1 / Float(3).squareRoot()
        #expect((layer.weight.scalars + layer.bias!.scalars).allSatisfy { abs($0) <= bound })
        let x = random([4, 5, 3], seed: 2)
        let y = layer(x)
        #expect(y.shape == [4, 5, 2])
        var expected: [Float] = []
        let w = layer.weight.scalars, b = layer.bias!.scalars, xs = x.scalars
        for r in 0..<20 {
            for o in 0..<2 {
                var acc = b[o]
                for i in 0..<3 { acc += xs[r * 3 + i] * w[o * 3 + i] }
                expected.append(acc)
            }
        }
        expectClose(y, expected)
        let noBias = Linear(3, 2, bias: false, generator: g)
        #expect(noBias.namedParameters().map(\.path) == ["weight"])
    }

    @Test func linearGradients() {
        let layer = Linear(3, 2, generator: RandomGenerator(seed: 3))
        let x = random([2, 3], seed: 4, requiresGrad: true)
        expectGradients([x, layer.weight, layer.bias!]) { t in linear(t[0], weight: t[1], bias: t[2]) }
        // gradients reach the module's parameters through its forward
        layer.zeroGrad()
        layer(x).sum().backward()
        #expect(layer.weight.grad != nil && layer.bias!.grad != nil)
        #expect(layer.bias!.grad!.scalars == [2, 2])
    }

    // MARK: Activations and Sequential

    @Test func activationModulesApplyTheirOps() {
        let x = random([3, 4], seed: 5)
        expectClose(ELU(alpha: 0.5)(x), x.elu(alpha: 0.5))
        expectClose(SiLU()(x), x.silu())
        expectClose(GELU()(x), x.gelu())
        expectClose(GELU(approximate: .tanh)(x), x.gelu(approximate: .tanh))
        expectClose(Tanh()(x), x.tanh())
        expectClose(Sigmoid()(x), x.sigmoid())
        expectClose(ReLU()(x), x.relu())
        expectClose(Softplus(beta: 0.07)(x), x.softplus(beta: 0.07, threshold: 20))
        #expect(Identity()(x) === x)
        expectClose(Lambda("elu+1") { $0.elu() + 1 }(x), x.elu() + 1)
        for m: Module in [ELU(), SiLU(), GELU(), Tanh(), Sigmoid(), ReLU(), Softplus(), Identity()] {
            #expect(m.parameterCount == 0 && m.stateDict().isEmpty)
        }
    }

    @Test func sequentialMLPKeysAndForward() {
        let g = RandomGenerator(seed: 6)
        let mlp = Sequential(Linear(2, 5, generator: g), Tanh(), Linear(5, 2, generator: g), Tanh())
        #expect(mlp.namedParameters().map(\.path) == ["0.weight", "0.bias", "2.weight", "2.bias"])
        #expect(mlp.parameterCount == 2 * 5 + 5 + 5 * 2 + 2)
        let x = random([3, 2], seed: 7)
        let l0 = mlp[0] as! Linear, l2 = mlp[2] as! Linear
        expectClose(mlp(x), l2(l0(x).tanh()).tanh())
    }

    // MARK: Convolutions

    @Test func convolutionShapesAndKeys() {
        let g = RandomGenerator(seed: 8)
        let c1 = Conv1d(4, 6, kernelSize: 3, stride: 2, padding: 1, groups: 2, generator: g)
        #expect(c1.weight.shape == [6, 2, 3])
        let x1 = random([2, 4, 9], seed: 9)
        #expect(c1(x1).shape == [2, 6, 5] && c1.outputShape(for: x1.shape) == [2, 6, 5])

        let c2 = Conv2d(3, 8, kernelSize: [3, 5], padding: .same, dilation: [2, 1], generator: g)
        #expect(c2.padding == [2, 2] && c2.weight.shape == [8, 3, 3, 5])
        let x2 = random([1, 3, 7, 6], seed: 10)
        #expect(c2(x2).shape == [1, 8, 7, 6] && c2.outputShape(for: x2.shape) == [1, 8, 7, 6])

        let spatial = Conv3d(3, 4, kernelSize: [1, 5, 5], bias: false, generator: g)
        #expect(spatial.bias == nil && spatial.namedParameters().map(\.path) == ["weight"])
        let temporal = Conv3d(4, 4, kernelSize: [3, 1, 1], generator: g)
        let x3 = random([2, 3, 6, 8, 9], seed: 11)
        let y3 = temporal(spatial(x3))
        #expect(y3.shape == [2, 4, 4, 4, 5])
        #expect(temporal.outputShape(for: spatial.outputShape(for: x3.shape)) == y3.shape)

        // PyTorch's default init bounds: weight and bias within 1/sqrt(fanIn)
        let bound = 1 / Float(4 * 3).squareRoot()
        #expect((temporal.weight.scalars + temporal.bias!.scalars).allSatisfy { abs($0) <= bound })
    }

    @Test func convolutionMatchesTheOpAndHasGradients() {
        let g = RandomGenerator(seed: 12)
        let conv = Conv2d(2, 3, kernelSize: 3, stride: [1, 2], padding: [1, 0], generator: g)
        let x = random([2, 2, 5, 6], seed: 13, requiresGrad: true)
        expectClose(conv(x), conv2d(x, weight: conv.weight, bias: conv.bias, stride: [1, 2], padding: [1, 0]))
        expectGradients([x, conv.weight, conv.bias!]) { _ in conv(x) }
    }

    // MARK: Normalisation

    @Test func batchNormTrainingUpdatesRunningStatsAndEvalUsesThem() {
        let bn = BatchNorm2d(3, momentum: 0.7)
        #expect(bn.namedParameters().map(\.path) == ["weight", "bias"])
        #expect(bn.namedBuffers().map(\.path) == ["running_mean", "running_var", "num_batches_tracked"])
        #expect(bn.numBatchesTracked!.shape == [])
        let x = random([4, 3, 2, 2], seed: 14) * 2 + 1
        let y = bn(x)
        // normalised per channel in training mode
        let m = y.mean(axes: [0, 2, 3]).scalars
        #expect(m.allSatisfy { abs($0) < 1e-5 })
        // running = 0.3·old + 0.7·batch (unbiased variance)
        let batchMean = x.mean(axes: [0, 2, 3])
        let centered = x - batchMean.reshaped([1, 3, 1, 1])
        let unbiased = (centered * centered).sum(axes: [0, 2, 3]) / 15
        expectClose(bn.runningMean!, (batchMean * 0.7).scalars)
        expectClose(bn.runningVar!, (unbiased * 0.7 + 0.3).scalars)
        #expect(bn.numBatchesTracked!.item == 1)
        // evaluation: fixed statistics, nothing updated
        bn.eval()
        let before = bn.runningMean!.scalars
        let e = bn(x)
        #expect(bn.runningMean!.scalars == before && bn.numBatchesTracked!.item == 1)
        let expected = (x - bn.runningMean!.reshaped([1, 3, 1, 1])) / (bn.runningVar!.reshaped([1, 3, 1, 1]) + 1e-5).sqrt()
        expectClose(e, expected)
    }

    @Test func batchNormCumulativeMomentumMatchesPyTorch() {
        // torch.nn.BatchNorm1d(2, momentum=None) after two batches; values from PyTorch 2.13.
        let bnX1: [Float] = [0.4335119, -1.73425, -1.336049, 0.887096, 0.7679574, 0.057113, 0.2239584, 0.5519643]
        let bnX2: [Float] = [-0.157596, 1.035444, 1.263653, 3.039534, 0.1063222, 1.904045, -0.9518489, 2.422474]
        let bn = BatchNorm1d(2, momentum: nil)
        _ = bn(Tensor(bnX1, shape: [4, 2]))
        _ = bn(Tensor(bnX2, shape: [4, 2]))
        expectClose(bn.runningMean!, [0.04373866, 1.020427])
        expectClose(bn.runningVar!, [0.8554806, 1.041118])
        #expect(bn.numBatchesTracked!.item == 2)
        bn.eval()
        expectClose(bn(Tensor(bnX1, shape: [4, 2])),
                    [0.4214096, -2.699719, -1.491779, -0.1306713, 0.7830008, -0.9440955, 0.1948474, -0.4591169])
    }

    @Test func batchNormOptions() {
        let plain = BatchNorm3d(2, affine: false, trackRunningStats: false)
        #expect(plain.stateDict().isEmpty)
        let x = random([2, 2, 3, 2, 2], seed: 15) * 3 + 2
        plain.eval()  // without running statistics, evaluation still uses the batch
        let y = plain(x)
        #expect(y.mean(axes: [0, 2, 3, 4]).scalars.allSatisfy { abs($0) < 1e-5 })
        let bn1 = BatchNorm1d(2)
        #expect(bn1(random([3, 2, 4], seed: 16)).shape == [3, 2, 4])
        bn1.resetRunningStats()
        #expect(bn1.runningMean!.scalars == [0, 0] && bn1.numBatchesTracked!.item == 0)
    }

    @Test func batchNormGradients() {
        let bn = BatchNorm2d(2)
        bn.weight!.assign(Tensor([1.5, -0.5]))
        bn.bias!.assign(Tensor([0.2, 0.1]))
        let x = random([3, 2, 2, 2], seed: 17, requiresGrad: true)
        expectGradients([x, bn.weight!, bn.bias!]) { _ in bn(x) }
        bn.eval()
        expectGradients([x, bn.weight!, bn.bias!]) { _ in bn(x) }
    }

    @Test func layerNormNormalisesTrailingAxes() {
        let ln = LayerNorm([2, 3])
        #expect(ln.namedParameters().map(\.path) == ["weight", "bias"])
        let x = random([4, 2, 3], seed: 18) * 3 + 1
        let y = ln(x)
        let mean = y.mean(axes: [1, 2]).scalars
        let variance = (y * y).mean(axes: [1, 2]).scalars
        #expect(mean.allSatisfy { abs($0) < 1e-5 })
        #expect(variance.allSatisfy { abs($0 - 1) < 1e-3 })
        ln.weight!.assign(Tensor([1, 2, 3, 4, 5, 6], shape: [2, 3]))
        expectGradients([x, ln.weight!, ln.bias!]) { _ in ln(x) }
        #expect(LayerNorm(4, elementwiseAffine: false).parameterCount == 0)
    }

    // MARK: Dropout

    @Test func dropoutTrainingAndEval() {
        let x = Tensor.ones([10_000])
        let drop = Dropout(p: 0.25, generator: RandomGenerator(seed: 19))
        #expect(drop.stateDict().isEmpty)
        let y = drop(x).scalars
        let kept = y.filter { $0 != 0 }
        #expect(abs(Double(kept.count) / 10_000 - 0.75) < 0.03)
        #expect(kept.allSatisfy { abs($0 - 4.0 / 3.0) < 1e-6 })
        drop.eval()
        #expect(drop(x).scalars == x.scalars)
        // same seed, same mask
        let a = Dropout(p: 0.5, generator: RandomGenerator(seed: 5))(x).scalars
        let b = Dropout(p: 0.5, generator: RandomGenerator(seed: 5))(x).scalars
        #expect(a == b)
    }

    @Test func featureDropoutDropsWholeChannels() {
        let x = Tensor.ones([50, 40, 3])
        let drop = FeatureDropout(p: 0.4, generator: RandomGenerator(seed: 32))
        let y = drop(x).scalars
        var dropped = 0
        for channel in 0..<2000 {
            let values = Set(y[(channel * 3)..<(channel * 3 + 3)])
            #expect(values.count == 1)
            if values.first! == 0 { dropped += 1 } else { #expect(abs(values.first! - 1 / 0.6) < 1e-5) }
        }
        #expect(abs(Double(dropped) / 2000 - 0.4) < 0.04)
        drop.eval()
        #expect(drop(x) === x)
    }

    @Test func dropPathDropsWholeSamples() {
        let x = Tensor.ones([2000, 3, 2])
        let dp = DropPath(p: 0.2, generator: RandomGenerator(seed: 20))
        let y = dp(x)
        let perSample = y.reshaped([2000, 6]).scalars
        var dropped = 0
        for s in 0..<2000 {
            let row = perSample[(s * 6)..<(s * 6 + 6)]
            #expect(Set(row).count == 1)  // all or nothing per sample
            if row.first! == 0 { dropped += 1 } else { #expect(abs(row.first! - 1.25) < 1e-6) }
        }
        #expect(abs(Double(dropped) / 2000 - 0.2) < 0.04)
        dp.eval()
        #expect(dp(x) === x)
        let xg = random([4, 3], seed: 21, requiresGrad: true)
        let gen = RandomGenerator(seed: 22)
        let dpg = DropPath(p: 0.5, generator: gen)
        let state = gen.state
        expectGradients([xg]) { t in gen.state = state; return dpg(t[0]) }
        #expect(DropPath(p: 1, generator: gen)(x).scalars.allSatisfy { $0 == 0 })
    }

    // MARK: Squeeze-and-excitation

    @Test func squeezeExcitationGatesChannels() {
        let g = RandomGenerator(seed: 23)
        let se = SqueezeExcitation(channels: 4, reducedChannels: 2, spatialRank: 3, activation: SiLU(), generator: g)
        #expect(se.namedParameters().map(\.path) == ["conv_reduce.weight", "conv_reduce.bias",
                                                     "conv_expand.weight", "conv_expand.bias"])
        #expect(se.reduce.weight.shape == [2, 4, 1, 1, 1])
        let x = random([2, 4, 3, 2, 2], seed: 24, requiresGrad: true)
        let y = se(x)
        #expect(y.shape == x.shape)
        // manual: pooled → linear → SiLU → linear → sigmoid
        let pooled = x.mean(axes: [2, 3, 4])
        let hidden = linear(pooled, weight: se.reduce.weight.reshaped([2, 4]), bias: se.reduce.bias).silu()
        let gate = linear(hidden, weight: se.expand.weight.reshaped([4, 2]), bias: se.expand.bias).sigmoid()
        expectClose(y, x * gate.reshaped([2, 4, 1, 1, 1]))
        expectGradients([x, se.reduce.weight, se.expand.bias!]) { _ in se(x) }
    }

    // MARK: ConvGRU

    @Test func convGRUKeysFollowNeuralpredictors() {
        let gru = ConvGRU(inputChannels: 2, recChannels: 3, inputKern: 3, recKern: 3, generator: RandomGenerator(seed: 25))
        let keys = Set(gru.stateDict().keys)
        var expected = Set<String>()
        for gate in ["reset", "update", "out"] {
            for side in ["input", "hidden"] {
                expected.insert("gru.\(gate)_gate_\(side).weight")
                expected.insert("gru.\(gate)_gate_\(side).bias")
            }
        }
        #expect(keys == expected)
        #expect(gru.cell.resetGateInput.bias!.scalars.allSatisfy { $0 == 0 })
        #expect(gru.cell.outGateHidden.weight.shape == [3, 3, 3, 3])
    }

    @Test func convGRUFusedRunEqualsStepByStepCell() {
        let g = RandomGenerator(seed: 26)
        for padInput in [true, false] {
            let gru = ConvGRU(inputChannels: 2, recChannels: 3, inputKern: 3, recKern: 3, padInput: padInput, generator: g)
            for conv in [gru.cell.resetGateInput, gru.cell.updateGateHidden, gru.cell.outGateInput] {
                conv.bias!.initialize(with: .normal(std: 0.3), generator: g)
            }
            let x = random([2, 2, 4, 5, 6], seed: 27)
            let y = gru(x)
            #expect(y.shape == gru.outputShape(for: x.shape))
            var h: Tensor? = nil
            var states: [Tensor] = []
            for t in 0..<4 {
                let frame = x.split(sizes: [1, 1, 1, 1], axis: 2)[t].reshaped([2, 2, 5, 6])
                h = gru.cell(frame, h)
                states.append(h!)
            }
            expectClose(y, Tensor.stack(states, axis: 2))
        }
    }

    @Test func convGRUGroupedAndGradients() {
        let g = RandomGenerator(seed: 28)
        let grouped = ConvGRU(inputChannels: 4, recChannels: 4, inputKern: 3, recKern: 3, groups: 2, generator: g)
        let xg = random([1, 4, 3, 4, 4], seed: 29)
        var h: Tensor? = nil
        var states: [Tensor] = []
        for t in 0..<3 {
            h = grouped.cell(xg.split(sizes: [1, 1, 1], axis: 2)[t].reshaped([1, 4, 4, 4]), h)
            states.append(h!)
        }
        expectClose(grouped(xg), Tensor.stack(states, axis: 2))

        let gru = ConvGRU(inputChannels: 2, recChannels: 2, inputKern: 3, recKern: 3, generator: g)
        let x = random([1, 2, 3, 3, 3], seed: 30, requiresGrad: true)
        expectGradients([x, gru.cell.updateGateInput.weight, gru.cell.resetGateHidden.weight,
                         gru.cell.outGateHidden.weight, gru.cell.outGateInput.bias!]) { _ in gru(x) }
    }

    // MARK: Attention

    @Test func multiheadAttentionMatchesPyTorch() throws {
        // torch.nn.MultiheadAttention(4, 2, batch_first=True), torch.manual_seed(0); PyTorch 2.13.
        let inProjWeight: [Float] = [0.2224242, 0.5085067, -0.1260264, 0.4582455, -0.09870425, 0.06479764, 0.5544887, -0.5680798, -0.3855117, -0.1550314, -0.2387028, 0.5290903, -0.3969274, -0.2818952, -0.4278282, -0.5735242, -0.3574666, 0.5263942, 0.2732518, 0.2968001, 0.03220562, -0.3139533, 0.103604, -0.5717689, -0.4424797, -0.3156964, 0.386369, 0.359047, -0.2715842, -0.02209586, 0.3916494, 0.6087797, 0.2430397, 0.08272714, 0.4105874, -0.3605663, 0.114112, -0.4747757, -0.4244269, -0.3163415, 0.277082, 0.246272, -0.3627404, 0.1850021, 0.3361754, -0.07729204, 0.02338133, 0.1418896]
        let inProjBias: [Float] = [0.3101883, 0.4800971, -0.3853118, -0.1832349, 0.196505, 0.4142747, 0.4351037, 0.4411784, 0.09950727, -0.4347913, 0.04599625, -0.3128027]
        let outWeight: [Float] = [-0.00374341, 0.2682218, -0.4115226, -0.3679695, -0.1925772, 0.1340787, -0.00990659, 0.3964447, -0.04437202, 0.1323063, -0.1511065, -0.09828269, -0.4776742, -0.3311411, -0.2061116, 0.01852179]
        let outBias: [Float] = [-0.4659771, 0.4442462, 0.3801799, -0.498764]
        let query: [Float] = [0.8418941, -0.4000342, 1.039462, 0.3581531, -0.003303873, -0.5344407, 1.168688, 0.3945028, -0.8024929, -1.295186, -0.7501815, -1.311966, -0.2188337, -2.435065, -0.07291476, -0.03398641, 0.7968872, -0.1848416, -0.3701473, -1.210281, -0.6226985, -0.4637222, 1.921782, -0.4025455]
        let keyValue: [Float] = [0.09295023, -0.6660997, 0.6080472, -0.7300199, -0.8833758, -0.4189135, -0.8048265, 0.5656096, 0.180367, 0.1083319, -0.7548233, 0.2443185, -0.07732575, 0.1163986, -0.5939908, -1.243928]
        let selfOut: [Float] = [-0.1745934, 0.2008311, 0.4547601, -0.5158012, -0.173902, 0.2443994, 0.4621584, -0.5369311, -0.2140861, 0.4004747, 0.4702827, -0.5952186, 0.01230508, 0.3093184, 0.5431598, -0.5938009, -0.2458657, 0.2820697, 0.4384251, -0.6637709, -0.2356285, 0.3223837, 0.4511364, -0.6871208]
        let crossOut: [Float] = [-0.2615753, 0.2557538, 0.4323554, -0.4425704, -0.267433, 0.2426033, 0.4277329, -0.4725749, -0.2972408, 0.2089819, 0.4115649, -0.5395741, -0.4466034, 0.2819431, 0.3704734, -0.5998199, -0.4120798, 0.2672315, 0.3815432, -0.6042565, -0.3776717, 0.2511161, 0.391892, -0.6490104]
        let maskedOut: [Float] = [-0.2025097, 0.1922645, 0.435656, -0.6446224, -0.267433, 0.2426033, 0.4277329, -0.4725749, -0.359189, 0.3471931, 0.4239224, -0.1433541, -0.6168959, 0.3608041, 0.3188329, -0.4032364, -0.4120798, 0.2672315, 0.3815432, -0.6042565, -0.2455623, 0.1933722, 0.4335706, -0.7061745]

        let mha = MultiheadAttention(embedDim: 4, numHeads: 2, generator: RandomGenerator(seed: 31))
        #expect(Set(mha.stateDict().keys) == ["in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"])
        try mha.loadStateDict([
            "in_proj_weight": Tensor(inProjWeight, shape: [12, 4]), "in_proj_bias": Tensor(inProjBias),
            "out_proj.weight": Tensor(outWeight, shape: [4, 4]), "out_proj.bias": Tensor(outBias),
        ])
        let q = Tensor(query, shape: [2, 3, 4]), kv = Tensor(keyValue, shape: [2, 2, 4])
        expectClose(mha(q), selfOut)
        expectClose(mha(q, key: kv, value: kv), crossOut)
        let mask = Tensor([0, -1e9, 0, 0, -1e9, 0], shape: [3, 2])
        expectClose(mha(q, key: kv, value: kv, mask: mask), maskedOut)
        let qg = Tensor(query, shape: [2, 3, 4], requiresGrad: true)
        expectGradients([qg, mha.inProjWeight, mha.outProj.weight]) { _ in mha(qg, key: kv, value: kv, mask: mask) }
        expectGradients([qg, mha.inProjBias!]) { _ in mha(qg) }
    }
}
