import FuseRankTestSupport
import Foundation
import Testing
@testable import FuseRankModel

/// The engine against the independent Double reference, on a synthetic bundle.
@Suite struct RankerTests {
    static let tolerance: Float = 1e-4
    let synthetic = SyntheticBundle()
    var reference: ReferenceModel { ReferenceModel(b: synthetic) }

    func id(_ row: Int) -> Int64 { synthetic.itemIDs[row] }

    /// Queries covering every kind of token and every truncation.
    var queries: [RankQuery] {
        let t0: Int64 = 1_700_000_000_000
        return [
            RankQuery(events: [BehaviourEvent(itemID: id(5), type: 2, timestampMs: t0)], nowMs: t0 + 60_000),
            RankQuery(events: (0..<12).map { BehaviourEvent(itemID: id(2 + $0 * 3), type: Int32($0 % 7), timestampMs: t0 + Int64($0 * $0) * 1_000_000) },
                      textTokens: [0, 3, 2, 0, 4, 5, 6, 7], images: [[0.1, -0.2, 0.3, 0.4, -0.5, 0.6], [1, 1, 1, 1, 1, 1], [9, 9, 9, 9, 9, 9]],
                      nowMs: t0 + 200_000_000),
            RankQuery(),
            RankQuery(textTokens: [2, 4], images: [[0, 0, 1, 0, 0, 0]]),
            RankQuery(events: [BehaviourEvent(itemID: 999_999, type: 1), BehaviourEvent(itemID: -4), BehaviourEvent(itemID: 0, type: 6),
                               BehaviourEvent(itemID: id(7), timestampMs: t0)]),
            RankQuery(events: [BehaviourEvent(itemID: id(3), timestampMs: t0), BehaviourEvent(itemID: id(4), timestampMs: 0),
                               BehaviourEvent(itemID: id(9), timestampMs: t0 + 5000)], nowMs: t0 + 4000),
        ]
    }

    /// Format 1 bundles (no `[RANK]` position, `[RANK]`-only read-out) still load and rank right.
    @Test func formatVersion1MatchesTheReference() throws {
        let v1 = SyntheticBundle(config: SyntheticBundle.tinyConfig(formatVersion: 1))
        #expect(v1.floats["rank_pos_emb.weight"] == nil)
        let bundle = try v1.load()
        let u = try Ranker(bundle: bundle, maxBatch: 8).userVectors(queries)
        let d = bundle.config.dModel
        for (b, q) in queries.enumerated() {
            let ref = ReferenceModel(b: v1).userVector(q)
            let diff = (0..<d).map { abs(u[b * d + $0] - Float(ref[$0])) }.max()!
            #expect(diff <= Self.tolerance, "query \(b): max diff \(diff)")
        }
    }

    @Test func userVectorsMatchTheReference() throws {
        let bundle = try synthetic.load()
        let ranker = Ranker(bundle: bundle, maxBatch: 8)
        let qs = queries
        let u = try ranker.userVectors(qs)
        let d = bundle.config.dModel
        #expect(u.count == qs.count * d)
        for (b, q) in qs.enumerated() {
            let ref = reference.userVector(q)
            let diff = (0..<d).map { abs(u[b * d + $0] - Float(ref[$0])) }.max()!
            #expect(diff <= Self.tolerance, "query \(b): max diff \(diff)")
            #expect(bundle.tokenCount(q) == reference.tokens(q).count)
        }
        #expect(bundle.tokenCount(qs[1]) == 8 + 4 + 2 + 1)
        #expect(bundle.tokenCount(qs[2]) == 1)
    }

    @Test func catalogueRankingMatchesTheReference() throws {
        let bundle = try synthetic.load()
        let ranker = Ranker(bundle: bundle, maxBatch: 8)
        for q in queries {
            let ref = reference.scores(reference.userVector(q))
            let expectedOrder = (2..<42).sorted { ref[$0] != ref[$1] ? ref[$0] > ref[$1] : $0 < $1 }
            let all = try ranker.rank([q])[0]
            #expect(all.items.map(\.itemID) == expectedOrder.map(id))
            for item in all.items {
                let row = bundle.row(ofItem: item.itemID)!
                #expect(abs(item.score - Float(ref[row])) <= Self.tolerance)
            }
            var top = q
            top.topK = 5
            #expect(try ranker.rank([top])[0].items == Array(all.items.prefix(5)))
        }
    }

