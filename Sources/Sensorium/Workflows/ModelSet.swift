import Foundation
import SensoriumData
import SensoriumTraining

/// The models the `evaluate`, `predict` and `submit` commands run: one trained model, or an
/// ensemble whose prediction is the mean of its members' predictions in response space (after
/// each member's output nonlinearity, as `neuralpredictors`' ensembles average), loaded by
/// ``EvaluationWorkflow/loadModels(_:)`` from run folders, checkpoint files and ensemble
/// manifests.
///
/// Members must agree on what they predict: the same mice with the same numbers of neurons, the
/// same input options, burn-in and inference strategy (so that their predictions cover the same
/// frames), and, when an ``EnsembleManifest`` records the unit ids trained on, the mice opened
/// for them must have those unit ids. Anything else is a ``SensoriumError`` naming the members.
public struct ModelSet {
    /// The members, in order (one for a single model).
    public var members: [EvaluationWorkflow.LoadedModel]
    /// The manifest the members came from, when one path named an ensemble.
    public var manifest: EnsembleManifest?
    /// The manifest's folder, when there is one.
    public var ensembleFolder: String?
    /// The unit ids of each mouse recorded by the manifests the members came from.
    public var recordedUnitIDs: [String: [Int]]

    /// Whether the set has more than one member.
    public var isEnsemble: Bool { members.count > 1 }

    /// The model to run: the single member, or an ``/SensoriumTraining/Ensemble`` of them (in
    /// evaluation mode).
    public let model: any TrainableModel<MouseBatch>

    /// A set of members already loaded (checked with ``checkAgreement()``).
    public init(members: [EvaluationWorkflow.LoadedModel], manifest: EnsembleManifest? = nil, ensembleFolder: String? = nil,
                recordedUnitIDs: [String: [Int]]? = nil) throws {
        guard !members.isEmpty else { throw SensoriumError.invalidOptions("no model given") }
        self.members = members
        self.manifest = manifest
        self.ensembleFolder = ensembleFolder
        self.recordedUnitIDs = recordedUnitIDs
            ?? Dictionary((manifest?.mice ?? []).map { ($0.name, $0.unitIDs) }, uniquingKeysWith: { a, _ in a })
        if members.count == 1 {
            model = members[0].model
        } else {
            let ensemble = Ensemble<MouseBatch>(members.map(\.model))
            ensemble.eval()
            model = ensemble
        }
        try checkAgreement()
    }

    /// The name of member `i` in tables: its run folder's name (or checkpoint file's), made unique.
    public var memberNames: [String] {
        var names: [String] = []
        for (i, m) in members.enumerated() {
            let base = ((m.runFolder ?? m.checkpoint) as NSString).lastPathComponent
            names.append(names.contains(base) ? "\(base) (\(i + 1))" : base)
        }
        return names
    }

    /// The folder results go to by default: the ensemble's folder, else the single member's run folder.
    public var defaultOutput: String? {
        if let ensembleFolder { return ensembleFolder }
        return members.count == 1 ? members[0].runFolder : nil
    }

    /// One line naming what was loaded.
    public var summary: String {
        isEnsemble ? "an ensemble of \(members.count) models (\(memberNames.joined(separator: ", ")))" : members[0].checkpoint
    }

    /// Throws when two members predict different mice, neuron counts, inputs or frame spans.
    public func checkAgreement() throws {
        guard let first = members.first else { return }
        let names = memberNames
        func describeMice(_ m: VideoModel) -> String {
            m.mice.map { "\($0) (\(m.readout[$0]?.neuronCount ?? 0))" }.joined(separator: ", ")
        }
        let reference = first.model
        let options = try EvaluationWorkflow.dataOptions(for: reference)
        for (i, member) in members.enumerated().dropFirst() {
            let m = member.model
            let sameMice = Set(m.mice) == Set(reference.mice)
                && reference.mice.allSatisfy { reference.readout[$0]?.neuronCount == m.readout[$0]?.neuronCount }
            guard sameMice else {
                throw SensoriumError.incompatibleData("ensemble members must predict the same mice and neurons: \(names[0]) predicts \(describeMice(reference)); \(names[i]) predicts \(describeMice(m))")
            }
            guard try EvaluationWorkflow.dataOptions(for: m) == options else {
                throw SensoriumError.incompatibleData("ensemble members must read the same inputs: \(names[0]) and \(names[i]) are configured with different data options (input channels, behaviour, normalisation)")
            }
            guard m.burnInFrames == reference.burnInFrames,
                  m.architecture?.configuration.inference == reference.architecture?.configuration.inference else {
                throw SensoriumError.incompatibleData("ensemble members must predict the same frames of a trial: \(names[0]) has a burn-in of \(reference.burnInFrames) frames and inference \(reference.architecture?.configuration.inference.typeName ?? "wholeTrial"), \(names[i]) \(m.burnInFrames) frames and \(m.architecture?.configuration.inference.typeName ?? "wholeTrial")")
            }
        }
    }

