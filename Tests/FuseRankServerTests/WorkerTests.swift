import Foundation
import FuseRankModel
import FuseRankTestSupport
import FuseRankTransport
import FuseRankWire
import Testing

@testable import FuseRankServer

/// A worker and the front thread's side of its reply path: the ``ReplyQueue`` and the wake pipe.
@Suite struct WorkerTests {
    final class Harness {
        let wake: WakePipe
        let finished: ReplyQueue
        let queue = WorkQueue(capacity: 64)
        let worker: Worker
        let stats = ServerStats()
        private var taken: [Reply] = []

        /// A worker that is not started yet: jobs pushed before ``start()`` wait together.
        init(maxBatch: Int) throws {
            wake = try WakePipe()
            finished = ReplyQueue(wake: wake)
            worker = Worker(index: 0, queue: queue, finished: finished, maxBatch: maxBatch, stats: stats)
        }

        func start() { worker.start() }

        /// The next reply, waiting on the wake pipe as the front thread does.
        func reply() throws -> Reply {
            var poller = ZMQPoller()
            poller.add(fileDescriptor: wake.fileDescriptor)
            while taken.isEmpty {
                guard try poller.poll(timeoutMs: 10_000) == [.readable] else {
                    throw PeerError(description: "no reply from the worker")
                }
                wake.drain()
                taken += finished.takeAll()
            }
            return taken.removeFirst()
        }

        func stop() {
            queue.close()
            worker.join()
        }
    }

    @Test func expiredRequestsGetDeadlineExceeded() throws {
        let harness = try Harness(maxBatch: 4)
        harness.start()
        defer { harness.stop() }
        let bundle = try ModelBundle(path: Fixtures.tiny)
        let query = try bundle.validate(RankQuery(topK: 2))
        let past = ContinuousClock.now - .milliseconds(1)
        #expect(harness.queue.push(RankJob(socket: 0, envelope: [[7], []], requestID: 1, bundle: bundle, query: query, deadline: past)))
        #expect(harness.queue.push(RankJob(socket: 0, envelope: [[8], []], requestID: 2, bundle: bundle, query: query, deadline: .now + .seconds(60))))
        var replies: [UInt64: Reply] = [:]
        for _ in 0..<2 {
            let r = try harness.reply()
            replies[r.requestID] = r
        }
        #expect(replies[1]?.code == .deadlineExceeded && replies[1]?.body.isEmpty == true)
        #expect(replies[1]?.envelope == [[7], []], "the envelope is echoed")
        #expect(replies[2]?.code == .ok)
        #expect(try RankReply(bytes: replies[2]?.body ?? []).items.count == 2)
    }

    /// Jobs waiting together are ranked as one batch, and each as it would be ranked alone.
    @Test func waitingJobsAreRankedAsOneBatchLikeSingles() throws {
        let golden = try GoldenCases.load(Fixtures.tiny)
        let bundle = try ModelBundle(path: Fixtures.tiny)
        let queries = try golden.cases.map {
            try ValidatedQuery(wire: $0.query.request(), bundle: bundle, defaultCatalogueTopK: 100)
        }
        #expect(queries.count > 1)
        let single = Ranker(bundle: bundle, maxBatch: 1)
        let alone = queries.map { single.rank([$0])[0] }

        let harness = try Harness(maxBatch: queries.count)
        for (n, query) in queries.enumerated() {
            #expect(harness.queue.push(RankJob(socket: 0, envelope: [[1], []], requestID: UInt64(n), bundle: bundle, query: query, deadline: .now + .seconds(60))))
        }
        harness.start()  // every job is already waiting: the worker takes them in one batch
        defer { harness.stop() }
        for _ in queries {
            let r = try harness.reply()
            #expect(r.code == .ok)
            let reply = try RankReply(bytes: r.body)
            let expected = alone[Int(r.requestID)]
            #expect(reply.items.map(\.itemID) == expected.items.map(\.itemID))
            // BLAS blocks a batch's GEMM differently from a single row's: equal to float rounding.
            for (got, want) in zip(reply.items, expected.items) { #expect(abs(got.score - want.score) <= 1e-5) }
            #expect(reply.unknownCandidates == expected.unknownCandidates)
        }
        #expect(harness.stats.batchSizes == [queries.count: 1], "one batch of \(queries.count)")
    }
}
