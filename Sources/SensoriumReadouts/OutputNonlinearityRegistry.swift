import Foundation
import SensoriumTensor
import SensoriumLayers

/// The configuration of a model's output nonlinearity, by which a model configuration names it.
public protocol OutputNonlinearityConfiguration: ComponentConfiguration {
    /// A new layer (nil: the identity); throws when an option cannot make one.
    func makeLayer() throws -> (any UnaryLayer)?
    /// The input that this nonlinearity maps to `y` (the closest one when `y` is outside its
    /// range: outputs that must be positive are taken as at least 1e-4).
    func inverse(_ y: Float) -> Float
}

/// The family of output nonlinearities. Built-in: `eluPlusOne` (``ELUPlusOne``, the baselines'),
/// `softplus` (``SoftplusOutput``), `exponential` (``Exponential``), `identity`, and `causalFilter`
/// (``CausalFilterOutput``: another of them followed by a learned causal temporal filter).
public enum OutputNonlinearityKind: ComponentKind {
    public typealias Base = any OutputNonlinearityConfiguration
    public static let name = "output nonlinearity"
    public static let registry = ComponentRegistry<OutputNonlinearityKind>(builtIns: [
        ELUPlusOne.Configuration.self, SoftplusOutput.Configuration.self,
        Exponential.Configuration.self, IdentityOutput.self, CausalFilterOutput.Configuration.self,
    ])
}

/// An output nonlinearity configuration of any registered type.
public typealias AnyOutputNonlinearityConfiguration = Configured<OutputNonlinearityKind>

extension ELUPlusOne {
    /// `ELU(x + offset) + 1`.
    public struct Configuration: OutputNonlinearityConfiguration, Equatable {
        public static var typeName: String { "eluPlusOne" }
        public static var defaults: Self { Self() }
        /// Added before the ELU (the reference's `elu_offset`).
        public var offset: Float = 0
        public init() {}
        public init(offset: Float) { self.offset = offset }
        public func makeLayer() throws -> (any UnaryLayer)? {
            guard offset.isFinite else {
                throw ComponentError.invalid(kind: OutputNonlinearityKind.name, type: Self.typeName, message: "offset must be finite, got \(offset)")
            }
            return ELUPlusOne(offset: offset)
        }
        public func inverse(_ y: Float) -> Float {
            // ELU(z) + 1 = y: z = y − 1 for y ≥ 1, log(y) below.
            let v = max(y, 1e-4)
            return (v >= 1 ? v - 1 : Foundation.log(v)) - offset
        }
    }
}

extension SoftplusOutput {
    /// Softplus with sharpness β, fixed or learned (key `output_nonlinearity.beta`).
    public struct Configuration: OutputNonlinearityConfiguration, Equatable {
        public static var typeName: String { "softplus" }
        public static var defaults: Self { Self() }
        /// β (positive).
        public var beta: Float = 1
        /// Whether β is trained.
        public var learnable: Bool = false
        public init() {}
        public init(beta: Float, learnable: Bool = false) {
            self.beta = beta
            self.learnable = learnable
        }
        public func makeLayer() throws -> (any UnaryLayer)? {
            guard beta > 0 && beta.isFinite else {
                throw ComponentError.invalid(kind: OutputNonlinearityKind.name, type: Self.typeName, message: "beta must be positive, got \(beta)")
            }
            return SoftplusOutput(beta: beta, learnable: learnable)
        }
        public func inverse(_ y: Float) -> Float {
            // log(1 + e^{βx}) / β = y  ⇔  x = y + log(1 − e^{−βy}) / β.
            let v = max(y, 1e-4)
            return v + Foundation.log(-Foundation.expm1(-beta * v)) / beta
        }
    }
}

extension Exponential {
    /// `e^x`.
    public struct Configuration: OutputNonlinearityConfiguration, Equatable {
        public static var typeName: String { "exponential" }
        public static var defaults: Self { Self() }
        public init() {}
        public func makeLayer() throws -> (any UnaryLayer)? { Exponential() }
        public func inverse(_ y: Float) -> Float { Foundation.log(max(y, 1e-4)) }
    }
}

/// No output nonlinearity (linear predictions).
public struct IdentityOutput: OutputNonlinearityConfiguration, Equatable {
    public static var typeName: String { "identity" }
        public static var defaults: Self { Self() }
    public init() {}
    public func makeLayer() throws -> (any UnaryLayer)? { nil }
    public func inverse(_ y: Float) -> Float { y }
}

extension Configured where Kind == OutputNonlinearityKind {
    /// The baselines' `ELU + 1`.
    public static var baseline: Configured { eluPlusOne() }
    /// `ELU(x + offset) + 1`.
    public static func eluPlusOne(offset: Float = 0) -> Configured { Configured(ELUPlusOne.Configuration(offset: offset)) }
    /// Softplus with sharpness β, fixed or learned.
    public static func softplus(beta: Float = 1, learnable: Bool = false) -> Configured {
        Configured(SoftplusOutput.Configuration(beta: beta, learnable: learnable))
    }
    /// `e^x`.
    public static var exponential: Configured { Configured(Exponential.Configuration()) }
    /// No nonlinearity.
    public static var identity: Configured { Configured(IdentityOutput()) }
    /// `inner` followed by a learned causal temporal filter of `taps` frames (``CausalFilterOutput``).
    public static func causalFilter(taps: Int = 8, inner: Configured = .baseline) -> Configured {
        Configured(CausalFilterOutput.Configuration(taps: taps, inner: inner))
    }

    /// A new layer (nil for the identity).
    public func makeLayer() throws -> (any UnaryLayer)? { try base.makeLayer() }
    /// The input this nonlinearity maps to `y`.
    public func inverse(_ y: Float) -> Float { base.inverse(y) }
}
