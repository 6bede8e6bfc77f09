import Foundation
import FuseRankBroker
import FuseRankClient
import FuseRankServer
import FuseRankTestSupport
import FuseRankTransport
import Logging
import Testing

/// CURVE on every link of a broker: clients -> CURVE frontend -> CURVE backend -> servers that pin
/// the broker's key, with admin calls decided by the caller's key the broker passes on.
@Suite(.serialized, .enabled(if: CurveKeyPair.isSupported, "libzmq built without CURVE"))
struct BrokerCurveTests {
    /// Every key of the cluster and the files the broker and the servers read.
    struct Keys {
        let broker: CurveKeyPair
        let server: CurveKeyPair
        /// On the broker's --curve-allow and the server's --admin-allow.
        let admin: CurveKeyPair
        /// On the broker's --curve-allow only.
        let ranker: CurveKeyPair
        let folder: String

        init() throws {
            broker = try .generate()
            server = try .generate()
            admin = try .generate()
            ranker = try .generate()
            folder = FileManager.default.temporaryDirectory.appendingPathComponent("fuserank-broker-keys-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            try CurveKey.write(broker, prefix: folder + "/broker")
            try CurveKey.write(server, prefix: folder + "/server")
            try write("clients.allow", [admin, ranker])
            try write("servers.allow", [server])
            try write("admins.allow", [admin])
        }

        /// Writes an allowlist of `pairs`' public keys.
        func write(_ name: String, _ pairs: [CurveKeyPair]) throws {
            let text = "# test allowlist\n" + pairs.map { $0.publicKey + "\n" }.joined()
            try Data(text.utf8).write(to: URL(fileURLWithPath: folder + "/" + name))
        }

        func path(_ name: String) -> String { folder + "/" + name }
    }

    let keys: Keys
    /// A synthetic bundle with a content projection, so UpsertItems has something to do.
    let model: String
    let state: String

    init() throws {
        keys = try Keys()
        var synthetic = SyntheticBundle()
        synthetic.addContentProjection(contentDim: 2)
        model = try synthetic.write()
        state = FileManager.default.temporaryDirectory.appendingPathComponent("fuserank-state-\(UUID().uuidString)").path
    }

    /// A broker with CURVE on both sides (clients and servers from ``Keys``).
    func startBroker() throws -> (Broker, BrokerEndpoints) {
        var configuration = BrokerConfiguration(frontend: "tcp://127.0.0.1:*", backend: "tcp://127.0.0.1:*", health: "tcp://127.0.0.1:*")
        configuration.curveSecretKeyPath = keys.path("broker.key")
        configuration.curveAllowPath = keys.path("clients.allow")
        configuration.serverAllowPath = keys.path("servers.allow")
        let broker = try Broker(configuration: configuration, logger: BrokerTests.quiet)
        return (broker, try broker.start())
    }

    /// A server behind `backend` with `secretKey` (nil: a plaintext link), pinning the broker's
    /// key, then changed by `configure`.
    func startServer(
        backend: String, secretKey: String? = "server.key", configure: (inout ServerConfiguration) -> Void = { _ in }
    ) throws -> RankServer {
        var configuration = ServerConfiguration(bind: nil, connect: [backend], modelPaths: [model])
        configuration.workers = 1
        configuration.stateDirectory = state
        if let secretKey {
            configuration.curveSecretKeyPath = keys.path(secretKey)
            configuration.brokerKeyPath = keys.path("broker.pub")
            configuration.adminAllowPath = keys.path("admins.allow")
        }
        configure(&configuration)
        let server = try RankServer(configuration: configuration, logger: BrokerTests.quiet)
        try server.start()
        return server
    }

    /// A client of the broker's frontend holding `pair`.
    func client(_ endpoint: String, _ pair: CurveKeyPair, timeoutMs: Int = 10_000) throws -> FuseRankClient {
        var options = FuseRankClientOptions(timeoutMs: timeoutMs, retry: .none)
        options.curve = CurveClientKeys(serverPublicKey: keys.broker.publicKey, client: pair)
        return try FuseRankClient(endpoint: endpoint, options: options)
    }

    /// Every reply `server` sent, whatever its code.
    static func replies(_ server: RankServer) -> Int { StatusCode.allCases.map(server.repliesSent).reduce(0, +) }

    static func stop(_ servers: [RankServer], _ broker: Broker) {
        for server in servers {
            server.stop()
            server.waitUntilStopped()
        }
        broker.stop()
        broker.waitUntilStopped()
    }

    @Test func adminCallsGoThroughAndOtherKeysAreRefused() async throws {
        let (broker, endpoints) = try startBroker()
        let server = try startServer(backend: endpoints.backend)
        try await BrokerTests.waitFor(broker) { $0.servers == 1 }

        let admin = try client(endpoints.frontend, keys.admin)
        let added = try await admin.upsertItems([ItemContent(itemID: 5000, textTokens: [2])])
        #expect(added.added == 1)
        let top = try await admin.rank(topK: 3).items.map(\.itemID)
        #expect(try await admin.setItemsAvailable([top[0]], available: false) == 2)
        #expect(try await admin.rank(topK: 2).items.map(\.itemID) == Array(top[1...2]))

        // Ranking works for any admitted key; the admin methods do not.
        let ranker = try client(endpoints.frontend, keys.ranker)
        #expect(try await ranker.rank(events: [Event(itemID: 128)], topK: 3).items.count == 3)
        let denied = await #expect(throws: FuseRankClientError.self) { try await ranker.setItemsAvailable([top[0]], available: true) }
        #expect(denied?.code == .permissionDenied)
        let deniedUpsert = await #expect(throws: FuseRankClientError.self) {
            try await ranker.upsertItems([ItemContent(itemID: 5001, textTokens: [2])])
        }
        #expect(deniedUpsert?.code == .permissionDenied)

