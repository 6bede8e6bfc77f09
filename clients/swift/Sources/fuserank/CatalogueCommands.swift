import ArgumentParser
import FuseRankClient

/// `fuserank upsert`: add an item from its content, or replace an item's content (admin).
struct UpsertCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "upsert",
        abstract: "Add an item from its content, or replace its content (admin; docs/operations.md).")

    @OptionGroup var connection: ConnectionOptions

    @Option(help: "The item id (> 0).")
    var item: Int64

    @Option(help: ArgumentHelp("Text token ids of the model's vocab.txt (comma-separated).", valueName: "ids"))
    var tokens: NumberList<UInt32>?

    @Option(help: ArgumentHelp("The content vector: content_dim comma-separated floats (`fuserank info`); none = zeros.", valueName: "values"))
    var vector: NumberList<Float>?

    @Option(help: "Title shown by GetItems.")
    var title: String = ""

    @Option(help: "Category shown by GetItems.")
    var category: String = ""

    @Option(name: .customLong("external-id"), help: "The shop's own id of the item, shown by GetItems (empty keeps the bundle's).")
    var externalID: String = ""

    @Option(help: "The model name; empty = the server's default model.")
    var model: String = ""

    func validate() throws {
        if item <= 0 { throw ValidationError("--item must be > 0") }
    }

    func run() async throws {
        try await reportingFailures {
            let client = try connection.makeClient()
            defer { client.close() }
            let content = ItemContent(
                itemID: item, textTokens: tokens?.values ?? [], contentVector: vector?.values ?? [], title: title, category: category,
                externalID: externalID)
            let reply = try await client.upsertItems([content], model: model)
            print("\(reply.added == 1 ? "added" : "replaced") item \(item) (journal record \(reply.journalSequence))")
        }
    }
}

/// `fuserank hide`: hide items from ranking (admin).
struct HideCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "hide", abstract: "Hide items from ranking, e.g. out of stock (admin).")

    @OptionGroup var connection: ConnectionOptions

    @Argument(help: "Item ids.")
    var items: [Int64]

    @Option(help: "The model name; empty = the server's default model.")
    var model: String = ""

    func run() async throws {
        try await setAvailable(connection: connection, items: items, available: false, model: model)
    }
}

/// `fuserank show`: show hidden items again (admin).
struct ShowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Show hidden items again (admin).")

    @OptionGroup var connection: ConnectionOptions

    @Argument(help: "Item ids.")
    var items: [Int64]

    @Option(help: "The model name; empty = the server's default model.")
    var model: String = ""

    func run() async throws {
        try await setAvailable(connection: connection, items: items, available: true, model: model)
    }
}

private func setAvailable(connection: ConnectionOptions, items: [Int64], available: Bool, model: String) async throws {
    try await reportingFailures {
        let client = try connection.makeClient()
        defer { client.close() }
        let record = try await client.setItemsAvailable(items, available: available, model: model)
        print("\(available ? "shown" : "hidden"): \(items.map(String.init).joined(separator: " ")) (journal record \(record))")
    }
}
