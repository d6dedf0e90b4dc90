import Testing
@testable import SensoriumTensor
import SensoriumTestSupport

@Suite struct NormalizationTests {
    // Reference values: PyTorch 2.13 F.batch_norm / F.layer_norm in float64 on float32-rounded inputs.

    @Test func batchNorm2dTrainingMatchesTorch() {
        let x: [Float] = [0.967779398, 1.14531279, 0.388277262, 1.87569189, -0.887576759, 2.24010444, -1.81719124, 0.293407232, -0.655342042, 1.02320242, 1.31655276, -0.901961744, -0.484038174, 1.72903633, 0.280228108, -3.01966882, 0.362692952, -1.68802547, 0.00863932353, 0.480196983, -0.567487299, 2.11550689, 0.602651834, -1.83441746, -0.371414393, 0.344011754, -1.77532423, 1.47130036, -0.68257308, 0.941492319, -1.00769627, 0.895508051, 1.54019463, 1.16665435, -0.803004622, -0.927160621]  // shape [3, 2, 2, 3]
        let runningMeanBefore: [Float] = [0.496817857, 0.416954458]  // shape [2]
        let runningVarBefore: [Float] = [1.27614665, 0.619267166]  // shape [2]
        let weight: [Float] = [1.4505471, 0.527336776]  // shape [2]
        let bias: [Float] = [0.58954525, 0.893054843]  // shape [2]
        let gOut: [Float] = [0.271383733, 1.28229237, 0.000456817244, -0.150916159, 0.104989536, -0.519993603, -0.311973304, 0.359849989, 1.24014211, -0.610679686, 0.572546899, -0.0646186993, 1.18610191, -0.540397465, -0.904392362, 0.611073911, 0.281964868, 0.57110399, 0.247223318, -1.81110692, 0.740019202, -0.889966011, 1.32778299, -0.455116212, -0.635067821, 1.99701488, 0.539689541, -0.591505229, 1.65066516, -0.653264582, 1.31858814, 0.402701646, -0.446209162, 1.39600503, 0.211401731, -0.533235312]  // shape [3, 2, 2, 3]
        let expected: [Float] = [1.44963789, 1.63811529, 0.834412634, 2.41351819, -0.520090818, 2.80039477, 0.0245639142, 1.00544679, 0.564523578, 1.34461308, 1.48094511, 0.449909151, -0.0916762948, 2.25782228, 0.71970284, -2.78361464, 0.807251155, -1.36988282, 0.873103321, 1.09225583, 0.605353355, 1.85225236, 1.14916563, 0.016558174, 0.0278901234, 0.787418365, -1.46256304, 1.98419821, -0.302449793, 1.4217304, 0.400769919, 1.28526819, 1.58488083, 1.41128111, 0.495898634, 0.438198179]  // shape [3, 2, 2, 3]
        let expectedRunningMean: [Float] = [0.46289888, 0.380415976]  // shape [2]
        let expectedRunningVar: [Float] = [1.34619558, 0.69366473]  // shape [2]
        let expectedGradX: [Float] = [0.218064323, 1.33411646, -0.209357321, -0.0112519171, -0.406155556, -0.315173566, -0.264335603, 0.104143381, 0.487964302, -0.327450573, 0.230262846, -0.124985598, 0.838947296, -0.46012041, -1.19605029, -0.383199364, 0.0833324566, -0.104400292, 0.0442110263, -0.899812043, 0.257878006, -0.428132862, 0.562224567, -0.331319213, -1.06731927, 1.89959943, -0.158810392, -0.576552451, 1.28425562, -0.76992476, 0.515029967, 0.140106395, -0.237234652, 0.608962774, 0.00593012897, -0.343442887]  // shape [3, 2, 2, 3]
        let expectedGradWeight: [Float] = [-5.58828068, -1.17136168]  // shape [2]
        let expectedGradBias: [Float] = [4.50119972, 2.6933558]  // shape [2]
        let input = Tensor(x, shape: [3, 2, 2, 3], requiresGrad: true)
        let w = Tensor(weight, requiresGrad: true), b = Tensor(bias, requiresGrad: true)
        let rm = Tensor(runningMeanBefore), rv = Tensor(runningVarBefore)
        let y = batchNorm(input, runningMean: rm, runningVar: rv, weight: w, bias: b, training: true,
                          momentum: 0.1, eps: 1e-5)
        expectClose(y, expected, "output")
        expectClose(rm, expectedRunningMean, "running mean")
        expectClose(rv, expectedRunningVar, "running var")
        y.backward(Tensor(gOut, shape: y.shape))
        expectClose(input.grad!, expectedGradX, "grad x")
        expectClose(w.grad!, expectedGradWeight, "grad weight")
        expectClose(b.grad!, expectedGradBias, "grad bias")
    }

