import Foundation

/// Small, dependency-free SVG charts for the HTML report: line charts, histograms and scatter
/// plots, written as inline `<svg>` elements (no scripts, no external resources).
public enum SVGChart {
    /// One line of a line chart.
    public struct Series: Sendable {
        /// Legend label.
        public var label: String
        /// Points (x, y); non-finite values break the line.
        public var points: [(x: Double, y: Double)]
        /// CSS colour.
        public var color: String
        /// Dashed line.
        public var dashed: Bool

        /// A series.
        public init(label: String, points: [(x: Double, y: Double)], color: String, dashed: Bool = false) {
            self.label = label
            self.points = points
            self.color = color
            self.dashed = dashed
        }
    }

    /// One group of values of a histogram (drawn as translucent bars over the others).
    public struct Group: Sendable {
        /// Legend label.
        public var label: String
        /// The values.
        public var values: [Double]
        /// CSS colour.
        public var color: String

        /// A group.
        public init(label: String, values: [Double], color: String) {
            self.label = label
            self.values = values
            self.color = color
        }
    }

    /// A categorical palette (colour-blind friendly, Okabe–Ito).
    public static let palette = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"]

    /// The palette colour of index `i` (wrapping around).
    public static func color(_ i: Int) -> String { palette[((i % palette.count) + palette.count) % palette.count] }

    // MARK: Geometry

    struct Frame {
        let width: Double, height: Double
        let left: Double = 62, right: Double = 16, top: Double = 30, bottom: Double = 44
        /// Room under the x-axis label for a legend.
        var legendHeight: Double = 0
        var plotWidth: Double { width - left - right }
        var plotHeight: Double { height - top - bottom - legendHeight }
    }

    struct Scale {
        let lower: Double, upper: Double
        let pixelLower: Double, pixelUpper: Double
        let logarithmic: Bool

        func map(_ v: Double) -> Double {
            let (a, b, x) = logarithmic ? (log10(lower), log10(upper), log10(max(v, lower))) : (lower, upper, v)
            let f = b > a ? (x - a) / (b - a) : 0.5
            return pixelLower + f * (pixelUpper - pixelLower)
        }
    }

    /// "Nice" tick values covering [lower, upper], about `count` of them.
    static func ticks(_ lower: Double, _ upper: Double, count: Int = 5, integer: Bool = false) -> [Double] {
        guard lower.isFinite, upper.isFinite, upper > lower else { return [lower] }
        let raw = (upper - lower) / Double(max(count, 1))
        let magnitude = pow(10, floor(log10(raw)))
        var step = [1.0, 2, 2.5, 5, 10].map { $0 * magnitude }.first { $0 >= raw } ?? 10 * magnitude
        if integer {
            // Whole numbers only (epochs): steps of 1, 2, 5, 10, 20, 50, …
            step = max(1, step)
            if step.rounded() != step || step == 2.5 * magnitude {
                let base = max(1, magnitude)
                let candidates: [Double] = [base, 2 * base, 5 * base, 10 * base]
                step = candidates.first { $0 >= step } ?? step.rounded(.up)
            }
        }
        var ticks: [Double] = []
        var t = ceil(lower / step - 1e-9) * step
        while t <= upper + step * 1e-9 {
            ticks.append(abs(t) < step * 1e-9 ? 0 : t)
            t += step
        }
        return ticks
    }

    /// Decade ticks for a logarithmic axis.
    static func logTicks(_ lower: Double, _ upper: Double) -> [Double] {
        guard lower > 0, upper > lower else { return [lower] }
        let a = Int(floor(log10(lower))), b = Int(ceil(log10(upper)))
        let low = lower * (1 - 1e-9), high = upper * (1 + 1e-9)
        func within(_ multiples: [Double]) -> [Double] {
            var out: [Double] = []
            for exponent in a...b {
                let scale = pow(10, Double(exponent))
                for m in multiples where m * scale >= low && m * scale <= high { out.append(m * scale) }
            }
            return out
        }
        // Decades when the range spans several; else 1-2-5; else every integer multiple.
        for multiples in [[1.0], [1, 2, 5], [1, 2, 3, 4, 5, 6, 7, 8, 9]] {
            let t = within(multiples)
            if t.count >= 3 || (multiples.count == 9 && !t.isEmpty) { return t }
        }
        return [lower, upper]
    }

