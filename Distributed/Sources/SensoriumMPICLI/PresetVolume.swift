import ArgumentParser
import Foundation
import Sensorium

/// The data-parallel communication volume of every registered preset: trainable parameters and
/// the bytes of the fused Float gradient all-reduced per optimizer step, for mice of a given size
/// (by default the five SENSORIUM 2023 mice, 7,440–8,202 neurons).
struct PresetVolume: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "preset-volume",
                                                    abstract: "Gradient bytes exchanged per step for every preset.")

    @Option(parsing: .upToNextOption, help: "Neurons of each mouse.")
    var neurons: [Int] = [7863, 7908, 8202, 7939, 8122]

    func run() throws {
        var rows: [[String: Any]] = []
        for preset in RunPreset.registered {
            let configuration = preset.configuration
            let mice = neurons.enumerated().map { MouseNeurons(key: "mouse\($0.offset)", count: $0.element, frameSize: [36, 64]) }
            let model = try VideoModel(configuration: configuration.model, mice: mice)
            let parameters = model.trainableParameterCount
            let readout = model.namedTrainableParameters().filter { $0.path.hasPrefix("readout") }.reduce(0) { $0 + $1.tensor.count }
            rows.append(["preset": preset.name, "trainable_parameters": parameters, "readout_parameters": readout,
                         "fused_buffer_bytes": 4 * (parameters + model.namedTrainableParameters().count + neurons.count)])
        }
        print(String(decoding: try JSONSerialization.data(withJSONObject: ["mice_neurons": neurons, "presets": rows],
                                                          options: [.sortedKeys, .prettyPrinted]), as: UTF8.self))
    }
}
