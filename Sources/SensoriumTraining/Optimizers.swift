import SensoriumTensor
import SensoriumLayers

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Updates parameters in place from their accumulated gradients (`Tensor.grad`).
///
/// Parameters are named by their dotted module path, and the per-parameter state (moment
/// estimates, momentum buffers, step counts) is keyed by that path, so it can be saved in a
/// checkpoint and loaded into a freshly built model. As in PyTorch, a parameter whose `grad` is nil
/// at a step is skipped (its state does not advance).
public protocol Optimizer: AnyObject {
    /// The parameters being optimised, with their paths.
    var parameters: [(path: String, tensor: Tensor)] { get }
    /// The current learning rate (schedules change it between steps).
    var learningRate: Double { get set }
    /// A short name ("AdamW", "Adam", "SGD").
    var name: String { get }
    /// Applies one update to every parameter that has a gradient.
    func step()
    /// Clears the gradient of every parameter (PyTorch's `zero_grad(set_to_none=True)`).
    func zeroGrad()
    /// The optimizer's state (learning rate and per-parameter buffers), for checkpoints.
    func stateRecord() -> StateRecord
    /// Restores a state saved by ``stateRecord()``.
    func loadState(_ record: StateRecord) throws
}

/// Shared machinery of the built-in optimizers: the parameter list, the per-parameter slots and
/// step counts, the parameter groups, zeroing, and state records.
///
/// **Parameter groups** (PyTorch's `param_groups`): a parameter whose path starts with one of a
/// ``ParameterGroup``'s prefixes is updated with that group's learning rate and weight decay
/// (the first matching group wins); the others form the default group, with the configuration's.
/// ``learningRate`` is the default group's rate, and schedules set only it: every group's rate
/// follows in proportion (`group rate × learningRate / initial learningRate`), so a plateau cut
/// by 0.3 multiplies every group's rate by 0.3, as PyTorch's schedulers do per group.
public class ParameterOptimizer: Optimizer {
    public let parameters: [(path: String, tensor: Tensor)]
    /// The default group's learning rate (the rate schedules read and set).
    public var learningRate: Double
    public var name: String { "Optimizer" }
    /// The parameter groups with their own rates and weight decays (empty: one group).
    public let groups: [ParameterGroup]
    /// The learning rate the optimizer was configured with, against which group rates scale.
    public let initialLearningRate: Double
    /// Per parameter: the index of its group in ``groups``, or nil for the default group.
    let groupIndex: [Int?]

    /// Names of the per-parameter buffers (for example `exp_avg`, `exp_avg_sq`).
    let slotNames: [String]
    /// Per-parameter buffers, created at a parameter's first update; indexed like `parameters`.
    var slots: [[Tensor]?]
    /// Per-parameter number of updates applied.
    var steps: [Int]

    init(parameters: [(path: String, tensor: Tensor)], learningRate: Double, slotNames: [String],
         groups: [ParameterGroup] = []) {
        precondition(learningRate >= 0, "Optimizer: negative learning rate \(learningRate)")
        precondition(groups.isEmpty || learningRate > 0,
                     "Optimizer: parameter groups scale with the default learning rate, which must be positive (got \(learningRate))")
        var seenPaths = Set<String>()
        for p in parameters {
            precondition(seenPaths.insert(p.path).inserted, "Optimizer: parameter path \(p.path) appears twice")
        }
        self.parameters = parameters
        self.learningRate = learningRate
        self.initialLearningRate = learningRate
        self.groups = groups
        self.groupIndex = parameters.map { p in groups.firstIndex { $0.contains(p.path) } }
        self.slotNames = slotNames
        self.slots = [[Tensor]?](repeating: nil, count: parameters.count)
        self.steps = [Int](repeating: 0, count: parameters.count)
    }

    /// The learning rate of the parameter at index `i` now: its group's rate scaled like
    /// ``learningRate``, or ``learningRate`` itself in the default group.
    public func learningRate(ofParameterAt i: Int) -> Double {
        guard let g = groupIndex[i] else { return learningRate }
        return groups[g].learningRate * (learningRate / initialLearningRate)
    }

    /// The weight decay of the parameter at index `i`: its group's, else `defaultDecay`.
    func weightDecay(ofParameterAt i: Int, default defaultDecay: Double) -> Double {
        guard let g = groupIndex[i] else { return defaultDecay }
        return groups[g].weightDecay ?? defaultDecay
    }

