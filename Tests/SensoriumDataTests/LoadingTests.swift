import Foundation
import Testing
import SensoriumTensor
@testable import SensoriumData

@Suite struct MouseLoaderTests {
    func collect(_ stream: BatchStream) throws -> [MouseBatch] {
        var out: [MouseBatch] = []
        while let b = try stream.next() { out.append(b) }
        return out
    }

    @Test func clipBatchesHoldTheTrialWindows() throws {
        let mouse = try MouseDataset(path: tinySyntheticMouse)
        let loader = MouseLoader(dataset: mouse, tier: .train, batchSize: 4, mode: .clips(frames: 20), generator: RandomGenerator(seed: 9))
        let batches = try collect(loader.epoch())
        #expect(batches.count == 2 && batches.map(\.batchSize) == [4, 2])
        let H = mouse.frameHeight, W = mouse.frameWidth, HW = H * W, N = mouse.neuronCount, F = 20
        var seen: [Int] = []
        for b in batches {
            #expect(b.videoShape == [b.batchSize, 3, F, H, W])
            #expect(b.responseShape == [b.batchSize, F, N])
            #expect(b.videoTensor().shape == b.videoShape)
            #expect(b.pupilCenterTensor().shape == [b.batchSize, 2, F])
            for s in 0..<b.batchSize {
                let trial = try mouse.readTrial(b.trials[s])
                let start = b.starts[s]
                #expect(start >= 0 && start < trial.length - F)
                seen.append(b.trials[s])
                for k in [0, 7, F - 1] {
                    for p in [0, HW / 2, HW - 1] {
                        #expect(b.video[((s * 3 + 0) * F + k) * HW + p] == trial.video[(start + k) * HW + p])
                        #expect(b.video[((s * 3 + 1) * F + k) * HW + p] == trial.behavior[start + k])
                        #expect(b.video[((s * 3 + 2) * F + k) * HW + p] == trial.behavior[trial.length + start + k])
                    }
                    for n in [0, N - 1] { #expect(b.responses[(s * F + k) * N + n] == trial.responses[(start + k) * N + n]) }
                    for c in 0..<2 {
                        #expect(b.behavior[(s * 2 + c) * F + k] == trial.behavior[c * trial.length + start + k])
                        #expect(b.pupilCenter[(s * 2 + c) * F + k] == trial.pupilCenter[c * trial.length + start + k])
                    }
                }
            }
        }
        #expect(seen.sorted() == mouse.trials(in: .train))
    }

    @Test func pupilCentreChannelsMakeFiveChannels() throws {
        let mouse = try MouseDataset(path: tinySyntheticMouse, options: MouseDataOptions(pupilCenterAsChannels: true))
        let loader = MouseLoader(dataset: mouse, tier: .oracle, batchSize: 2, mode: .clips(frames: 10), generator: RandomGenerator(seed: 1))
        let b = try #require(try loader.epoch(prefetch: 0).next())
        #expect(b.channels == 5)
        let HW = mouse.frameHeight * mouse.frameWidth
        #expect(b.video[((0 * 5 + 3) * 10 + 4) * HW + 5] == b.pupilCenter[0 * 20 + 4])
        #expect(b.video[((1 * 5 + 4) * 10 + 9) * HW + 0] == b.pupilCenter[(1 * 2 + 1) * 10 + 9])
        let frameOnly = try MouseDataset(path: tinySyntheticMouse, options: MouseDataOptions(behaviorAsChannels: false))
        #expect(try MouseLoader(dataset: frameOnly, tier: .oracle, batchSize: 1, mode: .clips(frames: 10), generator: RandomGenerator(seed: 1))
            .maker.makeBatch(BatchPlan(mouseIndex: 0, trials: [frameOnly.trials(in: .oracle)[0]], draws: [5])).channels == 1)
    }

