/// What went wrong talking to Redis.
public enum RedisError: Error, Sendable, Equatable, CustomStringConvertible {
    /// No connection, or it broke (refused, reset, timed out); the connection is unusable after it.
    case connection(String)
    /// Redis answered with an error reply (e.g. `WRONGTYPE ...`); the connection is still usable.
    case reply(String)
    /// A reply of an unexpected shape for the command.
    case unexpectedReply(String)
    /// A `redis://` address that does not parse.
    case badAddress(String)

    public var description: String {
        switch self {
        case let .connection(why): "Redis connection: \(why)"
        case let .reply(message): "Redis replied with an error: \(message)"
        case let .unexpectedReply(what): "unexpected Redis reply: \(what)"
        case let .badAddress(why): why
        }
    }
}
