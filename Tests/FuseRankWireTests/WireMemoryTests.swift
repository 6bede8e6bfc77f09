import CFuseRankProto
import Testing

@testable import FuseRankWire

/// Encoding and decoding free every C block they allocate, on success and on failure.
///
/// All of the codec's C memory goes through `fuserank_wire_alloc` / `fuserank_wire_allocator()`,
/// which count the blocks live on the calling thread; the count is exact and unaffected by other
/// tests allocating at the same time.
@Suite struct WireMemoryTests {
    /// The counter sees protobuf-c's allocations (so a zero below means something).
    @Test func counterSeesUnpackedMessages() throws {
        let bytes = WireGoldenTests.largeRequest.encode()
        let before = fuserank_wire_live_blocks()
        let message = bytes.withUnsafeBufferPointer {
            fuserank__v1__rank_request__unpack(fuserank_wire_allocator(), $0.count, $0.baseAddress)
        }
        #expect(message != nil)
        #expect(fuserank_wire_live_blocks() > before)
        fuserank__v1__rank_request__free_unpacked(message, fuserank_wire_allocator())
        #expect(fuserank_wire_live_blocks() == before)
    }

    @Test func everyMessageFreesWhatItAllocates() throws {
        let messages: [any WireMessage] = [
            WireGoldenTests.largeRequest,
            RankRequest(),
            RequestHeader(method: .rank, requestID: 1, timeoutMs: 5, metadata: ["a": "b", "c": "d"]),
            ReplyHeader(requestID: 2, code: .notFound, message: "m", trailers: ["k": "v"]),
            RankReply(items: (0..<100).map { ScoredItem(itemID: Int64($0), score: 1) }, model: "m", modelVersion: "v", unknownCandidates: [1, 2]),
            HealthRequest(),
            HealthReply(ready: true, state: "serving", models: ["a", "b"]),
            ModelInfoRequest(model: "x"),
            ModelInfo(name: "n", version: "v", imageDim: 3),
            Event(itemID: 1, type: .click),
            Embedding(values: [1, 2, 3]),
            ScoredItem(itemID: 1, score: 2),
        ]
        let before = fuserank_wire_live_blocks()
        for message in messages {
            try Self.exercise(message)
            #expect(fuserank_wire_live_blocks() == before, "\(type(of: message)) leaves C blocks behind")
        }
    }

    /// Encodes, decodes, and decodes a truncated and a corrupted copy (failures after allocating).
    static func exercise<M: WireMessage>(_ message: M) throws {
        let bytes = message.encode()
        #expect(try M(bytes: bytes) == message)
        if bytes.count > 1 {
            _ = try? M(bytes: Array(bytes.dropLast()))
            _ = try? M(bytes: bytes + [0x0A, 0x7F])  // a length-delimited field 1 that runs past the end
        }
    }
}
