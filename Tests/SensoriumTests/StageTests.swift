import Foundation
import Testing
@testable import Sensorium
import SensoriumTestSupport

/// A model with a core-to-readout stage, all named in JSON: DwiseNeuro's core, its cortex and the
/// grouped-conv readouts, built, trained for a step and rebuilt from a checkpoint.
@Suite struct StageTests {
    static let json = """
    {"seed": 3,
     "core": {"type": "dwiseneuro", "inChannels": 3, "features": [8, 8, 16], "spatialStrides": [2, 1, 2],
              "expansionRatio": 2, "seReduceRatio": 4, "dropPathRate": 0.1},
     "stage": {"type": "cortex", "features": [16, 32], "groups": 2, "dropPathRate": 0.1},
     "readout": {"type": "groupedConv", "groups": 2, "dropout": 0.2},
     "shifter": {"type": "none"},
     "outputNonlinearity": {"type": "identity"},
     "biasInitializationTrials": 0}
    """

    @Test func coreStageAndReadoutByName() throws {
        let dataset = try TinyMouse.dataset()
        let configuration = try VideoModelConfiguration.fromJSON(Self.json)
        #expect(configuration.stage?.typeName == "cortex")
        let model = try VideoModel(configuration: configuration, datasets: [dataset])
        let cortex = try #require(model.stage as? Cortex)
        #expect(cortex.inputChannels == 16 && cortex.outputChannels == 32, "the stage reads the core's channels")
        let keys = Set(model.stateDict().keys)
        #expect(keys.contains("stage.layers.0.conv.weight") || keys.contains { $0.hasPrefix("stage.layers.0.") })
        #expect(keys.contains { $0.hasPrefix("core.blocks.") } && keys.contains { $0.hasPrefix("readout.\(dataset.name).layer.1.") })

        let loader = MouseLoader(dataset: dataset, tier: .train, batchSize: 2, mode: .clips(frames: 12), generator: RandomGenerator(seed: 2))
        let batch = try #require(try loader.epoch(prefetch: 0).next())
        model.train()
        let y = model.forward(batch)
        #expect(y.shape == [2, 12, dataset.neuronCount])
        (y.square().sum() + model.regularizer(for: batch)!).backward()
        #expect(cortex.parameters().allSatisfy { $0.grad != nil }, "the stage is on the gradient path")

        // The architecture (with the stage) rebuilds the model from a checkpoint, bit for bit.
        try WinnerRegistryTests.expectCheckpointRoundTrip(model, configuration: configuration, batch: batch)
    }

    @Test func viv1tShifterByNameKeepsTheReferenceKeys() throws {
        let json = #"{"core": {"type": "factorized3d", "hiddenChannels": [4], "spatialInputKernel": [3, 3], "temporalInputKernel": 3}, "shifter": {"type": "viv1t", "hiddenFeatures": 4}}"#
        let configuration = try VideoModelConfiguration.fromJSON(json)
        let model = try VideoModel(configuration: configuration, mice: [MouseNeurons(key: "m", count: 3, frameSize: [18, 32])])
        let keys = Set(model.stateDict().keys.filter { $0.hasPrefix("shifter.m.") })
        #expect(keys == ["shifter.m.reg_scale", "shifter.m.mlp.0.weight", "shifter.m.mlp.0.bias", "shifter.m.mlp.2.weight",
                         "shifter.m.mlp.2.bias", "shifter.m.mlp.4.weight", "shifter.m.mlp.4.bias"])
        #expect(model.stateDict()["shifter.m.mlp.0.weight"]?.shape == [4, 2])
    }

    @Test func unknownStageTypesAndOptionsAreRefused() {
        #expect(throws: SensoriumError.self) { try VideoModelConfiguration.fromJSON(#"{"stage": {"type": "thalamus"}}"#) }
        #expect(throws: SensoriumError.self) { try VideoModelConfiguration.fromJSON(#"{"stage": {"type": "cortex", "feature": [8]}}"#) }
    }
}
