/// Which mouse each sample of a batch that mixes mice comes from (DwiseNeuro's batches), and how
/// the neurons of all mice are laid out in the batch's responses.
///
/// A mixed ``MouseBatch`` holds responses `(N, T, Σ neuronCounts)`: the neurons of ``mice`` in this
/// order, one block per mouse (block `m` starts at ``neuronOffsets``[m]). Sample `s` has recorded
/// responses only in the block of its own mouse ``sampleMouse``[s]; the batch's
/// ``MouseBatch/responseWeights`` say which entries a loss scores (1 for the own block, 0 elsewhere,
/// or a distillation weight where a teacher's predictions fill another mouse's block).
public struct MouseMixture: Sendable, Equatable {
    /// Every mouse of the model, in neuron-block order (the model's mice).
    public var mice: [String]
    /// Neurons of each mouse in ``mice``.
    public var neuronCounts: [Int]
    /// For each sample, the index in ``mice`` of the mouse it was recorded in.
    public var sampleMouse: [Int]

    /// A mixture; `sampleMouse` entries must index `mice`.
    public init(mice: [String], neuronCounts: [Int], sampleMouse: [Int]) {
        precondition(mice.count == neuronCounts.count && !mice.isEmpty,
                     "MouseMixture: \(mice.count) mice and \(neuronCounts.count) neuron counts")
        precondition(sampleMouse.allSatisfy { $0 >= 0 && $0 < mice.count },
                     "MouseMixture: sample mouse indices \(sampleMouse) outside 0..<\(mice.count)")
        self.mice = mice
        self.neuronCounts = neuronCounts
        self.sampleMouse = sampleMouse
    }

    /// The first neuron of each mouse's block (prefix sums of ``neuronCounts``).
    public var neuronOffsets: [Int] {
        var offsets: [Int] = []
        offsets.reserveCapacity(neuronCounts.count)
        var total = 0
        for n in neuronCounts {
            offsets.append(total)
            total += n
        }
        return offsets
    }

    /// Neurons of all mice together (the batch's response width).
    public var totalNeurons: Int { neuronCounts.reduce(0, +) }
}
