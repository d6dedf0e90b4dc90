import ArgumentParser
import Foundation
import Testing
import SensoriumTensor
import SensoriumLayers
import SensoriumReadouts
import SensoriumTraining
@testable import SensoriumData
@testable import Sensorium
@testable import SensoriumCommandLine
import SensoriumTestSupport

// Seeded mutation fuzzing of configuration files and command lines (issue #16), beside the data
// readers' `DataFuzzTests`; same settings (`Fuzz` in Tests/Support/Fuzzing.swift), `make fuzz` runs both.
//
// Configuration files: a `TrainingRunConfiguration` (the defaults, a registered preset, or every
// component family — core, stage, readout, shifter, output nonlinearity, optimizer, schedule, loss —
// set to a random registered type with its defaults) as JSON, then 1–3 mutations of its keys and
// values (numbers negative, zero, huge, fractional, NaN/Infinity as strings; empty or odd arrays;
// wrong types; wrong nesting; deleted, misspelled or extra keys; another or an unknown component
// type). The oracle:
//   - no crash, hang or memory blow-up (a precondition ends the process: run with
//     SENSORIUM_FUZZ_VERBOSE=1 to see the case);
//   - a refused file is a Swift error whose message names a mutated key (or the unknown type);
//   - an accepted file builds: its data options, `VideoModel(configuration:mice:)` for a tiny
//     synthetic mouse, the training workflow's clip check (data.frames against the model), one
//     forward pass on a short clip, the optimizer, the schedule and the loss. A refusal there must be an SDK error with a message; only models
//     with a size option above `buildSizeBound` are not built (their sizes are bounded by the
//     components' own checks, see CoreOptionChecks; the harness does not allocate them).
//
// Command lines: every subcommand of `SensoriumCommand` with a random subset of its options,
// numbers mutated (negative, zero, huge, malformed, NaN, Inf), paths that are missing, folders,
// empty or garbage files, enum values misspelled, flags repeated or unknown. Parsed by
// `SensoriumCommand.parseAsRoot`; an accepted `train` builds its configuration, `synth` its
// synthetic configuration (and checks it), and the commands that only read files (inspect, report,
// evaluate, predict, import, train on missing data) run against the garbage paths. The oracle: no
// crash or hang, and every refusal names a flag or argument it concerns.

/// A location in a JSON tree.
enum JSONPathElement: Equatable, CustomStringConvertible {
    case key(String)
    case index(Int)
    var description: String {
        switch self {
        case .key(let k): return k
        case .index(let i): return "[\(i)]"
        }
    }
}

extension JSONValue {
    /// Every path in the tree (objects' keys and arrays' elements), the root excluded.
    func paths(prefix: [JSONPathElement] = []) -> [[JSONPathElement]] {
        switch self {
        case .object(let o):
            return o.keys.sorted().flatMap { k in [prefix + [.key(k)]] + o[k]!.paths(prefix: prefix + [.key(k)]) }
        case .array(let a):
            return a.indices.flatMap { i in [prefix + [.index(i)]] + a[i].paths(prefix: prefix + [.index(i)]) }
        default:
            return []
        }
    }

    subscript(path: ArraySlice<JSONPathElement>) -> JSONValue? {
        guard let first = path.first else { return self }
        switch (self, first) {
        case (.object(let o), .key(let k)): return o[k]?[path.dropFirst()]
        case (.array(let a), .index(let i)) where a.indices.contains(i): return a[i][path.dropFirst()]
        default: return nil
        }
    }

    /// The tree with the value at `path` replaced (nil: removed).
    func replacing(_ path: ArraySlice<JSONPathElement>, with value: JSONValue?) -> JSONValue {
        guard let first = path.first else { return value ?? .null }
        switch (self, first) {
        case (.object(var o), .key(let k)):
            if path.count == 1 { o[k] = value } else if let child = o[k] { o[k] = child.replacing(path.dropFirst(), with: value) }
            return .object(o)
        case (.array(var a), .index(let i)) where a.indices.contains(i):
            if path.count == 1 {
                if let value { a[i] = value } else { a.remove(at: i) }
            } else {
                a[i] = a[i].replacing(path.dropFirst(), with: value)
            }
            return .array(a)
        default:
            return self
        }
    }

