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

    /// ``dwiseneuro`` small enough to train on two cores: a 5-block core of 16–64 channels, a
    /// 2-layer cortex (128, 256), batches of 16 clips, 1 warm-up + 9 cosine epochs, EMA decay 0.99
    /// (a run of a few hundred steps would otherwise validate weights close to the initial ones),
    /// sliding windows at every 3rd end frame, validation on the first 150 frames of each trial.
    public static var dwiseneuroSmall: RunPreset {
        RunPreset(name: "dwiseneuroSmall",
                  summary: "DwiseNeuro's structure and recipe at a size that trains in minutes on two cores (the demo's synthetic mice)") {
            var model = dwiseNeuroModel
            model.core = AnyCoreConfiguration(DwiseNeuroCore.Configuration(
                inChannels: 5, features: [16, 16, 32, 32, 64], spatialStrides: [2, 1, 2, 1, 2], spatialKernel: 3,
                temporalKernel: 5, expansionRatio: 3, seReduceRatio: 8, dropPathRate: 0.1))
            model.stage = AnyStageConfiguration(Cortex.Configuration(inputChannels: 64, features: [128, 256], groups: 2,
                                                                     dropPathRate: 0.1))
            model.readout = .groupedConv(GroupedConvReadout.Configuration(groups: 2, dropout: 0.2, softplusBeta: 0.07))
            var trainer = dwiseNeuroTrainer
            // 3e-4 per 4 clips, as the reference scales its rate with the batch.
            trainer.optimizer = .adamW(.init(learningRate: 3e-4 * 16 / 4, weightDecay: 0.05))
            trainer.schedule = .warmupCosine(.init(warmupEpochs: 1, cosineEpochs: 9, minLearningRate: 3e-6 * 16 / 4,
                                                   warmupFromZero: true))
            trainer.earlyStopping.maxEpochs = 10
            trainer.earlyStopping.warmupEpochs = 1
            trainer.movingAverage = .init(decay: 0.99, warmup: false, averageBuffers: true)
            // Validation is the costly part on a CPU (a forward pass per end frame): every 3rd end
            // frame (each frame still averaged over about 5 windows, both parities) of the first
            // 150 frames of each validation trial, whose last 100 are scored.
            model.inference = .slidingWindows(SlidingWindowInference(stride: 3))
            var data = dwiseNeuroData(batchSize: 16, samplesPerMouse: 160)
            data.validationMaxFrames = 150
            return TrainingRunConfiguration(model: model, trainer: trainer, data: data)
        }
    }

    /// DwiseNeuro's model at the paper's size (§1.2–§1.5 of the winners' spec): ``/SensoriumLayers/DwiseNeuroCore``
    /// (5 input channels, nine inverted-residual blocks, expansion 6), the ``/SensoriumLayers/Cortex``
    /// (1024, 2048, 4096; groups 2), ``/SensoriumReadouts/GroupedConvReadout``s (groups 2, channel
    /// dropout 0.4, Softplus β 0.07), no shifter, no further nonlinearity, biases 0 (the
    /// reference's initialisation), behaviour read uncentred.
    public static var dwiseNeuroModel: VideoModelConfiguration {
        var model = VideoModelConfiguration(seed: 42, core: AnyCoreConfiguration(DwiseNeuroCore.Configuration()),
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
