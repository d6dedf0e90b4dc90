import Testing
#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

private func Foundation_exp(_ x: Double) -> Double { exp(x) }
private func Foundation_expm1(_ x: Double) -> Double { expm1(x) }
private func Foundation_tanh(_ x: Double) -> Double { tanh(x) }
private func Foundation_log(_ x: Double) -> Double { log(x) }
private func Foundation_log1p(_ x: Double) -> Double { log1p(x) }
@testable import SensoriumTensor
import SensoriumTestSupport

/// Reference values from the parity fixtures (PyTorch in float64 from float32 inputs).
struct ActivationReference {
    var shape: [Int]
    var x: [Float]
    var output: [Float]
    var gradOutput: [Float]
    var gradX: [Float]

    // elu: torch.nn.functional.elu {'alpha': 1.0}, first row of the fixture
    static let elu = ActivationReference(
        shape: [17],
        x: [-0.4091513, -3.6585288, 0.911221, -0.91604584, -3.8325095, 0.26229504, -0.61587846, -1.6442511, 0.8079812, 2.5241144, -2.578145, 2.0418143, -0.36473954, 2.5987153, -0.2402073, 0.31077927, -1.039162],
        output: [-0.33578625, -0.9742296, 0.911221, -0.59990203, -0.9783448, 0.26229504, -0.45983383, -0.80684286, 0.8079812, 2.5241144, -0.9240853, 2.0418143, -0.30562252, 2.5987153, -0.21353519, 0.31077927, -0.646249],
        gradOutput: [-0.97173256, 0.3556531, -1.0536321, 0.16065893, -0.3454649, -0.091220364, 0.9350671, 0.37626693, -1.8589735, 0.34634045, 0.41185087, -1.8243632, -1.7065345, 0.26550063, 0.05935339, 0.47166866, 0.42630425],
        gradX: [-0.64543813, 0.009165322, -1.0536321, 0.06427931, -0.007481112, -0.091220364, 0.5050916, 0.072678655, -1.8589735, 0.34634045, 0.03126553, -1.8243632, -1.1849791, 0.26550063, 0.04667935, 0.47166866, 0.15080555])
    // gelu: torch.nn.functional.gelu(approximate='none') {'approximate': 'none'}, first row of the fixture
    static let gelu = ActivationReference(
        shape: [17],
        x: [-0.21358058, 1.2328, -5.667977, -3.1460783, 0.3805849, 2.0531306, 0.8462313, 1.2936152, -1.9991435, 1.4659114, -4.2759004, -0.12619829, 0.18766871, -1.8690484, 3.7607517, 1.7590029, 0.30800343],
        output: [-0.08872929, 1.0986403, -4.0949285e-08, -0.0026029972, 0.24671201, 2.0120065, 0.6780751, 1.1669713, -0.045573305, 1.3613389, -4.069938e-05, -0.056762412, 0.10780288, -0.057581723, 3.7604332, 1.6898943, 0.19125785],
        gradOutput: [1.1781292, 0.37334943, 1.9320847, -0.15232056, 1.1812005, -0.8278864, -1.7671913, -1.3145934, -0.734265, 0.5484525, -1.2603936, -0.29208907, -0.34712702, -1.0945898, 0.14263731, 0.5210156, 0.82311285],
        gradX: [0.39131817, 0.41860092, -4.4767805e-07, 0.0012296502, 0.93252057, -0.8937076, -1.8330735, -1.4797444, 0.06265064, 0.61885715, 0.00021829075, -0.11678918, -0.2249362, 0.10858031, 0.14280689, 0.5783769, 0.60757536])
    // sigmoid: torch.sigmoid {}, first row of the fixture
    static let sigmoid = ActivationReference(
        shape: [17],
        x: [-0.5860912, 1.1224835, 1.4433854, 4.684685, 2.1361942, 3.9765894, 0.14470066, -3.7613728, 0.15982267, 0.5311923, -1.1032227, 0.42136964, 0.25849864, -0.2184606, 0.08155672, -2.0842004, -0.7274008],
        output: [0.3575322, 0.75444907, 0.8089783, 0.9908489, 0.8943716, 0.9815956, 0.5361122, 0.022723438, 0.53987086, 0.62976116, 0.24913654, 0.60381097, 0.56426716, 0.44560102, 0.5203779, 0.11064197, 0.32576537],
        gradOutput: [-0.1289876, -2.2514772, -2.3439271, 0.74561155, -1.9614979, -0.061289992, -0.28383648, -0.07134636, -0.96310866, -0.34358558, 0.64112914, 1.0651442, 1.309138, 0.28378278, -0.24355194, -0.9230842, -0.5691211],
        gradX: [-0.029628828, -0.4170989, -0.36221263, 0.0067607444, -0.18530473, -0.0011072455, -0.070588976, -0.0015843945, -0.23924613, -0.080111116, 0.11993444, 0.2548073, 0.3218774, 0.07010591, -0.060786847, -0.09083179, -0.12500307])
    // silu: torch.nn.functional.silu {}, first row of the fixture
    static let silu = ActivationReference(
        shape: [17],
        x: [-1.0795163, -3.939972, 0.1909415, -0.035499904, -2.3384612, 0.6954239, 2.147484, -1.9152309, -3.2050564, -0.48450342, -0.92926407, -1.7457628, 0.3459825, 0.33124414, 0.9170575, 3.543213, -1.3823201e-05],
        output: [-0.2737627, -0.07516569, 0.10455782, -0.017434925, -0.20575494, 0.46396765, 1.922929, -0.24590479, -0.124919906, -0.18468751, -0.26305053, -0.25938967, 0.20262222, 0.19280465, 0.65518457, 3.4436224, -6.9115526e-06],
        gradOutput: [0.58738434, 0.15058565, -0.37817392, 1.6620412, 2.1602871, 0.085290544, 0.36696476, 0.65176266, -0.96287835, -0.8365795, 0.37501985, -0.79609334, 0.124093816, 0.8534562, -0.53802395, 0.20767589, 0.64495075],
        gradX: [0.028934797, -0.008230105, -0.2249733, 0.80152565, -0.2153024, 0.07007417, 0.4023796, -0.05601097, 0.078065515, -0.2232853, 0.03543423, 0.05753088, 0.08309334, 0.5655363, -0.48504755, 0.22193986, 0.3224709])
    // softplus_beta07: torch.nn.functional.softplus {'beta': 0.7, 'threshold': 20.0}, first row of the fixture
    static let softplusBeta07 = ActivationReference(
        shape: [17],
        x: [-5.730408, -9.828116, -0.7975891, -7.647059, -11.834358, -6.6560388, -2.9411178, -12.210981, 9.46539, 5.9351597, 1.2416788, -7.7668867, -2.3328164, -0.09550854, -9.412, 9.712978, 8.770853],
        output: [0.025640087, 0.0014684901, 0.6463704, 0.0067471927, 0.00036068627, 0.013470267, 0.17157097, 0.0002771064, 9.467283, 5.9574027, 1.7419101, 0.006205505, 0.2549108, 0.943254, 0.0019647062, 9.71457, 8.77393],
        gradOutput: [-0.9436815, -0.6917347, 0.22467557, -0.22977775, 0.971549, -0.9616901, -0.71839136, -0.34590644, 1.2942244, -0.4793177, -0.520756, 1.1910629, -1.2607098, -0.88166684, -0.71019614, -1.0635428, -0.11646846],
        gradX: [-0.016786162, -0.0007106985, 0.081767984, -0.0010826895, 0.0002452661, -0.009025338, -0.08129889, -6.7090514e-05, 1.2925109, -0.4719125, -0.36691117, 0.0051625823, -0.20602986, -0.42610273, -0.0009760574, -1.0623585, -0.11621792])
    // softplus_beta1: torch.nn.functional.softplus {'beta': 1.0, 'threshold': 20.0}, first row of the fixture
    static let softplusBeta1 = ActivationReference(
        shape: [17],
        x: [-15.693, -5.8124433, -4.3133726, 7.129996, -1.851385, 25.408325, 9.477824, -6.845638, -9.977831, 13.593028, 1.1347961, 2.3865044, -6.6507955, -11.332645, 3.43083, 3.4158466, 9.932033],
        output: [1.5297368e-07, 0.002985654, 0.013299488, 7.1307964, 0.14584734, 25.408325, 9.4779005, 0.0010635216, 4.6416568e-05, 13.593029, 1.4135543, 2.47447, 0.001292158, 1.1975455e-05, 3.4626775, 3.448167, 9.932081],
        gradOutput: [1.2994242, 0.23509158, -0.42191222, 0.71815544, 1.2867025, 0.089587435, 0.04674022, -0.20879279, 0.17695983, 0.3580204, -0.25674334, 0.5528216, -0.598272, 0.2415761, 1.0844297, -0.38446406, 0.4122413],
        gradX: [1.9877768e-07, 0.00070085534, -0.0055740685, 0.71758085, 0.17461887, 0.089587435, 0.046736643, -0.0002219376, 8.213678e-06, 0.35801995, -0.19428357, 0.5062698, -0.00077256275, 2.8929664e-06, 1.0504375, -0.3722366, 0.41222128])
    // tanh: torch.tanh {}, first row of the fixture
    static let tanh = ActivationReference(
        shape: [17],
        x: [0.46331355, -1.1762153, 2.0398827, 1.6896173, 0.18443972, -0.02149688, -3.640623, 0.9048699, 1.2597911, 1.4653013, -2.2377045, -1.273888, -2.3639016, 1.5678691, -2.562284, 1.735024, 0.5447565],
        output: [0.43278098, -0.8262545, 0.9667396, 0.9340984, 0.18237637, -0.02149357, -0.99862427, 0.71866083, 0.8510065, 0.89867735, -0.97748524, -0.8548479, -0.98246336, 0.9166861, -0.98817277, 0.93964684, 0.49657997],
        gradOutput: [0.8617702, 0.7540671, 0.9213438, -0.3742988, -0.57894075, -0.76180726, 0.32983494, -1.1237364, -1.0840586, -0.50560254, 1.1091069, -0.9580045, -0.37405545, 0.47575974, -1.1076732, 0.2724824, -1.0354908],
        gradX: [0.7003612, 0.23926818, 0.060269263, -0.04770816, -0.5596845, -0.76145536, 0.00090688857, -0.5433564, -0.29897025, -0.097267345, 0.049380384, -0.25792837, -0.013004314, 0.075972416, -0.026046434, 0.031897828, -0.7801473])
    // softmax: torch.softmax {'dim': -1}, full fixture
    static let softmax = ActivationReference(
        shape: [4, 9],
        x: [-2.386783, -0.80296624, 2.2130632, 3.456278, -2.2174184, -0.20623188, -4.3041415, -1.3003652, 3.011589, 2.364051, 1.4522665, 2.669447, 7.2398667, 1.0977037, 0.1276975, -2.0446904, -1.0585681, -1.480297, -0.5696491, 0.1706639, -4.526869, -8.811483, 4.8476176, -4.05332, -3.2290702, -3.1918085, 3.320283, -3.8506408, 2.830066, 3.0438635, -1.8515675, 2.0429623, -0.3731559, -3.3857832, -1.0630355, -5.543341],
        output: [0.0014612013, 0.007121195, 0.14534424, 0.5038708, 0.0017308686, 0.012933359, 0.00021478887, 0.004330472, 0.32299307, 0.0074462993, 0.0029919716, 0.010105835, 0.97606856, 0.0020988085, 0.00079561776, 9.062508e-05, 0.0002429494, 0.0001593534, 0.0036041304, 0.0075563896, 6.8897236e-05, 9.493303e-07, 0.8118757, 0.00011062709, 0.0002522485, 0.00026182501, 0.17626923, 0.00045347225, 0.36136392, 0.44750294, 0.003347628, 0.16447882, 0.014682608, 0.00072183146, 0.0073653315, 8.344883e-05],
        gradOutput: [0.17892931, 0.62755203, -0.27093253, -0.68729573, 1.534474, 0.985555, 0.054300953, -0.520755, 1.7716563, 0.18246299, 0.22537275, 0.036244746, -0.19568707, 0.41845286, -0.19306824, -0.13271676, -0.9163607, -0.46714082, -1.0648978, 1.1783497, 0.29190412, 0.91266763, -1.6103897, 0.9582308, -0.81469405, -0.0052837627, 0.7384617, 0.74706215, -1.107708, -0.10788917, 0.560897, -0.6893093, 1.2362332, 0.6350761, 0.51191545, -0.98007065],
        gradX: [-3.7269503e-05, 0.0030130963, -0.06909199, -0.44931728, 0.002302122, 0.0101025, -3.2247204e-05, -0.0031404167, 0.5062015, 0.002759987, 0.0012373655, 0.0022680922, -0.007318455, 0.0012732254, -3.8818634e-06, 5.0271924e-06, -0.00017690884, -4.4451892e-05, 0.000387027, 0.01776229, 0.00010087838, 1.979306e-06, -0.35568896, 0.00023569244, 9.020104e-05, 0.00030554936, 0.33680534, 0.00058248086, -0.2060784, 0.19222014, 0.0036767854, -0.024981165, 0.02604198, 0.00084635074, 0.0077287666, -3.6937967e-05])
}

