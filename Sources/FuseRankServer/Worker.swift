import Foundation
import FuseRankMetrics
import FuseRankModel
import FuseRankWire
import Logging

/// One worker thread: computes only. It takes batches of Rank jobs and single Forecast jobs, runs
/// them with its own `Ranker` or `Forecaster` per model (its own scratch), and hands the replies
/// to the front thread through a ``ReplyQueue``; it owns no socket.
final class Worker: Sendable {
    /// 0-based, for logs.
    let index: Int
    private let queue: WorkQueue
    private let finished: ReplyQueue
    private let maxBatch: Int
    private let catalogueScoring: CatalogueScoring
    private let sessionCache: SessionCache?
    private let models: [ModelBundle]
    /// The models served now: rankers of versions no longer in it are dropped (each holds its
    /// bundle, so a swapped-out version is released once no worker ranks with it).
    private let served: ModelTable?
    private let stats: ServerStats
    private let metrics: ServerMetrics?
    /// Signalled once when the thread has finished.
    private let done = DispatchSemaphore(value: 0)

    /// A worker that will hand its replies to `finished`.
    /// - Parameter models: the bundles it ranks with; its rankers (scratch) are made when the
    ///   thread starts, so the first request pays no allocation.
    init(index: Int, queue: WorkQueue, finished: ReplyQueue, maxBatch: Int, catalogueScoring: CatalogueScoring = .auto,
         sessionCache: SessionCache? = nil, models: [ModelBundle], served: ModelTable? = nil, stats: ServerStats,
         metrics: ServerMetrics? = nil) {
        self.index = index
        self.queue = queue
        self.finished = finished
        self.maxBatch = maxBatch
        self.catalogueScoring = catalogueScoring
        self.sessionCache = sessionCache
        self.models = models
        self.served = served
        self.stats = stats
        self.metrics = metrics
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
        var forecasters: [ObjectIdentifier: Forecaster] = [:]
        for bundle in models { rankers[ObjectIdentifier(bundle)] = ranker(bundle) }
        while let work = queue.take(maxBatch: maxBatch) {
            switch work {
            case let .rank(batch):
                let bundle = batch[0].bundle
                let ranker = rankers[ObjectIdentifier(bundle)] ?? {
                    let made = ranker(bundle)
                    rankers[ObjectIdentifier(bundle)] = made
                    return made
                }()
                stats.recordBatch(size: batch.count)
                finished.push(process(batch, ranker: ranker))
            case let .forecast(job):
                let forecaster = forecasters[ObjectIdentifier(job.forecaster)] ?? {
                    let made = Forecaster(bundle: job.forecaster)
                    forecasters[ObjectIdentifier(job.forecaster)] = made
                    return made
                }()
                finished.push([process(job, forecaster: forecaster)])
            }
            if let served { dropRetired(&rankers, &forecasters, served: served) }
        }
    }

    /// Drops the rankers and forecasters of bundles the table no longer serves (a swapped-out or
    /// removed version).
    private func dropRetired(
        _ rankers: inout [ObjectIdentifier: Ranker], _ forecasters: inout [ObjectIdentifier: Forecaster], served: ModelTable
    ) {
        let snapshot = served.snapshot
        let live = Set(snapshot.compactMap { $0.bundle.map(ObjectIdentifier.init) })
        if !rankers.keys.allSatisfy(live.contains) { rankers = rankers.filter { live.contains($0.key) } }
        let liveForecasters = Set(snapshot.compactMap { $0.forecaster.map(ObjectIdentifier.init) })
        if !forecasters.keys.allSatisfy(liveForecasters.contains) {
            forecasters = forecasters.filter { liveForecasters.contains($0.key) }
        }
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
