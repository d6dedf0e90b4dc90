// The SensoriumReadouts library; see Documentation/Architecture.md and Documentation/Models.md.
//
// Readout.swift, Shifter.swift  the protocols
// PerMouse.swift                 per-mouse containers keyed by data key, Gaussian readout builder
// Gaussian/                      FullGaussian2d and the fused sample-and-dot op
// Hierarchical/                  HierarchicalGaussianReadout (Dynamic-V1FM) and its scalar network op
// GroupedConv/                   GroupedConvReadout and ChannelDropout (DwiseNeuro; its Cortex is in SensoriumLayers)
// Shifters/                      MLPShifter, StaticAffineShifter
// Nonlinearities.swift           ELUPlusOne, SoftplusOutput, Exponential
