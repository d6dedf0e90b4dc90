/// Parquet's RLE / bit-packed hybrid encoding of repetition and definition levels.
///
/// A run of at least eight equal values becomes an RLE run (header `count << 1` as a varint, then
/// the value in `⌈bitWidth / 8⌉` little-endian bytes); other values go into bit-packed runs of
/// whole groups of eight (header `(groups << 1) | 1`, then the values packed least significant
/// bit first). Only the last group may be padded with zeros: a reader takes exactly as many
/// values as the page holds.
enum RLEHybridEncoder {
    /// The bits needed for levels `0...maxLevel` (0 for a column without levels).
    static func bitWidth(maxLevel: Int) -> Int {
        precondition(maxLevel >= 0, "RLEHybridEncoder: negative maximum level \(maxLevel)")
        var width = 0
        while (1 << width) <= maxLevel { width += 1 }
        return width
    }

    /// The hybrid encoding of `values`, each in `0..<(1 << bitWidth)`.
    static func encode(_ values: [Int], bitWidth: Int) -> [UInt8] {
        precondition(bitWidth >= 1 && bitWidth <= 32, "RLEHybridEncoder: bit width \(bitWidth) not in 1...32")
        var out: [UInt8] = []
        var literal: [Int] = []   // pending values of a bit-packed run, a multiple of 8
        let byteWidth = (bitWidth + 7) / 8

        func flushLiteral() {
            guard !literal.isEmpty else { return }
            appendVarint(UInt64(literal.count / 8) << 1 | 1, to: &out)
            var accumulator: UInt64 = 0
            var bits = 0
            for v in literal {
                accumulator |= UInt64(v) << UInt64(bits)
                bits += bitWidth
                while bits >= 8 {
                    out.append(UInt8(truncatingIfNeeded: accumulator))
                    accumulator >>= 8
                    bits -= 8
                }
            }
            // Groups of 8 values hold 8 × bitWidth bits: a whole number of bytes, nothing left over.
            literal.removeAll(keepingCapacity: true)
        }

        var i = 0
        let n = values.count
        while i < n {
            let value = values[i]
            precondition(value >= 0 && value < (1 << bitWidth), "RLEHybridEncoder: level \(value) does not fit \(bitWidth) bits")
            var run = 1
            while i + run < n && values[i + run] == value { run += 1 }
            if run >= 8 {
                flushLiteral()
                appendVarint(UInt64(run) << 1, to: &out)
                for b in 0..<byteWidth { out.append(UInt8(truncatingIfNeeded: value >> (8 * b))) }
                i += run
            } else {
                for k in 0..<8 {
                    let v = i + k < n ? values[i + k] : 0
                    precondition(v >= 0 && v < (1 << bitWidth), "RLEHybridEncoder: level \(v) does not fit \(bitWidth) bits")
                    literal.append(v)
                }
                i += 8
            }
        }
        flushLiteral()
        return out
    }

    /// The levels block of a v1 data page: the encoded length as 4 little-endian bytes, then the
    /// hybrid encoding.
    static func levelsBlock(_ values: [Int], maxLevel: Int) -> [UInt8] {
        let encoded = encode(values, bitWidth: bitWidth(maxLevel: maxLevel))
        return PlainEncoder.littleEndian(UInt32(encoded.count)) + encoded
    }

    static func appendVarint(_ value: UInt64, to out: inout [UInt8]) {
        var v = value
        while v >= 0x80 {
            out.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        out.append(UInt8(v))
    }
}
