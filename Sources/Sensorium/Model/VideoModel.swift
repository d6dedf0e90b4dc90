import Foundation
import SensoriumTensor
import SensoriumLayers
import SensoriumReadouts
import SensoriumData

/// What a ``VideoModel`` built from a ``VideoModelConfiguration`` is made of: the configuration and
/// the mice (data keys and neuron counts), enough to rebuild the model before loading its weights.
/// Stored as JSON in the model's checkpoints.
public struct VideoModelArchitecture: Codable, Sendable, Equatable {
    /// One mouse of the model.
    public struct Mouse: Codable, Sendable, Equatable {
        /// Data key (the mouse folder's name).
        public var name: String
        /// Number of neurons.
        public var neurons: Int
        /// Frame height and width, when a readout depends on them (``/SensoriumReadouts/FullFactorized2d``).
        public var frameSize: [Int]?

        public init(name: String, neurons: Int, frameSize: [Int]? = nil) {
            self.name = name
            self.neurons = neurons
            self.frameSize = frameSize
        }
    }

    /// Marks the JSON as a video model description.
    public var format: String
    /// The built-in parts.
    public var configuration: VideoModelConfiguration
    /// The mice, in readout order.
    public var mice: [Mouse]

    /// The format name stored in ``format``.
    public static let formatName = "sensorium.video_model"

    public init(configuration: VideoModelConfiguration, mice: [Mouse]) {
        self.format = VideoModelArchitecture.formatName
        self.configuration = configuration
        self.mice = mice
    }

    /// The architecture as JSON (sorted keys).
    public func jsonString() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        guard let data = try? encoder.encode(self) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }

    /// Decodes an architecture; nil when `json` is not one (for example a trainer configuration).
    public static func fromJSON(_ json: String) -> VideoModelArchitecture? {
        guard let a = try? JSONDecoder().decode(VideoModelArchitecture.self, from: Data(json.utf8)),
              a.format == formatName else { return nil }
        return a
    }
}

/// A neural predictive model of mouse V1 responses to videos, as the SENSORIUM 2023 baselines
/// (`sensorium_2023`'s `VideoFiringRateEncoder`): a shared ``/SensoriumLayers/Core``, one ``/SensoriumReadouts/Readout`` and one
/// ``/SensoriumReadouts/Shifter`` per mouse, and an output nonlinearity.
///
/// **Forward** on a clip `(B, C, T, H, W)` of mouse `m` with pupil centre `(B, 2, T)`:
/// 1. the core gives features `(B, C', T', H', W')`, `T' = T − core.burnInFrames`;
/// 2. the shifter of `m` maps the pupil centre of the **last `T'` frames**, `(B, T', 2)`, to a
///    per-frame grid shift;
/// 3. the readout of `m` samples the features (shifted) and gives `(B, T', neurons)`;
/// 4. the output nonlinearity (`ELU + 1` in the baselines) makes rates positive, unless the
///    readout applies its own.
///
/// Output frame `t'` is aligned with input frame `T − T' + t'`: predictions cover the last `T'`
/// frames of the clip, and losses and metrics compare them with the last `T'` target frames.
///
/// In evaluation mode an input longer than the window of the model's ``inference`` strategy
/// (``VideoModelConfiguration/inference``: whole trial, DwiseNeuro's sliding windows,
/// Dynamic-V1FM's tiles) is predicted window by window under the same contract; training mode
/// always runs one pass (``singlePass(_:)``).
///
/// State-dictionary keys are the reference model's (`core.features.layer0.conv_spatial.weight`,
/// `readout.<mouse>._features`, `shifter.<mouse>.mlp.0.weight`), except where our module tree
/// differs; ``pytorchKeyMapping`` is the one table of those differences (see ``StateKeyMapping``).
///
/// ```swift
/// let mice = try folders.map { try MouseDataset(path: $0) }
/// let model = try VideoModel(configuration: .factorizedBaseline, datasets: mice)   // pure: reads no trials
/// try model.initializeFromData(mice)            // the reference's readout biases from the data
/// let trainer = Trainer(model: model, data: MouseTrainingData(datasets: mice))
/// try trainer.fit()
/// let report = try Evaluation.evaluate(model, datasets: mice)
/// print(report.summary.formatted())
/// ```
public final class VideoModel: Module, TrainableModel {
    public typealias Batch = MouseBatch