    /// A JSON value of any encodable value.
    static func of<T: Encodable>(_ value: T) throws -> JSONValue {
        try JSONDecoder().decode(JSONValue.self, from: JSONEncoder().encode(value))
    }

    var text: String { String(decoding: (try? JSONEncoder().encode(self)) ?? Data("null".utf8), as: UTF8.self) }

    /// Every integer in the tree.
    var integers: [Int64] {
        switch self {
        case .int(let v): return [v]
        case .unsigned: return [Int64.max]
        case .double(let d): return d.isFinite && d == d.rounded() && abs(d) < 9e18 ? [Int64(d)] : []
        case .array(let a): return a.flatMap(\.integers)
        case .object(let o): return o.values.flatMap(\.integers)
        default: return []
        }
    }
}

/// The seeded random choices of one case.
struct FuzzDice {
    let g: RandomGenerator
    func int(_ range: ClosedRange<Int>) -> Int { range.lowerBound + Int(g.next() % UInt64(range.count)) }
    func pick<T>(_ values: [T]) -> T { values[int(0...(values.count - 1))] }
    func chance(_ p: Double) -> Bool { Double(g.nextUniform()) < p }
}

/// The component families of a run configuration, by where they sit in its JSON.
enum ConfigurationFamilies {
    static var all: [(path: [JSONPathElement], names: [String], defaults: (String) throws -> JSONValue)] { [
        ([.key("model"), .key("core")], CoreKind.registry.typeNames, { try .of(CoreKind.registry.defaults(type: $0)) }),
        ([.key("model"), .key("stage")], StageKind.registry.typeNames, { try .of(StageKind.registry.defaults(type: $0)) }),
        ([.key("model"), .key("readout")], ReadoutKind.registry.typeNames, { try .of(ReadoutKind.registry.defaults(type: $0)) }),
        ([.key("model"), .key("shifter")], ShifterKind.registry.typeNames + ["none"],
         { $0 == "none" ? .object(["type": .string("none")]) : try .of(ShifterKind.registry.defaults(type: $0)) }),
        ([.key("model"), .key("outputNonlinearity")], OutputNonlinearityKind.registry.typeNames,
         { try .of(OutputNonlinearityKind.registry.defaults(type: $0)) }),
        ([.key("trainer"), .key("optimizer")], OptimizerKind.registry.typeNames, { try .of(OptimizerKind.registry.defaults(type: $0)) }),
        ([.key("trainer"), .key("schedule")], ScheduleKind.registry.typeNames, { try .of(ScheduleKind.registry.defaults(type: $0)) }),
        ([.key("trainer"), .key("loss")], LossKind.registry.typeNames, { try .of(LossKind.registry.defaults(type: $0)) }),
    ] }
}

/// One mutated configuration: its JSON and the names a refusal may cite.
struct ConfigurationCase {
    var json: JSONValue
    var mutations: [String] = []
    var names: Set<String> = []
    /// The largest magnitude of an integer a mutation wrote (sizes above the build bound are not built).
    var largestMutatedInteger: Int64 = 0
    /// Whether mutated values stay plausible (small positive sizes, other types): cases that get
    /// past decoding and exercise the components' construction.
    var plausible = false

    /// A valid starting point: the defaults, a preset, or random component types.
    static func base(_ dice: FuzzDice) throws -> ConfigurationCase {
        switch dice.int(0...3) {
        case 0:
            return ConfigurationCase(json: try .of(TrainingRunConfiguration()), mutations: ["defaults"])
        case 1:
            let preset = dice.pick(RunPreset.registered)
            return ConfigurationCase(json: try .of(preset.configuration), mutations: ["preset \(preset.name)"])
        default:
            var c = ConfigurationCase(json: try .of(TrainingRunConfiguration()))
            for family in ConfigurationFamilies.all where dice.chance(family.path.last == .key("stage") ? 0.3 : 0.7) {
                let name = dice.pick(family.names)
                c.json = c.json.replacing(family.path[...], with: try family.defaults(name))
                c.mutations.append("\(family.path.map(\.description).joined(separator: ".")) = \(name)")
            }
            return c
        }
    }

