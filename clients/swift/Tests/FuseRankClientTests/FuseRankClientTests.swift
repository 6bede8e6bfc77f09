import Foundation
import FuseRankTestSupport
import Testing

@testable import FuseRankClient

/// The client against a real ROUTER peer over loopback TCP (``FakeRanker``), which answers with
/// real FuseRankWire-encoded replies.
@Suite struct FuseRankClientTests {
    /// Short timeouts and pauses so the retry tests stay fast.
    static func options(timeoutMs: Int = 2000, retries: Int = 2) -> FuseRankClientOptions {
        FuseRankClientOptions(
            timeoutMs: timeoutMs, retry: RetryPolicy(retries: retries, initialBackoffMs: 5, maxBackoffMs: 20))
    }

    /// Answers Rank by scoring each candidate `1 / id`, echoing the model name.
    static let rankByInverseID: FakeRanker.Handler = { call in
        guard let request = try? RankRequest(bytes: call.body) else {
            return [.error(call, .invalidArgument, "undecodable RankRequest")]
        }
        let items = request.candidates.map { ScoredItem(itemID: $0, score: 1 / Float($0)) }
        return [.ok(call, RankReply(items: items, model: request.model, modelVersion: "v-test"))]
    }

    @Test func rankSendsEveryFieldAndDecodesTheReply() async throws {
        let server = try FakeRanker(handler: Self.rankByInverseID)
        var options = Self.options()
        options.metadata = ["caller": "tests"]
        let client = try FuseRankClient(endpoint: server.endpoint, options: options)

        let reply = try await client.rank(
            events: [Event(itemID: 7, type: .click, timestampMs: 1000), Event(itemID: 9)],
            textTokens: [5, 6], query: "comedy", images: [[0.5, -1]], candidates: [2, 4, 8], topK: 3,
            excludeSeen: true, model: "default", nowMs: 2000)
        #expect(reply.items == [ScoredItem(itemID: 2, score: 0.5), ScoredItem(itemID: 4, score: 0.25),
                                ScoredItem(itemID: 8, score: 0.125)])
        #expect(reply.model == "default")
        #expect(reply.modelVersion == "v-test")

        let call = try #require(server.calls.first)
        #expect(call.header.method == "/fuserank.v1.Ranker/Rank")
        #expect(call.header.requestID != 0)
        #expect(call.header.timeoutMs == 2000)
        #expect(call.header.metadata == ["caller": "tests"])
        let sent = try RankRequest(bytes: call.body)
        #expect(sent.events == [Event(itemID: 7, type: .click, timestampMs: 1000), Event(itemID: 9)])
        #expect(sent.textTokens == [5, 6])
        #expect(sent.query == "comedy")
        #expect(sent.images == [Embedding(values: [0.5, -1])])
        #expect(sent.candidates == [2, 4, 8])
        #expect(sent.topK == 3)
        #expect(sent.excludeSeen)
        #expect(sent.model == "default")
        #expect(sent.nowMs == 2000)
    }

    @Test func healthAndModelInfo() async throws {
        let server = try FakeRanker { call in
            switch call.header.method {
            case "/fuserank.v1.Ranker/Health":
                return [.ok(call, HealthReply(ready: true, state: "serving", models: ["default", "ml-1m"]))]
            case "/fuserank.v1.Ranker/GetModelInfo":
                let model = (try? ModelInfoRequest(bytes: call.body))?.model ?? ""
                if model == "nope" { return [.error(call, .notFound, "no model named \"nope\"")] }
                return [.ok(call, ModelInfo(name: model.isEmpty ? "default" : model, version: "3", imageDim: 64,
                                            textVocabSize: 1000, numItems: 9000, maxEvents: 200, isDefault: model.isEmpty))]
            default:
                return [.error(call, .unimplemented, "unknown method")]
            }
        }
        let client = try FuseRankClient(endpoint: server.endpoint, options: Self.options())
        let health = try await client.health()
        #expect(health == HealthReply(ready: true, state: "serving", models: ["default", "ml-1m"]))
        let info = try await client.modelInfo()
        #expect(info.name == "default" && info.isDefault && info.imageDim == 64 && info.numItems == 9000)
        #expect(try await client.modelInfo(model: "ml-1m").name == "ml-1m")
        await #expect(throws: FuseRankClientError.status(code: .notFound, message: "no model named \"nope\"", attempts: 1)) {
            try await client.modelInfo(model: "nope")
        }
    }

    @Test func droppedFirstReplyIsRetriedAfterReconnecting() async throws {
        let server = try FakeRanker { call in
            call.index == 0 ? [] : Self.rankByInverseID(call)
        }
        let client = try FuseRankClient(endpoint: server.endpoint, options: Self.options(timeoutMs: 150))
        let reply = try await client.rank(candidates: [5])
        #expect(reply.items == [ScoredItem(itemID: 5, score: 0.2)])
        let calls = server.calls
        #expect(calls.count >= 2)  // 2, or more if the machine is so loaded that 150 ms passes again
        #expect(calls[0].header.requestID != calls[1].header.requestID)
        #expect(calls[0].body == calls[1].body)
        let statistics = client.statistics
        #expect(statistics.reconnects >= 1)
        #expect(statistics.retries >= 1)
        #expect(statistics.attempts == 1 + statistics.retries)
    }

    @Test func unavailableIsRetriedThenThrownWithItsCode() async throws {
        let server = try FakeRanker { call in [.error(call, .unavailable, "draining")] }
        let client = try FuseRankClient(endpoint: server.endpoint, options: Self.options(retries: 2))
        let error = await #expect(throws: FuseRankClientError.self) { try await client.rank(candidates: [1]) }
        #expect(error == .status(code: .unavailable, message: "draining", attempts: 3))
        #expect(error?.code == .unavailable)
        #expect(server.calls.count == 3)
        #expect(client.statistics.attempts == 3)
        #expect(client.statistics.retries == 2)
        #expect(client.statistics.reconnects == 0)
    }

    @Test func unavailableOnceThenSuccess() async throws {
        let server = try FakeRanker { call in
            call.index == 0 ? [.error(call, .unavailable, "starting")] : Self.rankByInverseID(call)
        }
        let client = try FuseRankClient(endpoint: server.endpoint, options: Self.options())
        #expect(try await client.rank(candidates: [10]).items == [ScoredItem(itemID: 10, score: 0.1)])
        #expect(server.calls.count == 2)
        #expect(client.statistics.attempts == 2)
        #expect(client.statistics.retries == 1)
    }

    @Test func invalidArgumentIsNotRetried() async throws {
        let server = try FakeRanker { call in [.error(call, .invalidArgument, "image 0 has 2 values, the model takes 64")] }
        let client = try FuseRankClient(endpoint: server.endpoint, options: Self.options(retries: 3))
        let error = await #expect(throws: FuseRankClientError.self) { try await client.rank(images: [[1, 2]]) }
        #expect(error?.code == .invalidArgument)
        #expect(error?.description == "INVALID_ARGUMENT: image 0 has 2 values, the model takes 64")
        #expect(server.calls.count == 1)
        #expect(client.statistics.attempts == 1)
        #expect(client.statistics.retries == 0)
    }

    @Test func everyAttemptTimingOutThrowsDeadlineExceeded() async throws {
        let server = try FakeRanker { _ in [] }
        let client = try FuseRankClient(endpoint: server.endpoint, options: Self.options(timeoutMs: 80, retries: 1))
        let error = await #expect(throws: FuseRankClientError.self) { try await client.health() }
        #expect(error == .timedOut(attempts: 2, timeoutMs: 80))
        #expect(error?.code == .deadlineExceeded)
        #expect(server.calls.count == 2)
        #expect(client.statistics.attempts == 2)
        #expect(client.statistics.retries == 1)
    }

    @Test func staleRepliesAreDropped() async throws {
        // The first attempt is refused; the second is answered first with a duplicate reply to the
        // first attempt's id (different content), then with its own.
        let first = LockedBox<UInt64>(0)
        let server = try FakeRanker { call in
            if call.index == 0 {
                first.value = call.header.requestID
                return [.error(call, .unavailable, "busy")]
            }
            let stale = ReplyHeader(requestID: first.value, code: .ok)
            return [.reply(stale, RankReply(items: [ScoredItem(itemID: 666, score: 9)]).encode())]
                + Self.rankByInverseID(call)
        }
        let client = try FuseRankClient(endpoint: server.endpoint, options: Self.options())
        let reply = try await client.rank(candidates: [4])
        #expect(reply.items == [ScoredItem(itemID: 4, score: 0.25)])
        #expect(client.statistics.staleReplies == 1)
        // The client is not wedged: the next call works.
        #expect(try await client.rank(candidates: [2]).items == [ScoredItem(itemID: 2, score: 0.5)])
    }

    @Test func lateReplyAfterTimeoutNeverAnswersTheNextCall() async throws {
        // The first call's request is answered only when the second request arrives (too late for
        // the first), with the first call's id: the second call must get its own reply.
        let pending = LockedBox<ReceivedCall?>(nil)
        let server = try FakeRanker { call in
            if call.index == 0 {
                pending.value = call
                return []
            }
            var replies: [FakeReply] = []
            if let old = pending.value { replies += Self.rankByInverseID(old) }
            return replies + Self.rankByInverseID(call)
        }
        let client = try FuseRankClient(endpoint: server.endpoint, options: Self.options(timeoutMs: 100, retries: 0))
        await #expect(throws: FuseRankClientError.timedOut(attempts: 1, timeoutMs: 100)) {
            try await client.rank(candidates: [1])
        }
        #expect(try await client.rank(candidates: [8], timeoutMs: 5000).items == [ScoredItem(itemID: 8, score: 0.125)])
    }

    @Test func malformedRepliesAreDroppedAndTheRightOneStillArrives() async throws {
        let server = try FakeRanker { call in
            [.rawFrames([[1, 2, 3]]), .rawFrames([[0xFF, 0xFF], []])] + Self.rankByInverseID(call)
        }
        let client = try FuseRankClient(endpoint: server.endpoint, options: Self.options())
        #expect(try await client.rank(candidates: [1]).items == [ScoredItem(itemID: 1, score: 1)])
        #expect(client.statistics.malformedReplies == 2)
    }

    @Test func undecodableOKReplyIsInternal() async throws {
        let server = try FakeRanker { call in
            [.reply(ReplyHeader(requestID: call.header.requestID, code: .ok), [0x0A, 0x7F])]
        }
        let client = try FuseRankClient(endpoint: server.endpoint, options: Self.options())
        let error = await #expect(throws: FuseRankClientError.self) { try await client.rank() }
        #expect(error?.code == .internal)
    }

    @Test func concurrentCallsEachGetTheirOwnReply() async throws {
        let server = try FakeRanker(handler: Self.rankByInverseID)
        let client = try FuseRankClient(endpoint: server.endpoint, options: Self.options())
        try await withThrowingTaskGroup(of: (Int64, RankReply).self) { group in
            for id in Int64(1)...200 {
                group.addTask { (id, try await client.rank(candidates: [id])) }
            }
            var seen = 0
            for try await (id, reply) in group {
                #expect(reply.items.map(\.itemID) == [id])
                seen += 1
            }
            #expect(seen == 200)
        }
        #expect(Set(server.calls.map(\.header.requestID)).count == 200)
        #expect(client.statistics.staleReplies == 0)
    }

    @Test func serverStartingLateIsReachedByRetries() async throws {
        // Find a free port, then start the server on it only after the first attempt timed out.
        let probe = try FakeRanker { _ in [] }
        let endpoint = probe.endpoint
        probe.shutdown()
        let client = try FuseRankClient(endpoint: endpoint, options: Self.options(timeoutMs: 150, retries: 4))
        let call = Task { try await client.rank(candidates: [4]) }
        // The client starts a retry only after its first attempt timed out (nothing listens yet).
        try #require(await eventually { client.statistics.retries >= 1 }, "the client never retried")
        let late = try FakeRanker(endpoint: endpoint, handler: Self.rankByInverseID)
        let reply = try await call.value
        #expect(reply.items.map(\.itemID) == [4])
        let statistics = client.statistics
        #expect(statistics.retries >= 1)
        #expect(statistics.attempts == 1 + statistics.retries)
        #expect(statistics.reconnects >= 1)
        // Only retries can have reached the late server.
        #expect(!late.calls.isEmpty)
        #expect(late.calls.count <= statistics.retries)
    }

    @Test func noServerTimesOut() async throws {
        // A path nobody binds: a released TCP port could be taken by a concurrently running
        // test's fake server, which would then answer (seen once in CI).
        let endpoint = "ipc://\(NSTemporaryDirectory())fuserank-no-server-\(UUID().uuidString)"
        let client = try FuseRankClient(endpoint: endpoint, options: Self.options(timeoutMs: 50, retries: 1))
        let error = await #expect(throws: FuseRankClientError.self) { try await client.health() }
        #expect(error?.code == .deadlineExceeded)
    }

    @Test func closeFailsWaitingAndLaterCalls() async throws {
        let server = try FakeRanker { _ in [] }
        let client = try FuseRankClient(endpoint: server.endpoint, options: Self.options(timeoutMs: 10_000))
        let waiting = Task { try await client.health() }
        // The request reached the server, which never answers: the call is waiting for its reply.
        try #require(await server.waitForCalls(1), "the request never reached the server")
        client.close()
        await #expect(throws: FuseRankClientError.closed) { try await waiting.value }
        await #expect(throws: FuseRankClientError.closed) { try await client.health() }
        client.close()  // idempotent
    }

    @Test func cancellingACallEndsItPromptly() async throws {
        let server = try FakeRanker { _ in [] }
        let client = try FuseRankClient(endpoint: server.endpoint, options: Self.options(timeoutMs: 10_000))
        let waiting = Task { try await client.health() }
        // The request reached the server, which never answers: the call is waiting for its reply.
        try #require(await server.waitForCalls(1, timeout: .seconds(30)), "the request never reached the server")
        waiting.cancel()
        // CANCELLED, not DEADLINE_EXCEEDED: the call ended on the cancel, before its 10 s timeout
        // (no wall-clock bound here: the machines are shared and noisy).
        await #expect(throws: FuseRankClientError.cancelled) { try await waiting.value }
        #expect(client.statistics.sent == 1)
        #expect(client.statistics.reconnects == 0)
    }

    @Test func malformedEndpointIsATransportError() {
        #expect {
            _ = try FuseRankClient(endpoint: "not an endpoint")
        } throws: { error in
            guard case .transport(let zmq) = error as? FuseRankClientError else { return false }
            return zmq.errno != 0
        }
    }
}

/// Whether `condition` became true within `timeout`, checking it every millisecond: for states
/// that have no notification (e.g. the client's statistics).
