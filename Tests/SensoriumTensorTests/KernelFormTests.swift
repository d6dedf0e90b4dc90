import Testing
@testable import SensoriumTensor

/// Debug builds run the elementwise kernels through the scalar forms of each function, release
/// builds through the 8-lane forms: the two must agree bit for bit so results do not depend on the
/// build.
@Suite struct KernelFormTests {
    /// Inputs covering signs, zeros, tiny, huge, denormal and non-finite values, 8-aligned.
    static let inputs: [Float] = {
        var xs: [Float] = [0, -0, 1, -1, .infinity, -.infinity, .nan, .leastNonzeroMagnitude * 5,
                           .leastNormalMagnitude / 64, -.leastNormalMagnitude / 8, 1e-20, -1e-7, 80, 80.5, 88.9, 89.5,
                           -103, -104.5, 3e38, -3e38, 20, 20.1, -20, 0.5]
        let g = RandomGenerator(seed: 5)
        xs += Tensor.randomNormal([200], generator: g).scalars.map { $0 * 6 }
        xs += Tensor.randomUniform([160], low: -120, high: 100, generator: g).scalars
        while xs.count % 8 != 0 { xs.append(0.25) }
        return xs
    }()

    static func same(_ a: Float, _ b: Float) -> Bool { a.bitPattern == b.bitPattern || (a.isNaN && b.isNaN) }

    func expectSameForms<F: PointwiseFunction>(_ f: F, _ name: String, derivative: Bool = true) {
        let xs = Self.inputs
        for start in stride(from: 0, to: xs.count, by: 8) {
            let x = SIMD8<Float>(xs[start..<start + 8])
            let y = f.value(x)
            let d = f.derivative(x, y)
            for k in 0..<8 {
                #expect(Self.same(y[k], f.value(x[k])), "\(name)(\(x[k])): lanes \(y[k]), scalar \(f.value(x[k]))")
                if derivative {
                    #expect(Self.same(d[k], f.derivative(x[k], y[k])), "\(name)'(\(x[k])): lanes \(d[k]), scalar \(f.derivative(x[k], y[k]))")
                }
            }
        }
    }

