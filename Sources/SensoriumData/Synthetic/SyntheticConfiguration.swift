/// The stimulus families of SENSORIUM 2023: natural movies for training, validation and the main
/// track, and the five out-of-distribution (OOD) families of the bonus track.
public enum StimulusFamily: String, CaseIterable, Sendable, Codable {
    /// Natural-like movie: 1/f ("pink") textures panning with smooth random camera motion,
    /// shot cuts, and a textured object moving across the scene.
    case naturalMovie = "natural_movie"
    /// Oriented pink noise drifting coherently in one of 16 directions, changing every ~1.2 s.
    case directionalPinkNoise = "directional_pink_noise"
    /// One bright or dark Gaussian dot flashed at a random place (300 ms on, 200 ms off).
    case gaussianDots = "gaussian_dots"
    /// Random dot kinematogram: small dots moving coherently (90%) in one of 8 directions.
    case randomDotKinematogram = "random_dot_kinematogram"
    /// A drifting Gabor patch of random position, orientation, size and speed, every second.
    case driftingGabor = "drifting_gabor"
    /// Static natural-like images flashed for 500 ms with 330 ms grey between.
    case flashingImages = "flashing_images"

    /// The five OOD families, in the order the generator assigns them to mice.
    public static let outOfDistribution: [StimulusFamily] = [
        .directionalPinkNoise, .gaussianDots, .randomDotKinematogram, .driftingGabor, .flashingImages,
    ]
}

/// Size and noise of a synthetic dataset. Everything is deterministic for a given configuration.
public struct SyntheticMouseConfiguration: Sendable, Codable, Equatable {
    /// Seed of the whole dataset.
    public var seed: UInt64
    /// Number of mice (one folder each).
    public var mice: Int
    /// Neurons per mouse.
    public var neurons: Int
    /// Frame size (36 × 64 in SENSORIUM 2023).
    public var height: Int
    public var width: Int
    /// Unique training clips (one trial each).
    public var trainTrials: Int
    /// Validation ("oracle") clips, each shown `repeats` times.
    public var oracleClips: Int
    /// Repeats of every oracle and test clip (10 in SENSORIUM 2023).
    public var repeats: Int
    /// Natural clips of the live main test tier.
    public var liveTestMainClips: Int
    /// OOD clips of the live bonus tier (one family per mouse).
    public var liveTestBonusClips: Int
    /// Natural clips of the final main test tier.
    public var finalTestMainClips: Int
    /// OOD clips per family of the final bonus tier (two families per mouse).
    public var finalTestBonusClipsPerFamily: Int
    /// Trials of tier `none` (ignored by loaders).
    public var noneTrials: Int
    /// Nominal trial length in frames at 30 Hz (300 = 10 s).
    public var frames: Int
    /// Trial lengths vary in `frames − jitter … frames + jitter`; arrays are NaN-padded to
    /// `frames + jitter + 1`, so every trial ends with NaN (the starter kit's pinned
    /// neuralpredictors fails on trials without any NaN).
    public var lengthJitter: Int
    /// Mean number of calcium events per neuron and frame; sets the noise ceiling (0.03 gives a
    /// single-trial ceiling of ≈0.3–0.5 on natural test clips, like real recordings).
    public var meanEventRate: Double
    /// Standard deviation of the additive measurement noise (gamma, non-negative), relative to a
    /// neuron's mean event activity. Keeps the per-frame statistics of sparse neurons stable.
    public var noiseFloor: Double
    /// Share of complex (energy) cells; the rest are simple (rectified linear) cells.
    public var complexFraction: Double
    /// Share of direction-selective cells (space–time inseparable receptive fields).
    public var directionSelectiveFraction: Double
    /// Tiers whose trials the per-frame statistics are computed from.
    public var statisticsTiers: [MouseTier]
    /// Response statistics of frame t pool frames t − w … t + w (0: strictly per frame), standing
    /// in for the hundreds of trials a real recording averages.
    public var statisticsWindow: Int

    /// A configuration; the defaults are the SDK's embedded dataset (`.default`).
    public init(seed: UInt64 = 2023, mice: Int = 2, neurons: Int = 512, height: Int = 36, width: Int = 64,
                trainTrials: Int = 300, oracleClips: Int = 2, repeats: Int = 10,
                liveTestMainClips: Int = 1, liveTestBonusClips: Int = 1, finalTestMainClips: Int = 1,
                finalTestBonusClipsPerFamily: Int = 1, noneTrials: Int = 2,
                frames: Int = 300, lengthJitter: Int = 12, meanEventRate: Double = 0.03,
                noiseFloor: Double = 0.25, complexFraction: Double = 0.6, directionSelectiveFraction: Double = 0.3,
                statisticsTiers: [MouseTier] = [.train], statisticsWindow: Int = 10) {
        self.complexFraction = complexFraction
        self.directionSelectiveFraction = directionSelectiveFraction
        self.seed = seed
        self.mice = mice
        self.neurons = neurons
        self.height = height
        self.width = width
        self.trainTrials = trainTrials
        self.oracleClips = oracleClips
        self.repeats = repeats
        self.liveTestMainClips = liveTestMainClips
        self.liveTestBonusClips = liveTestBonusClips
        self.finalTestMainClips = finalTestMainClips
        self.finalTestBonusClipsPerFamily = finalTestBonusClipsPerFamily
        self.noneTrials = noneTrials
        self.frames = frames
        self.lengthJitter = lengthJitter
        self.meanEventRate = meanEventRate
        self.noiseFloor = noiseFloor
        self.statisticsTiers = statisticsTiers
        self.statisticsWindow = statisticsWindow
    }

