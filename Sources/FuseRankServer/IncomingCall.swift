import FuseRankWire

/// How calls arrive on one of the front end's sockets, and so who vouches for the caller.
package enum CallSource: Sendable, Equatable {
    /// The server's bound ROUTER: the caller's key is the ZAP user id of the message (CURVE on).
    case bound
    /// A DEALER connected to a broker (`--connect`): the broker appends the caller's key as the
    /// last frame of each call. `authenticated`: the link runs CURVE to the pinned broker key
    /// (`--broker-key`), so that frame is trusted; on a plaintext link anyone could have sent it,
    /// and the caller counts as unknown.
    case broker(authenticated: Bool)
}

/// A message as a socket received it, split into the routing envelope and the call frames
/// (``RoutedMessage``, the split the broker uses too), the broker's identity frame checked.
package struct IncomingCall {
    /// Which of the front end's sockets it came from (``FrontEnd/sockets``); the reply goes back
    /// on the same socket.
    let socket: Int
    /// The frames to echo in front of the reply.
    let envelope: [[UInt8]]
    /// The call frames after the envelope, the broker's identity frame taken off; a well-formed
    /// call has exactly two, [RequestHeader][request].
    let content: [[UInt8]]
    /// The caller's CURVE public key (Z85): the ZAP user id on the bound socket, the identity
    /// frame on an authenticated broker link; nil without CURVE and on a plaintext broker link.
    let userID: String?
    /// Why the frames after the envelope are not a call of this socket, or nil when they are.
    let framingProblem: String?

    /// Splits a received message.
    /// A call that came through a broker looks the same up to its last frame: the broker's ROUTER
    /// prepended the client's routing id (the envelope carries it back) and appended the caller's
    /// identity, which must be there, exactly once (docs/wire.md, "Sockets and framing").
    /// - Parameters:
    ///   - frames: everything the socket received, routing id first (at least one frame).
    ///   - socket: the index of the socket in ``FrontEnd/sockets``.
    ///   - source: the kind of that socket.
    ///   - userID: the message's ZAP user id (``ZMQSocket/receiveMessage(dontWait:)``); read
    ///     only on the bound socket.
    package init(frames: [[UInt8]], socket: Int = 0, source: CallSource = .bound, userID: String? = nil) {
        self.socket = socket
        let message = RoutedMessage(frames: frames)
        envelope = message.envelope
        var content = message.content
        switch source {
        case .bound:
            self.userID = userID
            framingProblem = content.count == Framing.framesPerCall
                ? nil
                : "expected \(Framing.framesPerCall) frames after the envelope, [RequestHeader][request], got \(content.count)"
        case let .broker(authenticated):
            if content.count == Framing.framesPerBrokerCall, let identity = content.popLast() {
                self.userID = authenticated && !identity.isEmpty ? String(decoding: identity, as: UTF8.self) : nil
                framingProblem = nil
            } else {
                self.userID = nil
                framingProblem = "expected \(Framing.framesPerBrokerCall) frames after the envelope through a broker, [RequestHeader][request][caller], got \(content.count)"
            }
        }
        self.content = content
    }

    /// Bytes of the call frames together.
    var contentBytes: Int { content.reduce(0) { $0 + $1.count } }
}
