import Testing
import Foundation
@testable import Sensorium
@testable import SensoriumTraining

/// Learning-rate sequences of PyTorch 2.13 `ReduceLROnPlateau` and event sequences of
/// `neuralpredictors` 0.3.0 `early_stopping` (driving that scheduler) on scripted objectives.
enum ScheduleReference {
    static let referenceMetrics: [Double] = [0.1, 0.2, 0.2, 0.2000005, 0.2, 0.19, 0.2, 0.2]
        + [Double](repeating: 0.25, count: 30)
    /// mode=max, factor=0.3, patience=5, threshold=1e-6 (abs), min_lr=1e-4, lr 5e-3.
    static let referenceRates: [Double] = [0.005, 0.005, 0.005, 0.005, 0.005, 0.005, 0.005, 0.0015, 0.0015, 0.0015,
                                           0.0015, 0.0015, 0.0015, 0.0015, 0.00045, 0.00045, 0.00045, 0.00045, 0.00045,
                                           0.00045, 0.000135, 0.000135, 0.000135, 0.000135, 0.000135, 0.000135]
        + [Double](repeating: 0.0001, count: 12)

    static let relativeMinMetrics: [Double] = [10, 9, 8.5, 8.4999, 8.4995, 8.5, 8.4, 8.39, 8.38, 8.37]
        + [Double](repeating: 8.36, count: 14)
    /// mode=min, factor=0.5, patience=2, threshold=1e-3 (rel), cooldown=2, min_lr=0.1, lr 1.
    static let relativeMinRates: [Double] = [1.0, 1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.25, 0.25,
                                             0.25, 0.25, 0.25, 0.125, 0.125, 0.125, 0.125, 0.125, 0.1]

    static let relativeMaxMetrics: [Double] = [0.5, 0.5, 0.4999, 0.50004, 0.5001, 0.6, 0.6, 0.6, 0.6]
    /// mode=max, factor=0.1, patience=1, threshold=1e-3 (rel), lr 0.1.
    static let relativeMaxRates: [Double] = [0.1, 0.1, 0.010000000000000002, 0.010000000000000002, 0.0010000000000000002,
                                             0.0010000000000000002, 0.0010000000000000002, 0.00010000000000000003,
                                             0.00010000000000000003]

    /// The objective after epoch `e` is `script[e]` (index 0: before training); the model's
    /// single weight holds the objective, so restoring the best weights restores the best value.
    static let script: [Float] = [0.10, 0.12, 0.15, 0.15, 0.16, 0.155, 0.158, 0.159, 0.16, 0.1600005, 0.157, 0.17,
                                  0.165, 0.166, 0.167, 0.168, 0.169, 0.1695, 0.1699, 0.17, 0.1700001, 0.16, 0.16,
                                  0.16, 0.16, 0.16, 0.16, 0.175, 0.171, 0.172, 0.173, 0.174]
        + [Float](repeating: 0.174, count: 29)

    /// One entry per epoch the loop trained: (epoch, learning rate, weight before training).
    typealias Event = (epoch: Int, lr: Double, weight: Float)

    /// interval 1, patience 5, max 200, tolerance 1e-6, restore best, 4 decay steps (the reference).
    static let referenceEvents: [Event] = [
        (1, 0.005, 0.10000000149011612), (2, 0.005, 0.11999999731779099), (3, 0.005, 0.15000000596046448),
        (4, 0.005, 0.15000000596046448), (5, 0.005, 0.1599999964237213), (6, 0.005, 0.1550000011920929),
        (7, 0.005, 0.15800000727176666), (8, 0.005, 0.1589999943971634), (9, 0.005, 0.1599999964237213),
        (10, 0.005, 0.1599999964237213), (11, 0.0015, 0.15700000524520874), (12, 0.0015, 0.17000000178813934),
        (13, 0.0015, 0.16500000655651093), (14, 0.0015, 0.16599999368190765), (15, 0.0015, 0.16699999570846558),
        (16, 0.0015, 0.1679999977350235), (17, 0.0015, 0.17000000178813934), (18, 0.00045, 0.16949999332427979),
        (19, 0.00045, 0.16990000009536743), (20, 0.00045, 0.17000000178813934), (21, 0.00045, 0.1700001060962677),
        (22, 0.00045, 0.17000000178813934), (23, 0.00045, 0.1599999964237213), (24, 0.000135, 0.1599999964237213),
        (25, 0.000135, 0.1599999964237213), (26, 0.000135, 0.1599999964237213),
    ]
    static let referenceFinal: Float = 0.17000000178813934

    /// Same with at most 25 epochs.
    static let maxEpochEvents = Array(referenceEvents.prefix(25))
    static let maxEpochFinal: Float = 0.17000000178813934

