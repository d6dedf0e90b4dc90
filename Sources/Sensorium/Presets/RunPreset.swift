import Foundation

/// A named, complete training-run configuration (model, trainer recipe and data pipeline): what
/// `sensorium train --config NAME` starts from, and what `sensorium presets` lists.
///
/// A preset is one file that defines a `static var` on `RunPreset` plus one entry in
/// ``registered``; the configuration it returns is an ordinary ``TrainingRunConfiguration``, so
/// `sensorium presets NAME` prints it as JSON that can be edited and passed back with `--config FILE`.
///
/// ```swift
/// let run = try RunPreset.named("factorizedBaseline").configuration
/// ```
public struct RunPreset: Sendable {
    /// The name given on the command line (unique among ``registered``).
    public let name: String
    /// One line: what the preset is and how it differs from its source.
    public let summary: String
    private let make: @Sendable () -> TrainingRunConfiguration

    /// A preset whose configuration is built by `make` (called each time ``configuration`` is read).
    public init(name: String, summary: String, make: @escaping @Sendable () -> TrainingRunConfiguration) {
        self.name = name
        self.summary = summary
        self.make = make
    }

    /// The preset's configuration (a fresh value).
    public var configuration: TrainingRunConfiguration { make() }

    /// Every preset the SDK ships, in the order `sensorium presets` lists them (the one place a
    /// new preset is registered).
    public static var registered: [RunPreset] {
        [.factorizedBaseline, .gruBaseline, .stacked2dGRU, .demo, .dwiseneuro, .dwiseneuroSmall, .dynamicV1FM,
         .dynamicV1FMSmall, .viv1t, .viv1tSmall]
    }

    /// The registered preset called `name`; throws naming the known presets otherwise.
    public static func named(_ name: String) throws -> RunPreset {
        if let preset = registered.first(where: { $0.name == name }) { return preset }
        throw SensoriumError.invalidConfiguration(
            source: name, message: "no preset of that name; the presets are \(registered.map(\.name).joined(separator: ", "))")
    }
}

extension RunPreset {
    /// The SENSORIUM 2023 factorised baseline with the reference recipe (``VideoModelConfiguration/factorizedBaseline``).
    public static var factorizedBaseline: RunPreset {
        RunPreset(name: "factorizedBaseline",
                  summary: "the SENSORIUM 2023 factorised 3-D baseline (Gaussian readouts, MLP shifter) with the reference recipe") {
            TrainingRunConfiguration(model: .factorizedBaseline)
        }
    }

    /// The official GRU benchmark with the reference recipe (``VideoModelConfiguration/gruBaseline``).
    public static var gruBaseline: RunPreset {
        RunPreset(name: "gruBaseline",
                  summary: "the SENSORIUM 2023 GRU baseline (rotation-equivariant 2-D core + ConvGRU) with the reference recipe") {
            TrainingRunConfiguration(model: .gruBaseline)
        }
    }

    /// The starter kit's stacked 2-D core + ConvGRU with the reference recipe (``VideoModelConfiguration/stacked2dGRU``).
    public static var stacked2dGRU: RunPreset {
        RunPreset(name: "stacked2dGRU",
                  summary: "the starter kit's stacked 2-D core + ConvGRU with the reference recipe") {
            TrainingRunConfiguration(model: .stacked2dGRU)
        }
    }
}
