import Foundation
import FuseRankFixtures
import FuseRankWire

/// The golden fixture cases, decoded by the shared `FuseRankFixtures` target.
typealias GoldenCases = GoldenCaseFile

extension GoldenCaseFile.Query {
    /// The wire request for this query (a negative token id becomes its UInt32 bit pattern).
    func request(model: String = "") -> RankRequest {
        RankRequest(
            events: events.map { FuseRankWire.Event(itemID: $0.itemId, type: EventType(rawValue: $0.type), timestampMs: $0.timestampMs, dwellMs: $0.dwellMs) },
            textTokens: textTokens.map { UInt32(truncatingIfNeeded: $0) },
            images: images.map { Embedding(values: $0) },
            candidates: candidates, topK: UInt32(topK), excludeSeen: excludeSeen, model: model, nowMs: nowMs)
    }
}
