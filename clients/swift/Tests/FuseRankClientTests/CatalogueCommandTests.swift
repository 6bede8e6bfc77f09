import Testing

@testable import FuseRankClient
@testable import fuserank

/// `fuserank upsert`, `hide`, `show`: argument parsing; the rank table lists hidden candidates.
@Suite struct CatalogueCommandTests {
    @Test func upsertParsesContent() throws {
        let command = try UpsertCommand.parse(["--item", "7", "--tokens", "2,3", "--vector", "0.5,-1", "--title", "A chair"])
        #expect(command.item == 7 && command.tokens?.values == [2, 3] && command.vector?.values == [0.5, -1])
        #expect(command.title == "A chair" && command.externalID == "")
        #expect(try UpsertCommand.parse(["--item", "7", "--external-id", "85123A"]).externalID == "85123A")
        #expect(throws: (any Error).self) { try UpsertCommand.parse(["--item", "0"]) }
        #expect(throws: (any Error).self) { try UpsertCommand.parse(["--item", "7", "--vector", "1,x"]) }
    }

    @Test func hideAndShowTakeIDs() throws {
        #expect(try HideCommand.parse(["5", "6", "--model", "m"]).items == [5, 6])
        #expect(try ShowCommand.parse(["5"]).items == [5])
        #expect(throws: (any Error).self) { try HideCommand.parse([]) }
    }

    @Test func tableListsUnavailableCandidates() throws {
        let reply = RankReply(items: [ScoredItem(itemID: 7, score: 1)], model: "m", modelVersion: "1", unavailableCandidates: [8, 9])
        #expect(RankOutput.table(reply).hasSuffix("unavailable candidates (hidden, not scored): 8, 9\n"))
        #expect(try RankOutput.json(reply).contains(#""unavailable_candidates":[8,9]"#))
    }
}
