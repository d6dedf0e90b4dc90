import Foundation
import Logging

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What a ``Trainer`` reports when a run (or a resumed run) starts.
public struct TrainingStartReport: Sendable {
    /// Epochs already completed (non-zero when resuming).
    public var completedEpochs: Int
    /// Optimizer steps already taken.
    public var globalStep: Int
    /// The upper bound on epochs.
    public var maxEpochs: Int
    /// Number of trainable scalars.
    public var trainableParameters: Int
}

/// What a ``Trainer`` reports after every optimizer step.
public struct StepReport: Sendable {
    /// The epoch being trained (1-based).
    public var epoch: Int
    /// Rounds (steps) done in this epoch, 1-based.
    public var round: Int
    /// Rounds in this epoch.
    public var roundsInEpoch: Int
    /// Steps since the start of training.
    public var globalStep: Int
    /// Total loss of the round (sum over the batches of every mouse, regularisers included).
    public var loss: Double
    /// The learning rate used by this step.
    public var learningRate: Double
    /// The global gradient norm before clipping, when clipping is on.
    public var gradientNorm: Double?
}

/// What a ``Trainer`` reports after every validation batch.
public struct ValidationProgress: Sendable {
    /// The epoch just trained (0: the validation before training).
    public var epoch: Int
    /// Batches scored so far in this pass.
    public var batchesDone: Int
    /// Batches in the pass, when the data source knows (``TrainingData/validationBatchCount``).
    public var batchesTotal: Int?
}

/// What a ``Trainer`` reports after every epoch (and once before training, as epoch 0).
public struct EpochReport: Sendable, Codable, Equatable {
    /// Epochs completed (0 for the evaluation before training).
    public var epoch: Int
    /// Mean loss per round over the epoch (nil for epoch 0).
    public var trainingLoss: Double?
    /// The validation score, when the objective was evaluated after this epoch.
    public var validation: ValidationResult?
    /// The learning rate at the end of the epoch.
    public var learningRate: Double
    /// Best objective so far.
    public var bestObjective: Double
    /// Epoch of the best objective.
    public var bestEpoch: Int
    /// Whether this epoch set a new best.
    public var improved: Bool
    /// Whether the best weights were loaded back after this epoch (end of a decay step or of training).
    public var restoredBest: Bool
    /// Decay steps completed.
    public var decayStep: Int
    /// Evaluations without improvement in the current decay step.
    public var patienceCounter: Int
    /// Wall-clock seconds of this epoch (training and validation).
    public var seconds: Double
}

/// The result of ``Trainer/fit(until:)``.
public struct TrainingSummary: Sendable, Codable, Equatable {
    /// Epochs completed in total.
    public var epochs: Int
    /// Optimizer steps taken in total.
    public var steps: Int
    /// The best objective.
    public var bestObjective: Double
    /// The epoch at which it was reached.
    public var bestEpoch: Int
    /// Whether training ran to its end (false when a stop condition interrupted it).
    public var finished: Bool
    /// Wall-clock seconds of this call.
    public var seconds: Double
}

/// Receives a ``Trainer``'s progress (for logging, plotting, custom stopping rules). All methods
/// run on the training thread and have empty default implementations.
public protocol TrainingObserver: AnyObject {
    /// Training starts (or resumes).
    func trainingWillStart(_ report: TrainingStartReport)
    /// An optimizer step finished.
    func stepDidEnd(_ report: StepReport)
    /// A validation batch was scored (during every validation pass, epoch 0's included).
    func validationDidProgress(_ report: ValidationProgress)
    /// An epoch finished (epoch 0: the evaluation before training).
    func epochDidEnd(_ report: EpochReport)
    /// Training stopped.
    func trainingDidEnd(_ summary: TrainingSummary)
}

extension TrainingObserver {
    public func trainingWillStart(_ report: TrainingStartReport) {}
    public func stepDidEnd(_ report: StepReport) {}
    public func validationDidProgress(_ report: ValidationProgress) {}
    public func epochDidEnd(_ report: EpochReport) {}
    public func trainingDidEnd(_ summary: TrainingSummary) {}
}

/// Sends one line per epoch (and step details at debug level) to a swift-log `Logger`.
public final class LoggingObserver: TrainingObserver {
    /// The destination.
    public let logger: Logger

    /// An observer logging to `logger`.
    public init(logger: Logger) { self.logger = logger }

    public func trainingWillStart(_ report: TrainingStartReport) {
        logger.info("training starts", metadata: [
            "completed_epochs": "\(report.completedEpochs)", "max_epochs": "\(report.maxEpochs)",
            "trainable_parameters": "\(report.trainableParameters)",
        ])
    }

    public func stepDidEnd(_ report: StepReport) {
        logger.debug("step", metadata: [
            "epoch": "\(report.epoch)", "round": "\(report.round)/\(report.roundsInEpoch)",
            "loss": "\(ProgressBar.format(report.loss))", "lr": "\(String(format: "%.3e", report.learningRate))",
        ])
    }

    public func epochDidEnd(_ report: EpochReport) {
        logger.info("\(ProgressBar.epochLine(report))")
    }