    /// A value of the same kind as `old`, small and mostly valid-looking (sizes 1…6, short lists,
    /// positive fractions, flipped flags).
    static func plausibleValue(_ old: JSONValue, _ dice: FuzzDice) -> JSONValue {
        switch old {
        case .int, .unsigned: return .int(Int64(dice.int(0...6)))
        case .double: return .double(dice.pick([0, 0.01, 0.1, 0.5, 0.9, 1, 2, 10]))
        case .bool(let b): return .bool(!b)
        case .array(let a):
            let element = a.first ?? .int(1)
            return .array((0..<dice.int(0...4)).map { _ in plausibleValue(element, dice) })
        case .null: return .int(Int64(dice.int(1...4)))
        default: return old
        }
    }

    /// Values a fuzzed key gets.
    static func strangeValue(_ old: JSONValue, _ dice: FuzzDice) -> JSONValue {
        let smallInts = (0..<dice.int(0...4)).map { _ in JSONValue.int(Int64(dice.int(-2...9))) }
        let choices: [JSONValue] = [
            .int(0), .int(-1), .int(-7), .int(1), .int(2), .int(3), .int(1_000_000_000), .int(Int64.max), .int(Int64.min),
            .unsigned(UInt64.max), .double(1e300), .double(-1e300), .double(0.5), .double(-0.5), .double(1e-30),
            .string("NaN"), .string("Infinity"), .string("-Infinity"), .string(""), .string("x"), .bool(true), .bool(false),
            .null, .array([]), .array([.int(0)]), .array([.int(-1)]), .array([.int(1_000_000)]), .array(smallInts),
            .object([:]), .array([old]), .object(["value": old]),
        ]
        switch old {
        case .int(let v) where dice.chance(0.4):
            return .int(dice.pick([v &+ 1, v &- 1, 0 &- v, v &* 1000, v / 2, 0]))
        case .double(let v) where dice.chance(0.4):
            return .double(dice.pick([-v, v * 1e6, 0, v + 1, .greatestFiniteMagnitude]))
        case .array(var a) where dice.chance(0.4) && !a.isEmpty:
            switch dice.int(0...2) {
            case 0: a.removeLast()
            case 1: a.append(a[0])
            default: a[dice.int(0...(a.count - 1))] = dice.pick(choices)
            }
            return .array(a)
        case .array(let a) where dice.chance(0.2) && !a.isEmpty:
            return a[0]  // unwrapped
        case .string where dice.chance(0.4):
            return .string(dice.pick(ConfigurationFamilies.all.flatMap(\.names) + ["oracle", "train", "final_test_main", "bogus"]))
        default:
            return dice.pick(choices)
        }
    }

