import Testing
@testable import SensoriumTensor

/// A per-frame convolution ((1, kH, kW) kernel, unit stride) with a Double reference of its forward
/// pass and gradients.
private struct FrameCase: CustomStringConvertible {
    var n = 2, c = 8, o = 8, groups = 1
    var frames = 2, h = 5, w = 9
    var kH = 3, kW = 5
    var pH = 1, pW = 2, dH = 1

    var description: String { "n\(n) c\(c) o\(o) g\(groups) T\(frames) \(h)×\(w) k\(kH)×\(kW) p\(pH),\(pW) dH\(dH)" }

    var geometry: ConvGeometry {
        ConvGeometry(batch: n, inChannels: c, outChannels: o, groups: groups, input: [frames, h, w],
                     kernel: [1, kH, kW], stride: [1, 1, 1], padding: [0, pH, pW], dilation: [1, dH, 1])
    }

    /// Calls `body(xIndex, wIndex, outIndex)` for every multiply-add.
    func forEachTap(_ body: (Int, Int, Int) -> Void) {
        let g = geometry
        let cg = c / groups, og = o / groups
        for b in 0..<n { for oc in 0..<o { for t in 0..<frames { for oh in 0..<g.outH { for ow in 0..<g.outW {
            let outIndex = (((b * o + oc) * frames + t) * g.outH + oh) * g.outW + ow
            for ci in 0..<cg { for kh in 0..<kH { for kw in 0..<kW {
                let ih = oh - pH + kh * dH, iw = ow - pW + kw
                guard ih >= 0 && ih < h && iw >= 0 && iw < w else { continue }
                let xIndex = (((b * c + (oc / og) * cg + ci) * frames + t) * h + ih) * w + iw
                body(xIndex, ((oc * cg + ci) * kH + kh) * kW + kw, outIndex)
            } } }
        } } } } }
    }

    func reference(x: [Float], weight: [Float], bias: [Float], gradOut: [Float])
        -> (y: [Double], gx: [Double], gw: [Double]) {
        let g = geometry
        let per = frames * g.outH * g.outW
        var y = (0..<(n * o * per)).map { Double(bias[($0 / per) % o]) }
        var gx = [Double](repeating: 0, count: x.count), gw = [Double](repeating: 0, count: weight.count)
        forEachTap { xi, wi, oi in
            y[oi] += Double(x[xi]) * Double(weight[wi])
            gx[xi] += Double(gradOut[oi]) * Double(weight[wi])
            gw[wi] += Double(gradOut[oi]) * Double(x[xi])
        }
        return (y, gx, gw)
    }

    func random(_ count: Int, seed: UInt64, std: Float = 1) -> [Float] {
        Tensor.randomNormal([count], std: std, generator: RandomGenerator(seed: seed)).scalars
    }
}

/// Largest absolute error and largest error relative to the reference's root mean square.
private func errors(_ actual: [Float], _ expected: [Double]) -> (abs: Double, relative: Double) {
    precondition(actual.count == expected.count, "\(actual.count) vs \(expected.count) elements")
    var worst = 0.0, squares = 0.0
    for i in actual.indices {
        worst = max(worst, abs(Double(actual[i]) - expected[i]))
        squares += expected[i] * expected[i]
    }
    let rms = (squares / Double(max(expected.count, 1))).squareRoot()
    return (worst, worst / max(rms, 1e-30))
}

@Suite struct WidthWinogradTests {
    /// The Toom–Cook matrices reproduce the correlation y_i = Σ_k g_k d_{i+k} (in Double).
    @Test func transformsComputeCorrelation() {
        let generator = RandomGenerator(seed: 11)
        for m in [2, 3, 4] {
            for r in 2...11 where m + r - 1 <= 12 {
                let t = WidthWinograd.Transform(m: m, r: r)
                let d = Tensor.randomNormal([t.n], generator: generator).scalars.map(Double.init)
                let g = Tensor.randomNormal([r], generator: generator).scalars.map(Double.init)
                var y = [Double](repeating: 0, count: m)
                for p in 0..<t.n {
                    var u = 0.0, v = 0.0
                    for j in 0..<t.n { u += Double(t.inputT[p * t.n + j]) * d[j] }
                    for k in 0..<r { v += t.kernel[p * r + k] * g[k] }
                    for i in 0..<m { y[i] += Double(t.outputT[i * t.n + p]) * u * v }
                }
                for i in 0..<m {
                    let direct = (0..<r).reduce(0.0) { $0 + g[$1] * d[i + $1] }
                    #expect(abs(y[i] - direct) <= 1e-5 * (1 + abs(direct)), "F(\(m), \(r)) output \(i): \(y[i]) vs \(direct)")
                }
            }
        }
    }

