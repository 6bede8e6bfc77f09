import Foundation
import Testing

@testable import FuseRankClient

/// The client against the real `fuserank-server` process serving the tiny fixture model.
@Suite(.serialized) struct RealServerTests {
    @Test func healthInfoRankAndErrorsAgainstTheRealServer() async throws {
        let server = try ServerProcess()
        let client = try FuseRankClient(endpoint: server.endpoint, options: FuseRankClientOptions(timeoutMs: 5000))

        let health = try await client.health()
        #expect(health.ready && health.state == "serving" && health.models == ["tiny"])
        let info = try await client.modelInfo()
        #expect(info.name == "tiny" && info.isDefault && info.numItems == 40 && info.imageDim == 6)

        // The whole catalogue, highest score first, top_k honoured.
        let all = try await client.rank(events: [Event(itemID: 1), Event(itemID: 2)], query: "comedy", topK: 0)
        #expect(all.model == "tiny" && !all.items.isEmpty)
        #expect(all.items.map(\.score) == all.items.map(\.score).sorted(by: >))
        let top3 = try await client.rank(events: [Event(itemID: 1), Event(itemID: 2)], query: "comedy", topK: 3)
        #expect(top3.items == Array(all.items.prefix(3)))

        // Candidates: known ones scored like in the catalogue ranking, unknown ones listed.
        let known = all.items.suffix(2).map(\.itemID)
        let picked = try await client.rank(
            events: [Event(itemID: 1), Event(itemID: 2)], query: "comedy", candidates: known + [-5], topK: 0)
        #expect(Set(picked.items.map(\.itemID)) == Set(known))
        #expect(picked.unknownCandidates == [-5])

        // Errors carry the server's code and message and are not retried.
        let missing = await #expect(throws: FuseRankClientError.self) { try await client.rank(model: "nope") }
        #expect(missing?.code == .notFound)
        let badImage = await #expect(throws: FuseRankClientError.self) { try await client.rank(images: [[1, 2]]) }
        #expect(badImage?.code == .invalidArgument)
        #expect(badImage?.message.contains("6") == true)
        // A status error (the server's code), after exactly one attempt; any other case fails.
        let badImageAttempts: Int? = if case .status(_, _, let attempts)? = badImage { attempts } else { nil }
        #expect(badImageAttempts == 1, "not a status error from one attempt: \(String(describing: badImage))")
        #expect(client.statistics.retries == 0)

        // Concurrent calls through one client: every reply is its own.
        try await withThrowingTaskGroup(of: Bool.self) { group in
            for i in 0..<64 {
                let candidates = [known[i % known.count]]
                group.addTask {
                    let reply = try await client.rank(events: [Event(itemID: 1)], candidates: candidates, topK: 0)
                    return reply.items.map(\.itemID) == candidates
                }
            }
            for try await ok in group { #expect(ok) }
        }
        #expect(client.statistics.staleReplies == 0)
        #expect(try await client.health().ready)

        client.close()
        #expect(server.terminate() == 0)
    }

    @Test func explanationsFromTheRealServer() async throws {
        let server = try ServerProcess()
        let client = try FuseRankClient(endpoint: server.endpoint, options: FuseRankClientOptions(timeoutMs: 5000))
        let known = try await client.rank(topK: 8).items.map(\.itemID)
        let events = known.prefix(5).map { Event(itemID: $0, type: .click) }
        let plain = try await client.rank(events: events, candidates: Array(known.suffix(3)), topK: 0)
        let explained = try await client.rank(events: events, candidates: Array(known.suffix(3)), topK: 0, explainEvents: 2)
        // The same ranking, now with reasons: indices into the events sent, strongest first.
        #expect(explained.items.map(\.itemID) == plain.items.map(\.itemID))
        #expect(explained.items.map(\.score) == plain.items.map(\.score))
        #expect(plain.items.allSatisfy { $0.reasons.isEmpty })
        #expect(explained.items.contains { !$0.reasons.isEmpty })
        for item in explained.items {
            #expect(item.reasons.count <= 2)
            #expect(item.reasons.allSatisfy { $0.eventIndex < UInt32(events.count) && $0.weight > 0 })
            #expect(zip(item.reasons, item.reasons.dropFirst()).allSatisfy { $0.weight >= $1.weight })
        }
        let tooMany = await #expect(throws: FuseRankClientError.self) {
            try await client.rank(events: events, explainEvents: 33)
        }
        #expect(tooMany?.code == .invalidArgument)
        #expect(tooMany?.message == "explain_events is 33, at most 32 are allowed")
        client.close()
        #expect(server.terminate() == 0)
    }
}
