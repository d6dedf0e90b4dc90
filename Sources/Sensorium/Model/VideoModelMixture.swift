import SensoriumTensor
import SensoriumLayers
import SensoriumReadouts
import SensoriumData

// A `VideoModel` on a batch that mixes mice (DwiseNeuro's training batches).

extension VideoModel {
    /// Predictions of **every** mouse of `mixture` for all samples of an input that mixes mice:
    /// `(B, T', Σ N)`, the mice's blocks concatenated along neurons in the mixture's order (the
    /// layout of a mixed ``/SensoriumData/MouseBatch``'s responses).
    ///
    /// The core and the stage run once on the whole batch (so BatchNorm statistics in training are
    /// over the mixed batch, as in the reference); then each mouse's shifter, readout and output
    /// nonlinearity run on all samples, as the reference's `DwiseNeuro.forward` without a mouse
    /// index does (the loss keeps the own block of each sample, and distillation needs the others).
    /// The model's mice must be the mixture's mice, in any order. This is one pass over the clips
    /// as given (training batches, a distillation teacher's targets): the model's inference
    /// strategy (``VideoModelConfiguration/inference``) is for single-mouse trials.
    public func forwardAllMice(_ input: ModelInput, mixture: MouseMixture) -> Tensor {
        precondition(Set(mice) == Set(mixture.mice) && mice.count == mixture.mice.count,
                     "VideoModel: the model's mice \(mice) differ from the batch mixture's mice \(mixture.mice)")
        for (m, count) in zip(mixture.mice, mixture.neuronCounts) {
            let n = readout[m]!.neuronCount
            precondition(n == count, "VideoModel: the readout of mouse \(m) has \(n) neurons, the batch mixture \(count)")
        }
        let shared = sharedFeatures(input)
        let blocks = mixture.mice.map { readoutPass(mouse: $0, shared) }
        return blocks.count == 1 ? blocks[0] : Tensor.concatenate(blocks, axis: 2)
    }

    /// ``forwardAllMice(_:mixture:)`` for a batch that mixes mice.
    public func forwardMixture(_ batch: MouseBatch, mixture: MouseMixture) -> Tensor {
        forwardAllMice(ModelInput(video: batch.videoTensor(), behavior: batch.behaviorTensor(),
                                  pupilCenter: batch.pupilCenterTensor(), mouse: batch.mouse),
                       mixture: mixture)
    }

    /// The regulariser of a forward pass over all mice: the core's and the stage's, plus every
    /// mouse's readout and shifter regulariser once (every readout is on the gradient path). Zero
    /// for DwiseNeuro, whose reference adds no regulariser at all.
    public func regularizerAllMice() -> Tensor {
        var total = core.regularizer()
        if let stage { total = total + stage.regularizer() }
        for mouse in mice {
            total = total + readout.regularizer(dataKey: mouse)
            if let shifter, shifter[mouse] != nil { total = total + shifter.regularizer(dataKey: mouse) }
        }
        return total
    }
}
