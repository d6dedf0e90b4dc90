import SensoriumTensor

extension Module {
    /// DwiseNeuro's weight initialisation (`init_weights` in lRomul/sensorium), applied to this
    /// module and every submodule: each convolution weight ~ N(0, 2 / fan_out) with
    /// fan_out = prod(kernel) · out_channels / groups and a zero bias; each BatchNorm weight 1 and
    /// bias 0; each ``Linear`` weight ~ U(−1/√out, 1/√out) and a zero bias.
    public func applyDwiseNeuroInitialization(generator: RandomGenerator) {
        apply { module in
            if let conv = module as? Convolution {
                let fanOut = conv.kernelSize.reduce(1, *) * conv.outChannels / conv.groups
                conv.weight.initialize(with: .normal(std: (2 / Float(fanOut)).squareRoot()), generator: generator)
                conv.bias?.initialize(with: .zeros, generator: generator)
            } else if let norm = module as? BatchNorm {
                norm.weight?.initialize(with: .ones, generator: generator)
                norm.bias?.initialize(with: .zeros, generator: generator)
            } else if let linear = module as? Linear {
                let bound = 1 / Float(linear.weight.shape[0]).squareRoot()
                linear.weight.initialize(with: .uniform(low: -bound, high: bound), generator: generator)
                linear.bias?.initialize(with: .zeros, generator: generator)
            }
        }
    }
}
