import Foundation
import FuseRankTestSupport
import Testing
@testable import FuseRankModel

/// `exclude_items` and `restrict_to`, on a bundle whose config sets `exclude_seen`.
@Suite struct BusinessFilterTests {
    static func flagged(items: Int = 300) throws -> (SyntheticBundle, ModelBundle) {
        var config = SyntheticBundle.tinyConfig()
        config.numItems = items + 2
        config.excludeSeen = true
        let s = SyntheticBundle(config: config, seed: 5)
        return (s, try s.load())
    }

    @Test(arguments: [CatalogueScoring.exact, .int8])
    func excludedItemsAreNeverReturned(scoring: CatalogueScoring) throws {
        let (s, bundle) = try Self.flagged()
        let ranker = Ranker(bundle: bundle, maxBatch: 2, catalogueScoring: scoring)
        let seen = [BehaviourEvent(itemID: s.itemIDs[4], type: 1)]
        let all = try ranker.rank([RankQuery(events: seen, topK: 20)])[0].items
        let excluded = Array(all.prefix(5).map(\.itemID)) + [999_999]  // an unknown id is harmless
        let filtered = try ranker.rank([RankQuery(events: seen, topK: 20, excludeItems: excluded)])[0].items
        #expect(filtered.count == 20)
        #expect(filtered.map(\.itemID) == Array(all.dropFirst(5).map(\.itemID)) + (try ranker.rank([RankQuery(events: seen, topK: 25)])[0].items.suffix(5).map(\.itemID)))
        #expect(!filtered.contains { $0.itemID == s.itemIDs[4] }, "the bundle's exclude_seen still applies")
        // With candidates, the excluded ones are left out too.
        let cands = try ranker.rank([RankQuery(candidates: [excluded[0], s.itemIDs[9]], excludeItems: excluded)])[0]
        #expect(cands.items.map(\.itemID) == [s.itemIDs[9]])
    }

    @Test func restrictToRanksWithinTheList() throws {
        let (s, bundle) = try Self.flagged()
        let ranker = Ranker(bundle: bundle, maxBatch: 2)
        let list = (10..<40).map { s.itemIDs[$0] } + [777_777]
        let seen = [BehaviourEvent(itemID: s.itemIDs[12], type: 1)]
        let r = try ranker.rank([RankQuery(events: seen, topK: 100, excludeItems: [s.itemIDs[13]], restrictTo: list)])[0]
        let got = Set(r.items.map(\.itemID))
        #expect(got == Set(list.dropLast()).subtracting([s.itemIDs[12], s.itemIDs[13]]), "within the list, seen and excluded items out")
        #expect(r.unknownCandidates == [777_777])
        // The same order and scores as the catalogue ranking restricted afterwards.
        let everything = try ranker.rank([RankQuery(events: seen, topK: 0)])[0].items.filter { got.contains($0.itemID) }
        #expect(r.items.map(\.itemID) == everything.map(\.itemID))
        for (a, b) in zip(r.items, everything) { #expect(abs(a.score - b.score) <= 1e-5) }
        #expect(try ranker.rank([RankQuery(events: seen, topK: 3, restrictTo: list)])[0].items.count == 3)
    }

    @Test func restrictToWithCandidatesIsInvalid() throws {
        let (s, bundle) = try Self.flagged()
        #expect(throws: InputError.restrictWithCandidates) {
            try bundle.validate(RankQuery(candidates: [s.itemIDs[3]], restrictTo: [s.itemIDs[4]]))
        }
    }
}
