import ArgumentParser
import Foundation
import FuseRankCommandLine
import FuseRankMetrics
import FuseRankModel
import FuseRankServer
import FuseRankTransport
import Logging

/// `fuserank-server`: serves FuseRank model bundles over ZeroMQ until SIGINT or SIGTERM.
@main
struct FuseRankServerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fuserank-server",
        abstract: "Serve FuseRank model bundles over ZeroMQ (protocol: docs/wire.md).",
        discussion: """
            Binds first (Health answers "starting" at once), then loads and warms up the models, then
            prints "fuserank-server: serving on <endpoint>" on stdout once it takes requests (and
            "fuserank-server: serving through <broker>" for each --connect).
            With neither --bind nor --connect it binds \(ServerConfiguration.defaults.bind ?? "nothing").
            SIGINT or SIGTERM: stop taking work, finish what is in flight, exit 0.
            SIGHUP: rescan the model repositories now.
            Exit codes: 0 stopped by a signal; 1 cannot start (bind, model load); 2 bad CURVE key files.
            """)

    @Option(help: "ZeroMQ endpoint to listen on; a port of 0 picks a free one (see the ready line).")
    var bind: String?

    @Option(help: "A broker's backend endpoint (fuserank-broker --backend) to take calls from; repeat for more brokers.")
    var connect: [String] = []

    @OptionGroup var process: ProcessOptions

    @Option(name: .customLong("model"), help: "A model bundle folder, loaded once and never reloaded; repeat for more models. The first is the default.")
    var models: [String] = []

    @Option(name: .customLong("model-repository"), help: "A model repository DIR/<model>/<version>/: the highest version that loads is served, new versions are swapped in (docs/operations.md). Repeatable.")
    var modelRepositories: [String] = []

    @Option(help: "Rescan the model repositories every this many ms; 0: only on SIGHUP and ReloadModels.")
    var repositoryPollMs: Int = ServerConfiguration.defaults.repositoryPollMs

    @Option(help: "HOST:PORT serving GET /metrics (Prometheus text format); off by default.")
    var metricsBind: String?

    @Option(help: "The server's CURVE secret key file (Z85, from `fuserank keygen`), for the bound socket (with --curve-allow) and the --connect links (with --broker-key).")
    var curveSecretKey: String?

    @Option(help: "Allowed client public keys (Z85), one per line, # comments; needs --curve-secret-key.")
    var curveAllow: String?

    @Option(help: "Folder of the catalogue journals (<dir>/<model>/catalogue.journal); default: beside each repository model (<repo>/<model>/). A --model bundle takes UpsertItems/SetItemsAvailable only with it.")
    var stateDir: String?

    @Option(help: "Share each model's live catalogue with other replicas through Redis streams: redis://HOST:PORT[/prefix] (docs/deploy.md). Admin changes go to the log instead of a local journal; Health is ready once the log is read.")
    var catalogueLog: String?

    @Option(help: "CURVE client public keys (Z85, one per line, # comments) allowed to call UpsertItems and SetItemsAvailable; needs CURVE.")
    var adminAllow: String?

    @Flag(help: "Without CURVE: let every client call UpsertItems and SetItemsAvailable (refused otherwise).")
    var adminInsecure = false

    @Option(help: "The brokers' CURVE public key file (the broker's PREFIX.pub): every --connect link runs CURVE and reaches only that broker, which passes on each caller's key (admin calls through the broker); needs --curve-secret-key.")
    var brokerKey: String?

    @Option(help: "Worker threads (each ranks with 1 OpenBLAS thread). Default: cores - 1, at least 1.")
    var workers: Int = ServerConfiguration.defaults.workers

    @Option(help: "Most Rank requests one worker ranks in one batched forward pass.")
    var maxBatch: Int = ServerConfiguration.defaults.maxBatch

    @Option(help: "Largest request (header + message, bytes); larger ones get RESOURCE_EXHAUSTED.")
    var maxMessageBytes: Int = ServerConfiguration.defaults.maxMessageBytes

    @Option(help: "Deadline (ms) of a request whose timeout_ms is 0.")
    var defaultTimeoutMs: UInt32 = ServerConfiguration.defaults.defaultTimeoutMs

    @Option(help: "top_k of a whole-catalogue request that asks for 0.")
    var defaultTopK: Int = ServerConfiguration.defaults.defaultCatalogueTopK

    @Option(help: "Rank requests waiting for a worker; more get UNAVAILABLE.")
    var queueCapacity: Int = ServerConfiguration.defaults.queueCapacity

    @Option(help: "Whole-catalogue scoring: exact (float32), int8 (8-bit pass, best few hundred re-scored exactly), auto (int8 from 100,000 items).")
    var catalogueScoring: String = ServerConfiguration.defaults.catalogueScoring.rawValue

    @Option(help: "MiB for per-session prefix caches (requests with a session_id); 0 turns them off.")
    var sessionCacheMb: Int = ServerConfiguration.defaults.sessionCacheMB


    var serverConfiguration: ServerConfiguration {
        let listen = bind ?? (connect.isEmpty ? ServerConfiguration.defaults.bind : nil)
        var c = ServerConfiguration(bind: listen, connect: connect, modelPaths: models)
        c.heartbeat = process.heartbeat
        c.workers = workers
        c.maxBatch = maxBatch
        c.maxMessageBytes = maxMessageBytes
        c.defaultTimeoutMs = defaultTimeoutMs
        c.defaultCatalogueTopK = defaultTopK
        c.queueCapacity = queueCapacity
        c.catalogueScoring = CatalogueScoring(rawValue: catalogueScoring) ?? c.catalogueScoring
        c.sessionCacheMB = sessionCacheMb
        c.modelRepositories = modelRepositories
        c.repositoryPollMs = repositoryPollMs
        c.metricsBind = metricsBind
        c.curveSecretKeyPath = curveSecretKey
        c.curveAllowPath = curveAllow
        c.stateDirectory = stateDir
        c.catalogueLog = catalogueLog
        c.adminAllowPath = adminAllow
        c.adminInsecure = adminInsecure
        c.brokerKeyPath = brokerKey
        return c
    }

    func validate() throws {
        if models.isEmpty && modelRepositories.isEmpty {
            throw ValidationError("give at least one --model bundle folder or --model-repository")
        }
        if let metricsBind, MetricsEndpoint.parse(metricsBind) == nil {
            throw ValidationError("--metrics-bind must be HOST:PORT with an IPv4 host, localhost or * (got \"\(metricsBind)\")")
        }
        if CatalogueScoring(rawValue: catalogueScoring) == nil {
            throw ValidationError("--catalogue-scoring must be exact, int8 or auto")
        }
        if let problem = serverConfiguration.validationProblem() { throw ValidationError(problem) }
    }

    func run() throws {
        BLAS.reexecWithBestCoreTypeIfNeeded()
        process.bootstrapLogging()
        let logger = Logger(label: "fuserank.server")
        // Watch the signals before loading models, so a SIGTERM during start-up still exits 0.
        let stopper = PendingStop()
        let signals = ShutdownSignals { number in
            logger.info("received signal \(number)")
            stopper.stop()
        }
        defer { signals.cancel() }
        let reloader = PendingReload()
        let hangups = ShutdownSignals([SIGHUP]) { _ in
            logger.info("received SIGHUP: rescanning the model repositories")
            reloader.reload()
        }
        defer { hangups.cancel() }
        do {
            let server = try RankServer(configuration: serverConfiguration, logger: logger)
            reloader.attach(server)
            if let metricsBind {
                do {
                    let metrics = try MetricsEndpoint.startBlocking(metrics: server.metrics, bind: metricsBind)
                    logger.info("metrics on http://\(metrics.host):\(metrics.port)/metrics")
                    FileHandle.standardOutput.write(Data("fuserank-server: metrics on \(metrics.host):\(metrics.port)\n".utf8))
                } catch {
                    logger.critical("\(error)")
                    throw ExitCode.failure
                }
            }
            let endpoint = try server.start()
            let lines = [endpoint].compactMap { $0 }.map { "fuserank-server: serving on \($0)\n" }
                + serverConfiguration.connect.map { "fuserank-server: serving through \($0)\n" }
            // Unbuffered (write(2)), so a parent process reading a pipe sees it at once.
            FileHandle.standardOutput.write(Data(lines.joined().utf8))
            stopper.attach(server)
            server.waitUntilStopped()
        } catch let error as ServerError {
            logger.critical("\(error)")
            if case .badKeys = error { throw ExitCode(2) }
            throw ExitCode.failure
        }
        logger.info("lifecycle: stopped; exiting")
    }
}
