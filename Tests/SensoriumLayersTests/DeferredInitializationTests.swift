import Testing
import SensoriumTensor
import SensoriumLayers

/// Modules built without initial draws have the structure of normally built ones and compute the
/// same function once a state is loaded.
@Suite struct DeferredInitializationTests {
    @Test func sameStructureAndLoadable() throws {
        let configuration = DwiseNeuroCore.Configuration(features: [4, 6], spatialStrides: [2, 1], expansionRatio: 2,
                                                         seReduceRatio: 4)
        let generator = RandomGenerator(seed: 1)
        let reference = DwiseNeuroCore(configuration: configuration, generator: RandomGenerator(seed: 2))
        let stateBefore = generator.state
        let deferred = DeferredInitialization.run {
            DwiseNeuroCore(configuration: configuration, generator: generator)
        }
        #expect(generator.state == stateBefore, "no random draws inside DeferredInitialization.run")
        #expect(!DeferredInitialization.isActive)
        let shapes = { (m: Module) in Dictionary(uniqueKeysWithValues: m.namedStateTensors().map { ($0.path, $0.tensor.shape) }) }
        #expect(shapes(deferred) == shapes(reference))
        #expect(deferred.parameterCount == reference.parameterCount)

        try deferred.loadStateDict(reference.stateDict())
        reference.eval()
        deferred.eval()
        let x = Tensor.randomNormal([1, 5, 2, 6, 6], generator: RandomGenerator(seed: 3))
        #expect(deferred(x).scalars == reference(x).scalars)

        // Outside `run`, construction draws again.
        _ = Conv1d(2, 2, kernelSize: 1, generator: generator)
        #expect(generator.state != stateBefore)
    }
}
