import Testing
@testable import SensoriumTensor
#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// Direct-loop 3-D convolution in Double, with its gradients: the reference the GEMM kernels must match.
private struct NaiveConv3d {
    let n: Int, c: Int, o: Int, groups: Int
    let inSize: [Int], kernel: [Int], stride: [Int], padding: [Int], dilation: [Int]
    var outSize: [Int] {
        (0..<3).map { (inSize[$0] + 2 * padding[$0] - dilation[$0] * (kernel[$0] - 1) - 1) / stride[$0] + 1 }
    }

    /// Calls `body(xIndex, wIndex, outIndex)` for every multiply-add of the convolution.
    func forEachTap(_ body: (Int, Int, Int) -> Void) {
        let cg = c / groups, og = o / groups, os = outSize
        for b in 0..<n {
            for oc in 0..<o {
                let group = oc / og
                for ot in 0..<os[0] { for oh in 0..<os[1] { for ow in 0..<os[2] {
                    let outIndex = (((b * o + oc) * os[0] + ot) * os[1] + oh) * os[2] + ow
                    for ci in 0..<cg { for kt in 0..<kernel[0] { for kh in 0..<kernel[1] { for kw in 0..<kernel[2] {
                        let it = ot * stride[0] - padding[0] + kt * dilation[0]
                        let ih = oh * stride[1] - padding[1] + kh * dilation[1]
                        let iw = ow * stride[2] - padding[2] + kw * dilation[2]
                        guard it >= 0 && it < inSize[0] && ih >= 0 && ih < inSize[1] && iw >= 0 && iw < inSize[2] else { continue }
                        let xIndex = (((b * c + group * cg + ci) * inSize[0] + it) * inSize[1] + ih) * inSize[2] + iw
                        let wIndex = (((oc * cg + ci) * kernel[0] + kt) * kernel[1] + kh) * kernel[2] + kw
                        body(xIndex, wIndex, outIndex)
                    } } } }
                } } }
            }
        }
    }

    func forward(x: [Float], w: [Float], bias: [Float]?) -> [Double] {
        let os = outSize, per = os[0] * os[1] * os[2]
        var out = [Double](repeating: 0, count: n * o * per)
        if let bias { for i in out.indices { out[i] = Double(bias[(i / per) % o]) } }
        forEachTap { xi, wi, oi in out[oi] += Double(x[xi]) * Double(w[wi]) }
        return out
    }

    func gradients(x: [Float], w: [Float], gradOut: [Float]) -> (x: [Double], w: [Double], bias: [Double]) {
        var gx = [Double](repeating: 0, count: x.count), gw = [Double](repeating: 0, count: w.count)
        forEachTap { xi, wi, oi in
            gx[xi] += Double(gradOut[oi]) * Double(w[wi])
            gw[wi] += Double(gradOut[oi]) * Double(x[xi])
        }
        let os = outSize, per = os[0] * os[1] * os[2]
        var gb = [Double](repeating: 0, count: o)
        for i in gradOut.indices { gb[(i / per) % o] += Double(gradOut[i]) }
        return (gx, gw, gb)
    }
}

private func expectClose(_ actual: [Float], _ expected: [Double], atol: Double = 1e-4, rtol: Double = 1e-4,
                         _ label: String, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(actual.count == expected.count, "\(label): \(actual.count) elements, expected \(expected.count)",
            sourceLocation: sourceLocation)
    var worst = 0.0, worstIndex = 0
    for i in 0..<min(actual.count, expected.count) {
        let err = abs(Double(actual[i]) - expected[i]) / (atol + rtol * abs(expected[i]))
        if err > worst || err.isNaN { worst = err.isNaN ? .infinity : err; worstIndex = i }
    }
    #expect(worst <= 1, "\(label): element \(worstIndex) is \(actual[worstIndex]), expected \(expected[worstIndex])",
            sourceLocation: sourceLocation)
}

/// One convolution configuration, in 3-D terms (1-D/2-D use unit leading axes).
private struct ConvCase: CustomStringConvertible {
    var rank: Int
    var n = 2, c = 4, o = 6, groups = 1
    var size: [Int], kernel: [Int]
    var stride: [Int] = [1], padding: [Int] = [0], dilation: [Int] = [1]
    var bias = true

    var description: String {
        "conv\(rank)d n\(n) c\(c) o\(o) g\(groups) size\(size) k\(kernel) s\(stride) p\(padding) d\(dilation) bias \(bias)"
    }

