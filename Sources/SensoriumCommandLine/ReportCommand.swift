import ArgumentParser
import Foundation
import Sensorium

/// `sensorium report`: the HTML page of a run.
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write the HTML report of a run (training curves, correlations, readout positions).",
        discussion: """
        RUN is a folder written by `sensorium train`, `sensorium evaluate` or `sensorium demo` (it reads \
        run.json, evaluation.json and the training checkpoint found there), or a run report JSON file.
        """
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: "A run folder or a run report JSON file.")
    var runFolder: String

    @Option(name: .shortAndLong, help: "The HTML file to write (default: report.html in the run folder).")
    var output: String?

    @Option(help: "Page title.")
    var title: String?

    mutating func run() throws {
        _ = global.makeLogger("report")
        let path = (runFolder as NSString).expandingTildeInPath
        var report = try RunFolder.loadReport(path)
        if let title { report.title = title }
        let destination = output.map { ($0 as NSString).expandingTildeInPath }
            ?? (RunFolder.isDirectory(path) ? (path as NSString).appendingPathComponent("report.html")
                : ((path as NSString).deletingPathExtension + ".html"))
        try HTMLReport.write(report, to: URL(fileURLWithPath: destination))
        emit("wrote \(destination)")
    }
}
