import FuseRankTransport

/// How a ``Broker`` runs: where clients and servers meet it, heartbeats, how often it logs.
public struct BrokerConfiguration: Sendable, Equatable {
    /// The ROUTER socket clients connect to (they call it exactly as they would call a server).
    public var frontend: String = "tcp://127.0.0.1:5555"
    /// The ROUTER socket servers connect to (`fuserank-server --connect`); calls go to the
    /// servers that announced they serve, a session's Rank calls to one of them (``ServerRoster``).
    public var backend: String = "tcp://127.0.0.1:5556"
    /// Where the broker answers Health calls itself (a ROUTER of its own); nil: no such endpoint.
    public var health: String? = nil
    /// ZeroMQ heartbeats on the frontend and backend connections.
    public var heartbeat = HeartbeatSettings()
    /// Statistics are logged this often (when they changed), and once at exit; in milliseconds.
    public var statisticsLogIntervalMs: Int = 10_000
    /// Messages queued per peer on each side before the broker waits (calls: they stay in the
    /// frontend's queue) or drops (replies to a client that does not read).
    public var highWaterMark: Int32 = 100_000
    /// The broker's CURVE secret key file (`fuserank keygen`'s `PREFIX.key`; its public key goes
    /// to the clients and the servers). The broker is the CURVE server of each side that has an
    /// allowlist below; nil: both sides plaintext.
    public var curveSecretKeyPath: String? = nil
    /// Client public keys (Z85, one per line, `#` comments) admitted on the frontend: with it the
    /// frontend runs CURVE, and each call carries its caller's key to the server (admin calls).
    public var curveAllowPath: String? = nil
    /// Server public keys (same format) admitted on the backend: with it the backend runs CURVE,
    /// and a server whose key is not listed cannot join.
    public var serverAllowPath: String? = nil

    /// Every field at its default.
    public init() {}

    /// The defaults, in one place (the command line reads them here).
    public static let defaults = BrokerConfiguration()

    /// A configuration for the given endpoints, other fields at their defaults.
    public init(frontend: String, backend: String, health: String? = nil) {
        self.frontend = frontend
        self.backend = backend
        self.health = health
    }

    /// What is wrong with the configuration, or nil when it can run.
    public func validationProblem() -> String? {
        if frontend.isEmpty || backend.isEmpty { return "--frontend and --backend are both needed" }
        // The same endpoint twice cannot be bound twice (a free port, `:*` or `:0`, is picked apart).
        func clash(_ a: String, _ b: String) -> Bool { a == b && !a.hasSuffix(":*") && !a.hasSuffix(":0") }
        if clash(frontend, backend) { return "--frontend and --backend must differ" }
        if let health, clash(health, frontend) || clash(health, backend) {
            return "--health must differ from --frontend and --backend"
        }
        if statisticsLogIntervalMs < 1 { return "--stats-interval-ms must be at least 1" }
        if curveSecretKeyPath == nil && (curveAllowPath != nil || serverAllowPath != nil) {
            return "--curve-allow and --server-allow need the broker's key pair: give --curve-secret-key"
        }
        if curveSecretKeyPath != nil && curveAllowPath == nil && serverAllowPath == nil {
            return "--curve-secret-key needs --curve-allow (CURVE on the frontend), --server-allow (on the backend), or both"
        }
        if highWaterMark < 0 { return "the high-water mark must be 0 or more" }
        return heartbeat.validationProblem
    }
}
