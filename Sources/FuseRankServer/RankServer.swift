import Foundation
import FuseRankMetrics
import FuseRankModel
import FuseRankTransport
import FuseRankWire
import Logging

/// The FuseRank server: a ROUTER socket served by one front thread, and worker threads that rank.
///
/// A Rank call's path: `FrontEnd` (socket, dispatch) -> `FrontEnd+Rank` (wire -> validated query,
/// queue; result -> wire reply) -> `Worker` (ranks a batch) -> back to `FrontEnd`, which sends.
///
/// ```swift
/// let server = try RankServer(configuration: config, logger: logger)  // checks config and keys
/// let endpoint = try server.start()   // binds, starts threads, loads and warms up the models
/// server.stop()                       // from any thread
/// server.waitUntilStopped()
/// ```
///
/// The socket is bound (behind the ZAP handler when CURVE is on) before any model loads, so
/// Health answers at once ("starting", not ready) while the loader thread loads and warms up the
/// models; ``start()`` returns once they serve.
// @unchecked Sendable: the mutable state lives in `ServerControl` (locked); `startLock` guards
// `started`, `stateLock` guards `boundEndpoint` and `loader`; `beforeInitialLoad` is set before
// `start()` (tests); everything else is immutable after init.
public final class RankServer: @unchecked Sendable {
    /// How the server runs.
    public let configuration: ServerConfiguration
    /// The models served now (fixed bundles and repository versions).
    public let models = ModelTable()
    /// Every Prometheus series of this server.
    public let metrics = ServerMetrics()
    /// The server's CURVE key pair, the bound socket's client allowlist (nil: no bound socket)
    /// and the brokers' public key (nil: plaintext broker links); nil when CURVE is off.
    private let curve: (keys: CurveKeyPair, allowed: Set<String>?, brokerKey: String?)?
    /// Who may call the admin methods (UpsertItems, SetItemsAvailable).
    private let admin: AdminAccess
    private let logger: Logger
    private let control: ServerControl
    private let stats = ServerStats()
    /// The sessions' prefix states, shared by every worker; nil when turned off.
    private let sessionCache: SessionCache?
    private let wake: WakePipe
    private let startLock = NSLock()
    /// Guards `boundEndpoint` and `loader`, which are read while `start()` (holding `startLock`)
    /// waits for the models.
    private let stateLock = NSLock()
    private var started = false
    private var boundEndpoint: String?
    private var loader: ModelLoader?
    /// Runs on the loader thread before the first model loads (tests hold the start-up with it).
    var beforeInitialLoad: (@Sendable () -> Void)?

    /// Validates the configuration and reads the CURVE key files (state ``LifecycleState/starting``).
    /// - Parameters:
    ///   - configuration: how to run.
    ///   - logger: where lifecycle and error logs go.
    /// - Throws: ``ServerError`` for a bad configuration or an unusable key file.
    public init(configuration: ServerConfiguration, logger: Logger) throws {
        if let problem = configuration.validationProblem() { throw ServerError.badConfiguration(problem) }
        self.configuration = configuration
        self.logger = logger
        self.control = ServerControl(logger: logger)
        let sessionCache = configuration.sessionCacheMB > 0 ? SessionCache(capacityBytes: configuration.sessionCacheMB << 20) : nil
        self.sessionCache = sessionCache
        if let sessionCache {
            let metrics = self.metrics
            metrics.onScrape {
                let s = sessionCache.statistics
                metrics.updateSessionCache(hits: s.hits, misses: s.misses, evictions: s.evictions, sessions: s.sessions, bytes: s.bytes)
            }
        }
        logger.info("lifecycle: starting", metadata: ["state": "starting"])
        if let secretPath = configuration.curveSecretKeyPath {
            do {
                let keys = try CurveKey.readSecretKey(secretPath)
                let allowed = try configuration.curveAllowPath.map { path throws(CurveKeyError) in try CurveKey.readAllowlist(path) }
                let brokerKey = try configuration.brokerKeyPath.map { path throws(CurveKeyError) in try CurveKey.readPublicKey(path) }
                curve = (keys, allowed, brokerKey)
                logger.info(
                    "CURVE on: server public key \(keys.publicKey)\(allowed.map { ", \($0.count) client key(s) allowed on the bound socket" } ?? "")\(brokerKey.map { ", broker key \($0) pinned on the --connect links" } ?? "")")
            } catch {
                throw ServerError.badKeys("\(error)")
            }
        } else {
            curve = nil
        }
        if let adminPath = configuration.adminAllowPath {
            do {
                let keys = try CurveKey.readAllowlist(adminPath)
                admin = .keys(keys)
                logger.info("admin methods: \(keys.count) CURVE key(s) allowed (--admin-allow)")
                if curve?.brokerKey == nil && !configuration.connect.isEmpty {
                    logger.warning("the --connect links are plaintext (no --broker-key): admin calls through a broker are refused")
                }
            } catch {
                throw ServerError.badKeys("--admin-allow: \(error)")
            }
        } else if configuration.adminInsecure {
            admin = .insecure
            logger.warning("admin methods (UpsertItems, SetItemsAvailable) open to every client: --admin-insecure")
        } else {
            admin = .refused
        }
        do {
            wake = try WakePipe()
        } catch {
            throw ServerError.transport(error)
        }
    }

