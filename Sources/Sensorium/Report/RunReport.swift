import Foundation
import SensoriumTensor
import SensoriumLayers
import SensoriumReadouts
import SensoriumMetrics
import SensoriumData

/// Everything the HTML report of a run shows: the training history, the Table 1 rows (the model
/// and, for synthetic data, the ground-truth ceiling), per-neuron correlations and readout
/// positions. `Codable`, so the CLI keeps the pieces as JSON next to the checkpoints and the
/// `report` command can rebuild the page later.
public struct RunReport: Codable, Sendable {
    /// Page title.
    public var title: String
    /// One-line description under the title (model, data).
    public var subtitle: String?
    /// One record per evaluated epoch (epoch 0 = before training).
    public var history: [EpochReport]
    /// Table 1 rows of the models evaluated.
    public var table: [Table1Summary]
    /// The best any model can score on the same tests (synthetic data: the true rates against the
    /// noisy responses), shown below the models with each model's score as a fraction of it.
    public var ceiling: Table1Summary?
    /// Per-neuron correlations of each mouse (one histogram group per entry).
    public var neuronCorrelations: [NeuronCorrelations]
    /// Readout positions of each mouse.
    public var readoutPositions: [ReadoutPositions]
    /// Further facts shown as a two-column table (name, value), in order.
    public var facts: [Fact]
    /// The scores of every mouse (from the evaluation), for the per-mouse table.
    public var mice: [MouseEvaluation]?
    /// How the evaluation scored (tiers, frames).
    public var evaluationOptions: EvaluationOptions?
    /// How validation during training scored (tier, frames).
    public var validationSetup: ValidationSetup?
    /// Per-neuron FEV, FEVE, oracle correlations and example traces (from the evaluation).
    public var diagnostics: [NeuronDiagnostics]?

    /// What the validation correlation of the training history measures.
    public struct ValidationSetup: Codable, Sendable, Equatable {
        /// The tier scored (the oracle tier in SENSORIUM 2023).
        public var tier: MouseTier
        /// Trials cut to at most this many frames (nil: whole trials).
        public var maxFrames: Int?
        /// Frames skipped at the start of every trial.
        public var skipFrames: Int

        /// A setup.
        public init(tier: MouseTier, maxFrames: Int?, skipFrames: Int) {
            self.tier = tier
            self.maxFrames = maxFrames
            self.skipFrames = skipFrames
        }
    }

    /// A report; every part is optional (an empty part shows as "no data").
    public init(title: String, subtitle: String? = nil, history: [EpochReport] = [], table: [Table1Summary] = [],
                ceiling: Table1Summary? = nil, neuronCorrelations: [NeuronCorrelations] = [], readoutPositions: [ReadoutPositions] = [], facts: [Fact] = []) {
        self.title = title
        self.subtitle = subtitle
        self.history = history
        self.table = table
        self.ceiling = ceiling
        self.neuronCorrelations = neuronCorrelations
        self.readoutPositions = readoutPositions
        self.facts = facts
    }

    /// A named value in the facts table.
    public struct Fact: Codable, Sendable, Equatable {
        public var name: String
        public var value: String
        /// A fact.
        public init(_ name: String, _ value: String) {
            self.name = name
            self.value = value
        }
    }

    /// Reads a report from a JSON file; throws `SensoriumError` naming the file.
    public static func load(from url: URL) throws -> RunReport {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw SensoriumError.file(path: url.path, message: "cannot read the file (\(error.localizedDescription))")
        }
        do { return try ReportJSON.decoder().decode(RunReport.self, from: data) } catch {
            throw SensoriumError.file(path: url.path, message: "expected a run report (JSON), found something else: \(SensoriumError.describe(error))")
        }
    }

    /// Writes the report as pretty-printed JSON (atomically).
    public func write(to url: URL) throws {
        try ReportJSON.encoder().encode(self).write(to: url, options: .atomic)
    }
}

/// Per-neuron correlations of one mouse for one test set.
public struct NeuronCorrelations: Codable, Sendable, Equatable {
    /// The mouse.
    public var mouse: String
    /// What the values are, e.g. "final_test_main ρ_st".
    public var label: String
    /// One value per neuron.
    public var values: [Float]

