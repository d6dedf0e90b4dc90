import Foundation

/// How trials of a mouse are turned into model inputs.
public struct MouseDataOptions: Sendable, Equatable {
    /// Apply the reference normalisation (see `DataFormat.md`). Default true.
    public var normalize: Bool
    /// Append the two behaviour traces (pupil dilation, running speed) as constant-over-space
    /// input channels after the frame: 3 channels. Default true, as in the baselines.
    public var behaviorAsChannels: Bool
    /// Append the pupil centre (horizontal, vertical) as two more channels (5 with behaviour).
    /// Default false, as in the baselines.
    public var pupilCenterAsChannels: Bool
    /// Normalise behaviour as `(x − mean) / std` instead of the reference's `x / std`. Default
    /// false (the reference). Uncentred behaviour channels are large constant inputs (pupil
    /// dilation / std ≈ 5 on real and synthetic data) that a short training can settle on
    /// instead of learning the stimulus; centring them removes that pull.
    public var centerBehavior: Bool
    /// Zero-pad every frame, centred, to a square canvas of side max(height, width) in the model
    /// inputs of batches (DwiseNeuro: 36 × 64 → 64 × 64, rows 14 ..< 50 hold the frame). The
    /// behaviour and pupil planes cover the whole canvas. Default false.
    public var padToSquare: Bool
    /// Pass the responses of batches and trials through ReLU (`max(0, x)`), as DwiseNeuro's
    /// targets. Default false.
    public var responsesThroughReLU: Bool
    /// How video frames are normalised (``VideoNormalization``). Default `.standard` (the reference).
    public var videoNormalization: VideoNormalization = .standard
    /// Scale behaviour and pupil centre per trace and frame to `(x − min) / (max − min)` with the
    /// statistics' min and max (ViV1T's `transform_mode` 2); overrides ``centerBehavior``. Default
    /// false (the reference: behaviour `x / std`, pupil centre `(x − mean) / std`).
    public var minMaxBehavior: Bool = false

    /// Options; the defaults match the SENSORIUM 2023 baselines. DwiseNeuro reads raw values
    /// (`normalize: false`), five channels, `padToSquare` and `responsesThroughReLU`.
    public init(normalize: Bool = true, behaviorAsChannels: Bool = true, pupilCenterAsChannels: Bool = false,
                centerBehavior: Bool = false, padToSquare: Bool = false, responsesThroughReLU: Bool = false) {
        self.normalize = normalize
        self.behaviorAsChannels = behaviorAsChannels
        self.pupilCenterAsChannels = pupilCenterAsChannels
        self.centerBehavior = centerBehavior
        self.padToSquare = padToSquare
        self.responsesThroughReLU = responsesThroughReLU
    }

    /// DwiseNeuro's input pipeline: raw (unnormalised) values, frame + behaviour + pupil centre
    /// channels, frames zero-padded to a square canvas, responses through ReLU.
    public static var dwiseNeuro: MouseDataOptions {
        MouseDataOptions(normalize: false, behaviorAsChannels: true, pupilCenterAsChannels: true,
                         padToSquare: true, responsesThroughReLU: true)
    }

    /// Number of input channels: 1 (frame) + 2 (behaviour) + 2 (pupil centre) as enabled.
    public var inputChannels: Int { 1 + (behaviorAsChannels ? 2 : 0) + (pupilCenterAsChannels ? 2 : 0) }
}

/// One trial cut to its true length, normalised if the dataset's options say so.
public struct MouseTrial: Sendable {
    /// File index of the trial.
    public let index: Int
    /// Its tier.
    public let tier: MouseTier
    /// True length in frames (reference rule, see `MouseDataset.trialLength`).
    public let length: Int
    /// Frame size.
    public let height: Int, width: Int
    /// Number of neurons.
    public let neuronCount: Int
    /// Frames, shape (length, height, width) (the frame size: never padded to a canvas).
    public let video: [Float]
    /// Responses, shape (length, neurons) (time-major, like model outputs), through ReLU with
    /// ``MouseDataOptions/responsesThroughReLU``.
    public let responses: [Float]
    /// Behaviour, shape (2, length): pupil dilation, running speed.
    public let behavior: [Float]
    /// Pupil centre, shape (2, length): horizontal, vertical.
    public let pupilCenter: [Float]
}

