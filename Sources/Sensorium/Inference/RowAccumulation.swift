import SensoriumTensor

extension Tensor {
    /// Adds the rows of `self` `(B, R, N)` into `frames` rows: row `r` goes to row `targets[r]`
    /// of the result `(B, frames, N)` (rows that no target names stay zero; repeated targets add
    /// up; a target of −1 drops its row), like `torch.index_add` into zeros. Differentiable: the
    /// gradient of row `r` is the gradient of row `targets[r]` (zero for dropped rows).
    func accumulatingRows(into frames: Int, targets: [Int]) -> Tensor {
        precondition(rank == 3 && targets.count == shape[1],
                     "accumulatingRows: expected (B, \(targets.count), N) for \(targets.count) targets, got \(shape)")
        precondition(targets.allSatisfy { $0 >= -1 && $0 < frames }, "accumulatingRows: a target is outside -1..<\(frames)")
        let (b, r, n) = (shape[0], shape[1], shape[2])
        let out = Tensor.zeros([b, frames, n])
        let src = storage.pointer, dst = out.storage.pointer
        for sample in 0..<b {
            for row in 0..<r where targets[row] >= 0 {
                let s = src + (sample * r + row) * n
                let d = dst + (sample * frames + targets[row]) * n
                for j in 0..<n { d[j] += s[j] }
            }
        }
        return Tensor.recordOperation("accumulatingRows", result: out, inputs: [self]) { g in
            let gx = Tensor.zeros([b, r, n])
            let gs = g.storage.pointer, gd = gx.storage.pointer
            for sample in 0..<b {
                for row in 0..<r where targets[row] >= 0 {
                    (gd + (sample * r + row) * n).update(from: gs + (sample * frames + targets[row]) * n, count: n)
                }
            }
            return [gx]
        }
    }
}
