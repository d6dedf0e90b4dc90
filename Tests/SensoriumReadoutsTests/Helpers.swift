import Foundation
import Testing
import SensoriumTensor
import SensoriumLayers
import SensoriumReadouts
import SensoriumTestSupport

/// Elementwise `|a - b| <= atol + rtol·|b|`, shapes included.
func expectNear(_ a: Tensor, _ b: Tensor, atol: Float = 1e-5, rtol: Float = 1e-4, _ label: String = "",
                sourceLocation: SourceLocation = #_sourceLocation) {
    expectClose(a, b, atol: atol, rtol: rtol, label, sourceLocation: sourceLocation)
}

/// Runs a finite-difference gradient check and expects every input to pass.
func expectGradientsPass(_ inputs: [Tensor], epsilon: Float = 1e-2, atol: Double = 2e-3, rtol: Double = 2e-2,
                         sourceLocation: SourceLocation = #_sourceLocation, _ f: ([Tensor]) -> Tensor) {
    let results = GradientCheck.check(inputs, epsilon: epsilon, atol: atol, rtol: rtol, f)
    #expect(results.count == inputs.filter(\.requiresGrad).count, sourceLocation: sourceLocation)
    for result in results {
        #expect(result.passed, "\(result)", sourceLocation: sourceLocation)
    }
}

func randn(_ shape: [Int], seed: UInt64, std: Float = 1, requiresGrad: Bool = false) -> Tensor {
    Tensor.randomNormal(shape, std: std, generator: RandomGenerator(seed: seed), requiresGrad: requiresGrad)
}

func uniform(_ shape: [Int], _ low: Float, _ high: Float, seed: UInt64, requiresGrad: Bool = false) -> Tensor {
    Tensor.randomUniform(shape, low: low, high: high, generator: RandomGenerator(seed: seed), requiresGrad: requiresGrad)
}

/// The composed form of the fused readout op: `gridSample` to (M, C, n, 1), times the features,
/// summed over channels. `x` is (M, C, H, W), positions (M, n, 2), features (C, n).
func composedReadout(_ x: Tensor, positions: Tensor, features: Tensor) -> Tensor {
    let m = x.shape[0], c = x.shape[1], n = positions.shape[1]
    let sampled = gridSample(x, grid: positions.reshaped([m, n, 1, 2]), paddingMode: .zeros, alignCorners: true)
    return (sampled.reshaped([m, c, n]) * features.reshaped([1, c, n])).sum(axis: 1)
}

/// Poisson loss summed over every element, as the baselines train.
func poissonLoss(_ prediction: Tensor, _ target: Tensor) -> Tensor {
    (prediction - target * (prediction + 1e-8).log()).sum()
}

/// A minimal Adam for the training tests.
final class TestAdam {
    let parameters: [Tensor]
    let learningRate: Float
    var m: [[Float]], v: [[Float]]
    var step = 0

    init(_ parameters: [Tensor], learningRate: Float = 1e-2) {
        self.parameters = parameters
        self.learningRate = learningRate
        m = parameters.map { [Float](repeating: 0, count: $0.count) }
        v = m
    }

    func update() {
        step += 1
        let b1: Float = 0.9, b2: Float = 0.999
        let c1 = 1 - Float(pow(Double(b1), Double(step))), c2 = 1 - Float(pow(Double(b2), Double(step)))
        for (k, p) in parameters.enumerated() {
            guard let g = p.grad?.scalars else { continue }
            p.withUnsafeMutableBufferPointer { w in
                for i in 0..<w.count {
                    m[k][i] = b1 * m[k][i] + (1 - b1) * g[i]
                    v[k][i] = b2 * v[k][i] + (1 - b2) * g[i] * g[i]
                    w[i] -= learningRate * (m[k][i] / c1) / ((v[k][i] / c2).squareRoot() + 1e-8)
                }
            }
            p.grad = nil
        }
    }
}

/// A small 3-D convolutional core built from layers: (N, 2, T, H, W) → (N, 6, T − 2, H, W).
final class SmallConvCore: Module, UnaryLayer {
    let features: Sequential
    init(generator: RandomGenerator) {
        features = Sequential(
            Conv3d(2, 4, kernelSize: [1, 3, 3], padding: [0, 1, 1], generator: generator), ELU(),
            Conv3d(4, 6, kernelSize: [3, 1, 1], generator: generator), ELU())
        super.init()
    }
    var outputChannels: Int { 6 }
    func callAsFunction(_ x: Tensor) -> Tensor { features(x) }
}
