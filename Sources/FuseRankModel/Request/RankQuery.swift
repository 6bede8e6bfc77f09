/// One ranking request, already decoded from the wire.
public struct RankQuery: Sendable, Equatable {
    /// Behaviour events, oldest first.
    public var events: [BehaviourEvent]
    /// Text vocabulary ids; 0 is padding and is dropped.
    public var textTokens: [Int32]
    /// Image embeddings, each of length `config.imageDim`.
    public var images: [[Float]]
    /// Item ids to score; empty ranks the whole catalogue.
    public var candidates: [Int64]
    /// Items returned; 0 returns all.
    public var topK: Int
    /// Drops the items of the request's events (catalogue ranking only).
    public var excludeSeen: Bool
    /// Request time in Unix milliseconds; 0 = unknown.
    public var nowMs: Int64
    /// What the scores mean: next-item scores (default) or purchase probabilities.
    public var objective: RankObjective = .nextItem

    /// Creates a query.
    public init(
        events: [BehaviourEvent] = [], textTokens: [Int32] = [], images: [[Float]] = [],
        candidates: [Int64] = [], topK: Int = 0, excludeSeen: Bool = false, nowMs: Int64 = 0
    ) {
        self.events = events
        self.textTokens = textTokens
        self.images = images
        self.candidates = candidates
        self.topK = topK
        self.excludeSeen = excludeSeen
        self.nowMs = nowMs
    }
}
