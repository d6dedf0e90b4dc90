import Foundation
import SensoriumData
import SensoriumReadouts

/// The `import` command as a function: a PyTorch state dictionary (converted to a folder of
/// `<key>.npy` files by `Tools/convert_pytorch_checkpoint.py`) plus the model's description becomes
/// a run folder whose `model.h5` the `evaluate`, `predict` and `report` commands read.
///
/// The state's keys are those of the system that trained it (``PyTorchCheckpointSystem``): the
/// starter kit's baselines, or the released checkpoints of DwiseNeuro, Dynamic-V1FM and ViV1T.
public enum ImportWorkflow {
    /// Where the model's description comes from.
    public enum Description {
        /// The starter kit's `make_video_model` arguments as JSON (``StarterKitArguments``).
        case starterKitArguments(URL)
        /// A ``VideoModelConfiguration`` JSON file.
        case configuration(URL)
        /// The model of a registered ``RunPreset`` (e.g. a winner's, by name).
        case preset(String)
    }

    /// The file `Tools/convert_pytorch_checkpoint.py --make-video-model-args` writes into the state
    /// folder; used when no description is given.
    public static let kitArgumentsFile = "make_video_model.json"

    /// Builds the described model for the mice in `data` (names, neurons, coordinates and frame
    /// sizes from the folders, readouts in the order given), loads the state strictly by the
    /// PyTorch keys of `system`, and writes `model.h5` into `output`. Returns the model (in
    /// evaluation mode) and the file written.
    public static func importState(folder state: URL, description: Description?, data: [String],
                                   output: String, system: PyTorchCheckpointSystem = .starterKit) throws -> (model: VideoModel, file: String) {
        let configuration: VideoModelConfiguration
        switch description {
        case .starterKitArguments(let url)?:
            configuration = try StarterKitArguments.configuration(fromJSON: try readText(url), source: url.path)
        case .configuration(let url)?:
            configuration = try VideoModelConfiguration.load(from: url)
        case .preset(let name)?:
            configuration = try RunPreset.named(name).configuration.model
        case nil:
            let url = state.appendingPathComponent(kitArgumentsFile)
            guard system == .starterKit else {
                throw SensoriumError.invalidOptions("a \(system.rawValue) checkpoint needs the model's description: a configuration file or the name of its preset")
            }
            guard FileManager.default.fileExists(atPath: url.path) else {
                throw SensoriumError.file(path: state.path, message: "expected a model description: pass the make_video_model arguments (JSON) or a configuration file, or convert with --make-video-model-args so that the state folder holds \(kitArgumentsFile)")
            }
            configuration = try StarterKitArguments.configuration(fromJSON: try readText(url), source: url.path)
        }
        let options = try configuration.dataOptions()
        let datasets = try MouseFolders.resolve(data).map { try MouseDataset(path: $0, options: options) }
        let model = try loadModel(state: state, configuration: configuration,
                                  mice: datasets.map(MouseNeurons.init(dataset:)), system: system)
        let folder = (output as NSString).expandingTildeInPath
        try RunFolder.create(folder)
        let file = RunFolder.file(folder, RunFolder.modelFile)
        try model.save(to: URL(fileURLWithPath: file))
        return (model, file)
    }

    /// The model of `configuration` for `mice` (readouts in this order) with the state folder's
    /// weights loaded strictly by the PyTorch keys of `system`, in evaluation mode. Errors name the
    /// PyTorch keys that are missing, unexpected or of the wrong shape.
    public static func loadModel(state: URL, configuration: VideoModelConfiguration, mice: [MouseNeurons],
                                 system: PyTorchCheckpointSystem = .starterKit) throws -> VideoModel {
        let model = try VideoModel(configuration: configuration, mice: mice)
        try model.loadPyTorchState(folder: state, system: system)
        model.eval()
        return model
    }

    static func readText(_ url: URL) throws -> String {
        do { return try String(contentsOf: url, encoding: .utf8) } catch {
            throw SensoriumError.invalidConfiguration(source: url.path, message: "cannot read the file: \(error.localizedDescription)")
        }
    }
}
