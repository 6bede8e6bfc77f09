import FuseRankClient
import FuseRankServer
import Testing

/// The Swift client library against the real server over ZeroMQ.
@Suite struct SwiftClientTests {
    @Test func clientRanksAndDescribes() async throws {
        let server = try TestServer()
        let client = try FuseRankClient(endpoint: server.endpoint, options: FuseRankClientOptions(timeoutMs: 10_000, retry: .none))
        defer { client.close() }
        let health = try await client.health()
        #expect(health.ready && health.models == ["tiny", "tiny-noimage"])
        let info = try await client.modelInfo(model: "tiny-noimage")
        #expect(info.name == "tiny-noimage" && info.numItems == 40)
        let reply = try await client.rank(events: [Event(itemID: 85320, type: .view)], candidates: [85320, 7603, 5], topK: 0)
        #expect(reply.items.map(\.itemID).sorted() == [7603, 85320])
        #expect(reply.unknownCandidates == [5])
        await #expect(throws: FuseRankClientError.self) { try await client.rank(model: "nope") }
        do {
            _ = try await client.rank(images: [[1, 2]])
            Issue.record("an image of the wrong length was accepted")
        } catch {
            #expect(error.code == .invalidArgument)
            #expect(error.message.contains("images[0] has 2 values, the model takes 6"))
        }
    }

    /// Many tasks share one client; each gets the reply to its own request.
    @Test func concurrentCallsGetTheirOwnReplies() async throws {
        let server = try TestServer()
        let client = try FuseRankClient(endpoint: server.endpoint, options: FuseRankClientOptions(timeoutMs: 30_000, retry: .none))
        defer { client.close() }
        let topKs = await withTaskGroup(of: (UInt32, Int).self) { group in
            for n in 0..<200 {
                let k = UInt32(1 + n % 40)
                group.addTask { (k, (try? await client.rank(topK: k).items.count) ?? -1) }
            }
            var results: [(UInt32, Int)] = []
            for await result in group { results.append(result) }
            return results
        }
        #expect(topKs.count == 200)
        #expect(topKs.allSatisfy { Int($0.0) == $0.1 })
    }
}