    /// Labels for `ticks` that are all different and exact (as few digits as that takes):
    /// "0.25", "1.5e6", "5e-3".
    static func tickLabels(_ ticks: [Double]) -> [String] {
        let largest = ticks.map(abs).max() ?? 0
        let scientific = largest >= 1e4 || (largest < 1e-2 && largest > 0)
        let spacing = zip(ticks.dropFirst(), ticks).map { abs($0 - $1) }.min() ?? max(largest, 1)
        for digits in 0...6 {
            let labels = ticks.map { v -> String in
                if v == 0 { return "0" }
                guard scientific else { return String(format: "%.\(digits)f", v) }
                var text = String(format: "%.\(digits)e", v)
                text = text.replacingOccurrences(of: "e+0", with: "e").replacingOccurrences(of: "e-0", with: "e-")
                    .replacingOccurrences(of: "e+", with: "e")
                return text
            }
            let exact = zip(labels, ticks).allSatisfy { label, v in
                guard let parsed = Double(label) else { return false }
                return abs(parsed - v) <= max(spacing, abs(v)) * 1e-6
            }
            if exact && Set(labels).count == labels.count { return labels }
        }
        return ticks.map { String(format: "%.6g", $0) }
    }

    /// Widens a degenerate or non-finite range, and pads a range by a fraction of its width.
    static func range(_ values: [Double], pad: Double = 0.05, includeZero: Bool = false) -> (Double, Double) {
        let finite = values.filter(\.isFinite)
        guard var lo = finite.min(), var hi = finite.max() else { return (0, 1) }
        if includeZero { lo = min(lo, 0); hi = max(hi, 0) }
        if hi - lo < 1e-12 {
            let d = max(abs(lo) * 0.1, 1e-3)
            return (lo - d, hi + d)
        }
        let d = (hi - lo) * pad
        return (includeZero && lo == 0 ? 0 : lo - d, hi + d)
    }

    static func number(_ v: Double) -> String {
        if v == 0 { return "0" }
        let a = abs(v)
        if a >= 1e4 || a < 1e-3 { return String(format: "%.0e", v) }
        if a >= 100 { return String(format: "%.0f", v) }
        var s = String(format: "%.3f", v)
        while s.hasSuffix("0") { s.removeLast() }
        if s.hasSuffix(".") { s.removeLast() }
        return s
    }

    static func px(_ v: Double) -> String { String(format: "%.1f", v) }

