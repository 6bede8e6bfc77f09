import ArgumentParser
import FuseRankClient

/// `fuserank info`: describe a model (name, version, input sizes).
struct InfoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Describe a model: name, version and the inputs it takes.")

    @OptionGroup var connection: ConnectionOptions

    @Option(help: "The model name (default: the server's default model).")
    var model = ""

    func run() async throws {
        try await reportingFailures {
            let client = try connection.makeClient()
            defer { client.close() }
            let info = try await client.modelInfo(model: model)
            let rows: [(String, String)] = [
                ("name", info.name + (info.isDefault ? " (default)" : "")), ("version", info.version),
                ("num_items", String(info.numItems)), ("image_dim", String(info.imageDim)),
                ("text_vocab_size", String(info.textVocabSize)), ("max_events", String(info.maxEvents)),
                ("max_text_tokens", String(info.maxTextTokens)), ("max_images", String(info.maxImages)),
                ("d_model", String(info.dModel)), ("n_layers", String(info.nLayers)),
            ]
            let width = rows.map(\.0.count).max() ?? 0
            for (key, value) in rows {
                print(key + ":" + String(repeating: " ", count: width - key.count + 1) + value)
            }
        }
    }
}
