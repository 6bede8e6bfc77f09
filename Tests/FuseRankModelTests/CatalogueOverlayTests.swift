import Foundation
import FuseRankTestSupport
import Testing
@testable import FuseRankModel

/// Ranking with live catalogue changes (``CatalogueOverlay``): content items rank where their row
/// puts them, hidden items are never returned, replaced items use their new row, on the exact and
/// the int8 catalogue paths alike.
@Suite struct CatalogueOverlayTests {
    static func bundle(items: Int = 300) throws -> ModelBundle {
        var config = SyntheticBundle.tinyConfig(imageDim: 0)
        config.numItems = items + 2
        var s = SyntheticBundle(config: config, seed: 5)
        s.addContentProjection(contentDim: 2)
        return try s.load()
    }

    static let query = RankQuery(events: [BehaviourEvent(itemID: 114), BehaviourEvent(itemID: 121)], topK: 10)

    static func user(_ ranker: Ranker, _ query: RankQuery = query) throws -> [Float] { try ranker.userVectors([query]) }

    static func dotScore(_ u: [Float], _ row: (embedding: [Float], bias: Float)) -> Float {
        zip(u, row.embedding).reduce(row.bias) { $0 + $1.0 * $1.1 }
    }

    @Test func anAddedItemRanksWhereItsRowPutsIt() throws {
        let bundle = try Self.bundle()
        let ranker = Ranker(bundle: bundle, maxBatch: 4, catalogueScoring: .exact)
        let u = try Self.user(ranker)
        let before = try ranker.rank([Self.query])[0]
        var overlay = CatalogueOverlay(bundle: bundle)
        // A row along u, scaled to land between the first and the second item.
        let norm2 = u.reduce(0) { $0 + $1 * $1 }
        let target = (before.items[0].score + before.items[1].score) / 2
        overlay.setContent(99_999, row: (u.map { $0 * target / norm2 }, 0))
        let after = ranker.rank([try bundle.validate(Self.query)], overlay: overlay)[0]
        #expect(after.items.count == 10)
        #expect(after.items[0] == before.items[0])
        #expect(after.items[1].itemID == 99_999)
        #expect(abs(after.items[1].score - target) < 1e-3)
        #expect(Array(after.items[2...]) == Array(before.items[1..<9]))
        // As a candidate, and from real content.
        overlay.setContent(99_998, row: try bundle.contentRow(textTokens: [3, 4], vector: [0.5, -0.5]))
        let candidates = RankQuery(events: Self.query.events, candidates: [99_998, 128, 99_997])
        let got = ranker.rank([try bundle.validate(candidates)], overlay: overlay)[0]
        #expect(Set(got.items.map(\.itemID)) == [99_998, 128])
        #expect(got.unknownCandidates == [99_997])
        let want = Self.dotScore(u, try bundle.contentRow(textTokens: [3, 4], vector: [0.5, -0.5]))
        #expect(abs(got.items.first { $0.itemID == 99_998 }!.score - want) < 1e-4)
    }

