import Foundation
import SensoriumMetrics

/// Renders a ``RunReport`` as one self-contained HTML page: the Table 1 scores (with the fraction
/// of the ceiling when one is known), training curves, a histogram of per-neuron correlations and
/// the readout positions over the visual field, all as inline SVG (no scripts, no external files).
///
/// ```swift
/// let html = HTMLReport.render(report)
/// try HTMLReport.write(report, to: URL(fileURLWithPath: "run/report.html"))
/// ```
public enum HTMLReport {
    /// The page for `report`. `generated` is printed in the footer (omit it for reproducible output).
    public static func render(_ report: RunReport, generated: Date? = nil) -> String {
        let e = SVGChart.escape
        var html = """
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>\(e(report.title))</title>
        <style>
        body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2em auto; max-width: 1180px; color: #222; padding: 0 1em; }
        h1 { font-size: 1.6em; margin-bottom: 0.2em; }
        h2 { font-size: 1.2em; margin-top: 1.8em; border-bottom: 1px solid #ddd; padding-bottom: 0.2em; }
        p.subtitle { color: #555; margin-top: 0; }
        table { border-collapse: collapse; margin: 0.6em 0; font-variant-numeric: tabular-nums; }
        th, td { border: 1px solid #ccc; padding: 0.3em 0.7em; text-align: right; }
        th:first-child, td:first-child { text-align: left; }
        thead th { background: #f2f2f2; }
        tr.ceiling td { color: #555; font-style: italic; }
        tr.fraction td { color: #0b6b3a; }
        .charts { display: flex; flex-wrap: wrap; gap: 12px; }
        svg.chart { border: 1px solid #e2e2e2; max-width: 100%; height: auto; }
        footer { margin-top: 2.5em; color: #888; font-size: 0.85em; }
        </style>
        </head>
        <body>
        <h1>\(e(report.title))</h1>

        """
        if let subtitle = report.subtitle { html += "<p class=\"subtitle\">\(e(subtitle))</p>\n" }
        html += resultsSection(report)
        html += trainingSection(report)
        html += correlationSection(report)
        html += positionSection(report)
        if !report.facts.isEmpty {
            html += "<h2>Run</h2>\n<table class=\"facts\">\n<tbody>\n"
            for fact in report.facts {
                html += "<tr><td>\(e(fact.name))</td><td>\(e(fact.value))</td></tr>\n"
            }
            html += "</tbody>\n</table>\n"
        }
        html += "<footer>Sensorium for Swift"
        if let generated {
            let formatter = ISO8601DateFormatter()
            html += " · generated \(formatter.string(from: generated))"
        }
        html += "</footer>\n</body>\n</html>\n"
        return html
    }

    /// Renders and writes the page (atomically); throws `SensoriumError` naming the file.
    public static func write(_ report: RunReport, to url: URL, generated: Date? = Date()) throws {
        do {
            try Data(render(report, generated: generated).utf8).write(to: url, options: .atomic)
        } catch {
            throw SensoriumError.file(path: url.path, message: "cannot write the report (\(error.localizedDescription))")
        }
    }

    // MARK: Sections

    static func cell(_ v: Double?) -> String {
        guard let v else { return "–" }
        return v.isFinite ? String(format: "%.3f", v) : "–"
    }

    static func percent(_ a: Double?, of b: Double?) -> String {
        guard let a, let b, a.isFinite, b.isFinite, b > 0 else { return "–" }
        return String(format: "%.0f%%", 100 * a / b)
    }

    static func resultsSection(_ report: RunReport) -> String {
        guard !report.table.isEmpty || report.ceiling != nil else { return "" }
        let e = SVGChart.escape
        var html = "<h2>Scores (Table 1 layout)</h2>\n<table class=\"scores\">\n<thead>\n"
        html += "<tr><th rowspan=\"2\">Model</th><th colspan=\"2\">Main track</th><th colspan=\"2\">Bonus track</th></tr>\n"
        html += "<tr><th>ρ<sub>st</sub></th><th>ρ<sub>ta</sub></th><th>ρ<sub>st</sub></th><th>ρ<sub>ta</sub></th></tr>\n</thead>\n<tbody>\n"
        func row(_ r: Table1Summary, _ cls: String? = nil) -> String {
            let c = cls.map { " class=\"\($0)\"" } ?? ""
            return "<tr\(c)><td>\(e(r.model))</td><td>\(cell(r.mainTrack?.singleTrial))</td><td>\(cell(r.mainTrack?.toAverage))</td>"
                + "<td>\(cell(r.bonusTrack?.singleTrial))</td><td>\(cell(r.bonusTrack?.toAverage))</td></tr>\n"
        }
        for r in report.table { html += row(r) }
        if let ceiling = report.ceiling {
            html += row(ceiling, "ceiling")
            for r in report.table {
                html += "<tr class=\"fraction\"><td>\(e(r.model)) / ceiling</td>"
                    + "<td>\(percent(r.mainTrack?.singleTrial, of: ceiling.mainTrack?.singleTrial))</td>"
                    + "<td>\(percent(r.mainTrack?.toAverage, of: ceiling.mainTrack?.toAverage))</td>"
                    + "<td>\(percent(r.bonusTrack?.singleTrial, of: ceiling.bonusTrack?.singleTrial))</td>"
                    + "<td>\(percent(r.bonusTrack?.toAverage, of: ceiling.bonusTrack?.toAverage))</td></tr>\n"
            }
        }
        html += "</tbody>\n</table>\n"
        let families = report.table.first?.bonusFamilies ?? []
        if !families.isEmpty {
            let ceilingFamilies = Dictionary(report.ceiling?.bonusFamilies.map { ($0.family, $0.scores) } ?? [],
                                             uniquingKeysWith: { a, _ in a })
            html += "<table class=\"families\">\n<thead><tr><th>Bonus family (\(e(report.table[0].model)))</th>"
                + "<th>ρ<sub>st</sub></th><th>ρ<sub>ta</sub></th>"
            if !ceilingFamilies.isEmpty { html += "<th>ceiling ρ<sub>st</sub></th><th>ceiling ρ<sub>ta</sub></th>" }
            html += "</tr></thead>\n<tbody>\n"
            for f in families {
                html += "<tr><td>\(e(f.family))</td><td>\(cell(f.scores.singleTrial))</td><td>\(cell(f.scores.toAverage))</td>"
                if !ceilingFamilies.isEmpty {
                    let c = ceilingFamilies[f.family]
                    html += "<td>\(cell(c?.singleTrial))</td><td>\(cell(c?.toAverage))</td>"
                }
                html += "</tr>\n"
            }
            html += "</tbody>\n</table>\n"
        }
        return html
    }

