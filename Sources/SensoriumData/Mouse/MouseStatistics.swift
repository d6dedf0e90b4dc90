/// One statistic array from `meta/statistics/<field>/all/<name>.npy`.
public struct StatisticArray: Sendable, Equatable {
    /// Shape as stored (for example (neurons, T) for per-frame response statistics).
    public let shape: [Int]
    /// Values in C order, rounded to Float.
    public let values: [Float]
}

/// The statistics of one field (`mean`, `std`, `min`, `max`, `median`); absent files are nil.
public struct FieldStatistics: Sendable {
    public let mean: StatisticArray?
    public let std: StatisticArray?
    public let min: StatisticArray?
    public let max: StatisticArray?
    public let median: StatisticArray?

    /// Names of the statistics present.
    public var present: [String] {
        [("mean", mean), ("std", std), ("min", min), ("max", max), ("median", median)]
            .compactMap { $0.1 == nil ? nil : $0.0 }
    }
}

/// The `meta/statistics/*/all` statistics of a mouse.
public struct MouseStatistics: Sendable {
    /// Statistics per field.
    public let fields: [MouseField: FieldStatistics]

    /// Statistics of one field.
    public subscript(field: MouseField) -> FieldStatistics { fields[field]! }

    static let names = ["mean", "std", "min", "max", "median"]

    /// Reads every statistic present; the ones normalisation needs are checked by `TrialNormalizer`.
    static func read(_ layout: MouseLayout) throws -> (MouseStatistics, [MouseField: [String: LoadedArray]]) {
        var fields: [MouseField: FieldStatistics] = [:]
        var raw: [MouseField: [String: LoadedArray]] = [:]
        for field in MouseField.allCases {
            var arrays: [String: LoadedArray] = [:]
            for name in names {
                let path = layout.statisticFile(field, name)
                guard MouseFiles.exists(path) else { continue }
                arrays[name] = try MouseFiles.readNumeric(path, expected: "a numeric \(name) statistic of \(field.folderName)")
            }
            raw[field] = arrays
            func pub(_ n: String) -> StatisticArray? {
                arrays[n].map { StatisticArray(shape: $0.shape, values: $0.values.floats) }
            }
            fields[field] = FieldStatistics(mean: pub("mean"), std: pub("std"), min: pub("min"), max: pub("max"), median: pub("median"))
        }
        return (MouseStatistics(fields: fields), raw)
    }
}

/// How a statistic array lines up with a field's (rows, T) data: the data's leading axes are
/// flattened into rows and time is the last axis, as on disk.
struct StatisticView: Sendable {
    /// The values (Float or Double, as stored).
    let values: NumericValues
    /// Offset of each data row's statistics.
    let rowOffset: [Int]
    /// 1 when the statistic varies per frame, 0 when it is constant over time.
    let timeStride: Int
    /// Frames covered when per-frame (frames beyond are treated as NaN statistics).
    let timeLength: Int

    /// Lines `stat` up with data of shape `dataShape` (time last).
    ///
    /// Accepted: a scalar; NumPy broadcasting aligned on the right, where the time axis may have
    /// any length (per-frame statistics; a shorter one makes the frames beyond it NaN, as they are
    /// in the reference's statistics of padded frames); and, beyond NumPy, a statistic equal to the
    /// data's leading axes (per neuron / per pixel, constant over time, as in older releases).
    static func make(_ stat: LoadedArray, dataShape: [Int], what: String) throws -> StatisticView {
        let rank = dataShape.count
        let leading = Array(dataShape.dropLast())
        let rows = leading.reduce(1, *)
        let s = stat.shape
        let total = s.reduce(1, *)
        if total == 1 {
            return StatisticView(values: stat.values, rowOffset: [Int](repeating: 0, count: rows), timeStride: 0, timeLength: .max)
        }
        if s == leading && !leading.isEmpty {
            return StatisticView(values: stat.values, rowOffset: Array(0..<rows), timeStride: 0, timeLength: .max)
        }
        guard s.count <= rank else {
            throw DataError(.wrongShape, path: stat.path,
                                 expected: "\(what) broadcastable to the data's \(MouseFiles.describe(dataShape))",
                                 found: MouseFiles.describe(s))
        }
        let padded = [Int](repeating: 1, count: rank - s.count) + s
        for k in 0..<(rank - 1) where padded[k] != 1 && padded[k] != dataShape[k] {
            throw DataError(.wrongShape, path: stat.path,
                                 expected: "\(what) broadcastable to the data's \(MouseFiles.describe(dataShape))",
                                 found: MouseFiles.describe(s))
        }
        let strides = Tensorless.contiguousStrides(padded)
        var offsets = [Int](repeating: 0, count: rows)
        if rank > 1 {
            var index = [Int](repeating: 0, count: rank - 1)
            for r in 0..<rows {
                var o = 0
                for k in 0..<(rank - 1) where padded[k] != 1 { o += index[k] * strides[k] }
                offsets[r] = o
                var k = rank - 2
                while k >= 0 {
                    index[k] += 1
                    if index[k] < leading[k] { break }
                    index[k] = 0
                    k -= 1
                }
            }
        }
        let tl = padded[rank - 1]
        return StatisticView(values: stat.values, rowOffset: offsets, timeStride: tl == 1 ? 0 : 1, timeLength: tl == 1 ? .max : tl)
    }
}

enum Tensorless {
    static func contiguousStrides(_ shape: [Int]) -> [Int] {
        var strides = [Int](repeating: 1, count: shape.count)
        var acc = 1
        for i in stride(from: shape.count - 1, through: 0, by: -1) {
            strides[i] = acc
            acc *= shape[i]
        }
        return strides
    }
}