    /// The shared core.
    public let core: any Core
    /// One readout per mouse (keys `readout.<mouse>.…`).
    public let readout: PerMouseReadouts
    /// One shifter per mouse (keys `shifter.<mouse>.…`), or nil.
    public let shifter: PerMouseShifters?
    /// The stage between core and readouts (keys `stage.…`), or nil.
    public let stage: (any Stage)?
    /// The output nonlinearity applied after readouts that do not apply one (nil: none).
    public let outputNonlinearity: (any UnaryLayer)?
    /// The configuration and mice the model was built from (nil for a hand-assembled model).
    @Transient public private(set) var architecture: VideoModelArchitecture?
    /// The generator the model was initialised from and that readouts (position sampling) and
    /// dropout draw from in training.
    @Transient public private(set) var generator: RandomGenerator
    /// Further generators of hand-written parts (saved in training checkpoints with ``generator``).
    @Transient public var extraGenerators: [RandomGenerator] = []
    /// With a behaviour warm-up (``VideoModelConfiguration/behaviorWarmupEpochs``): the factor
    /// (0 or 1, shape [1]) the behaviour input channels are multiplied by, saved with the weights so
    /// that a model stopped during the warm-up keeps reading its inputs as it was trained to.
    @Buffer public var behaviorGate: Tensor?
    /// Training epochs during which the behaviour channels are hidden (0: none).
    @Transient public private(set) var behaviorWarmupEpochs = 0
    /// How the model predicts inputs longer than one pass should read in evaluation mode
    /// (``VideoModelConfiguration/inference``; one pass by default); set with ``useInference(_:)``.
    @Transient public private(set) var inference: AnyInferenceConfiguration = .wholeTrial

    override public class var keyOverrides: [String: String] { ["outputNonlinearity": "output_nonlinearity"] }

    /// A model from its parts.
    ///
    /// - Parameters:
    ///   - core: any ``/SensoriumLayers/Core``.
    ///   - readouts: one readout per mouse; each must expect the channels of the stage's output
    ///     (the core's without a stage).
    ///   - shifters: one shifter per mouse of `readouts`, or nil.
    ///   - stage: the stage between core and readouts, or nil.
    ///   - outputNonlinearity: applied after readouts that do not apply their own (nil: linear).
    ///   - generator: the generator the parts draw from in training (readout sampling, dropout);
    ///     saved in training checkpoints.
    public init(core: any Core, readouts: PerMouseReadouts, shifters: PerMouseShifters? = nil, stage: (any Stage)? = nil,
                outputNonlinearity: (any UnaryLayer)? = ELUPlusOne(), generator: RandomGenerator) {
        let channels = stage?.outputChannels ?? core.outputChannels
        for key in readouts.keys {
            let r = readouts[key]!
            precondition(r.inputChannels == channels,
                         "VideoModel: the readout of \(key) expects \(r.inputChannels) channels, the \(stage == nil ? "core" : "stage") gives \(channels)")
            if let shifters { precondition(shifters[key] != nil, "VideoModel: no shifter for mouse \(key)") }
        }
        self.core = core
        self.stage = stage
        self.readout = readouts
        self.shifter = shifters
        self.outputNonlinearity = outputNonlinearity
        self.generator = generator
        super.init()
    }

