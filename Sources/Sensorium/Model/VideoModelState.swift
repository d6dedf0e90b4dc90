import Foundation
import SensoriumTensor
import SensoriumLayers
import SensoriumData

/// The one table of differences between PyTorch `state_dict` keys of the reference models and the
/// dotted paths of our modules: prefix rewrites, the first matching rule wins.
///
/// | model | PyTorch key | our path |
/// |---|---|---|
/// | 2-D core + GRU (``/SensoriumLayers/FrameWiseCore``) | `core.…` (the frame core) | `core.core.…` |
/// | 2-D core + GRU (``/SensoriumLayers/FrameWiseCore``) | `gru_module.…` (a sibling of the core in the reference) | `core.gru_module.…` |
/// | everything else | identical | identical |
///
/// The reference `VideoFiringRateEncoder` keeps the GRU next to the 2-D core; our ``/SensoriumLayers/FrameWiseCore``
/// holds both, so its keys gain one `core.` level. 3-D cores, readouts (`readout.<mouse>.…`) and
/// shifters (`shifter.<mouse>.…`) read the same.
public struct StateKeyMapping: Sendable, Equatable {
    /// One prefix rewrite.
    public struct Rule: Sendable, Equatable {
        /// Prefix of the PyTorch key.
        public var pytorchPrefix: String
        /// Prefix of our path.
        public var swiftPrefix: String

        public init(pytorchPrefix: String, swiftPrefix: String) {
            self.pytorchPrefix = pytorchPrefix
            self.swiftPrefix = swiftPrefix
        }
    }

    /// The rules, tried in order.
    public var rules: [Rule]

    public init(rules: [Rule]) { self.rules = rules }

    /// Keys are the same on both sides.
    public static let identity = StateKeyMapping(rules: [])

    /// A ``VideoModel`` with a ``/SensoriumLayers/FrameWiseCore`` (2-D core + ConvGRU).
    public static let frameWiseCore = StateKeyMapping(rules: [
        Rule(pytorchPrefix: "gru_module.", swiftPrefix: "core.gru_module."),
        Rule(pytorchPrefix: "core.", swiftPrefix: "core.core."),
    ])

    /// Our path for a PyTorch key.
    public func swiftKey(forPyTorchKey key: String) -> String {
        for rule in rules where key.hasPrefix(rule.pytorchPrefix) {
            return rule.swiftPrefix + key.dropFirst(rule.pytorchPrefix.count)
        }
        return key
    }

    /// The PyTorch key for one of our paths.
    public func pytorchKey(forSwiftKey key: String) -> String {
        for rule in rules where key.hasPrefix(rule.swiftPrefix) {
            return rule.pytorchPrefix + key.dropFirst(rule.swiftPrefix.count)
        }
        return key
    }
}

extension VideoModel {
    /// The key mapping between this model's paths and the reference PyTorch model's keys.
    public var pytorchKeyMapping: StateKeyMapping {
        core is FrameWiseCore ? .frameWiseCore : .identity
    }

    /// Reads a state-dictionary folder: one `<key>.npy` per key (as written by
    /// `Tools/convert_pytorch_checkpoint.py` and as in the model fixtures), values as Float32.
    public static func readStateFolder(_ url: URL) throws -> [String: Tensor] {
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        guard fm.fileExists(atPath: url.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw SensoriumError.file(path: url.path, message: "expected a folder of <key>.npy files (a converted PyTorch state_dict), found \(fm.fileExists(atPath: url.path) ? "a file" : "nothing")")
        }
        let names = try fm.contentsOfDirectory(atPath: url.path).filter { $0.hasSuffix(".npy") && !$0.hasPrefix(".") }
        guard !names.isEmpty else {
            throw SensoriumError.file(path: url.path, message: "expected <key>.npy files of a state_dict, found none")
        }
        var state: [String: Tensor] = [:]
        for name in names.sorted() {
            state[String(name.dropLast(4))] = try NPY.readTensor(url.appendingPathComponent(name).path)
        }
        return state
    }