/// Runs `f` on the fixture input, then back-propagates the fixture's output gradient.
private func checkParity(_ c: ActivationReference, sourceLocation: SourceLocation = #_sourceLocation, _ f: (Tensor) -> Tensor) {
    let x = Tensor(c.x, shape: c.shape, requiresGrad: true)
    let y = f(x)
    expectClose(y.scalars, c.output, sourceLocation: sourceLocation)
    y.backward(Tensor(c.gradOutput, shape: c.shape))
    expectClose(x.grad!.scalars, c.gradX, sourceLocation: sourceLocation)
}

@Suite struct ElementwiseTests {
    // MARK: Unary math

    @Test func unaryValues() {
        let x = Tensor([0.25, 1, 4, 9])
        expectClose(x.sqrt().scalars, [0.5, 1, 2, 3])
        expectClose(x.rsqrt().scalars, [2, 1, 0.5, 1.0 / 3])
        expectClose(x.square().scalars, [0.0625, 1, 16, 81])
        expectClose(x.log().scalars, [-1.3862944, 0, 1.3862944, 2.1972246])
        expectClose(Tensor([0, 1, -1]).exp().scalars, [1, 2.7182817, 0.36787945])
        expectClose(Tensor([-2, 0, 3]).abs().scalars, [2, 0, 3])
        expectClose(Tensor([-2, 0, 3]).neg().scalars, [2, 0, -3])
        expectClose(x.pow(1.5).scalars, [0.125, 1, 8, 27])
        expectClose(Tensor([-2, 3]).pow(2).scalars, [4, 9])
        expectClose(Tensor([-8, 2]).pow(3).scalars, [-512, 8])
        #expect(Tensor([-2]).pow(0.5).item.isNaN)
        #expect(Tensor([0]).log().item == -.infinity)
    }

