import Foundation
import Testing
import SensoriumTensor
import SensoriumLayers
import SensoriumTestSupport
@testable import SensoriumReadouts

@Suite struct HierarchicalConfigurationTests {
    @Test func inferModes() throws {
        typealias C = HierarchicalGaussianReadout.Configuration
        #expect(try C.activeLevels(inferMode: "0") == [])
        #expect(try C.activeLevels(inferMode: "2_4_8_16") == [2, 4, 8, 16])
        #expect(try C.activeLevels(inferMode: "4_16") == [4, 16])
        for bad in ["", "3", "2__4", "2_2", "2_4_32", "all"] {
            #expect(throws: HierarchicalReadoutError.self, "\(bad)") { try C.activeLevels(inferMode: bad) }
        }
    }

    @Test func paperDefaultsBuildTheReferenceLayout() throws {
        let configuration = HierarchicalGaussianReadout.Configuration()
        #expect(configuration.fusion == .adaptive && configuration.activeLevels == [2, 4, 8, 16] && configuration.initSigma == 0.2
                && configuration.positionNetwork.hiddenFeatures == 32)
        let coordinates = Tensor.randomNormal([37, 3], generator: RandomGenerator(seed: 1))
        let readout = HierarchicalGaussianReadout(configuration: configuration, inputChannels: 5, cellMotorCoordinates: coordinates,
                                                  generator: RandomGenerator(seed: 2))
        let shapes = Dictionary(uniqueKeysWithValues: readout.namedStateTensors().map { ($0.path, $0.tensor.shape) })
        #expect(shapes["_features"] == [1, 5, 1, 37] && shapes["_features16"] == [1, 5, 1, 2])
        #expect(shapes["mu_transform.0.weight"] == [32, 2] && shapes["source_grid"] == [37, 2] && shapes["sigma"] == [1, 37, 2, 2])
        #expect(shapes["up_refine16.0.weight"] == [256, 1, 1] && shapes["fusion_block5.module.2.weight"] == [5, 5])
        #expect(shapes["_mu"] == nil)
        let encoded = try JSONEncoder().encode(configuration)
        #expect(try JSONDecoder().decode(HierarchicalGaussianReadout.Configuration.self, from: encoded) == configuration)
    }
}
