import Testing
@testable import SensoriumTensor
import SensoriumTestSupport

@Suite struct AttentionTests {
    // Reference values: PyTorch 2.13 F.scaled_dot_product_attention in float64 on float32-rounded inputs.

    private func check(q: [Float], _ qs: [Int], k: [Float], _ ks: [Int], v: [Float], _ vs: [Int], gOut: [Float],
                       expected: [Float], gradQ: [Float], gradK: [Float], gradV: [Float]) {
        let tq = Tensor(q, shape: qs, requiresGrad: true)
        let tk = Tensor(k, shape: ks, requiresGrad: true)
        let tv = Tensor(v, shape: vs, requiresGrad: true)
        let y = scaledDotProductAttention(tq, tk, tv)
        #expect(y.shape == Array(qs.dropLast()) + [vs.last!])
        expectClose(y, expected, "output")
        y.backward(Tensor(gOut, shape: y.shape))
        expectClose(tq.grad!, gradQ, "grad q")
        expectClose(tk.grad!, gradK, "grad k")
        expectClose(tv.grad!, gradV, "grad v")
    }

    @Test func rank3MatchesTorch() {
        let q: [Float] = [1.38150907, 0.651629865, -0.492181093, -0.47334969, -0.022924101, -2.35668659, -0.519444048, 0.838909984, -1.28005135, 2.03667188, -1.68819344, -0.006955666, 2.04877019, -0.321561426, 0.939169884, 0.178544834, -0.978887856, 1.38338339, -0.401070595, -0.294472396, 1.39971137, 0.740455151, 1.70875406, 1.45215261]  // shape [2, 3, 4]
        let k: [Float] = [-0.896747172, 0.114501357, 1.06515074, 2.11354756, 0.298268408, -1.04587412, -1.22926986, 0.698889017, -2.00673914, 0.285835952, 0.336684614, 0.562997282, 0.714904368, -1.09614515, 0.233844027, -1.0440681, -0.464359969, 0.95921284, -0.0646641403, 0.0624590367, -1.54286945, -1.11516917, -0.31052354, 0.178976312, 2.91421247, -0.490706414, 1.88086784, 0.027956238, 1.83901858, 0.288285077, 0.170292348, 0.109267943, -0.396472275, 0.25529626, -0.639199138, 1.17481554, 1.14691973, -0.533311367, -0.735561788, -0.997663975]  // shape [2, 5, 4]
        let v: [Float] = [1.05694091, 0.629884243, -1.13243139, 1.37802291, -0.138545334, 0.1185017, -0.664536178, 0.283284098, -1.05155957, -0.620154321, -0.875034332, 0.185919687, 0.879376352, -2.47693706, -0.219496936, 0.290198565, -0.423508674, -1.68618417, -0.615732908, 0.992479324, 0.655804217, -0.947483718, 1.40152252, 0.17198059, 0.399502009, -1.06591368, 0.391030788, 0.985357344, -0.0458905771, -1.17351866]  // shape [2, 5, 3]
        let gOut: [Float] = [-0.68069154, -0.205679938, 0.771653652, -0.677164972, 0.429159522, -0.377867192, 1.01348662, -1.0550108, -0.682520807, 0.670130551, -0.00797579158, -0.933355033, -0.430786878, -1.0610038, 0.590752244, -0.922508478, 0.243044913, -0.138438314]  // shape [2, 3, 3]
        let expected: [Float] = [0.394441962, -0.927826285, -0.0955834463, 0.77652204, -0.209363028, -0.145989001, 0.300319016, -0.879256129, -0.591460109, -0.581631005, 0.977099955, 0.523999572, 0.241822064, -0.327919424, -0.465944678, -0.60531795, 0.966245115, 0.552772939]  // shape [2, 3, 3]
        let expectedGradQ: [Float] = [0.158437237, -0.107347228, 0.0858008191, -0.345646024, -0.145571873, 0.0885059983, 0.237373844, -0.0332473069, 0.563034475, 0.311751097, -0.167797029, -0.21778281, -0.123026893, 0.00101072353, -0.154089347, -0.0451176651, -0.175923511, 0.190955505, -0.0896285996, 0.336156875, 0.0588894896, 0.0103531685, 0.0264786966, -0.0117823165]  // shape [2, 3, 4]
        let expectedGradK: [Float] = [-0.0485310964, -0.167230129, 0.0396178737, 0.0579595827, -0.106735125, 0.241490573, 0.124437541, -0.0705322847, 0.466421634, -0.901009619, 0.604705811, 0.0542972833, 0.238555983, -0.0450687744, -0.083067216, -0.032593444, -0.549711406, 0.871817946, -0.685693979, -0.00913113542, 0.0972696394, -0.131267384, 0.0379065238, 0.0250357557, -0.118633799, 0.0117825894, -0.0539152212, -0.00811376795, 0.113528311, -0.0666100457, 0.0813639089, 0.0634543896, -0.256128401, 0.316191912, -0.127365515, -0.0992093533, 0.163964257, -0.130097076, 0.0620103069, 0.018832976]  // shape [2, 5, 4]
        let expectedGradV: [Float] = [-0.0542876385, -0.0447997302, -0.0620984212, -0.465705872, 0.0937918946, -0.0700482503, 0.310896337, -0.396637797, -0.253956974, -0.356599659, -0.0102191232, 0.190892413, 0.221326932, -0.473666459, -0.0935231, -0.126943856, -0.305949271, 0.167051822, -0.213903785, 0.159002721, -0.878777802, -0.101159148, -0.111931175, -0.0422878601, -0.190115124, -0.410229921, 0.22034277, -0.0510428883, -0.156827033, 0.0526299663]  // shape [2, 5, 3]
        check(q: q, [2, 3, 4], k: k, [2, 5, 4], v: v, [2, 5, 3], gOut: gOut, expected: expected,
              gradQ: expectedGradQ, gradK: expectedGradK, gradV: expectedGradV)
    }

