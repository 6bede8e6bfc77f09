#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CZeroMQ

/// One libzmq socket: bind/connect, multipart send and receive, options, close.
///
/// **Threading rule.** A libzmq socket is not thread-safe: exactly one thread uses it at a time.
/// Create it on one thread and hand it to another only through a synchronising handoff (starting a
/// `Thread` that captures it, a lock, a queue); after the handoff the old thread must not touch it.
// @unchecked Sendable: so that a socket can be handed to the thread that will own it (Swift 6
// needs a Sendable capture for `Thread`). Safety rests on the one-thread-at-a-time rule above,
// which zmq_socket(3) states for libzmq itself ("migrating a socket between threads requires a
// full memory barrier"); this class adds no other shared state.
public final class ZMQSocket: @unchecked Sendable {
    /// The raw `void *` socket, nil once closed.
    private(set) var handle: UnsafeMutableRawPointer?
    /// The socket's pattern.
    public let type: ZMQSocketType
    /// Keeps the context alive while the socket is open.
    let context: ZMQContext

    /// Creates a socket in `context`.
    /// - Parameters:
    ///   - context: The owning context; kept alive by the socket.
    ///   - type: The socket pattern.
    /// - Throws: ``ZMQError`` (e.g. `ETERM` if the context is terminating, `EMFILE`).
    public init(context: ZMQContext, type: ZMQSocketType) throws(ZMQError) {
        guard let s = zmq_socket(context.handle, type.rawValue) else {
            throw ZMQError.current("zmq_socket(\(type))")
        }
        self.handle = s
        self.type = type
        self.context = context
    }

    deinit { close() }

    /// Whether ``close()`` has run.
    public var isClosed: Bool { handle == nil }

    /// Closes the socket (`zmq_close`); idempotent. Unsent messages follow the linger setting.
    public func close() {
        guard let s = handle else { return }
        _ = zmq_close(s)  // fails only with ENOTSOCK, i.e. never for a live handle
        handle = nil
    }

    /// The open handle, or `ENOTSOCK` once closed.
    @inline(__always)
    func open(_ operation: @autoclosure () -> String) throws(ZMQError) -> UnsafeMutableRawPointer {
        guard let s = handle else { throw ZMQError(operation: operation(), errno: ENOTSOCK) }
        return s
    }

    /// Binds to an endpoint (`tcp://127.0.0.1:5555`, `tcp://127.0.0.1:*`, `inproc://name`).
    /// - Parameter endpoint: The address; `*` as a TCP port picks a free one (see ``lastEndpoint()``).
    /// - Throws: ``ZMQError`` (`EADDRINUSE`, `EINVAL`, …).
    public func bind(_ endpoint: String) throws(ZMQError) {
        let s = try open("zmq_bind(\(endpoint))")
        try zmqCall("zmq_bind(\(endpoint))") { zmq_bind(s, endpoint) }
    }

    /// Connects to an endpoint; libzmq connects (and reconnects) in the background.
    /// - Parameter endpoint: The address.
    /// - Throws: ``ZMQError`` for a malformed endpoint or a closed socket.
    public func connect(_ endpoint: String) throws(ZMQError) {
        let s = try open("zmq_connect(\(endpoint))")
        try zmqCall("zmq_connect(\(endpoint))") { zmq_connect(s, endpoint) }
    }

    /// Undoes ``connect(_:)`` for one endpoint.
    /// - Parameter endpoint: The address given to `connect`.
    /// - Throws: ``ZMQError`` (`ENOENT` if it was not connected).
    public func disconnect(_ endpoint: String) throws(ZMQError) {
        let s = try open("zmq_disconnect(\(endpoint))")
        try zmqCall("zmq_disconnect(\(endpoint))") { zmq_disconnect(s, endpoint) }
    }

    /// Undoes ``bind(_:)`` for one endpoint (use the resolved ``lastEndpoint()`` for `*` ports).
    /// - Parameter endpoint: The bound address.
    /// - Throws: ``ZMQError`` (`ENOENT` if it was not bound).
    public func unbind(_ endpoint: String) throws(ZMQError) {
        let s = try open("zmq_unbind(\(endpoint))")
        try zmqCall("zmq_unbind(\(endpoint))") { zmq_unbind(s, endpoint) }
    }

