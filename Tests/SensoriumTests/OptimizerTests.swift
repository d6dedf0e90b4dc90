import Testing
import Foundation
@testable import Sensorium
@testable import SensoriumTraining

/// Reference values from PyTorch 2.13 (`torch.optim`, CPU, float32): a (2, 3) parameter
/// [[0.5, -1.25, 2], [0, 3.5, -0.75]] updated with the three gradients below; each row is the
/// parameter after one step.
enum OptimizerReference {
    static let initial: [Float] = [0.5, -1.25, 2.0, 0.0, 3.5, -0.75]
    static let gradients: [[Float]] = [
        [0.1, -0.2, 0.3, 0.4, -0.5, 0.6],
        [-1.0, 2.0, 0.0, 0.25, 0.5, -3.0],
        [0.01, 0.02, -0.03, 5.0, -0.001, 0.7],
    ]
    /// AdamW(lr=5e-3, weight_decay=0.01): the reference recipe.
    static let adamW: [[Double]] = [
        [0.4949750006198883, -1.244937539100647, 1.9948999881744385, -0.005000000353902578, 3.5048251152038574, -0.7549625039100647],
        [0.49831926822662354, -1.2482444047927856, 1.9914499521255493, -0.00981306005269289, 3.5043866634368896, -0.7519329786300659],
        [0.500866711139679, -1.250817894935608, 1.9890916347503662, -0.013341703452169895, 3.5040125846862793, -0.7503538131713867],
    ]
    /// AdamW(lr=0.1, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.5).
    static let adamWBig: [[Double]] = [
        [0.3750009834766388, -1.0875004529953003, 1.8000003099441528, -0.09999976307153702, 3.424999952316284, -0.8124998211860657],
        [0.4279976785182953, -1.104872226715088, 1.6469881534576416, -0.19004487991333008, 3.2426388263702393, -0.7073094248771667],
        [0.45787838101387024, -1.102321982383728, 1.5263079404830933, -0.2572803199291229, 3.0725560188293457, -0.642180323600769],
    ]
    /// Adam(lr=0.01, weight_decay=0.1).
    static let adam: [[Double]] = [
        [0.49000000953674316, -1.2400000095367432, 1.9900000095367432, -0.010000000707805157, 3.509999990463257, -0.7599999904632568],
        [0.4963071346282959, -1.246188998222351, 1.9810218811035156, -0.01962164230644703, 3.5038340091705322, -0.7537913918495178],
        [0.5007781386375427, -1.2506152391433716, 1.9724916219711304, -0.026679083704948425, 3.4970200061798096, -0.7503399848937988],
    ]
    /// SGD(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01).
    static let sgdNesterov: [[Double]] = [
        [0.4800499975681305, -1.209625005722046, 1.9392000436782837, -0.07599999755620956, 3.5883500576019287, -0.8625749945640564],
        [0.6606329083442688, -1.570114254951477, 1.9095956087112427, -0.15575559437274933, 3.5241971015930176, -0.3389286398887634],
        [0.7304343581199646, -1.7164599895477295, 1.8867685794830322, -1.1548081636428833, 3.508183002471924, -0.27077925205230713],
    ]
    /// SGD(lr=0.05, momentum=0.5, dampening=0.3).
    static let sgdDampening: [[Double]] = [
        [0.4950000047683716, -1.2400000095367432, 1.9850000143051147, -0.020000001415610313, 3.5250000953674316, -0.7800000309944153],
        [0.5275000333786011, -1.3050000667572021, 1.9774999618530273, -0.038750000298023224, 3.5199999809265137, -0.690000057220459],
        [0.5434000492095947, -1.3382000923156738, 1.9747999906539917, -0.22312499582767487, 3.5175349712371826, -0.6695000529289246],
    ]
    /// SGD(lr=0.1).
    static let sgd: [[Double]] = [
        [0.49000000953674316, -1.2300000190734863, 1.9700000286102295, -0.04000000283122063, 3.549999952316284, -0.8100000023841858],
        [0.5900000333786011, -1.4300000667572021, 1.9700000286102295, -0.0650000050663948, 3.5, -0.5099999904632568],
        [0.5890000462532043, -1.4320000410079956, 1.9730000495910645, -0.5649999976158142, 3.5000998973846436, -0.5799999833106995],
    ]
}