    func full(_ v: [Int], fill: Int) -> [Int] {
        [Int](repeating: fill, count: 3 - rank) + (v.count == 1 ? [Int](repeating: v[0], count: rank) : v)
    }

    var naive: NaiveConv3d {
        NaiveConv3d(n: n, c: c, o: o, groups: groups, inSize: full(size, fill: 1), kernel: full(kernel, fill: 1),
                    stride: full(stride, fill: 1), padding: full(padding, fill: 0), dilation: full(dilation, fill: 1))
    }

    func run(_ x: Tensor, _ w: Tensor, _ b: Tensor?) -> Tensor {
        switch rank {
        case 1: return conv1d(x, weight: w, bias: b, stride: stride, padding: padding, dilation: dilation, groups: groups)
        case 2: return conv2d(x, weight: w, bias: b, stride: stride, padding: padding, dilation: dilation, groups: groups)
        default: return conv3d(x, weight: w, bias: b, stride: stride, padding: padding, dilation: dilation, groups: groups)
        }
    }

    func inputs(seed: UInt64) -> (Tensor, Tensor, Tensor?) {
        let gen = RandomGenerator(seed: seed)
        let x = Tensor.randomNormal([n, c] + size, generator: gen, requiresGrad: true)
        let w = Tensor.randomNormal([o, c / groups] + kernel, std: 0.5, generator: gen, requiresGrad: true)
        let b = bias ? Tensor.randomNormal([o], generator: gen, requiresGrad: true) : nil
        return (x, w, b)
    }

    /// Checks forward values and all gradients against the naive reference.
    func verify(seed: UInt64 = 1, sourceLocation: SourceLocation = #_sourceLocation) {
        let (x, w, b) = inputs(seed: seed)
        let y = run(x, w, b)
        let ref = naive
        #expect(y.shape == [n, o] + Array(ref.outSize.suffix(rank)), "\(self)", sourceLocation: sourceLocation)
        expectClose(y.scalars, ref.forward(x: x.scalars, w: w.scalars, bias: b?.scalars), "\(self) forward",
                    sourceLocation: sourceLocation)
        let g = Tensor.randomNormal(y.shape, generator: RandomGenerator(seed: seed + 100))
        y.backward(g)
        let grads = ref.gradients(x: x.scalars, w: w.scalars, gradOut: g.scalars)
        expectClose(x.grad!.scalars, grads.x, "\(self) grad x", sourceLocation: sourceLocation)
        expectClose(w.grad!.scalars, grads.w, "\(self) grad w", sourceLocation: sourceLocation)
        if let b { expectClose(b.grad!.scalars, grads.bias, "\(self) grad bias", sourceLocation: sourceLocation) }
    }
}

@Suite struct ConvolutionTests {
    @Test func conv1dMatchesNaiveOverOptions() {
        for stride in [1, 2, 3] {
            for padding in [0, 1, 2] {
                for dilation in [1, 2] {
                    for groups in [1, 2] {
                        ConvCase(rank: 1, groups: groups, size: [11], kernel: [3], stride: [stride], padding: [padding],
                                 dilation: [dilation], bias: groups == 1).verify()
                    }
                }
            }
        }
        ConvCase(rank: 1, c: 8, o: 12, groups: 2, size: [10], kernel: [1]).verify()  // the parity fixture's shape
        ConvCase(rank: 1, c: 4, o: 4, groups: 4, size: [9], kernel: [5], padding: [2]).verify()  // depthwise
    }