    @Test func unaryGradients() {
        let g = RandomGenerator(seed: 3)
        let positive = Tensor.randomUniform([2, 3], low: 0.5, high: 2, generator: g, requiresGrad: true)
        let signed = Tensor([-1.5, -0.3, 0.2, 0.7, 1.1, -2.0], shape: [2, 3], requiresGrad: true)
        expectGradients([signed]) { $0[0].exp() }
        expectGradients([positive]) { $0[0].log() }
        expectGradients([positive]) { $0[0].sqrt() }
        expectGradients([positive]) { $0[0].rsqrt() }
        expectGradients([signed]) { $0[0].square() }
        expectGradients([signed]) { $0[0].abs() }
        expectGradients([signed]) { $0[0].neg() }
        expectGradients([positive]) { $0[0].pow(1.7) }
        expectGradients([positive]) { $0[0].pow(-0.5) }
        expectGradients([signed]) { $0[0].pow(3) }
        expectGradients([signed]) { $0[0].pow(2) }
    }

    @Test func absAndPowGradientsAtSpecialPoints() {
        let x = Tensor([0, 2], requiresGrad: true)
        x.abs().sum().backward()
        #expect(x.grad!.scalars == [0, 1])
        let y = Tensor([0, 2], requiresGrad: true)
        y.pow(0).sum().backward()
        #expect(y.grad!.scalars == [0, 0])
    }