    public func trainingDidEnd(_ summary: TrainingSummary) {
        logger.info("training \(summary.finished ? "finished" : "interrupted")", metadata: [
            "epochs": "\(summary.epochs)", "best": "\(String(format: "%.4f", summary.bestObjective))", "best_epoch": "\(summary.bestEpoch)",
        ])
    }
}

/// A progress display. On a terminal: one line redrawn in place with the epoch's progress, the
/// running loss, the last validation correlation, the learning rate, the elapsed time and the ETA of
/// the whole run (to the end of the last epoch, or to ``timeLimit`` when that comes first; shown once
/// a few steps have been timed), and the progress of every validation pass; above it one line per
/// epoch. Log lines written through ``TerminalLine`` go above the progress line. Otherwise (a file
/// or pipe): one plain line per epoch, so that logs stay readable.
public final class ProgressBar: TrainingObserver {
    /// How the progress is shown.
    public enum Style: Sendable {
        /// A bar when the output is a terminal (`isatty`), plain lines otherwise.
        case automatic
        /// Always the redrawn bar.
        case bar
        /// Always plain lines.
        case lines
    }

    /// The time left for training, counted from ``trainingWillStart(_:)`` (the ETA does not go past
    /// it); a CLI training run sets what is left of its `--max-minutes`.
    public var timeLimit: Duration?

    private let output: FileHandle
    private let isBar: Bool
    private let width: Int
    private var start = ContinuousClock.now
    private var lastDraw: ContinuousClock.Instant?
    private var lastStepEnd: ContinuousClock.Instant?
    private var lossSum = 0.0
    private var lossCount = 0
    private var lastValidation: Double?
    private var maxEpochs = 0
    private var epochsDone = 0
    private var roundsPerEpoch = 0
    // Timing: seconds per step (steps after the first of each call, which warms caches) and per validation pass.
    private var stepSeconds = 0.0
    private var timedSteps = 0
    private var validationSeconds: Double?
    private var validationStart: ContinuousClock.Instant?

    /// A progress display writing to `output` (standard error by default); `timeLimit` bounds the ETA.
    public init(style: Style = .automatic, output: FileHandle = .standardError, width: Int = 24, timeLimit: Duration? = nil) {
        self.output = output
        self.width = max(width, 5)
        self.timeLimit = timeLimit
        switch style {
        case .automatic: isBar = isatty(output.fileDescriptor) != 0
        case .bar: isBar = true
        case .lines: isBar = false
        }
    }

    private func write(_ text: String) {
        TerminalLine.write(text, to: output)
    }

    public func trainingWillStart(_ report: TrainingStartReport) {
        maxEpochs = report.maxEpochs
        epochsDone = report.completedEpochs
        start = .now
        lastStepEnd = nil
        let resumed = report.completedEpochs > 0 || report.globalStep > 0
        var text = "training \(ProgressBar.grouped(report.trainableParameters)) parameters, at most \(report.maxEpochs) epochs"
        if let timeLimit { text += " or \(ProgressBar.clock(ProgressBar.seconds(timeLimit)))" }
        if resumed { text += ", resuming after epoch \(report.completedEpochs) (step \(report.globalStep))" }
        write(text + "\n")
    }

    public func validationDidProgress(_ report: ValidationProgress) {
        if validationStart == nil { validationStart = .now }
        guard isBar else { return }
        let now = ContinuousClock.now
        if let last = lastDraw, now - last < .milliseconds(100), report.batchesDone < (report.batchesTotal ?? .max) { return }
        lastDraw = now
        var line = report.epoch == 0 ? "validation before training" : "epoch \(report.epoch)/\(maxEpochs) validation"
        if let total = report.batchesTotal, total > 0 {
            line += " \(bar(Double(report.batchesDone) / Double(total))) \(report.batchesDone)/\(total) batches"
        } else {
            line += " \(report.batchesDone) batches"
        }
        // After this pass: the remaining epochs, each a full epoch and a pass.
        var remaining: Double?
        if timedSteps >= 2 {
            let perEpoch = Double(roundsPerEpoch) * stepSeconds / Double(timedSteps) + (validationSeconds ?? 0)
            remaining = Double(max(maxEpochs - report.epoch, 0)) * perEpoch
        }
        line += " · " + timing(now: now, remainingInRun: remaining)
        TerminalLine.show(line, on: output)
    }

    public func stepDidEnd(_ report: StepReport) {
        let now = ContinuousClock.now
        if report.round == 1 {
            lossSum = 0
            lossCount = 0
        }
        if let last = lastStepEnd {
            stepSeconds += ProgressBar.seconds(now - last)
            timedSteps += 1
        }
        lastStepEnd = now
        roundsPerEpoch = report.roundsInEpoch
        lossSum += report.loss
        lossCount += 1
        guard isBar else { return }
        if let last = lastDraw, now - last < .milliseconds(100), report.round < report.roundsInEpoch { return }
        lastDraw = now
        var line = "epoch \(report.epoch)/\(maxEpochs) \(bar(Double(report.round) / Double(max(report.roundsInEpoch, 1))))"
        line += " \(report.round)/\(report.roundsInEpoch) · loss \(ProgressBar.format(lossSum / Double(lossCount)))"
        if let v = lastValidation { line += " · val \(String(format: "%.4f", v))" }
        line += " · lr \(String(format: "%.1e", report.learningRate))"
        line += " · " + timing(now: now, remainingInRun: remainingSeconds(epoch: report.epoch, round: report.round,
                                                                            rounds: report.roundsInEpoch))
        TerminalLine.show(line, on: output)
    }