    /// Sends one multipart message; all frames are copied, and delivery is all-or-nothing.
    ///
    /// - Parameters:
    ///   - frames: The frames, in order; at least one (an empty frame is `[]`).
    ///   - dontWait: `ZMQ_DONTWAIT`: return `false` instead of blocking when the message cannot
    ///     be queued (high-water mark reached, or no peer on a DEALER/PUSH with `immediate`).
    /// - Returns: `true` when queued; `false` on `EAGAIN` before the first frame (non-blocking, or
    ///   the send timeout expired), in which case nothing was sent.
    /// - Throws: ``ZMQError``: `EHOSTUNREACH` (ROUTER with `routerMandatory` and an unknown peer),
    ///   `ETERM`, `EFSM`, or `EAGAIN` after the first frame (libzmq does not do this for the
    ///   socket types used here).
    @discardableResult
    public func send(_ frames: [[UInt8]], dontWait: Bool = false) throws(ZMQError) -> Bool {
        let s = try open("zmq_send")
        precondition(!frames.isEmpty, "a ZeroMQ message has at least one frame")
        let base: Int32 = dontWait ? ZMQ_DONTWAIT : 0
        for (index, frame) in frames.enumerated() {
            let flags = base | (index + 1 < frames.count ? ZMQ_SNDMORE : 0)
            do {
                try zmqCall("zmq_send(frame \(index))") {
                    frame.withUnsafeBytes { zmq_send(s, $0.baseAddress, $0.count, flags) }
                }
            } catch where error.isAgain && index == 0 {
                return false
            }
        }
        return true
    }

    /// Receives one whole multipart message.
    ///
    /// - Parameter dontWait: `ZMQ_DONTWAIT`: return nil at once when nothing is queued.
    /// - Returns: The frames, or nil on `EAGAIN` (nothing queued with `dontWait`, or the receive
    ///   timeout, ``setReceiveTimeout(_:)``, expired before the first frame).
    /// - Throws: ``ZMQError`` (`ETERM`, `EFSM`, a closed socket).
    public func receiveMultipart(dontWait: Bool = false) throws(ZMQError) -> [[UInt8]]? {
        try receiveMessage(dontWait: dontWait)?.frames
    }

    /// Receives one whole multipart message with the ZAP user id libzmq attached to it: on a CURVE
    /// server socket, the client's public key in Z85 as ``ZAPHandler`` admitted it.
    ///
    /// - Parameter dontWait: `ZMQ_DONTWAIT`: return nil at once when nothing is queued.
    /// - Returns: The frames and the `User-Id` property (nil where there is none: no ZAP), or nil
    ///   on `EAGAIN`.
    /// - Throws: ``ZMQError`` (`ETERM`, `EFSM`, a closed socket).
    public func receiveMessage(dontWait: Bool = false) throws(ZMQError) -> (frames: [[UInt8]], userID: String?)? {
        let s = try open("zmq_msg_recv")
        var userID: String?
        var frames: [[UInt8]] = []
        var msg = zmq_msg_t()
        while true {
            try zmqCall("zmq_msg_init") { zmq_msg_init(&msg) }
            // Later frames of a message arrive atomically with the first: never wait for them.
            let flags: Int32 = (dontWait || !frames.isEmpty) ? ZMQ_DONTWAIT : 0
            do {
                try zmqCall("zmq_msg_recv") { zmq_msg_recv(&msg, s, flags) }
            } catch where error.isAgain && frames.isEmpty {
                _ = zmq_msg_close(&msg)
                return nil
            } catch {
                _ = zmq_msg_close(&msg)
                throw error
            }
            let size = zmq_msg_size(&msg)
            if size == 0 {
                frames.append([])
            } else {
                let data = zmq_msg_data(&msg)!.assumingMemoryBound(to: UInt8.self)
                frames.append(Array(UnsafeBufferPointer(start: data, count: size)))
            }
            // NULL (EINVAL) without ZAP. A ROUTER's routing-id frame carries no properties: ask each frame.
            if userID == nil, let user = zmq_msg_gets(&msg, "User-Id") {
                userID = String(cString: user)
            }
            let more = zmq_msg_more(&msg) != 0
            _ = zmq_msg_close(&msg)  // fails only for an invalid message
            if !more { return (frames, userID) }
        }
    }
}