    @Test func clampValuesAndGradient() {
        let x = Tensor([-2, -1, 0, 1, 2, .nan], requiresGrad: true)
        let y = x.clamped(min: -1, max: 1)
        #expect(Array(y.scalars.prefix(5)) == [-1, -1, 0, 1, 1])
        #expect(y.scalars[5].isNaN)
        y.backward(Tensor.ones([6]))
        #expect(Array(x.grad!.scalars.prefix(5)) == [0, 1, 1, 1, 0])  // bounds inclusive, like torch.clamp
        #expect(Tensor([-3, 3]).clamped(min: 0).scalars == [0, 3])
        #expect(Tensor([-3, 3]).clamped(max: 0).scalars == [-3, 0])
        let z = Tensor([-1.5, -0.5, 0.3, 0.8, 1.6, 2.5], shape: [2, 3], requiresGrad: true)
        expectGradients([z]) { $0[0].clamped(min: -1, max: 1.2) }
    }

    // MARK: Binary ops

    @Test func tensorPowBroadcasts() {
        let a = Tensor([1, 2, 3, 4], shape: [2, 2])
        let b = Tensor([2, 0.5], shape: [2])
        expectClose(pow(a, b).scalars, [1, 1.4142135, 9, 2])
        let ga = Tensor([0.5, 1.2, 2.0, 0.8, 1.5, 0.7], shape: [2, 3], requiresGrad: true)
        let gb = Tensor([1.5, -0.5, 2.2], shape: [3], requiresGrad: true)
        expectGradients([ga, gb]) { pow($0[0], $0[1]) }
    }

