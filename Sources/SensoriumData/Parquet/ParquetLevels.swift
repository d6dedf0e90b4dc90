/// Repetition and definition levels (Dremel record shredding) of the list shapes the
/// submission table uses, every value and list present (no nulls).
///
/// A level pair is written per leaf value, plus one per empty list (which has no values). The
/// repetition level says at which list depth a new entry starts (0: a new row); the definition
/// level how many optional or repeated nodes of the path are present.
struct ParquetLevels: Sendable, Equatable {
    var repetition: [Int]
    var definition: [Int]

    /// A non-null top-level optional primitive (`maxDefinitionLevel` 1): one `(0, 1)` per row.
    static func flat(rowCount: Int) -> ParquetLevels {
        ParquetLevels(repetition: [Int](repeating: 0, count: rowCount), definition: [Int](repeating: 1, count: rowCount))
    }

    /// `optional group (LIST) { repeated group list { optional element } }`, non-null lists of
    /// non-null elements (maximum levels: definition 3, repetition 1), given each row's length.
    /// An empty list is one `(0, 1)` entry without a value.
    static func list(lengths: [Int]) -> ParquetLevels {
        var out = ParquetLevels(repetition: [], definition: [])
        out.reserve(lengths.reduce(0) { $0 + max($1, 1) })
        for n in lengths {
            if n == 0 {
                out.append(rep: 0, def: 1)
            } else {
                out.append(rep: 0, def: 3)
                for _ in 1..<n { out.append(rep: 1, def: 3) }
            }
        }
        return out
    }

    /// A list of lists (two nested three-level lists; maximum levels: definition 5, repetition 2),
    /// given the inner lengths of each row. An empty outer list is `(0, 1)`; an empty inner list
    /// `(r, 3)` with `r` 0 for a row's first inner list, else 1.
    static func nestedList(lengths: [[Int]]) -> ParquetLevels {
        var out = ParquetLevels(repetition: [], definition: [])
        out.reserve(lengths.reduce(0) { $0 + max($1.reduce(0) { $0 + max($1, 1) }, 1) })
        for row in lengths {
            if row.isEmpty {
                out.append(rep: 0, def: 1)
                continue
            }
            for (j, n) in row.enumerated() {
                let first = j == 0 ? 0 : 1
                if n == 0 {
                    out.append(rep: first, def: 3)
                } else {
                    out.append(rep: first, def: 5)
                    for _ in 1..<n { out.append(rep: 2, def: 5) }
                }
            }
        }
        return out
    }

    /// The number of level entries (the page's `num_values`).
    var count: Int { definition.count }

    private mutating func reserve(_ n: Int) {
        repetition.reserveCapacity(n)
        definition.reserveCapacity(n)
    }

    private mutating func append(rep: Int, def: Int) {
        repetition.append(rep)
        definition.append(def)
    }
}
