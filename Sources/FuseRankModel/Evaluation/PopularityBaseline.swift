/// Ranks items by how often they occur in the training events: the baseline a model must beat.
public struct PopularityBaseline: Sendable {
    /// Occurrences per catalogue index (`catalogueItemIDs` order).
    public let counts: [Float]

    /// Counts every training event of every user.
    /// - Parameters:
    ///   - sequences: the users; their `trainingEvents` are counted.
    ///   - index: external item id -> catalogue index; other ids are not counted.
    public init(sequences: [UserSequence], index: [Int64: Int], catalogueSize: Int) {
        var counts = [Float](repeating: 0, count: catalogueSize)
        for s in sequences {
            for e in s.trainingEvents { if let i = index[e.itemID] { counts[i] += 1 } }
        }
        self.counts = counts
    }

    /// The 1-based rank of `target` (most counted first, ties by ascending index), seen indices excluded.
    public func rank(of target: Int, excluded: Set<Int>) -> Int {
        counts.withUnsafeBufferPointer { RankingMetrics.rank(of: target, scores: $0, excluded: excluded) }
    }
}