    @Test func tensorPowZeroBase() {
        let a = Tensor([0, 0], requiresGrad: true)
        let b = Tensor([2, 0], requiresGrad: true)
        let y = pow(a, b)
        #expect(y.scalars == [0, 1])
        y.sum().backward()
        #expect(b.grad!.scalars == [0, 0])  // masked like PyTorch, not 0 * log(0)
        #expect(a.grad!.scalars == [0, 0])
    }

    @Test func minimumMaximum() {
        let a = Tensor([1, 5, 3, .nan], requiresGrad: true)
        let b = Tensor([2, 4, 3, 0], requiresGrad: true)
        let mx = maximum(a, b), mn = minimum(a, b)
        #expect(Array(mx.scalars.prefix(3)) == [2, 5, 3])
        #expect(Array(mn.scalars.prefix(3)) == [1, 4, 3])
        #expect(mx.scalars[3].isNaN && mn.scalars[3].isNaN)
        maximum(a, b).sum().backward()
        #expect(Array(a.grad!.scalars.prefix(3)) == [0, 1, 0.5])  // ties split evenly
        #expect(Array(b.grad!.scalars.prefix(3)) == [1, 0, 0.5])
        // Broadcasting with a row vector.
        let m = Tensor([1, 5, 3, 0, 7, 2], shape: [2, 3])
        #expect(maximum(m, Tensor([2, 2, 2])).scalars == [2, 5, 3, 2, 7, 2])
        let x = Tensor([-1.2, 0.4, 2.2, 0.9, -0.3, 1.7], shape: [2, 3], requiresGrad: true)
        let y = Tensor([0.1, -0.6, 1.3], shape: [3], requiresGrad: true)
        expectGradients([x, y]) { maximum($0[0], $0[1]) }
        expectGradients([x, y]) { minimum($0[0], $0[1]) }
    }

    @Test func whereBroadcasts() {
        let cond = Tensor([1, 0, 1], shape: [3])
        let a = Tensor([1, 2, 3, 4, 5, 6], shape: [2, 3], requiresGrad: true)
        let b = Tensor([-1, -2], shape: [2, 1], requiresGrad: true)
        let y = `where`(cond, a, b)
        #expect(y.shape == [2, 3])
        #expect(y.scalars == [1, -1, 3, 4, -2, 6])
        y.sum().backward()
        #expect(a.grad!.scalars == [1, 0, 1, 1, 0, 1])
        #expect(b.grad!.scalars == [1, 1])
        expectGradients([a, b]) { Tensor.where(cond, $0[0], $0[1]) }
        // The condition alone may set the result shape.
        let wide = Tensor.where(Tensor([1, 0, 0, 1], shape: [2, 2]), Tensor(scalar: 7), Tensor(scalar: 9))
        #expect(wide.shape == [2, 2] && wide.scalars == [7, 9, 9, 7])
    }

    @Test func comparisons() {
        let a = Tensor([1, 2, 3, 4, 5, 6], shape: [2, 3], requiresGrad: true)
        let b = Tensor([2, 2, 2])
        #expect(a.gt(b).scalars == [0, 0, 1, 1, 1, 1])
        #expect(a.lt(b).scalars == [1, 0, 0, 0, 0, 0])
        #expect(a.ge(b).scalars == [0, 1, 1, 1, 1, 1])
        #expect(a.le(b).scalars == [1, 1, 0, 0, 0, 0])
        #expect(a.eq(b).scalars == [0, 1, 0, 0, 0, 0])
        #expect(a.gt(3).scalars == [0, 0, 0, 1, 1, 1])
        #expect(a.lt(3).scalars == [1, 1, 0, 0, 0, 0])
        #expect(a.ge(3).scalars == [0, 0, 1, 1, 1, 1])
        #expect(a.le(3).scalars == [1, 1, 1, 0, 0, 0])
        #expect(a.eq(3).scalars == [0, 0, 1, 0, 0, 0])
        #expect(!a.gt(b).requiresGrad && !a.eq(1).requiresGrad)
        #expect(Tensor([.nan]).eq(Tensor([.nan])).scalars == [0])
    }

