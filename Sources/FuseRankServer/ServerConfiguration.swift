import Foundation
import FuseRankModel
import FuseRankRedis
import FuseRankTransport

/// How a ``RankServer`` runs: where it listens, what it serves, how much work it takes.
public struct ServerConfiguration: Sendable, Equatable {
    /// The ZeroMQ endpoint of the ROUTER socket; a TCP port of `0` or `*` picks a free one; nil:
    /// no ROUTER (the server then takes calls only through the brokers of ``connect``).
    public var bind: String? = "tcp://127.0.0.1:5555"
    /// Brokers' backend endpoints (`fuserank-broker --backend`): a DEALER socket connects to each,
    /// and calls arriving on it are answered on it.
    public var connect: [String] = []
    /// ZeroMQ heartbeats on every socket, so a dead client or broker is noticed in about a second.
    public var heartbeat = HeartbeatSettings()
    /// Model bundle folders; the first is the default model.
    public var modelPaths: [String] = []
    /// Worker threads, each with its own ranker (scratch arena) and 1 OpenBLAS thread.
    public var workers: Int = ServerConfiguration.defaultWorkers
    /// The most Rank requests one worker ranks in one batched forward pass.
    public var maxBatch: Int = 8
    /// Requests larger than this (header plus message, in bytes) get RESOURCE_EXHAUSTED.
    public var maxMessageBytes: Int = 16 * 1024 * 1024
    /// Deadline of a request whose `timeout_ms` is 0.
    public var defaultTimeoutMs: UInt32 = 1000
    /// `top_k` used when a request with no candidates (whole catalogue) asks for 0.
    public var defaultCatalogueTopK: Int = 100
    /// Rank requests waiting for a worker; more get UNAVAILABLE.
    public var queueCapacity: Int = 1024
    /// How whole-catalogue requests are scored: `exact` (float32), `int8` (8-bit pass, best few
    /// hundred re-scored exactly), or `auto` (int8 from 100,000 items).
    public var catalogueScoring: CatalogueScoring = .auto
    /// Memory for per-session prefix caches (`RankRequest.session_id`), in MiB; 0 turns them off.
    public var sessionCacheMB: Int = 256
    /// Model repositories, each laid out `DIR/<model>/<version>/` (docs/operations.md).
    public var modelRepositories: [String] = []
    /// Rescan the repositories every this many milliseconds; 0: only on SIGHUP and ReloadModels.
    public var repositoryPollMs: Int = 5000
    /// `HOST:PORT` serving `GET /metrics` (Prometheus); nil: no metrics endpoint.
    public var metricsBind: String?
    /// The server's CURVE secret key file (Z85); with ``curveAllowPath``, only allowed clients are served.
    public var curveSecretKeyPath: String?
    /// The CURVE allowlist: one client public key (Z85) per line, `#` comments.
    public var curveAllowPath: String?
    /// Where catalogue journals live (`<dir>/<model>/catalogue.journal`); nil: beside the model in
    /// its repository (`<repo>/<model>/catalogue.journal`), and a `--model` bundle takes no changes.
    public var stateDirectory: String?
    /// The shared catalogue log, `redis://HOST:PORT[/prefix]` (docs/deploy.md "Replicas that share
    /// a catalogue"): admin changes go to each model's Redis stream, and every replica applies the
    /// streams in order; nil: each model's changes go to its local journal.
    public var catalogueLog: String?
    /// CURVE public keys (Z85, one per line) that may call UpsertItems and SetItemsAvailable.
    public var adminAllowPath: String?
    /// Without CURVE: let every client call UpsertItems and SetItemsAvailable.
    public var adminInsecure: Bool = false
    /// How often an auth failure from one peer address is logged, at most (seconds).
    public var authFailureLogIntervalSeconds: Int = 60
    /// The brokers' CURVE public key file (`--broker-key`, the broker's `PREFIX.pub`): with it
    /// every ``connect`` link runs CURVE with the server's key pair (``curveSecretKeyPath``) and
    /// reaches only a broker holding that key, which vouches for each caller's key (admin calls).
    public var brokerKeyPath: String?

    /// One worker per core, leaving one core to the front thread and libzmq's I/O thread.
    public static var defaultWorkers: Int { max(1, ProcessInfo.processInfo.activeProcessorCount - 1) }