/// A trial normalised in its on-disk layout (rows, T) with its true length; internal to loaders.
struct NormalizedTrial: Sendable {
    let index: Int
    /// Frames available (the true length, or the window's length for a clip).
    let length: Int
    /// First frame of the trial these arrays start at (0, or a clip's start).
    let start: Int
    /// (height·width, videoFrames)
    let video: [Float]
    let videoFrames: Int
    /// (neurons, responseFrames)
    let responses: [Float]
    let responseFrames: Int
    /// (2, behaviorFrames)
    let behavior: [Float]
    let behaviorFrames: Int
    /// (2, pupilFrames)
    let pupil: [Float]
    let pupilFrames: Int
}

/// One mouse folder in the exact SENSORIUM 2023 layout, read lazily trial by trial.
///
/// Opening reads only the small metadata (tiers, neurons, statistics) and the first trial's
/// shapes; every trial is read (memory-mapped) when asked for and never kept, so memory stays
/// bounded whatever the size of the folder. Safe to share between threads.
///
/// ```swift
/// let mouse = try MouseDataset(path: "data/dynamic29515-10-12-Video-…")
/// let trial = try mouse.readTrial(mouse.trials(in: .oracle)[0])
/// ```
public final class MouseDataset: @unchecked Sendable {
    /// Paths of the folder.
    public let layout: MouseLayout
    /// Options used for every read.
    public let options: MouseDataOptions
    /// Tier of every trial (index = file index).
    public let tiers: [MouseTier]
    /// `meta/neurons/unit_ids.npy`.
    public let unitIDs: [Int]
    /// `meta/neurons/cell_motor_coordinates.npy`, shape (neurons, 3), microns.
    public let cellMotorCoordinates: [Float]
    /// Number of neurons.
    public let neuronCount: Int
    /// Frame height and width (36 × 64 in SENSORIUM 2023).
    public let frameHeight: Int, frameWidth: Int
    /// Padded length T of the first trial's arrays.
    public let paddedLength: Int
    /// Height and width of the model input's canvas: the frame size, or the square of side
    /// max(height, width) with ``MouseDataOptions/padToSquare``.
    public var inputHeight: Int { options.padToSquare ? max(frameHeight, frameWidth) : frameHeight }
    public var inputWidth: Int { options.padToSquare ? max(frameHeight, frameWidth) : frameWidth }
    /// Padded length of every field (from the first trial); every trial must have it.
    let fieldPaddedLengths: [MouseField: Int]
    /// The statistics in `meta/statistics/*/all`.
    public let statistics: MouseStatistics
    let normalizer: TrialNormalizer
    let rawStatistics: [MouseField: [String: LoadedArray]]
    /// Per field, the first frame NaN statistics end a trial at (`Int.max`: never).
    let statisticsNaNFrame: [MouseField: Int]
    /// Whether a normalised value is NaN exactly when its raw value or its statistics are, for
    /// every field: then a clip's length comes from the raw arrays and only its window is normalised.
    let lengthFromRawArrays: Bool

    let lock = NSLock()
    private var lengthCache: [Int: Int] = [:]
    /// Video hashes computed so far (``videoHash(_:)``), guarded by `lock`.
    var videoHashCache: [Int: UInt64] = [:]
    private var groupCache: [MouseTier: [[Int]]] = [:]

    /// The mouse name (the folder's last path component; for a packed mouse, the folder it was
    /// packed from).
    public let name: String
    /// Number of trials (all tiers, including `none`).
    public var trialCount: Int { tiers.count }

    /// File indices of the trials of `tier`, ascending.
    public func trials(in tier: MouseTier) -> [Int] {
        tiers.indices.filter { tiers[$0] == tier }
    }

    /// Number of trials per tier.
    public var tierCounts: [MouseTier: Int] {
        var counts: [MouseTier: Int] = [:]
        for t in tiers { counts[t, default: 0] += 1 }
        return counts
    }

