import ArgumentParser
import FuseRankClient

/// `fuserank reload`: rescan the server's model repositories now and print each model's state.
struct ReloadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reload",
        abstract: "Make the server rescan its model repositories; print each model's served version and last load error.")

    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
        try await reportingFailures {
            let client = try connection.makeClient()
            defer { client.close() }
            let reply = try await client.reloadModels()
            for model in reply.models {
                var line = "\(model.model): \(model.version.isEmpty ? "not served" : "version \(model.version)")"
                if !model.failedVersion.isEmpty { line += "; version \(model.failedVersion) failed: \(model.error)" }
                print(line)
            }
        }
    }
}
