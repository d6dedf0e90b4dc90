internal import CBrotli

/// One-shot Brotli compression through libbrotlienc (Parquet's BROTLI codec compresses each
/// page on its own).
enum BrotliCompressor {
    /// The default quality (0…11). Arrow writes quality 8 by default; 5 compresses float data
    /// nearly as well several times faster.
    static let defaultQuality: Int32 = 5

    /// `input` compressed as one Brotli stream (window 2²² bytes, generic mode).
    static func compress(_ input: [UInt8], quality: Int32 = defaultQuality) -> [UInt8]? {
        var size = BrotliEncoderMaxCompressedSize(input.count)
        if size == 0 { size = input.count + 1024 }   // 0: input too large for the bound, try anyway
        var output = [UInt8](repeating: 0, count: size)
        let ok = input.withUnsafeBufferPointer { src in
            output.withUnsafeMutableBufferPointer { dst in
                BrotliEncoderCompress(quality, BROTLI_DEFAULT_WINDOW, BROTLI_MODE_GENERIC,
                                      src.count, src.baseAddress, &size, dst.baseAddress)
            }
        }
        guard ok == BROTLI_TRUE else { return nil }
        output.removeSubrange(size...)
        return output
    }
}