        // A key the broker does not know gets no answer at all.
        let stranger = try client(endpoints.frontend, try .generate(), timeoutMs: 500)
        let refused = await #expect(throws: FuseRankClientError.self) { try await stranger.rank(topK: 1) }
        #expect(refused?.code == .deadlineExceeded)
        #expect(server.repliesSent(.permissionDenied) == 2)
        for c in [admin, ranker, stranger] { c.close() }
        Self.stop([server], broker)
    }

    /// The identity frame is the broker's alone: a frame the client adds makes the call malformed,
    /// and a well-formed call's reply has exactly the frames a client always got.
    @Test func aForgedIdentityFrameIsInvalid() async throws {
        let (broker, endpoints) = try startBroker()
        let server = try startServer(backend: endpoints.backend)
        try await BrokerTests.waitFor(broker) { $0.servers == 1 }
        let context = try ZMQContext()
        let dealer = try ZMQSocket(context: context, type: .dealer)
        defer {
            dealer.close()
            try? context.terminate()
        }
        try dealer.makeCurveClient(serverKey: keys.broker.publicKey, keys: keys.ranker)
        try dealer.setReceiveTimeout(10_000)
        try dealer.connect(endpoints.frontend)

        let hide = SetItemsAvailableRequest(itemIDs: [128], available: false).encode()
        let header = RequestHeader(method: .setItemsAvailable, requestID: 7).encode()
        try dealer.send([[], header, hide, Array(keys.admin.publicKey.utf8)])
        let forged = try #require(try dealer.receiveMultipart())
        #expect(forged.count == 3 && forged[0].isEmpty)
        let forgedHeader = try ReplyHeader(bytes: forged[1])
        #expect(forgedHeader.code == .invalidArgument && forgedHeader.requestID == 7)
        #expect(forgedHeader.message.contains("[RequestHeader][request][caller], got 4"))

        try dealer.send([[], RequestHeader(method: .health, requestID: 8).encode(), []])
        let health = try #require(try dealer.receiveMultipart())
        #expect(health.count == 3 && health[0].isEmpty)
        #expect(try ReplyHeader(bytes: health[1]).code == .ok)
        Self.stop([server], broker)
    }

    /// A server whose key is not on --server-allow, that connects in plaintext, or that pins
    /// another broker key never joins: the broker does not count it and sends it nothing. A
    /// listed server then joins at once.
    @Test func anUnknownServerCannotJoin() async throws {
        let (broker, endpoints) = try startBroker()
        try CurveKey.write(try .generate(), prefix: keys.path("stranger"))
        let stranger = try startServer(backend: endpoints.backend, secretKey: "stranger.key")
        let plaintext = try startServer(backend: endpoints.backend, secretKey: nil)
        try CurveKey.write(try .generate(), prefix: keys.path("impostor"))
        let misled = try startServer(backend: endpoints.backend) { $0.brokerKeyPath = keys.path("impostor.pub") }
        let client = try client(endpoints.frontend, keys.ranker, timeoutMs: 1000)
        let unanswered = await #expect(throws: FuseRankClientError.self) { try await client.rank(topK: 1) }
        #expect(unanswered?.code == .deadlineExceeded)
        #expect(broker.statistics.servers == 0 && broker.statistics.serversAccepted == 0)
        let health = try FuseRankClient(endpoint: try #require(endpoints.health))
        #expect(try await health.health().ready == false)

        let server = try startServer(backend: endpoints.backend)
        try await BrokerTests.waitFor(broker) { $0.servers == 1 }
        #expect(try await client.rank(topK: 2).items.count == 2)
        #expect(broker.statistics.servers == 1 && broker.statistics.serversAccepted == 1)
        #expect(Self.replies(stranger) + Self.replies(plaintext) + Self.replies(misled) == 0)
        // The call that timed out waited in the broker and went to the first server to join (which
        // may still have been starting: UNAVAILABLE), then this one.
        #expect(Self.replies(server) == 2 && server.repliesSent(.ok) >= 1)
        client.close()
        health.close()
        Self.stop([stranger, plaintext, misled, server], broker)
    }

    /// A bind that fails after a ZAP handler started (the backend's port is taken) leaves nothing
    /// running: the broker is stopped and the same configuration starts once the port is free.
    @Test func aFailedStartClosesEverything() throws {
        let (first, endpoints) = try startBroker()
        var configuration = first.configuration
        configuration.backend = endpoints.backend
        let second = try Broker(configuration: configuration, logger: BrokerTests.quiet)
        #expect(throws: BrokerError.self) { try second.start() }
        #expect(second.state == .stopped)
        second.waitUntilStopped()
        first.stop()
        first.waitUntilStopped()
        let third = try Broker(configuration: configuration, logger: BrokerTests.quiet)
        #expect(try third.start().backend == endpoints.backend)
        third.stop()
        third.waitUntilStopped()
    }
}
