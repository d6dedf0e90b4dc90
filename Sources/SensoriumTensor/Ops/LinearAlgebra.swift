// Matrix products (differentiable, on OpenBLAS sgemm) and LAPACK solvers (no gradient).
internal import CLAPACKE

// MARK: - matmul

/// Matrix product with `torch.matmul` semantics.
///
/// - 1-D · 1-D: dot product (a zero-dimensional tensor).
/// - 2-D · 2-D: matrix product.
/// - A 1-D first operand is treated as a row vector, a 1-D second operand as a column vector; the
///   added axis is removed from the result.
/// - Higher ranks: the last two axes are matrices, the leading axes are batch axes that broadcast
///   (NumPy rules).
///
/// A second operand without batch axes is applied to all batch rows of the first in a single GEMM.
public func matmul(_ a: Tensor, _ b: Tensor) -> Tensor {
    precondition(a.rank >= 1 && b.rank >= 1, "matmul: operands must have at least one axis, got shapes \(a.shape) and \(b.shape)")
    let a2 = a.rank == 1 ? a.reshaped([1, a.shape[0]]) : a
    let b2 = b.rank == 1 ? b.reshaped([b.shape[0], 1]) : b
    precondition(a2.shape[a2.rank - 1] == b2.shape[b2.rank - 2],
                 "matmul: shapes \(a.shape) and \(b.shape) do not match (contracted sizes \(a2.shape[a2.rank - 1]) and \(b2.shape[b2.rank - 2]))")
    var result = MatmulKernel.matmul(a2, b2)
    if a.rank == 1 || b.rank == 1 {
        var shape = result.shape
        if b.rank == 1 { shape.removeLast() }
        if a.rank == 1 { shape.remove(at: shape.count - (b.rank == 1 ? 1 : 2)) }
        result = result.reshaped(shape)
    }
    return result
}

/// Batched GEMMs with NumPy batch broadcasting, shared by `matmul`'s forward and backward passes.
enum MatmulKernel {
    /// `a` (..., n, k) · `b` (..., k, m) for ranks ≥ 2, recorded for autodiff.
    static func matmul(_ a: Tensor, _ b: Tensor) -> Tensor {
        let n = a.shape[a.rank - 2], k = a.shape[a.rank - 1], m = b.shape[b.rank - 1]
        let batchA = Array(a.shape.dropLast(2)), batchB = Array(b.shape.dropLast(2))
        let batch = Tensor.broadcastShape(batchA, batchB, op: "matmul")
        let out = Tensor(uninitializedShape: batch + [n, m])
        product(a: a.storage.pointer, aBatch: batchA, transA: false,
                b: b.storage.pointer, bBatch: batchB, transB: false,
                c: out.storage.pointer, cBatch: batch, batch: batch, m: n, n: m, k: k)
        return Tensor.recordOperation("matmul", result: out, inputs: [a, b]) { g in
            var ga: Tensor?
            var gb: Tensor?
            if a.requiresGrad {
                // dA = G · Bᵀ, summed over the batch axes `a` was broadcast along.
                let t = Tensor(uninitializedShape: a.shape)
                product(a: g.storage.pointer, aBatch: batch, transA: false,
                        b: b.storage.pointer, bBatch: batchB, transB: true,
                        c: t.storage.pointer, cBatch: batchA, batch: batch, m: n, n: k, k: m)
                ga = t
            }
            if b.requiresGrad {
                // dB = Aᵀ · G, summed over the batch axes `b` was broadcast along.
                let t = Tensor(uninitializedShape: b.shape)
                product(a: a.storage.pointer, aBatch: batchA, transA: true,
                        b: g.storage.pointer, bBatch: batch, transB: false,
                        c: t.storage.pointer, cBatch: batchB, batch: batch, m: k, n: m, k: n)
                gb = t
            }
            return [ga, gb]
        }
    }

