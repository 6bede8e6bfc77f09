import Foundation
import Testing
import FuseRankTestSupport
@testable import FuseRankModel

/// The purchase head (objective `.purchase`) against the PyTorch reference: every case of
/// `Tests/Fixtures/golden/tiny-purchase/purchase-cases.json` (written by `make fixtures`).
@Suite struct PurchaseHeadTests {
    struct PurchaseFile: Decodable {
        var tolerance: Float
        var cases: [GoldenCaseFile.Case]
    }

    static let set = GoldenCaseFile.root.appendingPathComponent("tiny-purchase")

    static func load() throws -> PurchaseFile {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try decoder.decode(PurchaseFile.self, from: Data(contentsOf: set.appendingPathComponent("purchase-cases.json")))
    }

    /// Same items in the same order, except that two items whose probabilities are within the
    /// tolerance may swap; every probability within the tolerance and in [0, 1].
    static func check(_ name: String, _ got: RankResult, _ want: GoldenCaseFile.Case, tolerance: Float) -> Float {
        #expect(got.items.count == want.items.count, "\(name): item count")
        #expect(got.unknownCandidates == want.unknownCandidates, "\(name): unknown candidates")
        let wantByID = Dictionary(uniqueKeysWithValues: want.items.map { ($0.itemId, $0.score) })
        var maxDiff: Float = 0
        for (g, w) in zip(got.items, want.items) {
            #expect(g.score >= 0 && g.score <= 1, "\(name): \(g.score) outside [0, 1]")
            maxDiff = max(maxDiff, abs(g.score - w.score))
            if g.itemID != w.itemId {
                #expect(abs(g.score - w.score) <= tolerance, "\(name): order differs beyond a near-tie")
            }
            if let p = wantByID[g.itemID] { maxDiff = max(maxDiff, abs(g.score - p)) }
        }
        #expect(maxDiff <= tolerance, "\(name): probability max diff \(maxDiff)")
        return maxDiff
    }

    @Test func purchaseProbabilitiesMatchPyTorch() throws {
        let file = try Self.load()
        let bundle = try ModelBundle(path: Self.set.path)
        #expect(bundle.hasPurchaseHead)
        #expect(file.cases.count >= 20)
        let ranker = Ranker(bundle: bundle, maxBatch: file.cases.count)
        var maxDiff: Float = 0
        for c in file.cases {
            var q = c.query.rankQuery
            q.objective = .purchase
            maxDiff = max(maxDiff, Self.check(c.name, try ranker.rank([q])[0], c, tolerance: file.tolerance))
        }
        print("golden tiny-purchase: \(file.cases.count) purchase cases, max |Swift - PyTorch| = \(maxDiff)")
    }

    /// A batch that mixes both objectives answers each query as a batch of one would.
    @Test func mixedBatchEqualsSingleRuns() throws {
        let file = try Self.load()
        let bundle = try ModelBundle(path: Self.set.path)
        let next = try GoldenCaseFile.load(Self.set)
        let ranker = Ranker(bundle: bundle, maxBatch: 2 * file.cases.count)
        var queries: [RankQuery] = []
        for (p, n) in zip(file.cases, next.cases) {
            var q = p.query.rankQuery
            q.objective = .purchase
            queries += [n.query.rankQuery, q]
        }
        let results = try ranker.rank(queries)
        for (i, (p, n)) in zip(file.cases, next.cases).enumerated() {
            _ = Self.check("batch/\(p.name)", results[2 * i + 1], p, tolerance: file.tolerance)
            let got = results[2 * i]
            #expect(got.items.map(\.itemID) == n.items.map(\.itemId), "batch/\(n.name): next-item order")
            let diff = zip(got.items, n.items).map { abs($0.score - $1.score) }.max() ?? 0
            #expect(diff <= next.tolerance, "batch/\(n.name): next-item score diff \(diff)")
        }
    }

    @Test func bundlesWithoutHeadHaveNone() throws {
        let bundle = try ModelBundle(path: GoldenCaseFile.root.appendingPathComponent("tiny-repeat").path)
        #expect(!bundle.hasPurchaseHead)
    }

    @Test func misshapenHeadIsRejected() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("purchase-bad-\(getpid())")
        try? FileManager.default.removeItem(at: dir)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let src = GoldenCaseFile.root.appendingPathComponent("tiny-purchase")
        for name in ["config.json", "vocab.txt", "weights.safetensors"] {
            try FileManager.default.copyItem(at: src.appendingPathComponent(name), to: dir.appendingPathComponent(name))
        }
        // a head of another model: weights.safetensors of the same bundle is not a purchase head
        try FileManager.default.copyItem(at: src.appendingPathComponent("weights.safetensors"),
                                         to: dir.appendingPathComponent("purchase.safetensors"))
        #expect(throws: BundleError.self) { _ = try ModelBundle(path: dir.path) }
    }
}
