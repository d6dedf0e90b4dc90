/// Sums per-channel batch-normalisation statistics over the processes of a data-parallel run
/// (synchronised batch normalisation).
///
/// Given to ``batchNorm(_:runningMean:runningVar:weight:bias:training:momentum:eps:activation:reducer:)``,
/// it is called three times per layer and step, on every process in the same order: in the
/// forward pass with `C + 1` values (per-channel sums and the sample count), then with `C` values
/// (per-channel sums of squares about the global mean), and in the backward pass with `2C` values
/// (per-channel `Σg` and `Σg·(x − mean)`). Every call must leave the element-wise sum over all
/// processes in `values`, identical on every process.
public protocol BatchStatisticsReducer: AnyObject {
    /// Replaces `values` by their element-wise sum over all processes.
    func sumOverProcesses(_ values: inout [Double])
}
