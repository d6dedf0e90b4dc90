import Foundation
import Testing
import SensoriumTestSupport
@testable import Sensorium
@testable import SensoriumTraining

/// ViV1T's recipe (winners-spec §3.5): the Poisson + correlation loss, per-group learning rates and
/// weight decays, the plateau that restores the best weights and cuts every rate by 0.3.
@Suite("ViV1T recipe")
struct ViV1TRecipeTests {
    // MARK: Loss

    /// `poisson_correlation` written out in Double, as `criterions.py` computes it.
    private func referenceLoss(_ y: [Double], _ t: [Double], batch: Int, frames: Int, kept: Int, neurons: Int,
                               eps: Double, weight: Double, scale: Double) -> Double {
        var poisson = 0.0
        var columns = [[(Double, Double)]](repeating: [], count: neurons)
        for b in 0..<batch {
            for k in 0..<kept {
                for n in 0..<neurons {
                    let p = y[(b * kept + k) * neurons + n]
                    let r = t[(b * frames + frames - kept + k) * neurons + n]
                    poisson += (p + eps) - (r + eps) * log(p + eps)
                    columns[n].append((p, r))
                }
            }
        }
        var correlation = 0.0
        for c in columns {
            let m = Double(c.count)
            let my = c.map(\.0).reduce(0, +) / m, mt = c.map(\.1).reduce(0, +) / m
            let sy = (c.map { ($0.0 - my) * ($0.0 - my) }.reduce(0, +) / m).squareRoot()
            let st = (c.map { ($0.1 - mt) * ($0.1 - mt) }.reduce(0, +) / m).squareRoot()
            let corr = c.map { (($0.0 - my) / (sy + eps)) * (($0.1 - mt) / (st + eps)) }.reduce(0, +) / m
            correlation += 2 - (corr + 1)
        }
        return scale * (poisson + weight * correlation)
    }

    @Test("the loss equals poisson_correlation written out: Σ Poisson over (B, T', N) + 1000 Σ (1 − corr_n), × √(train trials / B)")
    func lossValue() {
        let g = RandomGenerator(seed: 21)
        let (batch, frames, kept, neurons) = (3, 7, 4, 5)
        let y = Tensor.randomUniform([batch, kept, neurons], low: 0.05, high: 3, generator: g)
        let t = Tensor.randomUniform([batch, frames, neurons], low: 0, high: 4, generator: g)
        let loss = PoissonCorrelationLoss()
        #expect(loss.eps == Float(1.1920929e-7) && loss.correlationWeight == 1000 && loss.scaled)
        // 30 trials in all tiers, 12 in the training tier: the scale uses the training tier.
        let context = LossContext(mouse: "m", batchSize: batch, trialCount: 30, trainingTrialCount: 12)
        let value = Double(loss(predictions: y, targets: t, context: context).item)
        let expected = referenceLoss(y.scalars.map(Double.init), t.scalars.map(Double.init), batch: batch, frames: frames, kept: kept, neurons: neurons,
                                     eps: Double(Float.ulpOfOne), weight: 1000, scale: (12.0 / 3).squareRoot())
        #expect(abs(value - expected) <= 1e-5 * abs(expected), "\(value) vs \(expected)")
        // Unscaled, without the correlation term: the Poisson sum alone.
        let plain = PoissonCorrelationLoss(correlationWeight: 0, scaled: false)
        let poissonOnly = referenceLoss(y.scalars.map(Double.init), t.scalars.map(Double.init), batch: batch, frames: frames, kept: kept, neurons: neurons,
                                        eps: Double(Float.ulpOfOne), weight: 0, scale: 1)
        #expect(abs(Double(plain(predictions: y, targets: t, context: context).item) - poissonOnly) <= 1e-5 * poissonOnly)
        // A context without a training-tier count falls back to all trials.
        #expect(LossContext(mouse: "m", batchSize: 2, trialCount: 8).trainingTrialCount == 8)
    }

