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
        p.caption { color: #444; font-size: 0.92em; max-width: 60em; }
        p.note { background: #f6f6f2; border-left: 3px solid #c9c29a; padding: 0.5em 0.8em; max-width: 60em; }
        svg.chart { border: 1px solid #e2e2e2; max-width: 100%; height: auto; }
        footer { margin-top: 2.5em; color: #888; font-size: 0.85em; }
        </style>
        </head>
        <body>
        <h1>\(e(report.title))</h1>

        """
        if let subtitle = report.subtitle { html += "<p class=\"subtitle\">\(e(subtitle))</p>\n" }
        html += resultsSection(report)
        html += miceSection(report)
        html += scoringNote(report)
        html += trainingSection(report)
        html += tracesSection(report)
        html += correlationSection(report)
        html += oracleSection(report)
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

    static func e(_ s: String) -> String { SVGChart.escape(s) }

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
        var html = "<h2>Training</h2>\n"
        let history = report.history
        guard !history.isEmpty else {
            return html + "<p>No training history here (this folder holds an evaluation only; its run folder has <code>run.json</code>).</p>\n"
        }
        let validationText = report.validationSetup.map { v in
            "the \(v.tier.rawValue) tier" + (v.maxFrames.map { ", trials cut to \($0) frames" } ?? ", whole trials") + ", first \(v.skipFrames) skipped"
        } ?? "the validation tier"
        html += "<p class=\"caption\">Loss: the mean over the epoch's steps of the summed Poisson loss of every mouse's batch "
            + "(scaled as in the reference; lower is better). Validation: single-trial correlation on \(e(validationText)), "
            + "measured before training (epoch 0) and after every epoch. Learning rate: its value at the end of every epoch.</p>\n"
        html += "<div class=\"charts\">\n"
        let loss = history.compactMap { r in r.trainingLoss.map { (x: Double(r.epoch), y: $0) } }
        html += SVGChart.lineChart(title: "Training loss", xLabel: "epoch", yLabel: "Poisson loss per step (summed over mice)",
                                   series: [.init(label: "", points: loss, color: SVGChart.color(0))], integerX: true, id: "training-loss")
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
        html += SVGChart.lineChart(title: "Validation correlation", xLabel: "epoch", yLabel: "ρ_st (validation)",
                                   series: validation, integerX: true, id: "validation-correlation")
        let lr = history.map { (x: Double($0.epoch), y: $0.learningRate) }
        let rates = Set(history.map(\.learningRate))
        html += SVGChart.lineChart(title: rates.count == 1 ? "Learning rate (constant)" : "Learning rate (log scale)",
                                   xLabel: "epoch", yLabel: "learning rate",
                                   series: [.init(label: "", points: lr, color: SVGChart.color(1))], logarithmicY: true,
                                   integerX: true, id: "learning-rate")
        html += "</div>\n"
        if let best = history.last {
            html += "<p>Best validation correlation \(String(format: "%.4f", best.bestObjective)) at epoch \(best.bestEpoch) "
                + "(\(history.count) evaluations).</p>\n"
        }
        return html
    }

    /// Why the validation correlation of the training differs from the evaluation's scores.
    static func scoringNote(_ report: RunReport) -> String {
        guard let v = report.validationSetup, let o = report.evaluationOptions else { return "" }
        let validationFrames = v.maxFrames.map { "the first \($0) frames of each trial, \($0 - v.skipFrames) after skipping \(v.skipFrames)" }
            ?? "whole trials, skipping the first \(v.skipFrames) frames"
        let evaluationFrames = o.maxFrames.map { "the first \($0) frames, \($0 - o.skipFrames) after skipping \(o.skipFrames)" }
            ?? "whole trials, skipping the first \(o.skipFrames) frames"
        let tiers = (o.mainTiers + o.bonusTiers).map(\.rawValue).joined(separator: ", ")
        var html = "<p class=\"note\"><b>Validation and evaluation measure different things.</b> The validation correlation "
            + "that drives training (and early stopping) is the single-trial correlation on the \(e(v.tier.rawValue)) tier over "
            + "\(e(validationFrames)); the scores above are on the test tiers (\(e(tiers))) over \(e(evaluationFrames)), as the "
            + "competition scored them. A correlation over more frames of a trial is usually higher (the slow components of "
            + "the response count), so the two numbers are not comparable"
        if let validation = report.mice?.compactMap({ $0.scores["validation"] }), !validation.isEmpty,
           let lastBest = report.history.last?.bestObjective, lastBest.isFinite {
            let mean = validation.map(\.singleTrial).reduce(0, +) / Double(validation.count)
            html += String(format: ": the same \(e(v.tier.rawValue)) tier scored the evaluation's way gives ρ<sub>st</sub> %.3f "
                           + "(mean over mice) against %.3f during training", mean, lastBest)
        }
        return html + ".</p>\n"
    }

    /// One row per mouse: the model's scores on each track, the validation score, and the ceiling.
    static func miceSection(_ report: RunReport) -> String {
        guard let mice = report.mice, !mice.isEmpty else { return "" }
        let hasCeiling = mice.contains { $0.ceiling != nil }
        var html = "<h2>Per mouse</h2>\n<table class=\"mice\">\n<thead><tr><th>Mouse</th><th>neurons</th>"
            + "<th>main ρ<sub>st</sub></th><th>main ρ<sub>ta</sub></th><th>bonus ρ<sub>st</sub></th><th>bonus ρ<sub>ta</sub></th>"
            + "<th>validation ρ<sub>st</sub></th>"
        if hasCeiling { html += "<th>ceiling main ρ<sub>ta</sub></th><th>main ρ<sub>ta</sub> / ceiling</th>" }
        html += "</tr></thead>\n<tbody>\n"
        for m in mice {
            let main = m.scores["main"], validation = m.scores["validation"]
            // The bonus track as the competition ranked it: the mean over the OOD families.
            let families = m.scores.filter { $0.key.hasPrefix("bonus/") }.map(\.value)
            let bonus: (singleTrial: Double, toAverage: Double)? = families.isEmpty
                ? m.scores["bonus"].map { ($0.singleTrial, $0.toAverage) }
                : (families.map(\.singleTrial).reduce(0, +) / Double(families.count),
                   families.map(\.toAverage).reduce(0, +) / Double(families.count))
            html += "<tr><td title=\"\(e(m.mouse))\">\(e(shortName(m.mouse)))</td><td>\(m.neurons)</td>"
                + "<td>\(cell(main?.singleTrial))</td><td>\(cell(main?.toAverage))</td>"
                + "<td>\(cell(bonus?.singleTrial))</td><td>\(cell(bonus?.toAverage))</td><td>\(cell(validation?.singleTrial))</td>"
            if hasCeiling {
                let c = m.ceiling?["main"]?.toAverage
                html += "<td>\(cell(c))</td><td>\(percent(main?.toAverage, of: c))</td>"
            }
            html += "</tr>\n"
        }
        html += "</tbody>\n</table>\n"
        if let o = report.evaluationOptions {
            let main = o.mainTiers.map(\.rawValue).joined(separator: " + ")
            let bonus = o.bonusTiers.map(\.rawValue).joined(separator: " + ")
            let validation = o.validationTier.map { "; validation: \($0.rawValue), scored like the tests" } ?? ""
            html += "<p class=\"caption\">Main: \(e(main)); bonus: \(e(bonus)) (the mean over its OOD families)\(e(validation)).</p>\n"
        }
        return html
    }

    /// Predicted against recorded responses of the best, median and worst neuron of every mouse.
    static func tracesSection(_ report: RunReport) -> String {
        guard let diagnostics = report.diagnostics, diagnostics.contains(where: { !$0.traces.isEmpty }) else { return "" }
        var html = "<h2>Example neurons: predicted and recorded responses</h2>\n"
        html += "<p class=\"caption\">For each mouse, the neurons with the best, median and worst single-trial correlation "
            + "on the main track; one test trial each (frames after the skipped ones, 30 Hz), normalised responses. Grey: the recorded "
            + "response averaged over every repeat of the same video (what the stimulus drives).</p>\n<div class=\"charts\">\n"
        for (mi, d) in diagnostics.enumerated() {
            for (ti, t) in d.traces.enumerated() {
                let frames = (0..<t.recorded.count).map { Double(t.firstFrame + $0) }
                var series: [SVGChart.Series] = []
                if let average = t.repeatAverage {
                    series.append(.init(label: "recorded, mean of repeats", points: zip(frames, average).map { (x: $0, y: Double($1)) },
                                        color: "#aaaaaa"))
                }
                series.append(.init(label: "recorded (this trial)", points: zip(frames, t.recorded).map { (x: $0, y: Double($1)) },
                                    color: "#222222"))
                series.append(.init(label: "predicted", points: zip(frames, t.predicted).map { (x: $0, y: Double($1)) },
                                    color: SVGChart.color(1)))
                html += SVGChart.lineChart(
                    title: "\(shortName(d.mouse)): \(t.rank) neuron (unit \(t.unitID), ρ_st \(String(format: "%.2f", t.correlation)))",
                    xLabel: "frame of \(t.tier.rawValue) trial \(t.trial)", yLabel: "response (normalised)",
                    series: series, integerX: true, width: 460, height: 240, id: "trace-\(mi)-\(ti)")
            }
        }
        return html + "</div>\n"
    }

    static func correlationSection(_ report: RunReport) -> String {
        var html = "<h2>Per-neuron scores</h2>\n"
        let tiers = report.evaluationOptions.map { o in
            "the main track's test tiers (\(o.mainTiers.map(\.rawValue).joined(separator: ", "))), "
                + (o.maxFrames.map { "first \($0) frames" } ?? "whole trials") + ", first \(o.skipFrames) skipped"
        } ?? "the test tiers"
        html += "<p class=\"caption\">Every panel uses \(e(tiers)). ρ<sub>st</sub>: correlation of the prediction with each "
            + "single trial; ceiling: the same for the synthetic mouse's true (noise-free) rates; oracle: each repeat against the mean of "
            + "the other repeats of its video (leave-one-out); FEVE: the fraction of the stimulus-explainable variance (variance "
            + "across repeats removed) that the model explains.</p>\n<div class=\"charts\">\n"
        let groups = report.neuronCorrelations.enumerated().map { i, c in
            SVGChart.Group(label: "\(shortName(c.mouse))", values: c.values.map(Double.init), color: SVGChart.color(i))
        }
        let label = Set(report.neuronCorrelations.map(\.label)).count == 1 ? report.neuronCorrelations[0].label : "correlation"
        html += SVGChart.histogram(title: "Per-neuron correlation", xLabel: label, groups: groups, bins: 30,
                                   range: (-0.2, 1), width: 560, id: "correlation-histogram")
        for (i, m) in (report.mice ?? []).enumerated() {
            guard let model = m.scores["main"]?.perNeuronSingleTrial, let ceiling = m.ceiling?["main"]?.perNeuronSingleTrial else { continue }
            html += SVGChart.scatter(title: "\(shortName(m.mouse)): model against ceiling", xLabel: "ground-truth ceiling ρ_st",
                                     yLabel: "model ρ_st", x: ceiling.map(Double.init), y: model.map(Double.init),
                                     color: SVGChart.color(i), diagonal: true, id: "model-vs-ceiling-\(i)")
        }
        for (i, d) in (report.diagnostics ?? []).enumerated() {
            if let m = report.mice?.first(where: { $0.mouse == d.mouse }), let model = m.scores["main"]?.perNeuronToAverage {
                html += SVGChart.scatter(title: "\(shortName(d.mouse)): model against oracle", xLabel: "oracle correlation (leave-one-out)",
                                         yLabel: "model ρ_ta", x: d.oracleCorrelation.map(Double.init), y: model.map(Double.init),
                                         color: SVGChart.color(i), diagonal: true, id: "model-vs-oracle-\(i)")
            }
        }
        // FEVE divides by the explainable variance: neurons with almost none give huge values of
        // either sign, so values are clipped to [−1, 1] (into the end bins) and the legend gives the median.
        let feve = (report.diagnostics ?? []).enumerated().map { i, d in
            let values = d.fractionExplained.map(Double.init).filter(\.isFinite).sorted()
            let median = values.isEmpty ? Double.nan : values[values.count / 2]
            return SVGChart.Group(label: "\(shortName(d.mouse)) (\(d.videos) videos, \(d.trials) trials; median \(String(format: "%.2f", median)))",
                                  values: values.map { min(1, max(-1, $0)) }, color: SVGChart.color(i))
        }
        if !feve.isEmpty {
            html += SVGChart.histogram(title: "FEVE per neuron (clipped to −1…1)", xLabel: "fraction of explainable variance explained",
                                       groups: feve, bins: 40, range: (-1, 1), width: 560, showMean: false,
                                       id: "feve-histogram")
        }
        return html + "</div>\n"
    }

    /// FEVE, the oracle correlation and the fraction of the oracle per mouse (``OracleSummary``):
    /// a table and a histogram of the oracle and the model's ρ_st per neuron.
    static func oracleSection(_ report: RunReport) -> String {
        let summaries = (report.diagnostics ?? []).compactMap { d -> OracleSummary? in
            guard let st = report.mice?.first(where: { $0.mouse == d.mouse })?.scores["main"]?.perNeuronSingleTrial,
                  st.count == d.oracleCorrelation.count else { return nil }
            return OracleSummary(d, singleTrial: st)
        }
        guard !summaries.isEmpty else { return "" }
        func c(_ x: Double) -> String { x.isFinite ? String(format: "%.3f", x) : "–" }
        var html = "<h2>Oracle and explainable variance</h2>\n<table class=\"oracle\" id=\"oracle-table\">\n<thead><tr><th>Mouse</th>"
            + "<th>videos</th><th>mean FEV</th><th>mean FEVE</th><th>median FEVE</th><th>mean oracle</th><th>mean ρ<sub>st</sub></th>"
            + "<th>fraction of oracle</th></tr></thead>\n<tbody>\n"
        for m in summaries {
            html += "<tr><td title=\"\(e(m.mouse))\">\(e(shortName(m.mouse)))</td><td>\(m.videos)</td><td>\(c(m.meanFEV))</td>"
                + "<td>\(c(m.meanFEVE))</td><td>\(c(m.medianFEVE))</td><td>\(c(m.meanOracle))</td><td>\(c(m.meanModelSingleTrial))</td>"
                + "<td>\(c(m.fractionOfOracle))</td></tr>\n"
        }
        if summaries.count > 1 {
            html += "<tr class=\"fraction\"><td>all mice</td><td></td><td></td><td></td><td></td><td></td><td></td>"
                + "<td>\(c(OracleSummary.pooledFractionOfOracle(summaries)))</td></tr>\n"
        }
        html += "</tbody>\n</table>\n<p class=\"caption\">Over the repeated videos of the main track's test tiers. Fraction of "
            + "oracle: the least-squares slope through the origin of the model's per-neuron ρ<sub>st</sub> on the oracle correlation "
            + "(SENSORIUM 2022's measure); means over neurons with finite values.</p>\n<div class=\"charts\">\n"
        var groups: [SVGChart.Group] = []
        for (i, m) in summaries.enumerated() {
            let label = summaries.count > 1 ? "\(shortName(m.mouse)) " : ""
            groups.append(SVGChart.Group(label: label + "oracle", values: m.oracle.map(Double.init).filter(\.isFinite),
                                         color: SVGChart.color(2 * i)))
            groups.append(SVGChart.Group(label: label + "model ρ_st", values: m.modelSingleTrial.map(Double.init).filter(\.isFinite),
                                         color: SVGChart.color(2 * i + 1)))
        }
        html += SVGChart.histogram(title: "Oracle and model correlation per neuron", xLabel: "correlation", groups: groups, bins: 30,
                                   range: (-0.2, 1), width: 560, id: "oracle-histogram")
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
        html += "</div>\n"
        let cortical = report.readoutPositions.filter { $0.corticalX != nil }
        if !cortical.isEmpty {
            html += "<p class=\"caption\">Retinotopy: each neuron's readout position against its position on the cortex "
                + "(<code>cell_motor_coordinates</code>, µm). Visual cortex maps the visual field smoothly, so a learnt position "
                + "that follows the cortical position is a sign the readout found the neuron's receptive field.</p>\n<div class=\"charts\">\n"
            for (i, p) in cortical.enumerated() {
                html += SVGChart.scatter(title: "\(shortName(p.mouse)): horizontal position", xLabel: "cortical x (µm)",
                                         yLabel: "readout x (grid units)", x: (p.corticalX ?? []).map(Double.init),
                                         y: p.x.map(Double.init), color: SVGChart.color(i), width: 380, height: 340,
                                         id: "cortex-x-\(i)")
                html += SVGChart.scatter(title: "\(shortName(p.mouse)): vertical position", xLabel: "cortical y (µm)",
                                         yLabel: "readout y (grid units)", x: (p.corticalY ?? []).map(Double.init),
                                         y: p.y.map(Double.init), color: SVGChart.color(i), width: 380, height: 340,
                                         id: "cortex-y-\(i)")
            }
            html += "</div>\n"
        }
        let truth = report.readoutPositions.filter { $0.trueX != nil }
        if !truth.isEmpty {
            html += "<p class=\"caption\">Synthetic mice: the learnt readout positions against the true receptive-field centres "
                + "the mice were generated with (<code>meta/synthetic/rf_grid_positions.npy</code>, converted to the readout's grid, "
                + "which spans the core's output: a convolution without padding crops the frame's border); on the dashed "
                + "line the readout sits exactly on the receptive field.</p>\n<div class=\"charts\">\n"
            var distancesText: [String] = []
            for (i, p) in truth.enumerated() {
                let tx = (p.trueX ?? []).map(Double.init), ty = (p.trueY ?? []).map(Double.init)
                var distances: [Double] = []
                for k in 0..<min(tx.count, ty.count, p.x.count) {
                    let dx = tx[k] - Double(p.x[k]), dy = ty[k] - Double(p.y[k])
                    let d = (dx * dx + dy * dy).squareRoot()
                    if d.isFinite { distances.append(d) }
                }
                distances.sort()
                let median = distances.isEmpty ? Double.nan : distances[distances.count / 2]
                html += SVGChart.scatter(title: "\(shortName(p.mouse)): x, learnt against true", xLabel: "true x (grid units)",
                                         yLabel: "learnt x", x: tx, y: p.x.map(Double.init), color: SVGChart.color(i), diagonal: true,
                                         width: 380, height: 340, id: "truth-x-\(i)")
                html += SVGChart.scatter(title: "\(shortName(p.mouse)): y, learnt against true", xLabel: "true y (grid units)",
                                         yLabel: "learnt y", x: ty, y: p.y.map(Double.init), color: SVGChart.color(i), diagonal: true,
                                         width: 380, height: 340, id: "truth-y-\(i)")
                distancesText.append("\(e(shortName(p.mouse))) " + String(format: "%.3f", median))
            }
            html += "</div>\n<p class=\"caption\">Median distance between learnt and true position, in grid units (the grid is 2 "
                + "units wide): \(distancesText.joined(separator: ", ")).</p>\n"
        }
        return html
    }

    /// Mouse folder names are long (`dynamic29515-10-12-Video-9b4f…`); keep the leading part.
    static func shortName(_ mouse: String) -> String {
        mouse.count <= 28 ? mouse : String(mouse.prefix(26)) + "…"
    }
}
