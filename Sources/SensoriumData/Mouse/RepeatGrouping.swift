/// Finds repeats of the same clip among trials.
///
/// With `meta/trials/condition_hashes.npy` (one string or number per trial, as neuralpredictors'
/// movie format writes it) trials with equal hashes form a group. Without it, trials are compared
/// frame by frame on their raw pixels (every 2nd row, column and frame of the first 120 frames):
/// two trials are repeats when at least 85% of their common frames match within 1 grey level
/// (the criterion third parties used on the real data, where repeats can differ slightly).
enum RepeatGrouping {
    static let frameLimit = 120
    static let tolerance: Float = 1.0
    static let matchingFraction = 0.85

    static func groups(of mouse: MouseDataset, trials: [Int]) throws -> [[Int]] {
        guard !trials.isEmpty else { return [] }
        let hashPath = mouse.layout.trialInfoFile("condition_hashes")
        if MouseFiles.exists(hashPath) {
            let keys = try conditionKeys(hashPath, count: mouse.trialCount)
            var byKey: [String: [Int]] = [:]
            for t in trials { byKey[keys[t], default: []].append(t) }
            return byKey.values.map { $0.sorted() }.sorted { $0[0] < $1[0] }
        }
        return try pixelGroups(mouse, trials)
    }

    static func conditionKeys(_ path: String, count: Int) throws -> [String] {
        let keys: [String]
        let shape: [Int]
        if let s = try? MouseFiles.readStrings(path, expected: "condition hashes") {
            keys = s.values
            shape = s.shape
        } else {
            let a = try MouseFiles.readNumeric(path, expected: "a 1-D array of condition hashes (strings or integers)")
            keys = a.values.doubles.map { "\($0)" }
            shape = a.shape
        }
        guard shape == [count] else {
            throw DataError(.wrongShape, path: path, expected: "shape (\(count),) (one hash per trial)", found: MouseFiles.describe(shape))
        }
        return keys
    }

    struct Descriptor {
        let frames: Int
        let values: [Float]   // (frames, rows, cols) subsampled
    }

    static func descriptor(_ mouse: MouseDataset, _ trial: Int) throws -> Descriptor {
        let a = try MouseFiles.readNumeric(mouse.layout.trialFile(.videos, trial: trial), expected: "a (height, width, T) video")
        try MouseDataset.checkShape(a, field: .videos, height: mouse.frameHeight, width: mouse.frameWidth, neurons: mouse.neuronCount)
        let h = mouse.frameHeight, w = mouse.frameWidth, T = a.shape[2]
        let x = a.values.floats
        // Valid frames: up to the first frame with any NaN pixel.
        var valid = T
        for p in 0..<(h * w) {
            var t = 0
            while t < valid { if x[p * T + t].isNaN { valid = t; break }; t += 1 }
        }
        let frames = (min(valid, frameLimit) + 1) / 2
        let rows = (h + 1) / 2, cols = (w + 1) / 2
        var values = [Float](repeating: 0, count: frames * rows * cols)
        for f in 0..<frames {
            for i in 0..<rows {
                for j in 0..<cols {
                    values[(f * rows + i) * cols + j] = x[((2 * i) * w + 2 * j) * T + 2 * f]
                }
            }
        }
        return Descriptor(frames: frames, values: values)
    }

    static func same(_ a: Descriptor, _ b: Descriptor) -> Bool {
        let frames = min(a.frames, b.frames)
        guard frames > 0, a.frames > 0 else { return a.frames == b.frames }
        let per = a.values.count / a.frames
        let allowedMisses = Int(Double(frames) * (1 - matchingFraction))
        var misses = 0
        for f in 0..<frames {
            let base = f * per
            var matched = true
            for k in 0..<per where abs(a.values[base + k] - b.values[base + k]) > tolerance {
                matched = false
                break
            }
            if !matched {
                misses += 1
                if misses > allowedMisses { return false }
            }
        }
        return true
    }

    static func pixelGroups(_ mouse: MouseDataset, _ trials: [Int]) throws -> [[Int]] {
        let descriptors = try trials.map { try descriptor(mouse, $0) }
        var parent = Array(0..<trials.count)
        func find(_ i: Int) -> Int {
            var i = i
            while parent[i] != i { parent[i] = parent[parent[i]]; i = parent[i] }
            return i
        }
        for i in 0..<trials.count {
            for j in (i + 1)..<max(i + 1, trials.count) where find(i) != find(j) {
                if same(descriptors[i], descriptors[j]) { parent[find(j)] = find(i) }
            }
        }
        var byRoot: [Int: [Int]] = [:]
        for i in 0..<trials.count { byRoot[find(i), default: []].append(trials[i]) }
        return byRoot.values.map { $0.sorted() }.sorted { $0[0] < $1[0] }
    }
}