    func expectSameForms<F: BinaryFunction>(_ f: F, _ name: String) {
        let xs = Self.inputs, ys = Array(Self.inputs.reversed())
        for start in stride(from: 0, to: xs.count, by: 8) {
            let a = SIMD8<Float>(xs[start..<start + 8]), b = SIMD8<Float>(ys[start..<start + 8])
            let v = f.value(a, b)
            for k in 0..<8 { #expect(Self.same(v[k], f.value(a[k], b[k])), "\(name)(\(a[k]), \(b[k]))") }
        }
    }

    func expectSameForms<F: TernaryFunction>(_ f: F, _ name: String) {
        let xs = Self.inputs, ys = Array(Self.inputs.reversed()), zs = Self.inputs.map { $0.rounded() }
        for start in stride(from: 0, to: xs.count, by: 8) {
            let a = SIMD8<Float>(zs[start..<start + 8]), b = SIMD8<Float>(xs[start..<start + 8]), c = SIMD8<Float>(ys[start..<start + 8])
            let v = f.value(a, b, c)
            for k in 0..<8 { #expect(Self.same(v[k], f.value(a[k], b[k], c[k])), "\(name)(\(a[k]), \(b[k]), \(c[k]))") }
        }
    }

    @Test func vectorMathMatchesScalarMath() {
        for start in stride(from: 0, to: Self.inputs.count, by: 8) {
            let x = SIMD8<Float>(Self.inputs[start..<start + 8])
            let e = simdExp(x), em1 = simdExpm1(x), l = simdLog(x), l1p = simdLog1pNonNegative(x.replacing(with: -x, where: x .< 0))
            for k in 0..<8 {
                #expect(Self.same(e[k], fastExp(x[k])), "exp(\(x[k]))")
                #expect(Self.same(em1[k], fastExpm1(x[k])), "expm1(\(x[k]))")
                #expect(Self.same(l[k], fastLog(x[k])), "log(\(x[k]))")
                #expect(Self.same(l1p[k], fastLog1pNonNegative(Swift.abs(x[k]))), "log1p(\(Swift.abs(x[k])))")
            }
        }
    }

    /// The blend the vector kernels use instead of `replacing(with:where:)` picks the same bits:
    /// signed zeros, infinities and NaN payloads included.
    @Test func selectMatchesReplacing() {
        let xs = Self.inputs, ys = Array(Self.inputs.reversed())
        for start in stride(from: 0, to: xs.count, by: 8) {
            let a = SIMD8<Float>(xs[start..<start + 8]), b = SIMD8<Float>(ys[start..<start + 8])
            for mask in [a .> b, a .< 0, a .!= a, b .== 0] {
                let selected = simdSelect(mask, a, b), replaced = b.replacing(with: a, where: mask)
                for k in 0..<8 {
                    #expect(selected[k].bitPattern == replaced[k].bitPattern, "lane \(k): \(selected[k]) vs \(replaced[k])")
                }
            }
        }
    }

    @Test func pointwiseFunctionsAgreeLaneByLane() {
        expectSameForms(ReLUFunction(), "relu")
        expectSameForms(SigmoidFunction(), "sigmoid")
        expectSameForms(TanhFunction(), "tanh")
        expectSameForms(ELUFunction(alpha: 1), "elu")
        expectSameForms(ELUFunction(alpha: 0.3), "elu(0.3)")
        expectSameForms(SiLUFunction(), "silu")
        expectSameForms(SoftplusFunction(beta: 1, threshold: 20), "softplus")
        expectSameForms(SoftplusFunction(beta: 0.7, threshold: 5), "softplus(0.7, 5)")
        expectSameForms(ExpFunction(), "exp")
        expectSameForms(LogFunction(), "log")
        expectSameForms(SqrtFunction(), "sqrt")
        expectSameForms(RsqrtFunction(), "rsqrt")
        expectSameForms(SquareFunction(), "square")
        expectSameForms(AbsFunction(), "abs")
        expectSameForms(ClampFunction(low: -2, high: 3), "clamp")
        expectSameForms(NegateFunction(), "neg")
        expectSameForms(AddScalarFunction(1.5), "add scalar")
        expectSameForms(MultiplyScalarFunction(-3), "mul scalar")
        expectSameForms(ReciprocalScaleFunction(2), "rdiv scalar")
        expectSameForms(NegativeInfinityToInfinityFunction(), "-inf to inf", derivative: false)
        expectSameForms(FixedRightOperand(GreaterFunction(), 0.5), "gt 0.5", derivative: false)
    }

    @Test func binaryAndTernaryFunctionsAgreeLaneByLane() {
        expectSameForms(GreaterFunction(), "gt")
        expectSameForms(LessFunction(), "lt")
        expectSameForms(GreaterOrEqualFunction(), "ge")
        expectSameForms(LessOrEqualFunction(), "le")
        expectSameForms(EqualFunction(), "eq")
        expectSameForms(MaskFunction(whereNonzero: true), "mask nonzero")
        expectSameForms(MaskFunction(whereNonzero: false), "mask zero")
        expectSameForms(ExtremumFunction(takeLess: true), "minimum")
        expectSameForms(ExtremumFunction(takeLess: false), "maximum")
        expectSameForms(SelectFunction(), "select")
        expectSameForms(ExtremumShareFunction(takeLess: true), "minimum share")
        expectSameForms(ExtremumShareFunction(takeLess: false), "maximum share")
    }

    /// `where` over every row layout of the ternary kernel (all contiguous, broadcast scalars on any
    /// side, strided), row lengths not multiples of 8, and a tensor large enough to run in parallel.
    @Test func ternaryKernelLayoutsMatchReference() {
        let g = RandomGenerator(seed: 9)
        func reference(_ c: Tensor, _ a: Tensor, _ b: Tensor) -> [Float] {
            let shape = Tensor.broadcastShape(Tensor.broadcastShape(c.shape, a.shape, op: "t"), b.shape, op: "t")
            let (ce, ae, be) = (c.expanded(to: shape).scalars, a.expanded(to: shape).scalars,
                                b.expanded(to: shape).scalars)
            return (0..<ce.count).map { ce[$0] != 0 ? ae[$0] : be[$0] }
        }
        let shapes: [([Int], [Int], [Int])] = [
            ([3, 19], [3, 19], [3, 19]), ([3, 19], [3, 1], [3, 19]), ([3, 1], [3, 19], [1, 19]),
            ([19], [3, 19], [3, 1]), ([3, 1, 5], [1, 4, 1], [3, 4, 5]), ([300, 400], [300, 400], [300, 400]),
            ([300, 1], [300, 400], [1]),
        ]
        for (cs, as_, bs) in shapes {
            let c = Tensor.randomNormal(cs, generator: g).gt(0)
            let a = Tensor.randomNormal(as_, generator: g), b = Tensor.randomNormal(bs, generator: g)
            #expect(Tensor.where(c, a, b).scalars == reference(c, a, b), "shapes \(cs) \(as_) \(bs)")
        }
    }

    @Test func comparisonsAndExtremaOnLargeBroadcasts() {
        let g = RandomGenerator(seed: 10)
        let a = Tensor.randomNormal([257, 130], generator: g), b = Tensor.randomNormal([130], generator: g)
        let (ae, be) = (a.scalars, b.expanded(to: [257, 130]).scalars)
        #expect(a.gt(b).scalars == zip(ae, be).map { $0 > $1 ? 1 : 0 })
        #expect(a.le(b).scalars == zip(ae, be).map { $0 <= $1 ? 1 : 0 })
        #expect(minimum(a, b).scalars == zip(ae, be).map { Swift.min($0, $1) })
        #expect(maximum(b, a).scalars == zip(ae, be).map { Swift.max($0, $1) })
        #expect(a.ge(0.25).scalars == ae.map { $0 >= 0.25 ? 1 : 0 })
    }
}
