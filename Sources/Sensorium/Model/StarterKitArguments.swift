import Foundation
import SensoriumTensor
import SensoriumLayers
import SensoriumReadouts

/// The arguments of the SENSORIUM 2023 starter kit's `make_video_model` (`seed`, `core_type`,
/// `core_dict`, `readout_type`, `readout_dict`, `use_gru`, `gru_dict`, `use_shifter`,
/// `shifter_dict`, `shifter_type`), translated into a ``VideoModelConfiguration``: the model the
/// kit builds with those arguments, under the same PyTorch state-dictionary keys.
///
/// Write the call's keyword arguments as JSON (Python's `None` as `null`, tuples as lists) and
/// give them to ``configuration(fromJSON:source:)`` (the CLI: `sensorium import --kit-arguments`).
/// Every key the kit passes on is read; an option this SDK does not implement, or a value it does
/// not support, is an error that names it (nothing is silently dropped). Options that only act on
/// hardware or data loading (`cuda`, `deeplake_ds`, the ignored `elu_offset` / `nonlinearity_*`,
/// which `make_video_model` replaces by `ELU + 1`) are accepted and ignored.
///
/// | `core_type` | core |
/// |---|---|
/// | `3D_factorised` | ``/SensoriumLayers/Factorized3dCore`` |
/// | `3D` | ``/SensoriumLayers/Basic3dCore`` |
/// | `2D` | ``/SensoriumLayers/Stacked2dCore`` frame by frame (+ ConvGRU with `use_gru`) |
/// | `2D_equivariant` | ``/SensoriumLayers/RotationEquivariant2dCore`` frame by frame (+ ConvGRU with `use_gru`) |
///
/// Readouts `gaussian` (``/SensoriumReadouts/FullGaussian2d``) and `factorised` (``/SensoriumReadouts/FullFactorized2d``); shifters
/// `MLP` and `StaticAffine`. Readout biases are not initialised from data (`biasInitializationTrials`
/// is 0): the weights come from the converted checkpoint.
public enum StarterKitArguments {
    /// The configuration for `make_video_model` arguments given as a JSON object.
    public static func configuration(fromJSON json: String, source: String = "(JSON text)") throws -> VideoModelConfiguration {
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: Data(json.utf8))
        } catch {
            throw SensoriumError.invalidConfiguration(source: source, message: "not valid JSON: \(error.localizedDescription)")
        }
        guard let arguments = object as? [String: Any] else {
            throw SensoriumError.invalidConfiguration(source: source, message: "expected a JSON object with make_video_model's arguments")
        }
        return try configuration(arguments: arguments, source: source)
    }

    /// The configuration for `make_video_model` arguments (a decoded JSON object).
    public static func configuration(arguments: [String: Any], source: String = "make_video_model") throws -> VideoModelConfiguration {
        var reader = Reader(arguments, path: "", source: source)
        try reader.allow(["dataloaders", "elu_offset", "nonlinearity_type", "nonlinearity_config", "deeplake_ds"])
        var configuration = VideoModelConfiguration()
        configuration.biasInitializationTrials = 0
        configuration.seed = UInt64(max(0, try reader.int("seed") ?? 42))

        let coreType = try reader.required("core_type", as: String.self)
        var core = try reader.object("core_dict")
        let useGRU = try reader.bool("use_gru") ?? false
        var gru: ConvGRUConfiguration?
        if useGRU {
            var g = try reader.object("gru_dict")
            gru = try convGRU(&g)
            try g.finish()
        } else {
            _ = try reader.optionalObject("gru_dict")
        }
        switch coreType {
        case "3D_factorised":
            guard gru == nil else { throw reader.error("use_gru with a 3-D core is not what the kit's GRU baseline does and is not supported") }
            configuration.core = .factorized3d(try factorized3d(&core))
        case "3D":
            guard gru == nil else { throw reader.error("use_gru with a 3-D core is not supported") }
            configuration.core = .basic3d(try basic3d(&core))
        case "2D":
            configuration.core = .stacked2d(try stacked2d(&core), gru: gru)
        case "2D_equivariant":
            configuration.core = .rotationEquivariant2d(try rotationEquivariant2d(&core), gru: gru)
        default:
            throw reader.error("core_type '\(coreType)' is not one of 3D_factorised, 3D, 2D, 2D_equivariant")
        }
        try core.finish()
        if let gru, case let channels = try frameCoreChannels(configuration.core), gru.recChannels != channels {
            // The kit sizes the readout from the core alone, so the GRU must keep the channels.
            throw reader.error("gru_dict.rec_channels (\(gru.recChannels)) must equal the core's output channels (\(channels)), as the kit's readout is sized from the core")
        }

        let readoutType = try reader.required("readout_type", as: String.self)
        var readout = try reader.object("readout_dict")
        switch readoutType {
        case "gaussian": configuration.readout = .gaussian(try gaussian(&readout))
        case "factorised": configuration.readout = .factorized(try factorised(&readout))
        default: throw reader.error("readout_type '\(readoutType)' is not one of gaussian, factorised")
        }
        try readout.finish()

        let useShifter = try reader.bool("use_shifter") ?? false
        let shifterType = try reader.string("shifter_type")
        if useShifter {
            var shifter = try reader.object("shifter_dict")
            switch shifterType {
            case "MLP":
                try shifter.allow(["input_channels_shifter"])  // swallowed by the kit's MLPShifter(**kwargs)
                guard try shifter.int("input_channels") ?? 2 == 2 else { throw shifter.error("input_channels must be 2 (the pupil centre)") }
                configuration.shifter = .mlp(layers: try shifter.int("shift_layers") ?? 3,
                                             hiddenChannels: try shifter.int("hidden_channels_shifter") ?? 5)
                _ = try shifter.float("gamma_shifter")  // MLPShifter's regulariser is always 0
            case "StaticAffine":
                guard try shifter.int("input_channels") ?? 2 == 2, try shifter.int("output_channels") ?? 2 == 2 else {
                    throw shifter.error("input_channels and output_channels must be 2 (pupil centre to grid shift)")
                }
                configuration.shifter = .staticAffine(bias: try shifter.bool("bias") ?? true,
                                                      regularization: try shifter.float("gamma_shifter") ?? 0)
            default:
                throw reader.error("shifter_type '\(shifterType ?? "null")' is not one of MLP, StaticAffine")
            }
            try shifter.finish()
        } else {
            configuration.shifter = .none
            _ = try reader.optionalObject("shifter_dict")
        }
        configuration.outputNonlinearity = .eluPlusOne(offset: 0)
        try reader.finish()
        return configuration
    }

    // MARK: Cores

    /// The output channels of a 2-D configuration's frame core (built once with throwaway weights).
    static func frameCoreChannels(_ core: AnyCoreConfiguration) throws -> Int {
        let withoutGRU = core.updating(Stacked2dVideoCoreConfiguration.self) { $0.gru = nil }
            .updating(RotationEquivariant2dVideoCoreConfiguration.self) { $0.gru = nil }
        return try withoutGRU.makeCore(generator: RandomGenerator(seed: 0)).outputChannels
    }

    static func factorized3d(_ d: inout Reader) throws -> Factorized3dCore.Configuration {
        var c = Factorized3dCore.Configuration()
        try readCommon3d(&d, into: &c)
        c.spatialInputKernel = try d.kernel2d("spatial_input_kernel") ?? c.spatialInputKernel
        c.temporalInputKernel = try d.int("temporal_input_kernel") ?? c.temporalInputKernel
        if let k = try d.kernel2d("spatial_hidden_kernel") { c.spatialHiddenKernels = [k] }
        if let k = try d.int("temporal_hidden_kernel") { c.temporalHiddenKernels = [k] }
        return c
    }

    static func basic3d(_ d: inout Reader) throws -> Basic3dCore.Configuration {
        var c = Basic3dCore.Configuration()
        try readCommon3d(&d, into: &c)
        // make_video_model builds the 3-D kernels from num_frames and the spatial sizes.
        let frames = try d.required("num_frames", as: Int.self)
        let hidden = try d.required("hidden_kernel", as: Int.self)
        if try d.int("spatial_input_kernel") != nil {
            throw d.error("spatial_input_kernel with core_type 3D: make_video_model then takes in_channels as the temporal kernel; give input_kernel instead")
        }
        guard let input = try d.int("input_kernel") else { throw d.error("input_kernel is needed with core_type 3D") }
        c.inputKernel = [frames, input, input]
        c.hiddenKernels = [[frames, hidden, hidden]]
        return c
    }

    /// Reads the options `Factorized3dCore` and `Basic3dCore` share.
    static func readCommon3d<C: Core3dOptions>(_ d: inout Reader, into c: inout C) throws {
        c.inputChannels = try d.required("input_channels", as: Int.self)
        c.hiddenChannels = try d.ints("hidden_channels") ?? c.hiddenChannels
        let layers = try d.int("layers") ?? c.hiddenChannels.count
        c.hiddenChannels = try d.perLayer(c.hiddenChannels, layers, "hidden_channels")
        if let s = try d.ints("stride") { c.stride = s }
        c.spatialDilation = try d.int("spatial_dilation") ?? c.spatialDilation
        c.temporalDilation = try d.int("temporal_dilation") ?? c.temporalDilation
        if let v = try d.ints("hidden_spatial_dilation") { c.hiddenSpatialDilation = v }
        if let v = try d.ints("hidden_temporal_dilation") { c.hiddenTemporalDilation = v }
        c.padding = try d.bool("padding") ?? c.padding
        c.bias = try d.bool("bias") ?? c.bias
        c.batchNorm = try d.bool("batch_norm") ?? c.batchNorm
        c.batchNormScale = try d.bool("batch_norm_scale") ?? c.batchNormScale
        c.momentum = try d.float("momentum") ?? c.momentum
        c.finalNonlinearity = try d.bool("final_nonlin") ?? c.finalNonlinearity
        c.gammaInputSpatial = try d.float("gamma_input_spatial") ?? c.gammaInputSpatial
        c.gammaInputTemporal = try d.float("gamma_input_temporal") ?? c.gammaInputTemporal
        c.laplacePadding = try d.int("laplace_padding")
        c.nonlinearity = try d.nonlinearity3d()
        try d.expectRegularizer("input_regularizer", "LaplaceL2norm")
        try d.allow(["cuda"])
    }

    /// The options `Stacked2dCore` and `RotationEquivariant2dCore` share, read in the kit's way.
    struct Common2d {
        var inputChannels: Int, hiddenChannels: [Int], inputKern: Int, hiddenKern: [Int]
        var padInput: Bool, hiddenPadding: Int?, stride: Int, batchNormScale: [Bool], finalNonlinearity: Bool
        var momentum: Float, gammaInput: Float, gammaHidden: Float, laplacePadding: Int?
        var regularizer: LaplaceRegularizer.Kind, useAverageRegularizer: Bool, stack: [Int]?
        var nonlinearity: CoreNonlinearity, linear: Bool, bias: Bool, batchNorm: Bool

        /// Sets the options both 2-D cores share.
        func apply<C: FrameCoreOptions>(to c: inout C) {
            c.inputChannels = inputChannels
            c.hiddenChannels = hiddenChannels
            c.inputKern = inputKern
            c.hiddenKern = hiddenKern
            c.padInput = padInput
            c.hiddenPadding = hiddenPadding
            c.stride = stride
            c.batchNormScale = batchNormScale
            c.finalNonlinearity = finalNonlinearity
            c.momentum = momentum
            c.gammaInput = gammaInput
            c.gammaHidden = gammaHidden
            c.laplacePadding = laplacePadding
            c.inputRegularizer = regularizer
            c.useAverageRegularizer = useAverageRegularizer
            c.stack = stack
            c.nonlinearity = nonlinearity
            c.linear = linear
            c.bias = [bias]
            c.batchNorm = [batchNorm]
        }
    }

    static func common2d(_ d: inout Reader, defaultHidden: Int) throws -> Common2d {
        let layers = try d.int("layers") ?? 3
        let hidden = try d.ints("hidden_channels") ?? [defaultHidden]
        let scale = try d.bool("batch_norm_scale") ?? true
        let finalScale = try d.bool("final_batchnorm_scale") ?? true
        guard try d.int("skip") ?? 0 == 0 else { throw d.error("skip connections (skip > 0) are not supported") }
        guard try d.int("input_stride") ?? 1 == 1 else { throw d.error("input_stride other than 1 is not supported") }
        guard try d.bool("depth_separable") ?? false == false else { throw d.error("depth_separable convolutions are not supported") }
        guard try d.bool("attention_conv") ?? false == false else { throw d.error("attention_conv is not supported") }
        guard try d.int("hidden_dilation") ?? 1 == 1 else { throw d.error("hidden_dilation other than 1 is not supported") }
        var hiddenPadding: Int?
        if let value = d.values["hidden_padding"], !(value is NSNull) {
            guard let p = (value as? NSNumber)?.intValue else { throw d.error("hidden_padding must be an integer or null") }
            hiddenPadding = p
        }
        d.used.insert("hidden_padding")
        var stack: [Int]? = [-1]
        if let value = d.values["stack"] {
            if value is NSNull { stack = nil } else { stack = try d.ints("stack") }
        }
        d.used.insert("stack")
        let nonlinearityType = try d.string("nonlinearity_type") ?? "AdaptiveELU"
        var nonlinearity: CoreNonlinearity
        switch nonlinearityType {
        case "AdaptiveELU", "elu":
            let shift = try d.floats("elu_shift") ?? [0, 0]
            guard shift.count == 2 else { throw d.error("elu_shift must have two values (x, y)") }
            nonlinearity = nonlinearityType == "elu" ? .elu : .adaptiveELU(xShift: shift[0], yShift: shift[1])
        default:
            throw d.error("nonlinearity_type '\(nonlinearityType)' is not supported (AdaptiveELU or elu)")
        }
        if let config = d.values["nonlinearity_config"], !(config is NSNull) {
            throw d.error("nonlinearity_config is not supported")
        }
        d.used.insert("nonlinearity_config")
        let regularizerName = try d.string("input_regularizer") ?? "LaplaceL2norm"
        let regularizer: LaplaceRegularizer.Kind
        switch regularizerName {
        case "LaplaceL2norm": regularizer = .l2norm
        case "LaplaceL2": regularizer = .l2
        default: throw d.error("input_regularizer '\(regularizerName)' is not supported (LaplaceL2norm or LaplaceL2)")
        }
        return Common2d(
            inputChannels: try d.required("input_channels", as: Int.self),
            hiddenChannels: hidden.count == 1 ? [Int](repeating: hidden[0], count: layers) : try d.perLayer(hidden, layers, "hidden_channels"),
            inputKern: try d.required("input_kern", as: Int.self),
            hiddenKern: try d.ints("hidden_kern") ?? [3],
            padInput: try d.bool("pad_input") ?? true, hiddenPadding: hiddenPadding,
            stride: try d.int("stride") ?? 1,
            batchNormScale: [Bool](repeating: scale, count: max(layers - 1, 0)) + [finalScale],
            finalNonlinearity: try d.bool("final_nonlinearity") ?? true,
            momentum: try d.float("momentum") ?? 0.1,
            gammaInput: try d.float("gamma_input") ?? 0, gammaHidden: try d.float("gamma_hidden") ?? 0,
            laplacePadding: try d.int("laplace_padding"), regularizer: regularizer,
            useAverageRegularizer: try d.bool("use_avg_reg") ?? true, stack: stack, nonlinearity: nonlinearity,
            linear: try d.bool("linear") ?? false, bias: try d.bool("bias") ?? true, batchNorm: try d.bool("batch_norm") ?? true)
    }

    static func stacked2d(_ d: inout Reader) throws -> Stacked2dCore.Configuration {
        var c = Stacked2dCore.Configuration()
        try common2d(&d, defaultHidden: 32).apply(to: &c)
        return c
    }

    static func rotationEquivariant2d(_ d: inout Reader) throws -> RotationEquivariant2dCore.Configuration {
        var c = RotationEquivariant2dCore.Configuration()
        try common2d(&d, defaultHidden: 32).apply(to: &c)
        c.numRotations = try d.int("num_rotations") ?? c.numRotations
        c.upsampling = try d.int("upsampling") ?? c.upsampling
        c.rotationEquivariantBatchNorm = try d.bool("rot_eq_batch_norm") ?? c.rotationEquivariantBatchNorm
        c.initStd = try d.float("init_std") ?? c.initStd
        return c
    }

    static func convGRU(_ d: inout Reader) throws -> ConvGRUConfiguration {
        _ = try d.int("input_channels")  // checked against the core by the model
        _ = try d.float("gamma_rec")      // the kit's trainer never adds the GRU's regulariser
        return ConvGRUConfiguration(recChannels: try d.required("rec_channels", as: Int.self),
                                    inputKern: try d.required("input_kern", as: Int.self),
                                    recKern: try d.required("rec_kern", as: Int.self),
                                    groups: try d.int("groups") ?? 1, padInput: try d.bool("pad_input") ?? true)
    }

    // MARK: Readouts

    static func gaussian(_ d: inout Reader) throws -> GaussianReadoutConfiguration {
        var c = GaussianReadoutConfiguration()
        c.bias = try d.bool("bias") ?? c.bias
        c.initMuRange = try d.float("init_mu_range") ?? c.initMuRange
        c.initSigma = try d.float("init_sigma") ?? c.initSigma
        c.featureRegularization = try d.float("gamma_readout") ?? c.featureRegularization
        if let type = try d.string("gauss_type") {
            guard let covariance = GaussianCovariance(rawValue: type) else {
                throw d.error("gauss_type '\(type)' is not one of \(GaussianCovariance.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            c.covariance = covariance
        }
        guard try d.bool("batch_sample") ?? true else { throw d.error("batch_sample = false is not supported") }
        c.alignCorners = try d.bool("align_corners") ?? true
        guard try d.float("gamma_grid_dispersion") ?? 0 == 0 else { throw d.error("gamma_grid_dispersion other than 0 is not supported") }
        c.shareFeatures = try d.bool("share_features") ?? false
        c.shareGrid = try d.bool("share_grid") ?? false
        c.shareTransform = try d.bool("share_transform") ?? false
        if let ids = d.values["shared_match_ids"], !(ids is NSNull) { throw d.error("shared_match_ids are not supported") }
        d.used.insert("shared_match_ids")
        if let predictor = d.values["grid_mean_predictor"], !(predictor is NSNull) {
            var p = try d.object("grid_mean_predictor")
            guard try p.string("type") ?? "cortex" == "cortex" else { throw p.error("only the 'cortex' grid mean predictor exists") }
            c.positionNetwork = PositionNetworkConfiguration(
                inputDimensions: try p.int("input_dimensions") ?? 2, hiddenLayers: try p.int("hidden_layers") ?? 0,
                hiddenFeatures: try p.int("hidden_features") ?? 20, finalTanh: try p.bool("final_tanh") ?? false)
            try p.finish()
        } else {
            d.used.insert("grid_mean_predictor")
            c.positionNetwork = nil
        }
        return c
    }

    static func factorised(_ d: inout Reader) throws -> FullFactorized2d.Configuration {
        var c = FullFactorized2d.Configuration()
        c.bias = try d.required("bias", as: Bool.self)
        c.normalize = try d.bool("normalize") ?? c.normalize
        c.initNoise = try d.float("init_noise") ?? c.initNoise
        c.constrainPositive = try d.bool("constrain_pos") ?? c.constrainPositive
        c.positiveWeights = try d.bool("positive_weights") ?? c.positiveWeights
        c.positiveSpatial = try d.bool("positive_spatial") ?? c.positiveSpatial
        // `spatial_and_feature_reg_weight` wins over the deprecated `gamma_readout`; default 1.
        let weight = try d.float("spatial_and_feature_reg_weight")
        let gamma = try d.float("gamma_readout")
        c.regularization = weight ?? gamma ?? 1
        if let shared = d.values["shared_features"], !(shared is NSNull) { throw d.error("shared_features are not supported") }
        d.used.insert("shared_features")
        return c
    }

    // MARK: Reading

    /// Reads typed values from one JSON object and remembers which keys were read, so that
    /// ``finish()`` can name the ones nobody understood.
    struct Reader {
        var values: [String: Any]
        var path: String
        var source: String
        var used: Set<String> = []

        init(_ values: [String: Any], path: String, source: String) {
            self.values = values
            self.path = path
            self.source = source
        }

        func error(_ message: String) -> SensoriumError {
            .invalidConfiguration(source: source, message: path.isEmpty ? message : "\(path): \(message)")
        }

        mutating func allow(_ keys: [String]) throws { used.formUnion(keys) }

        mutating func value(_ key: String) -> Any? {
            used.insert(key)
            guard let v = values[key], !(v is NSNull) else { return nil }
            return v
        }

        mutating func required<T>(_ key: String, as type: T.Type) throws -> T {
            guard values[key] != nil, !(values[key] is NSNull) else { throw error("'\(key)' is required") }
            if T.self == Int.self, let v = try int(key) { return v as! T }
            if T.self == Bool.self, let v = try bool(key) { return v as! T }
            if T.self == String.self, let v = try string(key) { return v as! T }
            throw error("'\(key)' has the wrong type")
        }

        mutating func int(_ key: String) throws -> Int? {
            guard let v = value(key) else { return nil }
            guard let n = v as? NSNumber, let i = Int(exactly: n.doubleValue) else {
                throw error("'\(key)' must be an integer, got \(v)")
            }
            return i
        }

        mutating func float(_ key: String) throws -> Float? {
            guard let v = value(key) else { return nil }
            guard let n = v as? NSNumber, n.doubleValue.isFinite else { throw error("'\(key)' must be a finite number, got \(v)") }
            return n.floatValue
        }

        mutating func bool(_ key: String) throws -> Bool? {
            guard let v = value(key) else { return nil }
            guard let b = v as? Bool else { throw error("'\(key)' must be true or false, got \(v)") }
            return b
        }

        mutating func string(_ key: String) throws -> String? {
            guard let v = value(key) else { return nil }
            guard let s = v as? String else { throw error("'\(key)' must be a string, got \(v)") }
            return s
        }

        /// An integer or a list of integers.
        mutating func ints(_ key: String) throws -> [Int]? {
            guard let v = value(key) else { return nil }
            if let n = v as? NSNumber, let i = Int(exactly: n.doubleValue) { return [i] }
            guard let list = v as? [Any] else { throw error("'\(key)' must be an integer or a list of integers, got \(v)") }
            return try list.map {
                guard let n = $0 as? NSNumber, let i = Int(exactly: n.doubleValue) else { throw error("'\(key)' must hold integers, got \(v)") }
                return i
            }
        }

        mutating func floats(_ key: String) throws -> [Float]? {
            guard let v = value(key) else { return nil }
            guard let list = v as? [Any] else { throw error("'\(key)' must be a list of numbers, got \(v)") }
            return try list.map {
                guard let n = $0 as? NSNumber else { throw error("'\(key)' must hold numbers, got \(v)") }
                return n.floatValue
            }
        }

        /// A square kernel given as one integer or (h, w).
        mutating func kernel2d(_ key: String) throws -> [Int]? {
            guard let k = try ints(key) else { return nil }
            guard k.count == 1 || k.count == 2 else { throw error("'\(key)' must be an integer or (height, width), got \(k)") }
            return k.count == 1 ? [k[0], k[0]] : k
        }

        mutating func perLayer(_ values: [Int], _ layers: Int, _ key: String) throws -> [Int] {
            guard values.count == layers else { throw error("'\(key)' has \(values.count) values for \(layers) layers") }
            return values
        }

        mutating func object(_ key: String) throws -> Reader {
            guard let v = value(key) else { throw error("'\(key)' is required") }
            guard let o = v as? [String: Any] else { throw error("'\(key)' must be an object") }
            return Reader(o, path: path.isEmpty ? key : "\(path).\(key)", source: source)
        }

        mutating func optionalObject(_ key: String) throws -> Reader? {
            guard value(key) != nil else { return nil }
            return try object(key)
        }

        /// The 3-D cores' `hidden_nonlinearities` with `x_shift` / `y_shift`.
        mutating func nonlinearity3d() throws -> CoreNonlinearity {
            let name = try string("hidden_nonlinearities") ?? "elu"
            let x = try float("x_shift") ?? 0, y = try float("y_shift") ?? 0
            switch name {
            case "elu": return .elu
            case "adaptive_elu": return .adaptiveELU(xShift: x, yShift: y)
            case "relu": return .relu
            case "softplus": return .softplus
            default: throw error("hidden_nonlinearities '\(name)' is not supported (elu, adaptive_elu, relu, softplus)")
            }
        }

        mutating func expectRegularizer(_ key: String, _ supported: String) throws {
            if let name = try string(key), name != supported {
                throw error("'\(key)' \(name) is not supported (\(supported))")
            }
        }

        /// Throws when a key was never read: an option this translation does not know.
        func finish() throws {
            let unknown = values.keys.filter { !used.contains($0) }.sorted()
            guard unknown.isEmpty else {
                throw error("unsupported option\(unknown.count == 1 ? "" : "s") \(unknown.joined(separator: ", ")) (not translated; refusing rather than dropping)")
            }
        }
    }
}

/// The options ``/SensoriumLayers/Stacked2dCore`` and ``/SensoriumLayers/RotationEquivariant2dCore`` share (neuralpredictors'
/// common 2-D core arguments), so that the kit's arguments are read once for both.
protocol FrameCoreOptions {
    var inputChannels: Int { get set }
    var hiddenChannels: [Int] { get set }
    var inputKern: Int { get set }
    var hiddenKern: [Int] { get set }
    var padInput: Bool { get set }
    var hiddenPadding: Int? { get set }
    var stride: Int { get set }
    var batchNormScale: [Bool] { get set }
    var finalNonlinearity: Bool { get set }
    var momentum: Float { get set }
    var gammaInput: Float { get set }
    var gammaHidden: Float { get set }
    var laplacePadding: Int? { get set }
    var inputRegularizer: LaplaceRegularizer.Kind { get set }
    var useAverageRegularizer: Bool { get set }
    var stack: [Int]? { get set }
    var nonlinearity: CoreNonlinearity { get set }
    var linear: Bool { get set }
    var bias: [Bool] { get set }
    var batchNorm: [Bool] { get set }
}

extension Stacked2dCore.Configuration: FrameCoreOptions {}
extension RotationEquivariant2dCore.Configuration: FrameCoreOptions {}

/// The options ``/SensoriumLayers/Factorized3dCore`` and ``/SensoriumLayers/Basic3dCore`` share.
protocol Core3dOptions {
    var inputChannels: Int { get set }
    var hiddenChannels: [Int] { get set }
    var stride: [Int] { get set }
    var spatialDilation: Int { get set }
    var temporalDilation: Int { get set }
    var hiddenSpatialDilation: [Int] { get set }
    var hiddenTemporalDilation: [Int] { get set }
    var padding: Bool { get set }
    var bias: Bool { get set }
    var batchNorm: Bool { get set }
    var batchNormScale: Bool { get set }
    var momentum: Float { get set }
    var finalNonlinearity: Bool { get set }
    var gammaInputSpatial: Float { get set }
    var gammaInputTemporal: Float { get set }
    var laplacePadding: Int? { get set }
    var nonlinearity: CoreNonlinearity { get set }
}

extension Factorized3dCore.Configuration: Core3dOptions {}
extension Basic3dCore.Configuration: Core3dOptions {}
