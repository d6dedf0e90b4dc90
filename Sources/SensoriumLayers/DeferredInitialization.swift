import SensoriumTensor

/// Building modules without drawing their initial weights, like PyTorch's `meta` device: inside
/// ``run(_:)`` every tensor an ``Initializer`` creates is allocated but not filled (its values are
/// unspecified), and `Tensor.initialize(with:generator:)` does nothing. Pages that are never written
/// are never touched, so a paper-size model costs almost no time or resident memory.
///
/// Use it to inspect a model's structure (keys, shapes, parameter counts) or to build a model whose
/// state is loaded right after (``Module/loadStateDict(_:strict:)`` overwrites every tensor), skipping
/// millions of random draws. Never run a model built this way before loading its state.
public enum DeferredInitialization {
    /// Whether initial draws are currently skipped (true inside ``run(_:)``).
    @TaskLocal public static var isActive = false

    /// Runs `body` with initial draws skipped.
    public static func run<T>(_ body: () throws -> T) rethrows -> T {
        try $isActive.withValue(true, operation: body)
    }
}