    @Test func clipStartsFollowTheReferenceRange() throws {
        // MiniMouse train trials have lengths 6 and 4; with 3-frame clips the reference draws
        // randint(0, L − 3): starts 0…2 and 0 only.
        let path = try MiniMouse().write()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let mouse = try MouseDataset(path: path)
        let loader = MouseLoader(dataset: mouse, tier: .train, batchSize: 2, mode: .clips(frames: 3), generator: RandomGenerator(seed: 5))
        var starts: [Int: Set<Int>] = [0: [], 1: []]
        for _ in 0..<60 {
            for b in try collect(loader.epoch(prefetch: 0)) {
                for (t, s) in zip(b.trials, b.starts) { starts[t]!.insert(s) }
            }
        }
        #expect(starts[0] == [0, 1, 2])
        #expect(starts[1] == [0])
        // A trial exactly as long as the clip starts at 0.
        let four = MouseLoader(dataset: mouse, tier: .train, batchSize: 2, mode: .clips(frames: 4), generator: RandomGenerator(seed: 5))
        let b = try #require(try four.epoch(prefetch: 0).next())
        #expect(b.starts[b.trials.firstIndex(of: 1)!] == 0)
    }

    @Test func sameSeedSameBatchesWhateverThePrefetching() throws {
        let mouse = try MouseDataset(path: tinySyntheticMouse)
        func run(seed: UInt64, prefetch: Int, workers: Int) throws -> [MouseBatch] {
            let loader = MouseLoader(dataset: mouse, tier: .train, batchSize: 2, mode: .clips(frames: 16), generator: RandomGenerator(seed: seed))
            return try collect(loader.epoch(prefetch: prefetch, workers: workers)) + collect(loader.epoch(prefetch: prefetch, workers: workers))
        }
        let a = try run(seed: 11, prefetch: 0, workers: 1)
        let b = try run(seed: 11, prefetch: 2, workers: 1)
        let c = try run(seed: 11, prefetch: 3, workers: 2)
        let d = try run(seed: 12, prefetch: 2, workers: 1)
        #expect(a.map(\.trials) == b.map(\.trials) && a.map(\.starts) == b.map(\.starts))
        #expect(a.map(\.video) == b.map(\.video) && a.map(\.responses) == c.map(\.responses))
        #expect(a.map(\.trials) == c.map(\.trials))
        #expect(a.map(\.trials) != d.map(\.trials) || a.map(\.starts) != d.map(\.starts))
        // Two epochs of one loader differ (reshuffled).
        #expect(Array(a.prefix(3)).map(\.trials) != Array(a.suffix(3)).map(\.trials) || a.prefix(3).map(\.starts) != a.suffix(3).map(\.starts))
    }

    @Test func fullTrialsAreWholeAndSequential() throws {
        let mouse = try MouseDataset(path: tinySyntheticMouse)
        let loader = MouseLoader(dataset: mouse, tier: .oracle, batchSize: 1, mode: .fullTrials(maxFrames: nil), generator: RandomGenerator(seed: 1))
        #expect(!loader.shuffle)
        let batches = try collect(loader.epoch())
        #expect(batches.flatMap(\.trials) == mouse.trials(in: .oracle))
        for b in batches {
            let trial = try mouse.readTrial(b.trials[0])
            #expect(b.frames == trial.length && b.starts == [0])
            #expect(b.responses == trial.responses)
        }
        let capped = MouseLoader(dataset: mouse, tier: .oracle, batchSize: 3, mode: .fullTrials(maxFrames: 50), generator: RandomGenerator(seed: 1))
        let first = try #require(try capped.epoch(prefetch: 0).next())
        #expect(first.frames == 50 && first.batchSize == 3)
    }

