import Foundation
import Testing
import SensoriumTensor
@testable import SensoriumMetrics

/// Naive two-pass reference of `neuralpredictors` `corr` over pooled samples (Double).
func referenceCorrelation(_ r: [Double], _ o: [Double], eps: Double = 1e-8) -> Double {
    let n = Double(r.count)
    let mr = r.reduce(0, +) / n, mo = o.reduce(0, +) / n
    let sr = (r.map { ($0 - mr) * ($0 - mr) }.reduce(0, +) / n).squareRoot()
    let so = (o.map { ($0 - mo) * ($0 - mo) }.reduce(0, +) / n).squareRoot()
    let c = zip(r, o).map { ($0 - mr) / (sr + eps) * ($1 - mo) / (so + eps) }.reduce(0, +) / n
    return c.isNaN ? 0 : c
}

@Suite struct CorrelationTests {
    /// Two trials of different length, 2 neurons, skip 1; skipped frames hold junk (100).
    /// Pooled neuron 0: r = [1, 2, 3, 4], o = [2, 4, 6, 8] → 1; neuron 1: r = [1, 2, 3, 4],
    /// o = [1, 3, 2, 4] → Σdr·do = 4, Σdr² = Σdo² = 5 → 0.8.
    @Test func handComputedSingleTrial() {
        let r1 = ResponseMatrix(values: [100, 100, 1, 1], rows: 2, neurons: 2)
        let o1 = ResponseMatrix(values: [-100, 100, 2, 1], rows: 2, neurons: 2)
        let r2 = ResponseMatrix(values: [100, -100, 2, 2, 3, 3, 4, 4], rows: 4, neurons: 2)
        let o2 = ResponseMatrix(values: [100, 100, 4, 3, 6, 2, 8, 4], rows: 4, neurons: 2)
        let c = singleTrialCorrelation(responses: [r1, r2], predictions: [o1, o2], skipFrames: 1)
        #expect(abs(c[0] - 1) < 1e-6)
        #expect(abs(c[1] - 0.8) < 1e-6)

        // Predictions holding only the scored frames (the submission format) give the same result.
        let o1Short = ResponseMatrix(values: [2, 1], rows: 1, neurons: 2)
        let o2Short = ResponseMatrix(values: [4, 3, 6, 2, 8, 4], rows: 3, neurons: 2)
        let c2 = singleTrialCorrelation(responses: [r1, r2], predictions: [o1Short, o2Short], skipFrames: 1)
        #expect(c2 == c)

        // The Tensor entry point reads the same blocks.
        let ct = singleTrialCorrelation(responses: [r1.tensor, r2.tensor], predictions: [o1.tensor, o2.tensor], skipFrames: 1)
        #expect(ct == c)
    }

    @Test func variableLengthTrialsMatchPooledReference() {
        let g = RandomGenerator(seed: 11)
        let neurons = 5, skip = 3
        let lengths = [7, 12, 3, 2, 9]  // trials of 3 and 2 frames contribute nothing
        var rs: [ResponseMatrix] = [], os: [ResponseMatrix] = []
        for len in lengths {
            let r = Tensor.randomNormal([len, neurons], mean: 2, std: 1, generator: g)
            let o = Tensor.randomNormal([len, neurons], generator: g) + r * 0.5
            rs.append(ResponseMatrix(r)); os.append(ResponseMatrix(o))
        }
        let c = singleTrialCorrelation(responses: rs, predictions: os, skipFrames: skip)
        for j in 0..<neurons {
            var pr: [Double] = [], po: [Double] = []
            for (r, o) in zip(rs, os) where r.rows > skip {
                for f in skip..<r.rows { pr.append(Double(r[f, j])); po.append(Double(o[f, j])) }
            }
            #expect(abs(Double(c[j]) - referenceCorrelation(pr, po)) < 1e-6)
        }
    }

    @Test func zeroVarianceNeuronsScoreZero() {
        // neuron 0: constant prediction; neuron 1: constant response; neuron 2: NaN input; neuron 3: normal.
        let rows = 6
        var r = [Float](), o = [Float]()
        for f in 0..<rows {
            r += [Float(f), 3.5, Float(f), Float(f * f)]
            o += [0.25, Float(f), f == 2 ? .nan : Float(f), Float(f)]
        }
        let c = singleTrialCorrelation(responses: [ResponseMatrix(values: r, rows: rows, neurons: 4)],
                                       predictions: [ResponseMatrix(values: o, rows: rows, neurons: 4)], skipFrames: 0)
        #expect(c[0] == 0)
        #expect(c[1] == 0)
        #expect(c[2] == 0)
        #expect(c[3] > 0.9)
        // Nothing left after skipping: all zeros, like nan_to_num of an empty correlation.
        let empty = singleTrialCorrelation(responses: [ResponseMatrix(values: r, rows: rows, neurons: 4)],
                                           predictions: [ResponseMatrix(values: o, rows: rows, neurons: 4)], skipFrames: 50)
        #expect(empty == [0, 0, 0, 0])
    }

