import Foundation
import Testing
import Sensorium
import SensoriumTestSupport

/// Runs every PyTorch parity case under `SENSORIUM_PARITY_FIXTURES` (default `../shared/fixtures/parity`,
/// else the repository's copy `Tests/Fixtures/parity`), plus the SDK's own cases in `Tests/Fixtures/parity`
/// (listed in `Tests/Fixtures/OWN`, made by `Tools/make_parity_fixtures.py`) when that folder is not the one
/// already read: forward output, extra outputs and every listed gradient, within the case's tolerance. An op
/// this suite does not know is a failure.
@Suite struct ParityTests {
    static let folder = Fixtures.folder(environmentKey: "SENSORIUM_PARITY_FIXTURES", defaultSubfolder: "parity")
    static let ownFolder = Fixtures.repositoryFolder("parity")
    static let casePaths = Fixtures.cases(in: folder, marker: "case.json").map { folder.appendingPathComponent($0).path }
        + (folder.path == ownFolder.path ? [] : Fixtures.ownEntries("parity").map { ownFolder.appendingPathComponent($0).path })

    @Test func fixtureFolderHasCases() {
        #expect(!Fixtures.cases(in: Self.folder, marker: "case.json").isEmpty, "no parity cases found in \(Self.folder.path)")
    }

    @Test(arguments: casePaths)
    func parityCase(_ path: String) throws {
        let folder = URL(fileURLWithPath: path)
        let name = folder.lastPathComponent
        let parityCase = try ParityCase(folder: folder)
        if let defect = parityCase.layoutDefect {
            // The case cannot be read back as written; a corrected copy must exist among our own cases.
            let replacement = Self.ownFolder.appendingPathComponent("\(name)_v2")
            #expect(FileManager.default.fileExists(atPath: replacement.appendingPathComponent("case.json").path),
                    "\(name): \(defect), and no corrected case \(replacement.path) exists")
            Issue.record("\(name): \(defect); checked through \(replacement.lastPathComponent) instead", severity: .warning)
            ParityTally.shared.record(passed: true, defective: true)
            return
        }
        let outcome = try parityCase.run()
        for failure in outcome { Issue.record("\(name): \(failure)") }
        ParityTally.shared.record(passed: outcome.isEmpty, defective: false)
    }
}

/// Counts passed cases and prints the total once every case has run.
final class ParityTally: @unchecked Sendable {
    static let shared = ParityTally()
    private let lock = NSLock()
    private var passed = 0, seen = 0, defective = 0

    func record(passed ok: Bool, defective isDefective: Bool) {
        lock.lock(); defer { lock.unlock() }
        seen += 1
        if isDefective { defective += 1 } else if ok { passed += 1 }
        if seen == ParityTests.casePaths.count {
            print("Parity: \(passed) of \(seen - defective) PyTorch cases passed"
                  + (defective > 0 ? "; \(defective) defective shared case(s) replaced by corrected copies" : ""))
        }
    }
}

/// One fixture folder: its case.json, its arrays, and how to run its op.
struct ParityCase {
    let folder: URL
    let op: String
    let params: [String: Any]
    let inputNames: [String]
    let extraNames: [String]
    let gradNames: [String]
    let atol: Float, rtol: Float

    init(folder: URL) throws {
        self.folder = folder
        let json = try Fixtures.json(folder.appendingPathComponent("case.json"))
        guard let op = json["op"] as? String, let inputs = json["inputs"] as? [String],
              let tol = json["tol"] as? [String: Any] else {
            throw FixtureError.malformed("\(folder.path)/case.json: missing op, inputs or tol")
        }
        self.op = op
        self.params = json["params"] as? [String: Any] ?? [:]
        self.inputNames = inputs
        self.extraNames = json["extra"] as? [String] ?? []
        self.gradNames = json["grads"] as? [String] ?? []
        self.atol = Float((tol["atol"] as? Double) ?? 0)
        self.rtol = Float((tol["rtol"] as? Double) ?? 0)
        let outputName = json["output"] as? String ?? "output"
        self.layoutDefect = inputs.contains(outputName)
            ? "input \"\(outputName)\" has the same file name as the result \(outputName).npy, which overwrote it"
            : nil
    }

    /// Why the folder cannot be read as its case.json describes, if it cannot.
    let layoutDefect: String?

