import ArgumentParser
import Foundation
import FuseRankClient

/// `fuserank rank`: rank items for a behaviour sequence and a query; prints a table or JSON.
struct RankCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rank",
        abstract: "Rank items for a user's events, a text query and image embeddings.")

    @OptionGroup var connection: ConnectionOptions

    @Option(help: ArgumentHelp(
        "The behaviour sequence, oldest first: item ids, each optionally with :TYPE and :TIMESTAMP_MS.",
        discussion: "Example: 1,2,3 or 10:click,11:purchase:1700000000000. Types: view, click, add_to_cart, purchase, search, rate.",
        valueName: "events"))
    var events: EventList?

    @Option(name: .customLong("event-type"), help: ArgumentHelp(
        "The type of events given without one (default rate: what the bundled MovieLens models were trained on).",
        valueName: "type"))
    var eventType = "rate"

    @Option(help: "Free text (a search query), tokenized by the server with the model's vocabulary.")
    var query = ""

    @Option(help: ArgumentHelp("Text token ids from the model's vocab.txt, sent before the query.", valueName: "ids"))
    var tokens: NumberList<UInt32>?

    @Option(help: ArgumentHelp("An image embedding (comma-separated floats); repeat for several.", valueName: "values"))
    var image: [NumberList<Float>] = []

    @Option(help: ArgumentHelp("Item ids to rank; without it the whole catalogue is ranked.", valueName: "ids"))
    var candidates: NumberList<Int64>?

    @Option(name: .customLong("top-k"), help: "Items to return (0 = all candidates, or the server's default for the catalogue).")
    var topK: UInt32 = 10

    @Flag(name: .customLong("exclude-seen"), help: "Catalogue ranking: leave out items already in --events.")
    var excludeSeen = false

    @Option(help: "The model name (default: the server's default model).")
    var model = ""

    @Option(name: .customLong("now-ms"), help: "Request time in Unix ms (0 = unknown); --now uses the clock.")
    var nowMs: Int64 = 0

    @Flag(help: "Send the current time as the request time.")
    var now = false

    @Option(help: ArgumentHelp(
        "Explain each item: up to N events that raised its score, strongest first (0 = off, at most 32).",
        valueName: "N"))
    var explain: UInt32 = 0

    @Flag(help: "Print the reply as JSON instead of a table.")
    var json = false

    func validate() throws {
        if now && nowMs != 0 { throw ValidationError("give --now or --now-ms, not both") }
        if EventList.eventType(eventType) == nil { throw ValidationError("unknown --event-type '\(eventType)'") }
    }

    func run() async throws {
        try await reportingFailures {
            let client = try connection.makeClient()
            defer { client.close() }
            let sent = events?.events(defaultType: EventList.eventType(eventType) ?? .rate) ?? []
            let reply = try await client.rank(
                events: sent, textTokens: tokens?.values ?? [], query: query,
                images: image.map(\.values), candidates: candidates?.values ?? [], topK: topK,
                excludeSeen: excludeSeen, model: model,
                nowMs: now ? Int64(Date().timeIntervalSince1970 * 1000) : nowMs, explainEvents: explain)
            // Titles (and the shop's ids, where the model has them) beside the ids and the reasons'
            // events when the model has titles; the ranking is printed without them if they cannot
            // be had (a server without GetItems).
            var titles: [Int64: String] = [:]
            var externalIDs: [Int64: String] = [:]
            if !json, (try? await client.modelInfo(model: model).hasTitles) == true {
                let ids = Array(Set(reply.items.map(\.itemID) + sent.map(\.itemID)))
                for item in (try? await client.items(ids, model: model)) ?? [] where item.known {
                    titles[item.itemID] = item.title
                    if !item.externalID.isEmpty { externalIDs[item.itemID] = item.externalID }
                }
            }
            print(json ? try RankOutput.json(reply, events: sent)
                       : RankOutput.table(reply, events: sent, titles: titles, externalIDs: externalIDs),
                  terminator: "")
        }
    }
}
