import SensoriumTensor
import SensoriumLayers

/// Several trained models whose predictions are averaged (the SENSORIUM ensemble baseline).
///
/// The members' states appear in the ensemble's state dictionary under `members.0.…`,
/// `members.1.…`, so an ensemble saves and loads as one module. An ensemble is itself a
/// ``TrainableModel`` (it can be validated and evaluated like any model); training it directly
/// trains all members jointly on the averaged prediction, which is rarely what is wanted: train
/// the members separately (different seeds) and combine them. Members may be of different types
/// (for example a factorised and a GRU model) as long as they read the same batches.
///
/// ```swift
/// let ensemble = Ensemble([modelSeed1, modelSeed2, modelSeed3])
/// let score = try validationCorrelation(of: ensemble, on: data)
/// ```
public final class Ensemble<Batch: TrainingBatch>: Module, TrainableModel {
    /// The models, in order.
    public let members: [any TrainableModel<Batch>]

    /// An ensemble of at least one model, of any types reading `Batch`.
    public init(members: [any TrainableModel<Batch>]) {
        precondition(!members.isEmpty, "Ensemble: needs at least one member")
        self.members = members
        super.init()
    }

    /// An ensemble of models of one type.
    public convenience init<Member: TrainableModel>(_ members: [Member]) where Member.Batch == Batch {
        self.init(members: members.map { $0 as any TrainableModel<Batch> })
    }

    override public func directItems() -> [(key: String, item: ModuleItem)] {
        members.enumerated().map { ("members.\($0.offset)", .module($0.element)) }
    }

    /// The mean of the members' predictions.
    public func forward(_ batch: Batch) -> Tensor {
        var sum = members[0].forward(batch)
        for member in members.dropFirst() {
            let p = member.forward(batch)
            precondition(p.shape == sum.shape,
                         "Ensemble.forward: member predictions of shapes \(sum.shape) and \(p.shape) differ")
            sum = sum + p
        }
        return members.count == 1 ? sum : sum * (1 / Float(members.count))
    }

    /// The mean of the members' regularisers (nil when no member has one).
    public func regularizer(for batch: Batch) -> Tensor? {
        let terms = members.compactMap { $0.regularizer(for: batch) }
        guard var total = terms.first else { return nil }
        for t in terms.dropFirst() { total = total + t }
        return total * (1 / Float(members.count))
    }

    /// The generators of all members.
    public var randomGenerators: [RandomGenerator] { members.flatMap(\.randomGenerators) }

    /// Passes the epoch on to every member (their warm-ups).
    public func epochWillStart(_ epoch: Int) {
        for member in members { member.epochWillStart(epoch) }
    }

    override public var extraDescription: String { "\(members.count) members" }
}
