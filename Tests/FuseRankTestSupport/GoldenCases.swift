import FuseRankModel
import FuseRankWire

/// The golden fixture cases (one decoding, ``GoldenCaseFile``), as each layer's tests use them.
public typealias GoldenCases = GoldenCaseFile

extension GoldenCaseFile.Query {
    /// The engine's query for this request (a token id that does not fit Int32 wraps).
    public var rankQuery: RankQuery {
        RankQuery(
            events: events.map { BehaviourEvent(itemID: $0.itemId, type: $0.type, timestampMs: $0.timestampMs, dwellMs: $0.dwellMs) },
            textTokens: textTokens.map { Int32(truncatingIfNeeded: $0) }, images: images, candidates: candidates,
            topK: topK, excludeSeen: excludeSeen, nowMs: nowMs, explainEvents: explainEvents ?? 0)
    }

    /// The wire request for this query (a negative token id becomes its UInt32 bit pattern).
    public func request(model: String = "") -> RankRequest {
        RankRequest(
            events: events.map { FuseRankWire.Event(itemID: $0.itemId, type: EventType(rawValue: $0.type), timestampMs: $0.timestampMs, dwellMs: $0.dwellMs) },
            textTokens: textTokens.map { UInt32(truncatingIfNeeded: $0) },
            images: images.map { Embedding(values: $0) },
            candidates: candidates, topK: UInt32(topK), excludeSeen: excludeSeen, model: model, nowMs: nowMs,
            explainEvents: UInt32(explainEvents ?? 0))
    }
}
