import Foundation
import Testing

@testable import FuseRankClient

/// A client with several endpoints (replicas or brokers): calls are spread, and a call whose
/// server does not answer is retried on another.
@Suite struct SeveralEndpointsTests {
    @Test func sequentialCallsAlternateBetweenIdleEndpoints() async throws {
        let servers = try (0..<2).map { _ in try FakeRanker(handler: FuseRankClientTests.rankByInverseID) }
        let client = try FuseRankClient(endpoints: servers.map(\.endpoint), options: FuseRankClientTests.options())
        #expect(client.endpoints == servers.map(\.endpoint) && client.endpoint == servers[0].endpoint)
        for id: Int64 in 1...10 {
            #expect(try await client.rank(candidates: [id]).items == [ScoredItem(itemID: id, score: 1 / Float(id))])
        }
        // No call is ever waiting when the next starts: every tie goes round-robin.
        #expect(servers.map(\.calls.count) == [5, 5])
        #expect(client.statistics.attempts == 10 && client.statistics.retries == 0)
    }

    @Test func concurrentCallsGoWhereFewestAreWaiting() async throws {
        // The first server holds its calls (never answers); the other answers at once.
        let holding = try FakeRanker { _ in [] }
        let answering = try FakeRanker(handler: FuseRankClientTests.rankByInverseID)
        let client = try FuseRankClient(
            endpoints: [holding.endpoint, answering.endpoint], options: FuseRankClientTests.options(timeoutMs: 60_000, retries: 0))
        let held = Task { try await client.rank(candidates: [1]) }
        #expect(await holding.waitForCalls(1))
        // One call waits on `holding`: the next calls go to `answering`, whatever the turn.
        for id: Int64 in 2...6 {
            #expect(try await client.rank(candidates: [id]).items.map(\.itemID) == [id])
        }
        #expect(holding.calls.count == 1 && answering.calls.count == 5)
        held.cancel()
        await #expect(throws: FuseRankClientError.cancelled) { try await held.value }
    }

    @Test func aCallWhoseServerIsSilentIsAnsweredByAnother() async throws {
        let silent = try FakeRanker { _ in [] }
        let answering = try FakeRanker(handler: FuseRankClientTests.rankByInverseID)
        let client = try FuseRankClient(
            endpoints: [silent.endpoint, answering.endpoint], options: FuseRankClientTests.options(timeoutMs: 500, retries: 2))
        for id: Int64 in 1...6 {
            #expect(try await client.rank(candidates: [id]).items.map(\.itemID) == [id])
        }
        // The first call went to the silent server, timed out and was retried on the other; the
        // silent one is then passed over while it is suspect.
        #expect(silent.calls.count >= 1)
        let statistics = client.statistics
        #expect(statistics.retries == silent.calls.count)
        #expect(statistics.attempts == 6 + statistics.retries)
    }

    @Test func noEndpointIsAnInvalidArgument() {
        #expect(throws: FuseRankClientError.self) { try FuseRankClient(endpoints: []) }
        #expect((try? FuseRankClient(endpoints: [])) == nil)
    }
}
