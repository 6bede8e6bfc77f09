import Foundation
import FuseRankMetrics
import FuseRankModel
import FuseRankWire
import Logging

/// One worker thread: computes only. It takes batches of Rank jobs and single Forecast jobs, runs
/// them with its own `Ranker` or `Forecaster` of the job's model version (``ServedModel/engines``,
/// element ``index``: built when the version was published, so no request builds one), and hands
/// the replies to the front thread through a ``ReplyQueue``; it owns no socket.
package final class Worker: Sendable {
    /// 0-based: which of each version's engines it runs, and for logs.
    let index: Int
    private let queue: WorkQueue
    private let finished: ReplyQueue
    private let maxBatch: Int
    private let stats: ServerStats
    private let metrics: ServerMetrics?
    /// Signalled once when the thread has finished.
    private let done = DispatchSemaphore(value: 0)

    /// A worker that will hand its replies to `finished`.
    /// - Parameter maxBatch: the most Rank jobs it takes at once.
    package init(index: Int, queue: WorkQueue, finished: ReplyQueue, maxBatch: Int, stats: ServerStats, metrics: ServerMetrics? = nil) {
        self.index = index
        self.queue = queue
        self.finished = finished
        self.maxBatch = maxBatch
        self.stats = stats
        self.metrics = metrics
    }

    /// Starts the thread.
    func start() {
        let thread = Thread { [self] in
            while let work = queue.take(maxBatch: maxBatch) { finished.push(process(work)) }
            done.signal()
        }
        thread.name = "fuserank-worker-\(index)"
        thread.start()
    }

    /// Blocks until the thread has finished (after the queue is closed and drained).
    func join() { done.wait() }

    /// Runs one unit of work on this worker's engines of its model version and returns its
    /// replies (the fuzz harness drives it inline).
    /// - Parameter work: a batch of Rank jobs of one model version, or one Forecast job.
    /// - Returns: one reply per job.
    package func process(_ work: Work) -> [Reply] {
        switch work {
        case let .rank(batch):
            guard let ranker = batch[0].model.engines.ranker(for: index) else {
                return batch.map { notPrepared($0.socket, $0.envelope, $0.requestID, CallInfo(method: "Rank", model: $0.model.name, received: $0.received)) }
            }
            stats.recordBatch(size: batch.count)
            return process(batch, ranker: ranker)
        case let .forecast(job):
            guard let forecaster = job.model.engines.forecaster(for: index) else {
                return [notPrepared(job.socket, job.envelope, job.requestID, CallInfo(method: "Forecast", model: job.model.name, received: job.received))]
            }
            return [process(job, forecaster: forecaster)]
        }
    }

    /// INTERNAL: a version that did not come through the load path has no engines.
    private func notPrepared(_ socket: Int, _ envelope: [[UInt8]], _ requestID: UInt64, _ info: CallInfo) -> Reply {
        Reply.error(socket: socket, envelope: envelope, requestID: requestID, code: .internal,
                    message: "model \"\(info.model)\" has no engines for worker \(index) (not published through the load path)")
            .labelled(info)
    }

    /// Forecasts one job: DEADLINE_EXCEEDED when its deadline has passed, else every series in
    /// passes of the forecaster's size (its query is validated).
    private func process(_ job: ForecastJob, forecaster: Forecaster) -> Reply {
        let now = ContinuousClock.now
        let info = CallInfo(method: "Forecast", model: job.model.name, received: job.received)
        metrics?.recordQueueWait(model: job.model.name, duration: now - job.received)
        guard job.deadline >= now else {
            return Reply.error(socket: job.socket, envelope: job.envelope, requestID: job.requestID, code: .deadlineExceeded,
                               message: "the deadline passed before a worker could take the request").labelled(info)
        }
        let results = forecaster.forecast(job.query)
        metrics?.recordForecast(model: job.model.name, series: results.count, compute: .now - now)
        let body = ForecastReply(result: results, query: job.query, itemIDs: job.itemIDs).encode()
        return Reply.ok(socket: job.socket, envelope: job.envelope, requestID: job.requestID, body: body).labelled(info)
    }

    /// Ranks a batch of one model and returns one reply per job: DEADLINE_EXCEEDED for a job whose
    /// deadline has passed, the ranking for the others (their queries are validated).
    private func process(_ batch: [RankJob], ranker: Ranker) -> [Reply] {
        let now = ContinuousClock.now
        let model = batch[0].model.name
        if let metrics {
            for job in batch { metrics.recordQueueWait(model: model, duration: now - job.received) }
        }
        let live = batch.filter { $0.deadline >= now }
        // The live catalogue as this batch starts: later changes apply to later batches.
        let results = ranker.rank(live.map(\.query), overlay: batch[0].model.catalogue?.current)
        if !live.isEmpty { metrics?.recordBatch(model: model, size: live.count, compute: .now - now) }
        var replies = batch.filter { $0.deadline < now }.map {
            Reply.error(socket: $0.socket, envelope: $0.envelope, requestID: $0.requestID, code: .deadlineExceeded,
                        message: "the deadline passed before a worker could take the request")
                .labelled(CallInfo(method: "Rank", model: $0.model.name, received: $0.received))
        }
        for (job, result) in zip(live, results) {
            let body = RankReply(result: result, model: job.model).encode()
            replies.append(
                Reply.ok(socket: job.socket, envelope: job.envelope, requestID: job.requestID, body: body)
                    .labelled(CallInfo(method: "Rank", model: job.model.name, received: job.received)))
        }
        return replies
    }
}
