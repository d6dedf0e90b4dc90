import Testing
import SensoriumTensor

/// Records an issue for every element of `actual` farther than `atol + rtol * |expected|` from
/// `expected` (NaN matches NaN, infinities match themselves).
public func expectClose(_ actual: [Float], _ expected: [Float], atol: Float = 1e-5, rtol: Float = 1e-4,
                        _ label: String = "", sourceLocation: SourceLocation = #_sourceLocation) {
    let prefix = label.isEmpty ? "" : "\(label): "
    #expect(actual.count == expected.count, "\(prefix)\(actual.count) elements, expected \(expected.count)",
            sourceLocation: sourceLocation)
    for (i, (a, e)) in zip(actual, expected).enumerated() {
        let ok = (a.isNaN && e.isNaN) || a == e || Swift.abs(a - e) <= atol + rtol * Swift.abs(e)
        if !ok {
            Issue.record("\(prefix)element \(i) is \(a), expected \(e)", sourceLocation: sourceLocation)
        }
    }
}

/// Element-wise closeness of a tensor's scalars to `expected` (see the array form).
public func expectClose(_ actual: Tensor, _ expected: [Float], atol: Float = 1e-5, rtol: Float = 1e-4,
                        _ label: String = "", sourceLocation: SourceLocation = #_sourceLocation) {
    expectClose(actual.scalars, expected, atol: atol, rtol: rtol, label, sourceLocation: sourceLocation)
}

/// Checks the autodiff gradients of `f` against central finite differences for every input that
/// requires gradients.
public func expectGradients(_ inputs: [Tensor], epsilon: Float = 1e-2, sourceLocation: SourceLocation = #_sourceLocation,
                            _ f: ([Tensor]) -> Tensor) {
    let results = GradientCheck.check(inputs, epsilon: epsilon, f)
    #expect(results.count == inputs.filter(\.requiresGrad).count, sourceLocation: sourceLocation)
    for r in results { #expect(r.passed, "\(r)", sourceLocation: sourceLocation) }
}
