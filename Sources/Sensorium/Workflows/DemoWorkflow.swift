import SensoriumData

/// The `demo` pipeline: synthetic mice, the factorized baseline, Table 1 next to the ceiling.
public enum DemoWorkflow {
    /// The synthetic mice the demo writes (and `sensorium synth` without size options).
    public static let defaultSyntheticConfiguration = SyntheticMouseConfiguration.default
}