    /// Applies one random mutation.
    mutating func mutate(_ dice: FuzzDice) throws {
        let paths = json.paths()
        switch dice.int(0...9) {
        case 0:
            // Another or an unknown component type.
            let family = dice.pick(ConfigurationFamilies.all)
            if dice.chance(0.8) {
                let name = dice.pick(family.names)
                json = json.replacing(family.path[...], with: try family.defaults(name))
                mutations.append("\(family.path.map(\.description).joined(separator: ".")) = \(name)")
                names.formUnion([name, family.path.last!.description])
            } else {
                json = json.replacing((family.path + [.key("type")])[...], with: .string("bogusType"))
                mutations.append("\(family.path.map(\.description).joined(separator: ".")).type = bogusType")
                names.insert("bogusType")
            }
        case 1 where !paths.isEmpty:
            // A deleted key (every key is optional): must still read.
            let path = dice.pick(paths.filter { if case .key = $0.last! { return true } else { return false } })
            json = json.replacing(path[...], with: nil)
            mutations.append("delete \(path.map(\.description).joined(separator: "."))")
            names.formUnion(path.compactMap { if case .key(let k) = $0 { return k } else { return nil } })
        case 2 where !paths.isEmpty:
            // A misspelled or an extra key: must be refused naming it.
            let keyed = paths.filter { if case .key = $0.last! { return true } else { return false } }
            let path = dice.pick(keyed)
            guard case .key(let key) = path.last!, let value = json[path[...]] else { return }
            var typo = Array(key)
            if dice.chance(0.5) && typo.count > 1 { typo.remove(at: dice.int(0...(typo.count - 1))) } else { typo.append("x") }
            let parent = Array(path.dropLast())
            let newKey = String(typo)
            guard json[(parent + [.key(newKey)])[...]] == nil else { return }
            if dice.chance(0.7) { json = json.replacing(path[...], with: nil) }
            json = json.replacing((parent + [.key(newKey)])[...], with: value)
            mutations.append("rename \(path.map(\.description).joined(separator: ".")) -> \(newKey)")
            names.insert(newKey)
            // Without its "type" a component section is read as the default type, whose keys may
            // not fit the others: a refusal then names the component.
            if key == "type", case .key(let component)? = parent.last { names.insert(component) }
        default:
            guard !paths.isEmpty else { return }
            let path = dice.chance(0.1) ? [dice.pick([JSONPathElement.key("model"), .key("trainer"), .key("data")])] : dice.pick(paths)
            let old = json[path[...]] ?? .null
            let new = plausible ? Self.plausibleValue(old, dice) : Self.strangeValue(old, dice)
            largestMutatedInteger = max(largestMutatedInteger, new.integers.map { $0 == Int64.min ? Int64.max : abs($0) }.max() ?? 0)
            json = json.replacing(path[...], with: new)
            mutations.append("\(path.map(\.description).joined(separator: ".")) = \(new.text.prefix(80))")
            // A refusal names the key (or, for an array element, the array's key).
            if let key = path.last(where: { if case .key = $0 { return true } else { return false } }) {
                names.insert(key.description)
            }
            if case .key("type") = path.last!, case .string(let s) = new { names.insert(s) }
        }
    }
}

@Suite(.serialized) struct ConfigurationFuzzTests {
    /// Configurations into which a mutation wrote an integer above this are decoded and validated
    /// but not built: the harness does not allocate huge-but-valid models.
    static let buildSizeBound: Int64 = 512
    /// Building the largest registered models (tens of millions of weights drawn one by one) takes
    /// tens of seconds in a debug build; a build is a hang only beyond this.
    static let buildSlowSeconds = 90.0
    /// Models with more parameters than this are built but not run forward (too slow in a debug build).
    static let forwardParameterBound = 1_000_000

    /// Whether `message` names one of `names` (keys as written, or in the kebab/space forms messages use).
    static func names(_ message: String, _ names: Set<String>) -> Bool {
        names.contains { !$0.isEmpty && message.localizedCaseInsensitiveContains($0) }
    }

    /// Builds what a training run builds from an accepted configuration, short of reading data:
    /// data options, the model for a tiny mouse, one forward pass, optimizer, schedule and loss.
    static func build(_ c: TrainingRunConfiguration, _ dice: FuzzDice) throws -> String {
        _ = try c.model.dataOptions()
        let frame = dice.pick([[18, 32], [36, 64], [36, 64], [64, 64]])
        let neurons = 5
        let coordinates = Tensor((0..<(neurons * 3)).map { _ in dice.g.nextNormal() }, shape: [neurons, 3])
        let mouse = MouseNeurons(key: "m", count: neurons, coordinates: coordinates, frameSize: frame)
        let model = try VideoModel(configuration: c.model, mice: [mouse])
        _ = c.trainer.optimizer.makeOptimizer(for: model)
        _ = c.trainer.schedule.makeSchedule()
        _ = c.trainer.loss.makeLoss()
        guard model.parameterCount <= forwardParameterBound else { return "built \(model.parameterCount) parameters, no forward" }
        // What training checks before its first step: clips of data.frames fit the model.
        try TrainingWorkflow.checkClips(of: model, configuration: c.model, settings: c.data, frameSizes: [frame])
        let frames = min(c.data.frames, model.burnInFrames + 1 + dice.int(0...2))
        let channels = c.model.core.inputChannels
        let video = Tensor((0..<(channels * frames * frame[0] * frame[1])).map { _ in dice.g.nextNormal() },
                           shape: [1, channels, frames, frame[0], frame[1]])
        let behavior = Tensor((0..<(2 * frames)).map { _ in dice.g.nextNormal() }, shape: [1, 2, frames])
        let pupil = Tensor((0..<(2 * frames)).map { _ in dice.g.nextNormal() }, shape: [1, 2, frames])
        model.eval()
        let y = withNoGrad { model(ModelInput(video: video, behavior: behavior, pupilCenter: pupil, mouse: "m")) }
        guard y.rank == 3, y.shape[0] == 1, y.shape[2] == neurons else {
            throw SensoriumError.incompatibleData("forward gave shape \(y.shape)")
        }
        return "forward \(y.shape)"
    }

