import Foundation
import Sensorium

func dataReport(_ datasets: [MouseDataset]) throws {
    let d = datasets[0]
    let loader = MouseLoader(dataset: d, tier: .oracle, batchSize: 4, mode: .fullTrials(maxFrames: 150), shuffle: false, generator: RandomGenerator(seed: 0))
    let stream = loader.epoch()
    guard let b = try stream.next() else { return }
    let v = b.videoTensor()
    print("video", v.shape)
    let C = v.shape[1], T = v.shape[2], HW = v.shape[3] * v.shape[4]
    let vs = v.scalars
    for c in 0..<C {
        var s = 0.0, ss = 0.0; var frameMeans = [Double]()
        for t in 0..<T { var fm = 0.0; for p in 0..<HW { let x = Double(vs[(c * T + t) * HW + p]); s += x; ss += x * x; fm += x }; frameMeans.append(fm / Double(HW)) }
        let n = Double(T * HW); let m = s / n
        let fmStd = (frameMeans.map { ($0 - frameMeans.reduce(0, +) / Double(T)) * ($0 - frameMeans.reduce(0, +) / Double(T)) }.reduce(0, +) / Double(T)).squareRoot()
        // pixel temporal change: mean |x_t - x_{t-1}|
        var diff = 0.0
        for t in 1..<T { for p in stride(from: 0, to: HW, by: 7) { diff += abs(Double(vs[(c * T + t) * HW + p] - vs[(c * T + t - 1) * HW + p])) } }
        print(String(format: "ch %d mean %.3f std %.3f frame-mean std %.3f mean |dx/dt| %.3f", c, m, (ss / n - m * m).squareRoot(), fmStd, diff / Double((T - 1) * (HW / 7 + 1))))
    }
    let r = b.targetTensor()
    print("targets", r.shape, "mean", r.mean().item)
    // rate vs response correlations per trial
    let trials = d.trials(in: .oracle)
    let n = d.neuronCount
    var within = 0.0, pooled = [Double](repeating: 0, count: 0)
    _ = pooled
    var cnt = 0
    var sumC = 0.0, sumW = 0.0
    for trial in trials.prefix(10) {
        let t = try d.readTrial(trial)
        let rates = try SyntheticGroundTruth.rates(of: d, trial: trial)
        let L = t.length
        let resp: [Float] = t.responses
        // per neuron correlation over frames 50..<L, and after removing trial mean (same thing within trial); also lag-1 autocorr of rates
        for j in 0..<n {
            var sx = 0.0, sy = 0.0, sxx = 0.0, syy = 0.0, sxy = 0.0, ac = 0.0
            let mm: Double = Double(L - 50)
            for f in 50..<L { let x = Double(rates[f * n + j]), y = Double(resp[f * n + j]); sx += x; sy += y; sxx += x*x; syy += y*y; sxy += x*y }
            let mx = sx/mm, my = sy/mm
            let c = (sxy/mm - mx*my) / (((sxx/mm - mx*mx).squareRoot() * (syy/mm - my*my).squareRoot()) + 1e-9)
            sumC += c
            for f in 51..<L { ac += (Double(rates[f*n+j]) - mx) * (Double(rates[(f-1)*n+j]) - mx) }
            sumW += ac / mm / ((sxx/mm - mx*mx) + 1e-9)
            cnt += 1
        }
        within += 0
    }
    print(String(format: "mean within-trial corr(rate, response) %.3f; lag-1 autocorr of rates %.3f", sumC / Double(cnt), sumW / Double(cnt)))
}

func videoCheck(_ datasets: [MouseDataset]) throws {
    let d = datasets[0]
    let loader = MouseLoader(dataset: d, tier: .oracle, batchSize: 1, mode: .fullTrials(maxFrames: 150), shuffle: false, generator: RandomGenerator(seed: 0))
    let b = try loader.epoch().next()!
    let trial = b.trials[0]
    let v = b.videoTensor().scalars  // (1, C, T, 36, 64)
    let T = b.videoTensor().shape[2]
    let raw = try NPYFile.read(d.layout.root + "/data/videos/\(trial).npy")
    let rv = try raw.floats(); let rs = raw.shape  // (36, 64, Tpad)
    print("raw shape", rs, "batch T", T)
    for t in [0, 10, 100] {
        var a = [Double](), bb = [Double]()
        for h in 0..<36 { for w in 0..<64 { a.append(Double(v[(t * 36 + h) * 64 + w])); bb.append(Double(rv[(h * rs[1] + w) * rs[2] + t])) } }
        let ma = a.reduce(0,+)/Double(a.count), mb = bb.reduce(0,+)/Double(bb.count)
        var sab = 0.0, saa = 0.0, sbb = 0.0
        for i in 0..<a.count { sab += (a[i]-ma)*(bb[i]-mb); saa += (a[i]-ma)*(a[i]-ma); sbb += (bb[i]-mb)*(bb[i]-mb) }
        print("frame", t, "corr(batch, raw file)", sab / (saa.squareRoot() * sbb.squareRoot()))
    }
    // responses too
    let r = b.targetTensor().scalars; let N = d.neuronCount
    let rawR = try NPYFile.read(d.layout.root + "/data/responses/\(trial).npy"); let rr = try rawR.floats(); let rrs = rawR.shape
    var a = [Double](), bb = [Double]()
    for t in 0..<T { a.append(Double(r[t * N + 3])); bb.append(Double(rr[3 * rrs[1] + t])) }
    let ma = a.reduce(0,+)/Double(a.count), mb = bb.reduce(0,+)/Double(bb.count)
    var sab = 0.0, saa = 0.0, sbb = 0.0
    for i in 0..<a.count { sab += (a[i]-ma)*(bb[i]-mb); saa += (a[i]-ma)*(a[i]-ma); sbb += (bb[i]-mb)*(bb[i]-mb) }
    print("neuron 3 responses corr(batch, raw)", sab / (saa.squareRoot() * sbb.squareRoot()))
}
