import Foundation
import SensoriumTensor
import SensoriumLayers
import SensoriumReadouts
import SensoriumData

/// How a model built from data places its Gaussian readouts before training.
///
/// JSON: `{"type": "reference"}` or `{"type": "receptiveFieldMapping"}` followed by any of the
/// ``ReceptiveFieldMap/Options`` keys (`"lags": [3, 7]`, `"pooling"`, `"centerSigma"`,
/// `"surroundSigma"`, `"energySigma"`, `"maximumTrials"`); missing keys keep their defaults.
public enum ReadoutPositionInitialization: Sendable, Codable, Equatable {
    /// The reference: random free positions, or a randomly initialised position network.
    case reference
    /// Start every readout at the receptive fields mapped from the training data
    /// (``ReceptiveFieldMap``): free positions move to their neuron's centre; a position network
    /// is fitted to a smooth (quadratic) retinotopic map through the reliable centres.
    case receptiveFieldMapping(ReceptiveFieldMap.Options)

    private enum CodingKeys: String, CodingKey { case type }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        switch try c.decode(String.self, forKey: .type) {
        case "reference": self = .reference
        case "receptiveFieldMapping": self = .receptiveFieldMapping(try ReceptiveFieldMap.Options(from: decoder))
        case let other:
            throw DecodingError.dataCorruptedError(forKey: .type, in: c, debugDescription:
                "unknown readout position initialisation '\(other)'; expected reference or receptiveFieldMapping")
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .reference:
            try c.encode("reference", forKey: .type)
        case .receptiveFieldMapping(let options):
            try c.encode("receptiveFieldMapping", forKey: .type)
            try options.encode(to: encoder)
        }
    }
}

/// What ``VideoModel/initializeReadoutPositions(mouse:map:minimumSignificance:)`` did.
public struct ReadoutPositionFit: Sendable {
    /// Neurons whose mapped centre was reliable and consistent with the retinotopic fit.
    public var reliableNeurons: Int
    /// Neurons of the readout.
    public var neurons: Int
    /// Root-mean-square distance (readout grid units, −1…1) between the reliable centres and
    /// the positions the readout now has.
    public var rmsResidual: Double
}

extension VideoModel {
    /// Moves the Gaussian readout of `mouse` to the receptive fields in `map`.
    ///
    /// Centres are converted from frame pixels to the readout's grid over the core's output (the
    /// core's stride and border crop from its output shapes). Centres with a significance below
    /// `minimumSignificance` are ignored. With a position network (positions from cortical
    /// coordinates), a quadratic map from the network's input to the centres is fitted by
    /// iteratively reweighted least squares (outliers dropped), and the network is then trained
    /// (Adam, mean squared error) to reproduce that map for every neuron. Free positions of
    /// reliable neurons are set to their centres; the others keep their initial positions.
    ///
    /// Throws for readouts without Gaussian positions (grouped conv, hierarchical) and for
    /// positions shared across mice.
    @discardableResult
    public func initializeReadoutPositions(mouse: String, map: ReceptiveFieldMap,
                                           minimumSignificance: Double = 4) throws -> ReadoutPositionFit {
        guard let gaussian = readout[mouse] as? FullGaussian2d else {
            throw SensoriumError.incompatibleData("receptive-field initialisation needs a Gaussian readout; mouse \(mouse) has \(readout[mouse].map { String(describing: type(of: $0)) } ?? "none")")
        }
        guard map.neuronCount == gaussian.neuronCount else {
            throw SensoriumError.incompatibleData("receptive-field map of \(map.neuronCount) neurons for the readout of mouse \(mouse) with \(gaussian.neuronCount)")
        }
        let grid = try gridCoordinates(map)
        let reliable = (0..<map.neuronCount).filter { map.significance[$0] >= minimumSignificance }
        if let network = gaussian.positionNetwork, let source = gaussian.sourceGrid {
            let inputs = source.scalars.map(Double.init), d = source.shape[1]
            let points = (0..<map.neuronCount).map { (inputs[$0 * d], d > 1 ? inputs[$0 * d + 1] : 0) }
            let fit = QuadraticMap.robustFit(points: points, targets: grid, using: reliable)
            let targets = points.map { fit.evaluate($0) }.map { (min(0.95, max(-0.95, $0.0)), min(0.95, max(-0.95, $0.1))) }
            Self.train(network, source: source, targets: targets)
            let reached = network(source).scalars
            return Self.summary(inliers: fit.inliers, grid: grid, positions: { (Double(reached[$0 * 2]), Double(reached[$0 * 2 + 1])) },
                                neurons: map.neuronCount)
        }
        guard gaussian.positionNetwork == nil, let positions = gaussian.freePositions,
              positions.count == 2 * map.neuronCount else {
            throw SensoriumError.incompatibleData("receptive-field initialisation does not support positions shared across mice (mouse \(mouse))")
        }
        positions.withUnsafeMutableBufferPointer { p in
            for i in reliable {
                p[2 * i] = Float(min(1, max(-1, grid[i].0)))
                p[2 * i + 1] = Float(min(1, max(-1, grid[i].1)))
            }
        }
        let values = positions.scalars
        return Self.summary(inliers: reliable, grid: grid, positions: { (Double(values[$0 * 2]), Double(values[$0 * 2 + 1])) },
                            neurons: map.neuronCount)
    }

