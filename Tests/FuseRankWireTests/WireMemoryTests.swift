import CFuseRankProto
import Testing

@testable import FuseRankWire

/// Encoding and decoding free every byte of C memory they take (glibc's heap stays flat over many
/// calls), on success and on failure.
@Suite struct WireMemoryTests {
    /// Bytes in use on glibc's heap (every arena).
    static func heapInUse() -> Int { Int(fuserank_heap_bytes_in_use()) }

    @Test(.enabled(if: FUSERANK_HAVE_HEAP_STATS == 1)) func codecDoesNotLeak() throws {
        let large = WireGoldenTests.largeRequest
        let largeBytes = large.encode()  // ~34 KB; one leaked copy per call would be obvious
        let header = RequestHeader(method: .rank, requestID: 1, timeoutMs: 5, metadata: ["a": "b", "c": "d"])
        let reply = RankReply(items: (0..<100).map { ScoredItem(itemID: Int64($0), score: 1) }, model: "m", modelVersion: "v")
        let health = HealthReply(ready: true, state: "serving", models: ["a", "b"])
        func exercise(_ rounds: Int) throws {
            for _ in 0..<rounds {
                _ = try RankRequest(bytes: largeBytes)
                _ = large.encode()
                _ = try RequestHeader(bytes: header.encode())
                _ = try RankReply(bytes: reply.encode())
                _ = try HealthReply(bytes: health.encode())
                _ = try? RankRequest(bytes: Array(largeBytes.dropLast(1)))  // fails after allocating
            }
        }
        try exercise(50)  // warm up
        let before = Self.heapInUse()
        try exercise(2000)
        let growth = Self.heapInUse() - before
        // A leak of even one 32-byte block per round would be 64 KB per kind of call.
        #expect(growth < 48 * 1024, "heap grew by \(growth) bytes over 2000 rounds")
    }
}
