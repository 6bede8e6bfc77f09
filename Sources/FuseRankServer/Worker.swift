import Foundation
import FuseRankModel
import FuseRankTransport
import FuseRankWire
import Logging

/// One worker thread: takes batches of Rank jobs, ranks them with its own `Ranker` per model
/// (its own scratch arena), and pushes the replies to the front thread over inproc.
final class Worker: Sendable {
    /// 0-based, for logs.
    let index: Int
    private let queue: WorkQueue
    private let context: ZMQContext
    private let replyEndpoint: String
    private let maxBatch: Int
    private let models: [ModelBundle]
    private let stats: ServerStats
    private let logger: Logger
    /// Signalled once when the thread has finished.
    private let finished = DispatchSemaphore(value: 0)

    /// A worker that will push its replies to `replyEndpoint` (a PULL socket bound by the front).
    /// - Parameter models: the bundles it ranks with; its rankers (scratch arenas) are made when
    ///   the thread starts, so the first request pays no allocation.
    init(
        index: Int, queue: WorkQueue, context: ZMQContext, replyEndpoint: String, maxBatch: Int,
        models: [ModelBundle], stats: ServerStats, logger: Logger
    ) {
        self.index = index
        self.queue = queue
        self.context = context
        self.replyEndpoint = replyEndpoint
        self.maxBatch = maxBatch
        self.models = models
        self.stats = stats
        var logger = logger
        logger[metadataKey: "worker"] = "\(index)"
        self.logger = logger
    }

    /// Starts the thread; its PUSH socket is created and connected before this returns.
    /// - Throws: ``ServerError/transport(_:)`` when the socket cannot be made.
    func start() throws {
        let push: ZMQSocket
        do {
            push = try ZMQSocket(context: context, type: .push)
            try push.setSendHighWaterMark(0)  // never block or drop: the queue bounds the work
            try push.setLinger(-1)  // replies pushed before close are delivered
            try push.connect(replyEndpoint)
        } catch {
            throw ServerError.transport(error)
        }
        // The socket is handed to the thread here and never touched by this thread again.
        let thread = Thread { [self] in
            run(push: push)
            push.close()
            finished.signal()
        }
        thread.name = "fuserank-worker-\(index)"
        thread.start()
    }

    /// Blocks until the thread has finished (after the queue is closed and drained).
    func join() { finished.wait() }

    private func run(push: ZMQSocket) {
        var rankers: [ObjectIdentifier: Ranker] = [:]
        for bundle in models { rankers[ObjectIdentifier(bundle)] = Ranker(bundle: bundle, maxBatch: maxBatch) }
        while let batch = queue.takeBatch(maxBatch: maxBatch) {
            let bundle = batch[0].bundle
            let ranker = rankers[ObjectIdentifier(bundle)] ?? {
                let made = Ranker(bundle: bundle, maxBatch: maxBatch)
                rankers[ObjectIdentifier(bundle)] = made
                return made
            }()
            for reply in process(batch, ranker: ranker) {
                do {
                    try push.send(reply)
                } catch {
                    // Only ETERM (the context is going away) can get here; nobody is left to answer.
                    logger.error("cannot hand a reply to the front thread: \(error)")
                }
            }
        }
    }

    /// Ranks a batch and returns one reply per job.
    private func process(_ batch: [RankJob], ranker: Ranker) -> [[[UInt8]]] {
        let now = ContinuousClock.now
        var replies: [[[UInt8]]] = []
        replies.reserveCapacity(batch.count)
        var live: [RankJob] = []
        for job in batch {
            if job.deadline < now {
                stats.record(.deadlineExceeded)
                replies.append(
                    Reply.error(
                        envelope: job.envelope, requestID: job.requestID, code: .deadlineExceeded,
                        message: "the deadline passed before a worker could take the request"))
            } else {
                live.append(job)
            }
        }
        guard !live.isEmpty else { return replies }
        do {
            let results = try ranker.rank(live.map(\.query))
            for (job, result) in zip(live, results) { replies.append(okReply(job, result)) }
        } catch {
            // The jobs were validated, so this is unexpected: rank them one by one so that only the
            // offending request fails.
            logger.warning("batch of \(live.count) failed (\(error)); ranking one by one")
            for job in live {
                do {
                    let result = try ranker.rank([job.query])
                    replies.append(okReply(job, result[0]))
                } catch let error as InputError {
                    stats.record(.invalidArgument)
                    replies.append(Reply.error(envelope: job.envelope, requestID: job.requestID, code: .invalidArgument, message: error.description))
                } catch {
                    stats.record(.internal)
                    replies.append(Reply.error(envelope: job.envelope, requestID: job.requestID, code: .internal, message: "ranking failed: \(error)"))
                }
            }
        }
        return replies
    }

    private func okReply(_ job: RankJob, _ result: RankResult) -> [[UInt8]] {
        stats.record(.ok)
        let reply = RankReply(
            items: result.items.map { FuseRankWire.ScoredItem(itemID: $0.itemID, score: $0.score) },
            model: job.bundle.config.name, modelVersion: job.bundle.config.version,
            unknownCandidates: result.unknownCandidates)
        return Reply.ok(envelope: job.envelope, requestID: job.requestID, body: reply.encode())
    }
}
