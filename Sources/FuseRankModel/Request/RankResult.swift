/// One ranked item.
public struct ScoredItem: Sendable, Equatable {
    /// External item id.
    public var itemID: Int64
    /// Raw score `u · item_emb + item_bias`; the probability is `sigmoid(score)`.
    public var score: Float
    /// The events that drove the score, strongest first (empty unless the query asked for them).
    public var reasons: [EventContribution]

    /// Creates a scored item.
    public init(itemID: Int64, score: Float, reasons: [EventContribution] = []) {
        self.itemID = itemID
        self.score = score
        self.reasons = reasons
    }
}

/// One reason of a ``ScoredItem``: an event of the query and how much it raised the item's score.
public struct EventContribution: Sendable, Equatable {
    /// The event's 0-based index in the query's `events` (as sent, before truncation).
    public var eventIndex: Int
    /// The item's score minus its score without that event (docs/explanations.md); > 0.
    public var weight: Float

    /// Creates a reason.
    public init(eventIndex: Int, weight: Float) {
        self.eventIndex = eventIndex
        self.weight = weight
    }
}

/// The answer to one ``RankQuery``.
public struct RankResult: Sendable, Equatable {
    /// Highest score first; equal scores by ascending catalogue row.
    public var items: [ScoredItem]
    /// Candidate ids not in the catalogue, in request order (each reported once).
    public var unknownCandidates: [Int64]
    /// Candidate ids hidden by `SetItemsAvailable`, in request order (each reported once); not scored.
    public var unavailableCandidates: [Int64]

    /// Creates a result.
    public init(items: [ScoredItem], unknownCandidates: [Int64] = [], unavailableCandidates: [Int64] = []) {
        self.items = items
        self.unknownCandidates = unknownCandidates
        self.unavailableCandidates = unavailableCandidates
    }
}
