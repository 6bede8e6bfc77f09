/// A message as the ROUTER socket received it, split into the routing envelope and the call frames.
///
/// The envelope is every frame up to and including the first empty frame after the peer's routing
/// id (the delimiter a REQ socket sends and DEALER clients send too); the server echoes it. A
/// message with no delimiter has the routing id alone as its envelope.
struct IncomingCall {
    /// Which of the front end's sockets it came from (``FrontEnd/sockets``); the reply goes back
    /// on the same socket.
    let socket: Int
    /// The frames to echo in front of the reply.
    let envelope: [[UInt8]]
    /// The frames after the envelope; a well-formed call has exactly two.
    let content: [[UInt8]]
    /// The caller's CURVE public key (Z85) as the ZAP handler admitted it; nil without CURVE
    /// (and for calls through a broker).
    let userID: String?

    /// Splits a received message.
    /// A call that came through a broker (on a DEALER the server connected) looks the same: the
    /// broker's ROUTER prepended the client's routing id, and the envelope carries it back.
    /// - Parameters:
    ///   - frames: everything the socket received, routing id first (at least one frame).
    ///   - socket: the index of the socket in ``FrontEnd/sockets``.
    ///   - userID: the message's ZAP user id (``ZMQSocket/receiveMessage(dontWait:)``).
    init(frames: [[UInt8]], socket: Int = 0, userID: String? = nil) {
        self.socket = socket
        self.userID = userID
        if let delimiter = frames.dropFirst().firstIndex(where: \.isEmpty) {
            envelope = Array(frames[...delimiter])
            content = Array(frames[(delimiter + 1)...])
        } else {
            envelope = Array(frames.prefix(1))
            content = Array(frames.dropFirst())
        }
    }

    /// Bytes of the call frames together.
    var contentBytes: Int { content.reduce(0) { $0 + $1.count } }
}