    /// Loads a PyTorch state dictionary (keys of the reference model), mapping keys through
    /// `mapping` (default ``pytorchKeyMapping``; a winner's checkpoint: ``PyTorchCheckpointSystem``).
    /// Strict by default: every key of the model must be given and every given key must belong to
    /// the model; shapes must match; errors name the PyTorch keys. Nothing is written on failure.
    public func loadPyTorchStateDict(_ state: [String: Tensor], strict: Bool = true, source: String = "state_dict",
                                     mapping: StateKeyMapping? = nil) throws {
        let mapping = mapping ?? pytorchKeyMapping
        var mapped: [String: Tensor] = [:]
        for (key, value) in state { mapped[mapping.swiftKey(forPyTorchKey: key)] = value }
        do throws(ComponentError) {
            try loadStateDict(mapped, strict: strict)
        } catch {
            guard case .stateDictionary(let error) = error else {
                throw SensoriumError.incompatibleState(source: source, message: error.description)
            }
            var parts: [String] = []
            if !error.missingKeys.isEmpty {
                parts.append("missing keys " + error.missingKeys.map { mapping.pytorchKey(forSwiftKey: $0) }.joined(separator: ", "))
            }
            if !error.unexpectedKeys.isEmpty {
                parts.append("unexpected keys " + error.unexpectedKeys.map { mapping.pytorchKey(forSwiftKey: $0) }.joined(separator: ", "))
            }
            for m in error.shapeMismatches {
                parts.append("\(mapping.pytorchKey(forSwiftKey: m.key)): the model has shape \(m.expected), the state \(m.found)")
            }
            throw SensoriumError.incompatibleState(source: source, message: parts.joined(separator: "; "))
        }
    }

    /// Loads a PyTorch state-dictionary folder (one `<key>.npy` per key, see
    /// ``readStateFolder(_:)``) through ``pytorchKeyMapping``, or through the key mapping of the
    /// checkpoint's `system`.
    public func loadPyTorchState(folder url: URL, strict: Bool = true, system: PyTorchCheckpointSystem = .starterKit) throws {
        let state = try VideoModel.readStateFolder(url)
        let mapping = try system.keyMapping(for: self, stateKeys: state.keys, source: url.path)
        try loadPyTorchStateDict(state, strict: strict, source: url.path, mapping: mapping)
    }

    /// The model's state dictionary with PyTorch keys (copies).
    public func pytorchStateDict() -> [String: Tensor] {
        let mapping = pytorchKeyMapping
        var out: [String: Tensor] = [:]
        for (key, value) in stateDict() { out[mapping.pytorchKey(forSwiftKey: key)] = value }
        return out
    }

    /// Writes the state dictionary with PyTorch keys as a folder of `<key>.npy` files (created if
    /// needed), the format ``loadPyTorchState(folder:strict:system:)`` reads.
    public func writePyTorchState(folder url: URL) throws {
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        for (key, value) in pytorchStateDict() {
            try NPY.write(value, to: url.appendingPathComponent("\(key).npy").path)
        }
    }

    // MARK: Checkpoints

    /// The architecture as JSON, for ``/SensoriumTraining/Trainer/metadata`` so that training checkpoints can rebuild
    /// the model (nil for a hand-assembled model).
    public var checkpointMetadata: String? { architecture?.jsonString() }

    /// Writes the weights (and the architecture, when known) as a model checkpoint (HDF5,
    /// written atomically).
    public func save(to url: URL) throws {
        try Checkpoint.writeModel(self, configuration: checkpointMetadata, to: url)
    }

    /// Loads weights from a model or training checkpoint into this model (strict: every key must match).
    public func loadCheckpoint(from url: URL) throws {
        try Checkpoint.loadModel(self, from: url)
    }

    /// Rebuilds a model from a checkpoint written by ``save(to:)`` or by a ``/SensoriumTraining/Trainer`` whose
    /// `metadata` is the model's ``checkpointMetadata`` (the default), and loads its weights.
    public static func load(from url: URL) throws -> VideoModel {
        let record = try Checkpoint.read(from: url)
        let candidates = [record.strings["metadata"], record.strings["configuration"]].compactMap { $0 }
        guard let architecture = candidates.lazy.compactMap(VideoModelArchitecture.fromJSON).first else {
            throw SensoriumError.file(path: url.path, message: "expected a checkpoint with the model's architecture (written by VideoModel.save or a Trainer of this model), found none; build the model yourself and call loadCheckpoint(from:)")
        }
        guard let state = record.children["model"] else {
            throw SensoriumError.file(path: url.path, message: "expected a 'model' group with the weights, found none")
        }
        let model = try VideoModel(architecture: architecture)
        do {
            try model.loadStateDict(state.moduleStateDict)
        } catch {
            throw SensoriumError.incompatibleState(source: url.path, message: "\(error)")
        }
        model.eval()
        return model
    }
}