@Suite("Optimizers")
struct OptimizerTests {
    /// Runs three steps of `make`'s optimizer on the reference parameter and compares every step.
    private func check(_ expected: [[Double]], tolerance: Double = 2e-7,
                       _ make: ([Tensor]) -> ParameterOptimizer) {
        let p = Tensor(OptimizerReference.initial, shape: [2, 3], requiresGrad: true)
        let optimizer = make([p])
        for (step, g) in OptimizerReference.gradients.enumerated() {
            p.grad = Tensor(g, shape: [2, 3])
            optimizer.step()
            for (i, (got, want)) in zip(p.scalars, expected[step]).enumerated() {
                #expect(abs(Double(got) - want) <= tolerance * max(1, abs(want)),
                        "\(optimizer.name) step \(step + 1) element \(i): \(got) vs PyTorch \(want)")
            }
        }
        #expect(optimizer.stepCount(of: "0") == 3)
    }

    @Test func adamWMatchesPyTorch() {
        check(OptimizerReference.adamW) { AdamW($0) }
        check(OptimizerReference.adamWBig) {
            AdamW($0, configuration: .init(learningRate: 0.1, beta1: 0.8, beta2: 0.99, eps: 1e-6, weightDecay: 0.5))
        }
    }

    @Test func adamMatchesPyTorch() {
        check(OptimizerReference.adam) { Adam($0, configuration: .init(learningRate: 0.01, weightDecay: 0.1)) }
    }

    @Test func sgdMatchesPyTorch() {
        check(OptimizerReference.sgd) { SGD($0, configuration: .init(learningRate: 0.1)) }
        check(OptimizerReference.sgdNesterov) {
            SGD($0, configuration: .init(learningRate: 0.1, momentum: 0.9, nesterov: true, weightDecay: 0.01))
        }
        check(OptimizerReference.sgdDampening) {
            SGD($0, configuration: .init(learningRate: 0.05, momentum: 0.5, dampening: 0.3))
        }
    }

    @Test func referenceDefaults() {
        let c = AdamW.Configuration()
        #expect(c.learningRate == 5e-3 && c.weightDecay == 0.01 && c.beta1 == 0.9 && c.beta2 == 0.999 && c.eps == 1e-8)
    }

    @Test func parametersWithoutGradientAreSkipped() {
        let a = Tensor([1, 2], requiresGrad: true), b = Tensor([3], requiresGrad: true)
        let optimizer = AdamW([a, b])
        a.grad = Tensor([0.5, 0.5])
        optimizer.step()
        #expect(b.scalars == [3])
        #expect(optimizer.stepCount(of: "0") == 1 && optimizer.stepCount(of: "1") == 0)
        #expect(optimizer.buffer("exp_avg", of: "1") == nil)
        optimizer.zeroGrad()
        #expect(a.grad == nil)
    }

    @Test func stateIsKeyedByModulePath() throws {
        let g = RandomGenerator(seed: 1)
        let layer = Linear(3, 2, generator: g)
        let optimizer = AdamW(layer)
        #expect(optimizer.parameters.map(\.path) == ["weight", "bias"])
        layer.weight.grad = Tensor.ones([2, 3])
        layer.bias!.grad = Tensor.ones([2])
        optimizer.step()
        let record = optimizer.stateRecord()
        #expect(record.children["state"]?.children["weight"]?.tensors["exp_avg_sq"]?.shape == [2, 3])
        #expect(record.children["state"]?.children["bias"]?.integers["step"] == 1)
    }

    /// Saving the state, loading it into a fresh optimizer, and stepping both gives identical
    /// parameters (bitwise).
    @Test func stateRoundTripContinuesExactly() throws {
        for make in [{ AdamW($0) as ParameterOptimizer }, { Adam($0) }, { SGD($0, configuration: .init(momentum: 0.9, nesterov: true)) }]
            as [([Tensor]) -> ParameterOptimizer] {
            let p1 = Tensor(OptimizerReference.initial, shape: [2, 3], requiresGrad: true)
            let o1 = make([p1])
            for g in OptimizerReference.gradients.prefix(2) {
                p1.grad = Tensor(g, shape: [2, 3])
                o1.step()
            }
            o1.learningRate *= 0.3
            let p2 = p1.copy()
            p2.requiresGrad = true
            let o2 = make([p2])
            try o2.loadState(o1.stateRecord())
            #expect(o2.learningRate == o1.learningRate)
            for p in [p1, p2] { p.grad = Tensor(OptimizerReference.gradients[2], shape: [2, 3]) }
            o1.step()
            o2.step()
            #expect(p1.scalars == p2.scalars, "\(o1.name): resumed optimizer diverged")
        }
    }

    @Test func loadStateRejectsMismatches() {
        let o = AdamW([Tensor([1, 2], requiresGrad: true)])
        o.parameters[0].tensor.grad = Tensor([1, 1])
        o.step()
        let other = AdamW([Tensor([1, 2, 3], requiresGrad: true)])
        #expect(throws: TrainingError.self) { try other.loadState(o.stateRecord()) }
        let sgd = SGD([Tensor([1, 2], requiresGrad: true)])
        #expect(throws: TrainingError.self) { try sgd.loadState(o.stateRecord()) }
    }

    @Test func gradientClippingByGlobalNorm() {
        let a = Tensor([0, 0], requiresGrad: true), b = Tensor([0], requiresGrad: true)
        a.grad = Tensor([3, 4])
        b.grad = Tensor([12])
        let norm = clipGradientNorm([a, b], maxNorm: 1)
        #expect(norm == 13)
        let c = Float(1) / (13 + 1e-6)
        #expect(a.grad!.scalars == [3 * c, 4 * c] && b.grad!.scalars == [12 * c])
        // Below the bound: untouched.
        a.grad = Tensor([0.3, 0.4])
        b.grad = nil
        #expect(abs(clipGradientNorm([a, b], maxNorm: 1) - 0.5) < 1e-7)
        #expect(a.grad!.scalars == [0.3, 0.4])
    }

    @Test func largeTensorsTakeTheParallelPath() {
        // 300k elements: split across threads; must equal the element-by-element formula.
        let n = 300_000
        let values = (0..<n).map { Float($0 % 97) * 0.01 - 0.4 }
        let p = Tensor(values, requiresGrad: true)
        let optimizer = AdamW([p], configuration: .init(learningRate: 0.01))
        p.grad = Tensor(values.map { $0 * 2 })
        optimizer.step()
        // First AdamW step: p·(1 − lr·wd) − lr·g/(|g| + eps) (bias corrections cancel).
        let s = p.scalars
        for i in stride(from: 0, to: n, by: 9973) {
            let g = values[i] * 2
            let expected = values[i] * Float(1 - 0.01 * 0.01) - 0.01 * g / (abs(g) + 1e-8)
            #expect(abs(s[i] - expected) < 1e-6)
        }
    }
}
