import FuseRankTransport
import FuseRankWire

/// The broker's forwarding, in both directions: each call from the frontend (ROUTER) goes to the
/// server that the ``ServerRoster`` picks, through the backend (a ROUTER too), with one frame
/// appended, the caller's identity; each reply from the backend goes back to the frontend
/// untouched. The servers' `server-ready` and `server-leaving` messages on the backend keep the
/// roster (docs/wire.md, "Sockets and framing").
///
/// The identity frame is the caller's CURVE public key (Z85, 40 bytes) as the frontend's
/// ``ZAPHandler`` admitted it (libzmq's `User-Id` property of the message), or empty when the
/// frontend is not CURVE. A server reads it only on its broker links. A client cannot forge it:
/// a frame the client appends makes the call one frame too long for the server.
///
/// The broker thread owns it and its two sockets. It never blocks: a call that cannot go now (no
/// server known, or the chosen server's queue full) is held, and the frontend is not read again
/// until it has gone, so the calls behind it wait in the frontend's queue. The frontend ROUTER
/// drops a reply whose client has gone; the backend ROUTER is `ZMQ_ROUTER_MANDATORY`, so a call to
/// a server whose connection ended fails at once and goes to another server.
struct BrokerForwarder {
    /// What happened to the roster, for the log and the statistics.
    enum RosterEvent: Equatable {
        case joined(ServerRoster.ServerID)
        case left(ServerRoster.ServerID, why: String)
    }

    let frontend: ZMQSocket
    let backend: ZMQSocket
    /// Messages and bytes each way so far (calls and replies; not the servers' announcements).
    private(set) var traffic = BrokerTraffic()
    /// The servers calls go to.
    private(set) var roster: ServerRoster
    /// A call received from the frontend that could not go yet, with its session.
    private var held: (call: [[UInt8]], session: String?)?
    private var events: [RosterEvent] = []

    /// Most messages moved per call of ``forwardCalls()`` or ``forwardReplies(at:)``, so neither
    /// direction starves the other (or the Health socket).
    static let burst = 256

    init(frontend: ZMQSocket, backend: ZMQSocket, silenceLimit: Duration) {
        self.frontend = frontend
        self.backend = backend
        roster = ServerRoster(silenceLimit: silenceLimit)
    }

    /// Whether a call waits to be sent (the broker thread then polls again soon).
    var isHolding: Bool { held != nil }

    /// What to poll the two sockets for: nothing while paused (messages wait in the sockets'
    /// queues); the frontend only while no call is held and a server is known.
    /// - Parameter paused: whether forwarding is paused.
    func events(paused: Bool) -> (frontend: ZMQPollEvents, backend: ZMQPollEvents) {
        if paused { return ([], []) }
        return (held == nil && roster.count > 0 ? .readable : [], .readable)
    }

    /// The roster's changes since the last call.
    mutating func takeEvents() -> [RosterEvent] {
        defer { events.removeAll() }
        return events
    }

    /// Sends the held call, then up to ``burst`` calls waiting on the frontend, each with its
    /// identity frame; the first call that cannot go is held.
    /// - Throws: ``ZMQError`` from either socket (`ETERM`, a closed socket).
    mutating func forwardCalls() throws(ZMQError) {
        if let waiting = held {
            guard try route(waiting.call, session: waiting.session) else { return }
            held = nil
        }
        for _ in 0..<Self.burst {
            guard let message = try frontend.receiveMessage(dontWait: true) else { return }
            traffic.frontend.countIn(message.frames)
            let call = message.frames + [Array((message.userID ?? "").utf8)]
            let session = Self.session(of: message.frames)
            guard try route(call, session: session) else {
                held = (call, session)
                return
            }
        }
    }

    /// Moves up to ``burst`` replies waiting on the backend to the frontend, untouched, and takes
    /// the servers' announcements into the roster.
    /// - Throws: ``ZMQError`` from either socket.
    mutating func forwardReplies(at now: ContinuousClock.Instant) throws(ZMQError) {
        for _ in 0..<Self.burst {
            guard let message = try backend.receiveMultipart(dontWait: true), let server = message.first else { return }
            let rest = Array(message.dropFirst())
            if rest == [Framing.serverReady] {
                if roster.heard(server, at: now) { events.append(.joined(server)) }
                continue
            }
            if rest == [Framing.serverLeaving] {
                if roster.remove(server) { events.append(.left(server, why: "draining")) }
                continue
            }
            roster.refresh(server, at: now)
            traffic.backend.countIn(rest)
            try frontend.send(rest, dontWait: true)
            traffic.frontend.countOut(rest)
        }
    }

    /// Forgets the servers silent for too long.
    mutating func expire(at now: ContinuousClock.Instant) {
        for server in roster.expire(at: now) { events.append(.left(server, why: "silent")) }
    }

    /// Sends a call to the server the roster picks; a server whose connection ended is dropped
    /// and the next pick tried.
    /// - Returns: false when the call cannot go now (no server known, or its queue is full).
    private mutating func route(_ call: [[UInt8]], session: String?) throws(ZMQError) -> Bool {
        while let server = roster.pick(session: session) {
            do {
                guard try backend.send([server] + call, dontWait: true) else { return false }
                traffic.backend.countOut(call)
                return true
            } catch where error.isHostUnreachable {
                roster.remove(server)
                events.append(.left(server, why: "connection gone"))
            }
        }
        return false
    }

    /// The `session_id` of a Rank call (frames as the frontend received them: the client's routing
    /// id, the envelope up to its empty delimiter when there is one, the header, the request); nil
    /// for other methods and calls without one.
    static func session(of frames: [[UInt8]]) -> String? {
        let headerAt = RoutedMessage.contentStart(of: frames)
        guard frames.count == headerAt + 2, RequestHeader.peekMethod(frames[headerAt]) == Method.rank.path,
              let session = RankRequest.peekSessionID(frames[headerAt + 1]), !session.isEmpty
        else { return nil }
        return session
    }
}
