// Timing harness for the factorized core's convolutions (release build:
// `swift build -c release --product sensorium-bench && .build/release/sensorium-bench [repeats]`).
import Sensorium
#if canImport(Glibc)
import Glibc
#endif

/// CPU seconds (user + system, all threads) used by this process so far.
func cpuSeconds() -> Double {
    var usage = rusage()
    getrusage(Int32(RUSAGE_SELF.rawValue), &usage)
    return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec)
        + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) * 1e-6
}

nonisolated(unsafe) var lastCPU = 0.0

/// Wall-clock seconds taken by `body`; the CPU seconds it used go to `lastCPU`.
func seconds(_ body: () -> Void) -> Double {
    let cpu = cpuSeconds()
    let start = ContinuousClock.now
    body()
    let d = ContinuousClock.now - start
    lastCPU = cpuSeconds() - cpu
    return Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
}

func median(_ values: [Double]) -> Double {
    let s = values.sorted()
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}

func format(_ v: Double, _ digits: Int = 1) -> String {
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let r = (v * scale).rounded() / scale
    return "\(r)"
}

let arguments = CommandLine.arguments
let repeats = arguments.count > 1 ? Int(arguments[1]) ?? 3 : 3
let generator = RandomGenerator(seed: 1)
print("sensorium-bench: OpenBLAS core \(blasCoreName()), \(repeats) repeats, medians")

// Machine check: a 1024³ GEMM through matmul.
do {
    let a = Tensor.randomNormal([1024, 1024], generator: generator)
    let b = Tensor.randomNormal([1024, 1024], generator: generator)
    _ = matmul(a, b)
    var cpu: [Double] = []
    let t = median((0..<5).map { _ in let s = seconds { _ = matmul(a, b) }; cpu.append(lastCPU); return s })
    print("matmul 1024³: \(format(t * 1e3)) ms, \(format(2 * 1024 * 1024 * 1024 / t / 1e9)) GFLOP/s, "
          + "\(format(2 * 1024 * 1024 * 1024 / median(cpu) / 1e9)) GFLOP per CPU-second")
}

/// Times forward and backward of `conv3d` on `x` with `weight` and reports GFLOP/s.
@MainActor func benchConv(_ label: String, x: Tensor, weight: Tensor, stride: [Int] = [1], padding: [Int], groups: Int = 1) {
    let bias = Tensor.zeros([weight.shape[0]], requiresGrad: true)
    var forward: [Double] = [], backward: [Double] = [], forwardCPU: [Double] = [], backwardCPU: [Double] = []
    var y = conv3d(x, weight: weight, bias: bias, stride: stride, padding: padding, groups: groups)
    let gradient = Tensor.randomNormal(y.shape, generator: generator)
    for _ in 0..<repeats {
        x.zeroGrad(); weight.zeroGrad(); bias.zeroGrad()
        forward.append(seconds { y = conv3d(x, weight: weight, bias: bias, stride: stride, padding: padding, groups: groups) })
        forwardCPU.append(lastCPU)
        backward.append(seconds { y.backward(gradient) })
        backwardCPU.append(lastCPU)
    }
    let n = x.shape[0], outPositions = y.count / (n * y.shape[1])
    let flops = 2.0 * Double(n * weight.shape[0] * outPositions) * Double(weight.count / weight.shape[0])
    let f = median(forward), b = median(backward), fc = median(forwardCPU), bc = median(backwardCPU)
    print("\(label): out \(y.shape), \(format(flops / 1e9, 2)) GFLOP forward")
    print("  forward  \(format(f * 1e3)) ms  \(format(flops / f / 1e9)) GFLOP/s  (\(format(flops / fc / 1e9)) per CPU-s)")
    print("  backward \(format(b * 1e3)) ms  \(format(2 * flops / b / 1e9)) GFLOP/s  (\(format(2 * flops / bc / 1e9)) per CPU-s; input + weight gradients)")
    print("  total    \(format((f + b) * 1e3)) ms  \(format(3 * flops / (f + b) / 1e9)) GFLOP/s  (\(format(3 * flops / (fc + bc) / 1e9)) per CPU-s)")
}

