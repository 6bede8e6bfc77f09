import CZeroMQ

/// ZeroMQ's own connection heartbeats (ZMTP PING/PONG, `ZMQ_HEARTBEAT_*`): a peer that stops
/// answering is disconnected after about ``intervalMs`` + ``timeoutMs``, instead of when TCP
/// gives up (minutes, or never for a host that vanished without closing its sockets).
///
/// The defaults notice a dead peer in 1 to 1.25 s. libzmq answers PINGs on its I/O thread, so a busy
/// application thread does not make its peers look dead. See docs/deploy.md.
public struct HeartbeatSettings: Sendable, Equatable {
    /// `ZMQ_HEARTBEAT_IVL`: a PING is sent on each connection every this many ms; 0 turns
    /// heartbeats off.
    public var intervalMs: Int32
    /// `ZMQ_HEARTBEAT_TIMEOUT`: a connection on which nothing arrives within this many ms after a
    /// PING is closed (libzmq then reconnects a connecting socket).
    public var timeoutMs: Int32
    /// `ZMQ_HEARTBEAT_TTL`: carried in each PING; the peer closes the connection when it hears
    /// nothing from us for this long (100 ms resolution). Covers peers that set no heartbeat.
    public var ttlMs: Int32

    /// Creates settings; the defaults are the project's (250 ms pings, 1 s timeout and TTL).
    public init(intervalMs: Int32 = 250, timeoutMs: Int32 = 1000, ttlMs: Int32 = 1000) {
        self.intervalMs = intervalMs
        self.timeoutMs = timeoutMs
        self.ttlMs = ttlMs
    }

    /// No heartbeats (libzmq's default).
    public static let off = HeartbeatSettings(intervalMs: 0, timeoutMs: 0, ttlMs: 0)

    /// What is wrong with the settings, or nil (the option names are the command-line flags).
    public var validationProblem: String? {
        if intervalMs < 0 || timeoutMs < 0 || ttlMs < 0 { return "heartbeat settings must be 0 or more" }
        if ttlMs > 6_553_599 { return "--heartbeat-ttl-ms must be at most 6553599 (got \(ttlMs))" }
        if intervalMs > 0 && timeoutMs > 0 && timeoutMs < intervalMs {
            return "--heartbeat-timeout-ms (\(timeoutMs)) must not be shorter than --heartbeat-ivl-ms (\(intervalMs))"
        }
        return nil
    }
}

extension ZMQSocket {
    /// Sets `ZMQ_HEARTBEAT_IVL`, `_TIMEOUT` and `_TTL`; call before bind/connect (libzmq copies
    /// the options into each connection when it is made).
    /// - Parameter settings: The heartbeat settings.
    /// - Throws: ``ZMQError`` (`EINVAL` for a value libzmq refuses).
    public func setHeartbeat(_ settings: HeartbeatSettings) throws(ZMQError) {
        try setOption(ZMQ_HEARTBEAT_IVL, settings.intervalMs)
        try setOption(ZMQ_HEARTBEAT_TIMEOUT, settings.timeoutMs)
        try setOption(ZMQ_HEARTBEAT_TTL, settings.ttlMs)
    }
}
