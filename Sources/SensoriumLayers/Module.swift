import SensoriumTensor

// MARK: - Property wrappers that steer discovery

/// Marks a tensor property of a ``Module`` as a **buffer**: state that is saved and loaded with the
/// module (it appears in ``Module/stateDict()``) but is not a trainable parameter, such as BatchNorm's
/// `running_mean`, `running_var` and `num_batches_tracked`, or a fixed filter.
///
/// ```swift
/// final class Normalizer: Module {
///     @Buffer var mean: Tensor          // saved, never optimised
///     let scale: Tensor                 // a parameter
/// }
/// ```
/// Works on `Tensor`, `Tensor?` and `[Tensor]` properties.
@propertyWrapper
public struct Buffer<Value: BufferValue> {
    /// The wrapped tensor(s).
    public var wrappedValue: Value
    /// Wraps `wrappedValue`.
    public init(wrappedValue: Value) { self.wrappedValue = wrappedValue }
}

/// The property types ``Buffer`` accepts: `Tensor`, `Tensor?` and `[Tensor]`.
public protocol BufferValue {}
extension Tensor: BufferValue {}
extension Optional: BufferValue where Wrapped == Tensor {}
extension Array: BufferValue where Element == Tensor {}

/// Hides a property of a ``Module`` from discovery: it is neither a parameter, a buffer nor a
/// submodule, and it is not part of the state dictionary. Use it for caches, back-references to a
/// parent module, or modules shared with another owner that should be saved only once.
@propertyWrapper
public struct Transient<Value> {
    /// The wrapped value.
    public var wrappedValue: Value
    /// Wraps `wrappedValue`.
    public init(wrappedValue: Value) { self.wrappedValue = wrappedValue }
}

/// Lets discovery see through ``Buffer`` and ``Transient`` without knowing their generic argument.
private protocol DiscoveryWrapper {
    var discoveredValue: Any { get }
    var isBuffer: Bool { get }
}
extension Buffer: DiscoveryWrapper {
    fileprivate var discoveredValue: Any { wrappedValue }
    fileprivate var isBuffer: Bool { true }
}
extension Transient: DiscoveryWrapper {
    fileprivate var discoveredValue: Any { wrappedValue }
    fileprivate var isBuffer: Bool { false }
}

// MARK: - Module

/// One direct entry of a module: a trainable parameter, a buffer, or a submodule.
public enum ModuleItem {
    /// A tensor optimised by training (unless frozen, i.e. `requiresGrad == false`).
    case parameter(Tensor)
    /// A tensor saved with the module but never optimised (running statistics, fixed filters).
    case buffer(Tensor)
    /// A child module; its own items appear under `key.` in dotted paths.
    case module(Module)
}

/// The base class of every layer and model: it finds parameters, buffers and submodules, names
/// them with dotted paths that match PyTorch `state_dict()` keys, switches between training and
/// evaluation mode, freezes parameters, and saves and loads state dictionaries.
///
/// ## How contents are found
/// By default a module's direct items are discovered by **reflection** (`Mirror`) over its stored
/// properties, superclass properties first, then in declaration order:
/// - `Tensor` and non-nil `Tensor?` properties are **parameters**;
/// - properties marked ``Buffer`` (`@Buffer var runningMean: Tensor`) are **buffers**;
/// - `Module` and non-nil `Module?` properties are **submodules**;
/// - `[Module]` / `[Tensor]` become children `"name.0"`, `"name.1"`, … (PyTorch `ModuleList` /
///   `ParameterList`), and `[String: Module]` / `[String: Tensor]` become `"name.<key>"` in sorted
///   key order (PyTorch `ModuleDict` / `ParameterDict`);
/// - everything else, and anything marked ``Transient``, is ignored.
///
/// The walk is repeated on every call rather than cached, so reassigning a property
/// (`layer.bias = nil`, `model.readout = NewReadout()`) is always seen; there are no stale caches
/// and no rules about when properties may change. A walk costs microseconds per module, which is
/// negligible next to a forward pass.
///
/// ## Keys
/// The key of a property is its Swift name, so that `weight`, `bias` and most submodule names read
/// the same as in PyTorch. Where Swift naming differs from the PyTorch key (camel case vs. snake
/// case), a class lists its renames once in ``keyOverrides``:
/// ```swift
/// override class var keyOverrides: [String: String] {
///     ["runningMean": "running_mean", "runningVar": "running_var"]
/// }
/// ```
/// Containers whose children have computed names (``Sequential``, with `"0"`, `"1"`, … or
/// `"layer0"`, …) instead override ``directItems()``; this is also the explicit registration API
/// for any module that prefers listing its contents by hand to reflection.
///
/// ## Training mode
/// Modules start in training mode. ``train(_:)`` and ``eval()`` set ``isTraining`` on the module
/// and every submodule; layers such as BatchNorm and Dropout read it in their forward pass.
///
/// ## Freezing
/// A parameter is trainable while its `requiresGrad` is `true`. ``freeze(prefix:)`` and
/// ``unfreeze(prefix:)`` flip it for every parameter under a dotted path prefix.
///
/// ## State dictionaries
/// ``stateDict()`` returns copies of all parameters and buffers keyed by dotted path.
/// ``loadStateDict(_:strict:)`` checks every key and shape first and copies values into the existing
/// tensors only when everything fits, so a failed load leaves the module unchanged.
open class Module: CustomStringConvertible {
    /// Whether the module is in training mode (the default) rather than evaluation mode.
    public private(set) var isTraining: Bool = true