    /// Opens the mouse folder at `path` (or a file written by `MousePack.pack`), checking its
    /// layout; throws `DataError` naming the offending file, what was expected and what was
    /// found.
    public init(path: String, options: MouseDataOptions = MouseDataOptions()) throws {
        let layout = MouseLayout(root: path)
        self.layout = layout
        self.options = options
        try MouseStores.openIfPacked(layout.root)
        name = MouseStores.route(layout.root)?.0.mouseName ?? layout.mouseName
        guard MouseFiles.isDirectory(layout.root) else {
            throw DataError(.missingFolder, path: layout.root, expected: "a mouse folder (data/, meta/)",
                                 found: MouseFiles.exists(layout.root) ? "a file" : "nothing")
        }
        for sub in ["data", "meta", "meta/trials", "meta/neurons"] {
            let p = layout.root + "/" + sub
            guard MouseFiles.isDirectory(p) else {
                throw DataError(.missingDirectory, path: p, expected: "the directory \(sub)/ of the SENSORIUM layout", found: "nothing")
            }
        }
        tiers = try Self.readTiers(layout)
        let n = tiers.count
        for field in MouseField.allCases { try Self.checkTrialFiles(layout, field: field, count: n) }
        (unitIDs, cellMotorCoordinates) = try Self.readNeurons(layout)
        neuronCount = unitIDs.count
        (statistics, rawStatistics) = try MouseStatistics.read(layout)

        // Shapes from the first trial.
        let first = 0
        let video = try MouseFiles.readNumeric(layout.trialFile(.videos, trial: first), expected: "a (height, width, T) video")
        guard video.shape.count == 3, video.shape[0] > 0, video.shape[1] > 0 else {
            throw DataError(.wrongShape, path: video.path, expected: "a video of shape (height, width, T)", found: MouseFiles.describe(video.shape))
        }
        frameHeight = video.shape[0]
        frameWidth = video.shape[1]
        paddedLength = video.shape[2]
        try Self.checkDType(video)
        var shapes: [MouseField: [Int]] = [.videos: video.shape]
        for field in [MouseField.responses, .behavior, .pupilCenter] {
            let rows = field == .responses ? neuronCount : 2
            let a = try MouseFiles.readNumeric(layout.trialFile(field, trial: first), expected: "a (\(rows), T) array")
            try Self.checkShape(a, field: field, height: frameHeight, width: frameWidth, neurons: neuronCount)
            try Self.checkDType(a)
            shapes[field] = a.shape
        }
        fieldPaddedLengths = shapes.mapValues { $0.last! }
        if options.normalize {
            normalizer = try TrialNormalizer.make(layout: layout, statistics: rawStatistics, dataShapes: shapes,
                                                  centerBehavior: options.centerBehavior,
                                                  videoNormalization: options.videoNormalization,
                                                  minMaxBehavior: options.minMaxBehavior)
        } else {
            normalizer = .identity
        }
        let norm = normalizer
        statisticsNaNFrame = Dictionary(uniqueKeysWithValues: MouseField.allCases.map { ($0, norm.statisticsNaNFrame($0)) })
        lengthFromRawArrays = MouseField.allCases.allSatisfy { norm.nanFollowsRawAndStatistics($0) }
    }

    // MARK: Opening checks

    static func readTiers(_ layout: MouseLayout) throws -> [MouseTier] {
        let path = layout.tiersFile
        let (shape, values) = try MouseFiles.readStrings(path, expected: "a 1-D string array of tiers")
        guard shape.count == 1 else {
            throw DataError(.wrongShape, path: path, expected: "a 1-D array (one tier per trial)", found: MouseFiles.describe(shape))
        }
        guard !values.isEmpty else {
            throw DataError(.wrongShape, path: path, expected: "at least one trial", found: "an empty array")
        }
        return try values.enumerated().map { i, v in
            guard let t = MouseTier(rawValue: v) else {
                throw DataError(.invalidValue, path: path,
                                     expected: "tiers among " + MouseTier.allCases.map(\.rawValue).joined(separator: ", "),
                                     found: "\"\(v)\" at trial \(i)")
            }
            return t
        }
    }