    @Test("gradient: finite differences in Float (small weight) and in Double (the recipe's weight 1000)")
    func lossGradient() {
        let g = RandomGenerator(seed: 22)
        let y = Tensor.randomUniform([2, 3, 4], low: 0.3, high: 2, generator: g, requiresGrad: true)
        let t = Tensor.randomUniform([2, 5, 4], low: 0, high: 3, generator: g)
        let context = LossContext(mouse: "m", batchSize: 2, trialCount: 8, trainingTrialCount: 8)
        // Finite differences need a loss whose Float rounding stays below the step: weight 1, eps 1e-3.
        let small = PoissonCorrelationLoss(eps: 1e-3, correlationWeight: 1, scaled: true)
        expectGradients([y]) { x in small(predictions: x[0], targets: t, context: context).reshaped([1]) }

        // The recipe's loss (weight 1000, eps 1.19e-7) against central differences of the formula
        // evaluated in Double.
        let loss = PoissonCorrelationLoss()
        y.zeroGrad()   // the finite-difference check above leaves its analytic gradient
        loss(predictions: y, targets: t, context: context).backward()
        let analytic = y.grad!.scalars
        let (yd, td) = (y.scalars.map(Double.init), t.scalars.map(Double.init))
        let h = 1e-5
        var numeric = [Float]()
        for i in yd.indices {
            var up = yd, down = yd
            up[i] += h
            down[i] -= h
            let f = { (v: [Double]) in
                self.referenceLoss(v, td, batch: 2, frames: 5, kept: 3, neurons: 4, eps: Double(Float.ulpOfOne), weight: 1000, scale: 2)
            }
            numeric.append(Float((f(up) - f(down)) / (2 * h)))
        }
        expectClose(analytic, numeric, atol: 1e-3, rtol: 1e-4, "loss gradient")
    }

