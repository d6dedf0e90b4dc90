import SensoriumLayers
import SensoriumReadouts
import SensoriumTraining

extension RunPreset {
    /// DwiseNeuro, the first place of SENSORIUM 2023 (`lRomul/sensorium`, `configs/distillation_001.py`):
    /// the paper-size model (``dwiseNeuroModel``), its recipe (``dwiseNeuroTrainer``) and batches of
    /// 32 clips of 16 frames that mix mice (``dwiseNeuroData(batchSize:samplesPerMouse:)``), 7 folds. For the reference's neuron counts the model's state
    /// dictionary is the reference's (`core.`, `cortex.` ↔ `stage.`, `readouts.<i>.` ↔
    /// `readout.<mouse>.`). Stage 2 (distillation) is this preset with `data.teacherModel` set
    /// (`sensorium train --teacher model.h5`); stage 1 used `expansionRatio` 7.
    public static var dwiseneuro: RunPreset {
        RunPreset(name: "dwiseneuro",
                  summary: "DwiseNeuro (1st place 2023): depth-wise 3-D core, cortex, grouped-conv readouts, mixed-mouse batches, AdamW + warm-up/cosine, EMA") {
            var data = dwiseNeuroData(batchSize: 32, samplesPerMouse: 7200)
            // 7 folds grouped by video identity (§1.6); one run per fold (`fold` 0–6).
            data.folds = 7
            return TrainingRunConfiguration(model: dwiseNeuroModel, trainer: dwiseNeuroTrainer, data: data)
        }
    }

    /// ``dwiseneuro`` small enough to train and be evaluated in minutes on two cores (`make
    /// compare`, Documentation/Winners.md): the same components and recipe shape on a smaller
    /// problem. The frames keep their 36 × 64 (no padding to a 64 × 64 canvas: 44 % fewer
    /// positions); a 5-block core of 8–32 channels that halves the resolution in its first two
    /// blocks; a 2-layer cortex (128, 256); readout biases started at the mean responses; batches
    /// of 16 clips, 320 clips per mouse and epoch (40 steps on two mice); AdamW 3e-3, 1 warm-up +
    /// 11 cosine epochs; EMA decay 0.95 (a run of a few hundred steps would otherwise validate
    /// weights close to the initial ones). Validation, a forward pass per window, is the
    /// costly part on a CPU: as in the paper it is a fold of the training videos grouped by video
    /// (here 10 folds of the train tier: 10 trials per mouse instead of the 20 oracle trials),
    /// cut to its first 110 frames (60 scored), with windows at every 5th end frame (both parities,
    /// each frame still averaged over about 3 windows); test-tier inference uses the same stride.
    public static var dwiseneuroSmall: RunPreset {
        RunPreset(name: "dwiseneuroSmall",
                  summary: "DwiseNeuro's structure and recipe at a size that trains and evaluates in minutes on two cores (the demo's synthetic mice)") {
            var model = dwiseNeuroModel
            model.core = AnyCoreConfiguration(DwiseNeuroCore.Configuration(
                inChannels: 5, features: [8, 16, 16, 32, 32], spatialStrides: [2, 2, 1, 2, 1], spatialKernel: 3,
                temporalKernel: 5, expansionRatio: 3, seReduceRatio: 8, dropPathRate: 0.1))
            model.stage = AnyStageConfiguration(Cortex.Configuration(inputChannels: 32, features: [128, 256], groups: 2,
                                                                     dropPathRate: 0.1))
            model.readout = .groupedConv(GroupedConvReadout.Configuration(groups: 2, dropout: 0.2, softplusBeta: 0.07))
            model.padFramesToSquare = false
            // The readout biases start at the mean response of 16 training trials (through the
            // inverse of the Softplus gate) instead of 0, whose Softplus(β 0.07) is about 9.9 — far
            // above the responses: a run of a few hundred steps would spend them pulling the
            // predictions down (the demo's choice; the paper trains for days from 0).
            model.biasInitializationTrials = 16
            model.inference = .slidingWindows(SlidingWindowInference(stride: 5))
            var trainer = dwiseNeuroTrainer
            // The reference's 3e-4 per 4 clips would be 1.2e-3 for 16; a run of a few hundred steps
            // learns much faster at 3e-3, near the paper's own 2.4e-3 for 32 clips (with the EMA
            // below: validation ρ_st 0.12 after 2 epochs instead of 0.004 at 1.2e-3 and EMA 0.99;
            // Documentation/Winners.md).
            trainer.optimizer = .adamW(.init(learningRate: 3e-3, weightDecay: 0.05))
            trainer.schedule = .warmupCosine(.init(warmupEpochs: 1, cosineEpochs: 11, minLearningRate: 3e-5,
                                                   warmupFromZero: true))
            trainer.earlyStopping.maxEpochs = 12
            trainer.earlyStopping.warmupEpochs = 1
            // The EMA's horizon is 1 / (1 − decay) steps: 0.95 averages the last ~20 of the 40 steps
            // of an epoch (0.999, the paper's, would validate weights close to the initial ones).
            trainer.movingAverage = .init(decay: 0.95, warmup: false, averageBuffers: true)
            var data = dwiseNeuroData(batchSize: 16, samplesPerMouse: 320)
            data.folds = 10
            data.foldTiers = [.train]
            data.validationMaxFrames = 110
            return TrainingRunConfiguration(model: model, trainer: trainer, data: data)
        }
    }

