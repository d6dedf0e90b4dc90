import Foundation
import Testing
import SensoriumTensor
@testable import SensoriumData

@Suite struct CutMixTests {
    let mode = ClipMode.strided(frames: 4, step: 2, position: .last)

    func batch(_ maker: BatchMaker, trial: Int, draw: UInt64, cutMix: CutMixDraw? = nil) throws -> MouseBatch {
        try maker.makeBatch(BatchPlan(trials: [trial], draws: [draw], cutMix: cutMix.map { [$0] } ?? []))
    }

    @Test func boxFollowsTheReferenceAndClipsToTheCanvas() {
        // λ = 0.3 on 32 × 32: cut ⌊32·√0.3⌋ = 17, half 8; centre (5, 30) → rows 0 ..< 13, columns 22 ..< 32.
        let box = CutMixDraw(partnerTrial: 0, partnerDraw: 0, lambda: 0.3, centerRow: 5, centerColumn: 30).box(height: 32, width: 32)
        #expect(box.rows == 0..<13 && box.columns == 22..<32)
        #expect(box.areaFraction == Float(13 * 10) / 1024)
        // λ = 1/4: cut 16, half 8 around (16, 10).
        let inner = CutMixDraw(partnerTrial: 0, partnerDraw: 0, lambda: 0.25, centerRow: 16, centerColumn: 10).box(height: 32, width: 32)
        #expect(inner.rows == 8..<24 && inner.columns == 2..<18)
        let empty = CutMixDraw(partnerTrial: 0, partnerDraw: 0, lambda: 0.001, centerRow: 3, centerColumn: 3).box(height: 32, width: 32)
        #expect(empty.areaFraction == 0)
    }

    @Test func pastesThePartnerBoxOverEveryChannelAndFrame() throws {
        let mouse = try MouseDataset(path: tinySyntheticMouse, options: .dwiseNeuro)
        let maker = BatchMaker(dataset: mouse, mode: mode)
        let draw = CutMixDraw(partnerTrial: 3, partnerDraw: 987_654_321, lambda: 0.3, centerRow: 5, centerColumn: 30)
        let own = try batch(maker, trial: 1, draw: 123_456_789)
        let partner = try batch(maker, trial: 3, draw: 987_654_321)
        let mixed = try batch(maker, trial: 1, draw: 123_456_789, cutMix: draw)
        let box = draw.box(height: 32, width: 32)
        #expect(own.video != partner.video)
        var inBox = 0
        for c in 0..<5 {
            for k in 0..<4 {
                for y in 0..<32 {
                    for x in 0..<32 {
                        let i = ((c * 4 + k) * 32 + y) * 32 + x
                        let inside = box.rows.contains(y) && box.columns.contains(x)
                        if inside { inBox += 1 }
                        #expect(mixed.video[i] == (inside ? partner.video[i] : own.video[i]))
                    }
                }
            }
        }
        #expect(inBox == 5 * 4 * 13 * 10)
        let a = box.areaFraction
        for i in mixed.responses.indices {
            #expect(abs(mixed.responses[i] - ((1 - a) * own.responses[i] + a * partner.responses[i])) <= 1e-5 * max(1, abs(own.responses[i])))
        }
        // The sample keeps its own identity and behaviour arrays.
        #expect(mixed.trials == own.trials && mixed.starts == own.starts && mixed.behavior == own.behavior)
    }

    @Test func probabilityZeroChangesNothing() throws {
        let mouse = try MouseDataset(path: tinySyntheticMouse)
        func epoch(_ p: Double?) throws -> ([BatchPlan], [MouseBatch]) {
            let loader = MouseLoader(dataset: mouse, tier: .train, batchSize: 2, mode: .clips(frames: 8), generator: RandomGenerator(seed: 11))
            if let p { loader.cutMixProbability = p }
            let stream = loader.epoch(prefetch: 0)
            var batches: [MouseBatch] = []
            while let b = try stream.next() { batches.append(b) }
            return (stream.batchPlans, batches)
        }
        let (plansOff, off) = try epoch(nil), (plansZero, zero) = try epoch(0)
        #expect(plansOff == plansZero && plansZero.allSatisfy { $0.cutMix.isEmpty })
        #expect(off.map(\.video) == zero.map(\.video) && off.map(\.responses) == zero.map(\.responses))
        let (plansOn, _) = try epoch(1)
        #expect(plansOn.allSatisfy { $0.cutMix.count == $0.trials.count && $0.cutMix.allSatisfy { $0 != nil } })
    }

    @Test func drawsFollowTheProbabilityAndTheSameMouse() {
        let g = RandomGenerator(seed: 5)
        let partners = [2, 4, 9]
        var used = 0, lambdas: [Double] = []
        for _ in 0..<4000 {
            guard let d = CutMixDraw.draw(probability: 0.5, partners: partners, height: 64, width: 64, generator: g) else { continue }
            used += 1
            lambdas.append(d.lambda)
            #expect(partners.contains(d.partnerTrial))
            #expect((0..<64).contains(d.centerRow) && (0..<64).contains(d.centerColumn))
        }
        #expect(abs(Double(used) / 4000 - 0.5) < 0.04)
        // Beta(1, 1) is uniform: mean 1/2, variance 1/12.
        let mean = lambdas.reduce(0, +) / Double(lambdas.count)
        let variance = lambdas.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(lambdas.count)
        #expect(abs(mean - 0.5) < 0.03 && abs(variance - 1.0 / 12) < 0.01)
        #expect(CutMixDraw.draw(probability: 0, partners: partners, height: 64, width: 64, generator: g) == nil)
    }
}