    @Test func broadcastArithmeticMatchesReference() {
        // Layouts hitting every inner loop of the vectorised kernel (contiguous, scalar-broadcast on
        // either side, strided), with lengths that are not multiples of 8.
        let g = RandomGenerator(seed: 21)
        let pairs: [([Int], [Int])] = [
            ([3, 13], [3, 13]), ([3, 13], [13]), ([3, 13], [3, 1]), ([3, 1], [3, 13]), ([1, 13], [3, 1]),
            ([2, 3, 11], [3, 1]), ([2, 1, 11], [1, 3, 1]), ([5], [2, 3, 5]), ([], [4, 9]), ([4, 9], []),
            ([2, 5, 1, 3], [5, 7, 1]), ([100_003], [1]),
        ]
        for (sa, sb) in pairs {
            let a = Tensor.randomNormal(sa, generator: g), b = Tensor.randomUniform(sb, low: 0.5, high: 2, generator: g)
            let shape = Tensor.broadcastShape(sa, sb, op: "test")
            let ea = a.expanded(to: shape).scalars, eb = b.expanded(to: shape).scalars
            #expect((a + b).scalars == zip(ea, eb).map { $0 + $1 }, "add \(sa) \(sb)")
            #expect((a - b).scalars == zip(ea, eb).map { $0 - $1 }, "sub \(sa) \(sb)")
            #expect((a * b).scalars == zip(ea, eb).map { $0 * $1 }, "mul \(sa) \(sb)")
            #expect((a / b).scalars == zip(ea, eb).map { $0 / $1 }, "div \(sa) \(sb)")
            #expect((a + b).shape == shape)
        }
        let v = Tensor((0..<21).map { Float($0) - 10 })
        #expect((v * 3).scalars == v.scalars.map { $0 * 3 })
        #expect((v + 0.5).scalars == v.scalars.map { $0 + 0.5 })
        #expect((-v).scalars == v.scalars.map { -$0 })
        #expect((2 / (v + 0.5)).scalars == v.scalars.map { 2 / ($0 + 0.5) })
        let x = Tensor.randomUniform([2, 3], low: 0.5, high: 2, generator: g, requiresGrad: true)
        let y = Tensor.randomUniform([3], low: 0.5, high: 2, generator: g, requiresGrad: true)
        expectGradients([x, y]) { $0[0] / $0[1] - $0[1] * $0[0] + $0[0] }
        expectGradients([x]) { 3 / $0[0] + $0[0] * 2 - 1 }
    }

    @Test func sumToShapeReducesBroadcastAxes() {
        let g = Tensor((0..<24).map(Float.init), shape: [2, 3, 4])
        #expect(g.sumToShape([4]).scalars == [60, 66, 72, 78])
        #expect(g.sumToShape([3, 1]).scalars == [60, 92, 124])
        #expect(g.sumToShape([2, 1, 4]).scalars == [12, 15, 18, 21, 48, 51, 54, 57])
        #expect(g.sumToShape([1, 1]).scalars == [276])
        #expect(g.sumToShape([2, 1, 1]).shape == [2, 1, 1])
        #expect(g.sumToShape([2, 3, 4]) === g)
        // Separate reduced blocks (axes 0 and 2).
        #expect(g.sumToShape([1, 3, 1]).scalars == [60, 92, 124])
    }

    // MARK: Activations against PyTorch

    @Test func eluMatchesPyTorch() { checkParity(ActivationReference.elu) { $0.elu(alpha: 1) } }
    @Test func geluMatchesPyTorch() { checkParity(ActivationReference.gelu) { $0.gelu(approximate: .none) } }
    @Test func sigmoidMatchesPyTorch() { checkParity(ActivationReference.sigmoid) { $0.sigmoid() } }
    @Test func siluMatchesPyTorch() { checkParity(ActivationReference.silu) { $0.silu() } }
    @Test func tanhMatchesPyTorch() { checkParity(ActivationReference.tanh) { $0.tanh() } }
    @Test func softplusBeta07MatchesPyTorch() { checkParity(ActivationReference.softplusBeta07) { $0.softplus(beta: 0.7, threshold: 20) } }
    @Test func softplusBeta1MatchesPyTorch() { checkParity(ActivationReference.softplusBeta1) { $0.softplus(beta: 1, threshold: 20) } }
    @Test func softmaxMatchesPyTorch() { checkParity(ActivationReference.softmax) { $0.softmax(axis: -1) } }

