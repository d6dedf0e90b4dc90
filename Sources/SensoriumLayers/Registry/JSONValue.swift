import Foundation

/// A JSON value, decoded from any `Decoder` and encodable to any `Encoder`: what the component
/// registry uses to read a configuration whose keys are all optional (the given keys laid over the
/// component's defaults) and to find keys nobody understood.
///
/// Integers keep their exact value (`Int64`, or `UInt64` above `Int64.max`); other numbers are `Double`.
public enum JSONValue: Codable, Sendable, Equatable {
    case null
    case bool(Bool)
    case int(Int64)
    case unsigned(UInt64)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public init(from decoder: Decoder) throws {
        if var array = try? decoder.unkeyedContainer() {
            var values: [JSONValue] = []
            while !array.isAtEnd { values.append(try array.decode(JSONValue.self)) }
            self = .array(values)
            return
        }
        if let object = try? decoder.container(keyedBy: AnyKey.self) {
            var values: [String: JSONValue] = [:]
            for key in object.allKeys { values[key.stringValue] = try object.decode(JSONValue.self, forKey: key) }
            self = .object(values)
            return
        }
        let single = try decoder.singleValueContainer()
        if single.decodeNil() { self = .null; return }
        if let b = try? single.decode(Bool.self) { self = .bool(b); return }
        if let i = try? single.decode(Int64.self) { self = .int(i); return }
        if let u = try? single.decode(UInt64.self) { self = .unsigned(u); return }
        if let d = try? single.decode(Double.self) { self = .double(d); return }
        if let s = try? single.decode(String.self) { self = .string(s); return }
        throw DecodingError.dataCorruptedError(in: single, debugDescription: "not a JSON value")
    }

    public func encode(to encoder: Encoder) throws {
        switch self {
        case .null:
            var c = encoder.singleValueContainer()
            try c.encodeNil()
        case .bool(let v):
            var c = encoder.singleValueContainer()
            try c.encode(v)
        case .int(let v):
            var c = encoder.singleValueContainer()
            try c.encode(v)
        case .unsigned(let v):
            var c = encoder.singleValueContainer()
            try c.encode(v)
        case .double(let v):
            var c = encoder.singleValueContainer()
            try c.encode(v)
        case .string(let v):
            var c = encoder.singleValueContainer()
            try c.encode(v)
        case .array(let values):
            var c = encoder.unkeyedContainer()
            for v in values { try c.encode(v) }
        case .object(let values):
            var c = encoder.container(keyedBy: AnyKey.self)
            for (k, v) in values { try c.encode(v, forKey: AnyKey(k)) }
        }
    }

    /// The value of any `Encodable`, through `JSONEncoder` (non-finite numbers as the strings
    /// "inf", "-inf" and "nan").
    public init(encoding value: some Encodable) throws {
        let encoder = JSONEncoder()
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        self = try JSONDecoder().decode(JSONValue.self, from: encoder.encode(value))
    }

    /// Decodes a `Decodable` from this value, through `JSONDecoder` (reading "inf", "-inf" and
    /// "nan" as numbers where numbers are expected).
    public func decode<T: Decodable>(_ type: T.Type) throws -> T {
        do {
            return try decodeAsJSON(T.self)
        } catch DecodingError.dataCorrupted(let context) where context.codingPath.isEmpty {
            // Foundation reports a number that does not fit the integer asked for (1.5, 1e300,
            // 2^63) as "not valid JSON" without a key: replace such numbers by integers one after
            // the other; the one whose replacement makes that error go away is a culprit: name its key.
            var probe = self
            for (path, number) in numbersThatAreNotInts() {
                probe = probe.replacingValue(at: path[...], with: .int(0))
                do {
                    _ = try probe.decodeAsJSON(T.self)
                } catch DecodingError.dataCorrupted(let again) where again.codingPath.isEmpty {
                    continue
                } catch {}
                throw DecodingError.dataCorrupted(.init(codingPath: path.map(AnyKey.init),
                                                        debugDescription: "expected an integer, found \(number)"))
            }
            throw DecodingError.dataCorrupted(context)
        }
    }

    private func decodeAsJSON<T: Decodable>(_ type: T.Type) throws -> T {
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return try decoder.decode(T.self, from: JSONEncoder().encode(self))
    }

    /// The numbers of the tree that no `Int` holds (fractions, magnitudes ≥ 2^63), with their
    /// paths (array elements as their index), in key order.
    private func numbersThatAreNotInts(prefix: [String] = []) -> [(path: [String], number: String)] {
        switch self {
        case .double(let d) where Int(exactly: d) == nil: return [(prefix, "\(d)")]
        case .unsigned(let u) where Int(exactly: u) == nil: return [(prefix, "\(u)")]
        case .array(let values):
            return values.enumerated().flatMap { $1.numbersThatAreNotInts(prefix: prefix + ["\($0)"]) }
        case .object(let members):
            return members.keys.sorted().flatMap { members[$0]!.numbersThatAreNotInts(prefix: prefix + [$0]) }
        default: return []
        }
    }

    /// The tree with the value at `path` (keys, or array indices as text) replaced.
    private func replacingValue(at path: ArraySlice<String>, with value: JSONValue) -> JSONValue {
        guard let first = path.first else { return value }
        switch self {
        case .object(var members):
            members[first] = members[first]?.replacingValue(at: path.dropFirst(), with: value)
            return .object(members)
        case .array(var values):
            guard let i = Int(first), values.indices.contains(i) else { return self }
            values[i] = values[i].replacingValue(at: path.dropFirst(), with: value)
            return .array(values)
        default: return self
        }
    }