    @Test func shuffleDropLastAndCounts() throws {
        let mouse = try MouseDataset(path: tinySyntheticMouse)
        let train = MouseLoader(dataset: mouse, tier: .train, batchSize: 4, dropLast: true, generator: RandomGenerator(seed: 2))
        #expect(train.shuffle && train.batchesPerEpoch == 1)
        #expect(train.planEpoch().count == 1 && train.planEpoch()[0].trials.count == 4)
        let oracle = MouseLoader(dataset: mouse, tier: .oracle, batchSize: 4, generator: RandomGenerator(seed: 2))
        #expect(oracle.planEpoch().flatMap(\.trials) == mouse.trials(in: .oracle))
        let loaders = makeTierLoaders(dataset: mouse, batchSize: 2, generator: RandomGenerator(seed: 3))
        #expect(Set(loaders.keys) == Set(MouseTier.allCases.filter { $0 != .none }))
        #expect(loaders[.train]!.shuffle && !loaders[.finalTestBonus]!.shuffle)
    }

    @Test func cyclerIsRoundRobinAndRestartsShortMice() throws {
        let big = try MouseDataset(path: tinySyntheticMouse)
        let path = try MiniMouse().write()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let small = try MouseDataset(path: path)
        let g = RandomGenerator(seed: 4)
        let loaders = [MouseLoader(dataset: big, tier: .train, batchSize: 2, mode: .clips(frames: 4), generator: g.fork()),
                       MouseLoader(dataset: small, tier: .train, batchSize: 1, mode: .clips(frames: 4), generator: g.fork())]
        let cycler = MouseCycler(loaders: loaders)
        #expect(cycler.stepsPerEpoch == 3 && cycler.batchesPerEpoch == 6)
        let epoch = cycler.epoch()
        var steps: [[(mouseIndex: Int, batch: MouseBatch)]] = []
        while let s = try epoch.nextStep() { steps.append(s) }
        #expect(steps.count == 3)
        #expect(steps.allSatisfy { $0.map(\.mouseIndex) == [0, 1] })
        #expect(steps.allSatisfy { $0[0].batch.mouse == big.name && $0[1].batch.mouse == small.name })
        // The small mouse (2 batches per pass) restarted within the epoch.
        let smallTrials = steps.map { $0[1].batch.trials[0] }
        #expect(Set(smallTrials.prefix(2)) == [0, 1])
        // Big mouse: one full pass.
        #expect(steps.flatMap { $0[0].batch.trials }.sorted() == big.trials(in: .train))
        // The next epoch starts a fresh pass of every mouse.
        let next = cycler.planEpoch()
        #expect(next.map(\.mouseIndex) == [0, 1, 0, 1, 0, 1])
        #expect(Set(next.filter { $0.mouseIndex == 1 }.prefix(2).flatMap(\.trials)) == [0, 1])
    }

    @Test func prefetcherKeepsOrderBoundsMemoryAndRethrows() throws {
        struct Boom: Error {}
        final class Counter: @unchecked Sendable {
            let lock = NSLock()
            var inFlight = 0, peak = 0
            func start() { lock.lock(); inFlight += 1; peak = max(peak, inFlight); lock.unlock() }
            func end() { lock.lock(); inFlight -= 1; lock.unlock() }
        }
        let counter = Counter()
        let p = Prefetcher(count: 40, capacity: 3, workers: 3) { i -> Int in
            counter.start()
            usleep(UInt32((i * 7919) % 5) * 200)
            if i == 30 { throw Boom() }
            return i * i
        }
        var got: [Int] = []
        do {
            while let x = try p.next() {
                got.append(x)
                counter.end()
            }
            Issue.record("expected the error of item 30")
        } catch is Boom {}
        #expect(got == (0..<30).map { $0 * $0 })
        // At most `capacity` items beyond the last consumed (+1 for this counter's lag).
        #expect(counter.peak <= 4)
        // Cancel stops early; next() then returns nil.
        let q = Prefetcher(count: 1000, capacity: 2) { $0 }
        #expect(try q.next() == 0)
        q.cancel()
        #expect(try q.next() == nil)
    }
}

