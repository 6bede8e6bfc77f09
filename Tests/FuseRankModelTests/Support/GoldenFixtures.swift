import Foundation
@testable import FuseRankModel

/// The golden fixtures of Tests/Fixtures/golden/<set>/ (written by training/fuserank/fixtures.py).
enum GoldenFixtures {
    /// Tests/Fixtures/golden, found from this source file (no SwiftPM resources).
    static let root: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/golden")

    /// Every fixture set folder, sorted.
    static var sets: [URL] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []
        return names.sorted().map { root.appendingPathComponent($0) }
            .filter { FileManager.default.fileExists(atPath: $0.appendingPathComponent("cases.json").path) }
    }

    struct Event: Decodable {
        var item_id: Int64, type: Int32, timestamp_ms: Int64, dwell_ms: UInt32
    }

    struct Query: Decodable {
        var events: [Event], text_tokens: [Int32], images: [[Float]], candidates: [Int64]
        var top_k: Int, exclude_seen: Bool, now_ms: Int64

        var rankQuery: RankQuery {
            RankQuery(
                events: events.map { BehaviourEvent(itemID: $0.item_id, type: $0.type, timestampMs: $0.timestamp_ms, dwellMs: $0.dwell_ms) },
                textTokens: text_tokens, images: images, candidates: candidates, topK: top_k,
                excludeSeen: exclude_seen, nowMs: now_ms)
        }
    }

    struct Item: Decodable { var item_id: Int64, score: Float }

    struct Debug: Decodable { var rows: [Int]?, time_buckets: [Int]?, rank_bucket: Int? }

    struct Case: Decodable {
        var name: String, query: Query, token_count: Int, user_vector: [Float], items: [Item]
        var unknown_candidates: [Int64]
        var debug: Debug?
    }

    struct Batch: Decodable { var name: String, cases: [String] }
    struct Invalid: Decodable { var name: String, query: Query }
    struct TokenizerCase: Decodable { var text: String, ids: [Int32] }

    struct File: Decodable {
        var tolerance: Float, cases: [Case], batches: [Batch], tokenizer: [TokenizerCase]
        var invalid: [Invalid]?
    }

    static func load(_ set: URL) throws -> File {
        try JSONDecoder().decode(File.self, from: Data(contentsOf: set.appendingPathComponent("cases.json")))
    }
}