    static func trainingSection(_ report: RunReport) -> String {
        var html = "<h2>Training</h2>\n<div class=\"charts\">\n"
        let history = report.history
        let loss = history.compactMap { r in r.trainingLoss.map { (x: Double(r.epoch), y: $0) } }
        html += SVGChart.lineChart(title: "Training loss", xLabel: "epoch", yLabel: "mean loss per step",
                                   series: [.init(label: "", points: loss, color: SVGChart.color(0))], id: "training-loss")
        var validation: [SVGChart.Series] = [
            .init(label: "all mice", points: history.compactMap { r in r.validation.map { (x: Double(r.epoch), y: $0.correlation) } },
                  color: "#222222"),
        ]
        var mice: [String] = []
        for r in history { for m in r.validation?.perMouse ?? [] where !mice.contains(m.mouse) { mice.append(m.mouse) } }
        if mice.count > 1 {
            for (i, mouse) in mice.enumerated() {
                let points = history.compactMap { r -> (x: Double, y: Double)? in
                    guard let score = r.validation?.perMouse.first(where: { $0.mouse == mouse }) else { return nil }
                    return (Double(r.epoch), score.correlation)
                }
                validation.append(.init(label: shortName(mouse), points: points, color: SVGChart.color(i), dashed: true))
            }
        }
        html += SVGChart.lineChart(title: "Validation single-trial correlation", xLabel: "epoch", yLabel: "ρ_st (validation)",
                                   series: validation, id: "validation-correlation")
        let lr = history.map { (x: Double($0.epoch), y: $0.learningRate) }
        html += SVGChart.lineChart(title: "Learning rate", xLabel: "epoch", yLabel: "learning rate",
                                   series: [.init(label: "", points: lr, color: SVGChart.color(1))], logarithmicY: true,
                                   id: "learning-rate")
        html += "</div>\n"
        if let best = history.last {
            html += "<p>Best validation correlation \(String(format: "%.4f", best.bestObjective)) at epoch \(best.bestEpoch) "
                + "(\(history.count) evaluations).</p>\n"
        }
        return html
    }

    static func correlationSection(_ report: RunReport) -> String {
        var html = "<h2>Per-neuron correlations</h2>\n<div class=\"charts\">\n"
        let groups = report.neuronCorrelations.enumerated().map { i, c in
            SVGChart.Group(label: "\(shortName(c.mouse)) \(c.label)", values: c.values.map(Double.init), color: SVGChart.color(i))
        }
        let label = Set(report.neuronCorrelations.map(\.label)).count == 1 ? report.neuronCorrelations[0].label : "correlation"
        html += SVGChart.histogram(title: "Per-neuron correlation", xLabel: label, groups: groups, bins: 30,
                                   range: (-0.2, 1), width: 640, id: "correlation-histogram")
        return html + "</div>\n"
    }

    static func positionSection(_ report: RunReport) -> String {
        var html = "<h2>Readout positions over the visual field</h2>\n"
        guard !report.readoutPositions.isEmpty else {
            return html + "<p>The model has no Gaussian readout positions.</p>\n"
        }
        html += "<p>Mean position of every neuron's Gaussian readout on the core's output grid (the frame seen by the "
            + "mouse, x to the right, y downwards), coloured by the neuron's correlation where known.</p>\n<div class=\"charts\">\n"
        for (i, p) in report.readoutPositions.enumerated() {
            let values = report.neuronCorrelations.first { $0.mouse == p.mouse && $0.values.count == p.x.count }
            html += SVGChart.positionMap(title: "Readout positions: \(shortName(p.mouse)) (\(p.x.count) neurons)",
                                         x: p.x.map(Double.init), y: p.y.map(Double.init),
                                         values: values.map { $0.values.map(Double.init) }, valueLabel: values?.label ?? "",
                                         color: SVGChart.color(i), id: "readout-positions-\(i)")
        }
        return html + "</div>\n"
    }

    /// Mouse folder names are long (`dynamic29515-10-12-Video-9b4f…`); keep the leading part.
    static func shortName(_ mouse: String) -> String {
        mouse.count <= 28 ? mouse : String(mouse.prefix(26)) + "…"
    }
}