    static func checkTrialFiles(_ layout: MouseLayout, field: MouseField, count: Int) throws {
        let dir = layout.dataDirectory(field)
        guard MouseFiles.isDirectory(dir) else {
            throw DataError(.missingDirectory, path: dir, expected: "a directory of \(count) trial files 0.npy … \(count - 1).npy", found: "nothing")
        }
        let visible = MouseFiles.entries(dir, includeHidden: true)
        let names = Set(visible)
        if let missing = (0..<count).first(where: { !names.contains("\($0).npy") }) {
            throw DataError(.missingFile, path: layout.trialFile(field, trial: missing),
                                 expected: "one file per trial (\(count) trials in tiers.npy)", found: "no such file")
        }
        if visible.count != count {
            let extra = visible.filter { name in
                guard name.hasSuffix(".npy"), let i = Int(name.dropLast(4)) else { return true }
                return i < 0 || i >= count
            }.sorted().prefix(3)
            throw DataError(.inconsistent, path: dir,
                                 expected: "exactly \(count) files (one per entry of tiers.npy)",
                                 found: "\(visible.count) files, unexpected: \(extra.joined(separator: ", "))")
        }
    }

    static func readNeurons(_ layout: MouseLayout) throws -> ([Int], [Float]) {
        let idsPath = layout.neuronFile("unit_ids")
        let ids = try MouseFiles.readNumeric(idsPath, expected: "a 1-D integer array of unit ids")
        guard ids.shape.count == 1, ids.shape[0] > 0 else {
            throw DataError(.wrongShape, path: idsPath, expected: "a non-empty 1-D array (neurons,)", found: MouseFiles.describe(ids.shape))
        }
        let idValues = ids.values.doubles
        // Int(x) traps outside −2^63 ..< 2^63: check the range before converting.
        if let bad = idValues.firstIndex(where: { !$0.isFinite || $0 != $0.rounded() || !(-0x1p63 ..< 0x1p63).contains($0) }) {
            throw DataError(.invalidValue, path: idsPath, expected: "integer unit ids in −2^63 ..< 2^63", found: "\(idValues[bad]) at neuron \(bad)")
        }
        let unitIDs = idValues.map { Int($0) }
        if Set(unitIDs).count != unitIDs.count {
            var seen = Set<Int>()
            let dup = unitIDs.first { !seen.insert($0).inserted }!
            throw DataError(.invalidValue, path: idsPath, expected: "unique unit ids", found: "unit id \(dup) repeated")
        }
        let coordPath = layout.neuronFile("cell_motor_coordinates")
        let coords = try MouseFiles.readNumeric(coordPath, expected: "a (neurons, 3) float array of cortical coordinates")
        guard coords.shape == [unitIDs.count, 3] else {
            throw DataError(coords.shape.count == 2 && coords.shape[1] == 3 ? .inconsistent : .wrongShape, path: coordPath,
                                 expected: "shape (\(unitIDs.count), 3) (one x, y, z per unit id)", found: MouseFiles.describe(coords.shape))
        }
        let c = coords.values.floats
        if let bad = c.firstIndex(where: { !$0.isFinite }) {
            throw DataError(.invalidValue, path: coordPath, expected: "finite coordinates", found: "\(c[bad]) at neuron \(bad / 3)")
        }
        return (unitIDs, c)
    }

    /// Trial arrays hold floats (NaN padding needs them): an integer dtype is a mislabelled file.
    static func checkDType(_ a: LoadedArray) throws {
        guard a.isFloatingPoint else {
            throw DataError(.wrongDType, path: a.path, expected: "a floating-point trial array (NaN-padded)", found: "dtype '\(a.descr)'")
        }
    }