let channels = 32
if !arguments.contains("--skip-core") {
let x = Tensor.randomNormal([4, channels, 40, 36, 64], generator: generator, requiresGrad: true)
let spatial = Tensor.randomNormal([channels, channels, 1, 7, 7], std: 0.05, generator: generator, requiresGrad: true)
let temporal = Tensor.randomNormal([channels, channels, 7, 1, 1], std: 0.05, generator: generator, requiresGrad: true)
benchConv("spatial (1,7,7) pad (0,3,3)", x: x, weight: spatial, padding: [0, 3, 3])
benchConv("temporal (7,1,1) valid", x: x, weight: temporal, padding: [0])
}

// Depth-wise layers of an inverted-residual block (DwiseNeuro-style), mid = 384 channels.
if arguments.contains("--depthwise") {
    let mid = 384
    let h = Tensor.randomNormal([2, mid, 16, 32, 32], generator: generator, requiresGrad: true)
    let expand = Tensor.randomNormal([mid, 64, 1, 1, 1], std: 0.1, generator: generator, requiresGrad: true)
    let h64 = Tensor.randomNormal([2, 64, 16, 32, 32], generator: generator, requiresGrad: true)
    benchConv("pointwise 1x1x1 64->384", x: h64, weight: expand, padding: [0])
    let dwSpatial = Tensor.randomNormal([mid, 1, 1, 3, 3], std: 0.3, generator: generator, requiresGrad: true)
    benchConv("depthwise (1,3,3) pad (0,1,1)", x: h, weight: dwSpatial, padding: [0, 1, 1], groups: mid)
    benchConv("depthwise (1,3,3) stride (1,2,2) pad (0,1,1)", x: h, weight: dwSpatial, stride: [1, 2, 2],
              padding: [0, 1, 1], groups: mid)
    let dwTemporal = Tensor.randomNormal([mid, 1, 5, 1, 1], std: 0.3, generator: generator, requiresGrad: true)
    benchConv("depthwise (5,1,1) pad (2,0,0)", x: h, weight: dwTemporal, padding: [2, 0, 0], groups: mid)
}
if arguments.contains("--memory") {
    let h = Tensor.randomNormal([2, 384, 16, 32, 32], generator: generator)
    for _ in 0..<3 {
        var c: Tensor? = nil
        let t = seconds { c = h.copy() }
        print("copy 50MB: \(format(t * 1e3)) ms wall, \(format(lastCPU * 1e3)) ms CPU \(c!.count)")
        let t2 = seconds { c = Tensor.zeros(h.shape) }
        print("zeros 50MB: \(format(t2 * 1e3)) ms wall, \(format(lastCPU * 1e3)) ms CPU \(c!.count)")
    }
}

// The factorized baseline core's six convolutions (reference-spec §3.2), batch 2 clips of 80 frames.
if arguments.contains("--baseline") {
    let b = 2
    let layers: [(String, [Int], [Int])] = [
        ("L0 spatial 3->32 (1,11,11)", [b, 3, 80, 36, 64], [32, 3, 1, 11, 11]),
        ("L0 temporal 32->32 (11,1,1)", [b, 32, 80, 26, 54], [32, 32, 11, 1, 1]),
        ("L1 spatial 32->64 (1,5,5)", [b, 32, 70, 26, 54], [64, 32, 1, 5, 5]),
        ("L1 temporal 64->64 (5,1,1)", [b, 64, 70, 22, 50], [64, 64, 5, 1, 1]),
        ("L2 spatial 64->128 (1,5,5)", [b, 64, 66, 22, 50], [128, 64, 1, 5, 5]),
        ("L2 temporal 128->128 (5,1,1)", [b, 128, 66, 18, 46], [128, 128, 5, 1, 1]),
    ]
    for (label, input, kernel) in layers {
        let xi = Tensor.randomNormal(input, generator: generator, requiresGrad: true)
        let wi = Tensor.randomNormal(kernel, std: 0.05, generator: generator, requiresGrad: true)
        benchConv(label, x: xi, weight: wi, padding: [0])
    }
}
