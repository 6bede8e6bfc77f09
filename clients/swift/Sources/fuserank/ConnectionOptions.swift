import ArgumentParser
import Foundation
import FuseRankClient

/// The options every subcommand shares: where the server is and how long to wait.
struct ConnectionOptions: ParsableArguments {
    @Option(
        name: .customLong("endpoint"),
        help: "A server's (or broker's) ZeroMQ endpoint; repeat to spread calls over several (default tcp://127.0.0.1:5555).")
    var endpoints: [String] = []

    @Option(name: .customLong("timeout-ms"), help: "How long one attempt waits for its reply, in milliseconds.")
    var timeoutMs = 2000

    @Option(help: "Extra attempts after a timeout or an UNAVAILABLE reply.")
    var retries = 2

    func validate() throws {
        guard timeoutMs > 0 else { throw ValidationError("--timeout-ms must be positive") }
        guard retries >= 0 else { throw ValidationError("--retries must be 0 or more") }
    }

    /// A client for these options.
    /// - Returns: The client.
    /// - Throws: ``FuseRankClientError`` for a malformed endpoint.
    func makeClient() throws(FuseRankClientError) -> FuseRankClient {
        let options = FuseRankClientOptions(
            timeoutMs: timeoutMs, retry: RetryPolicy(retries: retries),
            metadata: ["client": "fuserank-cli"])
        return try FuseRankClient(endpoints: endpoints.isEmpty ? ["tcp://127.0.0.1:5555"] : endpoints, options: options)
    }
}

/// Runs `body`, turning a ``FuseRankClientError`` into `error: CODE: message` on stderr and exit
/// status 1.
/// - Parameter body: The subcommand's work.
/// - Throws: `ExitCode.failure` after printing, or whatever else `body` throws.
func reportingFailures(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let error as FuseRankClientError {
        printError("error: \(error.description)")
        throw ExitCode.failure
    }
}

/// Writes a line to stderr.
func printError(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}
