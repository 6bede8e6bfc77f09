import Foundation
import Testing

@testable import FuseRankWire

/// Byte-for-byte agreement with Python's protobuf: `scripts/gen-wire-golden.py` wrote
/// `Tests/Fixtures/wire/<case>.bin` from the same values these tests build.
@Suite struct WireGoldenTests {
    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/wire")

    static func golden(_ name: String) throws -> [UInt8] {
        let url = directory.appendingPathComponent("\(name).bin")
        return [UInt8](try Data(contentsOf: url))
    }

    /// Swift encodes `value` to exactly the Python bytes, and decodes the Python bytes to `value`.
    static func agree<M: WireMessage>(_ name: String, _ value: M, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let python = try golden(name)
        let swift = value.encode()
        #expect(swift == python, "\(name): Swift encodes \(swift.count) bytes, Python \(python.count)", sourceLocation: sourceLocation)
        let decoded = try M(bytes: python)
        #expect(decoded == value, "\(name): decoded \(decoded)", sourceLocation: sourceLocation)
    }

    /// Every golden file has a test here (the Python list and this one are kept in step).
    static let covered: Set<String> = [
        "request_header_rank", "request_header_limits", "request_header_metadata", "request_header_empty_value",
        "reply_header_ok", "reply_header_invalid", "reply_header_unauthenticated", "reply_header_code_99",
        "event_purchase", "event_favorite", "event_type_42", "event_type_negative", "embedding",
        "rank_request_empty", "rank_request_full", "rank_request_large",
        "scored_item", "rank_reply", "rank_reply_empty", "rank_request_explain", "rank_reply_explained",
        "health_request", "health_reply", "model_info_request", "model_info",
        "upsert_items_request", "upsert_items_reply", "set_items_available_request", "rank_reply_unavailable",
        "upsert_items_request_external_id", "get_items_request", "get_items_reply",
        "forecast_request", "forecast_reply",
    ]

