import Foundation
import Sensorium

func overfit(_ model: VideoModel, _ data: MouseTrainingData, lr: Double, steps: Int) throws {
    let rounds = try data.trainingRounds(epoch: 0, generator: RandomGenerator(seed: 3))
    let next = try rounds.rounds(from: 0)
    guard let round = try next() else { return }
    let opt = AdamW(parameters: model.namedParameters().filter { $0.tensor.requiresGrad }, configuration: .init(learningRate: lr))
    let lossF = ScaledPoissonLoss()
    for s in 0...steps {
        model.train()
        opt.zeroGrad()
        var acc = SingleTrialCorrelationAccumulator(skipFrames: 0)
        var total = 0.0, count = 0
        for b in round {
            let p = model.forward(b)
            let t = b.targetTensor()
            var l = lossF(predictions: p, targets: t, context: LossContext(mouse: b.mouse, batchSize: b.batchSize, trialCount: data.trialCount(mouse: b.mouse)))
            if let r = model.regularizer(for: b) { l = l + r }
            total += Double(poissonLoss3d(p.detached(), target: t).item); count += p.count
            l.backward()
            acc.add(mouse: b.mouse, predictions: p.detached(), targets: t)
        }
        if s % 10 == 0 { print(String(format: "step %d per-element loss %.4f  corr(train mode) %.3f", s, total / Double(count), acc.result().correlation)) }
        if s == 0 || s == steps {
            for (path, t) in model.namedParameters() where t.requiresGrad {
                guard let g = t.grad else { print("  \(path): no grad"); continue }
                let gn = sqrt(g.scalars.reduce(0.0) { $0 + Double($1 * $1) }), pn = sqrt(t.scalars.reduce(0.0) { $0 + Double($1 * $1) })
                print(String(format: "  %@ %@ |g| %.3e |w| %.3e", path, "\(t.shape)", gn, pn))
            }
        }
        opt.step()
    }
}