    @Test func activationValues() {
        // Reference values from NumPy in float64.
        let x = Tensor([-3, -1, -0.5, 0, 0.5, 1, 3])
        expectClose(x.gelu(approximate: .tanh).scalars,
                    [-0.003637392, -0.158808, -0.154286, 0, 0.345714, 0.841192, 2.9963627])
        expectClose(x.gelu().scalars, [-0.004049694, -0.15865526, -0.15426877, 0, 0.34573123, 0.8413448, 2.9959502])
        expectClose(Tensor([-2, -0.5, 0, 1.5]).elu(alpha: 0.5).scalars, [-0.43233237, -0.19673467, 0, 1.5])
        // Linear where beta * x > threshold.
        expectClose(Tensor([-1, 0, 0.4, 0.6, 3]).softplus(beta: 2, threshold: 1).scalars,
                    [0.063464008, 0.34657359, 0.5855503, 0.6, 3])
        #expect(Tensor([-2, 0, 3]).relu().scalars == [0, 0, 3])
    }

    @Test func activationsAreStableAtExtremes() {
        let x = Tensor([-1000, -100, 100, 1000])
        expectClose(x.sigmoid().scalars, [0, 0, 1, 1])
        #expect(x.tanh().scalars == [-1, -1, 1, 1])
        expectClose(x.silu().scalars, [0, 0, 100, 1000])
        expectClose(x.softplus(beta: 1, threshold: 1e9).scalars, [0, 0, 100, 1000])
        // log(1 + e^-7) / 0.07 at -100; beta * x > 20 is linear at 1000 but not at 100.
        expectClose(x.softplus(beta: 0.07).scalars, [0, 0.013020950, 100.01302, 1000])
        #expect(x.elu().scalars == [-1, -1, 100, 1000])
        expectClose(x.gelu().scalars, [0, 0, 100, 1000])
        expectClose(x.gelu(approximate: .tanh).scalars, [0, 0, 100, 1000])
        for y in [x.sigmoid(), x.silu(), x.softplus(), x.elu(), x.gelu(), x.gelu(approximate: .tanh)] {
            #expect(y.scalars.allSatisfy { $0.isFinite })
        }
        // Gradients stay finite too.
        let v = Tensor([-1000, 1000], requiresGrad: true)
        (v.sigmoid() + v.silu() + v.softplus(beta: 1, threshold: 1e9) + v.gelu() + v.elu()).sum().backward()
        #expect(v.grad!.scalars.allSatisfy { $0.isFinite })
    }

    @Test func gradientsAtKinksFollowPyTorch() {
        let x = Tensor([0], requiresGrad: true)
        x.relu().sum().backward()
        #expect(x.grad!.scalars == [0])
        let y = Tensor([0], requiresGrad: true)
        y.elu(alpha: 0.5).sum().backward()
        #expect(y.grad!.scalars == [0.5])
        // softplus at the threshold is still the smooth branch; above it, the identity.
        let z = Tensor([10, 10.5], requiresGrad: true)
        z.softplus(beta: 2, threshold: 20).sum().backward()
        expectClose(z.grad!.scalars, [1 / (1 + 0.0000000020611537), 1])
    }

    @Test func activationGradients() {
        let x = Tensor([-2.5, -1.1, -0.4, 0.3, 0.9, 2.2, -0.05, 1.6], shape: [2, 4], requiresGrad: true)
        expectGradients([x]) { $0[0].relu() }
        expectGradients([x]) { $0[0].sigmoid() }
        expectGradients([x]) { $0[0].tanh() }
        expectGradients([x]) { $0[0].elu(alpha: 1) }
        expectGradients([x]) { $0[0].elu(alpha: 0.3) }
        expectGradients([x]) { $0[0].silu() }
        expectGradients([x]) { $0[0].softplus() }
        expectGradients([x]) { $0[0].softplus(beta: 0.07) }
        expectGradients([x]) { $0[0].softplus(beta: 3, threshold: 2) }
        expectGradients([x]) { $0[0].gelu() }
        expectGradients([x]) { $0[0].gelu(approximate: .tanh) }
    }

