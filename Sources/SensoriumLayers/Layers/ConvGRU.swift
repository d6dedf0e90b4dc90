import SensoriumTensor

/// A convolutional GRU cell over (N, C, H, W) frames, as neuralpredictors' `ConvGRUCell`
/// (keys `reset_gate_input`, `reset_gate_hidden`, `update_gate_input`, `update_gate_hidden`,
/// `out_gate_input`, `out_gate_hidden`, each a Conv2d with bias).
///
/// One step, with `*` convolution and `⊙` elementwise product:
/// ```
/// u = σ(Wu * x + Uu * h)       r = σ(Wr * x + Ur * h)
/// ĥ = tanh(Wo * x + Uo * (r ⊙ h))
/// h' = (1 − u) ⊙ h + u ⊙ ĥ
/// ```
/// Input convolutions use "same" padding when `padInput` (else none, so the state is
/// `inputKern − 1` smaller than the input); recurrent convolutions always use "same" padding.
/// Weights are Xavier-normal and biases zero, as in the reference.
public final class ConvGRUCell: Module {
    /// Input-to-reset-gate convolution.
    public let resetGateInput: Conv2d
    /// State-to-reset-gate convolution.
    public let resetGateHidden: Conv2d
    /// Input-to-update-gate convolution.
    public let updateGateInput: Conv2d
    /// State-to-update-gate convolution.
    public let updateGateHidden: Conv2d
    /// Input-to-candidate convolution.
    public let outGateInput: Conv2d
    /// Gated-state-to-candidate convolution.
    public let outGateHidden: Conv2d
    /// Channels of the input frames.
    public let inputChannels: Int
    /// Channels of the hidden state.
    public let recChannels: Int
    /// How much smaller the state is than the input on each spatial axis (0 with `padInput`).
    public let shrinkage: Int

    override public class var keyOverrides: [String: String] {
        ["resetGateInput": "reset_gate_input", "resetGateHidden": "reset_gate_hidden",
         "updateGateInput": "update_gate_input", "updateGateHidden": "update_gate_hidden",
         "outGateInput": "out_gate_input", "outGateHidden": "out_gate_hidden"]
    }

    /// A cell mapping `inputChannels` input channels to a `recChannels` state.
    public init(inputChannels: Int, recChannels: Int, inputKern: Int, recKern: Int, groups: Int = 1,
                padInput: Bool = true, generator: RandomGenerator) {
        precondition(recKern % 2 == 1, "ConvGRUCell: recKern must be odd to keep the state size, got \(recKern)")
        precondition(!padInput || inputKern % 2 == 1, "ConvGRUCell: a padded input needs an odd inputKern, got \(inputKern)")
        self.inputChannels = inputChannels
        self.recChannels = recChannels
        self.shrinkage = padInput ? 0 : inputKern - 1
        let inputPadding = Padding.explicit([padInput ? inputKern / 2 : 0])
        func inputConv() -> Conv2d {
            Conv2d(inputChannels, recChannels, kernelSize: Extent(inputKern), padding: inputPadding, groups: groups, generator: generator)
        }
        func hiddenConv() -> Conv2d {
            Conv2d(recChannels, recChannels, kernelSize: Extent(recKern), padding: .same, groups: groups, generator: generator)
        }
        resetGateInput = inputConv()
        resetGateHidden = hiddenConv()
        updateGateInput = inputConv()
        updateGateHidden = hiddenConv()
        outGateInput = inputConv()
        outGateHidden = hiddenConv()
        super.init()
        for conv in [resetGateInput, resetGateHidden, updateGateInput, updateGateHidden, outGateInput, outGateHidden] {
            conv.weight.initialize(with: .xavierNormal(), generator: generator)
            conv.bias?.initialize(with: .zeros, generator: generator)
        }
    }

    /// The zero state for an input frame batch (N, C, H, W).
    public func initialState(for x: Tensor) -> Tensor {
        Tensor.zeros([x.shape[0], recChannels, x.shape[2] - shrinkage, x.shape[3] - shrinkage])
    }

    /// One step: the new state from input frames `x` (N, C, H, W) and the previous state (zeros when nil).
    public func callAsFunction(_ x: Tensor, _ state: Tensor?) -> Tensor {
        precondition(x.rank == 4 && x.shape[1] == inputChannels,
                     "ConvGRUCell: expected input (N, \(inputChannels), H, W), got shape \(x.shape)")
        let h = state ?? initialState(for: x)
        let update = (updateGateInput(x) + updateGateHidden(h)).sigmoid()
        let reset = (resetGateInput(x) + resetGateHidden(h)).sigmoid()
        let candidate = (outGateInput(x) + outGateHidden(h * reset)).tanh()
        return h * (1 - update) + candidate * update
    }
}

