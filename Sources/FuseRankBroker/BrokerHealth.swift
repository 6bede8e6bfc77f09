import FuseRankWire

/// The broker's own Health endpoint: the FuseRank wire protocol (docs/wire.md), Health only.
enum BrokerHealth {
    /// The reply to one message received on the Health ROUTER.
    ///
    /// The envelope is split as the server splits it (``RoutedMessage``, FuseRankWire): every frame
    /// up to and including the first empty frame after the routing id. Health gets OK with
    /// `ready` = forwarding with at least one server connected, `state` = ``BrokerState/healthState``,
    /// no models (the broker does not know them), and the statistics as trailers; any other method
    /// UNIMPLEMENTED, a malformed call INVALID_ARGUMENT.
    /// - Parameters:
    ///   - frames: the message, routing id first.
    ///   - statistics: the broker's snapshot.
    /// - Returns: the frames to send back.
    static func reply(to frames: [[UInt8]], statistics: BrokerStatistics) -> [[UInt8]] {
        let message = RoutedMessage(frames: frames)
        let (envelope, content) = (message.envelope, message.content)
        func answer(_ header: ReplyHeader, _ body: [UInt8] = []) -> [[UInt8]] { envelope + [header.encode(), body] }
        guard content.count == Framing.framesPerCall, let header = try? RequestHeader(bytes: content[0]) else {
            return answer(ReplyHeader(code: .invalidArgument, message: "expected [RequestHeader][HealthRequest] after the envelope"))
        }
        guard header.method == Method.health.path else {
            return answer(ReplyHeader(
                requestID: header.requestID, code: .unimplemented,
                message: "this is the broker's Health endpoint; send \(header.method) to the broker's frontend"))
        }
        guard (try? HealthRequest(bytes: content[1])) != nil else {
            return answer(ReplyHeader(requestID: header.requestID, code: .invalidArgument, message: "cannot decode the HealthRequest"))
        }
        let ready = statistics.state == .forwarding && statistics.servers > 0
        let body = HealthReply(ready: ready, state: statistics.state.healthState, models: []).encode()
        return answer(ReplyHeader(requestID: header.requestID, code: .ok, trailers: statistics.trailers), body)
    }
}