    @Test func conv2dMatchesNaiveOverOptions() {
        for stride in [[1], [2], [1, 2]] {
            for padding in [[0], [1], [1, 2]] {
                for dilation in [[1], [2, 1]] {
                    for groups in [1, 2] {
                        ConvCase(rank: 2, groups: groups, size: [7, 8], kernel: [3, 3], stride: stride, padding: padding,
                                 dilation: dilation, bias: stride != [2]).verify()
                    }
                }
            }
        }
        ConvCase(rank: 2, c: 3, o: 4, size: [9, 11], kernel: [3, 5], padding: [1, 2]).verify()
        ConvCase(rank: 2, c: 3, o: 5, size: [10, 9], kernel: [3, 3], stride: [2], padding: [1]).verify()
        ConvCase(rank: 2, c: 2, o: 3, size: [7, 13], kernel: [4, 4], stride: [3], padding: [2]).verify()  // stride 3: padded runs at both ends
        ConvCase(rank: 2, c: 2, o: 3, size: [6, 11], kernel: [3, 5], stride: [2], padding: [1, 4]).verify()  // whole runs in the padding
        ConvCase(rank: 2, c: 4, o: 4, groups: 4, size: [8, 8], kernel: [3, 3], padding: [1]).verify()  // depthwise
        ConvCase(rank: 2, c: 4, o: 8, groups: 4, size: [6, 7], kernel: [3, 2], stride: [2, 1]).verify()  // multiplier 2
        ConvCase(rank: 2, c: 3, o: 5, size: [5, 6], kernel: [1, 1]).verify()  // pointwise
        ConvCase(rank: 2, c: 3, o: 5, size: [5, 6], kernel: [1, 1], stride: [2]).verify()  // strided pointwise
        ConvCase(rank: 2, n: 1, c: 2, o: 3, size: [4, 4], kernel: [4, 4]).verify()  // kernel covers the input
    }

    @Test func conv3dMatchesNaiveOverOptions() {
        for kernel in [[3, 3, 3], [1, 3, 3], [3, 1, 1], [1, 1, 1], [2, 1, 3]] {
            for stride in [[1], [1, 2, 2], [2, 1, 1]] {
                for padding in [[0], [1, 0, 0], [0, 1, 1], [1]] {
                    for groups in [1, 2] {
                        ConvCase(rank: 3, n: 2, c: 2, o: 4, groups: groups, size: [5, 5, 6], kernel: kernel,
                                 stride: stride, padding: padding, bias: groups == 1).verify()
                    }
                }
            }
        }
        for dilation in [[2, 1, 1], [1, 2, 2], [2]] {
            ConvCase(rank: 3, c: 2, o: 3, size: [6, 6, 6], kernel: [3, 1, 1], padding: [2, 0, 0], dilation: dilation).verify()
            ConvCase(rank: 3, c: 2, o: 3, size: [6, 6, 6], kernel: [2, 3, 3], padding: [1], dilation: dilation).verify()
        }
    }

    @Test func conv3dParityFixtureConfigurations() {
        ConvCase(rank: 3, c: 6, o: 6, groups: 6, size: [9, 5, 5], kernel: [3, 1, 1], padding: [1, 0, 0]).verify()
        ConvCase(rank: 3, n: 1, c: 2, o: 3, size: [5, 9, 9], kernel: [3, 3, 3], stride: [1, 2, 2], padding: [1]).verify()
        ConvCase(rank: 3, c: 3, o: 5, size: [6, 10, 12], kernel: [1, 5, 5], padding: [0, 2, 2]).verify()
        ConvCase(rank: 3, c: 5, o: 4, size: [8, 6, 7], kernel: [3, 1, 1]).verify()
    }

    /// Strided kernels at least twice the stride run as unit-stride convolutions over the input's
    /// phases (space to depth); forward and every gradient against the naive convolution.
    @Test func phaseDecomposedStridedConvolutions() {
        ConvCase(rank: 2, c: 3, o: 4, size: [11, 13], kernel: [5, 5], stride: [2], padding: [2]).verify()
        ConvCase(rank: 2, c: 2, o: 3, size: [12, 9], kernel: [7, 4], stride: [3, 2], padding: [1, 0]).verify()
        ConvCase(rank: 2, c: 2, o: 3, size: [10, 10], kernel: [4, 1], stride: [2, 1]).verify()  // one axis strided
        ConvCase(rank: 3, n: 1, c: 3, o: 4, size: [3, 17, 19], kernel: [1, 11, 11], stride: [1, 2, 2]).verify()  // the demo's first layer
        ConvCase(rank: 3, c: 2, o: 3, size: [7, 12, 11], kernel: [3, 6, 4], stride: [2, 3, 2], padding: [1, 2, 0],
                 dilation: [2, 1, 1]).verify()  // strided and dilated time axis passed through
    }

