import Foundation
import FuseRankTestSupport
import Testing
@testable import FuseRankModel

/// The per-session prefix cache gives the replies of full passes, and counts what it did.
@Suite struct SessionCacheTests {
    /// A bundle keeping 40 events, with text and images.
    static func bundle(formatVersion: Int = ModelConfig.latestFormatVersion) throws -> (SyntheticBundle, ModelBundle) {
        var config = SyntheticBundle.tinyConfig(formatVersion: formatVersion)
        config.maxEvents = 40
        let s = SyntheticBundle(config: config, seed: 21)
        return (s, try s.load())
    }

    /// A long random session: mostly appends of 1-3 events, some repeats of the same events, a
    /// request that changes history (a miss) and one beyond max_events (the window slides).
    @Test(arguments: [1, 2])
    func cachedRepliesEqualFullPasses(formatVersion: Int) throws {
        let (s, bundle) = try Self.bundle(formatVersion: formatVersion)
        let cache = SessionCache(capacityBytes: 64 << 20)
        let cached = Ranker(bundle: bundle, maxBatch: 4, sessionCache: cache)
        let plain = Ranker(bundle: bundle, maxBatch: 4)
        var rng = SplitMix64(state: 77)
        var events: [BehaviourEvent] = []
        var t: Int64 = 1_700_000_000_000
        func event() -> BehaviourEvent {
            t += Int64(rng.below(5_000_000))
            return BehaviourEvent(itemID: s.itemIDs[2 + Int(rng.below(40))], type: Int32(rng.below(7)), timestampMs: t)
        }
        var worst: Float = 0
        var sliding = 0
        for step in 0..<60 {
            switch step {
            case 20: events[3] = event()  // history rewritten: a miss, then cached again
            case 50: events += (0..<12).map { _ in event() }  // past max_events: full passes
            case let n where n % 7 == 3: break  // the same events again
            default: events += (0..<(1 + Int(rng.below(3)))).map { _ in event() }
            }
            if events.count > bundle.config.maxEvents { sliding += 1 }
            let query = RankQuery(
                events: events, textTokens: step % 3 == 0 ? [2, 4] : [], images: step % 5 == 0 ? [[0.5, 0, 1, 0, -1, 0]] : [],
                topK: 10, excludeSeen: step % 2 == 0, nowMs: t + 60_000, sessionID: "user-7")
            // Batched with an unrelated request, so rows of cached and full requests mix.
            let other = RankQuery(events: [event()], topK: 5)
            let got = try cached.rank([query, other]), want = try plain.rank([query, other])
            let gotU = try cached.userVectors([query]), wantU = try plain.userVectors([query])
            for (a, b) in zip(gotU, wantU) { worst = max(worst, abs(a - b) / max(1, abs(b))) }
            #expect(got[0].items.map(\.itemID) == want[0].items.map(\.itemID), "step \(step)")
            for (a, b) in zip(got[0].items, want[0].items) { #expect(abs(a.score - b.score) <= 1e-5 * max(1, abs(b.score))) }
            // The unrelated request ranks as alone: the same items, and scores equal up to the
            // rounding of a GEMM whose row count differs (OpenBLAS's kernels, which vary by CPU,
            // do not promise batch-invariant bits).
            #expect(got[1].items.map(\.itemID) == want[1].items.map(\.itemID))
            for (a, b) in zip(got[1].items, want[1].items) { #expect(abs(a.score - b.score) <= 1e-5 * max(1, abs(b.score))) }
        }
        #expect(worst <= 1e-5, "largest relative difference of a user vector: \(worst)")
        let stats = cache.statistics
        // Two look-ups a step (rank, userVectors): the first and the rewritten step miss once, a
        // sliding window misses twice, everything else hits.
        #expect(sliding > 0 && sliding < 60)
        #expect(stats.hits == 2 * (60 - sliding) - 2)
        #expect(stats.misses == 2 + 2 * sliding)
        #expect(stats.sessions == 1 && stats.bytes > 0)
    }

    /// Two requests of one session that branch from the same cached prefix both stay exact.
    @Test func branchesFromOnePrefixStayApart() throws {
        let (s, bundle) = try Self.bundle()
        let cache = SessionCache(capacityBytes: 64 << 20)
        let cached = Ranker(bundle: bundle, maxBatch: 4, sessionCache: cache)
        let plain = Ranker(bundle: bundle, maxBatch: 4)
        let base = (2..<12).map { BehaviourEvent(itemID: s.itemIDs[$0], type: 1) }
        _ = try cached.userVectors([RankQuery(events: base, sessionID: "s")])
        let a = RankQuery(events: base + [BehaviourEvent(itemID: s.itemIDs[20])], sessionID: "s")
        let b = RankQuery(events: base + [BehaviourEvent(itemID: s.itemIDs[30])], sessionID: "s")
        // In one batch: the first appends in place, the second works on a copy.
        let both = try cached.userVectors([a, b])
        let want = try plain.userVectors([a, b])
        #expect(zip(both, want).allSatisfy { abs($0 - $1) <= 1e-5 })
        // And the base's states were not overwritten for a later branch.
        let c = RankQuery(events: base + [BehaviourEvent(itemID: s.itemIDs[25])], sessionID: "s")
        #expect(zip(try cached.userVectors([c]), try plain.userVectors([c])).allSatisfy { abs($0 - $1) <= 1e-5 })
    }

    /// Least recently used sessions go first once the byte budget is full.
    @Test func evictsTheLeastRecentlyUsedSession() throws {
        let (s, bundle) = try Self.bundle()
        let one = SessionStates(layers: bundle.config.nLayers, dimension: bundle.config.dModel, capacity: bundle.config.maxEvents)
        let cache = SessionCache(capacityBytes: one.bytes * 2 + 4096)
        let ranker = Ranker(bundle: bundle, maxBatch: 1, sessionCache: cache)
        func request(_ session: String) -> RankQuery {
            RankQuery(events: [BehaviourEvent(itemID: s.itemIDs[3])], sessionID: session)
        }
        _ = try ranker.userVectors([request("a")])
        _ = try ranker.userVectors([request("b")])
        _ = try ranker.userVectors([request("a")])  // a is now the most recent
        _ = try ranker.userVectors([request("c")])  // evicts b
        #expect(cache.statistics.evictions == 1 && cache.statistics.sessions == 2)
        let hits = cache.statistics.hits
        _ = try ranker.userVectors([request("a")])
        #expect(cache.statistics.hits == hits + 1, "a was kept")
        _ = try ranker.userVectors([request("b")])
        #expect(cache.statistics.hits == hits + 1, "b was evicted")
    }
}