    /// The current learning rate of every group by name, the default group as `"default"`.
    public var groupLearningRates: [String: Double] {
        var rates = ["default": learningRate]
        for g in groups { rates[g.name] = g.learningRate * (learningRate / initialLearningRate) }
        return rates
    }

    /// The trainable parameters of `module`, named by their dotted paths.
    static func named(_ module: Module) -> [(path: String, tensor: Tensor)] {
        module.namedTrainableParameters()
    }

    /// Plain tensors, named `"0"`, `"1"`, ….
    static func named(_ tensors: [Tensor]) -> [(path: String, tensor: Tensor)] {
        tensors.enumerated().map { (String($0.offset), $0.element) }
    }

    public func step() {
        for i in parameters.indices {
            let p = parameters[i].tensor
            guard let g = p.grad else { continue }
            precondition(g.shape == p.shape,
                         "\(name).step: gradient shape \(g.shape) does not match parameter \(parameters[i].path) of shape \(p.shape)")
            if slots[i] == nil {
                slots[i] = slotNames.map { _ in Tensor(storage: TensorStorage(count: p.count, repeating: 0), shape: p.shape) }
            }
            steps[i] += 1
            update(index: i, parameter: p, gradient: g, slots: slots[i]!, step: steps[i])
        }
    }

    /// Updates one parameter; `step` counts from 1.
    func update(index: Int, parameter: Tensor, gradient: Tensor, slots: [Tensor], step: Int) {
        fatalError("\(name): update(index:parameter:gradient:slots:step:) must be overridden")
    }

    public func zeroGrad() {
        for p in parameters { p.tensor.grad = nil }
    }

    /// Hyper-parameters saved with the state (informative; the configuration decides them).
    var hyperParameters: [String: Double] { [:] }

    public func stateRecord() -> StateRecord {
        var record = StateRecord()
        record.strings["type"] = name
        record.reals["learning_rate"] = learningRate
        for (key, value) in hyperParameters { record.reals[key] = value }
        if !groups.isEmpty {
            var groupRecords = StateRecord()
            for (k, g) in groups.enumerated() {
                var r = StateRecord()
                r.reals["learning_rate"] = g.learningRate * (learningRate / initialLearningRate)
                if let wd = g.weightDecay { r.reals["weight_decay"] = wd }
                r.strings["prefixes"] = g.prefixes.joined(separator: ",")
                r.integers["parameters"] = Int64(groupIndex.filter { $0 == k }.count)
                groupRecords.children[g.name] = r
            }
            record.children["groups"] = groupRecords
        }
        var perParameter = StateRecord()
        for (i, entry) in parameters.enumerated() {
            var r = StateRecord()
            r.integers["step"] = Int64(steps[i])
            if let buffers = slots[i] {
                for (slot, t) in zip(slotNames, buffers) { r.tensors[slot] = t.copy() }
            }
            perParameter.children[entry.path] = r
        }
        record.children["state"] = perParameter
        return record
    }

    public func loadState(_ record: StateRecord) throws {
        if let type = record.strings["type"], type != name {
            throw TrainingError.invalidState("the checkpoint holds the state of \(type), this optimizer is \(name)")
        }
        guard let lr = record.reals["learning_rate"] else {
            throw TrainingError.invalidState("no learning_rate")
        }
        let savedGroups = (record.children["groups"]?.children.keys).map { Set($0) } ?? []
        if savedGroups != Set(groups.map(\.name)) {
            throw TrainingError.invalidState("the checkpoint's optimizer has parameter groups [\(savedGroups.sorted().joined(separator: ", "))], this one [\(groups.map(\.name).sorted().joined(separator: ", "))]")
        }
        let perParameter = record.children["state"] ?? StateRecord()
        let known = Set(parameters.map(\.path))
        let unexpected = perParameter.children.keys.filter { !known.contains($0) }.sorted()
        if !unexpected.isEmpty {
            throw TrainingError.invalidState("state for parameters the optimizer does not have: \(unexpected.joined(separator: ", "))")
        }
        var newSlots = [[Tensor]?](repeating: nil, count: parameters.count)
        var newSteps = [Int](repeating: 0, count: parameters.count)
        for (i, entry) in parameters.enumerated() {
            guard let r = perParameter.children[entry.path] else { continue }
            newSteps[i] = Int(r.integers["step"] ?? 0)
            let present = slotNames.filter { r.tensors[$0] != nil }
            if present.isEmpty { continue }
            guard present.count == slotNames.count else {
                throw TrainingError.invalidState("parameter \(entry.path): expected buffers \(slotNames), found \(r.tensors.keys.sorted())")
            }
            var buffers: [Tensor] = []
            for slot in slotNames {
                let t = r.tensors[slot]!
                guard t.shape == entry.tensor.shape else {
                    throw TrainingError.invalidState("parameter \(entry.path): buffer \(slot) has shape \(t.shape), the parameter has \(entry.tensor.shape)")
                }
                buffers.append(t.copy())
            }
            newSlots[i] = buffers
        }
        learningRate = lr
        slots = newSlots
        steps = newSteps
    }

