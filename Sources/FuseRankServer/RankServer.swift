import Foundation
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
/// let server = try RankServer(configuration: config, logger: logger)  // loads the models
/// let endpoint = try server.start()                                   // binds, starts threads
/// server.stop()                                                       // from any thread
/// server.waitUntilStopped()
/// ```
// @unchecked Sendable: the mutable state lives in `ServerControl` (locked); `startLock` guards
// `boundEndpoint` and `started`; everything else is immutable after init.
public final class RankServer: @unchecked Sendable {
    /// How the server runs.
    public let configuration: ServerConfiguration
    /// The loaded models.
    public let models: ModelRegistry
    private let logger: Logger
    private let control: ServerControl
    private let stats = ServerStats()
    /// The sessions' prefix states, shared by every worker; nil when turned off.
    private let sessionCache: SessionCache?
    private let wake: WakePipe
    private let startLock = NSLock()
    private var started = false
    private var boundEndpoint: String?

    /// Validates the configuration and loads every model bundle (state ``LifecycleState/starting``).
    /// - Parameters:
    ///   - configuration: how to run.
    ///   - logger: where lifecycle and error logs go.
    /// - Throws: ``ServerError`` for a bad configuration or a bundle that does not load.
    public init(configuration: ServerConfiguration, logger: Logger) throws {
        if let problem = configuration.validationProblem() { throw ServerError.badConfiguration(problem) }
        self.configuration = configuration
        self.logger = logger
        self.control = ServerControl(logger: logger)
        self.sessionCache = configuration.sessionCacheMB > 0 ? SessionCache(capacityBytes: configuration.sessionCacheMB << 20) : nil
        logger.info("lifecycle: starting", metadata: ["state": "starting"])
        self.models = try ModelRegistry(paths: configuration.modelPaths)
        for bundle in models.bundles {
            let c = bundle.config
            logger.info(
                "loaded model \"\(c.name)\" version \(c.version) from \(bundle.path): \(bundle.catalogueSize) items, d_model \(c.dModel), \(c.nLayers) layers, image_dim \(c.imageDim)")
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
        startLock.lock()
        defer { startLock.unlock() }
        return boundEndpoint
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
        var endpoint: String?
        do {
            context = try ZMQContext()
            func makeSocket(_ type: ZMQSocketType) throws(ZMQError) -> ZMQSocket {
                let socket = try ZMQSocket(context: context, type: type)
                try socket.setMaxMessageSize(configuration.socketFrameCap)
                try socket.setLinger(2000)  // deliver the last replies when closing
                try socket.setSendHighWaterMark(100_000)
                try socket.setHeartbeat(configuration.heartbeat)
                sockets.append(socket)
                return socket
            }
            if let bind = configuration.bind {
                let router = try makeSocket(.router)
                try router.setRouterMandatory(true)
                try router.bind(bind)
                endpoint = try router.lastEndpoint()
            }
            // One DEALER per broker: a reply must go back through the broker its call came from.
            for broker in configuration.connect {
                try makeSocket(.dealer).connect(broker)
            }
        } catch {
            for socket in sockets { socket.close() }
            control.transition(to: .stopped)
            throw ServerError.transport(error)
        }
        let queue = WorkQueue(capacity: configuration.queueCapacity)
        let finished = ReplyQueue(wake: wake)
        let workers = (0..<configuration.workers).map {
            Worker(index: $0, queue: queue, finished: finished, maxBatch: configuration.maxBatch,
                   catalogueScoring: configuration.catalogueScoring, sessionCache: sessionCache, models: models.bundles,
                   stats: stats)
        }
        for worker in workers { worker.start() }
        let front = FrontEnd(
            sockets: sockets, wake: wake, queue: queue, finished: finished, workers: workers, models: models,
            configuration: configuration, control: control, stats: stats, logger: logger)
        let control = self.control
        let logger = self.logger
        // The sockets are handed to the front thread here; this thread never touches them again.
        let thread = Thread {
            front.run()
            do {
                try context.terminate()
            } catch {
                logger.error("cannot terminate the ZeroMQ context: \(error)")
            }
            control.transition(to: .stopped)
        }
        thread.name = "fuserank-front"
        boundEndpoint = endpoint
        control.transition(to: .serving)
        let listening = ([endpoint].compactMap { $0 } + configuration.connect.map { "\($0) (through a broker)" })
            .joined(separator: ", ")
        logger.info(
            "serving on \(listening): models \(models.names.joined(separator: ", ")), \(configuration.workers) worker(s), max batch \(configuration.maxBatch), BLAS threads \(BLAS.threads), catalogue scoring \(configuration.catalogueScoring.rawValue), session cache \(configuration.sessionCacheMB) MiB")
        thread.start()
        return endpoint
    }

    /// Starts draining: new Rank and GetModelInfo calls get UNAVAILABLE, queued ones finish, then
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
