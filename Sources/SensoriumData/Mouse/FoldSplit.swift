/// A k-fold split of a mouse's labelled trials grouped by video identity (DwiseNeuro's folds):
/// every trial of the `pool` tiers goes to fold `videoHash mod folds`
/// (``MouseDataset/videoHash(_:)``), so that trials showing the same video (repeats, duplicated
/// clips) always share a fold. Training uses the pool minus fold ``fold``, validation fold ``fold``.
public struct FoldSplit: Sendable, Equatable {
    /// Number of folds k (7 in DwiseNeuro).
    public var folds: Int
    /// The validation fold i, in `0 ..< folds`.
    public var fold: Int
    /// The labelled tiers split (DwiseNeuro: train and oracle for the new mice).
    public var pool: [MouseTier]

    /// A split; `folds ≥ 2`, `0 ≤ fold < folds`.
    public init(folds: Int, fold: Int, pool: [MouseTier] = [.train, .oracle]) {
        precondition(folds >= 2 && (0..<folds).contains(fold) && !pool.isEmpty,
                     "FoldSplit: fold \(fold) of \(folds) folds over \(pool.count) tiers (need folds ≥ 2, 0 ≤ fold < folds, a tier)")
        self.folds = folds
        self.fold = fold
        self.pool = pool
    }

    /// The trials of `mouse`'s pool, ascending, split into training (the other folds) and
    /// validation (fold ``fold``). Reads every pool trial's video once (hashes are cached).
    public func trials(of mouse: MouseDataset) throws -> (training: [Int], validation: [Int]) {
        let assignment = try Self.folds(of: mouse, tiers: pool, folds: folds)
        var training: [Int] = [], validation: [Int] = []
        for (trial, f) in assignment.sorted(by: { $0.key < $1.key }) {
            if f == fold { validation.append(trial) } else { training.append(trial) }
        }
        return (training, validation)
    }

    /// The fold of every trial of `tiers`: trial index → `videoHash mod folds`.
    public static func folds(of mouse: MouseDataset, tiers: [MouseTier], folds: Int) throws -> [Int: Int] {
        let pool = Set(tiers)
        var out: [Int: Int] = [:]
        for trial in 0..<mouse.trialCount where pool.contains(mouse.tiers[trial]) {
            out[trial] = Int(try mouse.videoHash(trial) % UInt64(folds))
        }
        return out
    }
}

extension MouseDataset {
    /// Frames hashed per video.
    static let hashedFrames = 5

    /// DwiseNeuro's identity of a trial's video: the XOR of the perceptual hashes
    /// (``PerceptualHash``) of 5 evenly spaced raw frames — with `L` the frames before pixel
    /// (0, 0) first becomes NaN and `s = L / 5`, frames `s/2, s/2 + s, …` (the first five). The
    /// same video in two trials gives the same hash whatever the responses. Cached.
    public func videoHash(_ trial: Int) throws -> UInt64 {
        try checkIndex(trial)
        lock.lock()
        if let h = videoHashCache[trial] { lock.unlock(); return h }
        lock.unlock()
        let a = try MouseFiles.readNumeric(layout.trialFile(.videos, trial: trial), expected: "a (height, width, T) video")
        try Self.checkShape(a, field: .videos, height: frameHeight, width: frameWidth, neurons: neuronCount)
        let T = a.shape[2], hw = frameHeight * frameWidth
        let x = a.values.floats
        var length = T
        for t in 0..<T where x[t].isNaN { length = t; break }
        guard length >= Self.hashedFrames else {
            throw DataError(.trialTooShort, path: a.path, expected: "at least \(Self.hashedFrames) frames to hash the video",
                                 found: "\(length) frames")
        }
        let step = length / Self.hashedFrames
        var hash: UInt64 = 0
        var frame = [Float](repeating: 0, count: hw)
        for k in 0..<Self.hashedFrames {
            let t = step / 2 + k * step
            for p in 0..<hw { frame[p] = x[p * T + t] }
            hash ^= PerceptualHash.hash(pixels: PerceptualHash.bytes(frame), height: frameHeight, width: frameWidth)
        }
        lock.lock(); videoHashCache[trial] = hash; lock.unlock()
        return hash
    }
}
