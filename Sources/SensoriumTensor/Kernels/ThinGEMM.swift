// Long, thin matrix products (many rows through a small weight matrix) on the SDK's own threads.

/// Products whose long side is a row count (tokens through a Linear layer) and whose other sides
/// are small, split into fixed pieces of rows run as single-threaded GEMMs on ``WorkQueue``.
///
/// OpenBLAS threads such products itself, but its idle threads then spin (`sched_yield`) while
/// the SDK's own threads run the elementwise work between the GEMMs; on two cores that spinning
/// takes a core from the real work. Pieces are fixed by the shapes, not by the thread count, so the
/// results are the same on any number of threads.
enum ThinGEMM {
    /// Rows per piece of a row-split product.
    static let pieceRows = 512

    /// Whether a product with `rows` long rows and an (n × k) other operand is split by rows here
    /// (large enough that OpenBLAS would thread it, and at least two pieces per thread).
    static func splits(rows: Int, n: Int, k: Int) -> Bool {
        Parallel.threadCount > 1 && rows * n * k >= BLAS.singleThreadWorkLimit
            && rows >= 2 * pieceRows * Parallel.threadCount && n * k <= 1 << 18
    }

    /// `C (m × n) = op(A) · op(B) + beta · C` (the arguments of `BLAS.gemm`, alpha 1): split into pieces
    /// here when the long side is a row count and ``splits(rows:n:k:)`` holds, else one OpenBLAS call.
    /// Without `transA` the long side is `m` (``rowPieces``); with `transA` (and no `transB`, `beta` 0)
    /// it is the summed `k` (``depthPieces``).
    static func gemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
                     a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                     beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        if !transA, splits(rows: m, n: n, k: k) {
            rowPieces(transB: transB, rows: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
        } else if transA, !transB, beta == 0, splits(rows: k, n: n, k: m) {
            depthPieces(rows: k, m: m, n: n, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc)
        } else {
            BLAS.gemm(transA: transA, transB: transB, m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb,
                      beta: beta, c: c, ldc: ldc)
        }
    }

    /// `C (rows × n) = A (rows × k) · op(B) + beta · C`, op(B) = B (k × n) or Bᵀ (B stored n × k).
    static func rowPieces(transB: Bool, rows: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int,
                          b: UnsafePointer<Float>, ldb: Int, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        let pieces = (rows + pieceRows - 1) / pieceRows
        WorkQueue.run(pieces) { piece in
            let r0 = piece * pieceRows, m = min(pieceRows, rows - r0)
            BLAS.gemm(transB: transB, m: m, n: n, k: k, a: a + r0 * lda, lda: lda, b: b, ldb: ldb,
                      beta: beta, c: c + r0 * ldc, ldc: ldc, singleThreaded: true)
        }
    }

    /// `C (m × n) = Aᵀ · B` with A (rows × m) and B (rows × n) summed over long `rows`: one partial
    /// product per piece of rows (at most 16 pieces), the partials summed in piece order.
    static func depthPieces(rows: Int, m: Int, n: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>,
                            ldb: Int, c: UnsafeMutablePointer<Float>, ldc: Int) {
        let depth = max(4 * pieceRows, (rows + 15) / 16)
        let pieces = (rows + depth - 1) / depth
        let partial = TensorStorage(uninitializedCount: pieces * m * n)
        withExtendedLifetime(partial) {
            let pp = partial.pointer
            WorkQueue.run(pieces) { piece in
                let r0 = piece * depth, k = min(depth, rows - r0)
                BLAS.gemm(transA: true, m: m, n: n, k: k, a: a + r0 * lda, lda: lda, b: b + r0 * ldb, ldb: ldb,
                          beta: 0, c: pp + piece * m * n, ldc: n, singleThreaded: true)
            }
            for i in 0..<m {
                let row = c + i * ldc
                row.update(from: pp + i * n, count: n)
                for piece in 1..<pieces {
                    let src = pp + piece * m * n + i * n
                    for j in 0..<n { row[j] += src[j] }
                }
            }
        }
    }
}
