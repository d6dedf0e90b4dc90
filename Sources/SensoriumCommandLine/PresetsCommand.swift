import ArgumentParser
import Foundation
import Sensorium

/// `sensorium presets`: lists the named training configurations, or prints one as JSON.
struct PresetsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "presets",
        abstract: "List the named training configurations, or print one as JSON.",
        discussion: """
        Every preset is a complete configuration (model, trainer, data) that `sensorium train --config NAME` \
        trains. `sensorium presets NAME > my.json` writes one out to edit and pass back with `--config my.json`.
        """
    )

    @Argument(help: "A preset to print as JSON (default: list them all).")
    var name: String?

    func validate() throws {
        if let name, !RunPreset.registered.contains(where: { $0.name == name }) {
            throw ValidationError("no preset '\(name)'; the presets are \(RunPreset.registered.map(\.name).joined(separator: ", "))")
        }
    }

    func run() throws {
        if let name {
            emit(try RunPreset.named(name).configuration.jsonString())
            return
        }
        let width = RunPreset.registered.map(\.name.count).max() ?? 0
        for preset in RunPreset.registered {
            emit(preset.name.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + preset.summary)
        }
    }
}