    /// The buffer `slot` of the parameter at `path`, if it exists yet (for inspection and tests).
    public func buffer(_ slot: String, of path: String) -> Tensor? {
        guard let i = parameters.firstIndex(where: { $0.path == path }),
              let s = slotNames.firstIndex(of: slot) else { return nil }
        return slots[i]?[s]
    }

    /// Number of updates applied to the parameter at `path`.
    public func stepCount(of path: String) -> Int {
        guard let i = parameters.firstIndex(where: { $0.path == path }) else { return 0 }
        return steps[i]
    }
}

// MARK: - Adam family

/// The moment update shared by Adam and AdamW, PyTorch's single-tensor algorithm:
/// `m ← m + (1−β₁)(g − m)`, `v ← β₂v + (1−β₂)g²`,
/// `p ← p − (lr / (1−β₁ᵗ)) · m / (√v / √(1−β₂ᵗ) + ε)`, with `g` already including any L2 term.
@inline(__always)
private func adamKernel(parameter: UnsafeMutablePointer<Float>, gradient: UnsafePointer<Float>,
                        m: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>, count: Int,
                        decayFactor: Float?, l2: Float, beta1Complement: Float, beta2: Float, beta2Complement: Float,
                        stepSize: Float, biasCorrection2Sqrt: Float, eps: Float) {
    Parallel.forRanges(count, minimumPerThread: 65_536) { range in
        for i in range {
            var p = parameter[i]
            var g = gradient[i]
            if let decayFactor { p *= decayFactor }
            if l2 != 0 { g = g + l2 * p }
            let mi = m[i] + beta1Complement * (g - m[i])
            let vi = v[i] * beta2 + beta2Complement * (g * g)
            m[i] = mi
            v[i] = vi
            let denom = vi.squareRoot() / biasCorrection2Sqrt + eps
            p = p + (-stepSize) * (mi / denom)
            parameter[i] = p
        }
    }
}

/// The configuration of a member of the Adam family (``AdamW``, ``Adam``): the hyper-parameters
/// the shared ``AdamFamilyOptimizer`` reads, and how weight decay enters the update.
public protocol AdamFamilyConfiguration: OptimizerConfiguration, Equatable {
    /// Learning rate.
    var learningRate: Double { get set }
    /// Coefficient of the running average of the gradient.
    var beta1: Double { get set }
    /// Coefficient of the running average of the squared gradient.
    var beta2: Double { get set }
    /// Added to the denominator for numerical stability.
    var eps: Double { get set }
    /// Weight decay (decoupled or L2, see ``decouplesWeightDecay``).
    var weightDecay: Double { get set }
    /// Groups of parameters with their own learning rate and weight decay (empty: none).
    var parameterGroups: [ParameterGroup] { get set }
    /// Whether the parameter shrinks by `1 − lr·weightDecay` before the update (AdamW), rather than
    /// `weightDecay · p` being added to the gradient (Adam).
    static var decouplesWeightDecay: Bool { get }
}

private enum AdamCodingKeys: String, CodingKey { case learningRate, beta1, beta2, eps, weightDecay, parameterGroups }

extension AdamFamilyConfiguration {
    /// The hyper-parameters saved with the optimizer state.
    var adamRecord: [String: Double] { ["beta1": beta1, "beta2": beta2, "eps": eps, "weight_decay": weightDecay] }

