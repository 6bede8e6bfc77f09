import Foundation
import FuseRankTestSupport
import FuseRankWire
import Testing

/// `RankRequest.objective` over the wire (in-process server, real sockets): purchase
/// probabilities from a model with a purchase head match the PyTorch reference; a model without
/// one answers FAILED_PRECONDITION; an unknown value is INVALID_ARGUMENT; the field round-trips.
@Suite(.serialized) struct PurchaseObjectiveTests {
    static let tinyPurchase = Fixtures.root.appendingPathComponent("golden/tiny-purchase").path
    static let tinyRepeat = Fixtures.root.appendingPathComponent("golden/tiny-repeat").path

    struct PurchaseFile: Decodable {
        var tolerance: Float
        var cases: [GoldenCaseFile.Case]
    }

    @Test func objectiveRoundTrips() throws {
        var request = RankRequest(topK: 3)
        #expect(try RankRequest(bytes: request.encode()).objective == .nextItem)
        request.objective = .purchase
        #expect(try RankRequest(bytes: request.encode()).objective == .purchase)
        request.objective = Objective(rawValue: 9)
        #expect(try RankRequest(bytes: request.encode()).objective.rawValue == 9)
    }

    @Test func purchaseOverTheWireMatchesPyTorch() throws {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        let file = try decoder.decode(PurchaseFile.self, from: Data(contentsOf: URL(fileURLWithPath: Self.tinyPurchase)
            .appendingPathComponent("purchase-cases.json")))
        let server = try TestServer(models: [Self.tinyPurchase, Self.tinyRepeat])
        defer { server.stop() }
        let peer = try server.peer()
        var worst: Float = 0
        for (i, c) in file.cases.enumerated() {
            var request = c.query.request(model: "tiny-purchase")
            if c.query.candidates.isEmpty && c.query.topK == 0 { request.topK = 1000 }
            request.objective = .purchase
            let reply = try peer.rank(request, id: UInt64(i + 1))
            #expect(reply.items.count == c.items.count, "\(c.name)")
            #expect(reply.unknownCandidates == c.unknownCandidates, "\(c.name)")
            for (g, w) in zip(reply.items, c.items) {
                #expect(g.score >= 0 && g.score <= 1)
                if g.itemID != w.itemId { #expect(abs(g.score - w.score) <= file.tolerance, "\(c.name): order") }
                worst = max(worst, abs(g.score - w.score))
            }
        }
        #expect(worst <= file.tolerance, "max diff \(worst)")
    }

    @Test func modelWithoutHeadIsFailedPrecondition() throws {
        let server = try TestServer(models: [Self.tinyRepeat, Self.tinyPurchase])
        defer { server.stop() }
        let peer = try server.peer()
        var request = RankRequest(topK: 3)
        request.objective = .purchase
        let header = try peer.expectError(.failedPrecondition, id: 7, body: request.encode())
        #expect(header.message.contains("purchase head") && header.message.contains("tiny-repeat"), "\(header.message)")
        request.objective = .nextItem
        #expect(try peer.rank(request, id: 8).items.count == 3)
        request.objective = Objective(rawValue: 5)
        request.model = "tiny-purchase"
        try peer.expectError(.invalidArgument, id: 9, body: request.encode())
    }
}