    /// For every index `i` of `batch`: `C[i] (+)= op(A[i]) · op(B[i])`, where each operand's batch shape
    /// broadcasts to `batch` and C's batch positions that several `i` map to are summed.
    ///
    /// `op(A)` is m×k, `op(B)` is k×n, C is m×n; every matrix is stored contiguously, row-major.
    static func product(a: UnsafePointer<Float>, aBatch: [Int], transA: Bool,
                        b: UnsafePointer<Float>, bBatch: [Int], transB: Bool,
                        c: UnsafeMutablePointer<Float>, cBatch: [Int], batch: [Int], m: Int, n: Int, k: Int) {
        let count = Tensor.elementCount(batch)
        let aCount = Tensor.elementCount(aBatch), bCount = Tensor.elementCount(bBatch)
        let cCount = Tensor.elementCount(cBatch)
        let lda = transA ? m : k, ldb = transB ? k : n
        // Fast paths that fold the batch into one GEMM.
        if bCount == 1 && !transA && aCount == count && cCount == count {
            // Stacked A rows against one shared B.
            BLAS.gemm(transA: false, transB: transB, m: count * m, n: n, k: k,
                      a: a, lda: lda, b: b, ldb: ldb, beta: 0, c: c, ldc: n)
            return
        }
        if cCount == 1 && transA && !transB && aCount == count && bCount == count {
            // Sum over the batch of Aᵢᵀ·Bᵢ: one GEMM contracting batch and rows together.
            BLAS.gemm(transA: true, transB: false, m: m, n: n, k: count * k,
                      a: a, lda: lda, b: b, ldb: ldb, beta: 0, c: c, ldc: n)
            return
        }
        let aStrides = Tensor.broadcastStrides(from: aBatch, to: batch).map { $0 * m * k }
        let bStrides = Tensor.broadcastStrides(from: bBatch, to: batch).map { $0 * k * n }
        let cStrides = Tensor.broadcastStrides(from: cBatch, to: batch).map { $0 * m * n }
        let reduces = cCount != count
        if reduces { c.initialize(repeating: 0, count: cCount * m * n) }
        var index = [Int](repeating: 0, count: batch.count)
        for _ in 0..<count {
            var oa = 0, ob = 0, oc = 0
            for axis in 0..<batch.count {
                oa += index[axis] * aStrides[axis]
                ob += index[axis] * bStrides[axis]
                oc += index[axis] * cStrides[axis]
            }
            BLAS.gemm(transA: transA, transB: transB, m: m, n: n, k: k,
                      a: a + oa, lda: lda, b: b + ob, ldb: ldb, beta: reduces ? 1 : 0, c: c + oc, ldc: n)
            var axis = batch.count - 1
            while axis >= 0 {
                index[axis] += 1
                if index[axis] < batch[axis] { break }
                index[axis] = 0
                axis -= 1
            }
        }
    }
}

// MARK: - linear

/// `F.linear`: `x · weightᵀ + bias` over the last axis of `x`.
///
/// - Parameters:
///   - x: (..., inFeatures); any leading axes are batch axes, handled by one GEMM.
///   - weight: (outFeatures, inFeatures).
///   - bias: (outFeatures), optional.
/// - Returns: (..., outFeatures).
public func linear(_ x: Tensor, weight: Tensor, bias: Tensor? = nil) -> Tensor {
    precondition(weight.rank == 2, "linear: weight must be (out, in), got shape \(weight.shape)")
    precondition(x.rank >= 1 && x.shape[x.rank - 1] == weight.shape[1],
                 "linear: input shape \(x.shape) does not match weight shape \(weight.shape)")
    let outFeatures = weight.shape[0], inFeatures = weight.shape[1]
    if let bias {
        precondition(bias.shape == [outFeatures], "linear: bias shape \(bias.shape) does not match weight shape \(weight.shape)")
    }
    let rows = x.count / max(inFeatures, 1)
    let outShape = Array(x.shape.dropLast()) + [outFeatures]
    let out = Tensor(uninitializedShape: outShape)
    let po = out.storage.pointer
    if let bias {
        let pb = bias.storage.pointer
        for r in 0..<rows { (po + r * outFeatures).update(from: pb, count: outFeatures) }
    }
    ThinGEMM.gemm(transB: true, m: rows, n: outFeatures, k: inFeatures, a: x.storage.pointer, lda: inFeatures,
                  b: weight.storage.pointer, ldb: inFeatures, beta: bias == nil ? 0 : 1, c: po, ldc: outFeatures)
    let inputs = bias.map { [x, weight, $0] } ?? [x, weight]
    return Tensor.recordOperation("linear", result: out, inputs: inputs) { g in
        let pg = g.storage.pointer
        var grads: [Tensor?] = []
        if x.requiresGrad {
            let gx = Tensor(uninitializedShape: x.shape)
            ThinGEMM.gemm(m: rows, n: inFeatures, k: outFeatures, a: pg, lda: outFeatures,
                          b: weight.storage.pointer, ldb: inFeatures, beta: 0, c: gx.storage.pointer, ldc: inFeatures)
            grads.append(gx)
        } else {
            grads.append(nil)
        }
        if weight.requiresGrad {
            let gw = Tensor(uninitializedShape: weight.shape)
            ThinGEMM.gemm(transA: true, m: outFeatures, n: inFeatures, k: rows, a: pg, lda: outFeatures,
                          b: x.storage.pointer, ldb: inFeatures, beta: 0, c: gw.storage.pointer, ldc: inFeatures)
            grads.append(gw)
        } else {
            grads.append(nil)
        }
        if let bias {
            grads.append(bias.requiresGrad ? g.reshaped([rows, outFeatures]).sum(axes: [0]) : nil)
        }
        return grads
    }
}

// MARK: - LAPACK

/// A LAPACK routine could not complete.
public enum LinearAlgebraError: Error, Equatable, CustomStringConvertible {
    /// `solve`: the matrix (at `batchIndex` of the batch) is exactly singular: U(pivot, pivot) is zero
    /// in its LU factorisation (`pivot` counts from 0).
    case singularMatrix(batchIndex: Int, pivot: Int)
    /// `svd`: the divide-and-conquer iteration did not converge (LAPACK `info` > 0).
    case svdDidNotConverge(batchIndex: Int, info: Int)
    /// The input holds NaN or infinity (checked before calling LAPACK).
    case nonFiniteInput(op: String, shape: [Int])
    /// LAPACK rejected an argument (`info` < 0); a bug in the caller of LAPACK.
    case invalidArgument(routine: String, info: Int)