    @Test func everyGoldenFileIsCovered() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.directory.path)
            .filter { $0.hasSuffix(".bin") }.map { String($0.dropLast(4)) }
        #expect(Set(files) == Self.covered)
    }

    @Test func requestHeaders() throws {
        try Self.agree("request_header_rank", RequestHeader(method: .rank, requestID: 42, timeoutMs: 250, metadata: ["trace-id": "abc123"]))
        try Self.agree("request_header_limits", RequestHeader(method: .getModelInfo, requestID: .max, timeoutMs: .max))
        try Self.agree(
            "request_header_metadata",
            RequestHeader(method: .health, requestID: 1, metadata: ["b": "2", "a": "1", "caller": "search-frontend"]))
    }

    /// Python writes a map entry's empty value explicitly, protobuf-c leaves it out (both are valid
    /// encodings of the same map), so this case only checks decoding, plus what Swift writes.
    @Test func emptyMapValueDecodes() throws {
        let expected = RequestHeader(requestID: 2, metadata: ["empty": ""])
        let python = try Self.golden("request_header_empty_value")
        #expect(try RequestHeader(bytes: python) == expected)
        // Field 2 = 2, then field 4: an entry holding only its key (0A 05 "empty").
        #expect(expected.encode() == [0x10, 0x02, 0x22, 0x07, 0x0A, 0x05] + Array("empty".utf8))
        #expect(python == [0x10, 0x02, 0x22, 0x09, 0x0A, 0x05] + Array("empty".utf8) + [0x12, 0x00])
    }

    @Test func replyHeaders() throws {
        try Self.agree("reply_header_ok", ReplyHeader(requestID: 7, code: .ok))
        try Self.agree(
            "reply_header_invalid",
            ReplyHeader(
                requestID: 9, code: .invalidArgument, message: "images[1] has 12 values, the model takes 32",
                trailers: ["retryable": "false", "field": "images"]))
        try Self.agree("reply_header_unauthenticated", ReplyHeader(requestID: 300, code: .unauthenticated))
    }

    @Test func unknownStatusCodeDecodesAsUnknown() throws {
        let header = try ReplyHeader(bytes: Self.golden("reply_header_code_99"))
        #expect(header == ReplyHeader(requestID: 5, code: .unknown, message: "from the future"))
    }

    @Test func events() throws {
        try Self.agree("event_purchase", Event(itemID: -5, type: .purchase, timestampMs: 1_732_550_400_000, dwellMs: 1500))
        try Self.agree("event_favorite", Event(itemID: 2_268_318, type: .favorite, timestampMs: 1_511_544_070_000))
        try Self.agree("event_type_42", Event(itemID: 3, type: EventType(rawValue: 42)))
        try Self.agree("event_type_negative", Event(itemID: 3, type: EventType(rawValue: -1)))
        try Self.agree("embedding", Embedding(values: [0.5, -1.25, 0x1p-30, 1.0e30, 0.0, 3.0]))
    }

    @Test func rankRequests() throws {
        try Self.agree("rank_request_empty", RankRequest())
        try Self.agree(
            "rank_request_full",
            RankRequest(
                events: [
                    Event(itemID: 1193, type: .view, timestampMs: 978_300_760_000, dwellMs: 30),
                    Event(itemID: 661, type: .click, timestampMs: 978_302_109_000),
                    Event(itemID: 914, type: .rate),
                ],
                textTokens: [5, 0, 29, 300],
                images: [Embedding(values: [0.25, -0.5, 1.0, 2.0]), Embedding()],
                candidates: [10, -1, .max, .min],
                topK: 10, excludeSeen: true, model: "default", nowMs: 978_303_000_000,
                query: "Sci-Fi comedy, caf\u{e9} \u{fc}ber"))
        try Self.agree("rank_request_large", Self.largeRequest)
    }

    /// The same values as `rank_request_large` in gen-wire-golden.py.
    static var largeRequest: RankRequest {
        let events: [Event] = (0..<1000).map { (i: Int) -> Event in
            Event(itemID: Int64(i * 7 + 1), type: EventType(rawValue: Int32(i % 7)), timestampMs: Int64(1_000_000 + i * 1000))
        }
        let images: [Embedding] = (0..<4).map { (i: Int) -> Embedding in
            Embedding(values: (0..<512).map { (j: Int) -> Float in Float(i * 31 + j) / 64 - 8 })
        }
        let tokens: [UInt32] = Array(1...64)
        let candidates: [Int64] = Array(100_000..<105_000)
        return RankRequest(events: events, textTokens: tokens, images: images, candidates: candidates, topK: 500, model: "tiny")
    }

    @Test func replies() throws {
        try Self.agree("scored_item", ScoredItem(itemID: 2858, score: -3.5))
        try Self.agree(
            "rank_reply",
            RankReply(
                items: [ScoredItem(itemID: 2858, score: 4.75), ScoredItem(itemID: 260, score: 0.125), ScoredItem(itemID: 1, score: -2)],
                model: "default", modelVersion: "2026-11-25.1", unknownCandidates: [999_999, -3]))
        try Self.agree("rank_reply_empty", RankReply())
        try Self.agree(
            "rank_request_explain",
            RankRequest(events: [Event(itemID: 1193, type: .rate), Event(itemID: 661, type: .rate)], topK: 10, explainEvents: 3))
        try Self.agree(
            "rank_reply_explained",
            RankReply(
                items: [
                    ScoredItem(itemID: 2858, score: 4.75, reasons: [
                        EventContribution(eventIndex: 1, weight: 0.5), EventContribution(eventIndex: 0, weight: 0.125),
                    ]),
                    ScoredItem(itemID: 260, score: 0.125),
                    ScoredItem(itemID: 1, score: -2, reasons: [EventContribution(eventIndex: 0, weight: 0x1p-20)]),
                ],
                model: "ml-1m"))
        try Self.agree("health_request", HealthRequest())
        try Self.agree("health_reply", HealthReply(ready: true, state: "serving", models: ["default", "tiny"]))
        try Self.agree("model_info_request", ModelInfoRequest(model: "tiny"))
        try Self.agree(
            "model_info",
            ModelInfo(
                name: "default", version: "2026-11-25.1", imageDim: 32, textVocabSize: 30, numItems: 9742, maxEvents: 200,
                maxTextTokens: 16, maxImages: 4, dModel: 64, nLayers: 2, isDefault: true))
    }

    @Test func liveCatalogueMessages() throws {
        try Self.agree(
            "upsert_items_request",
            UpsertItemsRequest(model: "shop", items: [
                ItemContent(itemID: 900_001, textTokens: [12, 40, 0], contentVector: [0.5, -0.25, 3], title: "Chaise longue", category: "garden"),
                ItemContent(itemID: 7),
            ]))
        try Self.agree(
            "upsert_items_request_external_id",
            UpsertItemsRequest(items: [
                ItemContent(itemID: 900_002, textTokens: [3], title: "Lantern", externalID: "85123A"),
                ItemContent(itemID: 8, externalID: "POST"),
            ]))
        try Self.agree("upsert_items_reply", UpsertItemsReply(added: 1, replaced: 1, journalSequence: 1 << 40))
        try Self.agree("set_items_available_request", SetItemsAvailableRequest(model: "shop", itemIDs: [900_001, 2858], available: false))
        try Self.agree(
            "rank_reply_unavailable",
            RankReply(items: [ScoredItem(itemID: 260, score: 0.125)], unknownCandidates: [5], unavailableCandidates: [2858, 900_001]))
    }

    @Test func getItemsMessages() throws {
        try Self.agree("get_items_request", GetItemsRequest(model: "shop", itemIDs: [2858, 900_001, 5]))
        try Self.agree(
            "get_items_reply",
            GetItemsReply(items: [
                ItemMetadata(itemID: 2858, known: true, title: "American Beauty (1999)", category: "Drama"),
                ItemMetadata(itemID: 900_001, known: true, title: "WHITE HANGING HEART T-LIGHT HOLDER", externalID: "85123A"),
                ItemMetadata(itemID: 5),
            ]))
    }

    @Test func forecastMessages() throws {
        try Self.agree(
            "forecast_request",
            ForecastRequest(
                model: "shop",
                series: [
                    SeriesHistory(itemID: 85123, startMs: 1_733_011_200_000, values: [3, 0, .nan, 12.5]),
                    SeriesHistory(itemID: -2, values: [1]),
                ],
                horizon: 7, quantiles: [0.1, 0.5, 0.975]))
        try Self.agree(
            "forecast_reply",
            ForecastReply(forecasts: [
                SeriesForecast(itemID: 85123, mean: [2.5, 0], quantiles: [
                    QuantileValues(quantile: 0.1, values: [0.25, 0]), QuantileValues(quantile: 0.9, values: [6, 0]),
                ]),
                SeriesForecast(itemID: -2),
            ]))
    }
}
