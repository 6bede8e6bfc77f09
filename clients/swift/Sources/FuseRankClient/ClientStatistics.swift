/// Counters of one client's connection, for logs and tests.
public struct ClientStatistics: Sendable, Equatable {
    /// Requests sent (every attempt and every re-send after a reconnect counts).
    public var sent: Int = 0
    /// Replies whose request id matched a waiting call.
    public var matchedReplies: Int = 0
    /// Replies dropped because no call waits for their id (late replies to abandoned attempts).
    public var staleReplies: Int = 0
    /// Messages dropped because they were not `[empty][ReplyHeader][reply]`.
    public var malformedReplies: Int = 0
    /// Times the socket was closed and reconnected after a timeout (the Lazy Pirate step).
    public var reconnects: Int = 0
}
