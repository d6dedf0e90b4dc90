import SensoriumTensor

/// Shifted-window multi-head self-attention over a channels-last 3-D token grid with a learned
/// relative-position bias (Video Swin's `ShiftedWindowAttention3d`, as used by Dynamic-V1FM).
///
/// For x (B, T, H, W, C): zero-pad to whole windows, roll by −shift, cut into windows of N tokens,
/// `qkv = Linear(C, 3C)` split as (3, heads, C / heads), attention with scale (C / heads)^−½, the
/// bias `relative_position_bias_table[relative_position_index]` and, when shifted, the −100 region
/// mask (``SwinWindowGeometry``), `proj = Linear(C, C)`, dropout, merge windows, roll back, crop.
/// Window and shift adapt per call to small grids (see ``SwinWindowGeometry``); the bias then uses
/// the top-left N × N block of the configured index, as the reference does.
///
/// Keys: `qkv.*`, `proj.*`, `relative_position_bias_table` ((2Wd−1)(2Wh−1)(2Ww−1), heads) and the
/// buffer `relative_position_index` (N × N, integers stored as Float).
public final class ShiftedWindowAttention3d: Module, UnaryLayer {
    /// Options of one attention layer; the defaults are Dynamic-V1FM's (paper configuration).
    public struct Configuration: Codable, Equatable, Sendable {
        /// Token width C.
        public var embedDim: Int = 224
        /// Window (Wd, Wh, Ww) in tokens.
        public var windowSize: [Int] = [8, 7, 7]
        /// Cyclic shift per axis (Dynamic-V1FM: window / 2 in every block).
        public var shiftSize: [Int] = [4, 3, 3]
        /// Number of heads (C must be a multiple).
        public var numHeads: Int = 4
        /// Dropout after the output projection (training mode only).
        public var dropout: Float = 0
        /// Whether `qkv` and `proj` have biases.
        public var bias: Bool = true

        public init(embedDim: Int = 224, windowSize: [Int] = [8, 7, 7], shiftSize: [Int] = [4, 3, 3], numHeads: Int = 4,
                    dropout: Float = 0, bias: Bool = true) {
            self.embedDim = embedDim
            self.windowSize = windowSize
            self.shiftSize = shiftSize
            self.numHeads = numHeads
            self.dropout = dropout
            self.bias = bias
        }
    }

    /// The options this layer was built with.
    @Transient public private(set) var configuration: Configuration
    /// C → 3C.
    public let qkv: Linear
    /// C → C.
    public let proj: Linear
    /// One bias per head for every relative offset, ((2Wd−1)(2Wh−1)(2Ww−1), heads).
    public let relativePositionBiasTable: Tensor
    /// Row of the table for each pair of window tokens, (N, N).
    @Buffer public var relativePositionIndex: Tensor
    /// Source of dropout masks.
    @Transient public var generator: RandomGenerator
    /// Shift masks already built, by grid size.
    @Transient private var maskCache: [[Int]: Tensor] = [:]

    override public class var keyOverrides: [String: String] {
        ["relativePositionBiasTable": "relative_position_bias_table", "relativePositionIndex": "relative_position_index"]
    }