    @Test func batchNorm1dTrainingWithoutAffineMatchesTorch() {
        let x: [Float] = [0.507455528, 0.383444041, 0.0665707514, 0.00256178621, 0.496223569, 0.804088056, 1.03266454, -0.509272695, 1.20214021, 0.265927374, -0.515431702, 0.438076496, -0.499014199, 0.0156132132, 0.654647291]  // shape [5, 3]
        let runningMeanBefore: [Float] = [-0.310861319, -0.0161797684, -0.290345162]  // shape [3]
        let runningVarBefore: [Float] = [1.08013344, 1.41307569, 0.912561774]  // shape [3]
        let gOut: [Float] = [0.369381875, 2.55899358, -0.411932409, -0.273019731, 0.50115484, -1.28093183, -1.77411425, 0.517609775, 0.56183368, 1.01973963, 0.0417259634, -0.188280448, -0.456222057, -1.41868198, 1.22097027]  // shape [5, 3]
        let expected: [Float] = [0.481409281, 0.956731141, -1.50073469, -0.508506715, 1.22033262, 0.452931225, 1.51115632, -1.12983108, 1.50736201, 0.00785897765, -1.14422655, -0.516624749, -1.49191785, 0.0969938189, 0.0570661798]  // shape [5, 3]
        let expectedRunningMean: [Float] = [-0.139027223, -0.0190912522, -0.0133102452]  // shape [3]
        let expectedRunningVar: [Float] = [0.853641272, 1.05779219, 0.692230582]  // shape [3]
        let expectedGradX: [Float] = [1.47746801, 3.92835355, -0.202783346, -0.432495058, -1.16361284, -3.59346294, -2.04854608, 1.39033186, 0.700375974, 2.44143152, 0.293448657, -0.158750191, -1.43785834, -4.44852114, 3.25462055]  // shape [5, 3]
        let input = Tensor(x, shape: [5, 3], requiresGrad: true)
        let rm = Tensor(runningMeanBefore), rv = Tensor(runningVarBefore)
        let y = batchNorm(input, runningMean: rm, runningVar: rv, training: true, momentum: 0.3, eps: 1e-5)
        expectClose(y, expected, "output")
        expectClose(rm, expectedRunningMean, "running mean")
        expectClose(rv, expectedRunningVar, "running var")
        y.backward(Tensor(gOut, shape: y.shape))
        expectClose(input.grad!, expectedGradX, "grad x")
    }

