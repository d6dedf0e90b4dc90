import Testing
@testable import SensoriumTensor

@Suite struct BLASTests {
    /// Thin single-threaded products are cut into column pieces for OpenBLAS's small kernels;
    /// every transposition must give the same product.
    @Test(arguments: [(8, 64, 4000), (8, 4000, 48), (100, 3000, 32)])
    func thinProductsSplitIntoPieces(m: Int, k: Int, n: Int) {
        let pieces = BLAS.smallPieces(transA: false, transB: true, m: m, n: n, k: k)
        let plain = BLAS.smallPieces(transA: false, transB: false, m: m, n: n, k: k)
        #expect(!BLAS.splitsForSmallKernels || pieces.rows < m || pieces.columns < n || pieces.depth < k
                || plain.columns < n || plain.depth < k)
        let gen = RandomGenerator(seed: 9)
        let a = Tensor.randomNormal([m, k], generator: gen).scalars
        let b = Tensor.randomNormal([k, n], generator: gen).scalars
        var expected = [Double](repeating: 0, count: m * n)
        for i in 0..<m { for p in 0..<k { for j in 0..<n { expected[i * n + j] += Double(a[i * k + p]) * Double(b[p * n + j]) } } }
        // Transposed copies, so each (transA, transB) combination computes the same product.
        var at = [Float](repeating: 0, count: m * k), bt = [Float](repeating: 0, count: k * n)
        for i in 0..<m { for p in 0..<k { at[p * m + i] = a[i * k + p] } }
        for p in 0..<k { for j in 0..<n { bt[j * k + p] = b[p * n + j] } }
        for transA in [false, true] {
            for transB in [false, true] {
                var c = [Float](repeating: 1, count: m * n)
                let aa = transA ? at : a, bb = transB ? bt : b
                aa.withUnsafeBufferPointer { ap in bb.withUnsafeBufferPointer { bp in c.withUnsafeMutableBufferPointer { cp in
                    BLAS.gemm(transA: transA, transB: transB, m: m, n: n, k: k, a: ap.baseAddress!, lda: transA ? m : k,
                              b: bp.baseAddress!, ldb: transB ? k : n, beta: 0.5, c: cp.baseAddress!, ldc: n,
                              singleThreaded: true)
                } } }
                var worst = 0.0
                for i in 0..<(m * n) { worst = max(worst, abs(Double(c[i]) - (expected[i] + 0.5))) }
                #expect(worst < 1e-3, "transA \(transA) transB \(transB): max error \(worst)")
            }
        }
    }
}
