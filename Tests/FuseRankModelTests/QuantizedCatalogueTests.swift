import CFuseRankKernels
import Foundation
import FuseRankTestSupport
import Testing
@testable import FuseRankModel

/// The int8 catalogue path: kernels against plain C, and the ranker against exact float32 scoring.
@Suite struct QuantizedCatalogueTests {
    /// A synthetic bundle of `items` catalogue items.
    static func bundle(items: Int, dModel: Int = 24, seed: UInt64 = 3) throws -> (SyntheticBundle, ModelBundle) {
        var config = SyntheticBundle.tinyConfig(imageDim: 0)
        config.dModel = dModel
        config.nHeads = 2
        config.numItems = items + 2
        let s = SyntheticBundle(config: config, seed: seed)
        return (s, try s.load())
    }

    /// Every SIMD kernel this CPU runs gives the plain C kernel's numbers exactly (integer sums),
    /// including a row count and d_model that are not multiples of the block and group sizes, and
    /// the single-user d_model 64 path (a full block and a masked tail).
    @Test(arguments: ["avx2", "avx512vnni"], [(37, 22, 3), (37, 64, 1), (48, 64, 2), (5, 64, 1)])
    func simdKernelsEqualPlainC(kernel: String, shape: (Int, Int, Int)) throws {
        let (n, d, users) = shape
        var rng = SplitMix64(state: 9)
        func value() -> Float { Float(Double(rng.next() >> 11) / 9007199254740992.0) * 2 - 1 }
        let table = (0..<(n * d)).map { _ in value() }
        let bias = (0..<n).map { _ in value() }
        var packed = [Int8](repeating: 0, count: fr_int8_packed_bytes(n, d))
        var scales = [Float](repeating: 0, count: n)
        fr_int8_pack(table, n, d, &packed, &scales)
        let padded = (d + 3) / 4 * 4
        var uq = [Int8](repeating: 0, count: users * padded)
        var us = [Float](repeating: 0, count: users)
        for b in 0..<users {
            let u = (0..<d).map { _ in value() * 3 }
            uq.withUnsafeMutableBufferPointer { us[b] = fr_int8_quantize(u, d, $0.baseAddress! + b * padded) }
        }
        var plain = [Float](repeating: 0, count: users * n)
        #expect(fr_int8_scores_using("scalar", packed, scales, bias, n, d, uq, us, users, &plain) == 0)
        var simd = [Float](repeating: .nan, count: users * n)
        guard fr_int8_scores_using(kernel, packed, scales, bias, n, d, uq, us, users, &simd) == 0 else {
            print("\(kernel): not supported by this CPU")
            return
        }
        #expect(simd == plain)
        // And the quantized score is close to the float one: |error| <= sum_j |u_j| |e_j| / 127 * 2.
        for r in 0..<n {
            let exact = (0..<d).reduce(Float(0)) { $0 + table[r * d + $1] * Float(uq[$1]) * us[0] } + bias[r]
            #expect(abs(plain[r] - exact) <= Float(d) * us[0] * 127 * scales[r] * 1.01)
        }
    }