    /// interval 2, patience 3, restore_best False, 2 decay steps.
    static let intervalEvents: [Event] = [
        (1, 0.005, 0.10000000149011612), (2, 0.005, 0.11999999731779099), (3, 0.005, 0.15000000596046448),
        (4, 0.005, 0.15000000596046448), (5, 0.005, 0.1599999964237213), (6, 0.005, 0.1550000011920929),
        (7, 0.005, 0.15800000727176666), (8, 0.005, 0.1589999943971634), (9, 0.005, 0.1599999964237213),
        (10, 0.005, 0.1600005030632019), (11, 0.005, 0.15700000524520874), (12, 0.005, 0.17000000178813934),
        (13, 0.005, 0.16500000655651093), (14, 0.005, 0.16599999368190765), (15, 0.005, 0.16699999570846558),
        (16, 0.005, 0.1679999977350235), (17, 0.005, 0.16899999976158142), (18, 0.005, 0.16949999332427979),
        (19, 0.005, 0.16990000009536743), (20, 0.005, 0.17000000178813934), (21, 0.005, 0.1700001060962677),
        (22, 0.005, 0.1599999964237213), (23, 0.005, 0.1599999964237213), (24, 0.005, 0.1599999964237213),
        (25, 0.005, 0.1599999964237213), (26, 0.005, 0.1599999964237213),
    ]
    static let intervalFinal: Float = 0.1599999964237213

    /// A NaN objective after epoch 2 stops training and restores the best (0.2).
    static let nanScript: [Float] = [0.1, 0.2, .nan, 0.3, 0.3]
    static let nanEvents: [Event] = [(1, 0.005, 0.10000000149011612), (2, 0.005, 0.20000000298023224)]
    static let nanFinal: Float = 0.20000000298023224
}

/// A one-weight module whose weight is the objective.
private final class ScalarModel: Module {
    let weight = Tensor([0], requiresGrad: true)
}

/// Drives EarlyStopping + ReduceLROnPlateau the way the Trainer does, training an epoch being
/// "set the weight to the script value".
private func runEarlyStopping(_ script: [Float], _ configuration: EarlyStopping.Configuration,
                              schedulerPatience: Int = 5) throws -> (events: [ScheduleReference.Event], final: Float) {
    let model = ScalarModel()
    model.weight.storage.pointer[0] = script[0]
    let optimizer = AdamW(model)
    let plateau = ReduceLROnPlateau(configuration: .init(patience: schedulerPatience))
    var stopping = EarlyStopping(configuration: configuration)
    var best = model.stateDict()
    func apply(_ d: EarlyStopping.Decision) throws {
        if d.improved { best = model.stateDict() }
        if d.restoreBest { try model.loadStateDict(best) }
    }
    try apply(stopping.start(objective: Double(model.weight.item)))
    var events: [ScheduleReference.Event] = []
    while !stopping.isFinished {
        events.append((stopping.epoch + 1, optimizer.learningRate, model.weight.item))
        model.weight.storage.pointer[0] = script[stopping.epoch + 1]
        if stopping.epochCompleted() {
            let objective = Double(model.weight.item)
            plateau.step(objective, optimizer: optimizer)
            try apply(stopping.record(objective: objective))
        }
    }
    return (events, model.weight.item)
}

@Suite("Schedules")
struct ScheduleTests {
    private func rates(_ metrics: [Double], start: Double, _ configuration: ReduceLROnPlateau.Configuration) -> [Double] {
        let scheduler = ReduceLROnPlateau(configuration: configuration)
        var lr = start
        return metrics.map { m in
            lr = scheduler.step(m, learningRate: lr)
            return lr
        }
    }

    private func expectClose(_ a: [Double], _ b: [Double], _ label: String) {
        #expect(a.count == b.count, "\(label): \(a.count) vs \(b.count) values")
        for (i, (x, y)) in zip(a, b).enumerated() {
            #expect(abs(x - y) <= 1e-15 * max(1, abs(y)), "\(label) step \(i): \(x) vs PyTorch \(y)")
        }
    }

    @Test func plateauMatchesPyTorchReferenceRecipe() {
        expectClose(rates(ScheduleReference.referenceMetrics, start: 5e-3, .init()), ScheduleReference.referenceRates, "reference")
    }

    @Test func plateauRelativeModesAndCooldown() {
        expectClose(rates(ScheduleReference.relativeMinMetrics, start: 1,
                          .init(mode: .min, factor: 0.5, patience: 2, threshold: 1e-3, thresholdMode: .relative,
                                cooldown: 2, minLearningRate: 0.1)),
                    ScheduleReference.relativeMinRates, "rel/min/cooldown")
        expectClose(rates(ScheduleReference.relativeMaxMetrics, start: 0.1,
                          .init(mode: .max, factor: 0.1, patience: 1, threshold: 1e-3, thresholdMode: .relative,
                                minLearningRate: 0)),
                    ScheduleReference.relativeMaxRates, "rel/max")
    }

    @Test func plateauStateRoundTrip() throws {
        let a = ReduceLROnPlateau()
        var lr = 5e-3
        for m in ScheduleReference.referenceMetrics.prefix(9) { lr = a.step(m, learningRate: lr) }
        let b = ReduceLROnPlateau()
        try b.loadState(a.stateRecord())
        var lrA = lr, lrB = lr
        for m in ScheduleReference.referenceMetrics.dropFirst(9) {
            lrA = a.step(m, learningRate: lrA)
            lrB = b.step(m, learningRate: lrB)
            #expect(lrA == lrB)
        }
    }

