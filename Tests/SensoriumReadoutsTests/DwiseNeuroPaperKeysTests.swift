import Foundation
import Testing
import SensoriumTensor
import SensoriumLayers
import SensoriumReadouts
import SensoriumTestSupport

/// The paper configuration (`dwiseneuro_paper_keys.json` in the winner fixtures): the components
/// built from its `config` and `mice` give exactly the reference's `state_dict` keys and shapes
/// (stage 2, `distillation_001`, and stage 1, `true_batch_001`, expansion 7), so released
/// checkpoints load by key. The models are built with ``DeferredInitialization`` (the same
/// construction code, without the 170 M initial draws), as the reference lists were made on
/// PyTorch's `meta` device.
@Suite struct DwiseNeuroPaperKeysTests {
    static let file = DwiseNeuroFixtureTests.folder.appendingPathComponent("dwiseneuro_paper_keys.json")

    private static func keyShapes(_ entries: Any?) throws -> [String: [Int]] {
        guard let entries = entries as? [[String: Any]] else { throw FixtureError.malformed("paper keys: no key list") }
        var out: [String: [Int]] = [:]
        for entry in entries {
            guard let key = entry["key"] as? String, let shape = entry["shape"] as? [Int] else {
                throw FixtureError.malformed("paper keys: malformed entry \(entry)")
            }
            out[key] = shape
        }
        return out
    }

    @Test func paperConfigurationHasThePaperKeys() throws {
        let json = try Fixtures.json(Self.file)
        let config = try #require(json["config"] as? [String: Any])
        let mice = try #require(json["mice"] as? [[String: Any]])
        let neurons = try mice.sorted { ($0["readout_index"] as? Int ?? 0) < ($1["readout_index"] as? Int ?? 0) }.map {
            guard let n = $0["neurons"] as? Int else { throw FixtureError.malformed("paper keys: mouse without neurons") }
            return n
        }
        #expect(mice.compactMap { $0["readout_index"] as? Int }.sorted() == Array(0..<mice.count))
        let stage2 = try DwiseNeuroAssembly.Configurations(reference: config, neurons: neurons, ignoring: ["config_file"])
        // The defaults of the component configurations are the paper's.
        #expect(stage2.core == DwiseNeuroCore.Configuration())
        #expect(stage2.cortex == Cortex.Configuration())
        for (i, readout) in stage2.readouts.enumerated() {
            #expect(readout.neurons == neurons[i] && readout.configuration == GroupedConvReadout.Configuration())
        }

        let model = DeferredInitialization.run { DwiseNeuroAssembly(stage2, generator: RandomGenerator(seed: 1)) }
        let ours = Dictionary(uniqueKeysWithValues: model.namedStateTensors().map { ($0.path, $0.tensor.shape) })
        #expect(ours == (try Self.keyShapes(json["keys"])))
        #expect(model.parameterCount == json["num_parameters"] as? Int)

        // Stage 1 differs only in the expansion ratio.
        let stage1Json = try #require(json["stage1_true_batch_001"] as? [String: Any])
        var stage1 = stage2
        stage1.core.expansionRatio = 7
        let stage1Model = DeferredInitialization.run { DwiseNeuroAssembly(stage1, generator: RandomGenerator(seed: 2)) }
        let stage1Keys = Dictionary(uniqueKeysWithValues: stage1Model.namedStateTensors().map { ($0.path, $0.tensor.shape) })
        #expect(stage1Keys == (try Self.keyShapes(stage1Json["keys"])))
        #expect(stage1Model.parameterCount == stage1Json["num_parameters"] as? Int)
    }
}
