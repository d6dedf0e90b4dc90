import ArgumentParser
import Sensorium

/// The inputs of `evaluate`, `predict` and `submit`: the trained model or ensemble and the mice.
struct TrainedModelInputs: ParsableArguments {
    @Option(name: .shortAndLong, help: "A run folder (model.h5), a model checkpoint file, or an ensemble folder / ensemble.json; repeat for an ensemble.")
    var model: [String]

    @Argument(help: "Mouse folders, or folders holding mouse folders.")
    var data: [String]

    func validate() throws {
        if data.isEmpty { throw ValidationError("give at least one mouse folder") }
    }

    /// Loads the model or ensemble and opens the mice the way it was trained.
    func load() throws -> (models: ModelSet, datasets: [MouseDataset]) {
        let models = try EvaluationWorkflow.loadModels(model)
        return (models, try models.openDatasets(data))
    }
}
