/// Parameters of a model updated with their own learning rate and weight decay (PyTorch's
/// optimizer `param_groups`), chosen by state-dictionary key prefix.
///
/// In an optimizer configuration (`AdamW`, `Adam`, `SGD`), parameters whose path starts with one
/// of ``prefixes`` belong to the group (the first matching group wins); the others stay in the
/// default group with the configuration's own rate and weight decay. ViV1T's recipe:
///
/// ```json
/// {"type": "adamW", "learningRate": 0.0036, "weightDecay": 0.3939,
///  "parameterGroups": [{"name": "core", "prefixes": ["core."], "learningRate": 0.0048, "weightDecay": 0.1789}]}
/// ```
///
/// Schedules set the default group's rate; every group's rate follows in proportion (see
/// ``ParameterOptimizer``).
public struct ParameterGroup: Codable, Sendable, Equatable {
    /// The group's name (unique; `"default"` is the other parameters').
    public var name: String
    /// State-dictionary key prefixes of the group's parameters (for example `"core."`).
    public var prefixes: [String]
    /// The group's initial learning rate.
    public var learningRate: Double
    /// The group's weight decay (nil: the optimizer's).
    public var weightDecay: Double?

    /// A group.
    public init(name: String, prefixes: [String], learningRate: Double, weightDecay: Double? = nil) {
        self.name = name
        self.prefixes = prefixes
        self.learningRate = learningRate
        self.weightDecay = weightDecay
    }

    /// Whether the parameter at `path` belongs to the group.
    public func contains(_ path: String) -> Bool { prefixes.contains { path.hasPrefix($0) } }

    /// What is wrong with a list of groups (nil: nothing): empty or repeated names, `"default"`,
    /// no or empty prefixes, a negative or non-finite rate or weight decay.
    public static func problem(in groups: [ParameterGroup]) -> String? {
        var names = Set<String>()
        for g in groups {
            if g.name.isEmpty || g.name == "default" { return "group names must be non-empty and not \"default\", got \"\(g.name)\"" }
            if !names.insert(g.name).inserted { return "group \"\(g.name)\" appears twice" }
            if g.prefixes.isEmpty || g.prefixes.contains(where: \.isEmpty) {
                return "group \"\(g.name)\" needs at least one non-empty key prefix"
            }
            if !(g.learningRate >= 0 && g.learningRate.isFinite) { return "group \"\(g.name)\": learningRate must be finite and ≥ 0" }
            if let wd = g.weightDecay, !wd.isFinite { return "group \"\(g.name)\": weightDecay must be finite" }
        }
        return nil
    }

    enum CodingKeys: String, CodingKey { case name, prefixes, learningRate, weightDecay }

    /// `weightDecay` is optional; the other keys are required.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        prefixes = try c.decode([String].self, forKey: .prefixes)
        learningRate = try c.decode(Double.self, forKey: .learningRate)
        weightDecay = try c.decodeIfPresent(Double.self, forKey: .weightDecay)
    }
}