    @Test func configurationFiles() throws {
        var accepted = 0, built = 0, refused = 0, refusedAtBuild = 0, notBuilt = 0, unnamed = 0
        let cases = Fuzz.casesPerKind * 2
        for k in 0..<cases {
            let dice = FuzzDice(g: Fuzz.generator(11, k))
            var c = try ConfigurationCase.base(dice)
            c.plausible = dice.chance(0.5)
            for _ in 0..<dice.int(1...3) { try c.mutate(dice) }
            let text = c.json.text
            let label = "configuration case \(k) (seed \(Fuzz.seed &+ UInt64(k))): \(c.mutations.joined(separator: "; "))"
            var configuration: TrainingRunConfiguration?
            if let error = Fuzz.guarded(label, { configuration = try TrainingRunConfiguration.fromJSON(text, source: "fuzz.json") }) {
                refused += 1
                let message = "\(error)"
                if Fuzz.verbose { FileHandle.standardError.write(Data("  refused: \(message.prefix(400))\n".utf8)) }
                if !(error is SensoriumError) { Issue.record("\(label): refused with \(type(of: error)), not SensoriumError: \(message)") }
                if !Self.names(message, c.names) {
                    unnamed += 1
                    Issue.record("\(label): the refusal names none of \(c.names.sorted()): \(message)\n\(text)")
                }
                continue
            }
            accepted += 1
            guard let configuration else { continue }
            if c.largestMutatedInteger > Self.buildSizeBound {
                notBuilt += 1
                continue
            }
            var outcome = ""
            if let error = Fuzz.guarded(label + " (build)", slow: Self.buildSlowSeconds, { outcome = try Self.build(configuration, dice) }) {
                refusedAtBuild += 1
                let message = "\(error)"
                if !(error is SensoriumError || error is ComponentError) || message.isEmpty {
                    Issue.record("\(label): building refused with \(type(of: error)): \(message)")
                }
                if Fuzz.verbose { FileHandle.standardError.write(Data("  refused at build: \(message)\n".utf8)) }
            } else {
                built += 1
                if Fuzz.verbose { FileHandle.standardError.write(Data("  \(outcome)\n".utf8)) }
            }
        }
        print("fuzz configuration files: \(cases) cases, \(refused) refused when read (\(unnamed) without naming the key), \(accepted) accepted: \(built) built and run, \(refusedAtBuild) refused when built, \(notBuilt) above the size bound; \(Fuzz.peakMemory)")
    }

    // MARK: Command lines

