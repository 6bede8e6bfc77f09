import Foundation

/// The golden fixtures in `Tests/Fixtures/golden/<set>/` (written by `training/fuserank/fixtures/`):
/// one decoding of `cases.json`, shared by the model tests (which turn a query into a `RankQuery`)
/// and the server tests (which turn it into a wire `RankRequest`). Plain data: this target depends
/// on neither layer.
public struct GoldenCaseFile: Decodable, Sendable {
    /// `Tests/Fixtures/golden`, found from this source file (no SwiftPM resources).
    public static let root: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/golden")

    /// Every recommender fixture set folder (one holding a `cases.json` and a `config.json`), sorted
    /// by name; the forecaster sets are ``ForecastCaseFile/sets``.
    public static var sets: [URL] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []
        return names.sorted().map { root.appendingPathComponent($0) }
            .filter { FileManager.default.fileExists(atPath: $0.appendingPathComponent("cases.json").path) }
            .filter { FileManager.default.fileExists(atPath: $0.appendingPathComponent("config.json").path) }
    }

    /// Reads `cases.json` (or another case file of the same layout) of a fixture set folder.
    public static func load(_ set: URL, file: String = "cases.json") throws -> GoldenCaseFile {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try decoder.decode(GoldenCaseFile.self, from: Data(contentsOf: set.appendingPathComponent(file)))
    }

    /// Reads `cases.json` of the fixture set folder at `path`.
    public static func load(_ path: String) throws -> GoldenCaseFile {
        try load(URL(fileURLWithPath: path))
    }

    public struct Event: Decodable, Sendable {
        public var itemId: Int64, type: Int32, timestampMs: Int64, dwellMs: UInt32
    }

    /// A request as the reference saw it. Text token ids are kept as Int64 so that invalid
    /// (negative) ids survive decoding; each layer converts them its own way.
    public struct Query: Decodable, Sendable {
        public var events: [Event], textTokens: [Int64], images: [[Float]], candidates: [Int64]
        public var topK: Int, excludeSeen: Bool, nowMs: Int64
        /// Reasons per returned item; absent = 0.
        public var explainEvents: Int?
    }

    /// One reason of an item (`training/fuserank/model/explain.py`).
    public struct Reason: Decodable, Sendable { public var eventIndex: Int, weight: Float }

    /// A returned item; `reasons` only in the cases that ask for explanations.
    public struct Item: Decodable, Sendable { public var itemId: Int64, score: Float, reasons: [Reason]? }

    /// The reference's intermediate features, where recorded: for explained cases also the kept
    /// positions that get an exact deletion, in the order chosen.
    public struct Debug: Decodable, Sendable {
        public var rows: [Int]?, timeBuckets: [Int]?, rankBucket: Int?
        public var shortlist: [Int]?
    }

    public struct Case: Decodable, Sendable {
        public var name: String, query: Query, tokenCount: Int, userVector: [Float], items: [Item]
        public var unknownCandidates: [Int64]
        public var debug: Debug?
    }

    public struct Batch: Decodable, Sendable { public var name: String, cases: [String] }
    public struct Invalid: Decodable, Sendable { public var name: String, query: Query }
    public struct TokenizerCase: Decodable, Sendable { public var text: String, ids: [Int32] }

    public var tolerance: Float, cases: [Case], batches: [Batch], tokenizer: [TokenizerCase]
    public var invalid: [Invalid]
}
