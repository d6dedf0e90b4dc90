import Foundation
import Sensorium

let env = ProcessInfo.processInfo.environment
// Convolution checks and timings need no data.
if env["CONVCHECK"] != nil { convCheck(); exit(0) }
if env["CONVTIME"] != nil { convTime(); exit(0) }
guard let root = env["DATA"], !root.isEmpty else {
    FileHandle.standardError.write(Data("""
        DemoLearning: set DATA to a folder of synthetic mice (synthetic2023-0-Video and synthetic2023-1-Video),
        e.g. the demo's `demo-output/data` after `make demo`, or one written by `swift run sensorium synth --output <folder>`.

        """.utf8))
    exit(2)
}
let epochs = Int(env["EPOCHS"] ?? "6") ?? 6
if let rate = env["SYNTHRATE"].flatMap(Double.init) {
    var c = SyntheticMouseConfiguration.default
    c.meanEventRate = rate
    if let nf = env["NOISEFLOOR"].flatMap(Double.init) { c.noiseFloor = nf }
    for i in 0..<c.mice { try SyntheticMouseGenerator.generateMouse(index: i, configuration: c, into: root, overwrite: true) }
    print("generated", root)
}
let paths = ["\(root)/synthetic2023-0-Video", "\(root)/synthetic2023-1-Video"]
var config = DemoWorkflow.trainingConfiguration
if let lr = env["LR"].flatMap(Double.init), case .adamW(var c) = config.trainer.optimizer { c.learningRate = lr; config.trainer.optimizer = .adamW(c) }
if let bs = env["BS"].flatMap(Int.init) { config.data.batchSize = bs }
if let fr = env["FRAMES"].flatMap(Int.init) { config.data.frames = fr }
if case .gaussian(var g) = config.model.readout {
    if let sg = env["SIGMA"].flatMap(Float.init) { g.initSigma = sg }
    if env["GTPOS"] != nil { g.positionNetwork = nil }
    config.model.readout = .gaussian(g)
}
if env["NOBEHAV"] != nil {
    config.data.behaviorAsChannels = false
    config.model.core = config.model.core.withInputChannels(1)
}
if case .factorized3d(var cc) = config.model.core {
    if env["NOBN"] != nil { cc.batchNorm = false }
    if env["STRIDE1"] != nil { cc.stride = [1, 1] }
    if let ch = env["CH"] { cc.hiddenChannels = ch.split(separator: ",").map { Int($0)! } }
    if env["PAD"] != nil { cc.padding = true }
    if let m = env["MOM"].flatMap(Float.init) { cc.momentum = m }
    if let g = env["GAMMA"].flatMap(Float.init) { cc.gammaInputSpatial = g }
    config.model.core = .factorized3d(cc)
}
if env["NOSHIFT"] != nil { config.model.shifter = .none }
if env["CENTER"] != nil { config.model.centerBehavior = true }
if let w = env["WARM"].flatMap(Int.init) { config.model.behaviorWarmupEpochs = w }
let datasets = try TrainingWorkflow.openDatasets(paths, settings: config.data, centerBehavior: config.model.centerBehavior, forTraining: true)
let model = try VideoModel(configuration: config.model, datasets: datasets)
if env["GTPOS"] != nil {
    for d in datasets {
        let gt = try NPYFile.read(d.layout.root + "/meta/synthetic/rf_grid_positions.npy").floats()
        let r = model.readout[d.name] as! FullGaussian2d
        r.freePositions!.withUnsafeMutableBufferPointer { p in for i in 0..<gt.count { p[i] = gt[i] } }
    }
}
if env["RFMAP"] != nil {
    for d in datasets {
        let t0 = Date()
        let map = try ReceptiveFieldMap.estimate(dataset: d)
        let gt = try NPYFile.read(d.layout.root + "/meta/synthetic/rf_grid_positions.npy").floats()
        var errs = [Double]()
        for i in 0..<map.neuronCount {
            let gc = (Double(gt[2 * i]) + 1) / 2 * Double(map.width - 1), gr = (Double(gt[2 * i + 1]) + 1) / 2 * Double(map.height - 1)
            errs.append(((gc - map.columns[i]) * (gc - map.columns[i]) + (gr - map.rows[i]) * (gr - map.rows[i])).squareRoot())
        }
        let sig = map.significance
        let good = (0..<errs.count).filter { sig[$0] >= 4 }
        print(String(format: "RF map %@: %.1fs, median error %.2f px, <3px %.2f, significant %d, their median error %.2f px", d.name, Date().timeIntervalSince(t0),
                     errs.sorted()[errs.count / 2], Double(errs.filter { $0 < 3 }.count) / Double(errs.count), good.count,
                     good.map { errs[$0] }.sorted()[max(0, good.count / 2)]))
        let fit = try model.initializeReadoutPositions(mouse: d.name, map: map)
        print("  fit: reliable \(fit.reliableNeurons) rms \(fit.rmsResidual)")
        let pos = (model.readout[d.name] as! FullGaussian2d).meanPositions().scalars
        var e2 = [Double]()
        // GT in the feature-map grid of the demo core (9 × 23 outputs, stride 2, 9.5 px border)
        for i in 0..<map.neuronCount {
            let gc = (Double(gt[2 * i]) + 1) / 2 * Double(map.width - 1), gr = (Double(gt[2 * i + 1]) + 1) / 2 * Double(map.height - 1)
            let fx = 2 * ((gc - 9.5) / 2) / 22 - 1, fy = 2 * ((gr - 9.5) / 2) / 8 - 1
            e2.append(((fx - Double(pos[2 * i])) * (fx - Double(pos[2 * i])) + (fy - Double(pos[2 * i + 1])) * (fy - Double(pos[2 * i + 1]))).squareRoot())
        }
        print(String(format: "  readout vs GT (feature grid units): median %.3f, 90%% %.3f", e2.sorted()[e2.count / 2], e2.sorted()[e2.count * 9 / 10]))
    }
}
if env["INVBIAS"] != nil {
    for d in datasets {
        let r = model.readout[d.name] as! FullGaussian2d
        r.bias!.withUnsafeMutableBufferPointer { p in for i in 0..<p.count { let m = max(p[i], 1e-3); p[i] = m >= 1 ? m - 1 : log(m) } }
    }
}
if let fs = env["FEATRAND"].flatMap(Float.init) {
    let gg = RandomGenerator(seed: 99)
    for d in datasets {
        let r = model.readout[d.name] as! FullGaussian2d
        let noise = Tensor.randomNormal(r.featureWeights.shape, generator: gg).scalars
        r.featureWeights.withUnsafeMutableBufferPointer { p in for i in 0..<p.count { p[i] = fs * noise[i] } }
    }
}
let s = config.data
let data = MouseTrainingData(datasets: datasets, batchSize: s.batchSize, frames: s.frames, validationTier: s.validationTier,
                             validationBatchSize: s.validationBatchSize, validationMaxFrames: s.validationMaxFrames)