@Suite struct ClipWindowTests {
    /// The clip path (length from raw arrays, window-only normalisation) equals cutting the fully
    /// normalised trial.
    func expectSameWindows(_ mouse: MouseDataset, frames: Int, draws: [UInt64], sourceLocation: SourceLocation = #_sourceLocation) throws {
        for trial in 0..<mouse.trialCount {
            let full = try mouse.loadNormalized(trial)
            guard full.length >= frames else { continue }
            for draw in draws {
                let clip = try mouse.loadClip(trial, frames: frames, draw: draw)
                let start = try BatchMaker.clipStart(length: full.length, frames: frames, draw: draw, trial: trial, dataset: mouse)
                let cut = MouseDataset.window(of: full, start: start, frames: frames)
                #expect(clip.start == start, sourceLocation: sourceLocation)
                #expect(clip.video == cut.video && clip.responses == cut.responses, sourceLocation: sourceLocation)
                #expect(clip.behavior == cut.behavior && clip.pupil == cut.pupil, sourceLocation: sourceLocation)
            }
        }
    }

    @Test func windowsMatchFullNormalisation() throws {
        let synthetic = try MouseDataset(path: tinySyntheticMouse)
        #expect(synthetic.lengthFromRawArrays)
        try expectSameWindows(synthetic, frames: 30, draws: [0, 17, 12345, .max])
        let path = try MiniMouse().write()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let mini = try MouseDataset(path: path)
        #expect(mini.lengthFromRawArrays)        // NaN and tiny response stds use the finite floor
        try expectSameWindows(mini, frames: 3, draws: [0, 1, 2, 99])
        let raw = try MouseDataset(path: path, options: MouseDataOptions(normalize: false))
        try expectSameWindows(raw, frames: 3, draws: [5, 6])
    }

    @Test func zeroVideoStdIsRefused() throws {
        let mini = MiniMouse()
        let path = try mini.write()
        defer { try? FileManager.default.removeItem(atPath: path) }
        // A zero video std where the pixel equals its mean gives 0/0 = NaN at frame 3 of trial 0 only.
        var s = mini.array([2, 3, 6]) { mini.videoStd($0[0], $0[1], $0[2]) }
        var m = mini.array([2, 3, 6]) { mini.videoMean($0[0], $0[1], $0[2]) }
        s[(0 * 3 + 0) * 6 + 3] = 0
        m[(0 * 3 + 0) * 6 + 3] = mini.video(0, 0, 0, 3)
        try NPYFile.write(NPYArray(floats: s, shape: [2, 3, 6]), to: path + "/meta/statistics/videos/all/std.npy")
        try NPYFile.write(NPYArray(floats: m, shape: [2, 3, 6]), to: path + "/meta/statistics/videos/all/mean.npy")
        // (The reference would make NaN and ±inf there; the statistics are refused instead.)
        expectMouseError(.invalidValue, pathSuffix: "videos/all/std.npy") { _ = try MouseDataset(path: path) }
        let raw = try MouseDataset(path: path, options: MouseDataOptions(normalize: false))
        let length = try raw.trialLength(0)
        #expect(raw.lengthFromRawArrays && length == 6)
    }

    @Test func clipLengthsRespectNaNStatistics() throws {
        var mini = MiniMouse()
        mini.lengths = [6, 6, 6, 6, 6]
        let path = try mini.write()
        defer { try? FileManager.default.removeItem(atPath: path) }
        var p = mini.array([2, 6]) { mini.pupilStd($0[0], $0[1]) }
        p[1 * 6 + 4] = .nan; p[1 * 6 + 5] = .nan
        try NPYFile.write(NPYArray(floats: p, shape: [2, 6]), to: path + "/meta/statistics/pupil_center/all/std.npy")
        let mouse = try MouseDataset(path: path)
        #expect(mouse.statisticsNaNFrame[.pupilCenter] == 4 && mouse.lengthFromRawArrays)
        #expect(try mouse.loadClip(0, frames: 4, draw: 3).start == 0)
        expectMouseError(.trialTooShort, pathSuffix: "responses/2.npy") { _ = try mouse.loadClip(2, frames: 5, draw: 0) }
        try expectSameWindows(mouse, frames: 2, draws: [0, 1])
    }
}
