// Activation functions, matching PyTorch's definitions (including the value of the gradient at
// kinks), computed with numerically stable formulas.

/// Which formula `gelu` uses, as `approximate` in `torch.nn.functional.gelu`.
public enum GELUApproximation: String, Sendable, CaseIterable {
    /// The exact form x·Φ(x), with Φ from `erf`.
    case none
    /// The tanh approximation 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
    case tanh
}

@usableFromInline struct ReLUFunction: PointwiseFunction {
    @usableFromInline init() {}
    @inlinable func value(_ x: Float) -> Float { x < 0 ? 0 : x }
    @inlinable func derivative(_ x: Float, _ y: Float) -> Float { y > 0 ? 1 : 0 }
}

@usableFromInline struct SigmoidFunction: PointwiseFunction {
    @usableFromInline init() {}
    @inlinable func value(_ x: Float) -> Float { 1 / (1 + fastExp(-x)) }
    @inlinable func derivative(_ x: Float, _ y: Float) -> Float { y * (1 - y) }
    // 1 / (1 + e^-x) has no cancellation; e^-x overflowing to inf gives exactly 0.
    @inlinable func value(_ x: SIMD8<Float>) -> SIMD8<Float> { 1 / (1 + simdExp(-x)) }
    @inlinable func derivative(_ x: SIMD8<Float>, _ y: SIMD8<Float>) -> SIMD8<Float> { y * (1 - y) }
}

@usableFromInline struct TanhFunction: PointwiseFunction {
    @usableFromInline init() {}
    @inlinable func value(_ x: Float) -> Float {
        // `0 - v` where the lanes negate (SIMD negation subtracts from 0), for the same zero signs.
        let t = fastExpm1(-2 * (x < 0 ? 0 - x : x))
        let result = (0 - t) / (t + 2)
        return x < 0 ? 0 - result : result
    }
    @inlinable func derivative(_ x: Float, _ y: Float) -> Float { 1 - y * y }
    // tanh|x| = -t / (t + 2) with t = e^(-2|x|) - 1 in (-1, 0]: accurate near 0, never overflows.
    @inlinable func value(_ x: SIMD8<Float>) -> SIMD8<Float> {
        let magnitude = x.replacing(with: -x, where: x .< 0)
        let t = simdExpm1(-2 * magnitude)
        let result = -t / (t + 2)
        return result.replacing(with: -result, where: x .< 0)
    }
    @inlinable func derivative(_ x: SIMD8<Float>, _ y: SIMD8<Float>) -> SIMD8<Float> { 1 - y * y }
}

@usableFromInline struct ELUFunction: PointwiseFunction {
    @usableFromInline let alpha: Float
    @usableFromInline init(alpha: Float) { self.alpha = alpha }
    @inlinable func value(_ x: Float) -> Float { x > 0 ? x : alpha * fastExpm1(x) }
    @inlinable func derivative(_ x: Float, _ y: Float) -> Float { x > 0 ? 1 : y + alpha }
    @inlinable func value(_ x: SIMD8<Float>) -> SIMD8<Float> {
        (alpha * simdExpm1(x)).replacing(with: x, where: x .> 0)
    }
    // PyTorch's elu_backward uses alpha·e^x for x <= 0, so the gradient at 0 is alpha. Where
    // x <= 0 the output is y = alpha·(e^x − 1), so alpha·e^x = y + alpha: no exponential needed.
    @inlinable func derivative(_ x: SIMD8<Float>, _ y: SIMD8<Float>) -> SIMD8<Float> {
        (y + alpha).replacing(with: 1, where: x .> 0)
    }
}

@usableFromInline struct SiLUFunction: PointwiseFunction {
    @usableFromInline init() {}
    @inlinable func value(_ x: Float) -> Float { x / (1 + fastExp(-x)) }
    @inlinable func derivative(_ x: Float, _ y: Float) -> Float {
        let s = 1 / (1 + fastExp(-x))
        return s * (1 + x * (1 - s))
    }
    @inlinable func value(_ x: SIMD8<Float>) -> SIMD8<Float> { x / (1 + simdExp(-x)) }
    @inlinable func derivative(_ x: SIMD8<Float>, _ y: SIMD8<Float>) -> SIMD8<Float> {
        let s = 1 / (1 + simdExp(-x))
        return s * (1 + x * (1 - s))
    }
}