    @Test func batchNorm1dSequenceTrainingMatchesTorch() {
        let x: [Float] = [-0.237835705, -2.03147674, 1.24868155, -0.214732498, 0.547305763, -2.13047767, -0.133641958, 1.13450849, 0.736171126, 0.930453777, -0.690061033, -0.716169238, 0.132348329, 0.696114957, -0.28767845, 0.207588419, 0.0109555451, -0.0356872194, -0.646042585, 1.01060367, -0.0549871325, 1.43147337, -0.620622754, 0.166972578]  // shape [2, 3, 4]
        let runningMeanBefore: [Float] = [0.0799215659, 0.461488187, 0.371885955]  // shape [3]
        let runningVarBefore: [Float] = [0.852356374, 0.906337857, 0.833834708]  // shape [3]
        let weight: [Float] = [0.952433944, 0.82800293, 0.537473202]  // shape [3]
        let bias: [Float] = [0.0495120063, -0.368837059, -0.199261159]  // shape [3]
        let gOut: [Float] = [-2.37091494, -0.975083649, 1.10729897, -0.427509874, -0.471546769, -0.618476331, -0.603051305, -0.300548375, 0.589578032, -0.857686579, 0.393080175, -0.636806726, 1.52564466, -0.10214445, -0.586310267, 0.419504344, 1.40452921, 0.816488683, 2.873909, 0.674544573, 1.8496294, -2.10609293, 0.308362752, 1.29779088]  // shape [2, 3, 4]
        let expected: [Float] = [-0.13911587, -2.05099988, 1.44539773, -0.114489622, 0.122622728, -2.15575004, -0.456756741, 0.622239947, 0.213812083, 0.350234717, -0.787668645, -0.806001425, 0.255471975, 0.856404066, -0.192244425, 0.33567214, -0.333727002, -0.373412669, -0.892729104, 0.516816437, -0.341728419, 0.702043831, -0.738910019, -0.185871348]  // shape [2, 3, 4]
        let expectedRunningMean: [Float] = [-0.0186351668, 0.117229812, 0.21509847]  // shape [3]
        let expectedRunningVar: [Float] = [0.894414723, 1.02951968, 0.718846679]  // shape [3]
        let expectedGradX: [Float] = [-2.21183038, 0.569127798, 0.423988611, -0.15696536, -0.784949303, -0.99268949, -0.917875886, -0.621315777, 0.63959682, -0.27785635, -0.223645985, -0.960094988, 1.67472315, -0.466817766, -0.273644716, 0.441418618, 0.79472667, 0.292955667, 2.0246408, 0.204507172, 1.12206948, -0.899692714, -0.247822791, 0.847446501]  // shape [2, 3, 4]
        let expectedGradWeight: [Float] = [4.83473158, -0.282677263, -4.43453836]  // shape [3]
        let expectedGradBias: [Float] = [-1.40951514, 3.77584863, 0.837854981]  // shape [3]
        let input = Tensor(x, shape: [2, 3, 4], requiresGrad: true)
        let w = Tensor(weight, requiresGrad: true), b = Tensor(bias, requiresGrad: true)
        let rm = Tensor(runningMeanBefore), rv = Tensor(runningVarBefore)
        let y = batchNorm(input, runningMean: rm, runningVar: rv, weight: w, bias: b, training: true,
                          momentum: 0.7, eps: 1e-5)
        expectClose(y, expected, "output")
        expectClose(rm, expectedRunningMean, "running mean")
        expectClose(rv, expectedRunningVar, "running var")
        y.backward(Tensor(gOut, shape: y.shape))
        expectClose(input.grad!, expectedGradX, "grad x")
        expectClose(w.grad!, expectedGradWeight, "grad weight")
        expectClose(b.grad!, expectedGradBias, "grad bias")
    }

