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

    /// `exclude_items` and `restrict_to` apply to purchase ranking as to every ranking
    /// (docs/wire.md): the result is the unfiltered ranking with the excluded items left out, or
    /// only the listed ones (unknown listed ids reported).
    @Test func purchaseHonoursExcludeItemsAndRestrictTo() throws {
        let bundle = try ModelBundle(path: Self.set.path)
        let ranker = Ranker(bundle: bundle, maxBatch: 4)
        let ids = bundle.weights.itemIDs[2...].map { $0 }
        var all = RankQuery(events: [BehaviourEvent(itemID: ids[0]), BehaviourEvent(itemID: ids[3], type: 1)], topK: 0,
                            nowMs: 1_700_000_000_000)
        all.objective = .purchase
        let full = try ranker.rank([all])[0].items
        #expect(full.count == ids.count)
        func scores(_ items: [ScoredItem]) -> [Int64: Float] {
            Dictionary(uniqueKeysWithValues: items.map { ($0.itemID, $0.score) })
        }

        // exclude_items, catalogue: the best items of the full ranking, less the excluded ones.
        let excluded = [full[0].itemID, full[2].itemID, 999_999_999]
        var exclude = all
        exclude.topK = 5
        exclude.excludeItems = excluded
        let withoutExcluded = full.filter { !excluded.contains($0.itemID) }
        let gotExclude = try ranker.rank([exclude])[0]
        #expect(gotExclude.items.map(\.itemID) == withoutExcluded.prefix(5).map(\.itemID))

        // exclude_items, candidates: an excluded candidate is not scored.
        var candidates = all
        candidates.candidates = [full[0].itemID, full[1].itemID, full[2].itemID]
        candidates.excludeItems = [full[1].itemID]
        #expect(try ranker.rank([candidates])[0].items.map(\.itemID) == [full[0].itemID, full[2].itemID])

        // restrict_to: only the listed items, with their catalogue probabilities; unknown ids reported.
        let listed = [full[7].itemID, full[1].itemID, full[4].itemID]
        var restrict = all
        restrict.topK = 10
        restrict.restrictTo = listed + [888_888_888]
        let gotRestrict = try ranker.rank([restrict])[0]
        #expect(gotRestrict.items.map(\.itemID) == [full[1].itemID, full[4].itemID, full[7].itemID])
        #expect(gotRestrict.unknownCandidates == [888_888_888])
        let want = scores(full)
        for item in gotRestrict.items { #expect(abs(item.score - want[item.itemID]!) <= 1e-6) }

        // restrict_to and exclude_items together, in a batch with a next-item query.
        restrict.excludeItems = [full[4].itemID]
        var next = restrict
        next.objective = .nextItem
        let batch = try ranker.rank([restrict, next])
        #expect(batch[0].items.map(\.itemID) == [full[1].itemID, full[7].itemID])
        #expect(Set(batch[1].items.map(\.itemID)) == [full[1].itemID, full[7].itemID])
    }

    @Test func bundlesWithoutHeadHaveNone() throws {
        let bundle = try ModelBundle(path: GoldenCaseFile.root.appendingPathComponent("tiny-repeat").path)
        #expect(!bundle.hasPurchaseHead)
    }

    /// A copy of tiny-purchase whose head keeps every tensor but `purchase.recency`, replaced by
    /// `recency` when given (nil: left out, as a head written before the fused head).
    static func headVariant(_ tag: String, recency: [Float]?, shape: [Int] = [1]) throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("purchase-\(tag)-\(getpid())")
        try? FileManager.default.removeItem(at: dir)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let src = GoldenCaseFile.root.appendingPathComponent("tiny-purchase")
        for name in ["config.json", "vocab.txt", "weights.safetensors"] {
            try FileManager.default.copyItem(at: src.appendingPathComponent(name), to: dir.appendingPathComponent(name))
        }
        let head = try SafetensorsFile(path: src.appendingPathComponent("purchase.safetensors").path)
        var blobs = head.entries.keys.sorted().filter { $0 != "purchase.recency" }.map { name in
            TensorBlob(name: name, floats: Array(head.floats(head.entries[name]!)), shape: head.entries[name]!.shape)
        }
        if let recency { blobs.append(TensorBlob(name: "purchase.recency", floats: recency, shape: shape)) }
        try SafetensorsWriter.write(blobs, to: dir.appendingPathComponent("purchase.safetensors").path)
        return dir
    }

    /// `purchase.recency` is optional: a head without it (written before the fused head) loads and
    /// ranks as one whose recency is 0; a recency weight changes the seen items' probabilities
    /// only; a misshapen one is rejected.
    @Test func recencyIsOptionalAndActsOnSeenItemsOnly() throws {
        let without = try Self.headVariant("no-recency", recency: nil)
        let zero = try Self.headVariant("zero-recency", recency: [0])
        let strong = try Self.headVariant("strong-recency", recency: [-2])
        let bad = try Self.headVariant("bad-recency", recency: [0, 0], shape: [2])
        defer { for d in [without, zero, strong, bad] { try? FileManager.default.removeItem(at: d) } }
        let file = try Self.load()
        let c = try #require(file.cases.first { $0.name == "purchase_catalogue_all" })
        var q = c.query.rankQuery
        q.objective = .purchase
        func rank(_ dir: URL) throws -> RankResult {
            let bundle = try ModelBundle(path: dir.path)
            return try Ranker(bundle: bundle, maxBatch: 1).rank([q])[0]
        }
        let a = try rank(without), b = try rank(zero), s = try rank(strong)
        #expect(a.items.map(\.itemID) == b.items.map(\.itemID) && a.items.map(\.score) == b.items.map(\.score))
        let seen = Set(q.events.map(\.itemID))
        let before = Dictionary(uniqueKeysWithValues: b.items.map { ($0.itemID, $0.score) })
        var changed = 0
        for item in s.items {
            if seen.contains(item.itemID) {
                if item.score != before[item.itemID] { changed += 1 }
            } else {
                #expect(item.score == before[item.itemID], "unseen item \(item.itemID) moved")
            }
        }
        #expect(changed > 0, "a recency weight moves the seen items")
        #expect(throws: BundleError.self) { _ = try ModelBundle(path: bad.path) }
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
