import SensoriumTensor

/// How ``EnergyChannels`` rectifies its channels.
public enum EnergyFunction: String, Codable, Sendable, CaseIterable {
    /// `x²`: a following linear layer sums squared quadrature pairs into the classical energy.
    case square
    /// `|x|`: a following linear layer sums rectified phases into a phase-invariant response
    /// (Lipschitz, unlike the square).
    case absolute
}

/// Energy units: the last `count` channels of (N, C, …) go through an even function (`x²` or
/// `|x|`), the others through `nonlinearity` (if any). After a convolution these are the first
/// stage of an energy model: a following linear layer combines them into phase-invariant,
/// complex-cell-like responses, which odd-symmetric nonlinearities (ELU) only reach with a
/// channel per sign. No parameters; the output has the input's shape.
public final class EnergyChannels: Module, UnaryLayer {
    /// Number of trailing channels that go through ``function``.
    public let count: Int
    /// The even function of the energy channels.
    public let function: EnergyFunction
    /// The nonlinearity of the other channels (nil: identity).
    public let nonlinearity: (any UnaryLayer)?

    /// Applies `function` to the last `count` channels and `nonlinearity` to the others.
    public init(count: Int, function: EnergyFunction, nonlinearity: (any UnaryLayer)?) {
        precondition(count >= 0, "EnergyChannels: count must be non-negative, got \(count)")
        self.count = count
        self.function = function
        self.nonlinearity = nonlinearity
        super.init()
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        precondition(x.rank >= 2 && x.shape[1] >= count,
                     "EnergyChannels: expected at least \(count) channels on axis 1, got shape \(x.shape)")
        let c = x.shape[1]
        let even: (Tensor) -> Tensor = function == .square ? { $0.square() } : { $0.abs() }
        if count == c { return even(x) }
        let rest = x.sliced(axis: 1, range: 0..<(c - count))
        let other = nonlinearity.map { $0(rest) } ?? rest
        guard count > 0 else { return other }
        return Tensor.concatenate([other, even(x.sliced(axis: 1, range: (c - count)..<c))], axis: 1)
    }

    override public var extraDescription: String { "count: \(count), function: \(function.rawValue)" }
}
