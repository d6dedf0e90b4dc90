import Testing
import SensoriumTensor
@testable import SensoriumLayers

// Small modules built from raw tensors, so these tests need only the tensor core.

private final class Affine: Module, UnaryLayer {
    let weight: Tensor
    var bias: Tensor?
    init(_ n: Int, bias: Bool = true) {
        weight = Tensor.ones([n, n], requiresGrad: true)
        self.bias = bias ? Tensor.zeros([n], requiresGrad: true) : nil
    }
    func callAsFunction(_ x: Tensor) -> Tensor { x }
}

private final class Norm: Module, UnaryLayer {
    let weight = Tensor.ones([3], requiresGrad: true)
    @Buffer var runningMean = Tensor.zeros([3])
    @Buffer var numBatchesTracked = Tensor(scalar: 0)
    @Transient var cache: Tensor? = Tensor.zeros([100])
    override class var keyOverrides: [String: String] {
        ["runningMean": "running_mean", "numBatchesTracked": "num_batches_tracked"]
    }
    func callAsFunction(_ x: Tensor) -> Tensor { x }
}

private final class Net: Module {
    let features: Sequential
    let heads: [Affine]
    let readouts: [String: Affine]
    var optional: Affine?
    let scale = Tensor.ones([1], requiresGrad: true)
    let basis: [Tensor] = [Tensor.zeros([2]), Tensor.zeros([2])]
    let nonModule = [1, 2, 3]
    override init() {
        features = Sequential(named: [
            ("layer0", Sequential(named: [("conv", Affine(3)), ("norm", Norm())])),
            ("layer1", Sequential(Affine(3, bias: false), Norm())),
        ])
        heads = [Affine(2), Affine(2)]
        readouts = ["mouseB": Affine(1), "mouseA": Affine(1)]
    }
}

/// A subclass adds properties after its superclass's.
private class Base: Module {
    let weight = Tensor.ones([2], requiresGrad: true)
}
private final class Derived: Base, UnaryLayer {
    let extra = Tensor.ones([1], requiresGrad: true)
    weak var parent: Module?
    func callAsFunction(_ x: Tensor) -> Tensor { x }
}