    /// A new layer: `qkv`, `proj` weights truncated-normal (σ 0.02, ±2) with zero biases, and the bias
    /// table truncated-normal (σ 0.02), as the reference initialises them.
    public init(configuration: Configuration, generator: RandomGenerator) {
        let c = configuration
        precondition(c.embedDim > 0 && c.numHeads > 0 && c.embedDim % c.numHeads == 0,
                     "ShiftedWindowAttention3d: embedDim \(c.embedDim) must be a positive multiple of numHeads \(c.numHeads)")
        precondition(c.windowSize.count == 3 && c.shiftSize.count == 3 && c.windowSize.allSatisfy { $0 > 0 }
                     && (0..<3).allSatisfy { c.shiftSize[$0] >= 0 && c.shiftSize[$0] < c.windowSize[$0] },
                     "ShiftedWindowAttention3d: window \(c.windowSize) and shift \(c.shiftSize) need 3 values with 0 <= shift < window")
        precondition(c.dropout >= 0 && c.dropout < 1, "ShiftedWindowAttention3d: dropout must be in [0, 1), got \(c.dropout)")
        self.configuration = c
        self.generator = generator
        qkv = Linear(c.embedDim, 3 * c.embedDim, bias: c.bias, generator: generator)
        proj = Linear(c.embedDim, c.embedDim, bias: c.bias, generator: generator)
        let rows = c.windowSize.map { 2 * $0 - 1 }.reduce(1, *)
        relativePositionBiasTable = Initializer.truncatedNormal(std: 0.02)([rows, c.numHeads], generator: generator)
        relativePositionBiasTable.requiresGrad = true
        let n = c.windowSize.reduce(1, *)
        relativePositionIndex = Tensor(SwinWindowGeometry.relativePositionIndex(windowSize: c.windowSize).map(Float.init),
                                       shape: [n, n])
        super.init()
        for layer in [qkv, proj] {
            layer.weight.initialize(with: .truncatedNormal(std: 0.02), generator: generator)
            layer.bias?.initialize(with: .zeros, generator: generator)
        }
    }

    /// Width of one head.
    public var headDim: Int { configuration.embedDim / configuration.numHeads }

    /// The bias added to the logits of a window of `tokens` tokens, (heads, N, N); differentiable in
    /// the table.
    public func relativePositionBias(tokens n: Int) -> Tensor {
        SensoriumLayers.relativePositionBias(table: relativePositionBiasTable, index: relativePositionIndex, tokens: n)
    }

    /// The window layout for a (T, H, W) grid.
    public func geometry(gridSize: [Int]) -> SwinWindowGeometry {
        SwinWindowGeometry(gridSize: gridSize, windowSize: configuration.windowSize, shiftSize: configuration.shiftSize)
    }

    /// x (B, T, H, W, C) → (B, T, H, W, C).
    public func callAsFunction(_ x: Tensor) -> Tensor {
        let c = configuration.embedDim
        precondition(x.rank == 5 && x.shape[4] == c,
                     "ShiftedWindowAttention3d: expected x (B, T, H, W, \(c)), got \(x.shape)")
        let geo = geometry(gridSize: Array(x.shape[1...3]))
        let out = shiftedWindowAttention3d(x, qkvWeight: qkv.weight, qkvBias: qkv.bias, projWeight: proj.weight,
                                           projBias: proj.bias, relativePositionBias: relativePositionBias(tokens: geo.tokensPerWindow),
                                           geometry: geo, numHeads: configuration.numHeads, mask: shiftMask(geo),
                                           outputTransform: { dropout($0, p: self.configuration.dropout, training: self.isTraining,
                                                                      generator: self.generator) })
        return out
    }

    private func shiftMask(_ geo: SwinWindowGeometry) -> Tensor? {
        guard geo.isShifted else { return nil }
        if let cached = maskCache[geo.gridSize] { return cached }
        let mask = geo.shiftMask()
        maskCache[geo.gridSize] = mask
        return mask
    }

    override public var extraDescription: String {
        "\(configuration.embedDim), heads: \(configuration.numHeads), window: \(configuration.windowSize), shift: \(configuration.shiftSize)"
    }
}

