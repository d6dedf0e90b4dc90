extension RunPreset {
    /// The demo's model and recipe (``DemoWorkflow/trainingConfiguration``): the factorised
    /// baseline's architecture at a size that trains on two CPU cores in minutes (77,330
    /// parameters on the demo's two mice instead of the reference's 518,786), readouts started at
    /// receptive fields mapped from the data, behaviour hidden for the first 10 epochs.
    public static var demo: RunPreset {
        RunPreset(name: "demo",
                  summary: "the demo's small factorised baseline (16/32 channels) and recipe: minutes on a CPU, for synthetic mice or a first look") {
            DemoWorkflow.trainingConfiguration
        }
    }
}