var logger = Logger(label: "diag"); logger.logLevel = .warning
config.trainer.earlyStopping.maxEpochs = 1000
config.trainer.earlyStopping.patience = 1000
let trainer = Trainer(model: model, data: data, configuration: config.trainer, logger: logger)

/// Correlation on a tier, full trials (≤150 frames), in eval or train mode; also vs ground-truth rates; and shifted.
nonisolated(unsafe) let M = model
func score(tier: MouseTier, trainMode: Bool, maxTrials: Int = 20) throws -> (Double, Double, [Double]) {
    M.train(trainMode)
    defer { M.train(false) }
    var acc = SingleTrialCorrelationAccumulator(skipFrames: 50)
    let accRate = SingleTrialCorrelationAccumulator(skipFrames: 50)
    var shifts = [SingleTrialCorrelationAccumulator](repeating: SingleTrialCorrelationAccumulator(skipFrames: 50), count: 9)
    try withNoGrad {
        for d in datasets {
            let trials = Array(d.trials(in: tier).prefix(maxTrials))
            let loader = MouseLoader(dataset: d, tier: tier, batchSize: 5, mode: .fullTrials(maxFrames: 150), shuffle: false, generator: RandomGenerator(seed: 0))
            _ = trials
            let stream = loader.epoch()
            var n = 0
            while let b = try stream.next(), n < maxTrials {
                n += b.batchSize
                let p = M.forward(b)
                let t = b.targetTensor()
                acc.add(mouse: d.name, predictions: p, targets: t)
                // shifted: compare prediction frames with targets shifted by k-4 frames
                let tp = p.shape[1], T = t.shape[1]
                for k in 0..<9 {
                    let sh = k - 4
                    // targets window end at T - 4 + sh ; predictions last tp-8 frames ending at tp-4
                    let len = tp - 8
                    let ps = p.sliced(axis: 1, range: (tp - 4 - len)..<(tp - 4))
                    let ts = t.sliced(axis: 1, range: (T - 4 + sh - len)..<(T - 4 + sh))
                    shifts[k].add(mouse: d.name, predictions: ps.copy(), targets: ts.copy())
                }
            }
        }
    }
    return (acc.result().correlation, accRate.result().correlation, shifts.map { $0.result().correlation })
}

func report(_ label: String) throws {
    let (ve, _, vs) = try score(tier: .oracle, trainMode: false)
    let (vt, _, _) = try score(tier: .oracle, trainMode: true)
    let (te, _, _) = try score(tier: .train, trainMode: false)
    let (tt, _, _) = try score(tier: .train, trainMode: true)
    print(label, String(format: "val eval %.3f  val batchstats %.3f | train eval %.3f train batchstats %.3f", ve, vt, te, tt),
          "shifts(-4..4):", vs.map { String(format: "%.3f", $0) }.joined(separator: " "))
    
}
if env["VIDEOCHECK"] != nil { try videoCheck(datasets); exit(0) }
if env["DATAONLY"] != nil { try dataReport(datasets); exit(0) }
if let st = env["OVERFIT"].flatMap(Int.init) { try overfit(model, data, lr: env["LR"].flatMap(Double.init) ?? 5e-3, steps: st); exit(0) }
try report("init"); try lossCheck(model, datasets, label: "init")
for e in 1...epochs {
    let t0 = Date()
    _ = try trainer.fit(until: .epochs(e))
    let loss = trainer.history.last?.trainingLoss ?? .nan
    print(String(format: "epoch %d loss %.4e (%.1fs)", e, loss, Date().timeIntervalSince(t0)))
    if e % (Int(env["EVERY"] ?? "1") ?? 1) == 0 { try report("  "); try lossCheck(model, datasets, label: "  ") }
}