    /// Creates a module in training mode.
    public init() {}

    /// Renames from Swift property names to state-dictionary keys, for properties whose PyTorch key
    /// differs from the Swift name. A subclass of a class that has overrides should merge its own
    /// into `super.keyOverrides`.
    open class var keyOverrides: [String: String] { [:] }

    /// The direct parameters, buffers and submodules with their keys, in a stable order.
    ///
    /// The default implementation reflects over stored properties (see the class documentation).
    /// Override it to register contents explicitly, for example when child names are computed.
    open func directItems() -> [(key: String, item: ModuleItem)] {
        reflectedItems()
    }

    /// The items found by reflection; available to overrides of ``directItems()`` that want to add
    /// to the reflected contents rather than replace them.
    public final func reflectedItems() -> [(key: String, item: ModuleItem)] {
        var mirrors: [Mirror] = []
        var next: Mirror? = Mirror(reflecting: self)
        while let mirror = next {
            mirrors.append(mirror)
            next = mirror.superclassMirror
        }
        let overrides = type(of: self).keyOverrides
        var items: [(key: String, item: ModuleItem)] = []
        for mirror in mirrors.reversed() {
            for child in mirror.children {
                guard var label = child.label, !label.hasPrefix("$") else { continue }
                var value = child.value
                var isBuffer = false
                if let wrapper = value as? DiscoveryWrapper {
                    if !wrapper.isBuffer { continue }  // @Transient
                    isBuffer = true
                    value = wrapper.discoveredValue
                    if label.hasPrefix("_") { label.removeFirst() }
                }
                let key = overrides[label] ?? label
                Module.classify(value, key: key, isBuffer: isBuffer, into: &items)
            }
        }
        return items
    }

    private static func classify(_ value: Any, key: String, isBuffer: Bool,
                                 into items: inout [(key: String, item: ModuleItem)]) {
        if let tensor = value as? Tensor {
            items.append((key, isBuffer ? .buffer(tensor) : .parameter(tensor)))
        } else if let module = value as? Module {
            if !isBuffer { items.append((key, .module(module))) }
        } else if let tensors = value as? [Tensor] {
            for (i, t) in tensors.enumerated() {
                items.append(("\(key).\(i)", isBuffer ? .buffer(t) : .parameter(t)))
            }
        } else if let modules = value as? [Module] {
            for (i, m) in modules.enumerated() { items.append(("\(key).\(i)", .module(m))) }
        } else if let tensors = value as? [String: Tensor] {
            for name in tensors.keys.sorted() {
                items.append(("\(key).\(name)", isBuffer ? .buffer(tensors[name]!) : .parameter(tensors[name]!)))
            }
        } else if let modules = value as? [String: Module] {
            for name in modules.keys.sorted() { items.append(("\(key).\(name)", .module(modules[name]!))) }
        }
    }

    // MARK: Traversal

    /// Calls `visit(path, item)` for every item in the tree, depth first in ``directItems()`` order.
    /// Paths are dotted (`"features.layer0.conv.weight"`). A module reached again through a cycle
    /// (for example a back-reference to an ancestor) is skipped.
    public final func walk(_ visit: (_ path: String, _ item: ModuleItem) -> Void) {
        var ancestors: Set<ObjectIdentifier> = [ObjectIdentifier(self)]
        walk(prefix: "", ancestors: &ancestors, visit)
    }

    private func walk(prefix: String, ancestors: inout Set<ObjectIdentifier>,
                      _ visit: (String, ModuleItem) -> Void) {
        for (key, item) in directItems() {
            let path = prefix.isEmpty ? key : prefix + "." + key
            if case .module(let child) = item {
                guard ancestors.insert(ObjectIdentifier(child)).inserted else { continue }
                visit(path, item)
                child.walk(prefix: path, ancestors: &ancestors, visit)
                ancestors.remove(ObjectIdentifier(child))
            } else {
                visit(path, item)
            }
        }
    }

    /// The direct submodules with their keys.
    public final func namedChildren() -> [(key: String, module: Module)] {
        directItems().compactMap { entry in
            if case .module(let m) = entry.item { return (entry.key, m) }
            return nil
        }
    }

