import SensoriumTensor

/// The window layout of one shifted-window attention call on a (T, H, W) token grid, as Video Swin
/// (and Dynamic-V1FM) computes it:
/// - an axis whose grid extent is at most its window extent uses a window of the grid extent and no
///   shift;
/// - the grid is zero-padded at the end of each axis to a multiple of the window (the padding
///   tokens are **not** masked: they attend and are attended like real tokens);
/// - when any shift is non-zero, tokens of different pre-roll regions (slices `[0, P−w)`,
///   `[P−w, P−s)`, `[P−s, P)` of each shifted axis of the padded grid) are kept apart by −100 in
///   the attention logits.
public struct SwinWindowGeometry: Equatable, Sendable {
    /// The token grid (T, H, W).
    public let gridSize: [Int]
    /// The window actually used per axis.
    public let windowSize: [Int]
    /// The shift actually used per axis.
    public let shiftSize: [Int]
    /// The grid padded to whole windows.
    public let paddedSize: [Int]

    /// The layout for `gridSize` with the configured `windowSize` and `shiftSize` (3 values each).
    public init(gridSize: [Int], windowSize: [Int], shiftSize: [Int]) {
        precondition(gridSize.count == 3 && windowSize.count == 3 && shiftSize.count == 3
                     && gridSize.allSatisfy { $0 > 0 } && windowSize.allSatisfy { $0 > 0 }
                     && (0..<3).allSatisfy { shiftSize[$0] >= 0 && shiftSize[$0] < windowSize[$0] },
                     "SwinWindowGeometry: need positive grid \(gridSize) and window \(windowSize), and 0 <= shift \(shiftSize) < window")
        var window = windowSize, shift = shiftSize
        for i in 0..<3 where gridSize[i] <= windowSize[i] {
            window[i] = gridSize[i]
            shift[i] = 0
        }
        self.gridSize = gridSize
        self.windowSize = window
        self.shiftSize = shift
        self.paddedSize = (0..<3).map { (gridSize[$0] + window[$0] - 1) / window[$0] * window[$0] }
    }

    /// Windows per axis of the padded grid.
    public var windowCounts: [Int] { (0..<3).map { paddedSize[$0] / windowSize[$0] } }
    /// Windows per sample.
    public var windowCount: Int { windowCounts.reduce(1, *) }
    /// Tokens per window.
    public var tokensPerWindow: Int { windowSize.reduce(1, *) }
    /// Whether the grid is rolled and masked.
    public var isShifted: Bool { shiftSize.contains { $0 > 0 } }
    /// Zero padding added at the end of each axis.
    public var padding: [Int] { (0..<3).map { paddedSize[$0] - gridSize[$0] } }

    /// The additive shift mask (windows, 1, N, N): −100 between tokens of different regions, 0
    /// otherwise; nil when nothing is shifted.
    public func shiftMask() -> Tensor? {
        guard isShifted else { return nil }
        // Region label of each position of the (rolled) padded grid, per axis.
        let labels: [[Int]] = (0..<3).map { axis in
            let p = paddedSize[axis], w = windowSize[axis], s = shiftSize[axis]
            return (0..<p).map { i in s == 0 ? 0 : (i < p - w ? 0 : (i < p - s ? 1 : 2)) }
        }
        let counts = windowCounts, n = tokensPerWindow
        let windows = windowCount
        let mask = Tensor(uninitializedShape: [windows, 1, n, n])
        let mp = mask.storage.pointer
        var region = [Int](repeating: 0, count: n)
        for window in 0..<windows {
            let wt = window / (counts[1] * counts[2]), wh = (window / counts[2]) % counts[1], ww = window % counts[2]
            for token in 0..<n {
                let t = token / (windowSize[1] * windowSize[2]), h = (token / windowSize[2]) % windowSize[1]
                let w = token % windowSize[2]
                region[token] = (labels[0][wt * windowSize[0] + t] * 3 + labels[1][wh * windowSize[1] + h]) * 3
                    + labels[2][ww * windowSize[2] + w]
            }
            let base = mp + window * n * n
            for i in 0..<n {
                for j in 0..<n { base[i * n + j] = region[i] == region[j] ? 0 : -100 }
            }
        }
        return mask
    }

    /// The relative-position index of a window of `windowSize` tokens (N × N, row-major): for tokens
    /// i, j with coordinates (d, h, w), `((dᵢ−dⱼ+Wd−1)(2Wh−1) + (hᵢ−hⱼ+Wh−1))(2Ww−1) + (wᵢ−wⱼ+Ww−1)`,
    /// a row of the (2Wd−1)(2Wh−1)(2Ww−1)-row bias table.
    public static func relativePositionIndex(windowSize: [Int]) -> [Int] {
        precondition(windowSize.count == 3 && windowSize.allSatisfy { $0 > 0 },
                     "SwinWindowGeometry.relativePositionIndex: need 3 positive window extents, got \(windowSize)")
        let (wd, wh, ww) = (windowSize[0], windowSize[1], windowSize[2])
        let n = wd * wh * ww
        var index = [Int](repeating: 0, count: n * n)
        for i in 0..<n {
            let (di, hi, wi) = (i / (wh * ww), (i / ww) % wh, i % ww)
            for j in 0..<n {
                let (dj, hj, wj) = (j / (wh * ww), (j / ww) % wh, j % ww)
                index[i * n + j] = ((di - dj + wd - 1) * (2 * wh - 1) + (hi - hj + wh - 1)) * (2 * ww - 1) + (wi - wj + ww - 1)
            }
        }
        return index
    }
}
