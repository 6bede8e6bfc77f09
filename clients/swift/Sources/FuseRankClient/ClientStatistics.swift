/// Counters of one client's connections (all endpoints together), for logs and tests.
public struct ClientStatistics: Sendable, Equatable {
    /// Attempts the calls started: one per call plus one per retry. A re-send of the same attempt
    /// after a reconnect is not a new attempt (it counts in ``sent`` only).
    public var attempts: Int = 0
    /// Attempts after a call's first one: retries after a timeout or an UNAVAILABLE reply.
    public var retries: Int = 0
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

    /// The counters of several connections added up.
    static func sum(_ all: [ClientStatistics]) -> ClientStatistics {
        all.reduce(into: ClientStatistics()) { total, s in
            total.attempts += s.attempts
            total.retries += s.retries
            total.sent += s.sent
            total.matchedReplies += s.matchedReplies
            total.staleReplies += s.staleReplies
            total.malformedReplies += s.malformedReplies
            total.reconnects += s.reconnects
        }
    }
}
