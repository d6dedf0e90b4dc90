import Foundation
import Testing
import SensoriumTensor
@testable import SensoriumData

@Suite struct PerceptualHashTests {
    static func patterned(_ h: Int, _ w: Int, _ seed: Int) -> [UInt8] {
        var out: [UInt8] = []
        for i in 0..<h { for j in 0..<w { out.append(UInt8((i * 37 + j * 11 + ((i * j + seed) % 23) * 5 + seed * 13) % 256)) } }
        return out
    }

    static func smooth(_ h: Int, _ w: Int, _ seed: Int) -> [UInt8] {
        var out: [UInt8] = []
        for i in 0..<h {
            for j in 0..<w {
                let v = 127.5 + 120 * sin(Double(i) / (3.0 + Double(seed)) + Double(seed)) * cos(Double(j) / (5.0 + Double(seed)))
                out.append(UInt8(v.rounded(.towardZero)))
            }
        }
        return out
    }

    /// `int(''.join(bits), 2)` of `imagehash.phash(Image.fromarray(a, 'L')).hash` (imagehash 4.3.2,
    /// Pillow 13.0) for the frames above.
    @Test func matchesImagehash() {
        let expected: [(String, Int, Int, Int, UInt64)] = [
            ("frame", 36, 64, 0, 0x8b5c43ab0374a9fc), ("smooth", 36, 64, 0, 0xecadadad52525252),
            ("frame", 36, 64, 1, 0xf117a35451b7295c), ("smooth", 36, 64, 1, 0xdaa55a5aa55aa558),
            ("frame", 36, 64, 2, 0xdc52835c3993597c), ("smooth", 36, 64, 2, 0xb54ab5b54ab548b4),
            ("frame", 18, 32, 0, 0xa812c65ae24f1fb3), ("smooth", 18, 32, 0, 0xe2e01f1f161f481f),
            ("frame", 18, 32, 1, 0xde1b211fa1491f1b), ("smooth", 18, 32, 1, 0xea6a959515958b95),
            ("frame", 18, 32, 2, 0xa30b694be1495f59), ("smooth", 18, 32, 2, 0x956a6a956a956a96),
            ("frame", 40, 40, 0, 0xa504598bdb4d74a7), ("smooth", 40, 40, 0, 0xb4b5b4b5b54a4a4a),
            ("frame", 40, 40, 1, 0xd50d8ee5514c5ea5), ("smooth", 40, 40, 1, 0xb5b5b5b54a4a4a4a),
            ("frame", 40, 40, 2, 0xf065cc2470aece75), ("smooth", 40, 40, 2, 0xea956a6a956a946a),
        ]
        for (kind, h, w, seed, hash) in expected {
            let pixels = kind == "frame" ? Self.patterned(h, w, seed) : Self.smooth(h, w, seed)
            let got = PerceptualHash.hash(pixels: pixels, height: h, width: w)
            #expect(got == hash, "\(kind) \(h)×\(w) seed \(seed): \(String(got, radix: 16)) vs \(String(hash, radix: 16))")
        }
    }

    @Test func bytesTruncateLikeAstypeUInt8() {
        #expect(PerceptualHash.bytes([0, 0.99, 1.5, 254.9, 255, 300, -3, .nan]) == [0, 0, 1, 254, 255, 255, 0, 0])
    }
}

@Suite struct FoldSplitTests {
    @Test func videoHashIsTheXorOfFiveEvenlySpacedFrames() throws {
        let mouse = try MouseDataset(path: tinySyntheticMouse)
        let (values, T) = try rawTrialArray(mouse, .videos, 2)
        var length = T
        for t in 0..<T where values[t].isNaN { length = t; break }
        let step = length / 5
        var expected: UInt64 = 0
        for k in 0..<5 {
            let t = step / 2 + k * step
            let frame = (0..<(mouse.frameHeight * mouse.frameWidth)).map { values[$0 * T + t] }
            expected ^= PerceptualHash.hash(pixels: PerceptualHash.bytes(frame), height: mouse.frameHeight, width: mouse.frameWidth)
        }
        #expect(try mouse.videoHash(2) == expected)
    }

    @Test func foldsAreDeterministicDisjointAndCoverThePool() throws {
        let mouse = try MouseDataset(path: tinySyntheticMouse)
        let pool = Set(mouse.trials(in: .train) + mouse.trials(in: .oracle))
        let k = 3
        var union: [Int] = []
        for i in 0..<k {
            let split = FoldSplit(folds: k, fold: i)
            let (training, validation) = try split.trials(of: mouse)
            #expect(Set(training).isDisjoint(with: validation))
            #expect(Set(training + validation) == pool)
            union += validation
            // Reopening the folder gives the same split.
            #expect(try split.trials(of: MouseDataset(path: tinySyntheticMouse)) == (training, validation))
        }
        #expect(union.sorted() == pool.sorted())
        // Distinct videos spread over folds (6 train clips and 2 oracle clips on 3 folds).
        let assignment = try FoldSplit.folds(of: mouse, tiers: [.train, .oracle], folds: k)
        #expect(Set(assignment.values).count > 1)
        #expect(Set(try mouse.trials(in: .train).map { try mouse.videoHash($0) }).count == mouse.trials(in: .train).count)
    }

    @Test func repeatsAndDuplicatedClipsShareAFold() throws {
        let path = try copyOfTinyMouse("folds")
        let layout = MouseLayout(root: path)
        // Trial 1 (train) shows trial 4's video (another train trial): a duplicated clip.
        try FileManager.default.removeItem(atPath: layout.trialFile(.videos, trial: 1))
        try FileManager.default.copyItem(atPath: layout.trialFile(.videos, trial: 4), toPath: layout.trialFile(.videos, trial: 1))
        let mouse = try MouseDataset(path: path)
        #expect(try mouse.videoHash(1) == mouse.videoHash(4))
        let oracleGroups = try mouse.repeatGroups(in: .oracle)
        #expect(oracleGroups.count == 2 && oracleGroups.allSatisfy { $0.count == 3 })
        for k in 2...7 {
            let folds = try FoldSplit.folds(of: mouse, tiers: [.train, .oracle], folds: k)
            #expect(folds[1] == folds[4])
            for group in oracleGroups { #expect(Set(group.map { folds[$0]! }).count == 1) }
            for i in 0..<k {
                let (training, validation) = try FoldSplit(folds: k, fold: i).trials(of: mouse)
                #expect(training.contains(1) == training.contains(4) && validation.contains(1) == validation.contains(4))
            }
        }
    }
}
