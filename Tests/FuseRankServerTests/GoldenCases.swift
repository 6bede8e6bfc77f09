import Foundation
import FuseRankWire

/// `Tests/Fixtures/golden/tiny/cases.json`: requests and the PyTorch reference's results.
struct GoldenCases: Decodable {
    struct Query: Decodable {
        struct Event: Decodable {
            let itemId: Int64
            let type: Int32
            let timestampMs: Int64
            let dwellMs: UInt32
        }
        let events: [Event]
        let textTokens: [Int64]
        let images: [[Float]]
        let candidates: [Int64]
        let topK: Int
        let excludeSeen: Bool
        let nowMs: Int64

        /// The wire request for this query (a negative token id becomes its UInt32 bit pattern).
        func request(model: String = "") -> RankRequest {
            RankRequest(
                events: events.map { FuseRankWire.Event(itemID: $0.itemId, type: EventType(rawValue: $0.type), timestampMs: $0.timestampMs, dwellMs: $0.dwellMs) },
                textTokens: textTokens.map { UInt32(truncatingIfNeeded: $0) },
                images: images.map { Embedding(values: $0) },
                candidates: candidates, topK: UInt32(topK), excludeSeen: excludeSeen, model: model, nowMs: nowMs)
        }
    }
    struct Item: Decodable {
        let itemId: Int64
        let score: Float
    }
    struct Case: Decodable {
        let name: String
        let query: Query
        let items: [Item]
        let unknownCandidates: [Int64]
    }
    struct Invalid: Decodable {
        let name: String
        let query: Query
    }

    let tolerance: Float
    let cases: [Case]
    let invalid: [Invalid]

    /// Loads the cases of a golden bundle folder.
    static func load(_ bundle: String) throws -> GoldenCases {
        let data = try Data(contentsOf: URL(fileURLWithPath: bundle).appendingPathComponent("cases.json"))
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try decoder.decode(GoldenCases.self, from: data)
    }
}
