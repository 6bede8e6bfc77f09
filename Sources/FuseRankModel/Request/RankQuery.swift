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
    /// The session whose cached event states a ranker with a ``SessionCache`` may reuse; empty = none.
    public var sessionID: String
    /// Items never returned (catalogue ranking and candidates).
    public var excludeItems: [Int64]
    /// Catalogue ranking within these items only (not with `candidates`); empty = every item.
    public var restrictTo: [Int64]
    /// Reasons per returned item: up to this many events with their score contribution
    /// (docs/explanations.md); 0 = none, at most ``RankQuery/maxExplainEvents``.
    public var explainEvents: Int

    /// The largest ``explainEvents`` a query may ask for.
    public static let maxExplainEvents = 32
    /// What the scores mean: next-item scores (default) or purchase probabilities.
    public var objective: RankObjective = .nextItem
    /// Set by ``Ranker`` when a live catalogue change took every item of `candidates` or
    /// `restrict_to` away: the query still ranks its (now empty) list, not the catalogue.
    var listed = false
    /// Whether the query ranks the whole catalogue (no candidates, no `restrict_to`).
    var ranksCatalogue: Bool { candidates.isEmpty && restrictTo.isEmpty && !listed }

    /// Creates a query.
    public init(
        events: [BehaviourEvent] = [], textTokens: [Int32] = [], images: [[Float]] = [],
        candidates: [Int64] = [], topK: Int = 0, excludeSeen: Bool = false, nowMs: Int64 = 0, sessionID: String = "",
        excludeItems: [Int64] = [], restrictTo: [Int64] = [], explainEvents: Int = 0
    ) {
        self.events = events
        self.textTokens = textTokens
        self.images = images
        self.candidates = candidates
        self.topK = topK
        self.excludeSeen = excludeSeen
        self.nowMs = nowMs
        self.sessionID = sessionID
        self.excludeItems = excludeItems
        self.restrictTo = restrictTo
        self.explainEvents = explainEvents
    }
}
