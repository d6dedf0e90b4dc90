import ArgumentParser
import Foundation
import Sensorium

extension PyTorchCheckpointSystem: ExpressibleByArgument {}

/// `sensorium import`: a converted PyTorch checkpoint becomes a run folder.
struct ImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Turn a converted PyTorch state dictionary into a run folder (model.h5).",
        discussion: """
        STATE is a folder of <key>.npy files written by Tools/convert_pytorch_checkpoint.py. The model \
        is described by the starter kit's make_video_model arguments as JSON (--kit-arguments, or \
        make_video_model.json inside STATE) or by a Sensorium configuration file or preset name \
        (--config). The mouse folders give the readouts' names, neurons and frame sizes, in the order \
        given. The weights load strictly by PyTorch key; --system names whose keys they are: the \
        starter kit's (default), or a SENSORIUM 2023 winner's released checkpoint (dwiseneuro: \
        core/cortex/readouts.<index>; dynamicV1FM: DataParallel's module. prefix; viv1t: \
        readouts.<id>/shifters.<id>). Then `sensorium evaluate -m OUTPUT` and `sensorium predict -m \
        OUTPUT` use the model.
        """
    )

    @OptionGroup var global: GlobalOptions

    @Option(help: "The converted state dictionary: a folder of <key>.npy files.")
    var state: String

    @Option(help: "make_video_model's arguments as JSON (default: STATE/make_video_model.json).")
    var kitArguments: String?

    @Option(help: "A Sensorium model configuration (JSON file) or a preset name, instead of the kit's arguments.")
    var config: String?

    @Option(help: "Whose checkpoint STATE is: \(PyTorchCheckpointSystem.allCases.map(\.rawValue).joined(separator: ", ")).")
    var system: PyTorchCheckpointSystem = .starterKit

    @Argument(help: "Mouse folders, or folders holding mouse folders (the mice the model was trained on).")
    var data: [String]

    @Option(name: .shortAndLong, help: "Run folder to write model.h5 into.")
    var output: String

    func validate() throws {
        if data.isEmpty { throw ValidationError("give at least one mouse folder") }
        if kitArguments != nil && config != nil { throw ValidationError("give --kit-arguments or --config, not both") }
    }

    func run() throws {
        let logger = global.makeLogger("import")
        func url(_ path: String) -> URL { URL(fileURLWithPath: (path as NSString).expandingTildeInPath) }
        let description: ImportWorkflow.Description? = kitArguments.map { .starterKitArguments(url($0)) }
            ?? config.map { value in
                FileManager.default.fileExists(atPath: url(value).path) || value.hasSuffix(".json") ? .configuration(url(value)) : .preset(value)
            }
        let result = try ImportWorkflow.importState(folder: url(state), description: description, data: data, output: output,
                                                    system: system)
        logger.info("loaded \(result.model.stateDict().count) tensors for \(result.model.mice.count) mice")
        emit("wrote \(result.file)")
    }
}