@Suite struct ModuleTests {
    @Test func dottedPathsFollowPyTorchKeys() {
        let net = Net()
        let params = net.namedParameters().map(\.path)
        #expect(params == [
            "features.layer0.conv.weight", "features.layer0.conv.bias", "features.layer0.norm.weight",
            "features.layer1.0.weight", "features.layer1.1.weight",
            "heads.0.weight", "heads.0.bias", "heads.1.weight", "heads.1.bias",
            "readouts.mouseA.weight", "readouts.mouseA.bias", "readouts.mouseB.weight", "readouts.mouseB.bias",
            "scale", "basis.0", "basis.1",
        ])
        let buffers = net.namedBuffers().map(\.path)
        #expect(buffers == [
            "features.layer0.norm.running_mean", "features.layer0.norm.num_batches_tracked",
            "features.layer1.1.running_mean", "features.layer1.1.num_batches_tracked",
        ])
        #expect(Set(net.stateDict().keys) == Set(params + buffers))
    }

    @Test func optionalsAppearWhenSet() {
        let net = Net()
        #expect(!net.namedParameters().contains { $0.path.hasPrefix("optional") })
        net.optional = Affine(1)
        #expect(net.namedParameters().map(\.path).contains("optional.weight"))
        net.optional?.bias = nil
        #expect(!net.namedParameters().map(\.path).contains("optional.bias"))
    }

    @Test func superclassPropertiesComeFirstAndWeakParentsAreIgnoredInCycles() {
        let d = Derived()
        #expect(d.namedParameters().map(\.path) == ["weight", "extra"])
        let outer = Sequential(d)
        d.parent = outer  // a back-reference creates a cycle; the walk skips ancestors
        #expect(outer.namedParameters().map(\.path) == ["0.weight", "0.extra"])
        #expect(outer.modules().count == 2)
    }

    @Test func countingAndSharing() {
        let net = Net()
        // 9+3+3 | 9+3 | 4+2 +4+2 | 1+1+1+1 | 1 | 2+2
        #expect(net.parameterCount == 15 + 12 + 12 + 4 + 1 + 4)
        let shared = Affine(2)
        let tied = Sequential(shared, shared)
        #expect(tied.parameters().count == 2)
        #expect(tied.parameterCount == 6)
        #expect(tied.stateDict().count == 4)  // both paths are saved, as in PyTorch
        #expect(tied.modules().count == 2)
    }

    @Test func trainEvalPropagates() {
        let net = Net()
        #expect(net.modules().allSatisfy { $0.isTraining })
        net.eval()
        #expect(net.modules().allSatisfy { !$0.isTraining })
        #expect(!net.heads[1].isTraining && !net.features.isTraining)
        net.features.train()
        #expect(net.features.modules().allSatisfy { $0.isTraining })
        #expect(!net.isTraining && !net.heads[0].isTraining)
    }

    @Test func freezeByPrefix() {
        let net = Net()
        let frozen = net.freeze(prefix: "features.layer0")
        #expect(frozen == ["features.layer0.conv.weight", "features.layer0.conv.bias", "features.layer0.norm.weight"])
        // `basis` holds frozen parameters from the start (like nn.Parameter(requires_grad=False))
        #expect(net.trainableParameterCount == net.parameterCount - 15 - 4)
        #expect(net.trainableParameters().contains { $0 === net.heads[0].weight })
        #expect(net.freeze(prefix: "features.layer").isEmpty)  // whole components only
        #expect(net.freeze(prefix: "nothing").isEmpty)
        net.unfreeze(prefix: "features")
        #expect(net.trainableParameterCount == net.parameterCount - 4)
        #expect(net.unfreeze(prefix: "basis") == ["basis.0", "basis.1"])
        #expect(net.trainableParameterCount == net.parameterCount)
        net.freeze()
        #expect(net.trainableParameterCount == 0)
        #expect(net.parameters().allSatisfy { !$0.requiresGrad })
    }

    @Test func stateDictRoundTrip() throws {
        let a = Net(), b = Net()
        for (i, t) in a.namedStateTensors().enumerated() {
            t.tensor.withUnsafeMutableBufferPointer { buf in
                for j in buf.indices { buf[j] = Float(i * 100 + j) }
            }
        }
        let saved = a.stateDict()
        try b.loadStateDict(saved)
        let bState = b.stateDict()
        for (key, value) in saved {
            #expect(bState[key]!.scalars == value.scalars, "\(key)")
            #expect(bState[key]!.shape == value.shape)
        }
        // stateDict is a snapshot: changing the module afterwards leaves it alone
        a.scale[0] = -7
        #expect(saved["scale"]!.item != -7)
        // loading copies values, it does not alias the dictionary's tensors
        saved["scale"]![0] = 42
        #expect(b.scale.item != 42)
        // parameter identity and requiresGrad survive loading
        #expect(b.heads[0].weight.requiresGrad)
    }

    @Test func missingKeys() {
        let net = Net()
        var state = net.stateDict()
        state["heads.1.bias"] = nil
        state["features.layer0.norm.running_mean"] = nil
        #expect(throws: ComponentError.stateDictionary(.init(missingKeys: ["features.layer0.norm.running_mean", "heads.1.bias"],
                                                             unexpectedKeys: [], shapeMismatches: []))) {
            try net.loadStateDict(state)
        }
        #expect(throws: Never.self) { try net.loadStateDict(state, strict: false) }
    }

    @Test func unexpectedKeys() {
        let net = Net()
        var state = net.stateDict()
        state["heads.2.weight"] = Tensor.zeros([2, 2])
        state["extra"] = Tensor.zeros([1])
        #expect(throws: ComponentError.stateDictionary(.init(missingKeys: [], unexpectedKeys: ["extra", "heads.2.weight"],
                                                             shapeMismatches: []))) {
            try net.loadStateDict(state)
        }
        #expect(throws: Never.self) { try net.loadStateDict(state, strict: false) }
    }

    @Test func shapeMismatchIsAlwaysAnErrorAndLeavesTheModuleUnchanged() {
        let net = Net()
        var state = net.stateDict()
        for t in state.values { t.withUnsafeMutableBufferPointer { $0.update(repeating: 5) } }
        state["heads.0.weight"] = Tensor.zeros([2, 3])
        let expected = ComponentError.stateDictionary(.init(missingKeys: [], unexpectedKeys: [], shapeMismatches: [
            .init(key: "heads.0.weight", expected: [2, 2], found: [2, 3]),
        ]))
        #expect(throws: expected) { try net.loadStateDict(state) }
        #expect(throws: expected) { try net.loadStateDict(state, strict: false) }
        #expect(net.scale.item == 1)  // nothing written
        do {
            try net.loadStateDict(state)
        } catch {
            let text = error.description
            #expect(text.contains("heads.0.weight") && text.contains("[2, 2]") && text.contains("[2, 3]"))
        }
    }

    @Test func allProblemsReportedTogether() {
        let net = Net()
        var state = net.stateDict()
        state["scale"] = nil
        state["bogus"] = Tensor.zeros([1])
        state["basis.0"] = Tensor.zeros([3])
        do {
            try net.loadStateDict(state)
            Issue.record("expected an error")
        } catch {
            guard case .stateDictionary(let problems) = error else { Issue.record("expected state-dictionary problems, got \(error)"); return }
            #expect(problems.missingKeys == ["scale"])
            #expect(problems.unexpectedKeys == ["bogus"])
            #expect(problems.shapeMismatches == [.init(key: "basis.0", expected: [2], found: [3])])
            #expect(error.description.contains("missing keys: scale"))
            #expect(error.description.contains("unexpected keys: bogus"))
        }
    }

    @Test func zeroGradClearsParameterGradients() {
        let net = Net()
        for p in net.parameters() { p.grad = Tensor.ones(p.shape) }
        net.zeroGrad()
        #expect(net.parameters().allSatisfy { $0.grad == nil })
    }

    @Test func descriptionIsATree() {
        let net = Net()
        let text = net.description
        #expect(text.hasPrefix("Net {"))
        #expect(text.contains("layer0: Sequential {"))
        #expect(text.contains("conv: Affine"))
    }

    @Test func existentialContainersAreDiscovered() {
        final class Holder: Module {
            let blocks: [any UnaryLayer] = [Affine(1), Norm()]
            let byName: [String: any UnaryLayer] = ["b": Affine(1)]
            let single: any UnaryLayer = Affine(1, bias: false)
            var maybe: (any UnaryLayer)? = nil
        }
        let h = Holder()
        #expect(h.namedParameters().map(\.path) == ["blocks.0.weight", "blocks.0.bias", "blocks.1.weight",
                                                   "byName.b.weight", "byName.b.bias", "single.weight"])
        h.maybe = Affine(1, bias: false)
        #expect(h.namedParameters().map(\.path).last == "maybe.weight")
    }

    @Test func sequentialNamesAndAccess() {
        let s = Sequential(named: [("a", Affine(1)), ("b", Norm())])
        #expect(s.count == 2)
        #expect(s["b"] is Norm)
        #expect(s["c"] == nil)
        s.append(Affine(1))
        #expect(s.names == ["a", "b", "2"])
        #expect(s.namedChildren().map(\.key) == ["a", "b", "2"])
    }
}