/// A ConvGRU run over the time axis of a video batch, as neuralpredictors' `GRU_Module` (its cell
/// is under the key `gru`): (N, C, T, H, W) → (N, R, T, H', W'), every hidden state stacked on the
/// time axis. The state starts at zero for every clip, so there is no temporal shrinkage.
///
/// The input convolutions of all frames run as one batched convolution (the three gates fused),
/// and the two state-to-gate convolutions of each step as one; only the recurrence is sequential.
public final class ConvGRU: Module, UnaryLayer {
    /// The recurrent cell.
    public let cell: ConvGRUCell

    override public class var keyOverrides: [String: String] { ["cell": "gru"] }

    /// A ConvGRU with a new cell (see ``ConvGRUCell/init(inputChannels:recChannels:inputKern:recKern:groups:padInput:generator:)``).
    public init(inputChannels: Int, recChannels: Int, inputKern: Int, recKern: Int, groups: Int = 1,
                padInput: Bool = true, generator: RandomGenerator) {
        cell = ConvGRUCell(inputChannels: inputChannels, recChannels: recChannels, inputKern: inputKern,
                           recKern: recKern, groups: groups, padInput: padInput, generator: generator)
        super.init()
    }

    /// A ConvGRU around an existing cell.
    public init(cell: ConvGRUCell) {
        self.cell = cell
        super.init()
    }

    /// The output shape for an input shape (N, C, T, H, W).
    public func outputShape(for inputShape: [Int]) -> [Int] {
        [inputShape[0], cell.recChannels, inputShape[2], inputShape[3] - cell.shrinkage, inputShape[4] - cell.shrinkage]
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        precondition(x.rank == 5 && x.shape[1] == cell.inputChannels,
                     "ConvGRU: expected input (N, \(cell.inputChannels), T, H, W), got shape \(x.shape)")
        let (n, c, t, height, width) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3], x.shape[4])
        let r = cell.recChannels
        // All frames' input gates at once: (N·T, C, H, W) → (N·T, 3R, H', W'), order update, reset, out.
        let frames = x.permuted([0, 2, 1, 3, 4]).reshaped([n * t, c, height, width])
        let gx = ConvGRU.fused([cell.updateGateInput, cell.resetGateInput, cell.outGateInput], frames)
        let (hh, ww) = (gx.shape[2], gx.shape[3])
        let perFrame = gx.reshaped([n, t, 3 * r, hh, ww]).split(sizes: [Int](repeating: 1, count: t), axis: 1)
        var h = Tensor.zeros([n, r, hh, ww])
        var states: [Tensor] = []
        states.reserveCapacity(t)
        for step in 0..<t {
            let gates = perFrame[step].reshaped([n, 3 * r, hh, ww]).split(sizes: [r, r, r], axis: 1)
            let gh = ConvGRU.fused([cell.updateGateHidden, cell.resetGateHidden], h).split(sizes: [r, r], axis: 1)
            let update = (gates[0] + gh[0]).sigmoid()
            let reset = (gates[1] + gh[1]).sigmoid()
            let candidate = (gates[2] + cell.outGateHidden(h * reset)).tanh()
            h = h + update * (candidate - h)
            states.append(h)
        }
        return Tensor.stack(states, axis: 2)
    }

    /// Several convolutions with the same geometry applied to the same input, outputs concatenated
    /// on the channel axis; one convolution with stacked weights when ungrouped.
    private static func fused(_ convs: [Conv2d], _ x: Tensor) -> Tensor {
        let first = convs[0]
        guard first.groups == 1 else { return Tensor.concatenate(convs.map { $0(x) }, axis: 1) }
        let weight = Tensor.concatenate(convs.map(\.weight), axis: 0)
        let bias: Tensor? = convs.allSatisfy({ $0.bias == nil }) ? nil : Tensor.concatenate(
            convs.map { $0.bias ?? Tensor.zeros([$0.outChannels]) }, axis: 0)
        return conv2d(x, weight: weight, bias: bias, stride: first.stride, padding: first.padding,
                      dilation: first.dilation, groups: 1)
    }
}
