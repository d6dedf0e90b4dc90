import Foundation

/// The 64-bit perceptual hash of a grey frame, as `imagehash.phash` (hash size 8, high-frequency
/// factor 4) computes it on an 8-bit PIL image:
///
/// 1. resize to 32 × 32 with PIL's Lanczos filter (antialiased: the support widens by the
///    downscale factor; horizontal pass then vertical pass, each in PIL's 22-bit fixed point and
///    rounded and clipped to 0 … 255 as for an 8-bit image),
/// 2. the 2-D DCT-II (`scipy.fftpack.dct` along rows, then along columns),
/// 3. the top-left 8 × 8 coefficients (DC included), each bit = coefficient > their median,
/// 4. bits row by row, the first the most significant (DwiseNeuro's `binary_array_to_int`).
public enum PerceptualHash {
    /// Side of the resized image.
    static let resized = 32
    /// Side of the low-frequency block.
    static let block = 8

    /// The hash of a frame of 8-bit grey levels, `(height, width)` row-major.
    public static func hash(pixels: [UInt8], height: Int, width: Int) -> UInt64 {
        precondition(pixels.count == height * width && height > 0 && width > 0,
                     "PerceptualHash: \(pixels.count) pixels for \(height) × \(width)")
        let small = resize(pixels, height: height, width: width, to: resized, resized)
        let n = resized
        // DCT-II along each axis (the constant factor 2 of scipy's unnormalised DCT does not change
        // the bits); only the first 8 frequencies of each axis are needed.
        var cosines = [Double](repeating: 0, count: block * n)
        for k in 0..<block {
            for x in 0..<n { cosines[k * n + x] = cos(Double.pi * Double(k) * Double(2 * x + 1) / Double(2 * n)) }
        }
        // rowsDCT[y][k] = Σ_x small[y][x]·cos_k(x)
        var rowsDCT = [Double](repeating: 0, count: n * block)
        for y in 0..<n {
            for k in 0..<block {
                var s = 0.0
                for x in 0..<n { s += Double(small[y * n + x]) * cosines[k * n + x] }
                rowsDCT[y * block + k] = 2 * s
            }
        }
        var low = [Double](repeating: 0, count: block * block)
        for u in 0..<block {
            for k in 0..<block {
                var s = 0.0
                for y in 0..<n { s += rowsDCT[y * block + k] * cosines[u * n + y] }
                low[u * block + k] = 2 * s
            }
        }
        let sorted = low.sorted()
        let median = (sorted[block * block / 2 - 1] + sorted[block * block / 2]) / 2
        var hash: UInt64 = 0
        for v in low { hash = (hash << 1) | (v > median ? 1 : 0) }
        return hash
    }

    /// A float frame as PIL's `Image.fromarray(frame.astype(np.uint8), 'L')` sees it: truncated
    /// toward zero (values clamped to 0 … 255 first, NaN as 0).
    public static func bytes(_ frame: [Float]) -> [UInt8] {
        frame.map { v in v.isNaN ? 0 : UInt8(min(255, max(0, v)).rounded(.towardZero)) }
    }

    // MARK: PIL's resampling

    static let precisionBits = 32 - 8 - 2

    /// Lanczos (a = 3) as PIL defines it.
    static func lanczos(_ x: Double) -> Double {
        func sinc(_ x: Double) -> Double { x == 0 ? 1 : sin(Double.pi * x) / (Double.pi * x) }
        return (-3 <= x && x < 3) ? sinc(x) * sinc(x / 3) : 0
    }

    /// PIL's `precompute_coeffs` for the Lanczos filter, in fixed point: per output index its
    /// first input index and integer weights.
    static func coefficients(input: Int, output: Int) -> [(first: Int, weights: [Int32])] {
        let scale = Double(input) / Double(output)
        let filterScale = max(scale, 1)
        let support = 3 * filterScale
        let inverse = 1 / filterScale
        var out: [(Int, [Int32])] = []
        for xx in 0..<output {
            let center = (Double(xx) + 0.5) * scale
            let xmin = max(Int(center - support + 0.5), 0)
            let xmax = min(Int(center + support + 0.5), input) - xmin
            var w = [Double](repeating: 0, count: max(xmax, 0))
            var total = 0.0
            for x in 0..<max(xmax, 0) {
                let v = lanczos((Double(x + xmin) - center + 0.5) * inverse)
                w[x] = v
                total += v
            }
            let unit = Double(1 << precisionBits)
            let fixed = w.map { v -> Int32 in
                let k = total != 0 ? v / total : 0
                return Int32(k < 0 ? (-0.5 + k * unit).rounded(.towardZero) : (0.5 + k * unit).rounded(.towardZero))
            }
            out.append((xmin, fixed))
        }
        return out
    }

    /// One 8-bit pass along rows (`horizontal`) or columns.
    static func pass(_ src: [UInt8], height: Int, width: Int, outHeight: Int, outWidth: Int, horizontal: Bool) -> [UInt8] {
        let coefficients = horizontal ? coefficients(input: width, output: outWidth) : coefficients(input: height, output: outHeight)
        var out = [UInt8](repeating: 0, count: outHeight * outWidth)
        let half = Int64(1) << (precisionBits - 1)
        for y in 0..<outHeight {
            for x in 0..<outWidth {
                let (first, weights) = horizontal ? coefficients[x] : coefficients[y]
                var s = half
                for (i, w) in weights.enumerated() {
                    let p = horizontal ? src[y * width + first + i] : src[(first + i) * width + x]
                    s += Int64(p) * Int64(w)
                }
                out[y * outWidth + x] = UInt8(min(255, max(0, s >> Int64(precisionBits))))
            }
        }
        return out
    }

    /// PIL's `resize((outWidth, outHeight), LANCZOS)` of an 8-bit image.
    static func resize(_ pixels: [UInt8], height: Int, width: Int, to outHeight: Int, _ outWidth: Int) -> [UInt8] {
        var image = pixels, h = height, w = width
        if w != outWidth {
            image = pass(image, height: h, width: w, outHeight: h, outWidth: outWidth, horizontal: true)
            w = outWidth
        }
        if h != outHeight {
            image = pass(image, height: h, width: w, outHeight: outHeight, outWidth: w, horizontal: false)
            h = outHeight
        }
        return image
    }
}
