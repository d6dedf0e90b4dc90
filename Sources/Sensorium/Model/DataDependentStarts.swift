import Foundation
import SensoriumTensor
import SensoriumReadouts
import SensoriumData

extension MouseNeurons {
    /// The description of a mouse dataset a model is built for: its folder name, neuron count,
    /// cortical coordinates and input frame size (the canvas when frames are padded; no trial is read).
    public init(dataset d: MouseDataset) {
        self.init(key: d.name, count: d.neuronCount,
                  coordinates: Tensor(d.cellMotorCoordinates, shape: [d.neuronCount, 3]),
                  frameSize: [d.inputHeight, d.inputWidth])
    }
}

/// A data-dependent start: a named step that sets part of a freshly built model from the training
/// trials. Building a model never reads data; workflows run these steps explicitly
/// (``VideoModel/initializeFromData(_:)`` runs the ones the configuration asks for).
public enum DataDependentStart: Sendable, Equatable {
    /// Readout biases from the mean normalised response of `trials` random training trials per
    /// mouse (the reference's `make_video_model`), through the inverse output nonlinearity when
    /// `throughInverseNonlinearity` (see ``VideoModelConfiguration/biasThroughInverseNonlinearity``).
    case readoutBiases(trials: Int, throughInverseNonlinearity: Bool)
    /// Gaussian readout positions at the receptive fields mapped from the training trials.
    case receptiveFieldPositions(ReceptiveFieldMap.Options)
}

extension VideoModelConfiguration {
    /// The data-dependent starts this configuration asks for, in the order they run.
    public var dataDependentStarts: [DataDependentStart] {
        var steps: [DataDependentStart] = []
        if biasInitializationTrials > 0 {
            steps.append(.readoutBiases(trials: biasInitializationTrials, throughInverseNonlinearity: biasThroughInverseNonlinearity))
        }
        if case .receptiveFieldMapping(let options) = readoutPositionInitialization {
            steps.append(.receptiveFieldPositions(options))
        }
        return steps
    }
}

extension VideoModel {
    /// Runs the data-dependent starts of the model's configuration on the mice of `datasets`
    /// (each must have a readout): what the reference does after building a model, and what the
    /// training workflows call. Does nothing for a hand-assembled model.
    public func initializeFromData(_ datasets: [MouseDataset]) throws {
        guard let configuration = architecture?.configuration else { return }
        for step in configuration.dataDependentStarts { try initialize(step, from: datasets) }
    }

    /// Runs one data-dependent start on the mice of `datasets`.
    public func initialize(_ step: DataDependentStart, from datasets: [MouseDataset]) throws {
        try checkCompatible(with: datasets)
        switch step {
        case .readoutBiases(let trials, let throughInverse):
            try initializeReadoutBiases(from: datasets, trials: trials, throughInverseNonlinearity: throughInverse)
        case .receptiveFieldPositions(let options):
            for d in datasets {
                try initializeReadoutPositions(mouse: d.name, map: ReceptiveFieldMap.estimate(dataset: d, options: options))
            }
        }
    }

    /// Sets every readout's bias to the mean normalised response of `trials` random training
    /// trials of its mouse (drawn with a generator seeded from the configuration's seed), passed
    /// through the inverse of the output nonlinearity when `throughInverseNonlinearity` and the
    /// readout does not apply its own.
    public func initializeReadoutBiases(from datasets: [MouseDataset], trials: Int, throughInverseNonlinearity: Bool) throws {
        let seed = architecture?.configuration.seed ?? 42
        let g = RandomGenerator(seed: seed ^ 0x5EED_B1A5)
        let output = architecture?.configuration.outputNonlinearity
        for d in datasets {
            guard let r = readout[d.name] else {
                throw SensoriumError.incompatibleData("the model has no readout for mouse \(d.name)")
            }
            var mean = try VideoModel.meanResponses(of: d, trials: trials, generator: g)
            if throughInverseNonlinearity, !r.appliesOutputNonlinearity, let output {
                mean = Tensor(mean.scalars.map { output.inverse($0) }, shape: mean.shape)
            }
            r.initializeBias(meanResponses: mean)
        }
    }

    /// The mean normalised response of every neuron over `trials` random training trials (all of
    /// them when there are fewer), `(neurons)`.
    public static func meanResponses(of dataset: MouseDataset, trials: Int, generator: RandomGenerator) throws -> Tensor {
        var pool = dataset.trials(in: .train)
        if pool.isEmpty { pool = dataset.tiers.indices.filter { dataset.tiers[$0] != .none } }
        guard !pool.isEmpty else { throw SensoriumError.incompatibleData("mouse \(dataset.name) has no trials") }
        // Partial Fisher–Yates: the first `count` entries become a uniform random sample.
        let count = min(trials, pool.count)
        for i in 0..<count {
            let j = i + Int(generator.next() % UInt64(pool.count - i))
            pool.swapAt(i, j)
        }
        let n = dataset.neuronCount
        var sums = [Double](repeating: 0, count: n)
        var frames = 0
        for trial in pool.prefix(count).sorted() {
            let t = try dataset.readTrial(trial)
            t.responses.withUnsafeBufferPointer { r in
                for f in 0..<t.length {
                    let row = r.baseAddress! + f * n
                    for j in 0..<n { sums[j] += Double(row[j]) }
                }
            }
            frames += t.length
        }
        let scale = frames > 0 ? 1 / Double(frames) : 0
        return Tensor(sums.map { Float($0 * scale) }, shape: [n])
    }

}