    /// Video A: three repeats (one shorter), video B: one repeat; skip 0, one neuron.
    /// Averages: A r̄ = [(0+2+1)/3, (2+2)/2] = [1, 2], ō = [1, 3]; B: r = [3, 4], o = [2, 4].
    /// Pooled r̄ = [1, 2, 3, 4], ō = [1, 3, 2, 4] → 0.8.
    @Test func repeatAveraging() {
        let r = [ResponseMatrix(values: [0, 2], rows: 2, neurons: 1), ResponseMatrix(values: [3, 4], rows: 2, neurons: 1),
                 ResponseMatrix(values: [2, 2], rows: 2, neurons: 1), ResponseMatrix(values: [1], rows: 1, neurons: 1)]
        let o = [ResponseMatrix(values: [0, 3], rows: 2, neurons: 1), ResponseMatrix(values: [2, 4], rows: 2, neurons: 1),
                 ResponseMatrix(values: [2, 3], rows: 2, neurons: 1), ResponseMatrix(values: [1], rows: 1, neurons: 1)]
        let c = correlationToAverage(responses: r, predictions: o, videoIDs: ["A", "B", "A", "A"], skipFrames: 0)
        #expect(abs(c[0] - 0.8) < 1e-6)
        // With every trial its own video, ρ_ta equals ρ_st.
        let st = singleTrialCorrelation(responses: r, predictions: o, skipFrames: 0)
        let ta = correlationToAverage(responses: r, predictions: o, videoIDs: [0, 1, 2, 3], skipFrames: 0)
        #expect(abs(st[0] - ta[0]) < 1e-6)
    }

    @Test func pearsonAlongAxis() {
        let g = RandomGenerator(seed: 3)
        let x = Tensor.randomNormal([3, 4, 5], generator: g)
        let y = Tensor.randomNormal([3, 4, 5], generator: g) + x
        for axis in 0..<3 {
            let c = pearsonCorrelation(x, y, axis: axis)
            var expectedShape = [3, 4, 5]; expectedShape.remove(at: axis)
            #expect(c.shape == expectedShape)
            // Check every output against the naive reference.
            for i in 0..<3 { for j in 0..<4 { for k in 0..<5 {
                var idx = [i, j, k]
                guard idx[axis] == 0 else { continue }
                var xs: [Double] = [], ys: [Double] = []
                for t in 0..<[3, 4, 5][axis] {
                    idx[axis] = t
                    xs.append(Double(x[idx[0], idx[1], idx[2]])); ys.append(Double(y[idx[0], idx[1], idx[2]]))
                }
                var outIdx = [i, j, k]; outIdx.remove(at: axis)
                #expect(abs(Double(c[outIdx[0], outIdx[1]]) - referenceCorrelation(xs, ys)) < 1e-6)
            } } }
        }
        #expect(abs(pearsonCorrelation([1, 2, 3, 4], [1, 3, 2, 4]) - 0.8) < 1e-7)
        #expect(pearsonCorrelation([1, 2, 3], [5, 5, 5]) == 0)
    }

    @Test func neuronWeightedMeanPoolsNeurons() {
        #expect(neuronWeightedMean([[1, 1, 1], [0]]) == 0.75)
        #expect(neuronWeightedMean([]).isNaN)
    }

    @Test func accumulatorIsParallelSafe() {
        // Enough neurons × rows to take the parallel path; compare with the naive reference.
        let g = RandomGenerator(seed: 5)
        let rows = 40, neurons = 3000
        let r = Tensor.randomNormal([rows, neurons], generator: g)
        let o = Tensor.randomNormal([rows, neurons], generator: g) + r
        var acc = CorrelationAccumulator(neurons: neurons)
        acc.add(responses: r, predictions: o)
        let c = acc.correlations()
        #expect(acc.sampleCount == rows)
        for j in stride(from: 0, to: neurons, by: 137) {
            let xs = (0..<rows).map { Double(r[$0, j]) }, ys = (0..<rows).map { Double(o[$0, j]) }
            #expect(abs(Double(c[j]) - referenceCorrelation(xs, ys)) < 1e-6)
        }
    }
}