    /// Updates one parameter (`step` counts from 1). With ``decouplesWeightDecay`` (AdamW) the
    /// parameter first shrinks by `1 − lr·weightDecay`; otherwise (Adam) `weightDecay·p` is added to
    /// the gradient.
    func adamUpdate(parameter: Tensor, gradient: Tensor, slots: [Tensor], step: Int, learningRate: Double,
                    weightDecay: Double) {
        let decoupled = Self.decouplesWeightDecay
        let bc1 = 1 - powDouble(beta1, Double(step))
        let bc2 = 1 - powDouble(beta2, Double(step))
        adamKernel(parameter: parameter.storage.pointer, gradient: gradient.storage.pointer,
                   m: slots[0].storage.pointer, v: slots[1].storage.pointer, count: parameter.count,
                   decayFactor: decoupled ? Float(1 - learningRate * weightDecay) : nil,
                   l2: decoupled ? 0 : Float(weightDecay),
                   beta1Complement: Float(1 - beta1), beta2: Float(beta2), beta2Complement: Float(1 - beta2),
                   stepSize: Float(learningRate / bc1), biasCorrection2Sqrt: Float(bc2.squareRoot()), eps: Float(eps))
    }

    /// Decodes the keys present, keeping `defaults` for the others, and checks them.
    init(decodingAdamFrom decoder: Decoder, defaults: Self) throws {
        self = defaults
        let c = try decoder.container(keyedBy: AdamCodingKeys.self)
        learningRate = try c.value(.learningRate, or: learningRate)
        beta1 = try c.value(.beta1, or: beta1)
        beta2 = try c.value(.beta2, or: beta2)
        eps = try c.value(.eps, or: eps)
        weightDecay = try c.value(.weightDecay, or: weightDecay)
        parameterGroups = try c.value(.parameterGroups, or: parameterGroups)
        try c.require(learningRate >= 0, .learningRate, "must be non-negative")
        try c.require(parameterGroups.isEmpty || learningRate > 0, .learningRate, "must be positive when there are parameter groups (their rates scale with it)")
        if let problem = ParameterGroup.problem(in: parameterGroups) { try c.require(false, .parameterGroups, problem) }
        try c.require((0..<1).contains(beta1), .beta1, "must be in [0, 1)")
        try c.require((0..<1).contains(beta2), .beta2, "must be in [0, 1)")
    }
}

/// The one implementation of the Adam family, PyTorch's single-tensor algorithm: the moment buffers
/// `exp_avg` and `exp_avg_sq` per parameter and the bias-corrected update, with weight decay as its
/// `Configuration` says (``AdamFamilyConfiguration/decouplesWeightDecay``). Use ``AdamW`` or ``Adam``.
public class AdamFamilyOptimizer<Configuration: AdamFamilyConfiguration>: ParameterOptimizer {
    /// The hyper-parameters (the learning rate lives in ``ParameterOptimizer/learningRate``).
    public var configuration: Configuration

    /// An optimizer for the named parameters.
    public init(parameters: [(path: String, tensor: Tensor)], configuration: Configuration = .defaults) {
        self.configuration = configuration
        super.init(parameters: parameters, learningRate: configuration.learningRate, slotNames: ["exp_avg", "exp_avg_sq"],
                   groups: configuration.parameterGroups)
    }

    /// An optimizer for the trainable parameters of `module`.
    public convenience init(_ module: Module, configuration: Configuration = .defaults) {
        self.init(parameters: ParameterOptimizer.named(module), configuration: configuration)
    }

    /// An optimizer for plain tensors (named `"0"`, `"1"`, …).
    public convenience init(_ tensors: [Tensor], configuration: Configuration = .defaults) {
        self.init(parameters: ParameterOptimizer.named(tensors), configuration: configuration)
    }

    override var hyperParameters: [String: Double] { configuration.adamRecord }

    override func update(index: Int, parameter: Tensor, gradient: Tensor, slots: [Tensor], step: Int) {
        configuration.adamUpdate(parameter: parameter, gradient: gradient, slots: slots, step: step,
                                 learningRate: learningRate(ofParameterAt: index),
                                 weightDecay: weightDecay(ofParameterAt: index, default: configuration.weightDecay))
    }
}