    /// A model built from a configuration for the given mice, with fresh weights (seeded by
    /// `configuration.seed`). Mice without coordinates get zero coordinates, which is fine when
    /// the weights (including `source_grid`) are loaded afterwards. Readout biases are left at
    /// their initial values; ``init(configuration:datasets:)`` also sets them from data.
    public convenience init(configuration: VideoModelConfiguration, mice: [MouseNeurons]) throws {
        guard !mice.isEmpty else { throw SensoriumError.incompatibleData("a model needs at least one mouse") }
        for m in mice {
            guard !m.key.isEmpty, !m.key.contains(".") else {
                throw SensoriumError.incompatibleData("the mouse name '\(m.key)' is used as a state-dictionary key and must be non-empty without '.'")
            }
            guard m.count > 0 else { throw SensoriumError.incompatibleData("mouse \(m.key) has no neurons") }
            if let c = m.coordinates, c.rank != 2 || c.shape[0] != m.count || c.shape[1] < 2 {
                throw SensoriumError.incompatibleData("the coordinates of mouse \(m.key) must be (\(m.count), ≥ 2), got \(c.shape)")
            }
            if let size = m.frameSize, size.count != 2 || size.contains(where: { $0 <= 0 }) {
                throw SensoriumError.incompatibleData("the frame size of mouse \(m.key) must be (height, width) with positive sizes, got \(size)")
            }
        }
        if let shifter = configuration.shifter, !configuration.readout.base.acceptsShift {
            throw SensoriumError.invalidConfiguration(source: "(in code)",
                message: "the \(configuration.readout.typeName) readout takes no shift, so the \(shifter.typeName) shifter would compute shifts that nothing uses; use the shifter {\"type\": \"none\"}")
        }
        if Set(mice.map(\.key)).count != mice.count {
            throw SensoriumError.incompatibleData("mouse names must be unique, got \(mice.map(\.key))")
        }
        let g = RandomGenerator(seed: configuration.seed)
        let core: any Core
        let stage: (any Stage)?
        let readouts: PerMouseReadouts
        var shifters: PerMouseShifters?
        do {
            core = try configuration.core.makeCore(generator: g)
            stage = try configuration.stage?.base.makeStage(inputChannels: core.outputChannels, generator: g)
            // The feature map `(C, H', W')` the readouts of a mouse read (one output frame is
            // enough to know it); frames smaller than the core's kernels leave none.
            let videoChannels = configuration.core.inputChannels
            func featureShape(_ m: MouseNeurons, size: [Int]) throws -> [Int] {
                let inputShape = [1, videoChannels, core.burnInFrames + 1, size[0], size[1]]
                if let problem = core.inputProblem(for: inputShape) {
                    throw SensoriumError.incompatibleData("the \(configuration.core.typeName) core cannot read the frames of mouse \(m.key): \(problem)")
                }
                let coreShape = core.outputShape(for: inputShape)
                let shape = stage?.outputShape(for: coreShape) ?? coreShape
                guard shape.count == 5, shape[3] > 0, shape[4] > 0 else {
                    throw SensoriumError.incompatibleData("frames of \(size[0]) × \(size[1]) (mouse \(m.key)) are too small for the \(configuration.core.typeName) core: its kernels and strides leave a feature map of \(shape.count == 5 ? "\(shape[3]) × \(shape[4])" : "\(shape)"); use smaller kernels or strides (or padding)")
                }
                return [shape[1], shape[3], shape[4]]
            }
            for m in mice { if let size = m.frameSize { _ = try featureShape(m, size: size) } }
            let context = ReadoutContext(inputChannels: stage?.outputChannels ?? core.outputChannels, mice: mice) { m in
                guard let size = m.frameSize else {
                    throw SensoriumError.incompatibleData("the \(configuration.readout.typeName) readout needs the frame size of mouse \(m.key)")
                }
                return try featureShape(m, size: size)
            }
            readouts = try configuration.readout.base.makeReadouts(for: context, generator: g)
            if let shifter = configuration.shifter {
                let s = PerMouseShifters()
                for m in mice { s.insert(try shifter.base.makeShifter(generator: g), for: m.key) }
                shifters = s
            }
        } catch let error as ComponentError {
            throw SensoriumError.invalidConfiguration(source: "(in code)", message: error.description)
        }
        let outputNonlinearity: (any UnaryLayer)?
        do { outputNonlinearity = try configuration.outputNonlinearity.makeLayer() } catch let error as ComponentError {
            throw SensoriumError.invalidConfiguration(source: "(in code)", message: error.description)
        }
        self.init(core: core, readouts: readouts, shifters: shifters, stage: stage,
                  outputNonlinearity: outputNonlinearity, generator: g)
        architecture = VideoModelArchitecture(configuration: configuration,
                                              mice: mice.map { .init(name: $0.key, neurons: $0.count, frameSize: $0.frameSize) })
        try useInference(configuration.inference)
        if configuration.behaviorWarmupEpochs > 0 && configuration.core.inputChannels >= 3 {
            behaviorWarmupEpochs = configuration.behaviorWarmupEpochs
            behaviorGate = Tensor([0], shape: [1])
        }
    }

    /// A model for the mice of `datasets` (named by their folders, with their neuron counts,
    /// cortical coordinates and frame sizes), fresh weights seeded by `configuration.seed`. Pure:
    /// it reads no trials. The reference also sets readout biases from data, and the demo starts
    /// readouts at mapped receptive fields: run those steps with ``initializeFromData(_:)``.
    ///
    /// Throws when the core's input channels differ from the datasets' or a mouse name cannot be
    /// a key.
    public convenience init(configuration: VideoModelConfiguration, datasets: [MouseDataset]) throws {
        guard !datasets.isEmpty else { throw SensoriumError.incompatibleData("no mouse datasets given") }
        for d in datasets where d.options.inputChannels != configuration.core.inputChannels {
            throw SensoriumError.incompatibleData(
                "mouse \(d.name) gives \(d.options.inputChannels) input channels (frame\(d.options.behaviorAsChannels ? " + behaviour" : "")\(d.options.pupilCenterAsChannels ? " + pupil centre" : "")), the \(configuration.core.typeName) core expects \(configuration.core.inputChannels)")
        }
        for d in datasets where d.options.behaviorAsChannels && d.options.centerBehavior != configuration.centerBehavior {
            throw SensoriumError.incompatibleData(
                "mouse \(d.name) was opened with behaviour \(d.options.centerBehavior ? "centred" : "uncentred"), the model reads it \(configuration.centerBehavior ? "centred" : "uncentred") (VideoModelConfiguration.centerBehavior)")
        }
        try self.init(configuration: configuration, mice: datasets.map(MouseNeurons.init(dataset:)))
    }

