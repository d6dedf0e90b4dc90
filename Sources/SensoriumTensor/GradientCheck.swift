/// Finite-difference checking of autodiff gradients, for tests of built-in and user-written ops.
public enum GradientCheck {
    /// The largest mismatch found for one input.
    public struct Result: CustomStringConvertible, Sendable {
        /// Index of the input in the list passed to `check`.
        public var input: Int
        /// Largest `|analytic - numeric| / (atol + rtol * |numeric|)`; pass when at most 1.
        public var worstRatio: Double
        /// Flat element index of the worst mismatch.
        public var worstIndex: Int
        public var analytic: Double
        public var numeric: Double
        public var passed: Bool { worstRatio <= 1 }
        public var description: String {
            "input \(input): worst ratio \(worstRatio) at element \(worstIndex) (analytic \(analytic), numeric \(numeric))"
        }
    }

    /// Compares the gradients `backward()` gives for `f(inputs)` with central differences.
    ///
    /// The scalar being differentiated is `sum(f(inputs) * w)` with fixed random weights `w`, so every
    /// output element matters. Inputs are perturbed one element at a time by `epsilon`; the loss is
    /// accumulated in Double.
    /// - Returns: one result per input that requires gradients.
    public static func check(_ inputs: [Tensor], epsilon: Float = 1e-2, atol: Double = 2e-3, rtol: Double = 2e-2,
                             seed: UInt64 = 7, _ f: ([Tensor]) -> Tensor) -> [Result] {
        let probe = withNoGrad { f(inputs) }
        let generator = RandomGenerator(seed: seed)
        let weights = Tensor.randomUniform(probe.shape, low: -1, high: 1, generator: generator)
        func loss() -> Double {
            let out = withNoGrad { f(inputs) }
            var acc = 0.0
            for i in 0..<out.count { acc += Double(out.storage.pointer[i]) * Double(weights.storage.pointer[i]) }
            return acc
        }
        for x in inputs { x.zeroGrad() }
        let out = f(inputs)
        out.backward(weights)
        var results: [Result] = []
        for (k, x) in inputs.enumerated() where x.requiresGrad {
            var worst = Result(input: k, worstRatio: 0, worstIndex: 0, analytic: 0, numeric: 0)
            let analytic = x.grad
            for i in 0..<x.count {
                let saved = x.storage.pointer[i]
                x.storage.pointer[i] = saved + epsilon
                let up = loss()
                x.storage.pointer[i] = saved - epsilon
                let down = loss()
                x.storage.pointer[i] = saved
                let numeric = (up - down) / (2 * Double(epsilon))
                let a = analytic.map { Double($0.storage.pointer[i]) } ?? 0
                let ratio = abs(a - numeric) / (atol + rtol * abs(numeric))
                if ratio > worst.worstRatio || ratio.isNaN {
                    worst = Result(input: k, worstRatio: ratio.isNaN ? .infinity : ratio, worstIndex: i, analytic: a, numeric: numeric)
                }
            }
            results.append(worst)
        }
        return results
    }
}