    @Test func batchNorm3dEvalMatchesTorch() {
        let x: [Float] = [-1.1742022, -1.40356898, 0.0195840839, -0.610944748, -1.07127118, -0.848884046, 0.302930683, -0.341294616, 0.181770653, -0.252734691, -0.131673649, 0.568760693, -0.0611186288, -1.05515826, 1.62965429, -0.233798489, 0.385048836, 0.360472053, -0.317147613, -0.514332891, -0.672827423, -1.45816505, 0.738064349, -2.60682631, 0.460057825, 0.972816527, 0.555850804, -1.23098338, -1.58440876, -0.443493366, -0.546103835, 0.484819919, -0.427673548, 0.970370173, -0.924313962, 1.12490821, 0.782412887, -0.653941154, -1.88667643, 1.17991114, -0.918639958, 2.07483864, -1.00917995, 2.7354188, -0.861599624, 0.830400407, -1.52716565, -0.0414289422]  // shape [2, 2, 2, 2, 3]
        let runningMeanBefore: [Float] = [0.434793204, -0.0302517824]  // shape [2]
        let runningVarBefore: [Float] = [1.42654324, 0.654892445]  // shape [2]
        let weight: [Float] = [0.654118478, 0.555334449]  // shape [2]
        let bias: [Float] = [-0.849447012, -0.917587161]  // shape [2]
        let gOut: [Float] = [1.18745542, -0.126361132, 0.552534163, 0.476804256, -0.570872068, 0.953500867, -0.979524672, 1.02077949, 0.484758437, 2.00781369, 0.564821005, -1.68744922, -0.40978685, 0.98810041, -0.628678858, 0.779718637, 2.10053205, 0.188206211, 2.05105162, -2.29803896, 0.867699087, -0.277926445, -0.898943663, -1.18091905, -0.152174965, -0.873291135, -0.718648314, -1.91420293, -0.553812265, 0.173683718, 0.844594657, -0.790791929, 1.04694295, -1.22051108, -0.401384085, 0.684470236, -0.107028089, -0.308961302, -0.858988643, 1.7512778, -0.164846256, 1.89131522, -1.18827927, -0.862695038, 0.040996179, -0.51795733, 0.0277210679, 0.102691203]  // shape [2, 2, 2, 2, 3]
        let expected: [Float] = [-1.73063231, -1.85624766, -1.07684112, -1.42215776, -1.67426085, -1.55246794, -0.921663046, -1.2744807, -0.988017797, -1.2259798, -1.15967929, -0.776078165, -0.938768744, -1.62090325, 0.221481293, -1.05726588, -0.632597625, -0.649462819, -1.11446214, -1.24977553, -1.35853839, -1.89745641, -0.390349686, -2.68569613, -0.835610569, -0.554792225, -0.783148408, -1.76172912, -1.95528674, -1.33045101, -1.38664687, -0.82204932, -1.32178712, -0.556131959, -1.59377801, -0.471497416, -0.359916627, -1.34557819, -2.19151139, -0.0871435478, -1.52722096, 0.526977777, -1.58935177, 0.980284154, -1.48807859, -0.326986432, -1.94480634, -0.925257206]  // shape [2, 2, 2, 2, 3]
        let expectedRunningMean: [Float] = [0.434793204, -0.0302517824]  // shape [2]
        let expectedRunningVar: [Float] = [1.42654324, 0.654892445]  // shape [2]
        let expectedGradX: [Float] = [0.650323927, -0.0692031607, 0.302601844, 0.261127472, -0.312644809, 0.522195995, -0.53644824, 0.559041917, 0.265483677, 1.09960282, 0.309330881, -0.924151421, -0.281205833, 0.678058863, -0.431414932, 0.535062134, 1.44143689, 0.129151747, 1.40748215, -1.57697093, 0.595436513, -0.190719977, -0.616877317, -0.81037575, -0.0833404139, -0.478268176, -0.393576205, -1.04833579, -0.303301811, 0.0951199308, 0.46255222, -0.433086514, 0.573370636, -0.668427229, -0.21982272, 0.374858171, -0.0734453127, -0.212016866, -0.589459181, 1.20176995, -0.113121562, 1.29786706, -0.815426528, -0.592002571, 0.0281325877, -0.355435073, 0.0190228801, 0.0704692379]  // shape [2, 2, 2, 2, 3]
        let expectedGradWeight: [Float] = [-2.75943017, 9.46697903]  // shape [2]
        let expectedGradBias: [Float] = [0.00913509727, 1.08625972]  // shape [2]
        let input = Tensor(x, shape: [2, 2, 2, 2, 3], requiresGrad: true)
        let w = Tensor(weight, requiresGrad: true), b = Tensor(bias, requiresGrad: true)
        let rm = Tensor(runningMeanBefore), rv = Tensor(runningVarBefore)
        let y = batchNorm(input, runningMean: rm, runningVar: rv, weight: w, bias: b, training: false)
        expectClose(y, expected, "output")
        #expect(rm.scalars == runningMeanBefore && rv.scalars == runningVarBefore, "eval must not touch running stats")
        #expect(expectedRunningMean == runningMeanBefore && expectedRunningVar == runningVarBefore)
        y.backward(Tensor(gOut, shape: y.shape))
        expectClose(input.grad!, expectedGradX, "grad x")
        expectClose(w.grad!, expectedGradWeight, "grad weight")
        expectClose(b.grad!, expectedGradBias, "grad bias")
    }