    /// The per-frame shifted-GEMM path (kT = 1, unit stride, ≥ 4 channels per group), serial and threaded.
    @Test func frameShiftedPath() {
        let cases = [
            ConvCase(rank: 3, n: 2, c: 4, o: 5, size: [3, 6, 7], kernel: [1, 3, 3], padding: [0, 1, 1]),
            ConvCase(rank: 3, n: 1, c: 5, o: 4, size: [2, 7, 6], kernel: [1, 3, 2], padding: [0, 2, 0], dilation: [1, 2, 3]),
            ConvCase(rank: 3, n: 2, c: 8, o: 8, groups: 2, size: [2, 5, 5], kernel: [1, 2, 3], padding: [0, 1, 2], bias: false),
            ConvCase(rank: 2, n: 2, c: 4, o: 4, size: [6, 9], kernel: [5, 1], padding: [2, 0]),
            ConvCase(rank: 2, n: 1, c: 6, o: 4, size: [4, 4], kernel: [4, 4]),
            ConvCase(rank: 1, n: 2, c: 4, o: 4, size: [12], kernel: [3], padding: [1], dilation: [2]),
            // Padding wider than the kernel reach (rows wider than W + pW) and a thin input (folded rows).
            ConvCase(rank: 3, n: 2, c: 4, o: 4, size: [2, 5, 6], kernel: [1, 3, 3], padding: [0, 1, 3]),
            ConvCase(rank: 3, n: 1, c: 3, o: 4, size: [2, 6, 9], kernel: [1, 5, 5], padding: [0, 2, 2]),
            // At least 8 input channels per group: per-tap weight-gradient GEMMs (no folded rows).
            ConvCase(rank: 2, n: 2, c: 8, o: 4, size: [7, 9], kernel: [3, 3], padding: [1, 1]),
            ConvCase(rank: 3, n: 2, c: 16, o: 8, groups: 2, size: [2, 5, 6], kernel: [1, 3, 3], padding: [0, 1, 1],
                     dilation: [1, 1, 2]),
        ]
        for conv in cases {
            #expect(ConvolutionKernels.isFrameShifted(conv.naive.geometry), "\(conv)")
            conv.verify()
            ConvolutionKernels.$tuning.withValue(.init(parallelWorkThreshold: 0)) { conv.verify(seed: 2) }
        }
        // Only one of the two gradients requested.
        let conv = cases[1]
        for inputNeedsGrad in [false, true] {
            let (x, w, b) = conv.inputs(seed: 3)
            x.requiresGrad = inputNeedsGrad
            w.requiresGrad = !inputNeedsGrad
            let y = conv.run(x, w, b)
            let g = Tensor.randomNormal(y.shape, generator: RandomGenerator(seed: 4))
            y.backward(g)
            let ref = conv.naive.gradients(x: x.scalars, w: w.scalars, gradOut: g.scalars)
            if inputNeedsGrad {
                expectClose(x.grad!.scalars, ref.x, "input gradient only")
                #expect(w.grad == nil)
            } else {
                expectClose(w.grad!.scalars, ref.w, "weight gradient only")
                #expect(x.grad == nil)
            }
        }
    }

