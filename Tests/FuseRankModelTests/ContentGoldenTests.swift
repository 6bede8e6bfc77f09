import Foundation
import Testing
import FuseRankTestSupport
@testable import FuseRankModel

/// The content projection against the PyTorch reference: every case of
/// `Tests/Fixtures/golden/tiny-content/content-cases.json` (written by `make fixtures`,
/// `training/fuserank/fixtures/content.py`): the row each content gives, and its score for the
/// fixture's request when the item is added to the catalogue and ranked as a candidate.
@Suite struct ContentGoldenTests {
    struct ContentFile: Decodable {
        struct Case: Decodable {
            var name: String, contentVector: [Float]?, textTokens: [UInt32]
            var embedding: [Float], bias: Float, score: Float
        }
        var tolerance: Float, contentDim: Int, query: GoldenCaseFile.Query, userVector: [Float], cases: [Case]
    }

    static let set = GoldenCaseFile.root.appendingPathComponent("tiny-content")

    static func load() throws -> ContentFile {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try decoder.decode(ContentFile.self, from: Data(contentsOf: set.appendingPathComponent("content-cases.json")))
    }

    @Test func rowsAndScoresMatchPyTorch() throws {
        let file = try Self.load()
        let bundle = try ModelBundle(path: Self.set.path)
        #expect(bundle.hasContentProjection && bundle.config.contentDim == file.contentDim)
        #expect(file.cases.count >= 4)
        var overlay = CatalogueOverlay(bundle: bundle)
        var maxDiff: Float = 0
        for (k, c) in file.cases.enumerated() {
            let row = try bundle.contentRow(textTokens: c.textTokens, vector: c.contentVector)
            #expect(row.embedding.count == c.embedding.count, "\(c.name)")
            for (g, w) in zip(row.embedding, c.embedding) { maxDiff = max(maxDiff, abs(g - w)) }
            maxDiff = max(maxDiff, abs(row.bias - c.bias))
            overlay.setContent(Int64(900_000 + k), row: row)
        }
        #expect(maxDiff <= file.tolerance, "content rows: max |Swift - PyTorch| = \(maxDiff)")

        // each content item ranked as a candidate of the fixture's request, through the overlay
        var query = file.query.rankQuery
        query.candidates = (0..<file.cases.count).map { Int64(900_000 + $0) }
        query.topK = 0
        let ranker = Ranker(bundle: bundle, maxBatch: 1)
        let result = ranker.rank([try bundle.validate(query)], overlay: overlay)[0]
        #expect(result.items.count == file.cases.count)
        var scoreDiff: Float = 0
        for item in result.items {
            let want = file.cases[Int(item.itemID - 900_000)].score
            scoreDiff = max(scoreDiff, abs(item.score - want) / max(1, abs(want)))
        }
        #expect(scoreDiff <= file.tolerance, "content scores: max relative |Swift - PyTorch| = \(scoreDiff)")
        print("golden tiny-content: \(file.cases.count) rows, max |Swift - PyTorch| = \(maxDiff), scores \(scoreDiff)")
    }
}
