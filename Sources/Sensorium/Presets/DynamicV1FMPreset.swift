extension RunPreset {
    /// Dynamic-V1FM (2nd place, SENSORIUM 2023; `zhuyu-cs/Dynamic-VFM`, `config/neuroencoding.py`):
    /// ``VideoModelConfiguration/dynamicV1FM`` trained with `TrainerConfiguration.dynamicV1FM` on
    /// 30-frame clips, batches of 32 clips of one mouse with an optimizer step per batch (mice in
    /// round robin), validated on the oracle tier.
    public static var dynamicV1FM: RunPreset {
        RunPreset(name: "dynamicV1FM",
                  summary: "Dynamic-V1FM (2nd place): 3-D Swin core with behaviour in every block, hierarchical readout (adaptive fusion), shifter; AdamW + cosine restart, 180 epochs of 30-frame clips") {
            var data = TrainingDataSettings(batchSize: 32, frames: 30, validationTier: .oracle)
            data.stepEveryBatch = true
            return TrainingRunConfiguration(model: .dynamicV1FM, trainer: .dynamicV1FM, data: data)
        }
    }

    /// ``dynamicV1FM`` at a size that trains on two CPU cores: the same structure and recipe
    /// (``VideoModelConfiguration/dynamicV1FMSmall``, `TrainerConfiguration.dynamicV1FMSmall`),
    /// batches of 8 clips, validation trials capped at 150 frames.
    public static var dynamicV1FMSmall: RunPreset {
        RunPreset(name: "dynamicV1FMSmall",
                  summary: "Dynamic-V1FM at laptop size (Swin core 32 channels, 2 blocks, windows 4×6×8; same readout, shifter, loss and schedule shape; biases start at the mean response; 8 epochs)") {
            var data = TrainingDataSettings(batchSize: 8, frames: 30, validationTier: .oracle, validationBatchSize: 10,
                                            validationMaxFrames: 150)
            data.stepEveryBatch = true
            return TrainingRunConfiguration(model: .dynamicV1FMSmall, trainer: .dynamicV1FMSmall, data: data)
        }
    }
}

extension VideoModelConfiguration {
    /// Dynamic-V1FM's model at the paper's size (`config/neuroencoding.py`, adaptive readout
    /// `infer_mode` "2_4_8_16"): ``/SensoriumLayers/SwinCore`` (224 channels, 4 blocks of 4 heads,
    /// windows 8 × 7 × 7 shifted by half, MLP 488, patch 2 × 2 × 2), the
    /// ``/SensoriumReadouts/HierarchicalGaussianReadout`` with every level fused adaptively, the
    /// 3-layer MLP shifter with 16 hidden units, `ELU + 1`. The readout biases start at the mean
    /// response of 32 training trials (the reference: one batch of 32 clips). Behaviour reaches the
    /// core through the behaviour MLPs (not as input channels), normalised as the reference does
    /// (divided by its std, not centred). Whole trials are predicted in tiles of 30-frame windows
    /// (``StrideTileInference``).
    public static var dynamicV1FM: VideoModelConfiguration {
        VideoModelConfiguration(seed: 42, core: .swin(.defaults), readout: .hierarchical(.defaults),
                                shifter: .mlp(layers: 3, hiddenChannels: 16), outputNonlinearity: .eluPlusOne(),
                                biasInitializationTrials: 32, biasThroughInverseNonlinearity: false,
                                readoutPositionInitialization: .reference, centerBehavior: false, behaviorWarmupEpochs: 0,
                                // 30-frame windows every 15 frames, each keeping its last 15 outputs (§2.5).
                                inference: .strideTiles())
    }

    /// ``dynamicV1FM`` with a small Swin core: 32 channels, 2 blocks of 2 heads, windows
    /// 4 × 6 × 8 tokens (a 15 × 18 × 32 token grid from 30 × 36 × 64 clips pads to 16 × 18 × 32:
    /// 4 × 3 × 4 windows), MLP 64. Readout, shifter and nonlinearity as the paper's; the readout
    /// biases start at the inverse of `ELU + 1` of the mean response of 8 trials, so that a short
    /// run does not spend its first epochs pulling the predictions down from mean + 1 (the demo's
    /// choice, ``biasThroughInverseNonlinearity``).
    public static var dynamicV1FMSmall: VideoModelConfiguration {
        var model = dynamicV1FM
        model.core = .swin(SwinCore.Configuration(windowSize: [4, 6, 8], embedDim: 32, numBlocks: 2, numHeads: 2, mlpDim: 64))
        model.biasInitializationTrials = 8
        model.biasThroughInverseNonlinearity = true
        return model
    }
}

extension TrainerConfiguration {
    /// Dynamic-V1FM's recipe: AdamW (lr 1e-3, betas 0.9 / 0.999, weight decay 0.05), the
    /// ``/SensoriumTraining/CosineRestartSchedule`` of the paper (600 warm-up steps from a third
    /// of the rate, constant for 80 epochs, cosine to 1e-6 over 100 more, by epoch), the summed
    /// Poisson loss with eps on every term and no dataset scaling, no gradient clipping, seed 42,
    /// 180 epochs without early stopping (the reference keeps the last weights).
    public static var dynamicV1FM: TrainerConfiguration {
        TrainerConfiguration(seed: 42,
                             optimizer: .adamW(.init(learningRate: 1e-3, beta1: 0.9, beta2: 0.999, weightDecay: 0.05)),
                             schedule: .cosineRestart(.init()),
                             loss: .poisson(eps: 1e-8, scaled: false, epsPlacement: .everywhere),
                             earlyStopping: .fixedEpochs(180))
    }

    /// ``dynamicV1FM`` compressed to the 8 epochs (about 26 steps each on the demo's two mice) that
    /// the small model trains in 5 minutes on two cores: the rate doubled to 2e-3 (a few hundred
    /// steps instead of the paper's tens of thousands), warm-up from a third over 20 steps,
    /// constant for 2 epochs, cosine to 1e-6 over 6.
    public static var dynamicV1FMSmall: TrainerConfiguration {
        var trainer = dynamicV1FM
        trainer.optimizer = .adamW(.init(learningRate: 2e-3, beta1: 0.9, beta2: 0.999, weightDecay: 0.05))
        trainer.schedule = .cosineRestart(CosineRestartSchedule(periods: [2, 6], minLearningRates: [2e-3, 1e-6],
                                                                warmupIterations: 20, warmupRatio: 1.0 / 3))
        trainer.earlyStopping = .fixedEpochs(8)
        return trainer
    }
}
