import Foundation
import FuseRankBroker
import FuseRankClient
import FuseRankServer
import FuseRankTransport
import Logging
import Testing

/// A broker with in-process servers behind it (`--connect`), called through the Swift client.
@Suite(.serialized) struct BrokerTests {
    static let tiny = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/golden/tiny").path
    static let quiet = Logger(label: "fuserank.test") { _ in SwiftLogNoOpLogHandler() }

    /// A broker on free loopback ports, with a Health endpoint.
    static func startBroker() throws -> (Broker, BrokerEndpoints) {
        let configuration = BrokerConfiguration(frontend: "tcp://127.0.0.1:*", backend: "tcp://127.0.0.1:*", health: "tcp://127.0.0.1:*")
        let broker = try Broker(configuration: configuration, logger: quiet)
        return (broker, try broker.start())
    }

    /// A server that only connects to `backend` (no ROUTER of its own).
    static func startServer(backend: String, configure: (inout ServerConfiguration) -> Void = { _ in }) throws -> RankServer {
        var configuration = ServerConfiguration(bind: nil, connect: [backend], modelPaths: [tiny])
        configuration.workers = 1
        configure(&configuration)
        let server = try RankServer(configuration: configuration, logger: quiet)
        #expect(try server.start() == nil)  // nothing bound
        return server
    }

    /// Waits (bounded) until `condition` holds on the broker's snapshot.
    static func waitFor(_ broker: Broker, _ condition: (BrokerStatistics) -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(20)
        while !condition(broker.statistics) {
            guard ContinuousClock.now < deadline else { throw CancellationError() }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    @Test func callsGoThroughTheBrokerAndBack() async throws {
        let (broker, endpoints) = try Self.startBroker()
        let servers = try (0..<2).map { _ in try Self.startServer(backend: endpoints.backend) }
        try await Self.waitFor(broker) { $0.servers == 2 }

        let health = try FuseRankClient(endpoint: try #require(endpoints.health))
        let brokerHealth = try await health.health()
        #expect(brokerHealth.ready && brokerHealth.state == "serving" && brokerHealth.models.isEmpty)

        let client = try FuseRankClient(endpoint: endpoints.frontend, options: FuseRankClientOptions(timeoutMs: 10_000, retry: .none))
        // Health sent to the frontend is answered by a server.
        #expect(try await client.health().models == ["tiny"])
        for _ in 0..<10 {
            let reply = try await client.rank(events: [Event(itemID: 3)], topK: 3)
            #expect(reply.items.count == 3)
        }
        // Every call answered by exactly one server, and both served: the broker takes them in
        // turn. With the roster unchanged throughout (both joined once, neither left), turn-taking
        // over sequential calls splits them within one of each other.
        let answered = servers.map { $0.repliesSent(.ok) }
        #expect(answered.reduce(0, +) == 11 && answered.allSatisfy { $0 > 0 }, "\(answered)")
        if broker.statistics.serversAccepted == 2 {
            #expect(abs(answered[0] - answered[1]) <= 1, "\(answered)")
        }

        try await Self.waitFor(broker) { $0.traffic.frontend.messagesOut == 11 }
        let statistics = broker.statistics
        #expect(statistics.traffic.frontend.messagesIn == 11 && statistics.traffic.backend.messagesOut == 11)
        #expect(statistics.traffic.backend.messagesIn == 11 && statistics.unanswered == 0)
        #expect(statistics.traffic.frontend.bytesIn == statistics.traffic.backend.bytesOut)
        #expect(statistics.trailers["servers"] == "2")

        for server in servers {
            server.stop()
            server.waitUntilStopped()
        }
        try await Self.waitFor(broker) { $0.servers == 0 }
        #expect(try await health.health().ready == false)  // forwarding, but nobody to forward to
        broker.stop()
        broker.waitUntilStopped()
        #expect(broker.state == .stopped)
        #expect(broker.statistics.traffic.frontend.messagesOut == 11)
    }

    @Test func pausedCallsWaitUntilResume() async throws {
        let (broker, endpoints) = try Self.startBroker()
        let server = try Self.startServer(backend: endpoints.backend)
        try await Self.waitFor(broker) { $0.servers == 1 }
        let client = try FuseRankClient(endpoint: endpoints.frontend, options: FuseRankClientOptions(timeoutMs: 30_000, retry: .none))
        _ = try await client.rank(topK: 1)

        broker.pause()
        try await Self.waitFor(broker) { $0.state == .paused }
        let health = try FuseRankClient(endpoint: try #require(endpoints.health))
        #expect(try await health.health().state == "paused")
        let call = Task { try await client.rank(topK: 2) }
        // The request is sent and stays in the broker's frontend socket: a paused broker does not
        // even read it. Health round trips on the broker's own endpoint are answered by the same
        // loop that would forward it, after the call was handed to the transport: each is a loop
        // pass in which a broker ignoring PAUSE would have read and forwarded the call.
        try await Self.waitFor(broker) { _ in client.statistics.sent == 2 }
        for _ in 0..<3 { #expect(try await health.health().state == "paused") }
        #expect(broker.statistics.traffic.frontend.messagesIn == 1)
        #expect(broker.statistics.traffic.backend.messagesOut == 1)
        #expect(server.repliesSent(.ok) == 1)
        broker.resume()
        #expect(try await call.value.items.count == 2)
        #expect(server.repliesSent(.ok) == 2)

        server.stop()
        server.waitUntilStopped()
        broker.stop()
        broker.waitUntilStopped()
        let final = broker.statistics
        #expect(final.traffic.frontend.messagesIn == 2 && final.traffic.frontend.messagesOut == 2)
    }

    /// Through a plaintext broker the caller is unknown: admin calls need --admin-insecure, as on
    /// a plaintext bound socket.
    @Test func adminCallsThroughAPlaintextBrokerNeedAdminInsecure() async throws {
        let (broker, endpoints) = try Self.startBroker()
        let state = FileManager.default.temporaryDirectory.appendingPathComponent("fuserank-state-\(UUID().uuidString)").path
        let open = try Self.startServer(backend: endpoints.backend) {
            $0.adminInsecure = true
            $0.stateDirectory = state
        }
        try await Self.waitFor(broker) { $0.servers == 1 }
        let client = try FuseRankClient(endpoint: endpoints.frontend, options: FuseRankClientOptions(timeoutMs: 10_000, retry: .none))
        let top = try await client.rank(topK: 1).items.map(\.itemID)
        #expect(try await client.setItemsAvailable(top, available: false) == 1)
        open.stop()
        open.waitUntilStopped()
        try await Self.waitFor(broker) { $0.servers == 0 }

        let closed = try Self.startServer(backend: endpoints.backend) { $0.stateDirectory = state }
        try await Self.waitFor(broker) { $0.servers == 1 }
        let denied = await #expect(throws: FuseRankClientError.self) { try await client.setItemsAvailable(top, available: true) }
        #expect(denied?.code == .permissionDenied)
        client.close()
        closed.stop()
        closed.waitUntilStopped()
        broker.stop()
        broker.waitUntilStopped()
    }
}
