import ArgumentParser
import Foundation
import FuseRankModel
import FuseRankServer
import Logging

/// `fuserank-server`: serves FuseRank model bundles over ZeroMQ until SIGINT or SIGTERM.
@main
struct FuseRankServerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fuserank-server",
        abstract: "Serve FuseRank model bundles over ZeroMQ (protocol: docs/wire.md).",
        discussion: """
            Prints "fuserank-server: serving on <endpoint>" on stdout once it takes requests.
            SIGINT or SIGTERM: stop taking work, finish what is in flight, exit 0.
            """)

    @Option(help: "ZeroMQ endpoint to listen on; a port of 0 picks a free one (see the ready line).")
    var bind = ServerConfiguration.defaults.bind

    @Option(name: .customLong("model"), help: "A model bundle folder; repeat for more models. The first is the default.")
    var models: [String] = []

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

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    var serverConfiguration: ServerConfiguration {
        var c = ServerConfiguration(bind: bind, modelPaths: models)
        c.workers = workers
        c.maxBatch = maxBatch
        c.maxMessageBytes = maxMessageBytes
        c.defaultTimeoutMs = defaultTimeoutMs
        c.defaultCatalogueTopK = defaultTopK
        c.queueCapacity = queueCapacity
        c.catalogueScoring = CatalogueScoring(rawValue: catalogueScoring) ?? c.catalogueScoring
        c.sessionCacheMB = sessionCacheMb
        return c
    }

    func validate() throws {
        if models.isEmpty { throw ValidationError("give at least one --model bundle folder") }
        if Logger.Level(rawValue: logLevel) == nil {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical")
        }
        if CatalogueScoring(rawValue: catalogueScoring) == nil {
            throw ValidationError("--catalogue-scoring must be exact, int8 or auto")
        }
        if let problem = serverConfiguration.validationProblem() { throw ValidationError(problem) }
    }

    func run() throws {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "fuserank.server")
        // Watch the signals before loading models, so a SIGTERM during start-up still exits 0.
        let stopper = PendingStop()
        let signals = ShutdownSignals { number in
            logger.info("received signal \(number)")
            stopper.stop()
        }
        defer { signals.cancel() }
        do {
            let server = try RankServer(configuration: serverConfiguration, logger: logger)
            let endpoint = try server.start()
            // Unbuffered (write(2)), so a parent process reading a pipe sees it at once.
            FileHandle.standardOutput.write(Data("fuserank-server: serving on \(endpoint)\n".utf8))
            stopper.attach(server)
            server.waitUntilStopped()
        } catch let error as ServerError {
            logger.critical("\(error)")
            throw ExitCode.failure
        }
        logger.info("lifecycle: stopped; exiting")
    }
}