    /// Checks a trial array's shape; `frames` (the padded length of the field in the first trial)
    /// must match when given.
    static func checkShape(_ a: LoadedArray, field: MouseField, height: Int, width: Int, neurons: Int, frames: Int? = nil) throws {
        let ok: Bool
        let expected: String
        switch field {
        case .videos:
            ok = a.shape.count == 3 && a.shape[0] == height && a.shape[1] == width
            expected = "a video of shape (\(height), \(width), T)"
        case .responses:
            ok = a.shape.count == 2 && a.shape[0] == neurons
            expected = "responses of shape (\(neurons), T) (one row per unit id)"
        case .behavior, .pupilCenter:
            ok = a.shape.count == 2 && a.shape[0] == 2
            expected = "shape (2, T)"
        }
        guard ok else { throw DataError(.wrongShape, path: a.path, expected: expected, found: MouseFiles.describe(a.shape)) }
        guard a.shape.last! > 0 else { throw DataError(.wrongShape, path: a.path, expected: "at least one frame", found: MouseFiles.describe(a.shape)) }
        if let frames, a.shape.last! != frames {
            throw DataError(.inconsistent, path: a.path,
                                 expected: "\(field.folderName) padded to \(frames) frames like trial 0 (one padded length per field)",
                                 found: MouseFiles.describe(a.shape))
        }
    }

    // MARK: Trials

    func checkIndex(_ trial: Int) throws {
        guard trial >= 0 && trial < trialCount else {
            throw DataError(.trialOutOfRange, path: layout.root, expected: "a trial index in 0..<\(trialCount)", found: "\(trial)")
        }
    }

    /// Reads the four raw arrays of a trial, checking their shapes, dtypes and values (finite up to
    /// a trailing NaN padding).
    func readRaw(_ trial: Int) throws -> [MouseField: LoadedArray] {
        try checkIndex(trial)
        var out: [MouseField: LoadedArray] = [:]
        for field in MouseField.allCases {
            let raw = try MouseFiles.readNumeric(layout.trialFile(field, trial: trial), expected: "a numeric trial array")
            try Self.checkShape(raw, field: field, height: frameHeight, width: frameWidth, neurons: neuronCount,
                                frames: fieldPaddedLengths[field])
            try Self.checkDType(raw)
            _ = try ValueChecks.trialPaddingStart(raw)
            out[field] = raw
        }
        return out
    }

    /// Reads a trial and normalises only the window of `frames` frames a clip needs; the start
    /// comes from `draw` once the length is known (`BatchMaker.clipStart`, by the rule of
    /// `position`). Falls back to normalising everything when statistics could create NaN by
    /// themselves (zero std, …).
    func loadClip(_ trial: Int, frames: Int, draw: UInt64, position: ClipPosition = .reference) throws -> NormalizedTrial {
        guard lengthFromRawArrays else {
            let t = try loadNormalized(trial)
            let start = try BatchMaker.clipStart(length: t.length, frames: frames, draw: draw, trial: trial, dataset: self,
                                                 position: position)
            return Self.window(of: t, start: start, frames: frames)
        }
        let raw = try readRaw(trial)
        var length = Int.max
        for field in MouseField.allCases {
            let a = raw[field]!
            let f = a.shape.last!, rows = a.values.count / f
            length = min(length, statisticsNaNFrame[field]!, Self.firstNaNFrame(a.values, rows: rows, frames: f, limit: length))
        }
        lock.lock(); lengthCache[trial] = length; lock.unlock()
        let start = try BatchMaker.clipStart(length: length, frames: frames, draw: draw, trial: trial, dataset: self,
                                             position: position)
        var out: [MouseField: [Float]] = [:]
        for field in MouseField.allCases {
            let a = raw[field]!
            let f = a.shape.last!
            out[field] = normalizer.apply(field, values: a.values, rows: a.values.count / f, frames: f, window: start..<(start + frames))
        }
        return NormalizedTrial(index: trial, length: frames, start: start, video: out[.videos]!, videoFrames: frames,
                               responses: out[.responses]!, responseFrames: frames, behavior: out[.behavior]!, behaviorFrames: frames,
                               pupil: out[.pupilCenter]!, pupilFrames: frames)
    }