    /// The map's centres in the readout's grid coordinates (x, y), −1…1 spanning the centres of the
    /// first and last pixel of the core's output (`align_corners=True`). The core's total stride
    /// comes from how its output grows with the input; the border it crops is taken as symmetric.
    func gridCoordinates(_ map: ReceptiveFieldMap) throws -> [(Double, Double)] {
        let toGrid = try pixelToGrid(height: map.height, width: map.width)
        return (0..<map.neuronCount).map { toGrid(map.columns[$0], map.rows[$0]) }
    }

    /// The map from a pixel (column, row) of a `height × width` frame to the readout's grid
    /// coordinates (x, y), −1…1 spanning the centres of the first and last pixel of the core's
    /// output (`align_corners=True`). The core's total stride comes from how its output grows with
    /// the input; the border it crops is taken as symmetric.
    func pixelToGrid(height: Int, width: Int) throws -> (Double, Double) -> (Double, Double) {
        guard let channels = architecture?.configuration.core.inputChannels else {
            throw SensoriumError.incompatibleData("receptive-field initialisation needs a model built from a configuration (its core's input channels)")
        }
        let frames = core.burnInFrames + 1
        let base = core.outputShape(for: [1, channels, frames, height, width])
        let grown = core.outputShape(for: [1, channels, frames, height + 1024, width + 1024])
        func axis(_ size: Int, _ out: Int, _ outGrown: Int) throws -> (offset: Double, stride: Double, out: Int) {
            guard out > 0, outGrown > out else {
                throw SensoriumError.incompatibleData("receptive-field initialisation: the core maps \(size) pixels to \(out)")
            }
            let stride = (1024 / Double(outGrown - out)).rounded()
            return ((Double(size - 1) - stride * Double(out - 1)) / 2, stride, out)
        }
        let rows = try axis(height, base[3], grown[3]), columns = try axis(width, base[4], grown[4])
        func normalise(_ pixel: Double, _ a: (offset: Double, stride: Double, out: Int)) -> Double {
            guard a.out > 1 else { return 0 }
            return 2 * ((pixel - a.offset) / a.stride) / Double(a.out - 1) - 1
        }
        return { column, row in (normalise(column, columns), normalise(row, rows)) }
    }

    /// Adam on the mean squared error between the network's output for `source` and `targets`.
    private static func train(_ network: any UnaryLayer, source: Tensor, targets: [(Double, Double)], steps: Int = 1000) {
        let target = Tensor(targets.flatMap { [Float($0.0), Float($0.1)] }, shape: [targets.count, 2])
        let parameters = network.namedParameters().filter { $0.tensor.requiresGrad }
        let optimizer = Adam(parameters: parameters, configuration: .init(learningRate: 1e-2))
        for _ in 0..<steps {
            optimizer.zeroGrad()
            let difference = network(source).reshaped([targets.count, 2]) - target
            (difference * difference).mean().backward()
            optimizer.step()
        }
    }

