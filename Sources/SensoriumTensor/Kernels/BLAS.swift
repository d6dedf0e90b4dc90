// Thin wrappers over OpenBLAS's sgemm, with a threading policy for small products.
internal import COpenBLAS
#if canImport(Glibc)
import Glibc
#endif

/// Row-major single-precision GEMM through OpenBLAS.
///
/// OpenBLAS threads every product above a tiny size, but on this class of machine two threads are
/// slower than one below roughly 200³ multiply-adds. `BLAS.gemm` therefore runs small products on
/// one thread and large ones on the thread count OpenBLAS started with. Changing the thread count
/// only ever affects speed, never results.
enum BLAS {
    /// The thread count OpenBLAS was configured with (from `OPENBLAS_NUM_THREADS` or the core count).
    static let defaultThreads: Int32 = max(1, openblas_get_num_threads())

    /// Products with fewer multiply-adds (m·n·k) than this run on a single thread.
    static let singleThreadWorkLimit = 1 << 22

    /// `C = alpha · op(A) · op(B) + beta · C` with row-major operands.
    ///
    /// `op(A)` is m×k and `op(B)` is k×n. With `beta == 0`, C is not read (it may be uninitialised).
    /// `singleThreaded` is for callers that already run GEMMs on several threads of their own.
    @inline(__always)
    static func gemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int, alpha: Float = 1,
                     a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                     beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int, singleThreaded: Bool = false) {
        if m == 0 || n == 0 { return }
        if k == 0 {
            for i in 0..<m {
                let row = c + i * ldc
                if beta == 0 {
                    for j in 0..<n { row[j] = 0 }
                } else if beta != 1 {
                    for j in 0..<n { row[j] *= beta }
                }
            }
            return
        }
        useThreads(forWork: singleThreaded ? 0 : m * n * k)
        let pieces = singleThreaded || m * n * k < singleThreadWorkLimit
            ? smallPieces(transA: transA, transB: transB, m: m, n: n, k: k) : (rows: m, columns: n, depth: k)
        var i = 0
        while i < m {
            let rows = min(pieces.rows, m - i)
            var p = 0
            while p < k {
                let depth = min(pieces.depth, k - p)
                let pa = transA ? a + p * lda + i : a + i * lda + p
                var j = 0
                while j < n {
                    let width = min(pieces.columns, n - j)
                    let pb = transB ? b + j * ldb + p : b + p * ldb + j
                    cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                                Int32(rows), Int32(width), Int32(depth), alpha, pa, Int32(lda), pb, Int32(ldb),
                                p == 0 ? beta : 1, c + i * ldc + j, Int32(ldc))
                    j += width
                }
                p += depth
            }
            i += rows
        }
    }

    /// Largest product (m·n·k) that OpenBLAS hands to its unpacked "small matrix" kernels on
    /// AVX-512 cores (the permit threshold of OpenBLAS 0.3.x is 100³).
    static let smallKernelLimit = 1_000_000
    /// Whether single-threaded products are split for the small kernels (`SENSORIUM_GEMM_SMALL=0` disables).
    static let splitsForSmallKernels: Bool = {
        guard let text = getenv("SENSORIUM_GEMM_SMALL") else { return true }
        return String(cString: text) != "0"
    }()

    /// Rows, columns and depth per call for thin single-threaded products. Products with a small
    /// side spend much of their time packing the long operand, whose elements are then used only a
    /// few times; cut into pieces that OpenBLAS's small-matrix kernels accept (AVX-512 cores: at most
    /// `smallKernelLimit` multiply-adds; a row-major A·Bᵀ, OpenBLAS's column-major "TN" kernel, also
    /// needs C at most 1,200 elements and a depth of at least 32; Aᵀ·Bᵀ has no small kernel), they
    /// read the operands in place:
    /// - small m·k, long n: pieces of columns (at least 64 wide);
    /// - small m·n, long k: pieces of the depth (at least 64 deep), accumulated into C;
    /// - A·Bᵀ with C too large for the small kernel: pieces of rows and of the depth;
    /// - otherwise, for at most 256 rows: pieces of the depth (about 64 deep) and of the columns.
    /// Other products stay whole.
    @inline(__always)
    static func smallPieces(transA: Bool, transB: Bool, m: Int, n: Int, k: Int) -> (rows: Int, columns: Int, depth: Int) {
        let whole = (rows: m, columns: n, depth: k)
        guard splitsForSmallKernels, m * n * k > smallKernelLimit, !(transA && transB) else { return whole }
        if transB {
            let rows = m * n <= smallTNOutputLimit ? m : min(m, (smallTNOutputLimit / n) & ~15)
            guard rows >= 16 || rows == m else { return whole }
            let depth = (smallKernelLimit / (rows * n)) & ~15
            return depth >= 64 ? (rows, n, depth) : whole
        }
        if m * k * 64 <= smallKernelLimit { return (m, (smallKernelLimit / (m * k)) & ~15, k) }
        if m * n * 64 <= smallKernelLimit { return (m, n, (smallKernelLimit / (m * n)) & ~15) }
        if m <= 256 {
            let depth = max(64, (smallKernelLimit / (m * 256)) & ~15)
            return (m, (smallKernelLimit / (m * depth)) & ~15, depth)
        }
        return whole
    }

    /// Largest C (m·n) OpenBLAS's small "TN" kernel accepts.
    static let smallTNOutputLimit = 1_200

    /// Picks one thread for small products, the default count for large ones.
    @inline(__always)
    static func useThreads(forWork work: Int) {
        let wanted: Int32 = work < singleThreadWorkLimit ? 1 : defaultThreads
        if openblas_get_num_threads() != wanted { openblas_set_num_threads(wanted) }
    }
}

/// Name of the OpenBLAS kernel in use (for benchmark reports).
public func blasCoreName() -> String {
    guard let name = openblas_get_corename() else { return "unknown" }
    return String(cString: name)
}
