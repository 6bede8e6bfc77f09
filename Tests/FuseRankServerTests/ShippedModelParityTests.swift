import Foundation
import FuseRankServer
import FuseRankWire
import Testing

/// `models/ml-1m` served over the wire gives the PyTorch reference's top-10 ids and scores for
/// 302 ML-1M users (`Tests/Fixtures/parity/`, written by `make parity-fixtures`; no torch here).
@Suite struct ShippedModelParityTests {
    struct Reference: Decodable {
        struct User: Decodable {
            var user: Int, events: [Int64], items: [Int64], scores: [Float], nextScore: Float?
        }
        var bundle: String, name: String, version: String, eventType: Int32, timestampMs: Int64, nowMs: Int64
        var excludeSeen: Bool, topK: UInt32, users: [User]
    }

    static let projectRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let referencePath = projectRoot.appendingPathComponent("Tests/Fixtures/parity/ml-1m-top10.json").path

    static func load() throws -> Reference {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try decoder.decode(Reference.self, from: Data(contentsOf: URL(fileURLWithPath: referencePath)))
    }

    @Test func servedTopTenMatchesPyTorch() throws {
        let reference = try Self.load()
        let bundlePath = Self.projectRoot.appendingPathComponent(reference.bundle).path
        let server = try TestServer(models: [bundlePath])
        let peer = try server.peer()
        #expect(reference.users.count >= 300)
        var worst: Float = 0
        var tiedSwaps = 0
        for (n, user) in reference.users.enumerated() {
            let request = RankRequest(
                events: user.events.map {
                    Event(itemID: $0, type: EventType(rawValue: reference.eventType), timestampMs: reference.timestampMs)
                },
                topK: reference.topK, excludeSeen: reference.excludeSeen, nowMs: reference.nowMs)
            let reply = try peer.rank(request, id: UInt64(n + 1))
            #expect(reply.model == reference.name && reply.modelVersion == reference.version)
            try #require(reply.items.count == user.items.count, "user \(user.user)")
            for (i, (got, want)) in zip(reply.items, zip(user.items, user.scores)).enumerated() {
                let error = abs(got.score - want.1) / max(1, abs(want.1))
                worst = max(worst, error)
                #expect(error <= 1e-4, "user \(user.user) position \(i): \(got.score) vs \(want.1)")
                if got.itemID != want.0 {
                    // Only where the reference's scores tie may the order differ.
                    let tied = user.scores.enumerated().contains { $0.offset != i && $0.element == want.1 }
                        || (i == user.items.count - 1 && user.nextScore == want.1)
                    #expect(tied, "user \(user.user) position \(i): id \(got.itemID), reference \(want.0)")
                    tiedSwaps += 1
                }
            }
        }
        print("parity on \(reference.bundle): \(reference.users.count) users, max relative score error \(worst), \(tiedSwaps) tied swaps")
    }
}