    @Test func runningStatisticsFollowPyTorchConvention() {
        // Channel 0 holds 1, 2, 3, 4 (mean 2.5, unbiased var 5/3); channel 1 holds 0, 0, 2, 2 (mean 1, var 4/3).
        let x = Tensor([1, 2, 0, 0, 3, 4, 2, 2], shape: [2, 2, 2])
        let rm = Tensor([1, -1]), rv = Tensor([2, 0.5])
        let y = withNoGrad {
            batchNorm(x, runningMean: rm, runningVar: rv, training: true, momentum: 0.25, eps: 0)
        }
        let expectedMean: [Float] = [0.75 * 1 + 0.25 * 2.5, 0.75 * -1 + 0.25 * 1]
        let expectedVar: [Float] = [0.75 * 2 + 0.25 * 5 / 3, 0.75 * 0.5 + 0.25 * 4 / 3]
        expectClose(rm, expectedMean, "running mean")
        expectClose(rv, expectedVar, "running var")
        // Normalisation uses the biased variance (1.25 for channel 0).
        let s: Float = 1 / Float(1.25).squareRoot()
        let expectedY: [Float] = [-1.5 * s, -0.5 * s, -1, -1, 0.5 * s, 1.5 * s, 1, 1]
        expectClose(y, expectedY, "output")
        // Without running tensors, training mode still normalises with batch statistics.
        let z = batchNorm(x, runningMean: nil, runningVar: nil, training: true, eps: 0)
        #expect(z.scalars == y.scalars)
    }

    @Test(arguments: [true, false])
    func batchNormGradient(training: Bool) {
        let gen = RandomGenerator(seed: 21)
        let x = Tensor.randomNormal([3, 2, 4], mean: 0.5, std: 2, generator: gen, requiresGrad: true)
        let w = Tensor.randomUniform([2], low: 0.5, high: 1.5, generator: gen, requiresGrad: true)
        let b = Tensor.randomNormal([2], generator: gen, requiresGrad: true)
        let rm = Tensor([0.2, -0.3]), rv = Tensor([1.5, 0.7])
        for r in GradientCheck.check([x, w, b], { t in
            batchNorm(t[0], runningMean: rm.copy(), runningVar: rv.copy(), weight: t[1], bias: t[2],
                      training: training, momentum: 0.1, eps: 1e-5)
        }) {
            #expect(r.passed, "training \(training): \(r)")
        }
        // Without affine parameters, rank 2 and rank 5.
        for shape in [[6, 3], [2, 2, 2, 2, 3]] {
            let x2 = Tensor.randomNormal(shape, generator: gen, requiresGrad: true)
            for r in GradientCheck.check([x2], { t in
                batchNorm(t[0], runningMean: Tensor.zeros([shape[1]]), runningVar: Tensor.ones([shape[1]]),
                          training: training)
            }) {
                #expect(r.passed, "training \(training) shape \(shape): \(r)")
            }
        }
    }

