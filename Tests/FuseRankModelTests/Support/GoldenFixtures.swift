import Foundation
import FuseRankFixtures
@testable import FuseRankModel

/// The golden fixture sets, decoded by the shared `FuseRankFixtures` target.
typealias GoldenFixtures = GoldenCaseFile

extension GoldenCaseFile.Query {
    /// The engine's query for this request.
    var rankQuery: RankQuery {
        RankQuery(
            events: events.map { BehaviourEvent(itemID: $0.itemId, type: $0.type, timestampMs: $0.timestampMs, dwellMs: $0.dwellMs) },
            textTokens: textTokens.map { Int32(truncatingIfNeeded: $0) }, images: images, candidates: candidates,
            topK: topK, excludeSeen: excludeSeen, nowMs: nowMs)
    }
}
