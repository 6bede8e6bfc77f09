import Foundation
import FuseRankBroker
import FuseRankClient
import FuseRankServer
import FuseRankWire
import Testing

@testable import FuseRankBroker

/// Routing by session: through a broker, each session's Rank calls reach one replica (its session
/// cache extends the cached prefix every time, and the session is held once), calls without a
/// session go round-robin, and a replica that drains hands its sessions to the others at once.
@Suite(.serialized) struct SessionAffinityTests {
    static func events(_ n: Int) -> [Event] {
        (0..<n).map { Event(itemID: Int64(3 + $0 % 30), type: .view, timestampMs: 1_700_000_000_000 + Int64($0) * 1000) }
    }

    @Test func aSessionStaysOnOneReplicaAndMovesWhenItDrains() async throws {
        let (broker, endpoints) = try BrokerTests.startBroker()
        let servers = try (0..<3).map { _ in try BrokerTests.startServer(backend: endpoints.backend) }
        try await BrokerTests.waitFor(broker) { $0.servers == 3 }
        let client = try FuseRankClient(endpoint: endpoints.frontend, options: FuseRankClientOptions(timeoutMs: 10_000))
        let sessions = (0..<12).map { "shopper-\($0)" }
        for step in 1...4 {
            for session in sessions {
                _ = try await client.rank(events: Self.events(step), topK: 3, nowMs: 1_800_000_000_000, sessionID: session)
            }
        }
        var stats = servers.map { $0.sessionCacheStatistics! }
        // Each session is held by one replica: one miss (its first call), then hits only.
        #expect(stats.map(\.sessions).reduce(0, +) == 12)
        #expect(stats.map(\.misses).reduce(0, +) == 12 && stats.map(\.hits).reduce(0, +) == 36)
        #expect(stats.filter { $0.sessions > 0 }.count >= 2, "12 sessions all on one replica: \(stats)")

        // Calls without a session still go round-robin.
        let before = servers.map { $0.repliesSent(.ok) }
        for _ in 0..<9 { _ = try await client.rank(events: Self.events(2), topK: 3) }
        #expect(zip(servers, before).allSatisfy { $0.repliesSent(.ok) - $1 == 3 })

        // The replica with the most sessions drains: it leaves the roster at once, and only its
        // sessions move (one new miss each); no call fails.
        let drained = stats.indices.max { stats[$0].sessions < stats[$1].sessions }!
        let moved = stats[drained].sessions
        servers[drained].stop()
        servers[drained].waitUntilStopped()
        try await BrokerTests.waitFor(broker) { $0.servers == 2 }
        let kept = servers.indices.filter { $0 != drained }
        let missesBefore = kept.map { servers[$0].sessionCacheStatistics!.misses }.reduce(0, +)
        for session in sessions {
            _ = try await client.rank(events: Self.events(5), topK: 3, nowMs: 1_800_000_000_000, sessionID: session)
        }
        stats = kept.map { servers[$0].sessionCacheStatistics! }
        #expect(stats.map(\.misses).reduce(0, +) - missesBefore == moved)
        for i in kept { servers[i].stop(); servers[i].waitUntilStopped() }
        broker.stop()
        broker.waitUntilStopped()
    }

    @Test func rendezvousHashingMovesOnlyTheSessionsOfAServerThatLeaves() {
        var roster = ServerRoster(silenceLimit: .seconds(3))
        let now = ContinuousClock.now
        let ids: [[UInt8]] = (0..<4).map { [0, 0x80, UInt8($0), 7, 9] }
        for id in ids { roster.heard(id, at: now) }
        let sessions = (0..<400).map { "s\($0)" }
        var before: [[UInt8]] = []
        for s in sessions { before.append(roster.pick(session: s)!) }
        let counts = ids.map { id in before.filter { $0 == id }.count }
        #expect(counts.allSatisfy { $0 > 60 }, "uneven spread: \(counts)")
        let removed = roster.remove(ids[1])
        #expect(removed)
        var after: [[UInt8]] = []
        for s in sessions { after.append(roster.pick(session: s)!) }
        for (b, a) in zip(before, after) { #expect(b == ids[1] ? a != ids[1] : a == b) }
        // Round-robin without a session; a server that left is not taken back by a late reply.
        var turns: [[UInt8]] = []
        for _ in 0..<6 { turns.append(roster.pick(session: nil)!) }
        #expect(turns == [ids[0], ids[2], ids[3], ids[0], ids[2], ids[3]])
        roster.refresh(ids[1], at: now)
        #expect(roster.count == 3)
        // Silence: forgotten after the limit.
        roster.heard(ids[0], at: now + .seconds(2))
        let silent = roster.expire(at: now + .seconds(4))
        #expect(silent == [ids[2], ids[3]])
        #expect(roster.servers.map(\.id) == [ids[0]])
    }

    @Test func theBrokerPeeksTheSessionOfRankCallsOnly() {
        let header = RequestHeader(method: Method.rank.path, requestID: 7).encode()
        let body = RankRequest(events: [Event(itemID: 3)], topK: 5, sessionID: "cart-42").encode()
        #expect(BrokerForwarder.session(of: [[1, 2], [], header, body]) == "cart-42")
        #expect(BrokerForwarder.session(of: [[1, 2], header, body]) == "cart-42")  // no delimiter
        let health = RequestHeader(method: Method.health.path, requestID: 8).encode()
        #expect(BrokerForwarder.session(of: [[1, 2], [], health, body]) == nil)
        #expect(BrokerForwarder.session(of: [[1, 2], [], header, RankRequest(topK: 5).encode()]) == nil)
        #expect(BrokerForwarder.session(of: [[1, 2], [], header, [0xFF, 0xFF]]) == nil)  // not protobuf
        #expect(WirePeek.string(field: 10, in: Array(body.prefix(body.count - 1))) == nil)  // cut short
    }
}
