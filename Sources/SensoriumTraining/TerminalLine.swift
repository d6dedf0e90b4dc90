import Foundation

/// The one progress line a ``ProgressBar`` redraws in place on a terminal, shared with everything
/// else that writes to the same terminal (a log handler): ``write(_:to:)`` clears the line, writes
/// the text above it and redraws it, so that log text never lands inside the progress line.
/// Thread-safe.
///
/// ```swift
/// // in a swift-log LogHandler:
/// TerminalLine.write("\(level) \(message)\n", to: .standardError)
/// ```
public enum TerminalLine {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var line: String?
    nonisolated(unsafe) private static var lineOutput: FileHandle?

    /// Writes `text` (whole lines) to `output`; when a progress line is showing on the same output,
    /// the text goes above it and the line is redrawn below.
    public static func write(_ text: String, to output: FileHandle) {
        lock.lock()
        defer { lock.unlock() }
        if let line, lineOutput?.fileDescriptor == output.fileDescriptor {
            output.write(Data(("\r\u{1B}[2K" + text + line).utf8))
        } else {
            output.write(Data(text.utf8))
        }
    }

    /// Shows `text` as the progress line on `output` (replacing the previous one).
    public static func show(_ text: String, on output: FileHandle) {
        lock.lock()
        defer { lock.unlock() }
        line = text
        lineOutput = output
        output.write(Data(("\r\u{1B}[2K" + text).utf8))
    }

    /// Clears the progress line (the cursor returns to the start of the now empty line).
    public static func clear() {
        lock.lock()
        defer { lock.unlock() }
        if line != nil, let lineOutput { lineOutput.write(Data("\r\u{1B}[2K".utf8)) }
        line = nil
        lineOutput = nil
    }

    /// Whether a progress line is showing.
    public static var isShowing: Bool {
        lock.lock()
        defer { lock.unlock() }
        return line != nil
    }
}
