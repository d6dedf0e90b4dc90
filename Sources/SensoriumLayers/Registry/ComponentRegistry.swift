import Foundation

/// The one configuration of a component (a core, a readout, a shifter, …): named by ``typeName``
/// in configuration files and checkpoints, and the single home of the component's defaults
/// (``defaults``, usually `Self()`). The component's initialiser takes it.
///
/// A configuration decodes with every key optional when it is read through the registry (inside
/// a ``Configured`` value): the keys given are laid over `init()`, and a key that nothing reads
/// is an error naming it. Write the type with plain stored properties and synthesized `Codable`.
public protocol ComponentConfiguration: Codable, Sendable {
    /// The `"type"` of the component in JSON (unique within its family).
    static var typeName: String { get }
    /// The defaults (write `public static var defaults: Self { Self() }`).
    static var defaults: Self { get }
}

/// A family of components: cores, readouts, shifters, output nonlinearities, core-to-readout
/// stages, … Each family is a caseless enum naming the protocol its configurations conform to
/// (``Base``) and holding its ``ComponentRegistry``.
public protocol ComponentKind: Sendable {
    /// The existential of the family's configuration protocol, e.g. `any CoreConfiguration`.
    associatedtype Base
    /// The family's name in messages ("core").
    static var name: String { get }
    /// The registered types of the family.
    static var registry: ComponentRegistry<Self> { get }
}

/// The configuration types of one component family, by ``ComponentConfiguration/typeName``.
///
/// The SDK registers its built-in components; a user registers their own in one line, after which
/// the component works everywhere a built-in one does (configuration files, checkpoints, the CLI):
/// ```swift
/// CoreKind.registry.register(MyCore.Configuration.self)
/// ```
/// Thread-safe.
public final class ComponentRegistry<Kind: ComponentKind>: @unchecked Sendable {
    private let lock = NSLock()
    private var types: [String: any ComponentConfiguration.Type] = [:]
    private var order: [String] = []

    /// A registry holding `builtIns`.
    public init(builtIns: [any ComponentConfiguration.Type] = []) {
        for type in builtIns { register(type) }
    }

    /// Registers a configuration type under its ``ComponentConfiguration/typeName``. Registering
    /// the same type again does nothing; another type under a taken name, or a type that does not
    /// conform to the family's protocol, is a programmer error.
    public func register(_ type: any ComponentConfiguration.Type) {
        precondition(type.defaults is Kind.Base,
                     "ComponentRegistry: \(type) is not a \(Kind.name) configuration (it must conform to \(Kind.Base.self))")
        lock.lock()
        defer { lock.unlock() }
        let name = type.typeName
        if let existing = types[name] {
            precondition(existing == type, "ComponentRegistry: the \(Kind.name) type name '\(name)' is taken by \(existing); \(type) needs another")
            return
        }
        types[name] = type
        order.append(name)
    }

    /// The registered type names, in registration order (built-ins first).
    public var typeNames: [String] {
        lock.lock()
        defer { lock.unlock() }
        return order
    }

    /// The type registered under `name`, or nil.
    public func type(named name: String) -> (any ComponentConfiguration.Type)? {
        lock.lock()
        defer { lock.unlock() }
        return types[name]
    }

    /// The type registered under `name`; an error listing the known names otherwise.
    public func requireType(named name: String) throws -> any ComponentConfiguration.Type {
        guard let type = type(named: name) else {
            throw ComponentError.unknownType(kind: Kind.name, name: name, known: typeNames)
        }
        return type
    }

    /// The default configuration of the type registered under `name`.
    public func defaults(type name: String) throws -> Configured<Kind> {
        let type = try requireType(named: name)
        return Configured<Kind>(uncheckedConfiguration: type.defaults)
    }
}

/// The one error type of `SensoriumLayers`: a component configuration that cannot be used, or a
/// state dictionary that does not fit a module.
public enum ComponentError: Error, CustomStringConvertible, Equatable {
    /// No type of that name is registered in the family.
    case unknownType(kind: String, name: String, known: [String])
    /// A configuration could not be read: the path and what is wrong.
    case invalid(kind: String, type: String, message: String)
    /// A state dictionary that does not fit a module (``Module/loadStateDict(_:strict:)``).
    case stateDictionary(StateDictionaryProblems)

    public var description: String {
        switch self {
        case .unknownType(let kind, let name, let known):
            let hint = nearest(to: name, in: known).map { " (did you mean '\($0)'?)" } ?? ""
            return "unknown \(kind) type '\(name)'\(hint); known: \(known.joined(separator: ", "))"
        case .invalid(let kind, let type, let message):
            return "\(kind) '\(type)': \(message)"
        case .stateDictionary(let problems):
            return problems.description
        }
    }
}

/// The candidate closest to `word` by edit distance, when it is close enough to be a typo.
public func nearest(to word: String, in candidates: [String]) -> String? {
    func distance(_ a: [Character], _ b: [Character]) -> Int {
        var previous = Array(0...b.count)
        for (i, ca) in a.enumerated() {
            var current = [i + 1] + [Int](repeating: 0, count: b.count)
            for (j, cb) in b.enumerated() {
                current[j + 1] = min(previous[j + 1] + 1, current[j] + 1, previous[j] + (ca == cb ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }
    let lowered = Array(word.lowercased())
    let scored = candidates.map { ($0, distance(lowered, Array($0.lowercased()))) }
    guard let best = scored.min(by: { $0.1 < $1.1 }), best.1 <= max(2, word.count / 3) else { return nil }
    return best.0
}
