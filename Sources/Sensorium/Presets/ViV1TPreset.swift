import SensoriumLayers
import SensoriumReadouts
import SensoriumTraining

extension VideoModelConfiguration {
    /// ViV1T (SENSORIUM 2023, 3rd place) at the paper's size: the factorised video transformer
    /// ``/SensoriumLayers/ViViTCore`` (tubelets 25 × 7 × 7, width 112, 3 spatial + 5 temporal parallel
    /// blocks of 11 heads × 48), ``/SensoriumReadouts/ViV1TGaussianReadout`` with the behaviour state vector,
    /// the 3-layer ``/SensoriumReadouts/ViV1TShifter``, `exp` output; behaviour and pupil centre scaled per
    /// frame with min and max, videos min-max scaled (see ``viv1tModel(core:)``).
    public static var viv1t: VideoModelConfiguration {
        var core = ViViTCore.Configuration()
        // Recompute each block in backward (results unchanged): one 140-frame clip needs 8.3 GB of
        // activations without, 2.3 GB with (Documentation/ViV1T.md).
        core.gradientCheckpointing = true
        return viv1tModel(core: core)
    }

    /// ViV1T's structure at a size that trains on two CPU cores: tubelets 5 × 6 × 6 with stride
    /// 1, 4, 4 (8 × 15 = 120 patches of a 36 × 64 frame), width 32, one spatial and two temporal
    /// blocks of 4 heads × 16, feed-forward 48; the paper's dropouts.
    public static var viv1tSmall: VideoModelConfiguration {
        var core = ViViTCore.Configuration()
        core.embeddingDim = 32
        core.heads = 4
        core.headDim = 16
        core.mlpDim = 48
        core.spatialDepth = 1
        core.temporalDepth = 2
        core.temporalPatch = 5
        core.spatialPatch = 6
        core.spatialStride = 4
        return viv1tModel(core: core)
    }

    /// A ViV1T model around `core`: the ViV1T Gaussian readout (positions from cortical xy, full
    /// σ, behaviour state vector, bias from the mean training response), the ViV1T shifter, `exp`
    /// output, seed 1234 (`train.py`'s); inputs normalised as `transform_mode` 2 intends
    /// (``minMaxBehavior``, ``videoNormalization`` `.minMax`; the released code's video variant is
    /// `.viv1tMeanStd`), responses × precision as in every preset.
    public static func viv1tModel(core: ViViTCore.Configuration) -> VideoModelConfiguration {
        var model = VideoModelConfiguration(seed: 1234, core: .vivit(core),
                                            readout: AnyReadoutConfiguration(ViV1TGaussianReadout.Configuration()),
                                            shifter: AnyShifterConfiguration(ViV1TShifter.Configuration()),
                                            outputNonlinearity: .exponential)
        model.videoNormalization = .minMax
        model.minMaxBehavior = true
        return model
    }
}

extension TrainerConfiguration {
    /// ViV1T's recipe (`train.py` defaults for `--core vivit`): ``/SensoriumTraining/PoissonCorrelationLoss``
    /// (Poisson + 1000 · Σ(1 − corr), × √(train trials / batch)); AdamW (0.9, 0.999, 1e-8), readouts
    /// and shifters lr 3.6e-3, weight decay 0.3939, the core (`core.` keys) lr 4.8e-3, weight decay
    /// 0.1789; no gradient clipping; on a plateau of 5 epochs without a better validation
    /// correlation the best weights are restored and every rate × 0.3; training stops after 3
    /// plateaus in a row without improvement or 400 epochs, with the best weights; validation skips
    /// the first 50 frames of each trial.
    public static var viv1t: TrainerConfiguration {
        let core = ParameterGroup(name: "core", prefixes: ["core."], learningRate: 4.8e-3, weightDecay: 0.1789)
        let optimizer = AdamW.Configuration(learningRate: 3.6e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.3939,
                                            parameterGroups: [core])
        let stopping = EarlyStopping.Configuration(interval: 1, patience: 5, tolerance: 0, mode: .max, restoreBest: true,
                                                   lrDecaySteps: 3, maxEpochs: 400, resetDecayStepsOnImprovement: true)
        return TrainerConfiguration(seed: 1234, optimizer: .adamW(optimizer), schedule: .decayOnPlateau(),
                                    loss: .poissonCorrelation(), earlyStopping: stopping, gradientClipNorm: nil,
                                    validationSkipFrames: 50)
    }
}

extension RunPreset {
    /// ViV1T at the paper's size with its recipe: batch 6 of 140-frame clips, validation on the
    /// oracle tier's whole trials (one per batch, at most 300 frames: the temporal position table's
    /// length).
    public static var viv1t: RunPreset {
        RunPreset(name: "viv1t",
                  summary: "ViV1T (3rd place): the paper-size factorised video transformer, behaviour in the readout, exp output; Poisson + correlation loss, AdamW core/readout groups, plateau restore ×0.3") {
            TrainingRunConfiguration(model: .viv1t, trainer: .viv1t,
                                     data: TrainingDataSettings(batchSize: 6, frames: 140, validationTier: .oracle,
                                                                validationBatchSize: 1, validationMaxFrames: 300))
        }
    }

    /// ViV1T's structure and recipe at a size for two CPU cores (``VideoModelConfiguration/viv1tSmall``):
    /// batch 6 of 40-frame clips, at most 40 epochs, validation on the first 150 frames of the oracle
    /// trials (100 scored; whole 300-frame trials cost about as much CPU as an epoch of training
    /// on the demo's mice, and temporal attention grows with the square of the frames).
    public static var viv1tSmall: RunPreset {
        RunPreset(name: "viv1tSmall",
                  summary: "ViV1T's structure and recipe, small enough to train on two CPU cores (tubelets 5 × 6 × 6, width 32, 1 + 2 blocks, 40-frame clips)") {
            var trainer = TrainerConfiguration.viv1t
            trainer.earlyStopping.maxEpochs = 40
            return TrainingRunConfiguration(model: .viv1tSmall, trainer: trainer,
                                            data: TrainingDataSettings(batchSize: 6, frames: 40, validationTier: .oracle,
                                                                       validationBatchSize: 1, validationMaxFrames: 150))
        }
    }
}