    @Test func aHiddenItemIsNeverReturned() throws {
        let bundle = try Self.bundle()
        let ranker = Ranker(bundle: bundle, maxBatch: 4, catalogueScoring: .exact)
        let before = try ranker.rank([Self.query])[0]
        let top = before.items[0].itemID
        var overlay = CatalogueOverlay(bundle: bundle)
        overlay.setContent(99_999, row: (Array(repeating: 0, count: bundle.config.dModel), 100))  // would be first
        overlay.setAvailable([top, 99_999], false)
        var all = Self.query
        all.topK = 0
        let queries = [Self.query, all, RankQuery(events: Self.query.events, candidates: [top, 128, 99_999, top]),
                       RankQuery(events: Self.query.events, topK: 5, restrictTo: [top, 128, 135, 99_999])]
        let results = ranker.rank(try queries.map { try bundle.validate($0) }, overlay: overlay)
        for r in results { #expect(!r.items.contains { $0.itemID == top || $0.itemID == 99_999 }) }
        #expect(Array(results[0].items.map(\.itemID).prefix(9)) == Array(before.items[1...].map(\.itemID)))
        #expect(results[1].items.count == bundle.catalogueSize - 1)  // every item but the hidden one
        #expect(results[2].items.map(\.itemID) == [128])
        #expect(results[2].unavailableCandidates == [top, 99_999])
        #expect(Set(results[3].items.map(\.itemID)) == [128, 135])
        // Shown again: back in place.
        overlay.setAvailable([top, 99_999], true)
        let shown = ranker.rank([try bundle.validate(Self.query)], overlay: overlay)[0]
        #expect(shown.items[0].itemID == 99_999)
        #expect(shown.items[1] == before.items[0])
    }

    @Test func aReplacedItemUsesItsNewRowEverywhere() throws {
        let bundle = try Self.bundle()
        let exact = Ranker(bundle: bundle, maxBatch: 4, catalogueScoring: .exact)
        let before = try exact.rank([Self.query])[0]
        let top = before.items[0].itemID
        let u = try Self.user(exact)
        var overlay = CatalogueOverlay(bundle: bundle)
        let row = (u.map { -$0 }, Float(0))  // now the worst item
        overlay.setContent(top, row: row)
        let after = exact.rank([try bundle.validate(Self.query)], overlay: overlay)[0]
        #expect(!after.items.contains { $0.itemID == top })
        #expect(after.items.map(\.itemID) == Array(before.items[1...].map(\.itemID)) + [after.items[9].itemID])
        let candidate = exact.rank([try bundle.validate(RankQuery(events: Self.query.events, candidates: [top]))], overlay: overlay)[0]
        #expect(abs(candidate.items[0].score - Self.dotScore(u, row)) < 1e-4)
        // As an event input: replacing an item by its own row changes nothing; another id with that
        // row embeds exactly like it.
        var same = CatalogueOverlay(bundle: bundle)
        let own = exact.scorer.itemRow(121, overlay: nil)!
        same.setContent(121, row: own)
        same.setContent(77_777, row: own)
        let c = [Int64(128), 135, 142]
        let plain = try exact.rank([RankQuery(events: Self.query.events, candidates: c)])[0]
        let viaOverlay = exact.rank([try bundle.validate(RankQuery(events: Self.query.events, candidates: c))], overlay: same)[0]
        let viaNewID = exact.rank(
            [try bundle.validate(RankQuery(events: [BehaviourEvent(itemID: 114), BehaviourEvent(itemID: 77_777)], candidates: c))],
            overlay: same)[0]
        for (a, b) in Array(zip(plain.items, viaOverlay.items)) + Array(zip(plain.items, viaNewID.items)) {
            #expect(a.itemID == b.itemID)
            #expect(abs(a.score - b.score) < 1e-4)
        }
    }

    @Test func int8AndExactAgree() throws {
        let bundle = try Self.bundle(items: 2000)
        let exact = Ranker(bundle: bundle, maxBatch: 4, catalogueScoring: .exact)
        let int8 = Ranker(bundle: bundle, maxBatch: 4, catalogueScoring: .int8)
        let plain = try exact.rank([Self.query])[0]
        var overlay = CatalogueOverlay(bundle: bundle)
        overlay.setContent(plain.items[3].itemID, row: try bundle.contentRow(textTokens: [2], vector: nil))
        overlay.setContent(55_555, row: try bundle.contentRow(textTokens: [5, 6], vector: [1, 1]))
        overlay.setContent(55_556, row: (try Self.user(exact).map { $0 * 0.5 }, 1))
        overlay.setAvailable([plain.items[0].itemID, plain.items[7].itemID], false)
        let queries = try [Self.query, RankQuery(events: Self.query.events, topK: 50, excludeSeen: true)].map { try bundle.validate($0) }
        let a = exact.rank(queries, overlay: overlay)
        let b = int8.rank(queries, overlay: overlay)
        for (x, y) in zip(a, b) {
            #expect(x.items.map(\.itemID) == y.items.map(\.itemID))
            for (i, j) in zip(x.items, y.items) { #expect(abs(i.score - j.score) < 1e-4) }
        }
        #expect(a[0].items.contains { $0.itemID == 55_556 })
        #expect(!a[0].items.contains { $0.itemID == plain.items[0].itemID })
    }

    @Test func sessionsAndExplanationsSeeContentRows() throws {
        let bundle = try Self.bundle()
        let cache = SessionCache(capacityBytes: 16 << 20)
        let ranker = Ranker(bundle: bundle, maxBatch: 4, catalogueScoring: .exact, sessionCache: cache)
        let plain = Ranker(bundle: bundle, maxBatch: 4, catalogueScoring: .exact)
        var overlay = CatalogueOverlay(bundle: bundle)
        overlay.setContent(121, row: try bundle.contentRow(textTokens: [2], vector: nil))
        var session = RankQuery(events: Self.query.events, candidates: [128, 135, 142])
        session.sessionID = "s"
        let first = ranker.rank([try bundle.validate(session)], overlay: overlay)[0]
        // 121 gets new content: a cached state of the session holds its old row, so it is not reused.
        overlay.setContent(121, row: try bundle.contentRow(textTokens: [5, 6], vector: [2, -2]))
        session.events.append(BehaviourEvent(itemID: 142))
        let cached = ranker.rank([try bundle.validate(session)], overlay: overlay)[0]
        var fresh = session
        fresh.sessionID = ""
        let want = plain.rank([try bundle.validate(fresh)], overlay: overlay)[0]
        #expect(cached.items.map(\.itemID) == want.items.map(\.itemID))
        for (a, b) in zip(cached.items, want.items) { #expect(abs(a.score - b.score) < 1e-4) }
        #expect(first.items != cached.items)
        // Reasons of a content item come from its content row: the same row under a new id and
        // under a bundle id gives the same score and the same reasons.
        let row = try bundle.contentRow(textTokens: [3], vector: [1, 1])
        overlay.setContent(99_999, row: row)
        overlay.setContent(128, row: row)
        var explained = fresh
        explained.candidates = [99_999, 128]
        explained.explainEvents = 3
        let result = plain.rank([try bundle.validate(explained)], overlay: overlay)[0]
        #expect(result.items.count == 2)
        #expect(result.items[0].score == result.items[1].score)
        #expect(result.items[0].reasons == result.items[1].reasons)
    }

    /// OBJECTIVE_PURCHASE with an overlay: bundle rows only, hidden items left out with top_k
    /// kept; next-item queries in the same batch still get their content rows.
    @Test func purchaseLeavesHiddenItemsOut() throws {
        let bundle = try ModelBundle(path: PurchaseHeadTests.set.path)
        let ranker = Ranker(bundle: bundle, maxBatch: 4)
        let ids = bundle.catalogueItemIDs
        var purchase = RankQuery(events: [BehaviourEvent(itemID: ids[0])], topK: 5)
        purchase.objective = .purchase
        let next = RankQuery(events: [BehaviourEvent(itemID: ids[0])], topK: 5)
        let before = try ranker.rank([purchase, next])
        var overlay = CatalogueOverlay(bundle: bundle)
        overlay.setAvailable([before[0].items[0].itemID, before[0].items[2].itemID], false)
        let u = try ranker.userVectors([next])
        overlay.setContent(88_888, row: (u.map { $0 * 10 }, 0))  // first for the next-item query
        let after = ranker.rank(try [purchase, next].map { try bundle.validate($0) }, overlay: overlay)
        let want = [before[0].items[1], before[0].items[3], before[0].items[4]].map(\.itemID)
        #expect(after[0].items.count == 5)
        #expect(Array(after[0].items.map(\.itemID).prefix(3)) == want)
        #expect(!after[0].items.contains { overlay.hidden.contains($0.itemID) || $0.itemID == 88_888 })
        #expect(after[1].items.first?.itemID == 88_888)
    }

    /// OBJECTIVE_PURCHASE `restrict_to` and `exclude_items` with an overlay: hidden items and
    /// excluded ones are left out of the list, a content-only item is unknown (bundle rows only),
    /// the rest keep the probabilities they have without the overlay.
    @Test func purchaseRestrictToAndExcludeItemsWithAnOverlay() throws {
        let bundle = try ModelBundle(path: PurchaseHeadTests.set.path)
        let ranker = Ranker(bundle: bundle, maxBatch: 4)
        let ids = bundle.catalogueItemIDs
        var purchase = RankQuery(events: [BehaviourEvent(itemID: ids[0])], topK: 10)
        purchase.objective = .purchase
        purchase.restrictTo = [ids[3], ids[4], ids[5], ids[6], 77_777]
        purchase.excludeItems = [ids[6]]
        let before = try ranker.rank([purchase])[0]
        #expect(Set(before.items.map(\.itemID)) == [ids[3], ids[4], ids[5]])
        #expect(before.unknownCandidates == [77_777])
        var overlay = CatalogueOverlay(bundle: bundle)
        overlay.setAvailable([ids[4]], false)
        let u = try ranker.userVectors([purchase])
        overlay.setContent(77_777, row: (u.map { $0 * 10 }, 0))  // content only: no purchase row
        let after = ranker.rank([try bundle.validate(purchase)], overlay: overlay)[0]
        #expect(after.items == before.items.filter { $0.itemID != ids[4] })
        #expect(after.unknownCandidates == [77_777])
    }
}
