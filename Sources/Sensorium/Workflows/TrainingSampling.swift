/// How a training run draws its batches (``TrainingDataSettings/sampling``).
public enum TrainingSampling: String, Codable, Sendable, CaseIterable {
    /// One mouse per batch, one batch of every mouse per optimizer step (the reference's `LongCycler`).
    case roundRobin
    /// Batches that mix mice, each sample scored on its own mouse's readout (DwiseNeuro).
    case mixedMice
}
