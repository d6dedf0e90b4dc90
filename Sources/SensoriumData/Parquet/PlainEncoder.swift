/// Parquet's PLAIN encoding: fixed-width values little-endian back to back, byte arrays each
/// preceded by their length as 4 little-endian bytes.
enum PlainEncoder {
    /// The little-endian bytes of a fixed-width integer.
    static func littleEndian<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(MemoryLayout<T>.size)
        append(value, to: &out)
        return out
    }

    /// Appends the little-endian bytes of a fixed-width integer.
    static func append<T: FixedWidthInteger>(_ value: T, to out: inout [UInt8]) {
        var v = value.littleEndian
        withUnsafeBytes(of: &v) { out.append(contentsOf: $0) }
    }

    /// INT32 values.
    static func int32(_ values: [Int32], into out: inout [UInt8]) {
        appendFixedWidth(values, to: &out)
    }

    /// INT64 values.
    static func int64(_ values: [Int64], into out: inout [UInt8]) {
        appendFixedWidth(values, to: &out)
    }

    /// DOUBLE values (IEEE 754 binary64, little-endian).
    static func double(_ values: [Double], into out: inout [UInt8]) {
        #if _endian(little)
        values.withUnsafeBytes { out.append(contentsOf: $0) }
        #else
        out.reserveCapacity(out.count + 8 * values.count)
        for v in values { append(v.bitPattern, to: &out) }
        #endif
    }

    /// Fixed-width integers, copied in one block on little-endian machines.
    private static func appendFixedWidth<T: FixedWidthInteger>(_ values: [T], to out: inout [UInt8]) {
        #if _endian(little)
        values.withUnsafeBytes { out.append(contentsOf: $0) }
        #else
        out.reserveCapacity(out.count + MemoryLayout<T>.size * values.count)
        for v in values { append(v, to: &out) }
        #endif
    }

    /// BYTE_ARRAY values.
    static func byteArrays(_ values: [[UInt8]], into out: inout [UInt8]) {
        for v in values {
            append(UInt32(v.count), to: &out)
            out.append(contentsOf: v)
        }
    }
}
