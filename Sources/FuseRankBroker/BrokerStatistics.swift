import FuseRankTransport

/// Where a ``Broker`` is in its life.
public enum BrokerState: String, Sendable, Equatable {
    /// Binding its sockets.
    case starting
    /// Forwarding calls.
    case forwarding
    /// Paused (PAUSE): calls wait in the sockets' queues until RESUME.
    case paused
    /// Stopping: the last statistics are taken, then the proxy is terminated.
    case stopping
    /// The proxy has returned and the sockets are closed.
    case stopped

    /// The word the broker's Health reply carries (the servers' vocabulary where it applies).
    public var healthState: String {
        switch self {
        case .starting: "starting"
        case .forwarding: "serving"
        case .paused: "paused"
        case .stopping, .stopped: "draining"
        }
    }
}

/// A snapshot of a broker: the proxy's traffic counters (`zmq_proxy_steerable` STATISTICS) and
/// the servers connected to its backend. `Sendable`, so a metrics exporter on any thread can read
/// ``Broker/statistics`` and publish it.
public struct BrokerStatistics: Sendable, Equatable {
    /// The broker's state when the snapshot was taken.
    public var state: BrokerState = .starting
    /// Messages and bytes each way, counted by libzmq's proxy (a multipart message is one).
    /// Frontend in = requests from clients, backend out = requests to servers, backend in =
    /// replies from servers, frontend out = replies to clients.
    public var traffic = ZMQProxyStatistics()
    /// Server connections on the backend now (accepted minus disconnected, from a socket monitor;
    /// a server that died is counted out once its heartbeats time out).
    public var servers: Int = 0
    /// Server connections accepted since the start (a restarted server counts again).
    public var serversAccepted: Int = 0

    public init() {}

    /// Calls forwarded to a server whose reply has not come back (yet, or ever: the server died).
    public var unanswered: UInt64 {
        traffic.backend.messagesOut &- min(traffic.backend.messagesOut, traffic.backend.messagesIn)
    }

    /// One log line: `requests: 120 in (6000 B), 120 to servers (6000 B); replies: 118 from servers
    /// (...), 118 to clients (...); servers connected 3 (accepted 4)`.
    public var summary: String {
        let f = traffic.frontend, b = traffic.backend
        return "requests: \(f.messagesIn) in (\(f.bytesIn) B), \(b.messagesOut) to servers (\(b.bytesOut) B); "
            + "replies: \(b.messagesIn) from servers (\(b.bytesIn) B), \(f.messagesOut) to clients (\(f.bytesOut) B); "
            + "servers connected \(servers) (accepted \(serversAccepted))"
    }

    /// The same figures as string pairs, for the trailers of the broker's Health reply.
    public var trailers: [String: String] {
        let f = traffic.frontend, b = traffic.backend
        return [
            "servers": "\(servers)", "servers_accepted": "\(serversAccepted)",
            "frontend_messages_in": "\(f.messagesIn)", "frontend_bytes_in": "\(f.bytesIn)",
            "frontend_messages_out": "\(f.messagesOut)", "frontend_bytes_out": "\(f.bytesOut)",
            "backend_messages_in": "\(b.messagesIn)", "backend_bytes_in": "\(b.bytesIn)",
            "backend_messages_out": "\(b.messagesOut)", "backend_bytes_out": "\(b.bytesOut)",
        ]
    }
}
