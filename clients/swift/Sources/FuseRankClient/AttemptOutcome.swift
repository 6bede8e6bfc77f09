import FuseRankWire

/// How one attempt of a call ended, as the connection's I/O thread saw it.
enum AttemptOutcome: Sendable {
    /// A reply with the attempt's request id: its header and reply frame.
    case reply(ReplyHeader, [UInt8])
    /// No reply before the attempt's deadline.
    case timedOut
    /// The request could not be queued (send queue full); worth a retry, like UNAVAILABLE.
    case unavailable(String)
    /// A failure no retry can fix: closed client, cancelled task, socket error.
    case failed(FuseRankClientError)
}
