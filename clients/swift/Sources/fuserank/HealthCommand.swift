import ArgumentParser
import FuseRankClient

/// `fuserank health`: whether the server is serving; exit status 2 when it is not ready.
struct HealthCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "health",
        abstract: "Ask whether the server is ready (exit status 2 when it is not).")

    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
        try await reportingFailures {
            let client = try connection.makeClient()
            defer { client.close() }
            let health = try await client.health()
            let models = health.models.isEmpty ? "none" : health.models.joined(separator: ", ")
            print("\(health.ready ? "ready" : "not ready") (\(health.state.isEmpty ? "unknown state" : health.state)); models: \(models)")
            if !health.ready { throw ExitCode(2) }
        }
    }
}