    /// Frames `start ..< start + frames` of a normalised trial, as a trial of that length.
    static func window(of t: NormalizedTrial, start: Int, frames: Int) -> NormalizedTrial {
        func cut(_ v: [Float], _ rowFrames: Int) -> [Float] {
            let rows = v.count / rowFrames
            var out = [Float](repeating: 0, count: rows * frames)
            for r in 0..<rows { for k in 0..<frames { out[r * frames + k] = v[r * rowFrames + start + k] } }
            return out
        }
        return NormalizedTrial(index: t.index, length: frames, start: start, video: cut(t.video, t.videoFrames), videoFrames: frames,
                               responses: cut(t.responses, t.responseFrames), responseFrames: frames,
                               behavior: cut(t.behavior, t.behaviorFrames), behaviorFrames: frames,
                               pupil: cut(t.pupil, t.pupilFrames), pupilFrames: frames)
    }

    /// The first frame at which any row holds NaN, for Float or Double values.
    static func firstNaNFrame(_ values: NumericValues, rows: Int, frames: Int, limit: Int) -> Int {
        switch values {
        case .float(let v): return firstNaNFrame(v, rows: rows, frames: frames, limit: limit)
        case .double(let v):
            var best = min(frames, limit)
            for r in 0..<rows {
                var t = 0
                while t < best {
                    if v[r * frames + t].isNaN { best = t; break }
                    t += 1
                }
                if best == 0 { break }
            }
            return best
        }
    }

    /// Reads and normalises every field of a trial, in the on-disk layout, and finds its length.
    func loadNormalized(_ trial: Int) throws -> NormalizedTrial {
        let raw = try readRaw(trial)
        var out: [MouseField: (values: [Float], rows: Int, frames: Int)] = [:]
        for field in MouseField.allCases {
            let a = raw[field]!
            let frames = a.shape.last!
            let rows = a.values.count / frames
            out[field] = (normalizer.apply(field, values: a.values, rows: rows, frames: frames), rows, frames)
        }
        var length = Int.max
        for field in MouseField.allCases {
            let f = out[field]!
            length = min(length, Self.firstNaNFrame(f.values, rows: f.rows, frames: f.frames, limit: length))
        }
        lock.lock(); lengthCache[trial] = length; lock.unlock()
        let v = out[.videos]!, r = out[.responses]!, b = out[.behavior]!, p = out[.pupilCenter]!
        return NormalizedTrial(index: trial, length: length, start: 0, video: v.values, videoFrames: v.frames,
                               responses: r.values, responseFrames: r.frames, behavior: b.values, behaviorFrames: b.frames,
                               pupil: p.values, pupilFrames: p.frames)
    }

    /// The first frame at which any row holds NaN (the frame count when none), searching below `limit`.
    static func firstNaNFrame(_ values: [Float], rows: Int, frames: Int, limit: Int) -> Int {
        var best = min(frames, limit)
        values.withUnsafeBufferPointer { p in
            guard let base = p.baseAddress else { return }
            for r in 0..<rows {
                if best == 0 { break }
                let row = base + r * frames
                var t = 0
                // 16 lanes at a time (NaN is the only value unequal to itself); a block holding a
                // NaN is left to the scalar scan, which finds its first one.
                while t + 16 <= best {
                    let v = UnsafeRawPointer(row + t).loadUnaligned(as: SIMD16<Float>.self)
                    if any(v .!= v) { break }
                    t += 16
                }
                while t < best {
                    if row[t].isNaN { best = t; break }
                    t += 1
                }
            }
        }
        return best
    }

    /// The true length of a trial by the reference rule (`CutVideos` at neuralpredictors HEAD):
    /// the minimum over the four fields of the first frame at which any element is NaN (the
    /// full padded length when a field has none), taken after normalisation as the reference
    /// does (which only differs from the raw rule when statistics are NaN inside a trial).
    /// Reads the trial once; cached.
    public func trialLength(_ trial: Int) throws -> Int {
        try checkIndex(trial)
        lock.lock()
        if let l = lengthCache[trial] { lock.unlock(); return l }
        lock.unlock()
        return try loadNormalized(trial).length
    }

