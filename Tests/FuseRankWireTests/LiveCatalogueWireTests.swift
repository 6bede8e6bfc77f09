import Testing

@testable import FuseRankWire

/// The live catalogue messages (UpsertItems, SetItemsAvailable, RankReply.unavailable_candidates,
/// ModelInfo's content fields) round-trip; an old RankReply still decodes with none unavailable.
@Suite struct LiveCatalogueWireTests {
    @Test func upsertRoundTrips() throws {
        try WireRoundTripTests.roundTrip(UpsertItemsRequest())
        try WireRoundTripTests.roundTrip(UpsertItemsRequest(model: "m", items: [
            ItemContent(itemID: 7, textTokens: [2, 0, 9], contentVector: [0.5, -1, 3e-8], title: "Ténéré", category: "bikes"),
            ItemContent(itemID: 8),
        ]))
        try WireRoundTripTests.roundTrip(UpsertItemsReply(added: 3, replaced: 1, journalSequence: 1 << 40))
    }

    @Test func availabilityRoundTrips() throws {
        try WireRoundTripTests.roundTrip(SetItemsAvailableRequest(model: "m", itemIDs: [1, 1 << 50], available: true))
        try WireRoundTripTests.roundTrip(SetItemsAvailableRequest(itemIDs: [4]))
        try WireRoundTripTests.roundTrip(SetItemsAvailableReply(journalSequence: 12))
        #expect(Method(path: "/fuserank.v1.Ranker/UpsertItems") == .upsertItems)
        #expect(Method(path: "/fuserank.v1.Ranker/SetItemsAvailable") == .setItemsAvailable)
    }

    @Test func replyFieldsRoundTrip() throws {
        try WireRoundTripTests.roundTrip(RankReply(items: [ScoredItem(itemID: 1, score: 2)], unknownCandidates: [3], unavailableCandidates: [4, 5]))
        let old = RankReply(items: [ScoredItem(itemID: 1, score: 2)], unknownCandidates: [3]).encode()
        #expect(try RankReply(bytes: old).unavailableCandidates.isEmpty)
        var info = ModelInfo(name: "m", dModel: 16)
        info.hasContentProjection = true
        info.contentDim = 384
        info.contentVector = "all-MiniLM-L6-v2 of 'title | genres'"
        try WireRoundTripTests.roundTrip(info)
    }
}