    /// The SDK's embedded default: 2 mice × 512 neurons, 300 training clips (50 minutes of movie,
    /// near a real recording's 60), 2 oracle clips and 5 test clips × 10 repeats, 300 ± 12 frames
    /// of 36 × 64 (≈ 1.5 GB per mouse on disk).
    public static let `default` = SyntheticMouseConfiguration()

    /// A very small dataset for tests: 1 mouse, 24 neurons, 18 × 32 frames, trials of 60 ± 4
    /// frames, 6 training clips, one clip per test tier with 3 repeats.
    public static let tiny = SyntheticMouseConfiguration(
        seed: 7, mice: 1, neurons: 24, height: 18, width: 32, trainTrials: 6, oracleClips: 2, repeats: 3,
        liveTestMainClips: 1, liveTestBonusClips: 1, finalTestMainClips: 1, finalTestBonusClipsPerFamily: 1,
        noneTrials: 1, frames: 60, lengthJitter: 4)

    /// Padded length T of every array: one frame more than the longest trial.
    public var paddedLength: Int { frames + lengthJitter + 1 }

    /// The longest trial.
    public var maximumLength: Int { frames + lengthJitter }

    /// Trials per mouse.
    public var trialsPerMouse: Int {
        trainTrials + repeats * (oracleClips + liveTestMainClips + liveTestBonusClips + finalTestMainClips
            + 2 * finalTestBonusClipsPerFamily) + noneTrials
    }

    /// Checks the configuration; a message naming the bad field.
    func validate() throws {
        func fail(_ what: String, _ found: String) throws -> Never {
            throw DataError(.invalidValue, path: "SyntheticMouseConfiguration", expected: what, found: found)
        }
        if mice < 1 { try fail("mice ≥ 1", "\(mice)") }
        if neurons < 1 { try fail("neurons ≥ 1", "\(neurons)") }
        if height < 8 || width < 8 { try fail("frames of at least 8 × 8 pixels", "\(height) × \(width)") }
        if trainTrials < 2 { try fail("trainTrials ≥ 2 (statistics need several trials)", "\(trainTrials)") }
        if repeats < 1 { try fail("repeats ≥ 1", "\(repeats)") }
        if frames < 20 { try fail("frames ≥ 20", "\(frames)") }
        if lengthJitter < 0 || lengthJitter >= frames / 2 { try fail("0 ≤ lengthJitter < frames / 2", "\(lengthJitter)") }
        if !(meanEventRate > 0) { try fail("meanEventRate > 0", "\(meanEventRate)") }
        if !(noiseFloor >= 0) { try fail("noiseFloor ≥ 0", "\(noiseFloor)") }
        if [oracleClips, liveTestMainClips, liveTestBonusClips, finalTestMainClips, finalTestBonusClipsPerFamily, noneTrials].contains(where: { $0 < 0 }) {
            try fail("non-negative clip counts", "a negative count")
        }
        if statisticsTiers.isEmpty { try fail("at least one statistics tier", "none") }
        if statisticsWindow < 0 { try fail("statisticsWindow ≥ 0", "\(statisticsWindow)") }
        if !(0...1).contains(complexFraction) { try fail("0 ≤ complexFraction ≤ 1", "\(complexFraction)") }
        if !(0...1).contains(directionSelectiveFraction) { try fail("0 ≤ directionSelectiveFraction ≤ 1", "\(directionSelectiveFraction)") }
        // Sizes: refuse what could not be allocated, before anything is (checked arithmetic).
        if mice > 1_000 { try fail("mice ≤ 1000", "\(mice)") }
        if neurons > 100_000 { try fail("neurons ≤ 100000", "\(neurons)") }
        if height > 2_048 || width > 2_048 { try fail("frames of at most 2048 × 2048 pixels", "\(height) × \(width)") }
        if frames > 100_000 { try fail("frames ≤ 100000", "\(frames)") }
        for (name, n) in [("trainTrials", trainTrials), ("oracleClips", oracleClips), ("repeats", repeats), ("liveTestMainClips", liveTestMainClips),
                          ("liveTestBonusClips", liveTestBonusClips), ("finalTestMainClips", finalTestMainClips),
                          ("finalTestBonusClipsPerFamily", finalTestBonusClipsPerFamily), ("noneTrials", noneTrials)] where n > 100_000 {
            try fail("\(name) ≤ 100000", "\(n)")
        }
        if statisticsWindow > frames { try fail("statisticsWindow ≤ frames", "\(statisticsWindow)") }
        func product(_ factors: [Int]) -> Int? {
            var p = 1
            for f in factors {
                let (q, overflow) = p.multipliedReportingOverflow(by: f)
                if overflow { return nil }
                p = q
            }
            return p
        }
        let limit = 1 << 31
        let padded = frames + lengthJitter + 1
        // One trial's arrays (video and responses, float32) and the neurons' spatial filters.
        if let trialBytes = product([4, padded, height * width + neurons + 4]), trialBytes <= limit {} else {
            try fail("one trial of at most 2 GiB (4 · padded frames · (height · width + neurons))",
                     "\(height) × \(width) pixels, \(neurons) neurons, \(padded) frames")
        }
        if let filterBytes = product([8, neurons, height, width]), filterBytes <= limit {} else {
            try fail("receptive fields of at most 2 GiB (8 · neurons · height · width)", "\(neurons) neurons on \(height) × \(width) frames")
        }
        if trialsPerMouse > 1_000_000 { try fail("at most 1000000 trials per mouse", "\(trialsPerMouse)") }
    }
}
