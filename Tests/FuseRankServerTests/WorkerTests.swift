import Foundation
import FuseRankModel
import FuseRankTransport
import FuseRankWire
import Testing

@testable import FuseRankServer

/// A worker with a real inproc PUSH -> PULL reply path.
@Suite struct WorkerTests {
    final class Harness {
        let context: ZMQContext
        let pull: ZMQSocket
        let queue = WorkQueue(capacity: 64)
        let worker: Worker
        let stats = ServerStats()

        init(maxBatch: Int, models: [ModelBundle] = []) throws {
            context = try ZMQContext()
            let name = "inproc://worker-\(UUID().uuidString)"
            pull = try ZMQSocket(context: context, type: .pull)
            try pull.bind(name)
            worker = Worker(index: 0, queue: queue, context: context, replyEndpoint: name, maxBatch: maxBatch, models: models, stats: stats, logger: quietLogger)
            try worker.start()
        }

        /// The next reply: (request id, code, body).
        func reply() throws -> (id: UInt64, code: StatusCode, body: [UInt8], envelope: [[UInt8]]) {
            guard try zmqPoll(pull, timeoutMs: 10_000).contains(.readable),
                let frames = try pull.receiveMultipart(dontWait: true)
            else { throw PeerError(description: "no reply from the worker") }
            let header = try ReplyHeader(bytes: frames[frames.count - 2])
            return (header.requestID, header.code, frames[frames.count - 1], Array(frames.dropLast(2)))
        }

        func stop() {
            queue.close()
            worker.join()
            pull.close()
        }
    }

    @Test func expiredRequestsGetDeadlineExceeded() throws {
        let harness = try Harness(maxBatch: 4)
        defer { harness.stop() }
        let bundle = try ModelBundle(path: Fixtures.tiny)
        let past = ContinuousClock.now - .milliseconds(1)
        #expect(harness.queue.push(RankJob(envelope: [[7], []], requestID: 1, bundle: bundle, query: RankQuery(topK: 2), deadline: past)))
        #expect(harness.queue.push(RankJob(envelope: [[8], []], requestID: 2, bundle: bundle, query: RankQuery(topK: 2), deadline: .now + .seconds(60))))
        var replies: [UInt64: (StatusCode, [UInt8], [[UInt8]])] = [:]
        for _ in 0..<2 {
            let r = try harness.reply()
            replies[r.id] = (r.code, r.body, r.envelope)
        }
        #expect(replies[1]?.0 == .deadlineExceeded && replies[1]?.1.isEmpty == true)
        #expect(replies[1]?.2 == [[7], []], "the envelope is echoed")
        #expect(replies[2]?.0 == .ok)
        #expect(try RankReply(bytes: replies[2]?.1 ?? []).items.count == 2)
        #expect(harness.stats.count(.deadlineExceeded) == 1)
    }

    /// A batch ranks each request as it would be ranked alone.
    @Test func batchedResultsEqualSingleResults() throws {
        let golden = try GoldenCases.load(Fixtures.tiny)
        let bundle = try ModelBundle(path: Fixtures.tiny)
        let queries = try golden.cases.map { try $0.query.request().rankQuery(for: bundle, defaultCatalogueTopK: 100) }
        let single = Ranker(bundle: bundle, maxBatch: 1)
        let alone = try queries.map { try single.rank([$0])[0] }

        let harness = try Harness(maxBatch: 8, models: [bundle])
        defer { harness.stop() }
        for (n, query) in queries.enumerated() {
            #expect(harness.queue.push(RankJob(envelope: [[1], []], requestID: UInt64(n), bundle: bundle, query: query, deadline: .now + .seconds(60))))
        }
        for _ in queries {
            let r = try harness.reply()
            #expect(r.code == .ok)
            let reply = try RankReply(bytes: r.body)
            let expected = alone[Int(r.id)]
            #expect(reply.items.map(\.itemID) == expected.items.map(\.itemID))
            // BLAS blocks a batch's GEMM differently from a single row's: equal to float rounding.
            for (got, want) in zip(reply.items, expected.items) { #expect(abs(got.score - want.score) <= 1e-5) }
            #expect(reply.unknownCandidates == expected.unknownCandidates)
        }
    }
}
