import Foundation
import FuseRankServer
import FuseRankWire
import Testing

/// Under concurrent bursts from many peers, every request gets exactly one reply, with its id and
/// the code its content calls for.
@Suite struct BurstTests {
    /// What a peer sends as request `id`, and the code it expects back.
    static func request(_ id: UInt64) -> (method: String, body: [UInt8], code: StatusCode) {
        switch id % 6 {
        case 0: return (Method.health.path, [], .ok)
        case 1: return (Method.rank.path, RankRequest(events: [Event(itemID: 85320, type: .view)], topK: 5).encode(), .ok)
        case 2: return (Method.rank.path, RankRequest(candidates: [85320, 7603, 5], model: "tiny-noimage").encode(), .ok)
        case 3: return (Method.rank.path, RankRequest(textTokens: [99]).encode(), .invalidArgument)
        case 4: return (Method.rank.path, RankRequest(model: "missing").encode(), .notFound)
        default: return ("/fuserank.v1.Ranker/Missing", [], .unimplemented)
        }
    }

    @Test func everyRequestGetsExactlyOneReply() throws {
        let server = try TestServer { $0.workers = 2; $0.maxBatch = 4 }
        let peers = 8
        let perPeer = 300
        let failures = FailureLog()
        let done = DispatchGroup()
        for p in 0..<peers {
            let endpoint = server.endpoint
            done.enter()
            Thread {
                defer { done.leave() }
                do {
                    let peer = try Peer(endpoint: endpoint)
                    let base = UInt64(p * 1_000_000)
                    // Pipelined: all sent before any reply is read.
                    for n in 1...perPeer {
                        let r = Self.request(UInt64(n))
                        try peer.send(r.method, id: base + UInt64(n), body: r.body, timeoutMs: 60_000)
                    }
                    var seen = Set<UInt64>()
                    for _ in 1...perPeer {
                        let reply = try peer.receive(timeoutMs: 30_000)
                        let id = reply.header.requestID
                        guard id > base, id <= base + UInt64(perPeer) else {
                            failures.add("peer \(p): reply for a request it did not send: \(id)")
                            continue
                        }
                        if !seen.insert(id).inserted { failures.add("peer \(p): two replies for \(id)") }
                        let n = id - base
                        let expected = Self.request(n).code
                        if reply.header.code != expected {
                            failures.add("peer \(p): \(id) got \(reply.header.code.name) (\(reply.header.message)), expected \(expected.name)")
                        }
                        if expected == .ok && n % 6 != 0 {
                            let items = try RankReply(bytes: reply.body).items.count
                            if items != (n % 6 == 1 ? 5 : 2) { failures.add("peer \(p): \(id) has \(items) items") }
                        }
                    }
                    if try peer.hasMessage(timeoutMs: 50) { failures.add("peer \(p): an extra reply") }
                } catch {
                    failures.add("peer \(p): \(error)")
                }
            }.start()
        }
        #expect(done.wait(timeout: .now() + .seconds(120)) == .success)
        #expect(failures.messages.isEmpty, "\(failures.messages.prefix(10))")
        let total = peers * perPeer
        let counted = [StatusCode.ok, .invalidArgument, .notFound, .unimplemented].map(server.server.repliesSent).reduce(0, +)
        #expect(counted == total)
        server.stop()
        #expect(server.server.state == .stopped)
    }
}

/// Failures collected from several threads.
// @unchecked Sendable: `entries` is only touched while `lock` is held.
final class FailureLog: @unchecked Sendable {
    private let lock = NSLock()
    private var entries: [String] = []

    func add(_ message: String) {
        lock.lock()
        entries.append(message)
        lock.unlock()
    }

    var messages: [String] {
        lock.lock()
        defer { lock.unlock() }
        return entries
    }
}
