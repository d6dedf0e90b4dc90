import SensoriumLayers

/// Drops whole channels (PyTorch's `Dropout1d` / `Dropout2d` / `Dropout3d`), the channel dropout of
/// ``GroupedConvReadout``: the same layer as ``/SensoriumLayers/FeatureDropout`` (in training each
/// (sample, channel) of an (N, C, …) input is zeroed with probability `p` and the kept ones are
/// scaled by `1 / (1 − p)`; the identity in evaluation mode), under the name the readout's
/// documentation uses.
public typealias ChannelDropout = FeatureDropout