    @Test func rank4MatchesTorch() {
        let q: [Float] = [-0.384940982, 0.3798877, 0.237796143, 0.142912388, -0.42211619, 0.294384331, -0.864398122, -1.65885675, 0.499010801, 0.578009069, -1.48348379, 0.543674767]  // shape [1, 2, 2, 3]
        let k: [Float] = [0.894692004, -0.113643132, -0.0936677754, -1.08604658, -0.248713225, -0.541831732, 0.128711328, -0.187849209, -0.785930634, -0.0217371229, 0.507472157, 1.44783294, -0.0227102023, -0.55254662, -1.73593533, 1.06245887, -2.07949471, 0.0646206066, 0.800326049, -0.445096135, -1.1776799, 1.31061721, -0.4515329, -0.901991546]  // shape [1, 2, 4, 3]
        let v: [Float] = [-1.65444601, -0.949788511, 0.257820725, -0.510709763, 0.228814125, -1.3275367, 1.95832872, -0.951694727, 0.360782146, 0.406485111, -0.00759109296, -0.281133413, 0.805298448, 0.26384601, -0.292614669, 0.557548165]  // shape [1, 2, 4, 2]
        let gOut: [Float] = [0.0240101032, -0.0143178469, 0.454549849, 1.38160217, -0.00887180865, -1.25569844, -0.817258358, 0.017966032]  // shape [1, 2, 2, 2]
        let expected: [Float] = [0.451307923, -0.907882333, 0.210286021, -0.940565109, 0.110666431, -0.0404245444, 0.0658163801, -0.0592086986]  // shape [1, 2, 2, 2]
        let expectedGradQ: [Float] = [-0.00333138858, 0.00460786698, 0.0115793459, -0.216737822, 0.0728634223, 0.20747532, 0.0507648215, -0.179722279, 0.157914653, 0.0261295941, -0.0353204086, 0.039631445]  // shape [1, 2, 2, 3]
        let expectedGradK: [Float] = [-0.0170635004, 0.0545880124, -0.0408506915, 0.0117910355, -0.0335988775, 0.0226165056, -0.0100056408, 0.0294941142, -0.0205298811, 0.0152781066, -0.0504832529, 0.038764067, 0.0374625623, 0.0974363163, -0.030270135, -0.0852112398, -0.220993489, 0.0686375946, -5.11663966e-05, 0.0938704461, -0.0317685008, 0.0477998443, 0.0296867229, -0.00659895921]  // shape [1, 2, 4, 3]
        let expectedGradV: [Float] = [0.127499491, 0.370792478, 0.106475517, 0.299896747, 0.109317884, 0.314513564, 0.135267064, 0.382081538, -0.0612901002, -0.191418499, -0.565936923, -0.800842583, -0.0866703242, -0.133552104, -0.112232819, -0.111919217]  // shape [1, 2, 4, 2]
        check(q: q, [1, 2, 2, 3], k: k, [1, 2, 4, 3], v: v, [1, 2, 4, 2], gOut: gOut, expected: expected,
              gradQ: expectedGradQ, gradK: expectedGradK, gradV: expectedGradV)
    }

    @Test func zeroQueriesAverageTheValues() {
        let v = Tensor([1, 2, 3, 4, 5, 6], shape: [3, 2])
        let k = Tensor.randomNormal([3, 4], generator: RandomGenerator(seed: 1))
        let y = scaledDotProductAttention(Tensor.zeros([2, 4]), k, v)
        expectClose(y, [3, 4, 3, 4], "uniform attention")
    }

    @Test func largeLogitsStayFinite() {
        let gen = RandomGenerator(seed: 8)
        let q = Tensor.randomNormal([2, 3, 4], std: 1000, generator: gen)
        let k = Tensor.randomNormal([2, 6, 4], std: 1000, generator: gen)
        let v = Tensor.randomNormal([2, 6, 5], generator: gen)
        #expect(scaledDotProductAttention(q, k, v).scalars.allSatisfy { $0.isFinite })
    }