    @Test func parameterGradientsWithoutInputGradient() {
        let gen = RandomGenerator(seed: 31)
        let x = Tensor.randomNormal([4, 3, 5], generator: gen)
        let w = Tensor.randomUniform([3], low: 0.5, high: 1.5, generator: gen, requiresGrad: true)
        let b = Tensor.randomNormal([3], generator: gen, requiresGrad: true)
        for training in [true, false] {
            for r in GradientCheck.check([x, w, b], { t in
                batchNorm(t[0], runningMean: Tensor.zeros([3]), runningVar: Tensor.ones([3]), weight: t[1], bias: t[2],
                          training: training)
            }) {
                #expect(r.passed, "batchNorm training \(training): \(r)")
            }
        }
        let lw = Tensor.randomUniform([5], low: 0.5, high: 1.5, generator: gen, requiresGrad: true)
        let lb = Tensor.randomNormal([5], generator: gen)
        for r in GradientCheck.check([x, lw, lb], { t in layerNorm(t[0], normalizedShape: [5], weight: t[1], bias: t[2]) }) {
            #expect(r.passed, "layerNorm: \(r)")
        }
    }

    @Test func batchNormStatisticsStayAccurateOnLongChannels() {
        let x = Tensor.randomNormal([2, 1, 100_000], mean: 100, std: 0.5, generator: RandomGenerator(seed: 17))
        let rm = Tensor([0]), rv = Tensor([1])
        let y = batchNorm(x, runningMean: rm, runningVar: rv, training: true, momentum: 1)
        var sum = 0.0, squares = 0.0
        for v in y.scalars { sum += Double(v); squares += Double(v) * Double(v) }
        #expect(abs(sum / 200_000) < 1e-4)
        #expect(abs(squares / 200_000 - 1) < 1e-3)
        #expect(abs(rm.item - 100) < 0.01 && abs(rv.item - 0.25) < 0.01)
    }

    @Test func layerNormOverTwoAxesMatchesTorch() {
        let x: [Float] = [0.201528817, 0.333145708, -0.456063926, 1.22205567, -1.02552271, -0.149064153, -0.168514237, -0.659315109, -0.105644502, 0.0885805413, -0.549112141, -0.747577906, 0.394242257, -0.347641885, 1.10287642, 1.77243137, -0.480866909, 1.07788992, -0.951156974, 0.234400943, -0.346558452, -0.0758342445, -0.496820748, 1.94414401]  // shape [2, 3, 4]
        let weight: [Float] = [1.29533696, 0.69622308, 1.09346569, 1.1031884, 0.604476094, 0.709014773, 0.735121667, 0.915490031, 1.03344047, 1.08946216, 1.17346728, 0.746088922]  // shape [3, 4]
        let bias: [Float] = [-0.00962951779, -0.337706268, -0.046518635, 0.302769363, 0.876977742, 0.56842804, -0.954577804, 0.605609596, 0.021860674, -0.608470201, 0.718275189, 0.214887902]  // shape [3, 4]
        let gOut: [Float] = [1.91923857, -1.07998228, -0.311506629, 2.18699002, 0.709365726, -0.456510365, -0.265202552, 1.30393636, -0.297934949, -1.93088031, -1.01918721, 0.489818335, -0.0285377614, -0.995433331, -0.335883647, -0.89132005, -1.22550356, 0.698821008, -0.215070173, 0.359798759, 0.175373375, -1.51351547, -1.223194, 0.768156648]  // shape [2, 3, 4]
        let expected: [Float] = [0.826589525, 0.271850556, -0.596938312, 2.98197818, -0.028719984, 0.591834128, -0.95529139, -0.180327624, 0.134375513, -0.120151371, -0.0631878749, -0.540675581, 0.0976793766, -0.84815681, 0.896358848, 2.06648135, 0.34521538, 1.16031384, -1.98153496, 0.520496249, -0.734596312, -1.08151925, -0.334625155, 1.54860449]  // shape [2, 3, 4]
        let expectedGradX: [Float] = [3.6542995, -2.16204, -0.489890814, 2.29301429, 1.54246271, -0.831207871, -0.58281666, 2.43649316, -0.856108427, -4.22823048, -1.87193537, 1.0959599, 0.349379063, -0.165250629, -0.211662844, -1.07605398, -0.180592194, 0.744267046, 0.59153688, 0.796943426, 0.796087146, -1.29247689, -0.940134883, 0.587957859]  // shape [2, 3, 4]
        let expectedGradWeight: [Float] = [1.2366215, -0.215722635, -0.132823333, 3.88634515, 0.0152293136, 0.568305671, 0.300708175, -1.15286434, -0.160807058, -0.208284557, 1.77623916, 0.877126575]  // shape [3, 4]
        let expectedGradBias: [Float] = [1.89070082, -2.07541561, -0.647390246, 1.29567003, -0.516137838, 0.242310643, -0.48027271, 1.66373515, -0.122561574, -3.44439578, -2.2423811, 1.25797498]  // shape [3, 4]
        let input = Tensor(x, shape: [2, 3, 4], requiresGrad: true)
        let w = Tensor(weight, shape: [3, 4], requiresGrad: true), b = Tensor(bias, shape: [3, 4], requiresGrad: true)
        let y = layerNorm(input, normalizedShape: [3, 4], weight: w, bias: b, eps: 1e-5)
        expectClose(y, expected, "output")
        y.backward(Tensor(gOut, shape: y.shape))
        expectClose(input.grad!, expectedGradX, "grad x")
        expectClose(w.grad!, expectedGradWeight, "grad weight")
        expectClose(b.grad!, expectedGradBias, "grad bias")
    }

