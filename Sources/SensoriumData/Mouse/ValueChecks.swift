/// Value checks that decide whether an array read from a mouse is usable: per-trial arrays are
/// finite up to a trailing NaN padding, statistics are finite (NaN only where no trial covered a
/// frame) and their standard deviations positive.
enum ValueChecks {
    // MARK: Trial arrays

    /// Checks a per-trial array of `rows × frames` values (C order, time last) and returns where its
    /// trailing padding starts: the first frame from which every element of every row is NaN.
    /// Throws `DataError(.invalidValue)` naming the file, frame and row of the first NaN or ±∞
    /// before the padding, or when no frame holds data.
    static func trialPaddingStart(_ array: LoadedArray) throws -> Int {
        let frames = array.shape.last ?? 0
        guard frames > 0, array.values.count > 0 else { return 0 }
        let rows = array.values.count / frames
        let found: (start: Int, bad: (row: Int, frame: Int, value: Double)?)
        switch array.values {
        case .float(let v): found = v.withUnsafeBufferPointer { scanFloat($0.baseAddress!, rows: rows, frames: frames) }
        case .double(let v): found = v.withUnsafeBufferPointer { scan($0.baseAddress!, rows: rows, frames: frames) }
        }
        if found.start == 0 {
            throw DataError(.invalidValue, path: array.path, expected: "a trial with data before its NaN padding",
                                 found: "only NaN (\(MouseFiles.describe(array.shape)))")
        }
        if let bad = found.bad {
            let what = bad.value.isNaN ? "NaN" : "\(bad.value)"
            throw DataError(.invalidValue, path: array.path,
                                 expected: "finite values before the trailing NaN padding (which starts at frame \(found.start))",
                                 found: "\(what) at frame \(bad.frame), row \(bad.row) of \(rows)")
        }
        return found.start
    }

    /// The first frame from which every row holds only NaN (the trailing padding).
    static func paddingStart<T: BinaryFloatingPoint>(_ p: UnsafePointer<T>, rows: Int, frames: Int) -> Int {
        var start = 0
        for r in 0..<rows {
            let row = p + r * frames
            var end = frames
            while end > start, row[end - 1].isNaN { end -= 1 }
            start = max(start, end)
            if start == frames { break }
        }
        return start
    }

    /// Generic scan: padding start and the earliest (by frame) non-finite value before it.
    static func scan<T: BinaryFloatingPoint>(_ p: UnsafePointer<T>, rows: Int, frames: Int)
        -> (start: Int, bad: (row: Int, frame: Int, value: Double)?) {
        let start = paddingStart(p, rows: rows, frames: frames)
        var bad: (row: Int, frame: Int, value: Double)? = nil
        for r in 0..<rows {
            let row = p + r * frames
            let limit = min(start, bad?.frame ?? start)
            var t = 0
            while t < limit {
                if !row[t].isFinite { bad = (r, t, Double(row[t])); break }
                t += 1
            }
        }
        return (start, bad)
    }

    /// `scan` for Float with 16-lane blocks (x − x is 0 exactly when x is finite).
    static func scanFloat(_ p: UnsafePointer<Float>, rows: Int, frames: Int)
        -> (start: Int, bad: (row: Int, frame: Int, value: Double)?) {
        let start = paddingStart(p, rows: rows, frames: frames)
        var bad: (row: Int, frame: Int, value: Double)? = nil
        for r in 0..<rows {
            let row = p + r * frames
            let limit = min(start, bad?.frame ?? start)
            var t = 0
            while t + 16 <= limit {
                let v = UnsafeRawPointer(row + t).loadUnaligned(as: SIMD16<Float>.self)
                if any((v - v) .!= 0) { break }
                t += 16
            }
            while t < limit {
                if !row[t].isFinite { bad = (r, t, Double(row[t])); break }
                t += 1
            }
        }
        return (start, bad)
    }

    // MARK: Statistics

    /// Checks one statistic of `meta/statistics/<field>/all`: not empty, no ±∞, NaN only at the
    /// end of a row of a per-frame statistic (rank ≥ 2, time last: frames no trial covered) —
    /// except the response std, whose NaN entries the reference replaces by its floor — and a
    /// standard deviation ≥ 0, > 0 for every field but responses (whose zero entries take the
    /// reference's 1 % floor; not all of them may be zero). Throws `DataError(.invalidValue)`
    /// naming the file, the frame and the row; returns notes about tolerated entries.
    @discardableResult
    static func checkStatistic(_ a: LoadedArray, field: MouseField, name: String) throws -> [String] {
        let values = a.values.doubles
        guard !values.isEmpty else {
            throw DataError(.wrongShape, path: a.path, expected: "a non-empty \(name) statistic", found: MouseFiles.describe(a.shape))
        }
        let perFrame = a.shape.count >= 2 && a.shape.last! > 0
        let frames = perFrame ? a.shape.last! : values.count
        let rows = values.count / frames
        let responseStd = field == .responses && name == "std"
        let isStd = name == "std"
        var toleratedNaN = 0, zeros = 0, finite = 0
        for r in 0..<rows {
            let base = r * frames
            var end = frames
            if perFrame { while end > 0, values[base + end - 1].isNaN { end -= 1 } }
            for t in 0..<end {
                let v = values[base + t]
                let place = perFrame ? "frame \(t), row \(r) of \(rows)" : "entry \(base + t)"
                if v.isNaN {
                    if responseStd { toleratedNaN += 1; continue }
                    throw DataError(.invalidValue, path: a.path,
                                         expected: "finite \(field.folderName) \(name) statistics (NaN only in the frames no trial covers, at the end)",
                                         found: "NaN at \(place)")
                }
                if v.isInfinite {
                    throw DataError(.invalidValue, path: a.path, expected: "finite \(field.folderName) \(name) statistics",
                                         found: "\(v) at \(place)")
                }
                finite += 1
                if isStd && v < 0 {
                    throw DataError(.invalidValue, path: a.path, expected: "a non-negative standard deviation",
                                         found: "\(v) at \(place)")
                }
                if isStd && v == 0 {
                    if responseStd { zeros += 1; continue }
                    throw DataError(.invalidValue, path: a.path,
                                         expected: "a positive standard deviation (normalisation divides by it)",
                                         found: "0 at \(place)")
                }
            }
        }
        guard finite > 0 else {
            throw DataError(.invalidValue, path: a.path, expected: "numbers in the \(field.folderName) \(name) statistic", found: "only NaN")
        }
        if responseStd && zeros == finite {
            throw DataError(.invalidValue, path: a.path, expected: "a positive response standard deviation somewhere (the precision floor is 1 % of its mean)",
                                 found: "only zeros")
        }
        var notes: [String] = []
        if toleratedNaN > 0 { notes.append("\(toleratedNaN) NaN entries inside rows (they take the 1% floor, as in the reference)") }
        if zeros > 0 { notes.append("\(zeros) entries are 0 (they take the 1% floor, as in the reference)") }
        return notes
    }
}
