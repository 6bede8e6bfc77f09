/// One ranked item.
public struct ScoredItem: Sendable, Equatable {
    /// External item id.
    public var itemID: Int64
    /// Raw score `u · item_emb + item_bias`; the probability is `sigmoid(score)`.
    public var score: Float

    /// Creates a scored item.
    public init(itemID: Int64, score: Float) {
        self.itemID = itemID
        self.score = score
    }
}

/// The answer to one ``RankQuery``.
public struct RankResult: Sendable, Equatable {
    /// Highest score first; equal scores by ascending catalogue row.
    public var items: [ScoredItem]
    /// Candidate ids not in the catalogue, in request order (each reported once).
    public var unknownCandidates: [Int64]

    /// Creates a result.
    public init(items: [ScoredItem], unknownCandidates: [Int64] = []) {
        self.items = items
        self.unknownCandidates = unknownCandidates
    }
}
