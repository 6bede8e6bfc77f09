import FuseRankTransport

/// The broker's forwarding, in both directions: each call from the frontend (ROUTER) goes to the
/// backend (DEALER) with one frame appended, the caller's identity; each reply from the backend
/// goes back to the frontend untouched.
///
/// The identity frame is the caller's CURVE public key (Z85, 40 bytes) as the frontend's
/// ``ZAPHandler`` admitted it (libzmq's `User-Id` property of the message), or empty when the
/// frontend is not CURVE. A server reads it only on its broker links (docs/wire.md, "Sockets and
/// framing"). A client cannot forge it: a frame the client appends makes the call one frame too
/// long for the server.
///
/// The broker thread owns it and its two sockets. Like libzmq's proxy it never blocks: a call the
/// backend cannot take now (no server connected, or every server's queue full) is held, and the
/// frontend is not read again until the backend is writable, so the calls behind it wait in the
/// frontend's queue. The ROUTER drops a reply whose client has gone.
struct BrokerForwarder {
    let frontend: ZMQSocket
    let backend: ZMQSocket
    /// Messages and bytes each way so far.
    private(set) var traffic = BrokerTraffic()
    /// A call received from the frontend that the backend could not take yet.
    private var held: [[UInt8]]?

    /// Most messages moved per call of ``forwardCalls()`` or ``forwardReplies()``, so neither
    /// direction starves the other (or the Health socket).
    static let burst = 256

    init(frontend: ZMQSocket, backend: ZMQSocket) {
        self.frontend = frontend
        self.backend = backend
    }

    /// What to poll the two sockets for: nothing while paused (messages wait in the sockets'
    /// queues); while a call is held, not the frontend, and the backend for writable as well.
    /// - Parameter paused: whether forwarding is paused.
    func events(paused: Bool) -> (frontend: ZMQPollEvents, backend: ZMQPollEvents) {
        if paused { return ([], []) }
        return held == nil ? (.readable, .readable) : ([], [.readable, .writable])
    }

    /// Sends the held call, then up to ``burst`` calls waiting on the frontend, each with its
    /// identity frame; the first call the backend cannot take is held.
    /// - Throws: ``ZMQError`` from either socket (`ETERM`, a closed socket).
    mutating func forwardCalls() throws(ZMQError) {
        if let call = held {
            guard try backend.send(call, dontWait: true) else { return }
            traffic.backend.countOut(call)
            held = nil
        }
        for _ in 0..<Self.burst {
            guard let message = try frontend.receiveMessage(dontWait: true) else { return }
            traffic.frontend.countIn(message.frames)
            let call = message.frames + [Array((message.userID ?? "").utf8)]
            guard try backend.send(call, dontWait: true) else {
                held = call
                return
            }
            traffic.backend.countOut(call)
        }
    }

    /// Moves up to ``burst`` replies waiting on the backend to the frontend, untouched.
    /// - Throws: ``ZMQError`` from either socket.
    mutating func forwardReplies() throws(ZMQError) {
        for _ in 0..<Self.burst {
            guard let reply = try backend.receiveMultipart(dontWait: true) else { return }
            traffic.backend.countIn(reply)
            try frontend.send(reply, dontWait: true)
            traffic.frontend.countOut(reply)
        }
    }
}