    /// The lifecycle state now.
    public var state: LifecycleState { control.state }

    /// The endpoint the ROUTER is bound to, with a free port resolved; nil before ``start()`` and
    /// for a server that only connects to brokers.
    public var endpoint: String? {
        stateLock.withLock { boundEndpoint }
    }

    /// The Rank requests queued or being ranked when draining began (each is still answered);
    /// nil before a stop.
    public var inFlightWhenDraining: Int? { control.inFlightWhenDraining }

    /// What the session cache did so far (hits, misses, evictions, sessions held); nil when off.
    public var sessionCacheStatistics: SessionCache.Statistics? { sessionCache?.statistics }

    /// Replies sent so far with `code` (for tests and logs).
    public func repliesSent(_ code: StatusCode) -> Int { stats.count(code) }

    /// Binds the ROUTER socket, connects a DEALER to each broker, starts the workers and the front
    /// thread, and starts serving.
    /// - Returns: the bound endpoint (a `:0` or `:*` port resolved to the real one); nil when the
    ///   server does not bind (``ServerConfiguration/bind`` nil: it serves through brokers only).
    /// - Throws: ``ServerError/transport(_:)`` when binding fails (e.g. the port is in use) or a
    ///   connect endpoint is malformed; the server is then ``LifecycleState/stopped``.
    @discardableResult
    public func start() throws -> String? {
        startLock.lock()
        defer { startLock.unlock() }
        guard !started else { throw ServerError.alreadyStarted }
        started = true

        BLAS.setThreads(1)  // workers x BLAS threads never exceed the cores
        let cores = ProcessInfo.processInfo.activeProcessorCount
        if configuration.workers > cores {
            logger.warning("\(configuration.workers) workers on \(cores) cores: threads will share cores")
        }
        let context: ZMQContext
        var sockets: [ZMQSocket] = []
        var sources: [CallSource] = []  // the kind of each socket, in the same order
        var endpoint: String?
        var zap: ZAPHandler?
        do {
            context = try ZMQContext()
            func makeSocket(_ type: ZMQSocketType, _ source: CallSource) throws(ZMQError) -> ZMQSocket {
                let socket = try ZMQSocket(context: context, type: type)
                try socket.setMaxMessageSize(configuration.socketFrameCap)
                try socket.setLinger(2000)  // deliver the last replies when closing
                try socket.setSendHighWaterMark(100_000)
                try socket.setHeartbeat(configuration.heartbeat)
                sockets.append(socket)
                sources.append(source)
                return socket
            }
            if let bind = configuration.bind {
                let router = try makeSocket(.router, .bound)
                try router.setRouterMandatory(true)
                if let curve, let allowed = curve.allowed {
                    // The handler is bound and answering before the socket binds: fail closed.
                    let metrics = self.metrics
                    let logger = self.logger
                    let log = AuthFailureLog(interval: .seconds(configuration.authFailureLogIntervalSeconds))
                    let handler = try ZAPHandler(context: context, allowed: allowed, watching: router) { failure in
                        metrics.recordAuthFailure()
                        if let line = log.line(for: failure) { logger.warning("\(line)") }
                    }
                    zap = handler
                    try router.makeCurveServer(keys: curve.keys, zap: handler)
                }
                try router.bind(bind)
                endpoint = try router.lastEndpoint()
            }
            // One DEALER per broker: a reply must go back through the broker its call came from.
            // With the broker's key pinned, CURVE authenticates the broker to the server (and the
            // server to the broker's --server-allow), so its identity frames can be trusted.
            for broker in configuration.connect {
                let dealer = try makeSocket(.dealer, .broker(authenticated: curve?.brokerKey != nil))
                if let curve, let brokerKey = curve.brokerKey {
                    try dealer.makeCurveClient(serverKey: brokerKey, keys: curve.keys)
                }
                try dealer.connect(broker)
            }
        } catch {
            for socket in sockets { socket.close() }
            zap?.stop()
            control.transition(to: .stopped)
            throw ServerError.transport(error)
        }
        let queue = WorkQueue(capacity: configuration.queueCapacity)
        let finished = ReplyQueue(wake: wake)
        let workers = (0..<configuration.workers).map {
            Worker(index: $0, queue: queue, finished: finished, maxBatch: configuration.maxBatch, stats: stats, metrics: metrics)
        }
        for worker in workers { worker.start() }
        let loader = ModelLoader(configuration: configuration, table: models, metrics: metrics, sessionCache: sessionCache, logger: logger)
        loader.beforeInitialLoad = beforeInitialLoad
        if let positions = loader.catalogueLogPositions {
            let metrics = self.metrics
            metrics.onScrape {
                let all = positions.snapshot()
                metrics.updateCatalogueLog(all.map { ($0.model, $0.applied, $0.length) }, connected: all.first?.connected ?? false,
                                           secondsSinceContact: Double(all.first?.msSinceContact ?? 0) / 1000)
            }
        }
        stateLock.withLock { self.loader = loader }
        let front = FrontEnd(
            sockets: sockets, sources: sources, wake: wake, queue: queue, finished: finished, workers: workers, models: models,
            configuration: configuration, control: control, stats: stats, metrics: metrics, loader: loader,
            admin: admin, logger: logger)
        let control = self.control
        let logger = self.logger
        let guardian = zap
        // The sockets are handed to the front thread here; this thread never touches them again.
        let thread = Thread {
            front.run()
            loader.stop()
            guardian?.stop()  // only after the ROUTER is closed: a context with no handler admits anyone
            do {
                try context.terminate()
            } catch {
                logger.error("cannot terminate the ZeroMQ context: \(error)")
            }
            control.transition(to: .stopped)
        }
        thread.name = "fuserank-front"
        stateLock.withLock { boundEndpoint = endpoint }
        let listening = ([endpoint].compactMap { $0 } + configuration.connect.map { "\($0) (through a broker)" })
            .joined(separator: ", ")
        logger.info("bound \(listening)\(curve == nil ? "" : " (CURVE)"); loading models")
        thread.start()  // Health is answered from here on ("starting", not ready)

        // Load and warm up the models on the loader thread; serve once they are in.
        let ready = DispatchSemaphore(value: 0)
        let outcome = LoadOutcome()
        loader.start { result in
            outcome.set(result)
            ready.signal()
        }
        ready.wait()
        if case let .failure(error)? = outcome.get() {
            stop()
            control.waitUntilStopped()
            throw error
        }
        control.transitionIfStarting(to: .serving)
        logger.info(
            "serving on \(listening): models \(models.snapshot.map { "\($0.name)@\($0.version)" }.joined(separator: ", ")), \(configuration.workers) worker(s), max batch \(configuration.maxBatch), BLAS threads \(BLAS.threads), catalogue scoring \(configuration.catalogueScoring.rawValue), session cache \(configuration.sessionCacheMB) MiB")
        return endpoint
    }

    /// Rescans the model repositories now (SIGHUP); returns at once. Safe from any thread.
    public func reloadModels() {
        let loader = stateLock.withLock { self.loader }
        loader?.requestScan()
    }

    /// Starts draining: every new call but Health gets UNAVAILABLE, queued ones finish, then
    /// the server stops. Safe from any thread and idempotent; returns at once.
    public func stop() {
        if control.requestStop() {
            logger.info("stop requested")
        }
        wake.signal()
    }

    /// Blocks until the server has stopped (after ``stop()``, or at once if never started).
    public func waitUntilStopped() {
        startLock.lock()
        let wasStarted = started
        startLock.unlock()
        if wasStarted { control.waitUntilStopped() }
    }
}

/// The loader's start-up result, handed to the thread waiting in ``RankServer/start()``.
// @unchecked Sendable: `value` is read and written only while `lock` is held.
private final class LoadOutcome: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Result<Void, ServerError>?
    func set(_ result: Result<Void, ServerError>) { lock.withLock { value = result } }
    func get() -> Result<Void, ServerError>? { lock.withLock { value } }
}