    @Test("registered as the loss type poissonCorrelation, every key optional, bad values refused")
    func lossConfiguration() throws {
        let c = try TrainerConfiguration.fromJSON(#"{"loss": {"type": "poissonCorrelation", "correlationWeight": 10}}"#)
        #expect(c.loss.typeName == "poissonCorrelation")
        let loss = try #require(c.loss.makeLoss() as? PoissonCorrelationLoss)
        #expect(loss.correlationWeight == 10 && loss.eps == .ulpOfOne && loss.scaled)
        #expect(throws: (any Error).self) { try TrainerConfiguration.fromJSON(#"{"loss": {"type": "poissonCorrelation", "eps": -1}}"#) }
        #expect(throws: (any Error).self) { try TrainerConfiguration.fromJSON(#"{"loss": {"type": "poissonCorrelation", "alpha": 1}}"#) }
    }

    // MARK: Parameter groups

    private let initialA: [Float] = [0.5, -1.25, 2, 0.75]
    private let initialB: [Float] = [0, 3.5, -0.75]
    private let gradients: [([Float], [Float])] = [
        ([0.1, -0.2, 0.3, 0.4], [-0.5, 0.6, 0.05]),
        ([-1, 2, 0, 0.25], [0.5, -3, 0.7]),
    ]

    @Test("one AdamW step with two groups equals two single-group steps; a plateau cut scales both groups")
    func adamWGroups() throws {
        let core = ParameterGroup(name: "core", prefixes: ["core."], learningRate: 4.8e-3, weightDecay: 0.1789)
        let grouped = AdamW.Configuration(learningRate: 3.6e-3, weightDecay: 0.3939, parameterGroups: [core])
        let a = Tensor(initialA, shape: [4], requiresGrad: true), b = Tensor(initialB, shape: [3], requiresGrad: true)
        let optimizer = AdamW(parameters: [("core.layer.weight", a), ("readout.m0.features", b)], configuration: grouped)
        let a1 = Tensor(initialA, shape: [4], requiresGrad: true), b1 = Tensor(initialB, shape: [3], requiresGrad: true)
        let coreAlone = AdamW([a1], configuration: .init(learningRate: 4.8e-3, weightDecay: 0.1789))
        let readoutAlone = AdamW([b1], configuration: .init(learningRate: 3.6e-3, weightDecay: 0.3939))
        let schedule = DecayOnPlateau(configuration: .init())
        for (k, (ga, gb)) in gradients.enumerated() {
            if k == 1 {
                // The plateau cut (×0.3) of the default rate moves every group's rate with it.
                schedule.decayStepEnded(optimizer: optimizer)
                coreAlone.learningRate *= 0.3
                readoutAlone.learningRate *= 0.3
                #expect(abs(optimizer.groupLearningRates["core"]! - 4.8e-3 * 0.3) < 1e-15)
                #expect(abs(optimizer.groupLearningRates["default"]! - 3.6e-3 * 0.3) < 1e-15)
            }
            for (p, gr) in [(a, ga), (b, gb), (a1, ga), (b1, gb)] { p.grad = Tensor(gr, shape: p.shape) }
            optimizer.step()
            coreAlone.step()
            readoutAlone.step()
            #expect(a.scalars == a1.scalars, "core group, step \(k + 1)")
            #expect(b.scalars == b1.scalars, "default group, step \(k + 1)")
        }
        #expect(a.scalars != initialA && b.scalars != initialB)

        // The state (with the group rates) survives a checkpoint; other groups are refused.
        let record = optimizer.stateRecord()
        #expect(record.children["groups"]?.children["core"]?.reals["learning_rate"].map { abs($0 - 1.44e-3) < 1e-15 } == true)
        let restored = AdamW(parameters: [("core.layer.weight", Tensor(initialA, shape: [4])), ("readout.m0.features", Tensor(initialB, shape: [3]))],
                             configuration: grouped)
        try restored.loadState(record)
        #expect(restored.groupLearningRates == optimizer.groupLearningRates)
        #expect(restored.learningRate(ofParameterAt: 0) == optimizer.learningRate(ofParameterAt: 0))
        let ungrouped = AdamW(parameters: [("core.layer.weight", Tensor(initialA, shape: [4]))], configuration: .init(learningRate: 3.6e-3))
        #expect(throws: TrainingError.self) { try ungrouped.loadState(record) }
    }

    @Test("ReduceLROnPlateau scales every group; Adam and SGD honour groups too")
    func groupsInEveryOptimizer() {
        let core = ParameterGroup(name: "core", prefixes: ["core."], learningRate: 0.02, weightDecay: 0.1)
        let makers: [(String, ([ (path: String, tensor: Tensor) ], [ParameterGroup]) -> ParameterOptimizer)] = [
            ("adam", { Adam(parameters: $0, configuration: .init(learningRate: 0.01, weightDecay: 0.05, parameterGroups: $1)) }),
            ("sgd", { SGD(parameters: $0, configuration: .init(learningRate: 0.01, momentum: 0.9, weightDecay: 0.05, parameterGroups: $1)) }),
        ]
        for (name, make) in makers {
            let plateau = ReduceLROnPlateau(configuration: .init(mode: .max, factor: 0.3, patience: 0, minLearningRate: 0))
            let a = Tensor(initialA, shape: [4], requiresGrad: true), b = Tensor(initialB, shape: [3], requiresGrad: true)
            let grouped = make([("core.w", a), ("readout.w", b)], [core])
            let a1 = Tensor(initialA, shape: [4], requiresGrad: true), b1 = Tensor(initialB, shape: [3], requiresGrad: true)
            let readoutAlone = make([("w", b1)], [])
            // The core alone, with the group's rate and weight decay.
            let coreDecay: ParameterOptimizer = name == "adam"
                ? Adam(parameters: [("w", a1)], configuration: .init(learningRate: 0.02, weightDecay: 0.1))
                : SGD(parameters: [("w", a1)], configuration: .init(learningRate: 0.02, momentum: 0.9, weightDecay: 0.1))
            for (k, (ga, gb)) in gradients.enumerated() {
                if k == 1 {
                    plateau.step(0.5, optimizer: grouped)   // first evaluation: the best
                    plateau.step(0.4, optimizer: grouped)   // worse, patience 0: cut by 0.3
                    #expect(abs(grouped.groupLearningRates["core"]! - 0.006) < 1e-12, "\(name)")
                    coreDecay.learningRate *= 0.3
                    readoutAlone.learningRate *= 0.3
                }
                for (p, gr) in [(a, ga), (b, gb), (a1, ga), (b1, gb)] { p.grad = Tensor(gr, shape: p.shape) }
                grouped.step()
                coreDecay.step()
                readoutAlone.step()
                #expect(a.scalars == a1.scalars && b.scalars == b1.scalars, "\(name), step \(k + 1)")
            }
        }
    }

    @Test("groups are read from JSON with the optimizer; bad groups are refused")
    func groupConfiguration() throws {
        let json = #"{"optimizer": {"type": "adamW", "learningRate": 0.0036, "weightDecay": 0.3939, "parameterGroups": [{"name": "core", "prefixes": ["core."], "learningRate": 0.0048, "weightDecay": 0.1789}]}}"#
        let c = try TrainerConfiguration.fromJSON(json)
        #expect(c == TrainerConfiguration.fromJSONRoundTrip(c))
        let adamW = try #require(c.optimizer.base as? AdamW.Configuration)
        #expect(adamW.parameterGroups == [ParameterGroup(name: "core", prefixes: ["core."], learningRate: 4.8e-3, weightDecay: 0.1789)])
        for bad in [
            #"[{"name": "core", "prefixes": ["core."], "learningRate": 0.1}, {"name": "core", "prefixes": ["x"], "learningRate": 0.1}]"#,
            #"[{"name": "default", "prefixes": ["core."], "learningRate": 0.1}]"#,
            #"[{"name": "core", "prefixes": [], "learningRate": 0.1}]"#,
            #"[{"name": "core", "prefixes": ["core."], "learningRate": -1}]"#,
        ] {
            #expect(throws: (any Error).self, "\(bad)") {
                try TrainerConfiguration.fromJSON(#"{"optimizer": {"type": "sgd", "parameterGroups": "# + bad + "}}")
            }
        }
    }

    // MARK: Plateau, restore, stop

    /// ViV1T's `Scheduler.step` (mode max, best starts at 0, `lr_patience` 5, `max_reduce` 3),
    /// ported: returns (restored and cut, terminate) per evaluation.
    private struct ReferenceScheduler {
        var best = 0.0, wait = 0, reductions = 0
        mutating func step(_ value: Double) -> (cut: Bool, stop: Bool) {
            if value > best {
                best = value; wait = 0; reductions = 0
                return (false, false)
            }
            if wait >= 5 - 1 {
                if reductions >= 3 - 1 { return (false, true) }
                reductions += 1
                wait = 0
                return (true, false)
            }
            wait += 1
            return (false, false)
        }
    }

    @Test("early stopping with resetDecayStepsOnImprovement follows ViV1T's Scheduler evaluation by evaluation")
    func plateauMatchesTheReference() {
        let c = TrainerConfiguration.viv1t.earlyStopping
        #expect(c.patience == 5 && c.lrDecaySteps == 3 && c.maxEpochs == 400 && c.restoreBest && c.tolerance == 0
                && c.resetDecayStepsOnImprovement)
        // Improvements, plateaus (a cut each), an improvement after two cuts (the count starts
        // again), then three plateaus in a row: stop.
        var values: [Double] = [0.10, 0.20, 0.21]
        values += [Double](repeating: 0.2, count: 5)     // plateau 1
        values += [0.25] + [Double](repeating: 0.2, count: 10)   // improvement, plateaus 1 and 2
        values += [0.26] + [Double](repeating: 0.2, count: 15)   // improvement, plateaus 1, 2, 3: stop
        var reference = ReferenceScheduler()
        var stopping = EarlyStopping(configuration: c)
        _ = stopping.start(objective: 0)   // the reference's best starts at 0
        var cuts = 0
        for (k, v) in values.enumerated() {
            let expected = reference.step(v)
            let due = stopping.epochCompleted()
            #expect(due)
            let d = stopping.record(objective: v)
            let cut = d.endedDecayStep && !d.finished
            #expect(cut == expected.cut, "evaluation \(k + 1)")
            #expect(d.finished == expected.stop, "evaluation \(k + 1)")
            if cut { #expect(d.restoreBest); cuts += 1 }
            if d.finished {
                #expect(d.restoreBest && k == values.count - 1)
                break
            }
        }
        #expect(stopping.isFinished && cuts == 5 && stopping.bestObjective == 0.26)
        // Without the reset (the reference trainer), the two plateaus before 0.26 count: stop earlier.
        var plain = EarlyStopping(configuration: .init(patience: 5, tolerance: 0, lrDecaySteps: 3, maxEpochs: 400))
        _ = plain.start(objective: 0)
        var stoppedAt = 0
        for (k, v) in values.enumerated() {
            _ = plain.epochCompleted()
            if plain.record(objective: v).finished { stoppedAt = k + 1; break }
        }
        #expect(stoppedAt > 0 && stoppedAt < values.count)
    }

    @Test("the trainer restores the best weights and cuts every group's rate by 0.3 at each plateau, then stops")
    func trainerPlateau() throws {
        let model = toyModel(seed: 5, dropout: 0)
        var c = TrainerConfiguration.viv1t
        c.optimizer = .adamW(.init(learningRate: 0.01, weightDecay: 0.3939,
                                   parameterGroups: [ParameterGroup(name: "core", prefixes: ["core."], learningRate: 0.02, weightDecay: 0.1789)]))
        // Never an improvement after the start: every epoch ends a decay step.
        c.earlyStopping.patience = 1
        c.earlyStopping.tolerance = 10
        c.validationSkipFrames = 3
        let trainer = Trainer(model: model, data: ToyData(seed: 9, mice: toyMice), configuration: c, logger: quietLogger)
        let initial = parameterBits(model)
        let summary = try trainer.fit()
        #expect(summary.finished && summary.epochs == 3 && summary.bestEpoch == 0)
        let reports = trainer.history.dropFirst()
        #expect(reports.map(\.decayStep) == [1, 2, 3])
        #expect(reports.allSatisfy { $0.restoredBest })
        // Epochs 1 and 2 end with a cut; the third ends training (no cut).
        #expect(zip(reports.map(\.learningRate), [0.003, 0.0009, 0.0009]).allSatisfy { abs($0 - $1) < 1e-12 })
        #expect(abs(trainer.optimizer.groupLearningRates["core"]! - 0.02 * 0.09) < 1e-12)
        // The best weights were the initial ones.
        #expect(parameterBits(model) == initial)
    }
}

extension TrainerConfiguration {
    /// Through JSON and back.
    static func fromJSONRoundTrip(_ c: TrainerConfiguration) -> TrainerConfiguration {
        (try? TrainerConfiguration.fromJSON(c.jsonString())) ?? TrainerConfiguration(seed: 0)
    }
}

