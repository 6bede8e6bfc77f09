import FuseRankModel
import FuseRankTestSupport
import Testing

extension GoldenCaseFile.Case {
    /// Records that the engine's user vector and ranking of this case match the PyTorch
    /// reference: the same width, each value and score within `tolerance`, the same order and
    /// unknown candidates.
    /// - Returns: the largest difference seen (user vector or score).
    func expectMatch(userVector u: [Float], result r: RankResult, tolerance: Float,
                     sourceLocation: SourceLocation = #_sourceLocation) -> Float {
        #expect(u.count == userVector.count, "\(name): user vector width", sourceLocation: sourceLocation)
        let uDiff = zip(u, userVector).map { abs($0 - $1) }.max() ?? .infinity
        #expect(uDiff <= tolerance, "\(name): user vector max diff \(uDiff)", sourceLocation: sourceLocation)
        #expect(r.items.map(\.itemID) == items.map(\.itemId), "\(name): ranking order", sourceLocation: sourceLocation)
        #expect(r.unknownCandidates == unknownCandidates, "\(name): unknown candidates", sourceLocation: sourceLocation)
        let sDiff = zip(r.items, items).map { abs($0.score - $1.score) }.max() ?? 0
        #expect(sDiff <= tolerance, "\(name): score max diff \(sDiff)", sourceLocation: sourceLocation)
        return max(uDiff, sDiff)
    }
}