/// Adam with decoupled weight decay (Loshchilov & Hutter), PyTorch `torch.optim.AdamW` semantics:
/// each step first shrinks the parameter by `1 − lr·weightDecay`, then applies the bias-corrected
/// Adam update. The reference recipe uses lr 5e-3 and weight decay 0.01 on every parameter.
public final class AdamW: AdamFamilyOptimizer<AdamW.Configuration> {
    /// Hyper-parameters of ``AdamW``.
    public struct Configuration: AdamFamilyConfiguration {
        public var learningRate: Double
        public var beta1: Double, beta2: Double
        public var eps: Double
        /// Decoupled weight decay.
        public var weightDecay: Double
        public var parameterGroups: [ParameterGroup]
        public static var decouplesWeightDecay: Bool { true }
        /// The reference recipe's values by default (PyTorch's defaults with lr 5e-3).
        public init(learningRate: Double = 5e-3, beta1: Double = 0.9, beta2: Double = 0.999,
                    eps: Double = 1e-8, weightDecay: Double = 0.01, parameterGroups: [ParameterGroup] = []) {
            (self.learningRate, self.beta1, self.beta2) = (learningRate, beta1, beta2)
            (self.eps, self.weightDecay, self.parameterGroups) = (eps, weightDecay, parameterGroups)
        }
    }

    override public var name: String { "AdamW" }
}

/// Adam with the classic L2 penalty (`weightDecay · p` added to the gradient), PyTorch
/// `torch.optim.Adam` semantics.
public final class Adam: AdamFamilyOptimizer<Adam.Configuration> {
    /// Hyper-parameters of ``Adam``.
    public struct Configuration: AdamFamilyConfiguration {
        public var learningRate: Double
        public var beta1: Double, beta2: Double
        public var eps: Double
        /// L2 penalty added to the gradient.
        public var weightDecay: Double
        public var parameterGroups: [ParameterGroup]
        public static var decouplesWeightDecay: Bool { false }
        /// PyTorch's defaults (lr 1e-3, no weight decay).
        public init(learningRate: Double = 1e-3, beta1: Double = 0.9, beta2: Double = 0.999,
                    eps: Double = 1e-8, weightDecay: Double = 0, parameterGroups: [ParameterGroup] = []) {
            (self.learningRate, self.beta1, self.beta2) = (learningRate, beta1, beta2)
            (self.eps, self.weightDecay, self.parameterGroups) = (eps, weightDecay, parameterGroups)
        }
    }

    override public var name: String { "Adam" }
}

// MARK: - SGD

/// Stochastic gradient descent with optional momentum (heavy ball or Nesterov), dampening and L2
/// weight decay, PyTorch `torch.optim.SGD` semantics: `g ← g + wd·p`;
/// `b ← g` at the first step, else `b ← μb + (1−dampening)g`; `g ← g + μb` (Nesterov) or `g ← b`;
/// `p ← p − lr·g`.
public final class SGD: ParameterOptimizer {
    /// Hyper-parameters of ``SGD``.
    public struct Configuration: Codable, Sendable, Equatable {
        /// Learning rate.
        public var learningRate: Double
        /// Momentum factor μ (0 disables momentum).
        public var momentum: Double
        /// Dampening of the momentum.
        public var dampening: Double
        /// Nesterov momentum (needs momentum > 0 and dampening 0).
        public var nesterov: Bool
        /// L2 penalty added to the gradient.
        public var weightDecay: Double
        /// Groups of parameters with their own learning rate and weight decay (empty: none).
        public var parameterGroups: [ParameterGroup]
        /// Plain SGD by default.
        public init(learningRate: Double = 1e-2, momentum: Double = 0, dampening: Double = 0,
                    nesterov: Bool = false, weightDecay: Double = 0, parameterGroups: [ParameterGroup] = []) {
            self.learningRate = learningRate
            self.momentum = momentum
            self.dampening = dampening
            self.nesterov = nesterov
            self.weightDecay = weightDecay
            self.parameterGroups = parameterGroups
        }
    }

    /// The hyper-parameters (the learning rate lives in ``ParameterOptimizer/learningRate``).
    public var configuration: Configuration
    override public var name: String { "SGD" }

    /// An optimizer for the named parameters.
    public init(parameters: [(path: String, tensor: Tensor)], configuration: Configuration = .init()) {
        precondition(!configuration.nesterov || (configuration.momentum > 0 && configuration.dampening == 0),
                     "SGD: Nesterov momentum needs momentum > 0 and dampening 0")
        self.configuration = configuration
        super.init(parameters: parameters, learningRate: configuration.learningRate,
                   slotNames: configuration.momentum != 0 ? ["momentum_buffer"] : [], groups: configuration.parameterGroups)
    }