    @Test func excludeSeenDropsEveryKnownEventItem() throws {
        let ranker = Ranker(bundle: try synthetic.load(), maxBatch: 2)
        // 12 events, only the newest 8 are kept, but all 12 items are excluded.
        var q = queries[1]
        q.excludeSeen = true
        let seen = Set(q.events.map(\.itemID))
        let r = try ranker.rank([q])[0]
        #expect(r.items.count == 40 - 12)
        #expect(r.items.allSatisfy { !seen.contains($0.itemID) })
        var plain = q
        plain.excludeSeen = false
        let all = try ranker.rank([plain])[0].items
        #expect(r.items == all.filter { !seen.contains($0.itemID) })
        // The marks are cleared: the next query sees the whole catalogue again.
        #expect(try ranker.rank([plain])[0].items.count == 40)
        q.topK = 3
        #expect(try ranker.rank([q])[0].items == Array(r.items.prefix(3)))
    }

    /// A bundle trained to rank only unseen items (config `exclude_seen`) leaves them out of the
    /// catalogue even when the query does not ask; explicit candidates are all still scored.
    @Test func modelConfigExcludeSeenOverridesTheQuery() throws {
        var config = synthetic.config
        config.excludeSeen = true
        let flagged = SyntheticBundle(config: config)
        let ranker = Ranker(bundle: try flagged.load(), maxBatch: 2)
        let plainRanker = Ranker(bundle: try SyntheticBundle().load(), maxBatch: 2)
        var q = queries[1]
        q.excludeSeen = false
        let seen = Set(q.events.map(\.itemID))
        let r = try ranker.rank([q])[0].items
        #expect(r.count == 40 - 12)
        #expect(r == (try plainRanker.rank([q])[0].items).filter { !seen.contains($0.itemID) })
        q.candidates = [id(2), id(3)]  // id(2) is one of the events
        #expect(Set(try ranker.rank([q])[0].items.map(\.itemID)) == [id(2), id(3)])
    }

    @Test func candidatesAreDedupedAndUnknownsReported() throws {
        let ranker = Ranker(bundle: try synthetic.load(), maxBatch: 2)
        let q = RankQuery(events: [BehaviourEvent(itemID: id(5))], candidates: [id(9), 555, id(3), id(9), 0, 555, id(20), -1], excludeSeen: true)
        let r = try ranker.rank([q])[0]
        #expect(r.unknownCandidates == [555, 0, -1])
        #expect(Set(r.items.map(\.itemID)) == [id(9), id(3), id(20)])
        #expect(r.items.count == 3)
        var catalogue = q
        catalogue.candidates = []
        catalogue.excludeSeen = false
        let all = try ranker.rank([catalogue])[0].items
        #expect(r.items.map(\.itemID) == all.map(\.itemID).filter { [id(9), id(3), id(20)].contains($0) })
        for item in r.items {
            let c = all.first { $0.itemID == item.itemID }!
            #expect(abs(c.score - item.score) <= 1e-5)
        }
        var top = q
        top.topK = 2
        #expect(try ranker.rank([top])[0].items == Array(r.items.prefix(2)))
        // Only unknown candidates: nothing to score.
        let none = try ranker.rank([RankQuery(candidates: [1, 2, 3])])[0]
        #expect(none.items.isEmpty && none.unknownCandidates == [1, 2, 3])
    }

    @Test func batchEqualsSingleRuns() throws {
        let ranker = Ranker(bundle: try synthetic.load(), maxBatch: 16)
        var qs = queries
        qs[0].candidates = [id(2), id(30), 77]
        qs[3].excludeSeen = true
        qs[4].topK = 7
        // Mixed lengths, and each query twice in different positions.
        let batch = qs + qs.reversed()
        let batched = try ranker.rank(batch)
        let singles = try batch.map { try ranker.rank([$0])[0] }
        for (a, b) in zip(batched, singles) {
            #expect(a.items.map(\.itemID) == b.items.map(\.itemID))
            #expect(a.unknownCandidates == b.unknownCandidates)
            let diff = zip(a.items, b.items).map { abs($0.score - $1.score) }.max() ?? 0
            #expect(diff <= 1e-5)
        }
        let ub = try ranker.userVectors(batch)
        let us = try batch.flatMap { try ranker.userVectors([$0]) }
        #expect(zip(ub, us).map { abs($0 - $1) }.max()! <= 1e-5)
    }

    @Test func behaviourPrefixDoesNotDependOnLaterTokens() throws {
        // Causality: the hidden rows of the events are the same whatever context follows them.
        // After encode, x holds the output of block n_layers - 2 for every row (the last block runs
        // for [RANK] only), so compare the event rows of two requests in one batch.
        let ranker = Ranker(bundle: try synthetic.load(), maxBatch: 2)
        let q = queries[1]
        var withoutContext = q
        withoutContext.textTokens = []
        withoutContext.images = []
        ranker.encode([q, withoutContext])
        let d = synthetic.config.dModel, events = synthetic.config.maxEvents
        let s = ranker.state
        #expect(s.offsets[1] == s.lengths[0])
        // Equal up to float rounding (the GEMMs run on different row counts): 1e-5.
        let diff = (0..<(events * d)).map { abs(s.x[$0] - s.x[s.offsets[1] * d + $0]) }.max()!
        #expect(diff <= 1e-5)
        // ...while the user vectors differ, since [RANK] sees the context.
        #expect(try ranker.userVectors([q]) != ranker.userVectors([withoutContext]))
    }

