import FuseRankModel
import FuseRankWire

/// One reply on its way out: the request's envelope, then `[ReplyHeader][reply]`. Made by the
/// front thread or a worker; sent and counted by the front thread only.
package struct Reply: Sendable {
    /// The socket to send it on: the one the request came from (an index into ``FrontEnd/sockets``).
    let socket: Int
    /// The routing frames of the request, delimiter included.
    let envelope: [[UInt8]]
    /// The request's id (0 when its header was undecodable).
    let requestID: UInt64
    /// The status.
    let code: StatusCode
    /// What is wrong; empty when OK.
    let message: String
    /// The encoded reply message; empty unless OK.
    let body: [UInt8]
    /// What the metrics label the reply with: the method, the model, and when the call came in.
    var call = CallInfo()

    /// An OK reply carrying `body`.
    static func ok(socket: Int, envelope: [[UInt8]], requestID: UInt64, body: [UInt8]) -> Reply {
        Reply(socket: socket, envelope: envelope, requestID: requestID, code: .ok, message: "", body: body)
    }

    /// An error reply: the code and message, and an empty reply frame.
    static func error(socket: Int, envelope: [[UInt8]], requestID: UInt64, code: StatusCode, message: String) -> Reply {
        Reply(socket: socket, envelope: envelope, requestID: requestID, code: code, message: message, body: [])
    }

    /// The error reply of a request that failed with `error`, through ``RequestError/status(of:)``.
    static func failure(socket: Int, envelope: [[UInt8]], requestID: UInt64, error: any Error) -> Reply {
        let (code, message) = RequestError.status(of: error)
        return .error(socket: socket, envelope: envelope, requestID: requestID, code: code, message: message)
    }

    /// This reply labelled with `call`.
    func labelled(_ call: CallInfo) -> Reply {
        var reply = self
        reply.call = call
        return reply
    }

    /// The frames to send on the request's socket.
    var frames: [[UInt8]] {
        envelope + [ReplyHeader(requestID: requestID, code: code, message: message).encode(), body]
    }
}
