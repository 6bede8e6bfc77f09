import CZeroMQ

/// `zmq_proxy_steerable`: forwards messages between two sockets until a `TERMINATE` command
/// arrives on `control`, on the calling thread.
///
/// The thread that calls this owns `frontend`, `backend` and `control` until it returns; other
/// threads steer it only through the peer of `control` (a PAIR socket of the same context), with
/// the commands of ``ZMQProxyCommand``. A `STATISTICS` command is answered on `control` with eight
/// 64-bit frames (``ZMQProxyStatistics``), so `control` must be able to send: use PAIR.
/// - Parameters:
///   - frontend: The clients' side (ROUTER for request-reply).
///   - backend: The servers' side (DEALER for request-reply).
///   - control: The command socket.
/// - Throws: ``ZMQError`` when the proxy stops for another reason (`ETERM`: the context was shut down).
public func zmqProxySteerable(frontend: ZMQSocket, backend: ZMQSocket, control: ZMQSocket) throws(ZMQError) {
    let f = try frontend.open("zmq_proxy_steerable")
    let b = try backend.open("zmq_proxy_steerable")
    let c = try control.open("zmq_proxy_steerable")
    // Not retried on EINTR: a signal ends a blocking zmq_proxy_steerable only on libzmq builds that
    // report it, and starting over would forget a PAUSE. Callers treat any error as the end.
    if zmq_proxy_steerable(f, b, nil, c) != 0 {
        throw ZMQError.current("zmq_proxy_steerable")
    }
}

/// The commands `zmq_proxy_steerable` understands on its control socket (any other aborts libzmq).
public enum ZMQProxyCommand: String, Sendable, CaseIterable {
    /// Stop forwarding (messages wait in the sockets' queues).
    case pause = "PAUSE"
    /// Forward again.
    case resume = "RESUME"
    /// Return from the proxy.
    case terminate = "TERMINATE"
    /// Reply with the counters (``ZMQProxyStatistics``).
    case statistics = "STATISTICS"

    /// The frame to send.
    public var frame: [UInt8] { Array(rawValue.utf8) }
}

/// Traffic through one side of a proxy: whole (multipart) messages and their bytes.
public struct ZMQProxyTraffic: Sendable, Equatable {
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
}

/// The reply to ``ZMQProxyCommand/statistics``: counters since the proxy started.
public struct ZMQProxyStatistics: Sendable, Equatable {
    /// The frontend socket (for a broker: requests in from clients, replies out to them).
    public var frontend = ZMQProxyTraffic()
    /// The backend socket (requests out to servers, replies in from them).
    public var backend = ZMQProxyTraffic()

    public init(frontend: ZMQProxyTraffic = ZMQProxyTraffic(), backend: ZMQProxyTraffic = ZMQProxyTraffic()) {
        self.frontend = frontend
        self.backend = backend
    }

    /// Decodes the eight frames of a STATISTICS reply, each a `uint64_t` in host order: frontend
    /// messages in, bytes in, messages out, bytes out, then the same for the backend.
    /// - Parameter frames: The reply.
    /// - Returns: The counters, or nil for a message of another shape.
    public init?(frames: [[UInt8]]) {
        guard frames.count == 8, frames.allSatisfy({ $0.count == 8 }) else { return nil }
        let v = frames.map { $0.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) } }
        frontend = ZMQProxyTraffic(messagesIn: v[0], bytesIn: v[1], messagesOut: v[2], bytesOut: v[3])
        backend = ZMQProxyTraffic(messagesIn: v[4], bytesIn: v[5], messagesOut: v[6], bytesOut: v[7])
    }
}