    private func expectEvents(_ got: (events: [ScheduleReference.Event], final: Float),
                              _ want: [ScheduleReference.Event], _ final: Float, _ label: String) {
        #expect(got.events.count == want.count, "\(label): trained \(got.events.count) epochs, neuralpredictors \(want.count)")
        for (g, w) in zip(got.events, want) {
            #expect(g.epoch == w.epoch && abs(g.lr - w.lr) <= 1e-15 && g.weight == w.weight,
                    "\(label): epoch \(g.epoch) lr \(g.lr) weight \(g.weight) vs neuralpredictors \(w)")
        }
        #expect(got.final == final, "\(label): final weight \(got.final) vs \(final)")
    }

    @Test func earlyStoppingMatchesNeuralpredictors() throws {
        expectEvents(try runEarlyStopping(ScheduleReference.script, .init()),
                     ScheduleReference.referenceEvents, ScheduleReference.referenceFinal, "reference")
        expectEvents(try runEarlyStopping(ScheduleReference.script, .init(maxEpochs: 25)),
                     ScheduleReference.maxEpochEvents, ScheduleReference.maxEpochFinal, "max 25 epochs")
        expectEvents(try runEarlyStopping(ScheduleReference.script,
                                          .init(interval: 2, patience: 3, restoreBest: false, lrDecaySteps: 2)),
                     ScheduleReference.intervalEvents, ScheduleReference.intervalFinal, "interval 2")
        expectEvents(try runEarlyStopping(ScheduleReference.nanScript, .init()),
                     ScheduleReference.nanEvents, ScheduleReference.nanFinal, "NaN objective")
    }

    @Test func earlyStoppingStateRoundTrip() throws {
        var a = EarlyStopping()
        _ = a.start(objective: 0.1)
        for v in [0.2, 0.15, 0.15] {
            _ = a.epochCompleted()
            _ = a.record(objective: v)
        }
        var b = EarlyStopping()
        try b.loadState(a.stateRecord())
        #expect(b.epoch == 3 && b.patienceCounter == 2 && b.bestObjective == 0.2 && b.bestEpoch == 1 && b.started)
        for v in [0.15, 0.15, 0.15] {
            _ = a.epochCompleted()
            _ = b.epochCompleted()
            #expect(a.record(objective: v) == b.record(objective: v))
        }
        #expect(a.decayStep == 1 && b.decayStep == 1)
    }

    @Test func fixedEpochsNeverStopsEarly() {
        var s = EarlyStopping(configuration: .fixedEpochs(4))
        _ = s.start(objective: 1)
        var n = 0
        while !s.isFinished {
            n += 1
            if s.epochCompleted() {
                let d = s.record(objective: 0.5)
                #expect(!d.restoreBest)
            }
        }
        #expect(n == 4)
    }

    @Test func warmupCosineShape() {
        let s = WarmupCosineSchedule(warmupEpochs: 2, cosineEpochs: 4, minLearningRate: 0.1)
        // Ten steps per epoch: the first step uses a tenth of the warm-up slope.
        #expect(abs(s.learningRate(base: 1, progress: 0, stepFraction: 0.1) - 0.05) < 1e-12)
        #expect(abs(s.learningRate(base: 1, progress: 1.9, stepFraction: 0.1) - 1) < 1e-12)
        #expect(abs(s.learningRate(base: 1, progress: 2, stepFraction: 0.1) - 1) < 1e-12)
        #expect(abs(s.learningRate(base: 1, progress: 4, stepFraction: 0.1) - 0.55) < 1e-12)
        #expect(abs(s.learningRate(base: 1, progress: 6, stepFraction: 0.1) - 0.1) < 1e-12)
        #expect(abs(s.learningRate(base: 1, progress: 9, stepFraction: 0.1) - 0.1) < 1e-12)
        var previous = 2.0
        for k in 20..<60 {
            let lr = s.learningRate(base: 1, progress: Double(k) / 10, stepFraction: 0.1)
            #expect(lr <= previous)
            previous = lr
        }
    }

    @Test func movingAverage() throws {
        let model = ScalarModel()
        let ema = ExponentialMovingAverage(module: model, configuration: .init(decay: 0.9))
        var expected: Float = 0
        for v: Float in [1, 2, 3] {
            model.weight.storage.pointer[0] = v
            ema.update()
            expected = expected + 0.1 * (v - expected)
        }
        #expect(abs(ema.stateDict()["weight"]!.item - expected) < 1e-7)
        let inside = ema.withAveragedWeights { model.weight.item }
        #expect(inside == ema.stateDict()["weight"]!.item)
        #expect(model.weight.item == 3)
        let copy = ExponentialMovingAverage(module: ScalarModel(), configuration: .init(decay: 0.9))
        try copy.loadState(ema.stateRecord())
        #expect(copy.updates == 3 && copy.stateDict()["weight"]!.item == ema.stateDict()["weight"]!.item)
        let warm = ExponentialMovingAverage(module: model, configuration: .init(decay: 0.999, warmup: true))
        #expect(abs(warm.currentDecay - 0.1) < 1e-12)
    }
}
