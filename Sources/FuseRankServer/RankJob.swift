import FuseRankModel

/// A decoded, validated Rank request waiting for (or held by) a worker.
struct RankJob: Sendable {
    /// The socket the request came from (an index into ``FrontEnd/sockets``).
    let socket: Int
    /// The routing frames to echo.
    let envelope: [[UInt8]]
    /// The caller's request id.
    let requestID: UInt64
    /// The model that ranks it.
    let bundle: ModelBundle
    /// The model query, validated by `bundle`.
    let query: ValidatedQuery
    /// After this instant a worker answers DEADLINE_EXCEEDED instead of ranking.
    let deadline: ContinuousClock.Instant
}
