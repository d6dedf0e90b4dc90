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
        run.json, evaluation.json and the training checkpoint found there; for the demo's folder, its run/ \
        subfolder's run.json and the evaluation at the top), or a run report JSON file. A folder without a \
        run is refused with the run folders found inside it.
        """
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: "A run folder or a run report JSON file.")
    var runFolder: String

    @Option(name: .shortAndLong, help: "Where to write: a folder (report.html is written into it, as every other -o names a folder) or a file ending in .html (default: the run folder).")
    var output: String?

    @Option(help: "Page title (default: the run's).")
    var title: String?

    mutating func run() throws {
        _ = global.makeLogger("report")
        let path = (runFolder as NSString).expandingTildeInPath
        var report = try RunFolder.loadReport(path)
        if let title { report.title = title }
        let destination: String
        if let output {
            let expanded = (output as NSString).expandingTildeInPath
            if expanded.lowercased().hasSuffix(".html") || expanded.lowercased().hasSuffix(".htm") {
                destination = expanded
            } else {
                try RunFolder.create(expanded)
                destination = RunFolder.file(expanded, RunFolder.reportFile)
            }
        } else {
            destination = RunFolder.isDirectory(path) ? RunFolder.file(path, RunFolder.reportFile)
                : (path as NSString).deletingPathExtension + ".html"
        }
        try HTMLReport.write(report, to: URL(fileURLWithPath: destination))
        emit("wrote \(destination)")
    }
}
