import Foundation
import Sensorium

/// Mean Poisson loss per element over train-tier trials (first 150 frames, frames 14..<150) of: model, GT rates, per-neuron constant.
func lossCheck(_ model: VideoModel, _ datasets: [MouseDataset], label: String) throws {
    nonisolated(unsafe) let m = model
    m.eval()
    var lm = 0.0, lr = 0.0, lc = 0.0, count = 0.0
    var corrModelRate = SingleTrialCorrelationAccumulator(skipFrames: 0)
    try withNoGrad {
        for d in datasets {
            let loader = MouseLoader(dataset: d, tier: .train, batchSize: 5, mode: .fullTrials(maxFrames: 150), shuffle: false, generator: RandomGenerator(seed: 0))
            let stream = loader.epoch()
            var seen = 0
            while let b = try stream.next(), seen < 20 {
                let p = m.forward(b)                      // (B, T', N)
                let t = b.targetTensor()                 // (B, T, N)
                let (B, T, N) = (t.shape[0], t.shape[1], t.shape[2]); let Tp = p.shape[1]
                let tl = t.sliced(axis: 1, range: (T - Tp)..<T).copy()
                var rates = [Float](); rates.reserveCapacity(B * Tp * N)
                for (k, trial) in b.trials.enumerated() {
                    _ = k
                    let r = try SyntheticGroundTruth.rates(of: d, trial: trial)
                    rates += r[((T - Tp) * N)..<(T * N)]
                }
                let rt = Tensor(rates, shape: [B, Tp, N])
                let mean = tl.mean(axes: [0, 1], keepDims: true).expanded(to: [B, Tp, N]).copy()
                lm += Double(poissonLoss(p, target: tl).item)
                lr += Double(poissonLoss(rt.clamped(min: 1e-6, max: 1e9), target: tl).item)
                lc += Double(poissonLoss(mean, target: tl).item)
                corrModelRate.add(mouse: d.name, predictions: p, targets: rt)
                count += Double(B * Tp * N)
                seen += B
            }
        }
    }
    print(label, String(format: "per-element Poisson loss: model %.4f  GT rates %.4f  constant %.4f | corr(model, rates) %.3f", lm / count, lr / count, lc / count, corrModelRate.result().correlation))
}