    /// Decodes `T` from this value the one way the SDK reads configurations: the given members
    /// laid over `defaults` (so every key is optional), then every given key that the decoded
    /// value does not carry refused with the nearest known key. `what` names the configuration in
    /// errors.
    public func decodeOverDefaults<T: Codable>(_ type: T.Type, defaults: T, what: String) throws -> T {
        let base = try JSONValue(encoding: defaults)
        let decoded: T
        do {
            decoded = try base.merged(with: self).decode(T.self)
        } catch let error as DecodingError {
            throw ComponentError.invalid(kind: what, type: String(describing: T.self),
                                         message: describeDecodingError(error) + untypedSectionNote(base: base, error: error))
        }
        let known = base.merged(with: try JSONValue(encoding: decoded))
        let unknown = keys(missingFrom: known)
        if !unknown.isEmpty {
            let names = (known.objectValue ?? [:]).keys.sorted()
            let hints = unknown.compactMap { key -> String? in
                // The known keys of the object the unknown key sits in.
                let parts = key.split(separator: ".").map(String.init)
                var object = known
                for part in parts.dropLast() { object = object.objectValue?[part] ?? .null }
                let siblings = (object.objectValue ?? [:]).keys.sorted()
                return nearest(to: parts.last ?? key, in: siblings).map { "'\(key)' → '\($0)'?" }
            }
            throw ComponentError.invalid(kind: what, type: String(describing: T.self),
                                         message: "unknown key\(unknown.count == 1 ? "" : "s") \(unknown.map { "'\($0)'" }.joined(separator: ", "))"
                                             + (hints.isEmpty ? "" : " (\(hints.joined(separator: ", ")))")
                                             + "; known: \(names.joined(separator: ", "))")
        }
        return decoded
    }

    /// When `error` arose inside a component section of `self` written without `"type"` (so laid
    /// over `base`'s default component), a note saying which type it was read as: its keys may
    /// have been meant for another type.
    private func untypedSectionNote(base: JSONValue, error: DecodingError) -> String {
        let context: DecodingError.Context
        switch error {
        case .typeMismatch(_, let c), .valueNotFound(_, let c), .keyNotFound(_, let c), .dataCorrupted(let c): context = c
        @unknown default: return ""
        }
        var mine = self, theirs = base, section: [String] = []
        for key in context.codingPath.map(\.stringValue) {
            guard let nextMine = mine.objectValue?[key], let nextTheirs = theirs.objectValue?[key] else { break }
            mine = nextMine; theirs = nextTheirs; section.append(key)
            if case .string(let defaultType)? = theirs.objectValue?["type"], mine.objectValue?["type"] == nil {
                return "; '\(section.joined(separator: "."))' has no \"type\", so it was read as the default type '\(defaultType)'"
            }
        }
        return ""
    }

    /// The members of an object (nil for other values).
    public var objectValue: [String: JSONValue]? {
        if case .object(let o) = self { return o }
        return nil
    }

    /// `overlay` laid over `self`: objects merge key by key (recursively); any other value
    /// (`null` included) replaces. An object naming another `"type"` than the base's (another
    /// component), or a one-member object whose member differs from the base's single member (an
    /// enum case, `{"relu": {}}` over `{"elu": {}}`), replaces the base.
    public func merged(with overlay: JSONValue) -> JSONValue {
        guard case .object(var base) = self, case .object(let top) = overlay else { return overlay }
        if base.count == 1, top.count == 1, base.keys.first != top.keys.first { return overlay }
        if let type = top["type"], let baseType = base["type"], type != baseType { return overlay }
        for (key, value) in top {
            base[key] = base[key].map { $0.merged(with: value) } ?? value
        }
        return .object(base)
    }

    /// The dotted paths of every object member in `self` that `other` lacks (recursing into
    /// objects both have; `null` members ignored).
    public func keys(missingFrom other: JSONValue, prefix: String = "") -> [String] {
        guard case .object(let mine) = self else { return [] }
        let theirs = other.objectValue ?? [:]
        var missing: [String] = []
        for (key, value) in mine where value != .null {
            let path = prefix.isEmpty ? key : "\(prefix).\(key)"
            if let counterpart = theirs[key] {
                missing += value.keys(missingFrom: counterpart, prefix: path)
            } else {
                missing.append(path)
            }
        }
        return missing.sorted()
    }
}

/// A coding key of any name.
struct AnyKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(_ string: String) { stringValue = string }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { return nil }
}

/// The text of a configuration file; nil and a message naming the problem when the path holds
/// nothing, a folder, or text that is not UTF-8 (each product wraps the message in its own error).
public func readConfigurationFile(_ url: URL) -> (text: String?, problem: String?) {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
        return (nil, "expected a JSON configuration file, found nothing")
    }
    guard !isDirectory.boolValue else { return (nil, "expected a JSON configuration file, found a folder") }
    guard let data = FileManager.default.contents(atPath: url.path) else { return (nil, "cannot read the file") }
    guard let text = String(data: data, encoding: .utf8) else { return (nil, "expected UTF-8 JSON text, found other bytes") }
    return (text, nil)
}