    /// Reads one trial, cut to its true length, in model-friendly layouts (see `MouseTrial`).
    public func readTrial(_ trial: Int) throws -> MouseTrial {
        let t = try loadNormalized(trial)
        let L = t.length
        let hw = frameHeight * frameWidth
        var video = [Float](repeating: 0, count: L * hw)
        var responses = [Float](repeating: 0, count: L * neuronCount)
        var behavior = [Float](repeating: 0, count: 2 * L)
        var pupil = [Float](repeating: 0, count: 2 * L)
        video.withUnsafeMutableBufferPointer { dst in
            t.video.withUnsafeBufferPointer { src in
                ClipCopy.transposeWindow(src.baseAddress!, rows: hw, rowStride: t.videoFrames, start: 0, frames: L,
                                         into: dst.baseAddress!, frameStride: hw)
            }
        }
        responses.withUnsafeMutableBufferPointer { dst in
            t.responses.withUnsafeBufferPointer { src in
                ClipCopy.transposeWindow(src.baseAddress!, rows: neuronCount, rowStride: t.responseFrames, start: 0, frames: L,
                                         into: dst.baseAddress!, frameStride: neuronCount)
            }
        }
        if options.responsesThroughReLU {
            for j in responses.indices where responses[j] < 0 { responses[j] = 0 }
        }
        for c in 0..<2 {
            for k in 0..<L {
                behavior[c * L + k] = t.behavior[c * t.behaviorFrames + k]
                pupil[c * L + k] = t.pupil[c * t.pupilFrames + k]
            }
        }
        return MouseTrial(index: trial, tier: tiers[trial], length: L, height: frameHeight, width: frameWidth,
                          neuronCount: neuronCount, video: video, responses: responses, behavior: behavior, pupilCenter: pupil)
    }

    /// Reads a raw (unnormalised, uncut) numeric per-trial array from `data/<name>/<trial>.npy`.
    public func readRawArray(_ name: String, trial: Int) throws -> (shape: [Int], values: [Float]) {
        try checkIndex(trial)
        let a = try MouseFiles.readNumeric(layout.extraTrialFile(name, trial: trial), expected: "a numeric trial array")
        return (a.shape, a.values.floats)
    }

    /// The response precision the normalisation multiplies responses by, shape as the
    /// `responses/all/std.npy` statistic (nil without normalisation).
    public var responsePrecision: StatisticArray? {
        guard options.normalize, let std = rawStatistics[.responses]?["std"] else { return nil }
        return StatisticArray(shape: std.shape, values: TrialNormalizer.responsePrecision(std.values).floats)
    }

    // MARK: Repeat groups

    /// Trials of `tier` grouped by identical stimulus (repeats of one clip), each group
    /// ascending, groups ordered by their first trial.
    ///
    /// Uses `meta/trials/condition_hashes.npy` when the folder has it; otherwise groups trials
    /// whose frames match (see `RepeatGrouping`). Cached.
    public func repeatGroups(in tier: MouseTier) throws -> [[Int]] {
        lock.lock()
        if let g = groupCache[tier] { lock.unlock(); return g }
        lock.unlock()
        let groups = try RepeatGrouping.groups(of: self, trials: trials(in: tier))
        lock.lock(); groupCache[tier] = groups; lock.unlock()
        return groups
    }
}

/// Copies a time window of (rows, T) data into time-major (frames, rows) order.
enum ClipCopy {
    /// `dst[k * frameStride + r] = src[r * rowStride + start + k · step]` for k < frames, r < rows.
    static func transposeWindow(_ src: UnsafePointer<Float>, rows: Int, rowStride: Int, start: Int, frames: Int, step: Int = 1,
                                into dst: UnsafeMutablePointer<Float>, frameStride: Int) {
        let block = 64
        var r0 = 0
        while r0 < rows {
            let r1 = min(rows, r0 + block)
            var k0 = 0
            while k0 < frames {
                let k1 = min(frames, k0 + block)
                for r in r0..<r1 {
                    let s = src + r * rowStride + start
                    if step == 1 {
                        for k in k0..<k1 { dst[k * frameStride + r] = s[k] }
                    } else {
                        for k in k0..<k1 { dst[k * frameStride + r] = s[k * step] }
                    }
                }
                k0 = k1
            }
            r0 = r1
        }
    }
}