    public var description: String {
        switch self {
        case let .singularMatrix(batchIndex, pivot):
            return "solve: matrix \(batchIndex) of the batch is singular (zero pivot at row \(pivot) of its LU factorisation)"
        case let .svdDidNotConverge(batchIndex, info):
            return "svd: matrix \(batchIndex) of the batch did not converge (sgesdd info \(info))"
        case let .nonFiniteInput(op, shape):
            return "\(op): input of shape \(shape) contains NaN or infinity"
        case let .invalidArgument(routine, info):
            return "\(routine): LAPACK rejected argument \(-info)"
        }
    }
}

/// Solves `a · x = b` (`torch.linalg.solve`) by LU factorisation with partial pivoting (LAPACK sgesv).
///
/// - Parameters:
///   - a: (..., n, n) square matrices.
///   - b: (..., n, k) right-hand sides with the same batch shape, or (..., n) vectors.
/// - Returns: x with the shape of `b`. Not differentiable (the result is not recorded).
/// - Throws: `LinearAlgebraError.singularMatrix` when a matrix is singular.
public func solve(_ a: Tensor, _ b: Tensor) throws -> Tensor {
    precondition(a.rank >= 2 && a.shape[a.rank - 1] == a.shape[a.rank - 2],
                 "solve: a must be (..., n, n), got shape \(a.shape) (b shape \(b.shape))")
    let n = a.shape[a.rank - 1]
    let batch = Array(a.shape.dropLast(2))
    let vector = b.shape == batch + [n]
    precondition(vector || (b.rank == a.rank && Array(b.shape.dropLast()) == batch + [n]),
                 "solve: b must be (..., n) or (..., n, k) with a's batch, got a shape \(a.shape) and b shape \(b.shape)")
    let nrhs = vector ? 1 : b.shape[b.rank - 1]
    if !LinearAlgebra.allFinite(a) { throw LinearAlgebraError.nonFiniteInput(op: "solve", shape: a.shape) }
    if !LinearAlgebra.allFinite(b) { throw LinearAlgebraError.nonFiniteInput(op: "solve", shape: b.shape) }
    let lu = a.copy()
    let x = b.copy()
    var pivots = [Int32](repeating: 0, count: max(n, 1))
    for i in 0..<Tensor.elementCount(batch) where n > 0 && nrhs > 0 {
        let info = LAPACKE_sgesv(LAPACK_ROW_MAJOR, Int32(n), Int32(nrhs), lu.storage.pointer + i * n * n, Int32(n),
                                 &pivots, x.storage.pointer + i * n * nrhs, Int32(nrhs))
        if info > 0 { throw LinearAlgebraError.singularMatrix(batchIndex: i, pivot: Int(info) - 1) }
        if info < 0 { throw LinearAlgebraError.invalidArgument(routine: "sgesv", info: Int(info)) }
    }
    return x
}

/// Reduced singular value decomposition `a = u · diag(s) · vt` (LAPACK sgesdd, divide and conquer).
///
/// - Parameter a: (..., m, n).
/// - Returns: u (..., m, r), s (..., r) in descending order, vt (..., r, n) with r = min(m, n).
///   Not differentiable (the results are not recorded).
/// - Throws: `LinearAlgebraError.svdDidNotConverge` when LAPACK fails to converge.
public func svd(_ a: Tensor) throws -> (u: Tensor, s: Tensor, vt: Tensor) {
    precondition(a.rank >= 2, "svd: input must be (..., m, n), got shape \(a.shape)")
    let m = a.shape[a.rank - 2], n = a.shape[a.rank - 1], r = min(m, n)
    let batch = Array(a.shape.dropLast(2))
    if !LinearAlgebra.allFinite(a) { throw LinearAlgebraError.nonFiniteInput(op: "svd", shape: a.shape) }
    let work = a.copy()
    let u = Tensor.zeros(batch + [m, r]), s = Tensor.zeros(batch + [r]), vt = Tensor.zeros(batch + [r, n])
    for i in 0..<Tensor.elementCount(batch) where r > 0 {
        let info = LAPACKE_sgesdd(LAPACK_ROW_MAJOR, Int8(UInt8(ascii: "S")), Int32(m), Int32(n),
                                  work.storage.pointer + i * m * n, Int32(n), s.storage.pointer + i * r,
                                  u.storage.pointer + i * m * r, Int32(r), vt.storage.pointer + i * r * n, Int32(n))
        if info > 0 { throw LinearAlgebraError.svdDidNotConverge(batchIndex: i, info: Int(info)) }
        if info < 0 { throw LinearAlgebraError.invalidArgument(routine: "sgesdd", info: Int(info)) }
    }
    return (u, s, vt)
}

enum LinearAlgebra {
    /// Whether every element is finite.
    static func allFinite(_ t: Tensor) -> Bool {
        let p = t.storage.pointer
        for i in 0..<t.count where !p[i].isFinite { return false }
        return true
    }
}