    /// This module (path `""`) and every submodule, depth first, each once.
    public final func namedModules() -> [(path: String, module: Module)] {
        var out: [(path: String, module: Module)] = [("", self)]
        var seen: Set<ObjectIdentifier> = [ObjectIdentifier(self)]
        walk { path, item in
            if case .module(let m) = item, seen.insert(ObjectIdentifier(m)).inserted { out.append((path, m)) }
        }
        return out
    }

    /// This module and every submodule, each once.
    public final func modules() -> [Module] { namedModules().map(\.module) }

    /// Every parameter with its dotted path, in a stable order; a tensor shared under several paths
    /// is listed once, under the first.
    public final func namedParameters() -> [(path: String, tensor: Tensor)] {
        var out: [(path: String, tensor: Tensor)] = []
        var seen = Set<ObjectIdentifier>()
        walk { path, item in
            if case .parameter(let t) = item, seen.insert(ObjectIdentifier(t)).inserted { out.append((path, t)) }
        }
        return out
    }

    /// Every parameter, each once, in ``namedParameters()`` order.
    public final func parameters() -> [Tensor] { namedParameters().map(\.tensor) }

    /// The parameters that are not frozen (`requiresGrad == true`), with their paths.
    public final func namedTrainableParameters() -> [(path: String, tensor: Tensor)] {
        namedParameters().filter { $0.tensor.requiresGrad }
    }

    /// The parameters that are not frozen, each once.
    public final func trainableParameters() -> [Tensor] { namedTrainableParameters().map(\.tensor) }

    /// Every buffer with its dotted path; a shared tensor is listed once.
    public final func namedBuffers() -> [(path: String, tensor: Tensor)] {
        var out: [(path: String, tensor: Tensor)] = []
        var seen = Set<ObjectIdentifier>()
        walk { path, item in
            if case .buffer(let t) = item, seen.insert(ObjectIdentifier(t)).inserted { out.append((path, t)) }
        }
        return out
    }

    /// Every buffer, each once.
    public final func buffers() -> [Tensor] { namedBuffers().map(\.tensor) }

    /// Number of scalars in all parameters (frozen ones included), counting shared tensors once.
    public final var parameterCount: Int { parameters().reduce(0) { $0 + $1.count } }

    /// Number of scalars in the trainable parameters.
    public final var trainableParameterCount: Int { trainableParameters().reduce(0) { $0 + $1.count } }

    /// Calls `body` on this module and every submodule (each once), parents before children.
    public final func apply(_ body: (Module) -> Void) {
        for m in modules() { body(m) }
    }

    /// Clears the accumulated gradient of every parameter.
    public final func zeroGrad() {
        for p in parameters() { p.grad = nil }
    }

    // MARK: Training mode

    /// Sets training mode (`true`) or evaluation mode (`false`) on this module and all submodules.
    public final func train(_ mode: Bool = true) {
        apply { $0.isTraining = mode }
    }

    /// Switches this module and all submodules to evaluation mode (same as `train(false)`).
    public final func eval() { train(false) }

    // MARK: Freezing

    /// Whether `path` lies under `prefix` (whole dotted components; an empty prefix matches all).
    static func path(_ path: String, isUnder prefix: String) -> Bool {
        prefix.isEmpty || path == prefix || path.hasPrefix(prefix + ".")
    }

    /// Freezes (`requiresGrad = false`) every parameter under the dotted `prefix`
    /// (`"features.layer0"` covers `"features.layer0.conv.weight"` but not `"features.layer01.…"`);
    /// all parameters when `prefix` is empty.
    /// - Returns: the paths that matched; empty when the prefix names nothing.
    @discardableResult
    public final func freeze(prefix: String = "") -> [String] { setRequiresGrad(false, prefix: prefix) }

    /// Makes every parameter under `prefix` trainable again (all when empty).
    /// - Returns: the paths that matched.
    @discardableResult
    public final func unfreeze(prefix: String = "") -> [String] { setRequiresGrad(true, prefix: prefix) }

    private func setRequiresGrad(_ flag: Bool, prefix: String) -> [String] {
        var matched: [String] = []
        for (path, t) in namedParameters() where Module.path(path, isUnder: prefix) {
            t.requiresGrad = flag
            matched.append(path)
        }
        return matched
    }

    // MARK: State dictionaries

