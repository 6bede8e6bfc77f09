import ArgumentParser
import Foundation
import FuseRankCommandLine
import FuseRankBroker
import FuseRankMetrics
import FuseRankTransport
import Logging

/// `fuserank-broker`: one address for several `fuserank-server` replicas.
@main
struct FuseRankBrokerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fuserank-broker",
        abstract: "Forward FuseRank calls from clients to the servers connected behind it (docs/deploy.md).",
        discussion: """
            Clients connect to --frontend as to a server; servers run with --connect <backend>.
            Prints "fuserank-broker: frontend <endpoint> backend <endpoint>" (and "health <endpoint>")
            on stdout once bound. SIGINT or SIGTERM: log the last statistics, stop, exit 0.
            SIGUSR1 pauses forwarding (calls wait in the queues), SIGUSR2 resumes it.
            CURVE: with --curve-secret-key, the frontend runs CURVE with --curve-allow (client keys)
            and the backend with --server-allow (server keys; servers pin the broker's public key
            with --broker-key). Each call reaches its server with the caller's key, so admin calls
            work through the broker. Exit codes: 0 stopped by a signal; 1 cannot start; 2 bad
            CURVE key files.
            """)

    @Option(help: "Endpoint clients connect to (ROUTER); a port of 0 or * picks a free one.")
    var frontend = BrokerConfiguration.defaults.frontend

    @Option(help: "Endpoint servers connect to with --connect (ROUTER); a session's Rank calls go to one server.")
    var backend = BrokerConfiguration.defaults.backend

    @Option(help: "Endpoint where the broker answers Health itself (ready: forwarding with a server connected).")
    var health: String?

    @OptionGroup var process: ProcessOptions

    @Option(help: "Log the statistics this often (ms) when they changed; always at exit.")
    var statsIntervalMs = BrokerConfiguration.defaults.statisticsLogIntervalMs

    @Option(help: "Serve GET /metrics (Prometheus text: the broker's traffic and servers) on HOST:PORT; off by default.")
    var metricsBind: String?

    @Option(help: "The broker's CURVE secret key file (Z85, from `fuserank keygen`); needs --curve-allow, --server-allow or both.")
    var curveSecretKey: String?

    @Option(help: "Client public keys (Z85, one per line, # comments) admitted on the frontend, which then runs CURVE; calls carry the caller's key to the servers.")
    var curveAllow: String?

    @Option(help: "Server public keys (Z85, one per line, # comments) admitted on the backend, which then runs CURVE; other servers cannot join.")
    var serverAllow: String?


    var brokerConfiguration: BrokerConfiguration {
        var c = BrokerConfiguration(frontend: frontend, backend: backend, health: health)
        c.heartbeat = process.heartbeat
        c.statisticsLogIntervalMs = statsIntervalMs
        c.curveSecretKeyPath = curveSecretKey
        c.curveAllowPath = curveAllow
        c.serverAllowPath = serverAllow
        return c
    }

    func validate() throws {
        if let problem = brokerConfiguration.validationProblem() { throw ValidationError(problem) }
    }

    func run() throws {
        process.bootstrapLogging()
        let logger = Logger(label: "fuserank.broker")
        do {
            let broker = try Broker(configuration: brokerConfiguration, logger: logger)
            // Watched before binding: a signal during start-up stops the broker once it runs.
            let signals = ShutdownSignals { number in
                logger.info("received signal \(number)")
                broker.stop()
            }
            defer { signals.cancel() }
            let steering = ShutdownSignals([SIGUSR1, SIGUSR2]) { number in
                number == SIGUSR1 ? broker.pause() : broker.resume()
            }
            defer { steering.cancel() }
            let endpoints = try broker.start()
            var metricsEndpoint: MetricsEndpoint?
            if let metricsBind {
                let metrics = ServerMetrics(serverSeries: false)
                metrics.onScrape {
                    let s = broker.statistics
                    let f = s.traffic.frontend, b = s.traffic.backend
                    metrics.updateBroker(traffic: [
                        ("frontend", "in", f.messagesIn, f.bytesIn), ("frontend", "out", f.messagesOut, f.bytesOut),
                        ("backend", "in", b.messagesIn, b.bytesIn), ("backend", "out", b.messagesOut, b.bytesOut),
                    ], servers: s.servers)
                }
                do {
                    metricsEndpoint = try MetricsEndpoint.startBlocking(metrics: metrics, bind: metricsBind)
                } catch {
                    logger.critical("cannot serve metrics on \(metricsBind): \(error)")
                    broker.stop()
                    broker.waitUntilStopped()
                    throw ExitCode.failure
                }
            }
            var line = "fuserank-broker: frontend \(endpoints.frontend) backend \(endpoints.backend)"
            if let health = endpoints.health { line += " health \(health)" }
            if let m = metricsEndpoint { line += " metrics \(m.host):\(m.port)" }
            // Unbuffered (write(2)), so a parent process reading a pipe sees it at once.
            FileHandle.standardOutput.write(Data((line + "\n").utf8))
            withExtendedLifetime(metricsEndpoint) { broker.waitUntilStopped() }  // metrics served until the process exits
        } catch let error as BrokerError {
            logger.critical("\(error)")
            if case .badKeys = error { throw ExitCode(2) }
            throw ExitCode.failure
        }
        logger.info("stopped; exiting")
    }
}