    @Test func modelWithoutImages() throws {
        var config = SyntheticBundle.tinyConfig(imageDim: 0)
        config.nLayers = 1
        let s = SyntheticBundle(config: config, seed: 9)
        let bundle = try s.load()
        let ranker = Ranker(bundle: bundle, maxBatch: 2)
        let q = RankQuery(events: [BehaviourEvent(itemID: s.itemIDs[4], type: 3, timestampMs: 5000)], textTokens: [2], nowMs: 9000)
        let u = try ranker.userVectors([q])
        let ref = ReferenceModel(b: s).userVector(q)
        #expect(zip(u, ref).map { abs($0 - Float($1)) }.max()! <= Self.tolerance)
        #expect(throws: InputError.imagesNotAccepted(count: 1)) { try bundle.validate(RankQuery(images: [[]])) }
    }

    @Test func invalidInputIsRejected() throws {
        let bundle = try synthetic.load()
        let ranker = Ranker(bundle: bundle, maxBatch: 2)
        #expect(throws: InputError.eventType(index: 1, type: 7, limit: 7)) {
            try ranker.rank([RankQuery(events: [BehaviourEvent(itemID: 1), BehaviourEvent(itemID: 1, type: 7)])])
        }
        #expect(throws: InputError.eventType(index: 0, type: -1, limit: 7)) {
            try bundle.validate(RankQuery(events: [BehaviourEvent(itemID: 1, type: -1)]))
        }
        #expect(throws: InputError.textToken(index: 2, id: 12, vocabSize: 12)) {
            try bundle.validate(RankQuery(textTokens: [0, 11, 12]))
        }
        #expect(throws: InputError.textToken(index: 0, id: -3, vocabSize: 12)) {
            try bundle.validate(RankQuery(textTokens: [-3]))
        }
        #expect(throws: InputError.imageLength(index: 1, count: 5, expected: 6)) {
            try bundle.validate(RankQuery(images: [[1, 2, 3, 4, 5, 6], [1, 2, 3, 4, 5]]))
        }
        #expect(throws: InputError.imageValue(index: 0, position: 2)) {
            try bundle.validate(RankQuery(images: [[1, 2, .nan, 4, 5, 6]]))
        }
        #expect(throws: InputError.imageValue(index: 0, position: 5)) {
            try bundle.validate(RankQuery(images: [[1, 2, 3, 4, 5, -.infinity]]))
        }
        #expect(throws: InputError.negativeTopK(-1)) { try bundle.validate(RankQuery(topK: -1)) }
        #expect(InputError.imageLength(index: 1, count: 12, expected: 32).description
                == "images[1] has 12 values, the model takes 32")
        #expect(ranker.rank([ValidatedQuery]()).isEmpty)
    }

    /// A call longer than maxBatch runs in passes of maxBatch, each query as it ranks alone.
    @Test func callsLongerThanMaxBatchRunInPasses() throws {
        let ranker = Ranker(bundle: try synthetic.load(), maxBatch: 2)
        let qs = queries
        #expect(qs.count > 2 * ranker.maxBatch)
        let all = try ranker.rank(qs)
        #expect(all.count == qs.count)
        for (q, r) in zip(qs, all) {
            let alone = try ranker.rank([q])[0]
            #expect(r.items.map(\.itemID) == alone.items.map(\.itemID))
        }
        let d = synthetic.config.dModel
        let u = try ranker.userVectors(qs)
        #expect(u.count == qs.count * d)
        // Equal up to the rounding of GEMMs with another row count (OpenBLAS's kernels vary by CPU).
        let alone = try ranker.userVectors([qs[4]])
        #expect(alone.count == d)
        for (a, b) in zip(u[(4 * d)..<(5 * d)], alone) { #expect(abs(a - b) <= 1e-5 * max(1, abs(b))) }
    }

    /// OpenBLAS would start one thread per core; a ranker leaves it at 1 unless told otherwise.
    /// (Read-only: the count is process-wide and other tests run GEMMs concurrently.)
    @Test func blasThreadsDefaultToOne() throws {
        _ = Ranker(bundle: try synthetic.load(), maxBatch: 1)
        #expect(BLAS.threads == 1)
    }
}
