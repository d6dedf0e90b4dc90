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
    /// An epoch finished (epoch 0: the evaluation before training).
    func epochDidEnd(_ report: EpochReport)
    /// Training stopped.
    func trainingDidEnd(_ summary: TrainingSummary)
}

extension TrainingObserver {
    public func trainingWillStart(_ report: TrainingStartReport) {}
    public func stepDidEnd(_ report: StepReport) {}
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
            "loss": "\(report.loss)", "lr": "\(report.learningRate)",
        ])
    }

    public func epochDidEnd(_ report: EpochReport) {
        logger.info("\(ProgressBar.epochLine(report))")
    }

    public func trainingDidEnd(_ summary: TrainingSummary) {
        logger.info("training \(summary.finished ? "finished" : "interrupted")", metadata: [
            "epochs": "\(summary.epochs)", "best": "\(summary.bestObjective)", "best_epoch": "\(summary.bestEpoch)",
        ])
    }
}

/// A progress display: on a terminal, a bar redrawn in place with the epoch's progress, ETA,
/// running loss and the last validation correlation; otherwise (a file or pipe) one plain line per
/// epoch, so logs stay readable.
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

    private let output: FileHandle
    private let isBar: Bool
    private let width: Int
    private var epochStart = ContinuousClock.now
    private var lastDraw: ContinuousClock.Instant?
    private var lossSum = 0.0
    private var lossCount = 0
    private var lastValidation: Double?
    private var maxEpochs = 0
    private var lineOpen = false

    /// A progress display writing to `output` (standard error by default).
    public init(style: Style = .automatic, output: FileHandle = .standardError, width: Int = 24) {
        self.output = output
        self.width = max(width, 5)
        switch style {
        case .automatic: isBar = isatty(output.fileDescriptor) != 0
        case .bar: isBar = true
        case .lines: isBar = false
        }
    }

    private func write(_ text: String) {
        output.write(Data(text.utf8))
    }

    public func trainingWillStart(_ report: TrainingStartReport) {
        maxEpochs = report.maxEpochs
        epochStart = .now
        let resumed = report.completedEpochs > 0 || report.globalStep > 0
        write("training \(report.trainableParameters) parameters, at most \(report.maxEpochs) epochs"
              + (resumed ? ", resuming after epoch \(report.completedEpochs) (step \(report.globalStep))" : "") + "\n")
    }

    public func stepDidEnd(_ report: StepReport) {
        if report.round == 1 {
            epochStart = .now
            lossSum = 0
            lossCount = 0
        }
        lossSum += report.loss
        lossCount += 1
        guard isBar else { return }
        let now = ContinuousClock.now
        if let last = lastDraw, now - last < .milliseconds(100), report.round < report.roundsInEpoch { return }
        lastDraw = now
        let fraction = Double(report.round) / Double(max(report.roundsInEpoch, 1))
        let filled = Int((fraction * Double(width)).rounded(.down))
        let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
        let elapsed = ProgressBar.seconds(now - epochStart)
        let eta = report.round > 0 ? elapsed / Double(lossCount) * Double(report.roundsInEpoch - report.round) : 0
        var line = "epoch \(report.epoch)/\(maxEpochs) [\(bar)] \(report.round)/\(report.roundsInEpoch)"
        line += " loss \(ProgressBar.format(lossSum / Double(lossCount)))"
        if let v = lastValidation { line += " val \(String(format: "%.4f", v))" }
        line += " lr \(String(format: "%.1e", report.learningRate)) ETA \(ProgressBar.clock(eta))"
        write("\r\u{1B}[2K" + line)
        lineOpen = true
    }

    public func epochDidEnd(_ report: EpochReport) {
        if let v = report.validation?.correlation { lastValidation = v }
        lossSum = 0
        lossCount = 0
        if lineOpen { write("\r\u{1B}[2K"); lineOpen = false }
        write(ProgressBar.epochLine(report) + "\n")
        epochStart = .now
    }

    public func trainingDidEnd(_ summary: TrainingSummary) {
        if lineOpen { write("\n"); lineOpen = false }
        write("training \(summary.finished ? "finished" : "interrupted") after \(summary.epochs) epochs: best validation correlation "
              + String(format: "%.4f", summary.bestObjective) + " (epoch \(summary.bestEpoch)), \(ProgressBar.clock(summary.seconds))\n")
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

    static func format(_ x: Double) -> String {
        abs(x) >= 1e4 || (abs(x) < 1e-2 && x != 0) ? String(format: "%.3e", x) : String(format: "%.4f", x)
    }
}