    /// Opens the mice of `paths` for the members (each must have a readout for every mouse, with
    /// its number of neurons) and checks their unit ids against the manifest's, when it has them.
    /// Responses are read as recorded (see ``EvaluationWorkflow/openDatasets(_:for:)``).
    public func openDatasets(_ paths: [String]) throws -> [MouseDataset] {
        let datasets = try EvaluationWorkflow.openDatasets(paths, for: members[0].model)
        for member in members.dropFirst() { try member.model.checkCompatible(with: datasets) }
        for d in datasets {
            if let ids = recordedUnitIDs[d.name], ids != d.unitIDs {
                let firstDifference = zip(ids, d.unitIDs).enumerated().first { $0.element.0 != $0.element.1 }
                let detail = firstDifference.map { "neuron \($0.offset): unit \($0.element.0) in the manifest, \($0.element.1) in the folder" }
                    ?? "\(ids.count) unit ids in the manifest, \(d.unitIDs.count) in the folder"
                throw SensoriumError.incompatibleData("mouse \(d.name): the ensemble was trained on other neurons than the folder holds (\(detail))")
            }
        }
        return datasets
    }
}

extension EvaluationWorkflow {
    /// Loads the models named by `paths`: run folders, checkpoint files, ensemble folders (holding
    /// `ensemble.json`) or ensemble manifest files. Several paths, or an ensemble, give an
    /// ensemble of all their members; one run gives that model. Throws `SensoriumError` when a
    /// path holds nothing usable or the members disagree (see ``ModelSet``).
    public static func loadModels(_ paths: [String]) throws -> ModelSet {
        guard !paths.isEmpty else { throw SensoriumError.invalidOptions("give at least one model (-m RUN)") }
        var members: [LoadedModel] = []
        var manifests: [(EnsembleManifest, String)] = []
        var unitIDs: [String: [Int]] = [:]
        for raw in paths {
            let path = (raw as NSString).expandingTildeInPath
            var manifestFile: String?
            if RunFolder.isDirectory(path), FileManager.default.fileExists(atPath: RunFolder.file(path, EnsembleManifest.fileName)) {
                manifestFile = RunFolder.file(path, EnsembleManifest.fileName)
            } else if path.hasSuffix(".json") {
                manifestFile = path
            }
            if let manifestFile {
                let manifest = try EnsembleManifest.load(from: URL(fileURLWithPath: manifestFile))
                let folder = (manifestFile as NSString).deletingLastPathComponent
                for member in manifest.members {
                    members.append(try loadModel(RunFolder.file(folder, member.folder)))
                }
                manifests.append((manifest, folder))
                for mouse in manifest.mice {
                    if let known = unitIDs[mouse.name], known != mouse.unitIDs {
                        throw SensoriumError.incompatibleData("the ensembles given were trained on different neurons of mouse \(mouse.name) (see \(manifestFile))")
                    }
                    unitIDs[mouse.name] = mouse.unitIDs
                }
            } else {
                members.append(try loadModel(path))
            }
        }
        // A manifest describes the set only when it is the set.
        let only = paths.count == 1 ? manifests.first : nil
        return try ModelSet(members: members, manifest: only?.0, ensembleFolder: only?.1, recordedUnitIDs: unitIDs)
    }
}
