import FuseRankTestSupport
import Foundation
import Testing
@testable import FuseRankModel

/// Parity with the PyTorch reference: every golden case of every fixture set, within the file's
/// tolerance (1e-4) on every score and user vector, with identical order, token counts and
/// unknown candidates; batches equal single runs.
@Suite struct GoldenFixtureTests {
    @Test func fixtureSetsExist() {
        let names = GoldenCases.sets.map(\.lastPathComponent)
        #expect(names.contains("tiny") && names.contains("tiny-noimage"), "fixture sets in \(GoldenCases.root.path): \(names)")
    }

    @Test(arguments: GoldenCases.sets)
    func casesMatchPyTorch(_ set: URL) throws {
        let file = try GoldenCases.load(set)
        let bundle = try ModelBundle(path: set.path)
        let ranker = Ranker(bundle: bundle, maxBatch: file.cases.count)
        let d = bundle.config.dModel
        var maxDiff: Float = 0
        #expect(file.cases.count >= 10)
        for c in file.cases {
            let q = c.query.rankQuery
            try bundle.validate(q)
            #expect(bundle.tokenCount(q) == c.tokenCount, "\(c.name): token count")
            let u = try ranker.userVectors([q])
            #expect(u.count == d)
            let r = try ranker.rank([q])[0]
            maxDiff = max(maxDiff, c.expectMatch(userVector: u, result: r, tolerance: file.tolerance))
            // Explanations: the same events, in the same order, with the same weights.
            for (mine, theirs) in zip(r.items, c.items) {
                let expected = theirs.reasons ?? []
                #expect(mine.reasons.map(\.eventIndex) == expected.map(\.eventIndex), "\(c.name): reasons of \(mine.itemID)")
                let wDiff = zip(mine.reasons, expected).map { abs($0.weight - $1.weight) }.max() ?? 0
                #expect(wDiff <= file.tolerance, "\(c.name): reason weight diff \(wDiff)")
                maxDiff = max(maxDiff, wDiff)
            }
            // The feature rules behind the tokens, where the fixture records them.
            if let buckets = c.debug?.timeBuckets {
                let kept = q.events.count - min(q.events.count, bundle.config.maxEvents)
                let mine = (kept..<q.events.count).map { TimeBucket.ofEvent($0, in: q.events, buckets: bundle.config.numTimeBuckets) }
                #expect(mine == buckets, "\(c.name): time buckets")
            }
            if let rankBucket = c.debug?.rankBucket {
                #expect(TimeBucket.ofRank(events: q.events, nowMs: q.nowMs, buckets: bundle.config.numTimeBuckets) == rankBucket)
            }
            if let rows = c.debug?.rows {
                let kept = q.events.suffix(bundle.config.maxEvents)
                #expect(kept.map { bundle.row(ofItem: $0.itemID) ?? 1 } == rows, "\(c.name): item rows")
            }
        }
        print("golden \(set.lastPathComponent): \(file.cases.count) cases, max |Swift - PyTorch| = \(maxDiff)")
    }

    @Test(arguments: GoldenCases.sets)
    func explanationsMatchPyTorch(_ set: URL) throws {
        let file = try GoldenCases.load(set)
        let bundle = try ModelBundle(path: set.path)
        let ranker = Ranker(bundle: bundle, maxBatch: 4)
        let explained = file.cases.filter { ($0.query.explainEvents ?? 0) > 0 }
        #expect(explained.count >= 4, "explanation cases in \(set.lastPathComponent)")
        #expect(explained.contains { c in c.items.contains { ($0.reasons ?? []).count >= 2 } })
        for c in explained {
            let q = try bundle.validate(c.query.rankQuery)
            #expect(ranker.shortlistDetails(q) == c.debug?.shortlist, "\(c.name): shortlist")
        }
        // Explained and plain queries in one batch: the plain ones get no reasons, and each result
        // equals its single run (the deletions must not disturb the pass's other queries).
        let batch = try explained.flatMap { c in [c.query.rankQuery, RankQuery(events: c.query.rankQuery.events, topK: 3)] }
            .map { try bundle.validate($0) }
        let together = ranker.rank(batch)
        for (q, r) in zip(batch, together) {
            let single = ranker.rank([q])[0]
            // Equal to float rounding: one user's catalogue scores run as a gemv, a batch's as a GEMM.
            #expect(r.items.map(\.itemID) == single.items.map(\.itemID))
            for (a, b) in zip(r.items, single.items) {
                #expect(abs(a.score - b.score) <= 1e-5)
                #expect(a.reasons.map(\.eventIndex) == b.reasons.map(\.eventIndex))
                #expect(zip(a.reasons, b.reasons).allSatisfy { abs($0.weight - $1.weight) <= 1e-5 })
            }
            let noReasons = r.items.allSatisfy { $0.reasons.isEmpty }
            if q.query.explainEvents == 0 { #expect(noReasons) }
        }
    }

    @Test(arguments: GoldenCases.sets)
    func batchesEqualSingleRuns(_ set: URL) throws {
        let file = try GoldenCases.load(set)
        let bundle = try ModelBundle(path: set.path)
        let byName = Dictionary(uniqueKeysWithValues: file.cases.map { ($0.name, $0) })
        #expect(!file.batches.isEmpty)
        for batch in file.batches {
            let cases = batch.cases.map { byName[$0]! }
            let ranker = Ranker(bundle: bundle, maxBatch: cases.count)
            let results = try ranker.rank(cases.map(\.query.rankQuery))
            let users = try ranker.userVectors(cases.map(\.query.rankQuery))
            let d = bundle.config.dModel
            for (i, (c, r)) in zip(cases, results).enumerated() {
                #expect(r.items.map(\.itemID) == c.items.map(\.itemId), "\(batch.name)/\(c.name): order")
                #expect(r.unknownCandidates == c.unknownCandidates)
                let sDiff = zip(r.items, c.items).map { abs($0.score - $1.score) }.max() ?? 0
                #expect(sDiff <= file.tolerance, "\(batch.name)/\(c.name): score diff \(sDiff)")
                let uDiff = (0..<d).map { abs(users[i * d + $0] - c.userVector[$0]) }.max()!
                #expect(uDiff <= file.tolerance, "\(batch.name)/\(c.name): user vector diff \(uDiff)")
            }
        }
    }

    @Test(arguments: GoldenCases.sets)
    func tokenizerMatchesPython(_ set: URL) throws {
        let file = try GoldenCases.load(set)
        let bundle = try ModelBundle(path: set.path)
        #expect(!file.tokenizer.isEmpty)
        for t in file.tokenizer {
            #expect(bundle.vocabulary.tokenize(t.text) == t.ids, "tokenize(\(t.text))")
        }
    }

    @Test(arguments: GoldenCases.sets)
    func invalidQueriesAreRejected(_ set: URL) throws {
        let file = try GoldenCases.load(set)
        let bundle = try ModelBundle(path: set.path)
        let ranker = Ranker(bundle: bundle, maxBatch: 2)
        for c in file.invalid {
            #expect(throws: InputError.self, "\(c.name)") { try bundle.validate(c.query.rankQuery) }
            #expect(throws: InputError.self, "\(c.name)") { try ranker.rank([RankQuery(), c.query.rankQuery]) }
        }
        // The ranker still works after rejecting them.
        #expect(try ranker.rank([RankQuery(topK: 3)])[0].items.count == 3)
    }
}