@usableFromInline struct SoftplusFunction: PointwiseFunction {
    @usableFromInline let beta: Float
    @usableFromInline let threshold: Float
    @usableFromInline init(beta: Float, threshold: Float) { self.beta = beta; self.threshold = threshold }
    @inlinable func value(_ x: Float) -> Float {
        let z = beta * x
        return z > threshold ? x : ((z < 0 ? 0 : z) + fastLog1pNonNegative(fastExp(-(z < 0 ? -z : z)))) / beta
    }
    @inlinable func derivative(_ x: Float, _ y: Float) -> Float {
        let z = beta * x
        return z > threshold ? 1 : 1 / (1 + fastExp(-z))
    }
    // log(1 + e^z) = max(z, 0) + log1p(e^-|z|): never overflows, and keeps its relative precision
    // for very negative z (where the result is about e^z).
    @inlinable func value(_ x: SIMD8<Float>) -> SIMD8<Float> {
        let z = beta * x
        let magnitude = z.replacing(with: -z, where: z .< 0)
        let positive = z.replacing(with: 0, where: z .< 0)
        let result = (positive + simdLog1pNonNegative(simdExp(-magnitude))) / beta
        return result.replacing(with: x, where: z .> threshold)
    }
    @inlinable func derivative(_ x: SIMD8<Float>, _ y: SIMD8<Float>) -> SIMD8<Float> {
        let z = beta * x
        return (1 / (1 + simdExp(-z))).replacing(with: 1, where: z .> threshold)
    }
}

@usableFromInline struct GELUFunction: PointwiseFunction {
    @usableFromInline init() {}
    @inlinable func value(_ x: Float) -> Float { 0.5 * x * (1 + erff(x * (0.707_106_781_186_547_5 as Float))) }
    @inlinable func derivative(_ x: Float, _ y: Float) -> Float {
        let cdf = 0.5 * (1 + erff(x * (0.707_106_781_186_547_5 as Float)))
        let pdf = expf(-0.5 * x * x) * (0.398_942_280_401_432_7 as Float)
        return cdf + x * pdf
    }
}

@usableFromInline struct GELUTanhFunction: PointwiseFunction {
    @usableFromInline init() {}
    @inlinable func value(_ x: Float) -> Float {
        let k: Float = 0.797_884_560_802_865_4, c: Float = 0.044_715  // sqrt(2 / pi), cubic coefficient
        let inner = k * (x + c * x * x * x)
        return 0.5 * x * (1 + tanhf(inner))
    }
    @inlinable func derivative(_ x: Float, _ y: Float) -> Float {
        let k: Float = 0.797_884_560_802_865_4, c: Float = 0.044_715
        let x2 = x * x
        let t = tanhf(k * (x + c * x2 * x))
        let dInner = k * (1 + 3 * c * x2)
        return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * dInner
    }
}

extension Tensor {
    /// max(x, 0). The gradient at 0 is 0, like PyTorch.
    public func relu() -> Tensor { pointwise("relu", ReLUFunction()) }

    /// Logistic sigmoid 1 / (1 + e^-x), computed without overflow.
    public func sigmoid() -> Tensor { pointwise("sigmoid", SigmoidFunction()) }

    /// Hyperbolic tangent.
    public func tanh() -> Tensor { pointwise("tanh", TanhFunction()) }

    /// ELU: x for x > 0, alpha·(e^x − 1) otherwise (`torch.nn.functional.elu`).
    public func elu(alpha: Float = 1) -> Tensor { pointwise("elu", ELUFunction(alpha: alpha)) }

    /// SiLU (swish): x·sigmoid(x).
    public func silu() -> Tensor { pointwise("silu", SiLUFunction()) }

    /// Softplus: log(1 + e^(beta·x)) / beta, and x itself where beta·x > threshold
    /// (`torch.nn.functional.softplus`).
    public func softplus(beta: Float = 1, threshold: Float = 20) -> Tensor {
        precondition(beta != 0, "softplus: beta must be nonzero")
        return pointwise("softplus", SoftplusFunction(beta: beta, threshold: threshold))
    }

    /// GELU, exact (erf) or with the tanh approximation (`torch.nn.functional.gelu`).
    public func gelu(approximate: GELUApproximation = .none) -> Tensor {
        switch approximate {
        case .none: return pointwise("gelu", GELUFunction())
        case .tanh: return pointwise("gelu_tanh", GELUTanhFunction())
        }
    }
}

#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

// What each derivative reads (the backward pass keeps only that).
extension ReLUFunction { @usableFromInline var derivativeReadsInput: Bool { false } }
extension SigmoidFunction { @usableFromInline var derivativeReadsInput: Bool { false } }
extension TanhFunction { @usableFromInline var derivativeReadsInput: Bool { false } }
// With alpha > 0, y > 0 exactly where x > 0, so the derivative can read y in place of x.
extension ELUFunction { @usableFromInline var derivativeReadsInput: Bool { alpha <= 0 } }
extension SiLUFunction { @usableFromInline var derivativeReadsOutput: Bool { false } }
extension SoftplusFunction { @usableFromInline var derivativeReadsOutput: Bool { false } }
extension GELUFunction { @usableFromInline var derivativeReadsOutput: Bool { false } }
extension GELUTanhFunction { @usableFromInline var derivativeReadsOutput: Bool { false } }
