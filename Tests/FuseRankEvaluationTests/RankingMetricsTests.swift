import Foundation
import Testing
import FuseRankModel
@testable import FuseRankEvaluation

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

    @Test func tiesTakeTheExpectationOverPositions() {
        // g = 8 above, e = 3 tied: positions 9, 10, 11, 12 equally likely.
        var m = RankingMetrics(cutoff: 10)
        m.add(greater: 8, equal: 3)
        #expect(abs(m.hitRate - 0.5) < 1e-12)
        #expect(abs(m.ndcg - (1 / log2(10.0) + 1 / log2(11.0)) / 4) < 1e-12)
        #expect(abs(m.mrr - (1.0 / 9 + 1.0 / 10 + 1.0 / 11 + 1.0 / 12) / 4) < 1e-12)
        // Far below the cutoff with a huge tie: only MRR is non-zero (asymptotic harmonic sums).
        var far = RankingMetrics()
        far.add(greater: 20_000, equal: 30_000)
        #expect(far.hitRate == 0 && far.ndcg == 0)
        let exact = (20_001...50_001).reduce(0.0) { $0 + 1 / Double($1) } / 30_001
        #expect(abs(far.mrr - exact) < 1e-12)
    }

    @Test func countsOfAboveAndTied() {
        let scores: [Float] = [0.5, 0.9, 0.5, 0.1, 0.5, 0.9]
        func counts(_ t: Int, _ ex: Set<Int> = []) -> [Int] {
            let c = scores.withUnsafeBufferPointer { RankingMetrics.counts(of: t, scores: $0, excluded: ex) }
            return [c.greater, c.equal]
        }
        #expect(counts(1) == [0, 1])
        #expect(counts(0) == [2, 2])
        #expect(counts(3) == [5, 0])
        #expect(counts(4, [1, 0, 3]) == [1, 1])  // excluded indices count neither way
        #expect(counts(1, [1]) == [0, 1])        // the target itself is never excluded
    }

    @Test func leaveOneOutCases() {
        let ev = (1...4).map { BehaviourEvent(itemID: Int64($0 * 10), timestampMs: Int64($0) * 1000) }
        let s = UserSequence(user: 7, events: ev)
        let test = s.evaluationCase(.test)!
        #expect(Array(test.input) == Array(ev.prefix(3)) && test.target == 40 && test.nowMs == 4000)
        let val = s.evaluationCase(.val)!
        #expect(Array(val.input) == Array(ev.prefix(2)) && val.target == 30 && val.nowMs == 3000)
        #expect(UserSequence(user: 1, events: Array(ev.prefix(2))).evaluationCase() == nil)
        #expect(Array(s.trainingEvents) == Array(ev.prefix(2)))
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
        #expect(p.position(of: 0, excluded: []) == (1, 0))
        #expect(p.position(of: 0, excluded: [1]) == (0, 0))
        #expect(p.position(of: 5, excluded: []) == (2, 3))
    }

    @Test func splitMix64KnownValues() {
        // Reference values of SplitMix64 seeded with 0 (as in Vigna's splitmix64.c).
        var g = SplitMix64(state: 0)
        #expect(g.next() == 0xE220_A839_7B1D_CDAF)
        #expect(g.next() == 0x6E78_9E6A_A1B9_65F4)
        #expect(SplitMix64(seed: 3, user: 5).state == (3 << 32) | 5)
        // The first draw of seed 1, user 1 (Python: SplitMix64(1, 1).next() in training/fuserank/evaluate/protocols.py).
        var g1 = SplitMix64(seed: 1, user: 1)
        #expect(g1.next() == 0x2043_91A6_FD59_956F)
    }

    @Test func sampledNegativesMatchThePythonDraws() throws {
        // Expected lists from training/fuserank/evaluate/protocols.py sample_negatives (docs/evaluation.md).
        let a = try Evaluator.negativeItems(seed: 1, user: 7, catalogue: Array(stride(from: 10, to: 400, by: 3)),
                                            history: [10, 13, 16, 100, 250], count: 12)
        #expect(a == [229, 88, 73, 298, 181, 328, 58, 349, 265, 187, 19, 217])
        let b = try Evaluator.negativeItems(seed: 5, user: 6040, catalogue: Array(1...3416), history: Set(1..<3000))
        #expect(b.count == 100 && Set(b).count == 100 && b.allSatisfy { $0 >= 3000 })
        #expect(Array(b.prefix(10)) == [3041, 3316, 3236, 3142, 3108, 3253, 3046, 3009, 3215, 3364])
        #expect(throws: EvaluationError.self) {
            try Evaluator.negativeItems(seed: 1, user: 1, catalogue: [1, 2, 3], history: [1], count: 3)
        }
    }
}
