import Foundation

/// A configuration of some registered type of a component family, as a value: what a model
/// configuration holds for its core, readout, shifter, … (`AnyCoreConfiguration` is
/// `Configured<CoreKind>`).
///
/// JSON: the configuration's own keys next to `"type"`, e.g.
/// `{"type": "factorized3d", "hiddenChannels": [16, 32]}`. Decoding looks the type up in
/// `Kind.registry`, lays the given keys over that type's ``ComponentConfiguration/defaults`` (every key is optional), and
/// refuses keys that nothing reads, naming them and the closest known key. Two values are equal
/// when their types and JSON encodings are.
public struct Configured<Kind: ComponentKind>: Codable, Sendable, Equatable, CustomStringConvertible {
    /// The concrete configuration.
    public let configuration: any ComponentConfiguration

    /// Wraps a configuration of the family.
    public init(_ configuration: some ComponentConfiguration) {
        precondition(configuration is Kind.Base,
                     "Configured: \(type(of: configuration)) is not a \(Kind.name) configuration")
        self.configuration = configuration
    }

    init(uncheckedConfiguration configuration: any ComponentConfiguration) {
        self.configuration = configuration
    }

    /// The registered type name.
    public var typeName: String { type(of: configuration).typeName }

    /// The configuration as the family's protocol (to build the component).
    public var base: Kind.Base { configuration as! Kind.Base }

    /// The configuration as a concrete type, or nil when it is another type.
    public func `as`<T: ComponentConfiguration>(_ type: T.Type) -> T? { configuration as? T }

    /// This configuration changed by `body` when it is of type `T` (unchanged otherwise).
    public func updating<T: ComponentConfiguration>(_ type: T.Type, _ body: (inout T) -> Void) -> Configured {
        guard var c = configuration as? T else { return self }
        body(&c)
        return Configured(uncheckedConfiguration: c)
    }

    /// The JSON of the configuration, `"type"` included.
    public var json: JSONValue {
        (try? JSONValue(encoding: self)) ?? .object(["type": .string(typeName)])
    }

    public var description: String {
        let data = (try? JSONEncoder.sortedKeys.encode(self)) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    public static func == (a: Configured, b: Configured) -> Bool {
        a.typeName == b.typeName && a.json == b.json
    }

    private enum TypeKey: String, CodingKey { case type }

    public func encode(to encoder: Encoder) throws {
        try configuration.encode(to: encoder)
        var container = encoder.container(keyedBy: TypeKey.self)
        try container.encode(typeName, forKey: .type)
    }

    public init(from decoder: Decoder) throws {
        let value = try JSONValue(from: decoder)
        guard case .object(var members) = value else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                                                    debugDescription: "a \(Kind.name) must be an object with a \"type\""))
        }
        guard case .string(let name)? = members.removeValue(forKey: "type") else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                                                    debugDescription: "a \(Kind.name) needs a \"type\" (one of \(Kind.registry.typeNames.joined(separator: ", ")))"))
        }
        do {
            self.configuration = try Self.decode(type: try Kind.registry.requireType(named: name), members: members)
        } catch let error as ComponentError {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.description))
        }
    }

    /// Decodes `members` as `type`, every key optional (laid over the type's defaults); keys that
    /// the decoded value does not carry are refused.
    static func decode(type: any ComponentConfiguration.Type, members: [String: JSONValue]) throws -> any ComponentConfiguration {
        let given = JSONValue.object(members)
        let defaults = try JSONValue(encoding: type.defaults)
        let decoded: any ComponentConfiguration
        do {
            decoded = try defaults.merged(with: given).decodeConfiguration(type)
        } catch let error as DecodingError {
            throw ComponentError.invalid(kind: Kind.name, type: type.typeName, message: describeDecodingError(error))
        }
        let known = defaults.merged(with: try JSONValue(encoding: decoded))
        let unknown = given.keys(missingFrom: known)
        if !unknown.isEmpty {
            let names = (known.objectValue ?? [:]).keys.sorted()
            let hints = unknown.compactMap { key in nearest(to: key.split(separator: ".").last.map(String.init) ?? key, in: names).map { "'\(key)' → '\($0)'?" } }
            throw ComponentError.invalid(kind: Kind.name, type: type.typeName,
                                         message: "unknown key\(unknown.count == 1 ? "" : "s") \(unknown.map { "'\($0)'" }.joined(separator: ", "))"
                                             + (hints.isEmpty ? "" : " (\(hints.joined(separator: ", ")))")
                                             + "; known: \(names.joined(separator: ", "))")
        }
        return decoded
    }
}

extension JSONValue {
    /// Decodes a configuration type (opened existential).
    func decodeConfiguration(_ type: any ComponentConfiguration.Type) throws -> any ComponentConfiguration {
        func open<T: ComponentConfiguration>(_ t: T.Type) throws -> T { try decode(T.self) }
        return try open(type)
    }
}

extension JSONEncoder {
    /// An encoder with sorted keys (stable JSON for checkpoints and comparisons).
    static var sortedKeys: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }
}

/// A readable message for a decoding error: the key path and what went wrong.
public func describeDecodingError(_ error: DecodingError) -> String {
    func path(_ keys: [CodingKey]) -> String {
        keys.isEmpty ? "the top level" : keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
    }
    switch error {
    case .typeMismatch(let type, let context):
        return "\(path(context.codingPath)): expected \(type). \(context.debugDescription)"
    case .valueNotFound(let type, let context):
        return "\(path(context.codingPath)): missing \(type). \(context.debugDescription)"
    case .keyNotFound(let key, let context):
        return "\(path(context.codingPath + [key])): missing key"
    case .dataCorrupted(let context):
        return "\(path(context.codingPath)): \(context.debugDescription)"
    @unknown default:
        return "\(error)"
    }
}
