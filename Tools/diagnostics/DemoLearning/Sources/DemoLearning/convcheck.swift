import Foundation
import Sensorium

/// Naive conv3d (no groups, no dilation) in Double.
func naiveConv3d(_ x: [Float], _ xs: [Int], _ w: [Float], _ ws: [Int], stride: [Int], pad: [Int]) -> ([Double], [Int]) {
    let (n, c, t, h, wd) = (xs[0], xs[1], xs[2], xs[3], xs[4])
    let (o, _, kt, kh, kw) = (ws[0], ws[1], ws[2], ws[3], ws[4])
    let ot = (t + 2 * pad[0] - kt) / stride[0] + 1, oh = (h + 2 * pad[1] - kh) / stride[1] + 1, ow = (wd + 2 * pad[2] - kw) / stride[2] + 1
    var y = [Double](repeating: 0, count: n * o * ot * oh * ow)
    for b in 0..<n { for oc in 0..<o { for a in 0..<ot { for i in 0..<oh { for j in 0..<ow {
        var s = 0.0
        for ic in 0..<c { for dt in 0..<kt { let ti = a * stride[0] - pad[0] + dt; if ti < 0 || ti >= t { continue }
            for di in 0..<kh { let hi = i * stride[1] - pad[1] + di; if hi < 0 || hi >= h { continue }
                for dj in 0..<kw { let wi = j * stride[2] - pad[2] + dj; if wi < 0 || wi >= wd { continue }
                    s += Double(x[(((b * c + ic) * t + ti) * h + hi) * wd + wi]) * Double(w[(((oc * c + ic) * kt + dt) * kh + di) * kw + dj])
                } } } }
        y[(((b * o + oc) * ot + a) * oh + i) * ow + j] = s
    } } } } }
    return (y, [n, o, ot, oh, ow])
}

func convCheck() {
    let g = RandomGenerator(seed: 1)
    let cases: [([Int], [Int], [Int], [Int])] = [
        ([2, 3, 6, 36, 64], [16, 3, 1, 11, 11], [1, 2, 2], [0, 0, 0]),
        ([2, 16, 14, 13, 27], [16, 16, 11, 1, 1], [1, 1, 1], [0, 0, 0]),
        ([2, 16, 6, 13, 27], [32, 16, 1, 5, 5], [1, 1, 1], [0, 0, 0]),
        ([2, 32, 10, 9, 23], [32, 32, 5, 1, 1], [1, 1, 1], [0, 0, 0]),
        ([2, 32, 4, 36, 64], [32, 32, 1, 7, 7], [1, 1, 1], [0, 3, 3]),
        ([2, 3, 4, 36, 64], [32, 3, 1, 11, 11], [1, 1, 1], [0, 5, 5]),
    ]
    for (xs, ws, st, pd) in cases {
        let x = Tensor.randomNormal(xs, generator: g); x.requiresGrad = true
        let w = Tensor.randomNormal(ws, generator: g); w.requiresGrad = true
        let y = conv3d(x, weight: w, bias: nil, stride: st, padding: pd)
        let (ref, rs) = naiveConv3d(x.scalars, xs, w.scalars, ws, stride: st, pad: pd)
        var maxErr = 0.0, maxRef = 0.0
        let ys = y.scalars
        for i in 0..<ref.count { maxErr = max(maxErr, abs(Double(ys[i]) - ref[i])); maxRef = max(maxRef, abs(ref[i])) }
        // backward: loss = sum(y * u); grad_w naive = correlation; check via directional derivative
        let u = Tensor.randomNormal(rs, generator: g)
        (y * u).sum().backward()
        let dw = Tensor.randomNormal(ws, generator: g), dx = Tensor.randomNormal(xs, generator: g)
        let eps: Float = 1e-2
        func lossNaive(_ xv: [Float], _ wv: [Float]) -> Double {
            let (r, _) = naiveConv3d(xv, xs, wv, ws, stride: st, pad: pd); let us = u.scalars
            var s = 0.0; for i in 0..<r.count { s += r[i] * Double(us[i]) }; return s
        }
        let wp = zip(w.scalars, dw.scalars).map { $0 + eps * $1 }, wm = zip(w.scalars, dw.scalars).map { $0 - eps * $1 }
        let numW = (lossNaive(x.scalars, wp) - lossNaive(x.scalars, wm)) / Double(2 * eps)
        let anaW = zip(w.grad!.scalars, dw.scalars).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        let xp = zip(x.scalars, dx.scalars).map { $0 + eps * $1 }, xm = zip(x.scalars, dx.scalars).map { $0 - eps * $1 }
        let numX = (lossNaive(xp, w.scalars) - lossNaive(xm, w.scalars)) / Double(2 * eps)
        let anaX = zip(x.grad!.scalars, dx.scalars).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        print(xs, ws, st, pd, String(format: "fwd maxErr %.2e (max %.1f)  dW num %.4f ana %.4f  dX num %.4f ana %.4f", maxErr, maxRef, numW, anaW, numX, anaX))
    }
}

func convTime() {
    let g = RandomGenerator(seed: 1)
    let x = Tensor.randomNormal([8, 3, 80, 36, 64], generator: g)
    let w = Tensor.randomNormal([16, 3, 1, 11, 11], generator: g); w.requiresGrad = true
    for rep in 0..<4 {
        let t0 = Date()
        let y = conv3d(x, weight: w, bias: nil, stride: [1, 2, 2], padding: [0, 0, 0])
        let t1 = Date()
        y.sum().backward()
        let t2 = Date()
        w.grad = nil
        print(String(format: "rep %d fwd %.3f s  bwd %.3f s  (%.1f GFLOP/s fwd)", rep, t1.timeIntervalSince(t0), t2.timeIntervalSince(t1), 2.6 / t1.timeIntervalSince(t0)))
    }
}