    @Test func gradient() {
        let gen = RandomGenerator(seed: 13)
        let q = Tensor.randomNormal([2, 2, 3, 4], generator: gen, requiresGrad: true)
        let k = Tensor.randomNormal([2, 2, 5, 4], generator: gen, requiresGrad: true)
        let v = Tensor.randomNormal([2, 2, 5, 3], generator: gen, requiresGrad: true)
        for r in GradientCheck.check([q, k, v], { t in scaledDotProductAttention(t[0], t[1], t[2]) }) {
            #expect(r.passed, "\(r)")
        }
        // Custom scale, and only some inputs requiring gradients.
        let k2 = Tensor.randomNormal([2, 2, 5, 4], generator: gen)
        for r in GradientCheck.check([q, k2, v], { t in scaledDotProductAttention(t[0], t[1], t[2], scale: 0.9) }) {
            #expect(r.passed, "scale 0.9: \(r)")
        }
    }
}

@Suite struct BiasedAttentionTests {
    /// The attention written out with differentiable primitives, as the reference computes it.
    private func explicitAttention(_ q: Tensor, _ k: Tensor, _ v: Tensor, bias: Tensor?, mask: Tensor?, scale: Float) -> Tensor {
        var logits = matmul(q, k.transposed()) * scale
        if let bias { logits = logits + bias }
        if let mask { logits = logits + mask }
        return matmul(logits.softmax(axis: -1), v)
    }

    @Test func biasAndMaskMatchTheExplicitComputation() {
        let gen = RandomGenerator(seed: 21)
        // q (batch 2, windows 3, heads 2, L 4, d 5); bias per head, mask per window (broadcast).
        let q = Tensor.randomNormal([2, 3, 2, 4, 5], generator: gen, requiresGrad: true)
        let k = Tensor.randomNormal([2, 3, 2, 6, 5], generator: gen, requiresGrad: true)
        let v = Tensor.randomNormal([2, 3, 2, 6, 3], generator: gen, requiresGrad: true)
        let bias = Tensor.randomNormal([2, 4, 6], generator: gen, requiresGrad: true)
        let mask = Tensor.randomUniform([3, 1, 4, 6], low: 0, high: 1, generator: gen).gt(0.6) * -100
        let ours = scaledDotProductAttention(q, k, v, bias: bias, mask: mask, scale: 0.7)
        let g = Tensor.randomNormal(ours.shape, generator: gen)
        ours.backward(g)
        let grads = [q, k, v, bias].map { $0.grad! }
        for t in [q, k, v, bias] { t.zeroGrad() }
        let reference = explicitAttention(q, k, v, bias: bias, mask: mask, scale: 0.7)
        expectClose(ours, reference.scalars, "output")
        reference.backward(g)
        for (name, (ourGrad, t)) in zip(["q", "k", "v", "bias"], zip(grads, [q, k, v, bias])) {
            expectClose(ourGrad, t.grad!.scalars, "grad \(name)")
        }
    }

    @Test func noGradientPathMatchesTheRecordedPath() {
        let gen = RandomGenerator(seed: 5)
        let q = Tensor.randomNormal([7, 9, 4], generator: gen)
        let k = Tensor.randomNormal([7, 9, 4], generator: gen)
        let v = Tensor.randomNormal([7, 9, 2], generator: gen)
        let bias = Tensor.randomNormal([9, 9], generator: gen, requiresGrad: true)
        let recorded = scaledDotProductAttention(q, k, v, bias: bias)
        let plain = withNoGrad { scaledDotProductAttention(q, k, v, bias: bias) }
        #expect(recorded.scalars == plain.scalars)
        #expect(!plain.requiresGrad && recorded.requiresGrad)
    }

    @Test func fullyMaskedKeysGetNoWeight() {
        let gen = RandomGenerator(seed: 3)
        let q = Tensor.randomNormal([1, 2, 3], generator: gen)
        let k = Tensor.randomNormal([1, 3, 3], generator: gen)
        let v = Tensor([1, 0, 0, 1, 5, 5], shape: [1, 3, 2])
        // The third key is masked with -infinity for both queries.
        let mask = Tensor([0, 0, -.infinity, 0, 0, -.infinity], shape: [2, 3])
        let y = scaledDotProductAttention(q, k, v, mask: mask)
        let unmasked = scaledDotProductAttention(q, k.sliced(axis: 1, range: 0..<2), v.sliced(axis: 1, range: 0..<2))
        expectClose(y, unmasked.scalars, "masked key ignored")
    }

    @Test func gradientWithBiasAndMask() {
        let gen = RandomGenerator(seed: 17)
        let q = Tensor.randomNormal([2, 2, 3, 4], generator: gen, requiresGrad: true)
        let k = Tensor.randomNormal([2, 2, 5, 4], generator: gen, requiresGrad: true)
        let v = Tensor.randomNormal([2, 2, 5, 3], generator: gen, requiresGrad: true)
        let bias = Tensor.randomNormal([2, 1, 3, 5], generator: gen, requiresGrad: true)
        let mask = Tensor([0, -100, 0, 0, 0, 0, 0, -100, 0, 0, 0, 0, 0, 0, -100], shape: [3, 5])
        for r in GradientCheck.check([q, k, v, bias], { t in
            scaledDotProductAttention(t[0], t[1], t[2], bias: t[3], mask: mask, scale: 0.8)
        }) {
            #expect(r.passed, "\(r)")
        }
    }
}