    /// Escapes text for HTML/SVG content and attribute values.
    public static func escape(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.count)
        for c in s {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(c)
            }
        }
        return out
    }

    /// Escaped text for an SVG `<text>` element, with "ρ_st" and "ρ_ta" set as real subscripts.
    public static func svgText(_ s: String) -> String {
        var out = ""
        var rest = Substring(escape(s))
        while let range = rest.range(of: "_") {
            let before = rest[..<range.lowerBound]
            let after = rest[range.upperBound...]
            let sub = after.prefix { $0.isLetter || $0.isNumber }
            guard before.last == "ρ", !sub.isEmpty else {
                out += before + "_"
                rest = after
                continue
            }
            out += before + "<tspan baseline-shift=\"sub\" font-size=\"75%\">\(sub)</tspan>"
            rest = after.dropFirst(sub.count)
        }
        return out + rest
    }

    /// Plain text (tooltips, accessible labels): "ρ_st" as "ρst" with Unicode subscripts.
    public static func plainText(_ s: String) -> String {
        escape(s.replacingOccurrences(of: "ρ_st", with: "ρₛₜ").replacingOccurrences(of: "ρ_ta", with: "ρₜₐ"))
    }

    static func open(_ f: Frame, title: String, id: String?) -> String {
        let idAttribute = id.map { " id=\"\(escape($0))\"" } ?? ""
        return "<svg xmlns=\"http://www.w3.org/2000/svg\"\(idAttribute) class=\"chart\" viewBox=\"0 0 \(px(f.width)) \(px(f.height))\" "
            + "width=\"\(px(f.width))\" height=\"\(px(f.height))\" role=\"img\" aria-label=\"\(plainText(title))\">\n"
            + "<title>\(plainText(title))</title>\n"
            + "<rect x=\"0\" y=\"0\" width=\"\(px(f.width))\" height=\"\(px(f.height))\" fill=\"white\"/>\n"
            + "<text x=\"\(px(f.width / 2))\" y=\"18\" text-anchor=\"middle\" font-size=\"13\" font-weight=\"bold\">\(svgText(title))</text>\n"
    }

    static func axes(_ f: Frame, x: Scale, y: Scale, xTicks: [Double], yTicks: [Double], xLabel: String, yLabel: String) -> String {
        var s = "<g font-size=\"10\" fill=\"#333\">\n"
        let x0 = f.left, x1 = f.left + f.plotWidth, y0 = f.top + f.plotHeight, y1 = f.top
        for (t, label) in zip(yTicks, tickLabels(yTicks)) {
            let py = y.map(t)
            s += "<line x1=\"\(px(x0))\" y1=\"\(px(py))\" x2=\"\(px(x1))\" y2=\"\(px(py))\" stroke=\"#e4e4e4\"/>"
            s += "<text x=\"\(px(x0 - 4))\" y=\"\(px(py + 3))\" text-anchor=\"end\">\(escape(label))</text>\n"
        }
        for (t, label) in zip(xTicks, tickLabels(xTicks)) {
            let pxv = x.map(t)
            s += "<line x1=\"\(px(pxv))\" y1=\"\(px(y0))\" x2=\"\(px(pxv))\" y2=\"\(px(y0 + 4))\" stroke=\"#333\"/>"
            s += "<text x=\"\(px(pxv))\" y=\"\(px(y0 + 15))\" text-anchor=\"middle\">\(escape(label))</text>\n"
        }
        s += "<rect x=\"\(px(x0))\" y=\"\(px(y1))\" width=\"\(px(f.plotWidth))\" height=\"\(px(f.plotHeight))\" fill=\"none\" stroke=\"#333\"/>\n"
        s += "<text x=\"\(px(x0 + f.plotWidth / 2))\" y=\"\(px(y0 + 34))\" text-anchor=\"middle\" font-size=\"11\">\(svgText(xLabel))</text>\n"
        s += "<text transform=\"translate(14 \(px(y1 + f.plotHeight / 2))) rotate(-90)\" text-anchor=\"middle\" font-size=\"11\">\(svgText(yLabel))</text>\n"
        return s + "</g>\n"
    }

    /// Legend items laid out in rows under the x-axis label (≈ 5.6 px per character at 10 px).
    static func legendRows(_ items: [(label: String, color: String, dashed: Bool)], width: Double) -> [[Int]] {
        guard items.count > 1 || (items.first.map { !$0.label.isEmpty } ?? false) else { return [] }
        var rows: [[Int]] = [[]]
        var used = 0.0
        for (i, item) in items.enumerated() {
            let w = 30 + 5.6 * Double(item.label.count)
            if used + w > width && !rows[rows.count - 1].isEmpty {
                rows.append([])
                used = 0
            }
            rows[rows.count - 1].append(i)
            used += w
        }
        return rows
    }

    static let legendRowHeight = 14.0

    /// The legend under the plot (the frame's legendHeight holds its rows), so that it
    /// never covers a curve.
    static func legend(_ f: Frame, _ items: [(label: String, color: String, dashed: Bool)]) -> String {
        let rows = legendRows(items, width: f.plotWidth)
        guard !rows.isEmpty else { return "" }
        var s = "<g font-size=\"10\">\n"
        var y = f.top + f.plotHeight + 44 + 10
        for row in rows {
            var x = f.left
            for i in row {
                let item = items[i]
                let dash = item.dashed ? " stroke-dasharray=\"5 3\"" : ""
                s += "<line x1=\"\(px(x))\" y1=\"\(px(y - 3))\" x2=\"\(px(x + 18))\" y2=\"\(px(y - 3))\" stroke=\"\(escape(item.color))\" stroke-width=\"2\"\(dash)/>"
                s += "<text x=\"\(px(x + 22))\" y=\"\(px(y))\">\(svgText(item.label))</text>\n"
                x += 30 + 5.6 * Double(item.label.count)
            }
            y += legendRowHeight
        }
        return s + "</g>\n"
    }

    static func empty(_ f: Frame, _ message: String) -> String {
        "<text x=\"\(px(f.left + f.plotWidth / 2))\" y=\"\(px(f.top + f.plotHeight / 2))\" text-anchor=\"middle\" font-size=\"12\" fill=\"#777\">\(escape(message))</text>\n"
    }

    // MARK: Charts

    /// A line chart with one line per series (points marked when a series has few points).
    public static func lineChart(title: String, xLabel: String, yLabel: String, series: [Series],
                                 logarithmicY: Bool = false, integerX: Bool = false, width: Double = 560, height: Double = 300,
                                 id: String? = nil) -> String {
        let legendHeight = Double(legendRows(series.map { ($0.label, $0.color, $0.dashed) }, width: width - 78).count) * legendRowHeight
        let f = Frame(width: width, height: height + legendHeight, legendHeight: legendHeight)
        var svg = open(f, title: title, id: id)
        let xs = series.flatMap { $0.points.map(\.x) }.filter(\.isFinite)
        var ys = series.flatMap { $0.points.map(\.y) }.filter(\.isFinite)
        if logarithmicY { ys = ys.filter { $0 > 0 } }
        guard !xs.isEmpty, !ys.isEmpty else {
            return svg + axes(f, x: Scale(lower: 0, upper: 1, pixelLower: f.left, pixelUpper: f.left + f.plotWidth, logarithmic: false),
                              y: Scale(lower: 0, upper: 1, pixelLower: f.top + f.plotHeight, pixelUpper: f.top, logarithmic: false),
                              xTicks: [], yTicks: [], xLabel: xLabel, yLabel: yLabel) + empty(f, "no data") + "</svg>\n"
        }
        let (xl, xu) = range(xs, pad: 0)
        let (yl, yu): (Double, Double)
        if logarithmicY {
            let lo = ys.min()!, hi = ys.max()!
            (yl, yu) = hi > lo ? (lo / 1.3, hi * 1.3) : (lo / 2, hi * 2)
        } else {
            (yl, yu) = range(ys)
        }
        let x = Scale(lower: xl, upper: xu, pixelLower: f.left, pixelUpper: f.left + f.plotWidth, logarithmic: false)
        let y = Scale(lower: yl, upper: yu, pixelLower: f.top + f.plotHeight, pixelUpper: f.top, logarithmic: logarithmicY)
        let xTicks = ticks(xl, xu, integer: integerX).filter { $0 >= xl && $0 <= xu }
        let yTicks = logarithmicY ? logTicks(yl, yu) : ticks(yl, yu).filter { $0 >= yl && $0 <= yu }
        svg += axes(f, x: x, y: y, xTicks: xTicks, yTicks: yTicks, xLabel: xLabel, yLabel: yLabel)
        for s in series {
            let dash = s.dashed ? " stroke-dasharray=\"5 3\"" : ""
            var segments: [[(Double, Double)]] = [[]]
            for p in s.points {
                if p.x.isFinite, p.y.isFinite, !(logarithmicY && p.y <= 0) {
                    segments[segments.count - 1].append((x.map(p.x), y.map(p.y)))
                } else if !segments[segments.count - 1].isEmpty {
                    segments.append([])
                }
            }
            for seg in segments where !seg.isEmpty {
                let points = seg.map { "\(px($0.0)),\(px($0.1))" }.joined(separator: " ")
                svg += "<polyline class=\"series\" fill=\"none\" stroke=\"\(escape(s.color))\" stroke-width=\"1.8\"\(dash) points=\"\(points)\"/>\n"
                if s.points.count <= 40 {
                    for p in seg {
                        svg += "<circle cx=\"\(px(p.0))\" cy=\"\(px(p.1))\" r=\"2.2\" fill=\"\(escape(s.color))\"/>"
                    }
                    svg += "\n"
                }
            }
        }
        svg += legend(f, series.map { ($0.label, $0.color, $0.dashed) })
        return svg + "</svg>\n"
    }

    /// A histogram of one or more groups over shared bins (translucent overlapping bars), with a
    /// dashed line at each group's mean (and the mean in the legend) when `showMean`.
    public static func histogram(title: String, xLabel: String, groups: [Group], bins: Int = 30,
                                 range fixedRange: (Double, Double)? = nil, width: Double = 560, height: Double = 300,
                                 showMean: Bool = true, id: String? = nil) -> String {
        let legendHeight = Double(legendRows(groups.map { ("\($0.label) (mean 0.000)", $0.color, false) }, width: width - 78).count)
            * legendRowHeight
        let f = Frame(width: width, height: height + legendHeight, legendHeight: legendHeight)
        var svg = open(f, title: title, id: id)
        let all = groups.flatMap(\.values).filter(\.isFinite)
        guard !all.isEmpty, bins > 0 else {
            return svg + empty(f, "no data") + "</svg>\n"
        }
        var (lo, hi) = fixedRange ?? range(all, pad: 0.02)
        if hi <= lo { hi = lo + 1 }
        if fixedRange != nil {
            lo = min(lo, all.min()!)
            hi = max(hi, all.max()!)
        }
        let binWidth = (hi - lo) / Double(bins)
        var counts: [[Int]] = []
        for g in groups {
            var c = [Int](repeating: 0, count: bins)
            for v in g.values where v.isFinite {
                c[min(bins - 1, max(0, Int((v - lo) / binWidth)))] += 1
            }
            counts.append(c)
        }
        let maxCount = max(1, counts.flatMap { $0 }.max() ?? 1)
        let x = Scale(lower: lo, upper: hi, pixelLower: f.left, pixelUpper: f.left + f.plotWidth, logarithmic: false)
        let y = Scale(lower: 0, upper: Double(maxCount) * 1.08, pixelLower: f.top + f.plotHeight, pixelUpper: f.top, logarithmic: false)
        svg += axes(f, x: x, y: y, xTicks: ticks(lo, hi).filter { $0 >= lo && $0 <= hi },
                    yTicks: ticks(0, Double(maxCount) * 1.08).filter { $0 == $0.rounded() },
                    xLabel: xLabel, yLabel: "neurons")
        for (gi, g) in groups.enumerated() {
            let opacity = groups.count > 1 ? "0.45" : "0.8"
            for b in 0..<bins where counts[gi][b] > 0 {
                let x0 = x.map(lo + Double(b) * binWidth), x1 = x.map(lo + Double(b + 1) * binWidth)
                let y0 = y.map(Double(counts[gi][b]))
                svg += "<rect class=\"bar\" x=\"\(px(x0))\" y=\"\(px(y0))\" width=\"\(px(max(0.5, x1 - x0 - 0.5)))\" "
                    + "height=\"\(px(f.top + f.plotHeight - y0))\" fill=\"\(escape(g.color))\" fill-opacity=\"\(opacity)\"/>"
            }
            svg += "\n"
            let finite = g.values.filter(\.isFinite)
            if showMean && !finite.isEmpty {
                let mean = finite.reduce(0, +) / Double(finite.count)
                let mx = x.map(mean)
                svg += "<line x1=\"\(px(mx))\" y1=\"\(px(f.top))\" x2=\"\(px(mx))\" y2=\"\(px(f.top + f.plotHeight))\" stroke=\"\(escape(g.color))\" stroke-width=\"1.5\" stroke-dasharray=\"4 3\"/>\n"
            }
        }
        svg += legend(f, groups.map { g in
            let finite = g.values.filter(\.isFinite)
            let mean = finite.isEmpty ? 0 : finite.reduce(0, +) / Double(finite.count)
            return (showMean ? "\(g.label) (mean \(String(format: "%.3f", mean)))" : g.label, g.color, false)
        })
        return svg + "</svg>\n"
    }

    /// Pearson correlation of the finite pairs, and their number.
    static func pearson(_ xs: [Double], _ ys: [Double]) -> (r: Double, n: Int) {
        let pairs = zip(xs, ys).filter { $0.0.isFinite && $0.1.isFinite }
        let n = Double(pairs.count)
        guard pairs.count > 1 else { return (.nan, pairs.count) }
        let mx = pairs.reduce(0) { $0 + $1.0 } / n, my = pairs.reduce(0) { $0 + $1.1 } / n
        var sxy = 0.0, sxx = 0.0, syy = 0.0
        for (x, y) in pairs {
            sxy += (x - mx) * (y - my)
            sxx += (x - mx) * (x - mx)
            syy += (y - my) * (y - my)
        }
        return (sxy / (sxx * syy).squareRoot(), pairs.count)
    }

    /// A scatter plot of one point per neuron, with the Pearson correlation and the count in the
    /// corner; `diagonal` draws y = x over a shared range (model against ceiling or truth).
    public static func scatter(title: String, xLabel: String, yLabel: String, x xs: [Double], y ys: [Double],
                               color: String = palette[0], diagonal: Bool = false, width: Double = 420, height: Double = 380,
                               id: String? = nil) -> String {
        let f = Frame(width: width, height: height)
        var svg = open(f, title: title, id: id)
        let count = min(xs.count, ys.count)
        let finite = (0..<count).filter { xs[$0].isFinite && ys[$0].isFinite }
        guard !finite.isEmpty else { return svg + empty(f, "no data") + "</svg>\n" }
        var (xl, xu) = range(finite.map { xs[$0] })
        var (yl, yu) = range(finite.map { ys[$0] })
        if diagonal {
            (xl, xu) = (min(xl, yl), max(xu, yu))
            (yl, yu) = (xl, xu)
        }
        let x = Scale(lower: xl, upper: xu, pixelLower: f.left, pixelUpper: f.left + f.plotWidth, logarithmic: false)
        let y = Scale(lower: yl, upper: yu, pixelLower: f.top + f.plotHeight, pixelUpper: f.top, logarithmic: false)
        svg += axes(f, x: x, y: y, xTicks: ticks(xl, xu, count: 4).filter { $0 >= xl && $0 <= xu },
                    yTicks: ticks(yl, yu, count: 5).filter { $0 >= yl && $0 <= yu }, xLabel: xLabel, yLabel: yLabel)
        if diagonal {
            svg += "<line x1=\"\(px(x.map(xl)))\" y1=\"\(px(y.map(xl)))\" x2=\"\(px(x.map(xu)))\" y2=\"\(px(y.map(xu)))\" "
                + "stroke=\"#999\" stroke-dasharray=\"4 3\"/>\n"
        }
        for (k, i) in finite.enumerated() {
            svg += "<circle class=\"neuron\" cx=\"\(px(x.map(xs[i])))\" cy=\"\(px(y.map(ys[i])))\" r=\"2.2\" fill=\"\(escape(color))\" fill-opacity=\"0.55\"/>"
            if k % 16 == 15 { svg += "\n" }
        }
        let (r, n) = pearson(xs, ys)
        svg += "\n<text x=\"\(px(f.left + 6))\" y=\"\(px(f.top + 14))\" font-size=\"10\" fill=\"#333\">"
            + (r.isFinite ? String(format: "r = %.2f, ", r) : "") + "\(n) neurons" + (diagonal ? " · dashed: y = x" : "") + "</text>\n"
        return svg + "</svg>\n"
    }

    /// Readout positions over the visual field: points in normalised grid coordinates
    /// ([-1, 1]², x to the right, y down as in image rows), drawn in a panel with the aspect ratio
    /// of the frames; each point is coloured by `values` (e.g. the neuron's correlation) when given.
    public static func positionMap(title: String, x xs: [Double], y ys: [Double], values: [Double]? = nil,
                                   valueLabel: String = "", aspect: Double = 64.0 / 36.0, color fixedColor: String = palette[0],
                                   width: Double = 560, id: String? = nil) -> String {
        let plotWidth = width - 62 - 16
        let height = plotWidth / aspect + 30 + 44 + (values == nil ? 0 : 26)
        let f = Frame(width: width, height: height)
        var svg = open(f, title: title, id: id)
        let plotHeight = plotWidth / aspect
        let x = Scale(lower: -1, upper: 1, pixelLower: f.left, pixelUpper: f.left + plotWidth, logarithmic: false)
        let y = Scale(lower: -1, upper: 1, pixelLower: f.top, pixelUpper: f.top + plotHeight, logarithmic: false)
        let frame = Frame(width: width, height: plotHeight + 30 + 44)
        svg += axes(frame, x: x, y: y, xTicks: [-1, -0.5, 0, 0.5, 1], yTicks: [-1, -0.5, 0, 0.5, 1],
                    xLabel: "horizontal position (grid units)", yLabel: "vertical (grid units)")
        let count = min(xs.count, ys.count)
        let (vLo, vHi) = values.map { range($0, pad: 0) } ?? (0, 1)
        for i in 0..<count where xs[i].isFinite && ys[i].isFinite {
            var fill = fixedColor
            if let values, i < values.count, values[i].isFinite {
                fill = colormap((values[i] - vLo) / max(vHi - vLo, 1e-12))
            }
            svg += "<circle class=\"neuron\" cx=\"\(px(x.map(min(max(xs[i], -1), 1))))\" cy=\"\(px(y.map(min(max(ys[i], -1), 1))))\" r=\"2.6\" fill=\"\(fill)\" fill-opacity=\"0.85\"/>"
            if i % 16 == 15 { svg += "\n" }
        }
        svg += "\n"
        if values != nil {
            // Colour bar, below the axis label.
            let barY = f.top + plotHeight + 50, barWidth = 200.0
            let barX = f.left + plotWidth - barWidth - 44
            let steps = 40
            for k in 0..<steps {
                svg += "<rect x=\"\(px(barX + Double(k) * barWidth / Double(steps)))\" y=\"\(px(barY))\" width=\"\(px(barWidth / Double(steps) + 0.2))\" height=\"9\" fill=\"\(colormap(Double(k) / Double(steps - 1)))\"/>"
            }
            svg += "\n<g font-size=\"10\"><text x=\"\(px(barX - 4))\" y=\"\(px(barY + 8))\" text-anchor=\"end\">\(svgText(valueLabel)) \(String(format: "%.2f", vLo))</text>"
            svg += "<text x=\"\(px(barX + barWidth + 4))\" y=\"\(px(barY + 8))\">\(String(format: "%.2f", vHi))</text></g>\n"
        }
        return svg + "</svg>\n"
    }

    /// A perceptually ordered colour map (viridis-like) for t in [0, 1].
    public static func colormap(_ t: Double) -> String {
        let stops: [(Double, Double, Double)] = [
            (68, 1, 84), (72, 40, 120), (62, 74, 137), (49, 104, 142), (38, 130, 142),
            (31, 158, 137), (53, 183, 121), (109, 205, 89), (180, 222, 44), (253, 231, 37),
        ]
        let c = min(max(t.isFinite ? t : 0, 0), 1) * Double(stops.count - 1)
        let i = min(Int(c), stops.count - 2)
        let f = c - Double(i)
        let a = stops[i], b = stops[i + 1]
        func mix(_ u: Double, _ v: Double) -> Int { Int((u + (v - u) * f).rounded()) }
        return String(format: "#%02x%02x%02x", mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
    }
}