    /// Temporal (kT,1,1) kernels as one deep GEMM per frame (frames of at least 64 positions).
    @Test func temporalFrameGEMMPath() {
        let cases = [
            ConvCase(rank: 3, n: 2, c: 3, o: 4, size: [6, 8, 9], kernel: [3, 1, 1]),
            ConvCase(rank: 3, n: 2, c: 4, o: 3, size: [5, 8, 8], kernel: [3, 1, 1], padding: [2, 0, 0], bias: false),
            ConvCase(rank: 3, n: 1, c: 2, o: 5, size: [7, 9, 8], kernel: [5, 1, 1], padding: [1, 0, 0]),
            ConvCase(rank: 3, n: 3, c: 5, o: 2, size: [4, 4, 16], kernel: [4, 1, 1]),
        ]
        for conv in cases {
            #expect(TemporalConvolution.applies(conv.naive.geometry), "\(conv)")
            conv.verify()
            ConvolutionKernels.$tuning.withValue(.init(parallelWorkThreshold: 0)) { conv.verify(seed: 2) }
        }
        #expect(!TemporalConvolution.applies(ConvCase(rank: 3, c: 2, o: 3, size: [6, 8, 8], kernel: [3, 1, 1],
                                                      dilation: [2, 1, 1]).naive.geometry))
        // Only one of the two gradients requested.
        let conv = cases[1]
        for inputNeedsGrad in [false, true] {
            let (x, w, b) = conv.inputs(seed: 3)
            x.requiresGrad = inputNeedsGrad
            w.requiresGrad = !inputNeedsGrad
            let y = conv.run(x, w, b)
            let g = Tensor.randomNormal(y.shape, generator: RandomGenerator(seed: 4))
            y.backward(g)
            let ref = conv.naive.gradients(x: x.scalars, w: w.scalars, gradOut: g.scalars)
            if inputNeedsGrad {
                expectClose(x.grad!.scalars, ref.x, "input gradient only")
            } else {
                expectClose(w.grad!.scalars, ref.w, "weight gradient only")
            }
        }
    }

    /// Direct depth-wise kernels (one input channel per group), serial and threaded.
    @Test func depthwiseKernels() {
        var cases: [ConvCase] = []
        for stride in [[1], [1, 2, 2], [2, 1, 3]] {
            for padding in [[0], [2, 0, 0], [0, 1, 1], [1]] {
                for kernel in [[3, 3, 3], [1, 3, 3], [5, 1, 1], [2, 2, 3]] {
                    cases.append(ConvCase(rank: 3, n: 2, c: 3, o: 3, groups: 3, size: [5, 6, 7], kernel: kernel,
                                          stride: stride, padding: padding, bias: padding != [1]))
                }
            }
        }
        cases.append(ConvCase(rank: 3, c: 2, o: 6, groups: 2, size: [6, 5, 5], kernel: [3, 2, 2], padding: [1],
                              dilation: [2, 1, 2]))  // channel multiplier 3
        cases.append(ConvCase(rank: 2, c: 4, o: 8, groups: 4, size: [9, 8], kernel: [3, 3], stride: [2], padding: [1],
                              dilation: [2]))
        cases.append(ConvCase(rank: 1, c: 3, o: 3, groups: 3, size: [10], kernel: [4], stride: [3], padding: [3]))
        for conv in cases {
            #expect(DepthwiseConvolution.applies(conv.naive.geometry))
            conv.verify()
        }
        ConvolutionKernels.$tuning.withValue(.init(parallelWorkThreshold: 0)) {
            for conv in cases.suffix(4) { conv.verify(seed: 5) }
        }
    }

    /// Small chunks and a zero threading threshold force the chunked and multi-threaded code paths.
    @Test func chunkedParallelPaths() {
        let small = ConvolutionKernels.Tuning(columnBudget: 700, pointwiseChunk: 37, parallelWorkThreshold: 0)
        ConvolutionKernels.$tuning.withValue(small) {
            // Column rows 4·1·3·3 = 36 → chunks of 19 positions (not a multiple of the 9-wide rows).
            let spatial = ConvCase(rank: 3, n: 3, c: 4, o: 3, size: [3, 6, 9], kernel: [1, 3, 3], padding: [0, 1, 1])
            #expect(!ConvolutionKernels.isFrameShifted(spatial.naive.geometry))
            #expect(ConvolutionKernels.columnChunk(spatial.naive.geometry) == 19)
            spatial.verify()
            ConvCase(rank: 3, n: 2, c: 4, o: 4, groups: 2, size: [4, 5, 6], kernel: [2, 3, 2], stride: [1, 2, 1],
                     padding: [1], dilation: [2, 1, 1]).verify()
            // Temporal path: chunks of 37 positions, taps crossing chunk borders.
            ConvCase(rank: 3, n: 3, c: 4, o: 4, size: [7, 3, 5], kernel: [3, 1, 1], padding: [2, 0, 0],
                     dilation: [2, 1, 1]).verify()
            ConvCase(rank: 3, n: 2, c: 4, o: 6, groups: 2, size: [6, 2, 3], kernel: [2, 1, 1]).verify()
            // One sample: serial chunks with threaded BLAS and parallel vol2col/col2vol.
            ConvCase(rank: 2, n: 1, c: 3, o: 4, size: [9, 10], kernel: [3, 3], padding: [1]).verify()
            ConvCase(rank: 1, n: 1, c: 2, o: 2, size: [50], kernel: [1]).verify()
        }
    }

    /// Values printed by torch 2.13 (inputs are closed-form, so nothing random crosses languages).
    @Test func matchesTorch() {
        func ramp(_ n: Int, _ f: (Double) -> Double, _ scale: Double) -> [Float] { (0..<n).map { Float(f(scale * Double($0))) } }
        let x = Tensor(ramp(40, sin, 0.3), shape: [1, 2, 4, 5], requiresGrad: true)
        let w = Tensor(ramp(36, cos, 0.2), shape: [3, 2, 2, 3], requiresGrad: true)
        let b = Tensor([0.1, -0.2, 0.3], requiresGrad: true)
        let y = conv2d(x, weight: w, bias: b, stride: [1, 2], padding: [1, 1])
        #expect(y.shape == [1, 3, 5, 3])
        expectClose(y.scalars, [
            0.366053, 0.6866472, 0.9341602, 0.5673537, 2.349242, 2.52647, 1.873202, 2.547147, 0.8370104, -0.116491,
            -1.803035, -2.222202, -1.89645, -3.012935, -1.67511, -0.4017206, -1.982425, -2.433444, -2.606003, -5.641757,
            -4.440844, -3.495929, -3.208687, -0.3646749, 1.739714, 4.816105, 4.017547, 2.913237, 4.323236, 2.268827,
            0.3314421, 2.342052, 2.759695, 3.38099, 6.076191, 4.127872, 3.387593, 2.290027, -0.1941503, -2.344174,
            -5.194654, -3.597783, -2.294913, -3.257878, -1.565885,
        ], atol: 1e-5, rtol: 1e-5, "torch conv2d")
        y.backward(Tensor(ramp(45, cos, 0.1), shape: y.shape))
        expectClose(x.grad!.scalars, [
            0.7091554, 1.517437, 0.852961, 1.786418, 0.9882442, 1.113653, 2.268322, 1.227934, 2.47643, 1.329947,
            1.418671, 2.816583, 1.49322, 2.94523, 1.55285, 1.596964, 3.113248, 1.625121, 3.150941, 1.637041,
            -1.940563, -3.668715, -1.824933, -3.427418, -1.691068, -1.540306, -2.84484, -1.374155, -2.50938, -1.194273,
            -1.002458, -1.766844, -0.8006279, -1.367187, -0.5907977, -0.3750638, -0.5310201, -0.1555831, -0.1028661,
            0.06545228,
        ], atol: 1e-5, rtol: 1e-5, "torch conv2d grad x")
        expectClose(w.grad!.scalars, [
            1.38005, 1.877072, 1.286847, 1.062929, 1.411484, 0.9344504, 1.3233, 1.824603, 1.255393, 1.082753,
            1.469037, 0.9797448, 0.9599739, 1.421336, 1.086503, 1.305837, 1.884174, 1.396451, 0.7060475, 1.054171,
            0.8299627, 1.05176, 1.525557, 1.147426, -1.244238, -1.675989, -1.133135, -0.8781865, -1.144922, -0.7368885,
            -1.223412, -1.675465, -1.137975, -0.9339558, -1.253209, -0.8174136,
        ], atol: 1e-5, rtol: 1e-5, "torch conv2d grad w")
        expectClose(b.grad!.scalars, [10.43127, -8.026248, -11.56677], atol: 1e-5, rtol: 1e-5, "torch conv2d grad b")

        let x3 = Tensor(ramp(32, sin, 0.7), shape: [1, 2, 4, 2, 2])
        let w3 = Tensor([0.5, -1, 0.25, 1.5, 0.5, -0.75], shape: [2, 1, 3, 1, 1])
        expectClose(conv3d(x3, weight: w3, padding: [1, 0, 0], groups: 2).scalars, [
            0.08374705, -0.7319134, -1.203344, -1.108823, -0.4928049, 0.6770955, 1.528547, 1.661099, 1.012411,
            -0.1124305, -1.184394, -1.699318, -1.170233, -0.3106921, 0.6949726, 1.37378, -1.232544, -0.9433789,
            -0.2105278, 0.6213388, -0.307788, 0.2273868, 0.6556184, 0.7755023, 0.5306549, 0.03623264, -0.4752305,
            -0.7631868, -0.9903681, -0.9670558, -0.4889228, 0.2191603,
        ], atol: 1e-5, rtol: 1e-5, "torch depth-wise conv3d")

        let x1 = Tensor(ramp(24, sin, 0.5), shape: [1, 2, 12])
        let w1 = Tensor(ramp(12, cos, 0.4), shape: [2, 2, 3])
        let y1 = conv1d(x1, weight: w1, bias: Tensor([0, 1]), stride: [2], padding: [2], dilation: [2])
        #expect(y1.shape == [1, 2, 6])
        expectClose(y1.scalars, [
            0.3210144, 0.8764092, 1.814982, 1.084869, -0.642668, -1.807961, 0.1406886, -1.183529, -1.980639,
            -0.03736311, 2.859659, 3.603074,
        ], atol: 1e-5, rtol: 1e-5, "torch conv1d")
    }

    @Test func unbatchedInputs() {
        let gen = RandomGenerator(seed: 3)
        let x = Tensor.randomNormal([3, 6, 7], generator: gen)
        let w = Tensor.randomNormal([4, 3, 3, 3], generator: gen)
        let y = conv2d(x, weight: w, padding: [1])
        let batched = conv2d(x.reshaped([1, 3, 6, 7]), weight: w, padding: [1])
        #expect(y.shape == [4, 6, 7])
        #expect(y.scalars == batched.scalars)
    }

    @Test func gradientCheckConv1d() {
        let gen = RandomGenerator(seed: 11)
        let x = Tensor.randomNormal([2, 4, 7], generator: gen, requiresGrad: true)
        let w = Tensor.randomNormal([4, 2, 3], generator: gen, requiresGrad: true)
        let b = Tensor.randomNormal([4], generator: gen, requiresGrad: true)
        let results = GradientCheck.check([x, w, b]) {
            conv1d($0[0], weight: $0[1], bias: $0[2], stride: [2], padding: [1], dilation: [1], groups: 2)
        }
        for r in results { #expect(r.passed, "\(r)") }
    }

    @Test func gradientCheckConv2d() {
        let gen = RandomGenerator(seed: 12)
        let x = Tensor.randomNormal([2, 2, 5, 6], generator: gen, requiresGrad: true)
        let w = Tensor.randomNormal([3, 2, 3, 2], generator: gen, requiresGrad: true)
        let b = Tensor.randomNormal([3], generator: gen, requiresGrad: true)
        let results = GradientCheck.check([x, w, b]) {
            conv2d($0[0], weight: $0[1], bias: $0[2], stride: [1, 2], padding: [1, 0], dilation: [2, 1])
        }
        for r in results { #expect(r.passed, "\(r)") }
    }

    @Test func gradientCheckConv3dSpatialAndTemporal() {
        let gen = RandomGenerator(seed: 13)
        let x = Tensor.randomNormal([1, 2, 4, 4, 5], generator: gen, requiresGrad: true)
        let ws = Tensor.randomNormal([3, 2, 1, 3, 3], generator: gen, requiresGrad: true)
        let wt = Tensor.randomNormal([2, 3, 3, 1, 1], generator: gen, requiresGrad: true)
        let b = Tensor.randomNormal([2], generator: gen, requiresGrad: true)
        let results = GradientCheck.check([x, ws, wt, b]) {
            let h = conv3d($0[0], weight: $0[1], padding: [0, 1, 1])
            return conv3d(h, weight: $0[2], bias: $0[3], padding: [1, 0, 0])
        }
        for r in results { #expect(r.passed, "\(r)") }
    }

    @Test func gradientCheckConv3dDepthwise() {
        let gen = RandomGenerator(seed: 15)
        let x = Tensor.randomNormal([2, 2, 4, 5, 5], generator: gen, requiresGrad: true)
        let ws = Tensor.randomNormal([4, 1, 1, 3, 3], generator: gen, requiresGrad: true)
        let wt = Tensor.randomNormal([4, 1, 3, 1, 1], generator: gen, requiresGrad: true)
        let b = Tensor.randomNormal([4], generator: gen, requiresGrad: true)
        let results = GradientCheck.check([x, ws, wt, b]) {
            let h = conv3d($0[0], weight: $0[1], stride: [1, 2, 2], padding: [0, 1, 1], groups: 2)
            return conv3d(h, weight: $0[2], bias: $0[3], padding: [1, 0, 0], groups: 4)
        }
        for r in results { #expect(r.passed, "\(r)") }
    }

    @Test func gradientCheckConv3dGroupedStrided() {
        let gen = RandomGenerator(seed: 14)
        let x = Tensor.randomNormal([1, 4, 5, 5, 4], generator: gen, requiresGrad: true)
        let w = Tensor.randomNormal([4, 2, 2, 3, 2], generator: gen, requiresGrad: true)
        let results = GradientCheck.check([x, w]) {
            conv3d($0[0], weight: $0[1], stride: [2, 1, 2], padding: [1], groups: 2)
        }
        for r in results { #expect(r.passed, "\(r)") }
    }
}

extension NaiveConv3d {
    var geometry: ConvGeometry {
        ConvGeometry(batch: n, inChannels: c, outChannels: o, groups: groups, input: inSize, kernel: kernel,
                     stride: stride, padding: padding, dilation: dilation)
    }
}
