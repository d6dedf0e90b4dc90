import SensoriumTensor

/// How ``EnergyChannels`` rectifies its channels.
public enum EnergyFunction: String, Codable, Sendable, CaseIterable {
    /// `x²`: a following linear layer sums squared quadrature pairs into the classical energy.
    case square
    /// `|x|`: a following linear layer sums rectified phases into a phase-invariant response
    /// (Lipschitz, unlike the square).
    case absolute
    /// `√(a² + b² + ε)` of consecutive channel pairs `(a, b)`: the classical energy model's
    /// phase-invariant response when the pair learns a quadrature pair (Lipschitz like `|x|`,
    /// ε = 1e-6 keeps the gradient finite at 0). Halves the energy channels.
    case quadrature

    /// The channels `count` energy channels become.
    public func outputCount(_ count: Int) -> Int { self == .quadrature ? count / 2 : count }
}

/// Energy units: the last `count` channels of (N, C, …) go through an even function (`x²` or
/// `|x|`), the first `linearCount` pass unchanged (linear units), the others go through
/// `nonlinearity` (if any). After a convolution these are the first
/// stage of an energy model: a following linear layer combines them into phase-invariant,
/// complex-cell-like responses, which odd-symmetric nonlinearities (ELU) only reach with a
/// channel per sign. No parameters; the output has the input's shape, except that
/// ``EnergyFunction/quadrature`` turns the `count` energy channels into `count / 2`.
public final class EnergyChannels: Module, UnaryLayer {
    /// Number of trailing channels that go through ``function``.
    public let count: Int
    /// The even function of the energy channels.
    public let function: EnergyFunction
    /// Number of leading channels that pass unchanged.
    public let linearCount: Int
    /// The nonlinearity of the other channels (nil: identity).
    public let nonlinearity: (any UnaryLayer)?

    /// Applies `function` to the last `count` channels, nothing to the first `linearCount` and
    /// `nonlinearity` to the others.
    public init(count: Int, function: EnergyFunction, nonlinearity: (any UnaryLayer)?, linearCount: Int = 0) {
        precondition(count >= 0 && linearCount >= 0,
                     "EnergyChannels: counts must be non-negative, got \(count) energy and \(linearCount) linear channels")
        precondition(function != .quadrature || count % 2 == 0,
                     "EnergyChannels: quadrature pairs need an even number of energy channels, got \(count)")
        self.count = count
        self.function = function
        self.linearCount = linearCount
        self.nonlinearity = nonlinearity
        super.init()
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        precondition(x.rank >= 2 && x.shape[1] >= count + linearCount,
                     "EnergyChannels: expected at least \(count) energy + \(linearCount) linear channels on axis 1, got shape \(x.shape)")
        let c = x.shape[1]
        let even: (Tensor) -> Tensor
        switch function {
        case .square: even = { $0.square() }
        case .absolute: even = { $0.abs() }
        case .quadrature: even = Self.pairNorm
        }
        var parts: [Tensor] = []
        if linearCount > 0 { parts.append(linearCount == c ? x : x.sliced(axis: 1, range: 0..<linearCount)) }
        if c - count - linearCount > 0 {
            let rest = count + linearCount == 0 ? x : x.sliced(axis: 1, range: linearCount..<(c - count))
            parts.append(nonlinearity.map { $0(rest) } ?? rest)
        }
        if count > 0 { parts.append(even(count == c ? x : x.sliced(axis: 1, range: (c - count)..<c))) }
        return parts.count == 1 ? parts[0] : Tensor.concatenate(parts, axis: 1)
    }

    /// `√(a² + b² + ε)` of the channel pairs (2i, 2i + 1) of (N, 2P, …): (N, P, …).
    private static func pairNorm(_ x: Tensor) -> Tensor {
        var paired = x.shape
        paired[1] /= 2
        paired.insert(2, at: 2)
        return (x.reshaped(paired).square().sum(axis: 2) + 1e-6).sqrt()
    }

    override public var extraDescription: String {
        "count: \(count), function: \(function.rawValue)" + (linearCount > 0 ? ", linear: \(linearCount)" : "")
    }
}