    /// A model rebuilt from its architecture (fresh weights; load a state afterwards).
    public convenience init(architecture: VideoModelArchitecture) throws {
        try self.init(configuration: architecture.configuration,
                      mice: architecture.mice.map { MouseNeurons(key: $0.name, count: $0.neurons, frameSize: $0.frameSize) })
    }

    // MARK: Forward

    /// The mice (data keys) the model has readouts for.
    public var mice: [String] { readout.keys }

    /// Predicted responses `(B, T', neurons)` of mouse `mouse` for a video batch `(B, C, T, H, W)`
    /// and its pupil centre `(B, 2, T)` (needed when the model has shifters). Output frame `t'` is
    /// aligned with input frame `T − T' + t'`.
    public func callAsFunction(video: Tensor, pupilCenter: Tensor?, mouse: String) -> Tensor {
        self(ModelInput(video: video, pupilCenter: pupilCenter, mouse: mouse))
    }

    /// Predicted responses `(B, T', neurons)` for a whole model input: the core (which may read the
    /// behaviour), the stage, the mouse's shifter on the pupil centre of the last `T'` frames, the
    /// mouse's readout (which may read the behaviour) and the output nonlinearity. Output frame
    /// `t'` is aligned with input frame `T − T' + t'`.
    ///
    /// In evaluation mode an input longer than the ``inference`` strategy's window goes through
    /// that strategy (windows of ``singlePass(_:)`` assembled into the same contract); in training
    /// mode, and for shorter inputs, this is one ``singlePass(_:)``.
    public func callAsFunction(_ input: ModelInput) -> Tensor {
        if !isTraining && inference.applies(toFrames: input.video.shape[2]) {
            return inference.predict(input) { singlePass($0) }
        }
        return singlePass(input)
    }

    /// One pass of the model over the whole input, whatever the ``inference`` strategy:
    /// `(B, T', neurons)` aligned with the last `T'` frames.
    public func singlePass(_ input: ModelInput) -> Tensor {
        precondition(readout[input.mouse] != nil, "VideoModel: no readout for mouse '\(input.mouse)'; the model knows \(readout.keys)")
        let shared = sharedFeatures(input)
        return readoutPass(mouse: input.mouse, shared)
    }

    /// What every mouse's readout reads from one pass: the input with its behaviour gated, the
    /// core's (and stage's) features `(B, C', T', H', W')`, and the pupil centre of the last `T'`
    /// frames `(B, T', 2)` when the model has shifters.
    struct SharedFeatures {
        var gated: ModelInput
        var features: Tensor
        var lastPupil: Tensor?
    }

    /// The core and the stage on `input` (one run, whatever the number of readouts that follow).
    func sharedFeatures(_ input: ModelInput) -> SharedFeatures {
        var gated = input
        gated.video = gatedBehavior(input.video)
        let coreFeatures = core(gated)
        let features = stage.map { $0(coreFeatures, input: gated) } ?? coreFeatures
        var lastPupil: Tensor?
        if shifter != nil {
            guard let pupilCenter = input.pupilCenter else { preconditionFailure("VideoModel: the model has shifters and needs the pupil centre") }
            precondition(pupilCenter.shape[1] == 2, "VideoModel: pupil centre must be (B, 2, T), got \(pupilCenter.shape)")
            lastPupil = ModelInput.lastFrames(pupilCenter, features.shape[2])
        }
        return SharedFeatures(gated: gated, features: features, lastPupil: lastPupil)
    }

    /// Mouse `mouse`'s shifter, readout and output nonlinearity on shared features: `(B, T', neurons)`.
    func readoutPass(mouse: String, _ shared: SharedFeatures) -> Tensor {
        var input = shared.gated
        input.mouse = mouse
        let shift = shared.lastPupil.map { shifter!($0, dataKey: mouse) }
        let r = readout[mouse]!
        let y = r.callAsFunction(shared.features, shift: shift, input: input)
        guard !r.appliesOutputNonlinearity, let outputNonlinearity else { return y }
        return outputNonlinearity(y)
    }

