import Foundation
import Testing
@testable import FuseRankModel

@Suite struct RankingMetricsTests {
    @Test func handComputedValues() {
        var m = RankingMetrics(cutoff: 10)
        for r in [1, 3, 10, 11] { m.add(rank: r) }
        #expect(m.users == 4)
        #expect(abs(m.hitRate - 0.75) < 1e-12)
        // (1/log2(2) + 1/log2(4) + 1/log2(11)) / 4 = (1 + 0.5 + 0.289064826) / 4
        #expect(abs(m.ndcg - (1 + 0.5 + 1 / log2(11.0)) / 4) < 1e-12)
        #expect(abs(m.ndcg - 0.4472662065) < 1e-9)
        // (1 + 1/3 + 1/10 + 1/11) / 4
        #expect(abs(m.mrr - (1 + 1.0 / 3 + 0.1 + 1.0 / 11) / 4) < 1e-12)
    }

    @Test func emptyAndMerge() {
        var a = RankingMetrics()
        #expect(a.hitRate == 0 && a.ndcg == 0 && a.mrr == 0)
        var b = RankingMetrics()
        a.add(rank: 2)
        b.add(rank: 20)
        a.merge(b)
        #expect(a.users == 2 && abs(a.hitRate - 0.5) < 1e-12)
        #expect(abs(a.mrr - (0.5 + 0.05) / 2) < 1e-12)
    }

    @Test func rankUsesTheServedTieRuleAndExclusions() {
        let scores: [Float] = [0.5, 0.9, 0.5, 0.1, 0.5, 0.9]
        func rank(_ t: Int, _ ex: Set<Int> = []) -> Int {
            scores.withUnsafeBufferPointer { RankingMetrics.rank(of: t, scores: $0, excluded: ex) }
        }
        #expect(rank(1) == 1)
        #expect(rank(5) == 2)        // tie with index 1, which comes first
        #expect(rank(0) == 3)
        #expect(rank(2) == 4)        // after 1, 5 and the tied 0
        #expect(rank(4) == 5)
        #expect(rank(3) == 6)
        #expect(rank(4, [1, 0, 3]) == 3)  // excluded indices do not count; 3 ranks below anyway
        #expect(rank(1, [1]) == 1)   // the target itself is never excluded
    }

    @Test func popularityBaselineCountsTrainingEventsOnly() {
        let seqs = [
            UserSequence(user: 1, events: [10, 20, 10, 30, 40].map { BehaviourEvent(itemID: $0) }),
            UserSequence(user: 2, events: [20, 20, 50, 60].map { BehaviourEvent(itemID: $0) }),
        ]
        let index: [Int64: Int] = [10: 0, 20: 1, 30: 2, 40: 3, 50: 4, 60: 5]
        let p = PopularityBaseline(sequences: seqs, index: index, catalogueSize: 6)
        // Training: user 1 -> 10, 20, 10; user 2 -> 20, 20. The last two of each are held out.
        #expect(p.counts == [2, 3, 0, 0, 0, 0])
        #expect(p.rank(of: 0, excluded: []) == 2)
        #expect(p.rank(of: 0, excluded: [1]) == 1)
        #expect(p.rank(of: 5, excluded: []) == 6)
    }

    @Test func splitMix64KnownValues() {
        // Reference values of SplitMix64 seeded with 0 (as in Vigna's splitmix64.c).
        var g = SplitMix64(state: 0)
        #expect(g.next() == 0xE220_A839_7B1D_CDAF)
        #expect(g.next() == 0x6E78_9E6A_A1B9_65F4)
        #expect(SplitMix64(seed: 3, user: 5).state == (3 << 32) ^ 5)
    }
}