    public func epochDidEnd(_ report: EpochReport) {
        let now = ContinuousClock.now
        if let v = report.validation?.correlation { lastValidation = v }
        if report.validation != nil {
            // The pass ran from the last step (or the start) to now.
            if let since = report.epoch == 0 ? start : lastStepEnd {
                validationSeconds = ProgressBar.seconds(now - since)
            }
        }
        validationStart = nil
        epochsDone = report.epoch
        lossSum = 0
        lossCount = 0
        lastStepEnd = nil   // the validation pass is not a step
        if isBar { TerminalLine.clear() }
        write(ProgressBar.epochLine(report) + "\n")
    }

    public func trainingDidEnd(_ summary: TrainingSummary) {
        if isBar { TerminalLine.clear() }
        let how = summary.finished ? "finished" : "interrupted"
        var text = "training \(how) after \(summary.epochs) epochs in \(ProgressBar.clock(summary.seconds))"
        text += summary.bestObjective.isFinite
            ? ": best validation correlation \(String(format: "%.4f", summary.bestObjective)) at epoch \(summary.bestEpoch)"
            : ": no validation score"
        if !summary.finished, let timeLimit, ProgressBar.seconds(.now - start) >= ProgressBar.seconds(timeLimit) * 0.98 {
            text += " (time limit reached)"
        }
        write(text + "\n")
    }

    private func bar(_ fraction: Double) -> String {
        let filled = min(width, max(0, Int((fraction * Double(width)).rounded(.down))))
        return "[" + String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled) + "]"
    }

    /// Seconds left to the end of the last epoch from step `round` of `rounds` of epoch `epoch`
    /// (nil until two steps have been timed).
    private func remainingSeconds(epoch: Int, round: Int, rounds: Int) -> Double? {
        guard timedSteps >= 2 else { return nil }
        let perStep = stepSeconds / Double(timedSteps)
        let validation = validationSeconds ?? 0
        let epochsAfter = Double(max(maxEpochs - epoch, 0))
        return Double(rounds - round) * perStep + validation + epochsAfter * (Double(rounds) * perStep + validation)
    }

    /// "elapsed 01:23 · ETA 12:34" (to the last epoch or to the time limit, whichever comes first).
    private func timing(now: ContinuousClock.Instant, remainingInRun: Double?) -> String {
        let elapsed = ProgressBar.seconds(now - start)
        var text = "\(ProgressBar.clock(elapsed)) elapsed"
        let toLimit = timeLimit.map { max(0, ProgressBar.seconds($0) - elapsed) }
        switch (remainingInRun, toLimit) {
        case let (run?, limit?) where limit < run: text += " · ETA \(ProgressBar.clock(limit)) (time limit)"
        case let (run?, _): text += " · ETA ≤ \(ProgressBar.clock(run)) (\(maxEpochs) epochs)"
        case let (nil, limit?): text += " · at most \(ProgressBar.clock(limit)) left (time limit)"
        case (nil, nil): text += " · ETA --:--"
        }
        return text
    }

    /// The one-line summary of an epoch used by the plain and logging outputs.
    public static func epochLine(_ report: EpochReport) -> String {
        var parts = ["epoch \(report.epoch)"]
        if let loss = report.trainingLoss { parts.append("loss \(format(loss))") }
        if let v = report.validation { parts.append("val corr \(String(format: "%.4f", v.correlation))") }
        parts.append("best \(String(format: "%.4f", report.bestObjective)) @\(report.bestEpoch)")
        parts.append("lr \(String(format: "%.2e", report.learningRate))")
        if report.patienceCounter > 0 { parts.append("patience \(report.patienceCounter)") }
        if report.restoredBest { parts.append("restored best") }
        parts.append(String(format: "%.1f s", report.seconds))
        return parts.joined(separator: " | ")
    }

    /// A duration in seconds.
    public static func seconds(_ d: Duration) -> Double {
        let c = d.components
        return Double(c.seconds) + Double(c.attoseconds) * 1e-18
    }

    static func clock(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "--:--" }
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%02d:%02d", s / 60, s % 60)
    }

    /// Four significant digits: "1234", "0.1169", "1.234e+06".
    static func format(_ x: Double) -> String {
        abs(x) >= 1e4 || (abs(x) < 1e-2 && x != 0) ? String(format: "%.3e", x) : String(format: "%.4g", x)
    }

    /// 518786 as "518,786".
    public static func grouped(_ n: Int) -> String {
        let digits = String(n.magnitude)
        var out = ""
        for (i, c) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(c)
        }
        return (n < 0 ? "-" : "") + out
    }
}
