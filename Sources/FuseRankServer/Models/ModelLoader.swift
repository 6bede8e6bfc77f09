import Foundation
import FuseRankMetrics
import FuseRankModel
import FuseRankRedis
import FuseRankWire
import Logging

/// The loader thread: loads, validates and warms up every model off the request path, and keeps
/// the ``ModelTable`` current.
///
/// At start it loads the fixed bundles (`--model`, never reloaded) and scans the repositories
/// (`--model-repository`) once, then reports ready. Afterwards it rescans every `pollMs`
/// milliseconds (0: never on a timer), and whenever ``requestScan(completion:)`` asks (SIGHUP,
/// the ReloadModels call). Requests made while a scan runs are answered by the next scan, so
/// every completion sees a scan that started after it asked.
// @unchecked Sendable: `requests`, `stopping` and `fixed` are read and written only while
// `condition` is locked; the repository is used only by the loader thread.
package final class ModelLoader: @unchecked Sendable {
    private let configuration: ServerConfiguration
    private let table: ModelTable
    private let metrics: ServerMetrics
    private let logger: Logger
    private let condition = NSCondition()
    private var requests: [(@Sendable ([ModelLoadStatus]) -> Void)?] = []
    /// Live catalogue changes waiting for the loader thread (``changeCatalogue(_:)``).
    private var tasks: [@Sendable (LiveCatalogues) -> Void] = []
    /// The models' catalogue journals; touched on the loader thread only.
    private let live: LiveCatalogues
    /// Follows the shared catalogue log (`--catalogue-log`); nil without one. Set in init only.
    private var reader: CatalogueLogReader?
    private var stopping = false
    private var fixed: [ServedModel] = []
    private let done = DispatchSemaphore(value: 0)
    /// Runs on the loader thread before the first load (tests hold the start-up load with it).
    var beforeInitialLoad: (@Sendable () -> Void)?

    /// The workers' engines every version gets before it is published.
    private let engines: ModelEngines.Shape

    /// A loader for `configuration`'s models, publishing into `table`.
    /// - Parameter sessionCache: the cache every version's rankers share; nil = none.
    init(configuration: ServerConfiguration, table: ModelTable, metrics: ServerMetrics, sessionCache: SessionCache? = nil,
         logger: Logger) {
        self.configuration = configuration
        self.engines = ModelEngines.Shape(
            workers: configuration.workers, maxBatch: configuration.maxBatch, catalogueScoring: configuration.catalogueScoring,
            sessionCache: sessionCache)
        self.table = table
        self.metrics = metrics
        var logger = logger
        logger[metadataKey: "thread"] = "loader"
        self.logger = logger
        let log = configuration.catalogueLog.flatMap { try? RedisAddress(parsing: $0) }.map { CatalogueLog(address: $0, logger: logger) }
        live = LiveCatalogues(stateDirectory: configuration.stateDirectory, log: log, logger: logger) { [metrics] model, overlay in
            metrics.setLiveCatalogue(model: model.name, contentItems: overlay.contentIDs.count, hiddenItems: overlay.hidden.count)
        }
        if let log {
            reader = CatalogueLogReader(log: log, logger: logger) { [weak self] model, changes, caughtUp in
                guard let self else { return false }
                let table = self.table
                return self.changeCatalogue { live in
                    live.applyLogged(model, changes, caughtUp: caughtUp, served: table.model(named: model))
                }
            }
        }
    }

    /// Each model's position in the shared catalogue log; nil without `--catalogue-log`.
    var catalogueLogPositions: CatalogueLogPositions? { live.log?.positions }

    /// Runs a live catalogue change on the loader thread, after the scan in progress (so a change
    /// and a reload's journal replay never interleave).
    /// - Returns: false when the loader is stopping (the change is not run).
    func changeCatalogue(_ task: @escaping @Sendable (LiveCatalogues) -> Void) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        guard !stopping else { return false }
        tasks.append(task)
        condition.signal()
        return true
    }

    /// Starts the thread.
    /// - Parameter onReady: called once, on the loader thread: success once the models given at
    ///   start are served, or the error of a fixed bundle that does not load (the thread then ends).
    func start(onReady: @escaping @Sendable (Result<Void, ServerError>) -> Void) {
        let thread = Thread { [self] in
            run(onReady: onReady)
            done.signal()
        }
        thread.name = "fuserank-loader"
        thread.start()
        reader?.start()
    }

    /// Asks for a rescan of every repository.
    /// - Parameter completion: called on the loader thread with every model's state after a scan
    ///   that started after this call; nil for a fire-and-forget rescan (SIGHUP).
    func requestScan(completion: (@Sendable ([ModelLoadStatus]) -> Void)? = nil) {
        condition.lock()
        if stopping {
            condition.unlock()
            completion?(statuses(repository: []))
            return
        }
        requests.append(completion)
        condition.signal()
        condition.unlock()
    }

    /// Stops the thread after the scan in progress; returns when it has ended. Pending
    /// completions are answered with the current state.
    func stop() {
        condition.lock()
        let wasStopping = stopping
        stopping = true
        condition.signal()
        condition.unlock()
        if !wasStopping {
            reader?.stop()
            done.wait()
        }
    }

    private func run(onReady: @Sendable (Result<Void, ServerError>) -> Void) {
        let warmUp: @Sendable (BundleContents) throws -> Void = {
            [maxBatch = configuration.maxBatch, scoring = configuration.catalogueScoring] in
            try ModelWarmUp.run($0, maxBatch: maxBatch, catalogueScoring: scoring)
        }
        beforeInitialLoad?()
        let metrics = self.metrics
        let logger = self.logger
        let live = self.live
        let journalFailure = JournalFailure()
        // The one load path (load, warm up, replay the journal, build the engines), for fixed
        // bundles and repository versions alike.
        let loading = VersionLoading(
            warmUp: warmUp,
            prepare: { model in
                do {
                    try live.attach(model)
                } catch {
                    journalFailure.set("\(error)")
                    throw error
                }
            },
            engines: engines)
        // Fixed bundles first: the first is the default model.
        var loaded: [ServedModel] = []
        for path in configuration.modelPaths {
            do {
                let contents = try loading.loadAndWarmUp(path)
                let (name, version) = (contents.name, contents.version)
                if let other = loaded.first(where: { $0.name == name }) {
                    onReady(.failure(.duplicateModelName(name: name, paths: [other.contents.path, path])))
                    return
                }
                let model = try loading.prepared(contents, name: name, version: version, origin: .fixed)
                loaded.append(model)
                table.publish(model)
                metrics.recordModelLoad(model: name, version: version, ok: true)
                metrics.setServedVersion(model: name, version: version)
                logger.info("loaded model \"\(name)\" version \(version) from \(path): \(Self.describe(contents))")
            } catch {
                onReady(.failure(.modelLoad(path: path, reason: "\(error)")))
                return
            }
        }
        condition.lock()
        fixed = loaded
        condition.unlock()
        let repository = ModelRepository(
            directories: configuration.modelRepositories, table: table, reservedNames: Set(loaded.map(\.name)),
            loading: loading, events: { Self.report($0, metrics: metrics, logger: logger) })
        for directory in configuration.modelRepositories {
            var isDirectory: ObjCBool = false
            if !FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) || !isDirectory.boolValue {
                logger.warning("model repository \(directory) is not a folder (yet); it serves nothing until it is one")
            }
        }
        if !configuration.modelRepositories.isEmpty {
            let states = repository.scan()
            logger.info("repositories scanned: \(states.map { "\($0.model)=\($0.version ?? "none")" }.joined(separator: " "))")
        }
        // A damaged catalogue journal stops the start: serving without its changes would undo them.
        if let reason = journalFailure.get() {
            onReady(.failure(.modelLoad(path: "catalogue journal", reason: reason)))
            return
        }
        onReady(.success(()))

        let pollMs = configuration.repositoryPollMs
        let timed = pollMs > 0 && !configuration.modelRepositories.isEmpty
        var nextScan = Date(timeIntervalSinceNow: Double(pollMs) / 1000)
        while true {
            condition.lock()
            if requests.isEmpty && tasks.isEmpty && !stopping {
                if timed {
                    _ = condition.wait(until: nextScan)
                } else {
                    condition.wait()
                }
            }
            let taken = requests
            requests.removeAll()
            let work = tasks
            tasks.removeAll()
            let stop = stopping
            condition.unlock()
            for task in work { task(live) }
            if !stop && taken.isEmpty && !(timed && Date() >= nextScan) { continue }  // only catalogue changes
            nextScan = Date(timeIntervalSinceNow: Double(pollMs) / 1000)
            if stop {
                let states = statuses(repository: repository.states())
                for completion in taken { completion?(states) }
                return
            }
            let states = statuses(repository: repository.scan())
            for completion in taken { completion?(states) }
        }
    }

    /// What a loaded bundle holds, for the log.
    static func describe(_ contents: BundleContents) -> String {
        var parts: [String] = []
        if let bundle = contents.recommender {
            let c = bundle.config
            parts.append("\(bundle.catalogueSize) items, d_model \(c.dModel), \(c.nLayers) layers, image_dim \(c.imageDim)")
        }
        if let forecaster = contents.forecaster {
            let c = forecaster.config
            parts.append(
                "\(contents.recommender == nil ? "forecaster only" : "forecaster"): \(c.period.rawValue) periods, context \(c.context), max_horizon \(c.maxHorizon), d_model \(c.dModel), \(c.layers) layers")
        }
        return parts.joined(separator: "; ")
    }

    /// The fixed models and the repository states, as the ReloadModels reply lists them.
    private func statuses(repository: [ModelLoadState]) -> [ModelLoadStatus] {
        condition.lock()
        let fixed = self.fixed
        condition.unlock()
        let all = fixed.map { ModelLoadStatus(model: $0.name, version: $0.version) }
            + repository.map {
                ModelLoadStatus(model: $0.model, version: $0.version ?? "", failedVersion: $0.failedVersion ?? "", error: $0.error ?? "")
            }
        return all.sorted { $0.model < $1.model }
    }

    /// Logs a repository event and counts it in the metrics.
    private static func report(_ event: ModelRepositoryEvent, metrics: ServerMetrics, logger: Logger) {
        switch event {
        case let .loaded(model, version, replaced):
            metrics.recordModelLoad(model: model, version: version, ok: true)
            metrics.setServedVersion(model: model, version: version)
            logger.info("model \"\(model)\": serving version \(version)\(replaced.map { " (was \($0))" } ?? "")")
        case let .failed(model, version, reason):
            metrics.recordModelLoad(model: model, version: version, ok: false)
            logger.error("model \"\(model)\" version \(version) did not load; not retried until its folder changes: \(reason)")
        case let .changedWhileLoading(model, version):
            logger.info("model \"\(model)\" version \(version) changed while loading (still being written?); retrying at the next scan")
        case let .removed(model):
            metrics.setServedVersion(model: model, version: nil)
            logger.info("model \"\(model)\": folder gone, no longer served (requests in flight finish)")
        }
    }
}

/// The first catalogue journal that failed to replay during the start-up scan.
// @unchecked Sendable: `value` is read and written only while `lock` is held.
private final class JournalFailure: @unchecked Sendable {
    private let lock = NSLock()
    private var value: String?
    func set(_ reason: String) { lock.withLock { if value == nil { value = reason } } }
    func get() -> String? { lock.withLock { value } }
}
