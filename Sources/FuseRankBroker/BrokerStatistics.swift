import FuseRankTransport

/// Where a ``Broker`` is in its life.
public enum BrokerState: String, Sendable, Equatable {
    /// Binding its sockets.
    case starting
    /// Forwarding calls.
    case forwarding
    /// Paused (PAUSE): calls wait in the sockets' queues until RESUME.
    case paused
    /// Stopping: forwarding has ended, the last statistics are logged, the sockets close.
    case stopping
    /// The sockets are closed.
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

/// Traffic through one of the broker's sockets: whole (multipart) messages and their bytes.
public struct SocketTraffic: Sendable, Equatable {
    /// Messages received on this socket.
    public var messagesIn: UInt64 = 0
    /// Bytes of those messages, all frames.
    public var bytesIn: UInt64 = 0
    /// Messages sent on this socket.
    public var messagesOut: UInt64 = 0
    /// Bytes of those messages.
    public var bytesOut: UInt64 = 0

    public init(messagesIn: UInt64 = 0, bytesIn: UInt64 = 0, messagesOut: UInt64 = 0, bytesOut: UInt64 = 0) {
        self.messagesIn = messagesIn
        self.bytesIn = bytesIn
        self.messagesOut = messagesOut
        self.bytesOut = bytesOut
    }

    /// Counts a message received.
    mutating func countIn(_ frames: [[UInt8]]) {
        messagesIn &+= 1
        bytesIn &+= Self.bytes(frames)
    }

    /// Counts a message sent.
    mutating func countOut(_ frames: [[UInt8]]) {
        messagesOut &+= 1
        bytesOut &+= Self.bytes(frames)
    }

    private static func bytes(_ frames: [[UInt8]]) -> UInt64 { frames.reduce(0) { $0 &+ UInt64($1.count) } }
}

/// The broker's traffic since it started, both sides.
public struct BrokerTraffic: Sendable, Equatable {
    /// The frontend: requests in from clients, replies out to them.
    public var frontend = SocketTraffic()
    /// The backend: requests out to servers, replies in from them.
    public var backend = SocketTraffic()

    public init(frontend: SocketTraffic = SocketTraffic(), backend: SocketTraffic = SocketTraffic()) {
        self.frontend = frontend
        self.backend = backend
    }
}

/// A snapshot of a broker: its traffic counters and the servers it routes calls to.
/// `Sendable`, so a metrics exporter on any thread can read ``Broker/statistics`` and publish it.
public struct BrokerStatistics: Sendable, Equatable {
    /// The broker's state when the snapshot was taken.
    public var state: BrokerState = .starting
    /// Messages and bytes each way (a multipart message is one; every frame's bytes count, the
    /// routing id and the caller's identity frame included). Frontend in = requests from
    /// clients, backend out = requests to servers, backend in = replies from servers, frontend
    /// out = replies to clients.
    public var traffic = BrokerTraffic()
    /// Servers calls are routed to now: those that announced they serve (docs/wire.md) and have
    /// not left (draining, their connection gone, or silent for ``Framing/silentServerMs``). A
    /// server still loading its models, or refused by CURVE, never counts.
    public var servers: Int = 0
    /// Servers that joined since the start (a restarted server counts again).
    public var serversAccepted: Int = 0

    public init() {}

    /// Calls forwarded to a server whose reply has not come back (yet, or ever: the server died).
    public var unanswered: UInt64 {
        traffic.backend.messagesOut &- min(traffic.backend.messagesOut, traffic.backend.messagesIn)
    }

    /// One log line: `requests: 120 in (6000 B), 120 to servers (6000 B); replies: 118 from servers
    /// (...), 118 to clients (...); servers serving 3 (joined 4)`.
    public var summary: String {
        let f = traffic.frontend, b = traffic.backend
        return "requests: \(f.messagesIn) in (\(f.bytesIn) B), \(b.messagesOut) to servers (\(b.bytesOut) B); "
            + "replies: \(b.messagesIn) from servers (\(b.bytesIn) B), \(f.messagesOut) to clients (\(f.bytesOut) B); "
            + "servers serving \(servers) (joined \(serversAccepted))"
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