    /// DwiseNeuro's model at the paper's size (§1.2–§1.5 of the winners' spec): ``/SensoriumLayers/DwiseNeuroCore``
    /// (5 input channels, nine inverted-residual blocks, expansion 6), the ``/SensoriumLayers/Cortex``
    /// (1024, 2048, 4096; groups 2), ``/SensoriumReadouts/GroupedConvReadout``s (groups 2, channel
    /// dropout 0.4, Softplus β 0.07), no shifter, no further nonlinearity, biases 0 (the
    /// reference's initialisation), behaviour read uncentred; the core's blocks recompute their
    /// activations in the backward pass (`gradientCheckpointing`, same gradients, less memory).
    public static var dwiseNeuroModel: VideoModelConfiguration {
        // Blocks recomputed in the backward pass (not in the paper, which trains on a GPU): the same
        // gradients for about half the peak memory of a step (6.3 → 3.3 GB at 4 clips) and a sixth
        // more CPU time (Benchmarks/profiles/dwiseneuro-step.md).
        var model = VideoModelConfiguration(seed: 42,
                                            core: AnyCoreConfiguration(DwiseNeuroCore.Configuration(gradientCheckpointing: true)),
                                            readout: .groupedConv(), shifter: nil, outputNonlinearity: .identity,
                                            biasInitializationTrials: 0)
        model.stage = AnyStageConfiguration(Cortex.Configuration())
        // Raw inputs and targets, frames padded to 64 × 64, targets through ReLU (§1.1).
        model.normalizeData = false
        model.padFramesToSquare = true
        model.responsesThroughReLU = true
        // Every end frame, 16 frames every 2nd, predictions averaged over the windows (§1.7).
        model.inference = .slidingWindows()
        return model
    }

    /// DwiseNeuro's data pipeline (§1.1, §1.6): clips of 16 frames taken every 2nd frame ending at
    /// a uniformly drawn frame, `samplesPerMouse` clips of every mouse per epoch shuffled into
    /// batches that mix mice, CutMix with probability 0.5.
    public static func dwiseNeuroData(batchSize: Int, samplesPerMouse: Int) -> TrainingDataSettings {
        var data = TrainingDataSettings(batchSize: batchSize, frames: 16, sampling: .mixedMice)
        data.frameStep = 2
        data.clipPosition = .last
        data.samplesPerMouse = samplesPerMouse
        data.cutMixProbability = 0.5
        return data
    }

    /// DwiseNeuro's recipe (§1.6): AdamW (lr 3e-4 · 32/4 = 2.4e-3, weight decay 0.05), a per-step
    /// linear warm-up from 0 over 3 epochs then a cosine over 18 epochs to 2.4e-5, the per-sample
    /// Poisson loss (``/SensoriumTraining/SamplePoissonLoss``), an EMA (decay 0.999, every step, BN
    /// buffers averaged) that validation and the saved model use, 21 epochs, and the best
    /// validation epoch of the cosine stage kept.
    public static var dwiseNeuroTrainer: TrainerConfiguration {
        TrainerConfiguration(
            seed: 42, optimizer: .adamW(.init(learningRate: 2.4e-3, weightDecay: 0.05)),
            schedule: .warmupCosine(.init(warmupEpochs: 3, cosineEpochs: 18, minLearningRate: 2.4e-5, warmupFromZero: true)),
            loss: .samplePoisson(),
            earlyStopping: .init(interval: 1, patience: Int.max, tolerance: 0, mode: .max, restoreBest: true, lrDecaySteps: 1,
                                 maxEpochs: 21, warmupEpochs: 3),
            movingAverage: .dwiseNeuro)
    }
}