    private static func summary(inliers: [Int], grid: [(Double, Double)], positions: (Int) -> (Double, Double),
                                neurons: Int) -> ReadoutPositionFit {
        var squares = 0.0
        for i in inliers {
            let p = positions(i)
            squares += (p.0 - grid[i].0) * (p.0 - grid[i].0) + (p.1 - grid[i].1) * (p.1 - grid[i].1)
        }
        return ReadoutPositionFit(reliableNeurons: inliers.count, neurons: neurons,
                                  rmsResidual: inliers.isEmpty ? .nan : (squares / Double(inliers.count)).squareRoot())
    }
}

/// A quadratic map from 2-D points to 2-D targets, each output `a·[1, u, v, u², uv, v²]`.
struct QuadraticMap {
    var x: [Double], y: [Double]
    /// The points the final fit used.
    var inliers: [Int]

    static func features(_ p: (Double, Double)) -> [Double] { [1, p.0, p.1, p.0 * p.0, p.0 * p.1, p.1 * p.1] }

    func evaluate(_ p: (Double, Double)) -> (Double, Double) {
        let f = Self.features(p)
        return (zip(f, x).reduce(0) { $0 + $1.0 * $1.1 }, zip(f, y).reduce(0) { $0 + $1.0 * $1.1 })
    }

    /// Least squares on `using`, then three rounds dropping points whose residual exceeds three
    /// robust standard deviations (at least 0.05). With fewer than 12 points the map is constant
    /// (their median), or zero without any.
    static func robustFit(points: [(Double, Double)], targets: [(Double, Double)], using: [Int]) -> QuadraticMap {
        var inliers = using
        guard inliers.count >= 12 else {
            func median(_ v: [Double]) -> Double { v.isEmpty ? 0 : v.sorted()[v.count / 2] }
            let mx = median(inliers.map { targets[$0].0 }), my = median(inliers.map { targets[$0].1 })
            return QuadraticMap(x: [mx, 0, 0, 0, 0, 0], y: [my, 0, 0, 0, 0, 0], inliers: inliers)
        }
        var fit = QuadraticMap(x: solve(points, targets.map { $0.0 }, inliers), y: solve(points, targets.map { $0.1 }, inliers), inliers: inliers)
        for _ in 0..<3 {
            let residuals = using.map { i -> Double in
                let p = fit.evaluate(points[i])
                return ((p.0 - targets[i].0) * (p.0 - targets[i].0) + (p.1 - targets[i].1) * (p.1 - targets[i].1)).squareRoot()
            }
            let sorted = residuals.sorted()
            let limit = max(0.05, 3 * 1.4826 * sorted[sorted.count / 2])
            let kept = zip(using, residuals).filter { $0.1 <= limit }.map(\.0)
            guard kept.count >= 12 else { break }
            inliers = kept
            fit = QuadraticMap(x: solve(points, targets.map { $0.0 }, inliers), y: solve(points, targets.map { $0.1 }, inliers), inliers: inliers)
        }
        return fit
    }

    /// Normal equations of the quadratic features over `rows`, solved with partial pivoting and a
    /// tiny ridge (degenerate point sets give the nearest well-defined map).
    private static func solve(_ points: [(Double, Double)], _ values: [Double], _ rows: [Int]) -> [Double] {
        let k = 6
        var a = [Double](repeating: 0, count: k * k), b = [Double](repeating: 0, count: k)
        for i in rows {
            let f = features(points[i])
            for r in 0..<k {
                b[r] += f[r] * values[i]
                for c in 0..<k { a[r * k + c] += f[r] * f[c] }
            }
        }
        for r in 0..<k { a[r * k + r] += 1e-6 * Double(rows.count) }
        for col in 0..<k {
            var pivot = col
            for r in col..<k where abs(a[r * k + col]) > abs(a[pivot * k + col]) { pivot = r }
            if pivot != col {
                for c in 0..<k { a.swapAt(col * k + c, pivot * k + c) }
                b.swapAt(col, pivot)
            }
            let p = a[col * k + col]
            for r in (col + 1)..<k {
                let factor = a[r * k + col] / p
                for c in col..<k { a[r * k + c] -= factor * a[col * k + c] }
                b[r] -= factor * b[col]
            }
        }
        var solution = [Double](repeating: 0, count: k)
        for r in stride(from: k - 1, through: 0, by: -1) {
            var s = b[r]
            for c in (r + 1)..<k { s -= a[r * k + c] * solution[c] }
            solution[r] = s / a[r * k + r]
        }
        return solution
    }
}
