/// One row of a SENSORIUM 2023 submission table: a model's prediction for one test trial of one
/// mouse, cut to the scored frames.
public struct SubmissionRow: Sendable, Equatable {
    /// The mouse (session) name, as the data folder names it.
    public var mouse: String
    /// The trial's index in the mouse's folder (the number of its `data/videos/<index>.npy`).
    public var trialIndex: Int
    /// The prediction, neurons × scored frames (each trial's frames after the first 50), one row
    /// per neuron in the order of ``neuronIDs``.
    public var prediction: [[Float]]
    /// The neurons' unit ids (`meta/neurons/unit_ids.npy`), one per row of ``prediction``.
    public var neuronIDs: [UInt32]

    /// A row; shapes are checked when the table is written.
    public init(mouse: String, trialIndex: Int, prediction: [[Float]], neuronIDs: [UInt32]) {
        self.mouse = mouse
        self.trialIndex = trialIndex
        self.prediction = prediction
        self.neuronIDs = neuronIDs
    }
}
