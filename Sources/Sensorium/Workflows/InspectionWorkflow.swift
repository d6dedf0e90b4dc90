import Foundation
import SensoriumData

/// The `inspect` command as a function: inspects every mouse folder found under the given paths.
public enum InspectionWorkflow {
    /// What the inspection found.
    public struct Result: Sendable {
        /// One report per mouse folder (a path that is not a folder gets a report with its problem).
        public var reports: [MouseFolderReport]
        /// Problems of severity error.
        public var errorCount: Int { reports.reduce(0) { $0 + $1.problems.filter { $0.severity == .error }.count } }
        /// Problems of severity warning or error (notes do not count).
        public var problemCount: Int { reports.reduce(0) { $0 + $1.problems.filter { $0.severity >= .warning }.count } }
        /// The printed text: every report, then a one-line verdict.
        public var text: String {
            var parts = reports.map(\.description)
            let notes = reports.reduce(0) { $0 + $1.problems.filter { $0.severity == .note }.count }
            if problemCount == 0 {
                parts.append("\(reports.count) mouse folder(s) sound" + (notes > 0 ? " (\(notes) note(s))" : ""))
            } else {
                parts.append("\(reports.count) mouse folder(s): \(errorCount) error(s), \(problemCount - errorCount) warning(s), \(notes) note(s)")
            }
            return parts.joined(separator: "\n\n")
        }
    }

    /// Inspects `paths`: each a mouse folder (anything with `data/` or `meta/`, or a path that does
    /// not exist, which is reported as a problem) or a folder holding mouse folders.
    public static func run(paths: [String], scanTrials: Int? = nil, clipFrames: Int = 80) -> Result {
        var folders: [String] = []
        for raw in paths {
            let path = (raw as NSString).expandingTildeInPath
            if MouseFolders.isMouseFolder(path) {
                folders.append(path)
            } else {
                let children = MouseFolders.children(of: path)
                folders += children.isEmpty ? [path] : children
            }
        }
        return Result(reports: folders.map { MouseFolderInspector.inspect(path: $0, scanTrials: scanTrials, clipFrames: clipFrames) })
    }
}

/// Text for what the synthetic generator wrote.
public enum SyntheticSummaryText {
    /// One paragraph: the mouse, its tiers and the noise ceilings per test tier.
    public static func describe(_ s: SyntheticMouseSummary) -> String {
        var lines = ["\(s.name): \(s.neurons) neurons, \(s.trials) trials"]
        let tiers = MouseTier.allCases.compactMap { t in s.tierCounts[t.rawValue].map { "\(t.rawValue) \($0)" } }
        lines.append("  tiers: " + tiers.joined(separator: ", "))
        lines.append("  bonus families: live " + s.liveBonusFamilies.map(\.rawValue).joined(separator: ", ")
            + "; final " + s.finalBonusFamilies.map(\.rawValue).joined(separator: ", "))
        for tier in MouseTier.allCases {
            guard let c = s.ceilings[tier.rawValue] else { continue }
            var line = "  ceiling \(tier.rawValue): ρ_st " + String(format: "%.3f", c.singleTrial)
            if let ta = c.toAverage { line += ", ρ_ta " + String(format: "%.3f", ta) }
            lines.append(line)
        }
        return lines.joined(separator: "\n")
    }

    /// A duration in seconds as text.
    public static func seconds(_ d: Duration) -> String {
        let c = d.components
        return String(format: "%.1f s", Double(c.seconds) + Double(c.attoseconds) * 1e-18)
    }
}