    @Test func layerNormWithoutAffineMatchesTorch() {
        let x: [Float] = [-1.45071089, -0.828971744, -1.58787513, -0.145147935, -0.791391611, -0.482085437, 1.3280344, -0.969823539, 0.276237875, 0.508359134, -0.43236652, -0.606702983, -0.0865069255, 1.77609074, -0.741511822]  // shape [3, 5]
        let gOut: [Float] = [1.00572646, 1.09767008, 1.03444862, 0.402861685, -1.42300618, 0.487166017, 1.67257166, 0.753499568, -1.49230671, 1.20809579, -0.517454445, -1.03110766, -0.252978742, 2.02097631, 0.14388606]  // shape [3, 5]
        let expected: [Float] = [-0.944669485, 0.254245132, -1.20916653, 1.57287908, 0.326711804, -0.769700229, 1.49858654, -1.38089168, 0.180565462, 0.471439898, -0.448423684, -0.637179911, -0.0739572793, 1.94269991, -0.78313905]  // shape [3, 5]
        let expectedGradX: [Float] = [0.483950704, 1.47183681, 0.360509247, 1.02355254, -3.33984923, 0.219931111, 0.914557636, 0.766764998, -2.59187746, 0.69062376, -0.180485561, -0.543650389, -0.276967913, 0.123353794, 0.877750099]  // shape [3, 5]
        let input = Tensor(x, shape: [3, 5], requiresGrad: true)
        let y = layerNorm(input, normalizedShape: [5])
        expectClose(y, expected, "output")
        y.backward(Tensor(gOut, shape: y.shape))
        expectClose(input.grad!, expectedGradX, "grad x")
    }

    @Test func layerNormGradient() {
        let gen = RandomGenerator(seed: 4)
        let x = Tensor.randomNormal([2, 3, 5], mean: 1, std: 2, generator: gen, requiresGrad: true)
        let w = Tensor.randomUniform([5], low: 0.5, high: 1.5, generator: gen, requiresGrad: true)
        let b = Tensor.randomNormal([5], generator: gen, requiresGrad: true)
        for r in GradientCheck.check([x, w, b], { t in layerNorm(t[0], normalizedShape: [5], weight: t[1], bias: t[2]) }) {
            #expect(r.passed, "\(r)")
        }
        let w2 = Tensor.randomUniform([3, 5], low: 0.5, high: 1.5, generator: gen, requiresGrad: true)
        for r in GradientCheck.check([x, w2], { t in layerNorm(t[0], normalizedShape: [3, 5], weight: t[1]) }) {
            #expect(r.passed, "weight only: \(r)")
        }
    }
}
