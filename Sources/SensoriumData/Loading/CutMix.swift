import SensoriumTensor

/// DwiseNeuro's CutMix, drawn when an epoch is planned: a sample gets a partner clip (another
/// random window of the same mouse) whose box region replaces the sample's over all input
/// channels and frames, and the targets mix as `(1 − a)·y₁ + a·y₂` with `a` the box's share of the
/// canvas.
///
/// The box follows the reference's `rand_bbox`: `λ ~ Beta(1, 1)` (uniform), cut sides
/// `⌊√λ·height⌋ × ⌊√λ·width⌋` of the canvas, an integer centre uniform over the canvas, edges at
/// centre ∓ ⌊cut/2⌋ clipped to the canvas. `a` is the clipped box's area over the canvas area.
/// The batch's separate behaviour and pupil arrays `(N, 2, T)` keep the sample's own values (the
/// box cuts the behaviour planes of the video channels only).
public struct CutMixDraw: Sendable, Equatable {
    /// File index of the partner's trial (same mouse).
    public var partnerTrial: Int
    /// The 64-bit draw placing the partner's window in its trial.
    public var partnerDraw: UInt64
    /// λ in [0, 1).
    public var lambda: Double
    /// Box centre on the canvas (row in 0 ..< height, column in 0 ..< width).
    public var centerRow: Int, centerColumn: Int

    /// A draw.
    public init(partnerTrial: Int, partnerDraw: UInt64, lambda: Double, centerRow: Int, centerColumn: Int) {
        self.partnerTrial = partnerTrial
        self.partnerDraw = partnerDraw
        self.lambda = lambda
        self.centerRow = centerRow
        self.centerColumn = centerColumn
    }

    /// With probability `probability`, a CutMix draw for one sample whose partner is a uniform
    /// choice of `partners`, on a canvas of `height × width`; nil otherwise. Draws nothing when
    /// `probability` is 0 (so that the generator's sequence is as without CutMix), otherwise one
    /// uniform, then (when used) the partner, its window, λ, the centre row and column.
    public static func draw(probability: Double, partners: [Int], height: Int, width: Int,
                            generator: RandomGenerator) -> CutMixDraw? {
        guard probability > 0, !partners.isEmpty else { return nil }
        guard uniform(generator) < probability else { return nil }
        let trial = partners[Int(generator.next() % UInt64(partners.count))]
        let window = generator.next()
        let lambda = uniform(generator)
        let row = Int(generator.next() % UInt64(height))
        let column = Int(generator.next() % UInt64(width))
        return CutMixDraw(partnerTrial: trial, partnerDraw: window, lambda: lambda, centerRow: row, centerColumn: column)
    }

    /// Uniform in [0, 1) with 53 random bits.
    static func uniform(_ generator: RandomGenerator) -> Double {
        Double(generator.next() >> 11) * (1.0 / 9_007_199_254_740_992.0)
    }

    /// The box on a canvas of `height × width`.
    public func box(height: Int, width: Int) -> CutMixBox {
        let ratio = lambda.squareRoot()
        let cutHeight = Int(Double(height) * ratio), cutWidth = Int(Double(width) * ratio)
        func clip(_ v: Int, _ upper: Int) -> Int { min(max(v, 0), upper) }
        return CutMixBox(rows: clip(centerRow - cutHeight / 2, height)..<clip(centerRow + cutHeight / 2, height),
                         columns: clip(centerColumn - cutWidth / 2, width)..<clip(centerColumn + cutWidth / 2, width),
                         height: height, width: width)
    }
}

/// The region CutMix pastes, clipped to the canvas.
public struct CutMixBox: Sendable, Equatable {
    /// Canvas rows and columns of the box (half-open, possibly empty).
    public var rows: Range<Int>, columns: Range<Int>
    /// The canvas size.
    public var height: Int, width: Int

    /// The box's share of the canvas: the weight of the partner's targets.
    public var areaFraction: Float { Float(rows.count * columns.count) / Float(height * width) }

    /// Pastes the box of `partner` over `sample`, both `(channels·frames, height, width)` planes.
    func paste(from partner: UnsafePointer<Float>, into sample: UnsafeMutablePointer<Float>, planes: Int) {
        guard !rows.isEmpty && !columns.isEmpty else { return }
        let plane = height * width
        for p in 0..<planes {
            for r in rows {
                let offset = p * plane + r * width + columns.lowerBound
                (sample + offset).update(from: partner + offset, count: columns.count)
            }
        }
    }
}
