import CZeroMQ

/// Connection events of a socket, as `zmq_socket_monitor` reports them.
public struct ZMQMonitorEvents: OptionSet, Sendable, Hashable {
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }

    /// `ZMQ_EVENT_CONNECTED`: a connecting socket's TCP connection is up.
    public static let connected = ZMQMonitorEvents(rawValue: Int32(ZMQ_EVENT_CONNECTED))
    /// `ZMQ_EVENT_DISCONNECTED`: a connection ended (peer closed, died, or missed its heartbeats).
    public static let disconnected = ZMQMonitorEvents(rawValue: Int32(ZMQ_EVENT_DISCONNECTED))
    /// `ZMQ_EVENT_HANDSHAKE_SUCCEEDED`: a connection finished its ZMTP handshake (for CURVE: its
    /// key was admitted); messages flow from here on.
    public static let handshakeSucceeded = ZMQMonitorEvents(rawValue: Int32(ZMQ_EVENT_HANDSHAKE_SUCCEEDED))
    /// `ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL`: the connection ended during the handshake.
    public static let handshakeFailedNoDetail = ZMQMonitorEvents(rawValue: Int32(ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL))
    /// `ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL`: the peer broke ZMTP (e.g. a plaintext peer on a CURVE socket).
    public static let handshakeFailedProtocol = ZMQMonitorEvents(rawValue: Int32(ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL))
    /// `ZMQ_EVENT_HANDSHAKE_FAILED_AUTH`: the ZAP handler refused the peer.
    public static let handshakeFailedAuth = ZMQMonitorEvents(rawValue: Int32(ZMQ_EVENT_HANDSHAKE_FAILED_AUTH))
    /// Every handshake failure. Each is followed by a ``disconnected`` event of the same connection.
    public static let handshakeFailed: ZMQMonitorEvents = [.handshakeFailedNoDetail, .handshakeFailedProtocol, .handshakeFailedAuth]
}

/// One event read from a monitor socket.
public struct ZMQMonitorEvent: Sendable, Equatable {
    /// Which event (exactly one member set).
    public let event: ZMQMonitorEvents
    /// The event's value (a file descriptor for connection events).
    public let value: UInt32
    /// The endpoint concerned, e.g. `tcp://127.0.0.1:41234`.
    public let endpoint: String

    /// Decodes a monitor message: `[uint16 event, uint32 value]` (host order), then the endpoint.
    /// - Parameter frames: The two frames a monitor socket delivers.
    /// - Returns: The event, or nil for a message of another shape.
    public init?(frames: [[UInt8]]) {
        guard frames.count == 2, frames[0].count == 6 else { return nil }
        let (event, value) = frames[0].withUnsafeBytes { raw in
            (raw.loadUnaligned(fromByteOffset: 0, as: UInt16.self), raw.loadUnaligned(fromByteOffset: 2, as: UInt32.self))
        }
        self.event = ZMQMonitorEvents(rawValue: Int32(event))
        self.value = value
        self.endpoint = String(decoding: frames[1], as: UTF8.self)
    }
}

extension ZMQSocket {
    /// Starts reporting `events` of this socket on a PAIR socket bound at `endpoint` (inproc);
    /// connect a ``ZMQSocketType/pair`` socket of the same context there to read them.
    /// - Parameters:
    ///   - endpoint: An `inproc://` name.
    ///   - events: The events to report.
    /// - Throws: ``ZMQError``.
    public func monitor(_ endpoint: String, events: ZMQMonitorEvents) throws(ZMQError) {
        let s = try open("zmq_socket_monitor(\(endpoint))")
        try zmqCall("zmq_socket_monitor(\(endpoint))") { zmq_socket_monitor(s, endpoint, events.rawValue) }
    }
}