    /// Every parameter and buffer keyed by dotted path, as copies (a snapshot that later training
    /// does not change). Shared tensors appear under each of their paths, as in PyTorch.
    public final func stateDict() -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        walk { path, item in
            switch item {
            case .parameter(let t), .buffer(let t): out[path] = t.copy()
            case .module: break
            }
        }
        return out
    }

    /// The live parameter and buffer tensors keyed by dotted path (no copies).
    public final func namedStateTensors() -> [(path: String, tensor: Tensor)] {
        var out: [(path: String, tensor: Tensor)] = []
        walk { path, item in
            switch item {
            case .parameter(let t), .buffer(let t): out.append((path, t))
            case .module: break
            }
        }
        return out
    }

    /// Copies the values of `state` into this module's parameters and buffers.
    ///
    /// Everything is checked before anything is written: when any check fails, the module is left
    /// unchanged and ``ComponentError/stateDictionary(_:)`` lists every problem at once.
    /// - Parameters:
    ///   - state: tensors keyed by dotted path (PyTorch `state_dict` keys).
    ///   - strict: when `true` (the default), keys the module has but `state` lacks, and keys in
    ///     `state` the module does not have, are errors; when `false` they are ignored. Shape
    ///     mismatches are always errors.
    public final func loadStateDict(_ state: [String: Tensor], strict: Bool = true) throws(ComponentError) {
        let targets = namedStateTensors()
        var missing: [String] = []
        var mismatches: [StateDictionaryProblems.ShapeMismatch] = []
        var known = Set<String>()
        for (path, tensor) in targets {
            known.insert(path)
            guard let value = state[path] else { missing.append(path); continue }
            if value.shape != tensor.shape {
                mismatches.append(.init(key: path, expected: tensor.shape, found: value.shape))
            }
        }
        let unexpected = state.keys.filter { !known.contains($0) }.sorted()
        let problems = StateDictionaryProblems(missingKeys: strict ? missing : [], unexpectedKeys: strict ? unexpected : [],
                                               shapeMismatches: mismatches)
        if !problems.missingKeys.isEmpty || !problems.unexpectedKeys.isEmpty || !problems.shapeMismatches.isEmpty {
            throw .stateDictionary(problems)
        }
        for (path, tensor) in targets {
            guard let value = state[path], value !== tensor else { continue }
            tensor.assign(value)
        }
    }

    // MARK: Printing

    /// A one-line summary of the module's configuration, shown after its type name when printing
    /// (for example `"3 -> 8, bias: true"`). Empty by default.
    open var extraDescription: String { "" }

    /// A PyTorch-like tree of the module and its submodules.
    public var description: String { describe(indent: 0) }

    private func describe(indent: Int) -> String {
        let name = String(describing: type(of: self))
        let head = extraDescription.isEmpty ? name : "\(name)(\(extraDescription))"
        let children = namedChildren()
        if children.isEmpty { return head }
        let pad = String(repeating: "  ", count: indent + 1)
        var lines = [head + " {"]
        for (key, child) in children { lines.append("\(pad)\(key): \(child.describe(indent: indent + 1))") }
        lines.append(String(repeating: "  ", count: indent) + "}")
        return lines.joined(separator: "\n")
    }
}

/// What went wrong when loading a state dictionary (the payload of
/// ``ComponentError/stateDictionary(_:)``); every problem is listed, not only the first.
public struct StateDictionaryProblems: Equatable, Sendable, CustomStringConvertible {
    /// A key present on both sides with different shapes.
    public struct ShapeMismatch: Equatable, Sendable {
        /// The dotted key.
        public var key: String
        /// The shape of the module's tensor.
        public var expected: [Int]
        /// The shape of the tensor in the state dictionary.
        public var found: [Int]

        public init(key: String, expected: [Int], found: [Int]) {
            self.key = key
            self.expected = expected
            self.found = found
        }
    }

    /// Keys of the module that the state dictionary lacks (sorted in module order).
    public var missingKeys: [String]
    /// Keys of the state dictionary the module does not have (sorted).
    public var unexpectedKeys: [String]
    /// Keys whose shapes differ.
    public var shapeMismatches: [ShapeMismatch]

    public init(missingKeys: [String], unexpectedKeys: [String], shapeMismatches: [ShapeMismatch]) {
        self.missingKeys = missingKeys
        self.unexpectedKeys = unexpectedKeys
        self.shapeMismatches = shapeMismatches
    }

    public var description: String {
        var parts: [String] = []
        if !missingKeys.isEmpty { parts.append("missing keys: \(missingKeys.joined(separator: ", "))") }
        if !unexpectedKeys.isEmpty { parts.append("unexpected keys: \(unexpectedKeys.joined(separator: ", "))") }
        for m in shapeMismatches {
            parts.append("shape mismatch for \(m.key): the module has \(m.expected), the state dictionary has \(m.found)")
        }
        return "loadStateDict failed: " + parts.joined(separator: "; ")
    }
}

// MARK: - Layer protocol

/// A module with one tensor input and one tensor output; what ``Sequential`` composes.
public protocol UnaryLayer: Module {
    /// The forward pass.
    func callAsFunction(_ x: Tensor) -> Tensor
}
