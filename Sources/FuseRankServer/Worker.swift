import Foundation
import FuseRankModel
import FuseRankWire
import Logging

/// One worker thread: computes only. It takes batches of Rank jobs, ranks them with its own
/// `Ranker` per model (its own scratch), and hands the replies to the front thread through a
/// ``ReplyQueue``; it owns no socket.
final class Worker: Sendable {
    /// 0-based, for logs.
    let index: Int
    private let queue: WorkQueue
    private let finished: ReplyQueue
    private let maxBatch: Int
    private let catalogueScoring: CatalogueScoring
    private let sessionCache: SessionCache?
    private let models: [ModelBundle]
    private let stats: ServerStats
    /// Signalled once when the thread has finished.
    private let done = DispatchSemaphore(value: 0)

    /// A worker that will hand its replies to `finished`.
    /// - Parameter models: the bundles it ranks with; its rankers (scratch) are made when the
    ///   thread starts, so the first request pays no allocation.
    init(index: Int, queue: WorkQueue, finished: ReplyQueue, maxBatch: Int, catalogueScoring: CatalogueScoring = .auto,
         sessionCache: SessionCache? = nil, models: [ModelBundle], stats: ServerStats) {
        self.index = index
        self.queue = queue
        self.finished = finished
        self.maxBatch = maxBatch
        self.catalogueScoring = catalogueScoring
        self.sessionCache = sessionCache
        self.models = models
        self.stats = stats
    }

    /// Starts the thread.
    func start() {
        let thread = Thread { [self] in
            run()
            done.signal()
        }
        thread.name = "fuserank-worker-\(index)"
        thread.start()
    }

    /// Blocks until the thread has finished (after the queue is closed and drained).
    func join() { done.wait() }

    private func run() {
        var rankers: [ObjectIdentifier: Ranker] = [:]
        func ranker(_ bundle: ModelBundle) -> Ranker {
            Ranker(bundle: bundle, maxBatch: maxBatch, catalogueScoring: catalogueScoring, sessionCache: sessionCache)
        }
        for bundle in models { rankers[ObjectIdentifier(bundle)] = ranker(bundle) }
        while let batch = queue.takeBatch(maxBatch: maxBatch) {
            let bundle = batch[0].bundle
            let ranker = rankers[ObjectIdentifier(bundle)] ?? {
                let made = ranker(bundle)
                rankers[ObjectIdentifier(bundle)] = made
                return made
            }()
            stats.recordBatch(size: batch.count)
            finished.push(process(batch, ranker: ranker))
        }
    }

    /// Ranks a batch of one model and returns one reply per job: DEADLINE_EXCEEDED for a job whose
    /// deadline has passed, the ranking for the others (their queries are validated).
    private func process(_ batch: [RankJob], ranker: Ranker) -> [Reply] {
        let now = ContinuousClock.now
        let live = batch.filter { $0.deadline >= now }
        let results = ranker.rank(live.map(\.query))
        var replies = batch.filter { $0.deadline < now }.map {
            Reply.error(socket: $0.socket, envelope: $0.envelope, requestID: $0.requestID, code: .deadlineExceeded,
                        message: "the deadline passed before a worker could take the request")
        }
        for (job, result) in zip(live, results) {
            let body = RankReply(result: result, bundle: job.bundle).encode()
            replies.append(.ok(socket: job.socket, envelope: job.envelope, requestID: job.requestID, body: body))
        }
        return replies
    }
}
