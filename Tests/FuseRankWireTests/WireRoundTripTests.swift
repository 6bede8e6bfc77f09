import Testing

@testable import FuseRankWire

/// Every message survives encode -> decode, including maps, empty and large messages, and
/// bytes that are not the message fail with a typed error.
@Suite struct WireRoundTripTests {
    static func roundTrip<M: WireMessage>(_ value: M, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let decoded = try M(bytes: value.encode())
        #expect(decoded == value, sourceLocation: sourceLocation)
    }

    @Test func headers() throws {
        try Self.roundTrip(RequestHeader())
        try Self.roundTrip(RequestHeader(method: .rank, requestID: 1, timeoutMs: 10))
        let metadata = Dictionary(uniqueKeysWithValues: (0..<50).map { ("key-\($0)", String(repeating: "v", count: $0)) })
        try Self.roundTrip(RequestHeader(method: "/not.a/Method", requestID: .max, timeoutMs: .max, metadata: metadata))
        try Self.roundTrip(ReplyHeader())
        for code in StatusCode.allCases {
            try Self.roundTrip(ReplyHeader(requestID: UInt64(code.rawValue) + 1, code: code, message: "m \(code)", trailers: ["k": "v", "é": "ü"]))
        }
    }

    @Test func requests() throws {
        try Self.roundTrip(RankRequest())
        try Self.roundTrip(WireGoldenTests.largeRequest)
        try Self.roundTrip(
            RankRequest(
                events: [Event(itemID: .min, type: EventType(rawValue: .max), timestampMs: .min, dwellMs: .max)],
                textTokens: [.max, 0], images: [Embedding(values: [.infinity, -.infinity, .leastNonzeroMagnitude])],
                candidates: [], topK: .max, excludeSeen: true, model: "m", nowMs: .max, query: "🙂 multi\nline"))
        try Self.roundTrip(HealthRequest())
        try Self.roundTrip(ModelInfoRequest())
        try Self.roundTrip(ModelInfoRequest(model: "a/b c"))
        try Self.roundTrip(Event())
        try Self.roundTrip(Embedding(values: (0..<100_000).map { Float($0) * 0.001 }))
    }

    @Test func replies() throws {
        try Self.roundTrip(RankReply())
        try Self.roundTrip(
            RankReply(
                items: (0..<10_000).map { ScoredItem(itemID: Int64($0) - 5000, score: Float($0) / 3) },
                model: "default", modelVersion: "v", unknownCandidates: Array(-100..<100)))
        try Self.roundTrip(HealthReply())
        try Self.roundTrip(HealthReply(ready: false, state: "draining", models: ["a", "", "c"]))
        try Self.roundTrip(ModelInfo())
        try Self.roundTrip(ModelInfo(name: "n", version: "v", imageDim: .max, textVocabSize: 1, numItems: 2, maxEvents: 3, maxTextTokens: 4, maxImages: 5, dModel: 6, nLayers: 7, isDefault: true))
    }

    @Test func emptyMessagesEncodeToNoBytes() {
        #expect(RankRequest().encode().isEmpty)
        #expect(HealthRequest().encode().isEmpty)
        #expect(ReplyHeader().encode().isEmpty)
    }

    @Test func nanSurvives() throws {
        let decoded = try Embedding(bytes: Embedding(values: [.nan, 1]).encode())
        #expect(decoded.values.count == 2 && decoded.values[0].isNaN && decoded.values[1] == 1)
    }

    @Test func undecodableBytesThrowTypedErrors() throws {
        let garbage: [[UInt8]] = [
            [0xFF],  // field 31, wire type 7 (invalid)
            [0x0A, 0x05, 0x41],  // string field claims 5 bytes, has 1
            [0x10],  // varint field with no value
            [0x10, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01],  // varint over 10 bytes
        ]
        for bytes in garbage {
            #expect(throws: WireError.undecodable(messageType: "fuserank.v1.RequestHeader", byteCount: bytes.count)) {
                try RequestHeader(bytes: bytes)
            }
        }
        // A truncated large request.
        let full = WireGoldenTests.largeRequest.encode()
        #expect(throws: WireError.self) { try RankRequest(bytes: Array(full.dropLast(3))) }
        // A nested event that does not parse (field 1, length 2, bytes [0xFF, 0xFF]).
        #expect(throws: WireError.self) { try RankRequest(bytes: [0x0A, 0x02, 0xFF, 0xFF]) }
        #expect(WireError.undecodable(messageType: "fuserank.v1.RankRequest", byteCount: 3).description
            == "cannot decode 3 bytes as fuserank.v1.RankRequest")
    }

    @Test func unknownFieldsAreSkipped() throws {
        // HealthRequest has no fields; field 9 (varint 1) and field 10 (bytes "ab") are unknown.
        #expect(try HealthRequest(bytes: [0x48, 0x01, 0x52, 0x02, 0x61, 0x62]) == HealthRequest())
    }

    @Test func statusCodesAndMethods() {
        #expect(StatusCode.allCases.count == 17)
        #expect(StatusCode.allCases.map(\.rawValue) == Array(0...16))
        #expect(StatusCode.invalidArgument.name == "INVALID_ARGUMENT")
        #expect(StatusCode.unauthenticated.rawValue == 16)
        #expect(StatusCode(wireValue: 14) == .unavailable)
        #expect(StatusCode(wireValue: 17) == .unknown)
        #expect(StatusCode(wireValue: -1) == .unknown)
        #expect(Method.rank.path == "/fuserank.v1.Ranker/Rank")
        #expect(Method.health.path == "/fuserank.v1.Ranker/Health")
        #expect(Method.getModelInfo.path == "/fuserank.v1.Ranker/GetModelInfo")
        #expect(Method(path: "/fuserank.v1.Ranker/Rank") == .rank)
        #expect(Method(path: "/fuserank.v1.Ranker/Nope") == nil)
        #expect(EventType.purchase.description == "PURCHASE")
        #expect(EventType.favorite.description == "FAVORITE" && EventType.favorite.rawValue == 7)
        #expect(EventType(rawValue: 9).description == "EventType(9)")
    }
}