    @Test func vectorisedExpIsAccurateEverywhere() {
        // 40 001 points over the whole Float range of exp, against Double.
        let xs = (0...40_000).map { Float(-110 + Double($0) * 0.005) }
        let x = Tensor(xs)
        let e = x.exp().scalars, em1 = x.elu().scalars, th = x.tanh().scalars, sg = x.sigmoid().scalars
        var worstExp = 0.0, worstExpm1 = 0.0, worstTanh = 0.0, worstSigmoid = 0.0
        for (i, v) in xs.enumerated() {
            let d = Double(v)
            let ref = Foundation_exp(d)
            if ref > 1.2e-38 && ref < 3.4e38 { worstExp = Swift.max(worstExp, Swift.abs(Double(e[i]) - ref) / ref) }
            if ref < 1.2e-38 { #expect(Swift.abs(Double(e[i]) - ref) < 1.5e-38) }
            if ref > 3.5e38 { #expect(e[i] == .infinity) }
            if v <= 0 {
                let r = Foundation_expm1(d)
                worstExpm1 = Swift.max(worstExpm1, Swift.abs(Double(em1[i]) - r) / Swift.abs(r))
            }
            let t = Foundation_tanh(d)
            worstTanh = Swift.max(worstTanh, Swift.abs(Double(th[i]) - t) / Swift.max(Swift.abs(t), 1e-30))
            let s = 1 / (1 + Foundation_exp(-d))
            if s > 1.2e-38 { worstSigmoid = Swift.max(worstSigmoid, Swift.abs(Double(sg[i]) - s) / s) }
        }
        #expect(worstExp < 4e-7, "exp relative error \(worstExp)")
        #expect(worstExpm1 < 4e-7, "expm1 relative error \(worstExpm1)")
        #expect(worstTanh < 4e-7, "tanh relative error \(worstTanh)")
        #expect(worstSigmoid < 4e-7, "sigmoid relative error \(worstSigmoid)")
        // log over 30 decades including denormals, and softplus far into its exponential tail.
        let positives = (0...6_000).map { Float(Foundation_exp(-100 + Double($0) * 0.03)) } + [.leastNonzeroMagnitude * 7, .leastNormalMagnitude / 1024, 3e38]
        let logs = Tensor(positives).log().scalars
        var worstLog = 0.0
        for (i, v) in positives.enumerated() {
            let ref = Foundation_log(Double(v))
            worstLog = Swift.max(worstLog, Swift.abs(Double(logs[i]) - ref) / Swift.max(Swift.abs(ref), 1e-3))
        }
        #expect(worstLog < 4e-7, "log relative error \(worstLog)")
        let special = Tensor([0, -1, .infinity, .nan]).log().scalars
        #expect(special[0] == -.infinity && special[1].isNaN && special[2] == .infinity && special[3].isNaN)
        let tails = Tensor([-80, -40, -20, -5, 0, 5, 19.9])
        let softplus = tails.softplus().scalars
        for (i, v) in tails.scalars.enumerated() {
            let ref = Foundation_log1p(Foundation_exp(Double(v)))
            #expect(Swift.abs(Double(softplus[i]) - ref) / ref < 4e-7, "softplus(\(v)) = \(softplus[i]), expected \(ref)")
        }
        // Tiny arguments keep their relative precision.
        let tiny = Tensor([1e-7, -1e-7, 1e-20, -3e-4])
        expectClose(tiny.tanh().scalars, [1e-7, -1e-7, 1e-20, -2.9999999e-4], atol: 0, rtol: 1e-6)
        expectClose(tiny.elu().scalars, [1e-7, -9.9999995e-8, 1e-20, -2.99955e-4], atol: 0, rtol: 1e-6)
        let exps = Tensor([.infinity, -.infinity, .nan]).exp().scalars
        #expect(exps[0] == .infinity && exps[1] == 0 && exps[2].isNaN)
        #expect(Tensor([.nan]).elu().item.isNaN && Tensor([.nan]).tanh().item.isNaN && Tensor([.nan]).sigmoid().item.isNaN)
        #expect(Tensor([.infinity, -.infinity]).tanh().scalars == [1, -1])
    }

    @Test func largeTensorsUseTheParallelPath() {
        let g = RandomGenerator(seed: 11)
        let x = Tensor.randomNormal([300, 400], generator: g)
        let y = x.sigmoid()
        let p = x.storage.pointer, q = y.storage.pointer
        var worst: Float = 0
        for i in 0..<x.count { worst = Swift.max(worst, Swift.abs(q[i] - 1 / (1 + expf(-p[i])))) }
        #expect(worst < 1e-6)
    }
}