    /// Paths a fuzzed command line names.
    final class Paths {
        let root: URL
        let folder: URL, garbage: URL, json: URL, emptyFile: URL, missing: URL, configFile: URL
        init() throws {
            root = FileManager.default.temporaryDirectory.appendingPathComponent("sensorium-flag-fuzz-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
            folder = root.appendingPathComponent("folder")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            garbage = root.appendingPathComponent("garbage.h5")
            try Data((0..<300).map { UInt8(truncatingIfNeeded: $0 &* 37) }).write(to: garbage)
            json = root.appendingPathComponent("bad.json")
            try Data(#"{"model": {"core": {"type": "factorized3d", "hiddenChannels": []}}}"#.utf8).write(to: json)
            configFile = root.appendingPathComponent("config.json")
            try Data(#"{"data": {"batchSize": 2, "frames": 30}, "trainer": {"earlyStopping": {"maxEpochs": 1}}}"#.utf8).write(to: configFile)
            emptyFile = root.appendingPathComponent("empty.npy")
            try Data().write(to: emptyFile)
            missing = root.appendingPathComponent("missing")
        }
        deinit { try? FileManager.default.removeItem(at: root) }
        var all: [String] { [folder, garbage, json, emptyFile, missing, configFile].map(\.path) + ["", "~/nonexistent-sensorium"] }
        /// Output locations: fresh or odd.
        func output(_ dice: FuzzDice) -> String {
            dice.pick([root.appendingPathComponent("out-\(dice.int(0...999))").path, garbage.path, folder.path, ""])
        }
    }

    enum ValueKind { case int, double, seed, path, output, choice([String]), text, flag }

    /// Every subcommand: its options (with the kind of value) and its positional arguments.
    static let commands: [(name: String, options: [(String, ValueKind)], positional: ValueKind?)] = [
        ("train", [("--output", .output), ("--config", .path), ("--core", .choice(CoreKind.registry.typeNames)),
                   ("--readout", .choice(ReadoutKind.registry.typeNames)), ("--seed", .seed), ("--epochs", .int),
                   ("--batch-size", .int), ("--frames", .int), ("--max-minutes", .double), ("--resume", .flag),
                   ("--overwrite", .flag), ("--plain", .flag)], .path),
        ("synth", [("--output", .output), ("--mice", .int), ("--neurons", .int), ("--seed", .seed), ("--train-trials", .int),
                   ("--oracle-clips", .int), ("--repeats", .int), ("--test-clips", .int), ("--frames", .int), ("--height", .int),
                   ("--width", .int), ("--event-rate", .double),
                   ("--statistics-tiers", .choice(["all", "train", "train,oracle", "oracle,bogus", ""])), ("--tiny", .flag),
                   ("--overwrite", .flag)], nil),
        ("inspect", [("--scan", .int), ("--clip-frames", .int), ("--errors-only", .flag)], .path),
        ("evaluate", [("--model", .path), ("--tiers", .choice(["all", "live", "final", "bogus"])), ("--output", .output),
                      ("--skip-frames", .int), ("--max-frames", .int), ("--no-ceiling", .flag), ("--name", .text)], .path),
        ("predict", [("--model", .path), ("--output", .output), ("--format", .choice(["npy", "hdf5", "both", "csv"])),
                     ("--tiers", .choice(["all", "live", "final", "bogus"])), ("--skip-frames", .int), ("--max-frames", .int)], .path),
        ("report", [("--output", .output), ("--title", .text)], .path),
        ("import", [("--state", .path), ("--kit-arguments", .path), ("--config", .path), ("--output", .output)], .path),
        ("presets", [], .choice(RunPreset.registered.map(\.name) + ["bogus"])),
        ("demo", [("--output", .output), ("--budget", .double), ("--epochs", .int), ("--seed", .seed), ("--config", .path),
                  ("--quick", .flag), ("--plain", .flag)], nil),
    ]

    static func value(_ kind: ValueKind, _ dice: FuzzDice, _ paths: Paths) -> String? {
        let badNumbers = ["-1", "0", "-5", "99999999999999999999", "1e309", "nan", "inf", "-inf", "abc", "", "0x10", "1.5", "-0", "3"]
        switch kind {
        case .int: return dice.chance(0.5) ? String(dice.int(1...40)) : dice.pick(badNumbers)
        case .double: return dice.chance(0.5) ? String(Double(dice.int(1...100)) / 10) : dice.pick(badNumbers + ["1e-300", "-0.0"])
        case .seed: return dice.pick(["0", "7", "18446744073709551615", "18446744073709551616", "-1", "x"])
        case .path: return dice.pick(paths.all)
        case .output: return paths.output(dice)
        case .choice(let names): return dice.chance(0.7) ? dice.pick(names) : dice.pick(["", "bogus", names.first.map { $0 + "x" } ?? "x"])
        case .text: return dice.pick(["Model", "", "a\nb", String(repeating: "x", count: 300)])
        case .flag: return nil
        }
    }

    /// A random command line and the flags/arguments it names.
    static func commandLine(_ dice: FuzzDice, _ paths: Paths) -> (arguments: [String], names: Set<String>) {
        let command = dice.pick(commands)
        var arguments = [command.name]
        var names: Set<String> = [command.name]
        for (flag, kind) in command.options where dice.chance(0.4) {
            names.insert(flag)
            arguments.append(flag)
            if let v = value(kind, dice, paths) {
                if dice.chance(0.05) { continue }  // a missing value
                arguments.append(v)
                names.insert(v)
            }
            if dice.chance(0.05) { arguments += arguments.suffix(2) }  // repeated
        }
        if let positional = command.positional {
            for _ in 0..<dice.int(0...2) {
                if let v = value(positional, dice, paths) { arguments.append(v); names.insert(v) }
            }
            names.formUnion(["<data>", "<paths>", "<run-folder>", "<name>", "argument"])
        }
        if dice.chance(0.1) { arguments.insert("--bogus-flag", at: dice.int(1...arguments.count)); names.insert("--bogus-flag") }
        if dice.chance(0.05) {
            let global = dice.pick(["--log-level", "--log-level=loud", "-v"])
            arguments.append(global)
            names.formUnion([global, "--log-level"])
        }
        return (arguments, names)
    }

    /// What an accepted command builds or runs without training: the configuration of `train`
    /// and `synth`; the commands that only read files run against the fuzzed paths.
    static func exercise(_ command: ParsableCommand, _ paths: Paths) throws {
        switch command {
        case let train as TrainCommand:
            let c = try train.runConfiguration()
            _ = try c.model.dataOptions()
            if train.data.allSatisfy({ !FileManager.default.fileExists(atPath: ($0 as NSString).expandingTildeInPath) || $0.hasSuffix(".json") || $0.hasSuffix(".h5") || $0.hasSuffix(".npy") }) {
                // Missing or non-mouse data: refused before anything is written.
                let output = (train.output as NSString).expandingTildeInPath
                let existed = FileManager.default.fileExists(atPath: output)
                defer {
                    if !existed && FileManager.default.fileExists(atPath: output) {
                        Issue.record("train \(train.data) left an output folder \(output) behind although it was refused")
                    }
                }
                try train.run()
            }
        case let synth as SynthCommand:
            try synth.synthConfiguration().validate()
        case is InspectCommand, is ReportCommand, is EvaluateCommand, is PredictCommand, is ImportCommand, is PresetsCommand:
            var c = command
            try c.run()
        default:
            break
        }
    }

    @Test func commandLines() throws {
        let paths = try Paths()
        var parsed = 0, refusedParsing = 0, refusedLater = 0, ran = 0
        let cases = Fuzz.casesPerKind * 4
        for k in 0..<cases {
            let dice = FuzzDice(g: Fuzz.generator(12, k))
            let (arguments, names) = Self.commandLine(dice, paths)
            let label = "command line case \(k) (seed \(Fuzz.seed &+ UInt64(k))): sensorium \(arguments.map { $0.debugDescription }.joined(separator: " "))"
            var command: ParsableCommand?
            if let error = Fuzz.guarded(label, { command = try SensoriumCommand.parseAsRoot(arguments) }) {
                refusedParsing += 1
                let message = SensoriumCommand.message(for: error)
                if Fuzz.verbose { FileHandle.standardError.write(Data("  refused: \(message.prefix(400))\n".utf8)) }
                // A missing required option or argument is named by the refusal itself.
                let missing = message.hasPrefix("Missing expected argument '") && message.count > 30
                if message.isEmpty || !(missing || Self.names(message, names)) {
                    Issue.record("\(label): the refusal names none of the flags or arguments: \(message)")
                }
                continue
            }
            parsed += 1
            guard let command else { continue }
            if let error = Fuzz.guarded(label + " (run)", { try Self.exercise(command, paths) }) {
                refusedLater += 1
                let message = "\(error)"
                if message.isEmpty || error is CancellationError {
                    Issue.record("\(label): refused without a message: \(type(of: error))")
                }
                if Fuzz.verbose { FileHandle.standardError.write(Data("  refused: \(message.prefix(300))\n".utf8)) }
            } else {
                ran += 1
            }
        }
        print("fuzz command lines: \(cases) cases, \(refusedParsing) refused when parsed, \(parsed) parsed: \(ran) built/ran, \(refusedLater) refused when built or run; \(Fuzz.peakMemory)")
    }
}