    /// Correlations of one mouse.
    public init(mouse: String, label: String, values: [Float]) {
        self.mouse = mouse
        self.label = label
        self.values = values
    }
}

/// The readout position of every neuron of one mouse, in normalised grid coordinates of the core
/// output ([-1, 1]: x left to right, y top to bottom).
public struct ReadoutPositions: Codable, Sendable, Equatable {
    /// The mouse (the readout's data key).
    public var mouse: String
    /// Horizontal and vertical positions, one per neuron.
    public var x: [Float]
    public var y: [Float]
    /// The neurons' cortical coordinates (`meta/neurons/cell_motor_coordinates.npy`, first two
    /// columns, microns), when known.
    public var corticalX: [Float]?
    public var corticalY: [Float]?
    /// Synthetic mice: the true receptive-field centres (`meta/synthetic/rf_grid_positions.npy`,
    /// −1…1 over the frame's pixel centres) in the readout's grid coordinates, which span the core's
    /// output (a convolution without padding crops the frame's border, so the two differ).
    public var trueX: [Float]?
    public var trueY: [Float]?

    /// Positions of one mouse.
    public init(mouse: String, x: [Float], y: [Float]) {
        precondition(x.count == y.count, "ReadoutPositions: \(x.count) x values but \(y.count) y values")
        self.mouse = mouse
        self.x = x
        self.y = y
    }

    /// Adds the cortical coordinates of `datasets` and, for synthetic mice, the true receptive-field
    /// centres (converted to `model`'s readout grid) to the positions of the mouse of the same name
    /// (neuron counts must agree).
    public static func annotate(_ positions: [ReadoutPositions], with datasets: [MouseDataset],
                                model: VideoModel) -> [ReadoutPositions] {
        positions.map { p in
            var p = p
            guard let d = datasets.first(where: { $0.name == p.mouse }), d.neuronCount == p.x.count else { return p }
            let n = d.neuronCount
            if d.cellMotorCoordinates.count == 3 * n {
                p.corticalX = (0..<n).map { d.cellMotorCoordinates[3 * $0] }
                p.corticalY = (0..<n).map { d.cellMotorCoordinates[3 * $0 + 1] }
            }
            let truth = d.layout.root + "/meta/synthetic/rf_grid_positions.npy"
            if FileManager.default.fileExists(atPath: truth), let a = try? NPY.read(truth), a.shape == [n, 2],
               let v = try? a.floats(), let toGrid = try? model.pixelToGrid(height: d.frameHeight, width: d.frameWidth) {
                // Frame coordinates → pixels → the readout's grid.
                let grid = (0..<n).map { i in
                    toGrid((Double(v[2 * i]) + 1) / 2 * Double(d.frameWidth - 1), (Double(v[2 * i + 1]) + 1) / 2 * Double(d.frameHeight - 1))
                }
                p.trueX = grid.map { Float($0.0) }
                p.trueY = grid.map { Float($0.1) }
            }
            return p
        }
    }

    /// The mean positions of every Gaussian readout (`FullGaussian2d` and subclasses) inside
    /// `model`, named by the last component of the readout's path (the mouse's data key under a
    /// `PerMouseReadouts`). Computed without gradients; models without such readouts give `[]`.
    public static func extract(from model: Module) -> [ReadoutPositions] {
        withNoGrad {
            model.namedModules().compactMap { entry -> ReadoutPositions? in
                guard let readout = entry.module as? FullGaussian2d else { return nil }
                let mu = readout.meanPositions()
                let values = mu.scalars
                let n = mu.shape[0]
                let name = entry.path.split(separator: ".").last.map(String.init) ?? entry.path
                return ReadoutPositions(mouse: name.isEmpty ? "readout" : name,
                                        x: (0..<n).map { values[2 * $0] }, y: (0..<n).map { values[2 * $0 + 1] })
            }
        }
    }
}

/// JSON coders used for report files: pretty, sorted keys, and non-finite numbers as the strings
/// "nan", "inf" and "-inf" (a best objective is −∞ before the first evaluation).
public enum ReportJSON {
    /// The encoder.
    public static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return encoder
    }

    /// The decoder.
    public static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return decoder
    }
}
