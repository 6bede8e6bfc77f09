import Foundation
import FuseRankTestSupport
import FuseRankWire
import Testing

/// A fused bundle (docs/model-format.md "Fused bundles") served over the wire by an in-process
/// server on real sockets: its rankings match the PyTorch `FusedModel` reference, a request for
/// explanations is INVALID_ARGUMENT, and the server keeps serving after it.
@Suite(.serialized) struct FusedBundleServerTests {
    static let tinyFused = Fixtures.root.appendingPathComponent("golden/tiny-fused").path

    @Test func fusedRankingOverTheWireMatchesPyTorch() throws {
        let file = try GoldenCaseFile.load(URL(fileURLWithPath: Self.tinyFused), file: "fused-cases.json")
        let server = try TestServer(models: [Self.tinyFused])
        defer { server.stop() }
        let peer = try server.peer()
        var worst: Float = 0
        for (i, c) in file.cases.enumerated() {
            var request = c.query.request(model: "tiny-fused")
            if c.query.candidates.isEmpty && c.query.topK == 0 { request.topK = 1000 }
            let reply = try peer.rank(request, id: UInt64(i + 1))
            #expect(reply.items.map(\.itemID) == c.items.map(\.itemId), "\(c.name)")
            #expect(reply.unknownCandidates == c.unknownCandidates, "\(c.name)")
            for (g, w) in zip(reply.items, c.items) { worst = max(worst, abs(g.score - w.score)) }
        }
        #expect(worst <= file.tolerance, "max diff \(worst)")

        let explain = try #require(file.invalid.first { $0.name == "explain_on_fused" })
        let header = try peer.expectError(.invalidArgument, id: 900, body: explain.query.request(model: "tiny-fused").encode())
        #expect(header.message.contains("explain_events") && header.message.contains("2 members"), "\(header.message)")
        // GetModelInfo says it is fused, with the weights
        let info = try ModelInfo(bytes: peer.call(.getModelInfo, id: 902, body: ModelInfoRequest().encode()).body)
        #expect(info.name == "tiny-fused" && info.fusionWeights == [0.7, 0.45])
        // still serving
        let again = try peer.rank(file.cases[0].query.request(model: "tiny-fused"), id: 901)
        #expect(again.items.map(\.itemID) == file.cases[0].items.map(\.itemId))
    }
}