    /// An optimizer for the trainable parameters of `module`.
    public convenience init(_ module: Module, configuration: Configuration = .init()) {
        self.init(parameters: ParameterOptimizer.named(module), configuration: configuration)
    }

    /// An optimizer for plain tensors (named `"0"`, `"1"`, …).
    public convenience init(_ tensors: [Tensor], configuration: Configuration = .init()) {
        self.init(parameters: ParameterOptimizer.named(tensors), configuration: configuration)
    }

    override var hyperParameters: [String: Double] {
        ["momentum": configuration.momentum, "dampening": configuration.dampening,
         "nesterov": configuration.nesterov ? 1 : 0, "weight_decay": configuration.weightDecay]
    }

    override func update(index: Int, parameter: Tensor, gradient: Tensor, slots: [Tensor], step: Int) {
        let c = configuration
        let p = parameter.storage.pointer, gr = gradient.storage.pointer
        let lr = Float(learningRate(ofParameterAt: index)), wd = Float(weightDecay(ofParameterAt: index, default: c.weightDecay))
        let mu = Float(c.momentum), damp = Float(1 - c.dampening), nesterov = c.nesterov
        let buffer = slots.first?.storage.pointer
        let first = step == 1
        Parallel.forRanges(parameter.count, minimumPerThread: 65_536) { range in
            for i in range {
                var g = gr[i]
                if wd != 0 { g = g + wd * p[i] }
                if let b = buffer {
                    let bi = first ? g : mu * b[i] + damp * g
                    b[i] = bi
                    g = nesterov ? g + mu * bi : bi
                }
                p[i] = p[i] + (-lr) * g
            }
        }
    }
}

// MARK: - Configuration

// MARK: - Gradient clipping

/// Scales the gradients of `parameters` so that their global L2 norm is at most `maxNorm`
/// (PyTorch `clip_grad_norm_`: the factor is `maxNorm / (norm + 1e-6)`, applied only when below 1).
/// - Returns: the global norm before clipping.
@discardableResult
public func clipGradientNorm(_ parameters: [Tensor], maxNorm: Float) -> Float {
    precondition(maxNorm > 0, "clipGradientNorm: maxNorm must be positive, got \(maxNorm)")
    var total = 0.0
    for p in parameters {
        guard let g = p.grad else { continue }
        total += g.withUnsafeBufferPointer { buffer in
            var s = 0.0
            for x in buffer { s += Double(x) * Double(x) }
            return s
        }
    }
    let norm = Float(total.squareRoot())
    let coefficient = maxNorm / (norm + 1e-6)
    if coefficient < 1 {
        for p in parameters {
            guard let g = p.grad else { continue }
            let ptr = g.storage.pointer
            Parallel.forRanges(g.count, minimumPerThread: 65_536) { range in
                for i in range { ptr[i] *= coefficient }
            }
        }
    }
    return norm
}

@inline(__always)
private func powDouble(_ x: Double, _ y: Double) -> Double { pow(x, y) }

// MARK: - Decoding with defaults for missing keys

extension AdamW.Configuration {
    public init(from decoder: Decoder) throws { try self.init(decodingAdamFrom: decoder, defaults: Self()) }
}

extension Adam.Configuration {
    public init(from decoder: Decoder) throws { try self.init(decodingAdamFrom: decoder, defaults: Self()) }
}

extension SGD.Configuration {
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = Self()
        self.init()
        learningRate = try c.value(.learningRate, or: d.learningRate)
        momentum = try c.value(.momentum, or: d.momentum)
        dampening = try c.value(.dampening, or: d.dampening)
        nesterov = try c.value(.nesterov, or: d.nesterov)
        weightDecay = try c.value(.weightDecay, or: d.weightDecay)
        parameterGroups = try c.value(.parameterGroups, or: d.parameterGroups)
        try c.require(learningRate >= 0, .learningRate, "must be non-negative")
        try c.require(parameterGroups.isEmpty || learningRate > 0, .learningRate, "must be positive when there are parameter groups (their rates scale with it)")
        if let problem = ParameterGroup.problem(in: parameterGroups) { try c.require(false, .parameterGroups, problem) }
        try c.require(!nesterov || (momentum > 0 && dampening == 0), .nesterov, "needs momentum > 0 and dampening 0")
    }
}