    fileprivate static let cases: [FrameCase] = [
        FrameCase(),
        FrameCase(n: 1, c: 8, o: 8, frames: 3, h: 4, w: 7, kH: 3, kW: 3, pH: 1, pW: 1),      // odd width
        FrameCase(n: 2, c: 8, o: 12, frames: 1, h: 6, w: 13, kH: 7, kW: 7, pH: 3, pW: 3),    // 7 × 7, odd width
        FrameCase(n: 3, c: 12, o: 8, frames: 2, h: 5, w: 16, kH: 2, kW: 7, pH: 0, pW: 0),    // no padding
        FrameCase(n: 2, c: 16, o: 16, groups: 2, frames: 2, h: 5, w: 10, kH: 3, kW: 5, pH: 2, pW: 1, dH: 2),  // groups, dilation
        FrameCase(n: 1, c: 8, o: 8, frames: 2, h: 4, w: 14, kH: 1, kW: 11, pH: 0, pW: 5),    // 11 wide
        FrameCase(n: 2, c: 9, o: 8, frames: 1, h: 3, w: 6, kH: 3, kW: 5, pH: 1, pW: 4),      // padding past the kernel reach
    ]

    /// Forward values, input gradients (the forward kernel on the flipped weight) and weight
    /// gradients of the Winograd kernels against the Double reference, with tiles of 2 and 4
    /// outputs (where the kernel width allows), on one and two threads.
    @Test(arguments: cases) fileprivate func matchesReference(_ conv: FrameCase) {
        let g = conv.geometry
        let x = conv.random(conv.n * conv.c * g.inVolume, seed: 1)
        let weight = conv.random(conv.o * g.groupInChannels * conv.kH * conv.kW, seed: 2, std: 0.5)
        let bias = conv.random(conv.o, seed: 3)
        let gradOut = conv.random(conv.n * conv.o * g.outVolume, seed: 4)
        let ref = conv.reference(x: x, weight: weight, bias: bias, gradOut: gradOut)
        let gi = ConvolutionKernels.inputGradientGeometry(g)
        for tile in [2, 4] {
            // Measured max error relative to the reference's rms: F(2, ≤ 7) ≤ 4e-6, F(4, ≤ 7) ≤ 1.2e-5,
            // F(2, 11) 6e-5 (points ±3, ±1/3).
            let tolerance = conv.kW > 7 ? 1e-4 : tile == 2 ? 1e-5 : 3e-5
            for threshold in [1 << 40, 0] {
                var tuning = ConvolutionKernels.Tuning(parallelWorkThreshold: threshold)
                tuning.widthWinogradTile = tile
                ConvolutionKernels.$tuning.withValue(tuning) {
                    guard tile == 4 || WidthWinograd.supports(g) else {
                        Issue.record("\(conv): F(2, \(conv.kW)) not supported")
                        return
                    }
                    guard WidthWinograd.supports(g) else { return }  // F(4, 11): too wide for the point set
                    var y = [Float](repeating: .nan, count: ref.y.count)
                    var gx = [Float](repeating: .nan, count: x.count)
                    var gw = [Float](repeating: .nan, count: weight.count)
                    WidthWinograd.forward(g, x: x, weight: weight, bias: bias, out: &y)
                    WidthWinograd.weightGradient(g, x: x, gradOut: gradOut, gradWeight: &gw)
                    #expect(gi.map(WidthWinograd.supports) == true, "\(conv): the input gradient is not a Winograd convolution")
                    if let gi, WidthWinograd.supports(gi) {
                        let flipped = ConvolutionKernels.flippedSwapped(g, weight: weight)
                        defer { flipped.deallocate() }
                        WidthWinograd.forward(gi, x: gradOut, weight: flipped, bias: nil, out: &gx)
                        let e = errors(gx, ref.gx)
                        #expect(e.relative < tolerance, "\(conv) F(\(tile)) input gradient: max abs \(e.abs), relative to rms \(e.relative)")
                    }
                    let ey = errors(y, ref.y), ew = errors(gw, ref.gw)
                    #expect(ey.relative < tolerance, "\(conv) F(\(tile)) forward: max abs \(ey.abs), relative to rms \(ey.relative)")
                    #expect(ew.relative < tolerance, "\(conv) F(\(tile)) weight gradient: max abs \(ew.abs), relative to rms \(ew.relative)")
                }
            }
        }
    }