/// Shifted-window multi-head self-attention as a function of its weights (the reference's
/// `shifted_window_attention_3d`), for x (B, T, H, W, C) laid out by `geometry`:
/// pad → roll by −shift → windows → `qkv` → attention with `relativePositionBias` (heads, N, N) and
/// the shift mask → `proj` → `outputTransform` (e.g. dropout) → merge → roll back → crop.
///
/// - Parameters:
///   - qkvWeight: (3C, C), qkvBias (3C) or nil; projWeight (C, C), projBias (C) or nil.
///   - mask: the additive shift mask (windows, 1, N, N); computed from `geometry` when nil and shifted.
/// - Returns: (B, T, H, W, C). Differentiable in x and every weight.
public func shiftedWindowAttention3d(_ x: Tensor, qkvWeight: Tensor, qkvBias: Tensor?, projWeight: Tensor, projBias: Tensor?,
                                     relativePositionBias: Tensor, geometry geo: SwinWindowGeometry, numHeads heads: Int,
                                     mask: Tensor? = nil, outputTransform: (Tensor) -> Tensor = { $0 }) -> Tensor {
    precondition(x.rank == 5 && Array(x.shape[1...3]) == geo.gridSize,
                 "shiftedWindowAttention3d: x \(x.shape) must be (B, \(geo.gridSize), C)")
    let b = x.shape[0], c = x.shape[4], n = geo.tokensPerWindow, windows = geo.windowCount
    precondition(heads > 0 && c % heads == 0 && qkvWeight.shape == [3 * c, c] && projWeight.shape == [c, c],
                 "shiftedWindowAttention3d: qkv \(qkvWeight.shape) and proj \(projWeight.shape) must be (\(3 * c), \(c)) and (\(c), \(c)) with \(heads) heads dividing \(c)")
    precondition(relativePositionBias.shape == [heads, n, n],
                 "shiftedWindowAttention3d: bias \(relativePositionBias.shape) must be (\(heads), \(n), \(n))")
    let headDim = c / heads
    var y = x
    if geo.padding.contains(where: { $0 > 0 }) {
        y = y.padded([(0, 0), (0, geo.padding[0]), (0, geo.padding[1]), (0, geo.padding[2])])
    }
    if geo.isShifted { y = y.rolled(shifts: geo.shiftSize.map { -$0 }, axes: [1, 2, 3]) }
    let tokens = windowPartition3d(y, windowSize: geo.windowSize)                        // (B·nW, N, C)
    let parts = linear(tokens, weight: qkvWeight, bias: qkvBias).reshaped([b, windows, n, 3, heads, headDim])
        .permuted([3, 0, 1, 4, 2, 5])                                                     // (3, B, nW, heads, N, hd)
        .split(sizes: [1, 1, 1], axis: 0)
        .map { $0.reshaped([b, windows, heads, n, headDim]) }
    let attended = scaledDotProductAttention(parts[0], parts[1], parts[2], bias: relativePositionBias,
                                             mask: geo.isShifted ? (mask ?? geo.shiftMask()) : nil,
                                             scale: 1 / Float(headDim).squareRoot())
    var out = linear(attended.permuted([0, 1, 3, 2, 4]).reshaped([b * windows, n, c]), weight: projWeight, bias: projBias)
    out = outputTransform(out)
    out = windowReverse3d(out, windowSize: geo.windowSize, gridSize: geo.paddedSize)
    if geo.isShifted { out = out.rolled(shifts: geo.shiftSize, axes: [1, 2, 3]) }
    for axis in 0..<3 where geo.padding[axis] > 0 {
        out = out.sliced(axis: axis + 1, range: 0..<geo.gridSize[axis])
    }
    return out
}

/// The relative-position bias (heads, N, N) of a window of N tokens: rows `index[i, j]` of
/// `table` ((2Wd−1)(2Wh−1)(2Ww−1), heads), from the top-left N × N block of `index` (M × M, M ≥ N,
/// integers stored as Float). Differentiable in `table`.
public func relativePositionBias(table: Tensor, index: Tensor, tokens n: Int) -> Tensor {
    precondition(table.rank == 2 && index.rank == 2 && index.shape[0] == index.shape[1] && n <= index.shape[0],
                 "relativePositionBias: table \(table.shape) must be (rows, heads) and index \(index.shape) square with at least \(n) tokens")
    let full = index.shape[0], rowsAvailable = table.shape[0]
    let ip = index.storage.pointer
    var rows = [Int](repeating: 0, count: n * n)
    for i in 0..<n {
        for j in 0..<n {
            let r = Int(ip[i * full + j])
            precondition(r >= 0 && r < rowsAvailable, "relativePositionBias: index \(r) outside the table's \(rowsAvailable) rows")
            rows[i * n + j] = r
        }
    }
    return table.indexSelect(axis: 0, indices: rows).reshaped([n, n, table.shape[1]]).permuted([2, 0, 1])
}