    /// A configuration with every field at its default.
    public init() {}

    /// Every field at its default: the one place the defaults are written (the CLI reads them here).
    public static let defaults = ServerConfiguration()

    /// A configuration for the given endpoint and models, other fields at their defaults.
    /// - Parameters:
    ///   - bind: the endpoint to listen on; nil for none.
    ///   - connect: brokers' backend endpoints to take calls from.
    ///   - modelPaths: bundle folders, default model first.
    public init(bind: String?, connect: [String] = [], modelPaths: [String]) {
        self.bind = bind
        self.connect = connect
        self.modelPaths = modelPaths
    }

    /// What is wrong with the configuration, or nil when it can run.
    public func validationProblem() -> String? {
        if modelPaths.isEmpty && modelRepositories.isEmpty {
            return "at least one --model bundle or --model-repository folder is needed"
        }
        if bind == nil && connect.isEmpty { return "give --bind, --connect, or both" }
        if Set(connect).count != connect.count { return "each --connect endpoint may be given once" }
        if let problem = heartbeat.validationProblem { return problem }
        if repositoryPollMs < 0 { return "--repository-poll-ms must be at least 0 (got \(repositoryPollMs))" }
        if let problem = curveProblem { return problem }
        if adminAllowPath != nil && curveSecretKeyPath == nil {
            return "--admin-allow lists CURVE keys: give --curve-secret-key with --curve-allow or --broker-key too (or --admin-insecure without CURVE)"
        }
        if adminInsecure && curveSecretKeyPath != nil {
            return "--admin-insecure is for a server without CURVE; with CURVE, list the admin keys with --admin-allow"
        }
        if let catalogueLog {
            do {
                _ = try RedisAddress(parsing: catalogueLog)
            } catch {
                return "--catalogue-log: \(error)"
            }
            if stateDirectory != nil {
                return "--state-dir holds local catalogue journals; with --catalogue-log the log is the catalogue's state: give one of them"
            }
        }
        if workers < 1 { return "--workers must be at least 1 (got \(workers))" }
        if maxBatch < 1 { return "--max-batch must be at least 1 (got \(maxBatch))" }
        if maxMessageBytes < 64 { return "--max-message-bytes must be at least 64 (got \(maxMessageBytes))" }
        if defaultTimeoutMs < 1 { return "--default-timeout-ms must be at least 1" }
        if defaultCatalogueTopK < 1 { return "--default-top-k must be at least 1 (got \(defaultCatalogueTopK))" }
        if queueCapacity < 1 { return "--queue-capacity must be at least 1 (got \(queueCapacity))" }
        if sessionCacheMB < 0 { return "--session-cache-mb must be at least 0 (got \(sessionCacheMB))" }
        return nil
    }

    /// What is wrong with the CURVE options, or nil. The key pair serves the bound socket (with
    /// its allowlist, `--curve-allow`) and the broker links (with the broker's key, `--broker-key`);
    /// a socket that has the key runs CURVE, so a bound socket with a key needs its allowlist.
    private var curveProblem: String? {
        if curveAllowPath != nil && bind == nil { return "--curve-allow guards the bound socket: give --bind too" }
        if brokerKeyPath != nil && connect.isEmpty { return "--broker-key is for the --connect links: give --connect too" }
        if curveSecretKeyPath == nil {
            return curveAllowPath != nil || brokerKeyPath != nil
                ? "--curve-allow and --broker-key need the server's key pair: give --curve-secret-key" : nil
        }
        if bind != nil && curveAllowPath == nil {
            return "with --bind, --curve-secret-key needs --curve-allow (the bound socket runs CURVE)"
        }
        if bind == nil && brokerKeyPath == nil {
            return "--curve-secret-key without --bind is for the --connect links: give --broker-key"
        }
        return nil
    }

    /// The `ZMQ_MAXMSGSIZE` safety cap of the server's sockets: 4x the limit per frame, so the
    /// server itself answers oversized requests; -1 (none) if 4x overflows.
    var socketFrameCap: Int64 {
        let (cap, overflow) = Int64(maxMessageBytes).multipliedReportingOverflow(by: 4)
        return overflow ? -1 : cap
    }
}
