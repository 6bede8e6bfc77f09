import FuseRankWire

/// Builds reply messages: the request's envelope, then `[ReplyHeader][reply]`.
enum Reply {
    /// An OK reply carrying `body`.
    /// - Parameters:
    ///   - envelope: the routing frames of the request, delimiter included.
    ///   - requestID: the request's id.
    ///   - body: the encoded reply message.
    /// - Returns: the frames to send on the ROUTER socket.
    static func ok(envelope: [[UInt8]], requestID: UInt64, body: [UInt8]) -> [[UInt8]] {
        envelope + [ReplyHeader(requestID: requestID, code: .ok).encode(), body]
    }

    /// An error reply: the code and message, and an empty reply frame.
    /// - Parameters:
    ///   - envelope: the routing frames of the request, delimiter included.
    ///   - requestID: the request's id (0 when its header was undecodable).
    ///   - code: the status; not OK.
    ///   - message: what is wrong.
    /// - Returns: the frames to send on the ROUTER socket.
    static func error(envelope: [[UInt8]], requestID: UInt64, code: StatusCode, message: String) -> [[UInt8]] {
        envelope + [ReplyHeader(requestID: requestID, code: code, message: message).encode(), []]
    }
}