    /// Through conv3d's dispatch: 5- and 7-wide kernels take the Winograd path and agree with the
    /// direct shifted GEMMs (forward, all three gradients).
    @Test func dispatchAgreesWithDirectPath() {
        let convs = [FrameCase(n: 2, c: 8, o: 8, frames: 2, h: 6, w: 11, kH: 7, kW: 7, pH: 3, pW: 3),
                     FrameCase(n: 1, c: 16, o: 8, frames: 3, h: 5, w: 12, kH: 3, kW: 5, pH: 1, pW: 2)]
        for conv in convs {
            #expect(WidthWinograd.pays(conv.geometry))
            #expect(ConvolutionKernels.isFrameShifted(conv.geometry))
            var results: [[[Float]]] = []
            for winograd in [true, false] {
                var tuning = ConvolutionKernels.Tuning(parallelWorkThreshold: 0)
                tuning.widthWinograd = winograd
                ConvolutionKernels.$tuning.withValue(tuning) {
                    let gen = RandomGenerator(seed: 5)
                    let x = Tensor.randomNormal([conv.n, conv.c, conv.frames, conv.h, conv.w], generator: gen, requiresGrad: true)
                    let w = Tensor.randomNormal([conv.o, conv.c, 1, conv.kH, conv.kW], std: 0.3, generator: gen, requiresGrad: true)
                    let b = Tensor.randomNormal([conv.o], generator: gen, requiresGrad: true)
                    let y = conv3d(x, weight: w, bias: b, padding: [0, conv.pH, conv.pW])
                    y.backward(Tensor.randomNormal(y.shape, generator: RandomGenerator(seed: 6)))
                    results.append([y.scalars, x.grad!.scalars, w.grad!.scalars, b.grad!.scalars])
                }
            }
            for (k, label) in ["forward", "input gradient", "weight gradient", "bias gradient"].enumerated() {
                let e = errors(results[0][k], results[1][k].map(Double.init))
                #expect(e.relative < 3e-5, "\(conv) \(label): max abs \(e.abs), relative to rms \(e.relative)")
            }
        }
    }

    /// Finite differences through conv2d on the Winograd path (forward, input and weight gradients).
    @Test func gradientCheck() {
        let gen = RandomGenerator(seed: 9)
        let x = Tensor.randomNormal([1, 8, 3, 9], generator: gen, requiresGrad: true)
        let w = Tensor.randomNormal([8, 8, 2, 5], std: 0.3, generator: gen, requiresGrad: true)
        let b = Tensor.randomNormal([8], generator: gen, requiresGrad: true)
        let g = ConvGeometry(batch: 1, inChannels: 8, outChannels: 8, groups: 1, input: [1, 3, 9], kernel: [1, 2, 5],
                             stride: [1, 1, 1], padding: [0, 1, 2], dilation: [1, 1, 1])
        #expect(WidthWinograd.pays(g))
        #expect(WidthWinograd.pays(ConvolutionKernels.inputGradientGeometry(g)!))
        for r in GradientCheck.check([x, w, b], { t in conv2d(t[0], weight: t[1], bias: t[2], padding: [1, 2]) }) {
            #expect(r.passed, "\(r)")
        }
    }

    /// Layers the dispatch leaves on the direct path: 3- and 11-wide kernels, thin inputs, narrow rows.
    @Test func dispatchLimits() {
        #expect(!WidthWinograd.pays(FrameCase(kW: 3).geometry))
        #expect(!WidthWinograd.pays(FrameCase(kW: 11).geometry))
        #expect(!WidthWinograd.pays(FrameCase(c: 3, kW: 7).geometry))
        #expect(!WidthWinograd.pays(FrameCase(w: 5, kW: 5, pW: 0).geometry))
        var off = ConvolutionKernels.Tuning()
        off.widthWinograd = false
        ConvolutionKernels.$tuning.withValue(off) { #expect(!WidthWinograd.pays(FrameCase(kW: 7).geometry)) }
    }
}