    /// Runs the case; returns a description of every mismatch (empty when it passes).
    func run() throws -> [String] {
        var inputs: [String: Tensor] = [:]
        for name in inputNames {
            let t = try Fixtures.tensor(name, in: folder)
            t.requiresGrad = gradNames.contains(name)
            inputs[name] = t
        }
        let (output, extras) = try evaluate(inputs)
        var failures: [String] = []
        func check(_ ours: Tensor, _ name: String) throws {
            let reference = try Fixtures.tensor(name, in: folder)
            if ours.shape != reference.shape {
                failures.append("\(name): shape \(ours.shape), expected \(reference.shape)")
                return
            }
            let c = Closeness.compare(ours, reference, atol: atol, rtol: rtol)
            if !c.passed { failures.append("\(name): \(c)") }
        }
        try check(output, "output")
        for name in extraNames {
            guard let extra = extras[name] else { failures.append("extra output \(name) not produced"); continue }
            try check(extra, name)
        }
        if !gradNames.isEmpty {
            output.backward(try Fixtures.tensor("grad_output", in: folder))
            for name in gradNames {
                guard let input = inputs[name] else { failures.append("no input \(name)"); continue }
                // An input the op does not depend on gets no gradient; PyTorch's fixture stores zeros.
                try check(input.grad ?? Tensor.zeros(input.shape), "grad_\(name)")
            }
        }
        return failures
    }

    private func ints(_ key: String) throws -> [Int] {
        guard let values = params[key] as? [Any] else { throw FixtureError.malformed("\(op): param \(key) missing") }
        return values.compactMap { ($0 as? NSNumber)?.intValue }
    }
    private func floats(_ key: String) throws -> [Float] {
        guard let values = params[key] as? [Any] else { throw FixtureError.malformed("\(op): param \(key) missing") }
        return values.compactMap { ($0 as? NSNumber)?.floatValue }
    }
    private func number(_ key: String, default value: Double? = nil) throws -> Double {
        if let n = params[key] as? NSNumber { return n.doubleValue }
        if let value { return value }
        throw FixtureError.malformed("\(op): param \(key) missing")
    }
    private func flag(_ key: String, default value: Bool = false) -> Bool {
        (params[key] as? NSNumber)?.boolValue ?? value
    }