    /// Sets the inference strategy after checking it against the model (a window must give output
    /// frames, and a strategy must predict every frame it promises); throws
    /// ``SensoriumError/invalidConfiguration(source:message:)`` naming the problem. Also recorded in
    /// ``architecture``, so checkpoints keep it.
    public func useInference(_ strategy: AnyInferenceConfiguration) throws {
        // Output frames of one pass, probed on a mouse's frame size when known (else T − burn-in).
        let channels = architecture?.configuration.core.inputChannels
        let frameSize = architecture?.mice.lazy.compactMap(\.frameSize).first
        let burnIn = core.burnInFrames
        do {
            try strategy.check { frames -> Int? in
                guard frames > burnIn else { return nil }
                guard let size = frameSize, let channels else { return frames - burnIn }
                let shape = core.outputShape(for: [1, channels, frames, size[0], size[1]])
                return (stage?.outputShape(for: shape) ?? shape)[2]
            }
        } catch let error as ComponentError {
            throw SensoriumError.invalidConfiguration(source: "(in code)", message: error.description)
        }
        inference = strategy
        architecture?.configuration.inference = strategy
    }

    /// The video with its behaviour channels (1 and 2) multiplied by ``behaviorGate`` (unchanged
    /// without a gate or when it is open); differentiable, so input gradients keep flowing.
    func gatedBehavior(_ video: Tensor) -> Tensor {
        guard let gate = behaviorGate?.scalars.first, gate != 1, video.shape[1] >= 3 else { return video }
        var factors = [Float](repeating: 1, count: video.shape[1])
        factors[1] = gate
        factors[2] = gate
        return video * Tensor(factors, shape: [1, video.shape[1], 1, 1, 1])
    }

    /// Opens the behaviour gate once the warm-up epochs are over (called by the ``/SensoriumTraining/Trainer``).
    public func epochWillStart(_ epoch: Int) {
        guard let gate = behaviorGate, epoch >= behaviorWarmupEpochs, gate.scalars.first != 1 else { return }
        gate.assign(Tensor([1], shape: [1]))
    }

    /// Predictions for a batch of clips or trials: `(B, T', neurons)`, aligned with the last `T'`
    /// frames of the batch. For a batch that mixes mice, every mouse's predictions for every
    /// sample, `(B, T', Σ N)` (``forwardMixture(_:mixture:)``).
    public func forward(_ batch: MouseBatch) -> Tensor {
        if let mixture = batch.mixture { return forwardMixture(batch, mixture: mixture) }
        return self(ModelInput(video: batch.videoTensor(), behavior: batch.behaviorTensor(), pupilCenter: batch.pupilCenterTensor(),
                        mouse: batch.mouse))
    }

    /// The core's regulariser plus the batch mouse's readout and shifter regularisers (zero for the
    /// baselines' readouts and MLP shifters, so this is the reference's core-only term there); for a
    /// batch that mixes mice, every mouse's once (``regularizerAllMice()``).
    public func regularizer(for batch: MouseBatch) -> Tensor? {
        if batch.mixture != nil { return regularizerAllMice() }
        var total = core.regularizer()
        if let stage { total = total + stage.regularizer() }
        if readout[batch.mouse] != nil { total = total + readout.regularizer(dataKey: batch.mouse) }
        if let shifter, shifter[batch.mouse] != nil { total = total + shifter.regularizer(dataKey: batch.mouse) }
        return total
    }

    public var randomGenerators: [RandomGenerator] { [generator] + extraGenerators }

    /// Number of frames the core consumes before its first output (`T − T'`).
    public var burnInFrames: Int { core.burnInFrames }

    /// Checks that every dataset has a readout with the right number of neurons and the model's
    /// input channels; throws ``SensoriumError/incompatibleData(_:)`` naming the problem.
    public func checkCompatible(with datasets: [MouseDataset]) throws {
        for d in datasets {
            guard let r = readout[d.name] else {
                throw SensoriumError.incompatibleData("the model has no readout for mouse \(d.name); it knows \(readout.keys.joined(separator: ", "))")
            }
            guard r.neuronCount == d.neuronCount else {
                throw SensoriumError.incompatibleData("mouse \(d.name) has \(d.neuronCount) neurons, the model's readout \(r.neuronCount)")
            }
            if let architecture, d.options.inputChannels != architecture.configuration.core.inputChannels {
                throw SensoriumError.incompatibleData("mouse \(d.name) gives \(d.options.inputChannels) input channels, the core expects \(architecture.configuration.core.inputChannels)")
            }
        }
    }

    override public var extraDescription: String {
        "\(readout.count) mice, burn-in \(core.burnInFrames) frames"
    }
}
