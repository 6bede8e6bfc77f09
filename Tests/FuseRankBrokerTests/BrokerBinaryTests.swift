import Foundation
import FuseRankClient
import FuseRankTestSupport
import FuseRankTransport
import Testing

/// The built `fuserank-broker` and `fuserank-server` with CURVE on every link, set up with the
/// commands of docs/deploy.md ("CURVE on every link"): keys from `fuserank keygen`, allowlists
/// made of `.pub` files.
@Suite(.serialized, .enabled(if: CurveKeyPair.isSupported, "libzmq built without CURVE"))
struct BrokerBinaryTests {
    let dir: String

    init() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("fuserank-broker-bin-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    /// `cat A.pub B.pub > name`: a `.pub` file is a valid allowlist, and so are several together.
    func allowlist(_ name: String, _ pubs: [String]) throws {
        let text = try pubs.map { try String(contentsOfFile: "\(dir)/\($0).pub", encoding: .utf8) }.joined()
        try Data(text.utf8).write(to: URL(fileURLWithPath: "\(dir)/\(name)"))
    }

    /// A client of `frontend` with the key pair `dir/name.key`, pinning the broker's public key.
    func client(_ frontend: String, _ name: String) throws -> FuseRankClient {
        var options = FuseRankClientOptions(timeoutMs: 10_000, retry: .none)
        options.curve = CurveClientKeys(
            serverPublicKey: try CurveKey.readPublicKey("\(dir)/broker.pub"), client: try CurveKey.readSecretKey("\(dir)/\(name).key"))
        return try FuseRankClient(endpoint: frontend, options: options)
    }

    @Test func adminCallsThroughACurveBroker() async throws {
        for name in ["broker", "server", "admin", "ranker"] {
            #expect(try ChildProcess.run("fuserank", arguments: ["keygen", "--out", "\(dir)/\(name)"]) == 0)
        }
        try allowlist("clients.allow", ["admin", "ranker"])
        try allowlist("servers.allow", ["server"])
        try allowlist("admins.allow", ["admin"])
        let broker = try ChildProcess("fuserank-broker", arguments: [
            "--frontend", "tcp://127.0.0.1:0", "--backend", "tcp://127.0.0.1:0", "--health", "tcp://127.0.0.1:0",
            "--curve-secret-key", "\(dir)/broker.key", "--curve-allow", "\(dir)/clients.allow", "--server-allow", "\(dir)/servers.allow",
        ], readyPrefix: "fuserank-broker: ")
        // frontend <endpoint> backend <endpoint> health <endpoint>
        let words = broker.ready.split(separator: " ").map(String.init)
        let (frontend, backend, health) = (words[1], words[3], words[5])
        let server = try ChildProcess("fuserank-server", arguments: [
            "--connect", backend, "--model", BrokerTests.tiny, "--workers", "1", "--state-dir", "\(dir)/state",
            "--curve-secret-key", "\(dir)/server.key", "--broker-key", "\(dir)/broker.pub", "--admin-allow", "\(dir)/admins.allow",
        ], readyPrefix: "fuserank-server: serving through ")
        #expect(server.ready == backend)

        let brokerHealth = try FuseRankClient(endpoint: health)
        let deadline = ContinuousClock.now + .seconds(30)
        while try await !brokerHealth.health().ready {
            guard ContinuousClock.now < deadline else { throw CancellationError() }
            try await Task.sleep(for: .milliseconds(20))
        }
        let admin = try client(frontend, "admin")
        let top = try await admin.rank(topK: 1).items.map(\.itemID)
        #expect(try await admin.setItemsAvailable(top, available: false) == 1)
        let ranker = try client(frontend, "ranker")
        let denied = await #expect(throws: FuseRankClientError.self) { try await ranker.setItemsAvailable(top, available: true) }
        #expect(denied?.code == .permissionDenied)
        for c in [brokerHealth, admin, ranker] { c.close() }
        #expect(server.stop() == 0)
        #expect(broker.stop() == 0)
    }

    @Test func unusableKeyFilesExitTwo() throws {
        try Data("not a key\n".utf8).write(to: URL(fileURLWithPath: "\(dir)/bad.key"))
        try Data("".utf8).write(to: URL(fileURLWithPath: "\(dir)/empty.allow"))
        #expect(try ChildProcess.run("fuserank-broker", arguments: [
            "--frontend", "tcp://127.0.0.1:0", "--backend", "tcp://127.0.0.1:0",
            "--curve-secret-key", "\(dir)/bad.key", "--server-allow", "\(dir)/empty.allow",
        ]) == 2)
        #expect(try ChildProcess.run("fuserank-server", arguments: [
            "--connect", "tcp://127.0.0.1:1", "--model", BrokerTests.tiny,
            "--curve-secret-key", "\(dir)/bad.key", "--broker-key", "\(dir)/bad.key",
        ]) == 2)
        // Half a CURVE setup is refused before anything starts.
        #expect(try ChildProcess.run("fuserank-broker", arguments: ["--curve-allow", "\(dir)/empty.allow"]) != 0)
    }
}