    /// Maps the case's op onto the SDK.
    private func evaluate(_ t: [String: Tensor]) throws -> (Tensor, [String: Tensor]) {
        func input(_ name: String) throws -> Tensor {
            guard let x = t[name] else { throw FixtureError.malformed("\(op): input \(name) missing") }
            return x
        }
        switch op {
        case "linear":
            return (linear(try input("x"), weight: try input("weight"), bias: t["bias"]), [:])
        case "matmul":
            return (matmul(try input("a"), try input("b")), [:])
        case "conv1d", "conv2d", "conv3d":
            let x = try input("x"), w = try input("weight"), b = t["bias"]
            let stride = try ints("stride"), padding = try ints("padding"), dilation = try ints("dilation")
            let groups = Int(try number("groups", default: 1))
            switch op {
            case "conv1d": return (conv1d(x, weight: w, bias: b, stride: stride, padding: padding, dilation: dilation, groups: groups), [:])
            case "conv2d": return (conv2d(x, weight: w, bias: b, stride: stride, padding: padding, dilation: dilation, groups: groups), [:])
            default: return (conv3d(x, weight: w, bias: b, stride: stride, padding: padding, dilation: dilation, groups: groups), [:])
            }
        case "batch_norm":
            let training = flag("training")
            let mean = Tensor(try floats(training ? "running_mean_before" : "running_mean"))
            let variance = Tensor(try floats(training ? "running_var_before" : "running_var"))
            let out = batchNorm(try input("x"), runningMean: mean, runningVar: variance, weight: t["weight"], bias: t["bias"],
                                training: training, momentum: Float(try number("momentum", default: 0.1)),
                                eps: Float(try number("eps", default: 1e-5)))
            return (out, ["running_mean_after": mean, "running_var_after": variance])
        case "layer_norm":
            return (layerNorm(try input("x"), normalizedShape: try ints("normalized_shape"), weight: t["weight"], bias: t["bias"],
                              eps: Float(try number("eps", default: 1e-5))), [:])
        case "elu": return (try input("x").elu(alpha: Float(try number("alpha", default: 1))), [:])
        case "silu": return (try input("x").silu(), [:])
        case "sigmoid": return (try input("x").sigmoid(), [:])
        case "tanh": return (try input("x").tanh(), [:])
        case "softplus":
            return (try input("x").softplus(beta: Float(try number("beta", default: 1)),
                                            threshold: Float(try number("threshold", default: 20))), [:])
        case "gelu":
            let approximate: GELUApproximation = (params["approximate"] as? String) == "tanh" ? .tanh : .none
            return (try input("x").gelu(approximate: approximate), [:])
        case "softmax":
            return (try input("x").softmax(axis: Int(try number("dim", default: -1))), [:])
        case "grid_sample":
            guard (params["mode"] as? String ?? "bilinear") == "bilinear" else { throw FixtureError.malformed("grid_sample: only bilinear") }
            let padding: GridSamplePadding
            switch params["padding_mode"] as? String ?? "zeros" {
            case "zeros": padding = .zeros
            case "border": padding = .border
            case let other: throw FixtureError.malformed("grid_sample: padding_mode \(other) not supported")
            }
            return (gridSample(try input("x"), grid: try input("grid"), paddingMode: padding,
                               alignCorners: flag("align_corners")), [:])
        case "avg_pool2d":
            return (avgPool2d(try input("x"), kernelSize: try ints("kernel_size"), stride: try ints("stride")), [:])
        case "max_pool2d":
            return (maxPool2d(try input("x"), kernelSize: try ints("kernel_size"), stride: try ints("stride")), [:])
        case "interpolate_bilinear":
            return (interpolateBilinear(try input("x"), size: try ints("size"), alignCorners: flag("align_corners")), [:])
        case "scaled_dot_product_attention":
            // Optional additive `bias` (differentiable) and `mask` (constant), and an explicit `scale`.
            let scale = params["scale"] == nil ? nil : Float(try number("scale"))
            return (scaledDotProductAttention(try input("q"), try input("k"), try input("v"), bias: t["bias"], mask: t["mask"],
                                              scale: scale), [:])
        case "roll":
            return (try input("x").rolled(shifts: try ints("shifts"), axes: try ints("dims")), [:])
        case "window_partition_3d":
            return (windowPartition3d(try input("x"), windowSize: try ints("window_size")), [:])
        case "shifted_window_attention_3d":
            // Dynamic-V1FM's ShiftedWindowAttention3d; the index buffer is the module's own for window_size.
            let x = try input("x"), window = try ints("window_size"), heads = Int(try number("num_heads"))
            let geometry = SwinWindowGeometry(gridSize: Array(x.shape[1...3]), windowSize: window, shiftSize: try ints("shift_size"))
            let count = window.reduce(1, *)
            let index = Tensor(SwinWindowGeometry.relativePositionIndex(windowSize: window).map(Float.init), shape: [count, count])
            let bias = relativePositionBias(table: try input("relative_position_bias_table"), index: index,
                                            tokens: geometry.tokensPerWindow)
            return (shiftedWindowAttention3d(x, qkvWeight: try input("qkv_weight"), qkvBias: t["qkv_bias"],
                                             projWeight: try input("proj_weight"), projBias: t["proj_bias"],
                                             relativePositionBias: bias, geometry: geometry, numHeads: heads), [:])
        case "window_reverse_3d":
            return (windowReverse3d(try input("windows"), windowSize: try ints("window_size"), gridSize: try ints("grid_size")), [:])
        case "poisson_loss":
            return (poissonLoss(try input(inputNames[0]), target: try input("target"), eps: Float(try number("eps", default: 1e-12)),
                                reduction: flag("avg") ? .mean : .sum), [:])
        case "full_gaussian2d":
            return (try fullGaussian2dCase(t), [:])
        case "mlp_shifter":
            return (try mlpShifterCase(t), [:])
        // ViV1T ops (unfold3d_patches, blocked/multi-head attention, correlation_loss): ParityViViTCases.swift.
        case _ where ParityCase.vivitOps.contains(op):
            return (try vivitCase(t), [:])
        default:
            throw FixtureError.malformed("unknown op \"\(op)\" in \(folder.lastPathComponent): the parity suite does not know it")
        }
    }
}
