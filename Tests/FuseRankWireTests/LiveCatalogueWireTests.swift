import Testing

@testable import FuseRankWire

/// The live catalogue messages (UpsertItems, SetItemsAvailable, RankReply.unavailable_candidates,
/// ModelInfo's content fields) and GetItems round-trip; an old RankReply still decodes with none
/// unavailable, an old ItemContent or ItemMetadata with no external id.
@Suite struct LiveCatalogueWireTests {
    @Test func upsertRoundTrips() throws {
        try WireRoundTripTests.roundTrip(UpsertItemsRequest())
        try WireRoundTripTests.roundTrip(UpsertItemsRequest(model: "m", items: [
            ItemContent(itemID: 7, textTokens: [2, 0, 9], contentVector: [0.5, -1, 3e-8], title: "Ténéré", category: "bikes"),
            ItemContent(itemID: 8),
            ItemContent(itemID: 9, title: "Lantern", externalID: "85123A"),
            ItemContent(itemID: 10, externalID: "Ténéré-42/b"),
        ]))
        try WireRoundTripTests.roundTrip(UpsertItemsReply(added: 3, replaced: 1, journalSequence: 1 << 40))
        let decoded = try UpsertItemsRequest(bytes: UpsertItemsRequest(items: [ItemContent(itemID: 9, externalID: "85123A")]).encode())
        #expect(decoded.items.map(\.externalID) == ["85123A"])
        // Before external_id (field 6): items[0] = { item_id 5000, title "old" }, as an old journal holds it.
        let old = try UpsertItemsRequest(bytes: [0x12, 0x08, 0x08, 0x88, 0x27, 0x22, 0x03] + Array("old".utf8))
        #expect(old.items == [ItemContent(itemID: 5000, title: "old")])
    }

    @Test func getItemsRoundTrips() throws {
        try WireRoundTripTests.roundTrip(GetItemsRequest(model: "m", itemIDs: [1, 1 << 50, -3]))
        try WireRoundTripTests.roundTrip(GetItemsReply())
        let reply = GetItemsReply(items: [
            ItemMetadata(itemID: 114, known: true, title: "WHITE METAL LANTERN", category: "LIGHTING", externalID: "71053"),
            ItemMetadata(itemID: 121, known: true, title: "Heat (1995)"),
            ItemMetadata(itemID: 7),
        ])
        try WireRoundTripTests.roundTrip(reply)
        #expect(try GetItemsReply(bytes: reply.encode()).items.map(\.externalID) == ["71053", "", ""])
        // Before external_id (field 5): { item_id 114, known, title "x" } decodes with none.
        let old = try GetItemsReply(bytes: [0x0A, 0x07, 0x08, 0x72, 0x10, 0x01, 0x1A, 0x01] + Array("x".utf8))
        #expect(old.items == [ItemMetadata(itemID: 114, known: true, title: "x")])
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
        info.fusionWeights = [0.7, 0.45]
        try WireRoundTripTests.roundTrip(info)
        #expect(try ModelInfo(bytes: info.encode()).fusionWeights == [0.7, 0.45])
    }
}
