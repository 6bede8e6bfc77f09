import FuseRankModel

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

    /// Items counted more often than `target`, and items counted as often, seen indices excluded.
    public func position(of target: Int, excluded: Set<Int>) -> (greater: Int, equal: Int) {
        counts.withUnsafeBufferPointer { RankingMetrics.counts(of: target, scores: $0, excluded: excluded) }
    }
}