    /// The fused top-r selection returns the r best of the plain scores, equal scores by lower row.
    @Test func fusedTopEqualsTheBestOfTheScores() throws {
        let n = 3000, d = 16, r = 50
        var rng = SplitMix64(state: 4)
        // Few distinct values, so ties decide many places.
        let table = (0..<(n * d)).map { _ in Float(rng.below(5)) - 2 }
        var packed = [Int8](repeating: 0, count: fr_int8_packed_bytes(n, d))
        var scales = [Float](repeating: 0, count: n)
        fr_int8_pack(table, n, d, &packed, &scales)
        var uq = [Int8](repeating: 0, count: d)
        let us = [fr_int8_quantize((0..<d).map { Float($0 % 3) - 1 }, d, &uq)]
        var scores = [Float](repeating: 0, count: n)
        fr_int8_scores(packed, scales, nil, n, d, uq, us, 1, &scores)
        var top = [Int32](repeating: -1, count: r)
        var topScores = [Float](repeating: 0, count: r)
        var chunk = [Float](repeating: 0, count: Int(FR_INT8_CHUNK_ROWS))
        #expect(fr_int8_top(packed, scales, nil, n, d, uq, us, 1, r, &top, &topScores, &chunk) == r)
        let expected = (0..<n).sorted { scores[$0] > scores[$1] || (scores[$0] == scores[$1] && $0 < $1) }.prefix(r)
        #expect(Set(top.map(Int.init)) == Set(expected))
        for (row, score) in zip(top, topScores) { #expect(score == scores[Int(row)]) }
    }

    /// The int8 path returns the exact path's items with float32-exact scores: top-10 recall of at
    /// least 99% over 60 requests, and the scores of shared items equal to rounding.
    @Test func int8RankingMatchesExactRanking() throws {
        let (s, bundle) = try Self.bundle(items: 6000)
        let exact = Ranker(bundle: bundle, maxBatch: 8, catalogueScoring: .exact)
        let int8 = Ranker(bundle: bundle, maxBatch: 8, catalogueScoring: .int8)
        #expect(int8.catalogueScoring == .int8 && exact.catalogueScoring == .exact)
        var rng = SplitMix64(state: 8)
        let queries = (0..<60).map { i in
            RankQuery(events: (0..<(1 + i % 7)).map { _ in BehaviourEvent(itemID: s.itemIDs[2 + Int(rng.below(6000))], type: 1) },
                      topK: 10, excludeSeen: i % 2 == 0)
        }
        let want = try exact.rank(queries), got = try int8.rank(queries)
        var found = 0
        for (q, (w, g)) in zip(queries, zip(want, got)) {
            #expect(g.items.count == 10)
            let wanted = Dictionary(uniqueKeysWithValues: w.items.map { ($0.itemID, $0.score) })
            for item in g.items {
                if let score = wanted[item.itemID] {
                    found += 1
                    #expect(abs(score - item.score) <= 1e-5)
                }
            }
            if q.excludeSeen {
                let seen = Set(q.events.map(\.itemID))
                #expect(!g.items.contains { seen.contains($0.itemID) }, "seen items are left out")
            }
        }
        #expect(Double(found) / Double(10 * queries.count) >= 0.99)
    }

    /// Every item, or more than the shortlist holds: the int8 ranker scores that request exactly.
    @Test func largeTopKIsScoredExactly() throws {
        let (s, bundle) = try Self.bundle(items: 3000)
        let exact = Ranker(bundle: bundle, maxBatch: 2, catalogueScoring: .exact)
        let int8 = Ranker(bundle: bundle, maxBatch: 2, catalogueScoring: .int8)
        let q = RankQuery(events: [BehaviourEvent(itemID: s.itemIDs[5])], excludeSeen: true)
        for topK in [0, 2000] {
            var query = q
            query.topK = topK
            let a = try exact.rank([query, RankQuery(topK: 5)]), b = try int8.rank([query, RankQuery(topK: 5)])
            // Exact both ways (one GEMM for the batch, a gemv for the one request): equal to rounding.
            #expect(b[0].items.count == (topK == 0 ? 2999 : 2000))
            let want = Dictionary(uniqueKeysWithValues: a[0].items.map { ($0.itemID, $0.score) })
            let shared = b[0].items.filter { want[$0.itemID] != nil }
            #expect(shared.count >= b[0].items.count - 1, "top_k \(topK): the same items (a near-tie may cross the cut)")
            #expect(shared.allSatisfy { abs(want[$0.itemID]! - $0.score) <= 1e-5 })
            #expect(zip(b[0].items, b[0].items.dropFirst()).allSatisfy { $0.score >= $1.score })
            #expect(!b[0].items.contains { $0.itemID == s.itemIDs[5] }, "the seen item is left out")
            #expect(a[1].items.map(\.itemID) == b[1].items.map(\.itemID))
        }
    }

    @Test func autoChoosesByCatalogueSize() {
        #expect(CatalogueScoring.auto.resolved(catalogueSize: 99_999) == .exact)
        #expect(CatalogueScoring.auto.resolved(catalogueSize: CatalogueScoring.int8Threshold) == .int8)
        #expect(CatalogueScoring.exact.resolved(catalogueSize: 10_000_000) == .exact)
        #expect(CatalogueScoring.int8.resolved(catalogueSize: 10) == .int8)
    }
}
