import FuseRankTestSupport
import Foundation
import Testing
@testable import FuseRankModel

/// Fused bundles (docs/model-format.md "Fused bundles"): the golden set `tiny-fused` (two random
/// members of different widths) against the PyTorch `FusedModel`, and the loader's checks.
@Suite struct FusionTests {
    static let set = GoldenCaseFile.root.appendingPathComponent("tiny-fused")

    static func load() throws -> (GoldenCaseFile, ModelBundle) {
        (try GoldenCaseFile.load(set, file: "fused-cases.json"), try ModelBundle(path: set.path))
    }

    @Test func loadsItsMembers() throws {
        let (_, bundle) = try Self.load()
        let fusion = try #require(bundle.fusion)
        #expect(fusion.members.count == 1 && fusion.weights == [0.7, 0.45])
        #expect(bundle.userDimension == bundle.config.dModel + fusion.members[0].config.dModel)
        #expect(fusion.members[0].config.dModel != bundle.config.dModel, "the fixture's members differ in width")
    }

    @Test func casesMatchPyTorch() throws {
        let (file, bundle) = try Self.load()
        let ranker = Ranker(bundle: bundle, maxBatch: 4)
        var maxDiff: Float = 0
        #expect(file.cases.count >= 10)
        for c in file.cases {
            let q = c.query.rankQuery
            let u = try ranker.userVectors([q])
            #expect(u.count == bundle.userDimension)
            maxDiff = max(maxDiff, c.expectMatch(userVector: u, result: try ranker.rank([q])[0], tolerance: file.tolerance))
        }
        print("golden tiny-fused: \(file.cases.count) cases, max |Swift - PyTorch| = \(maxDiff)")
    }

    /// A member adds its catalogue scores straight into the bundle's own buffer: its scratch holds
    /// no `maxBatch * catalogue` scores of its own (128 MB per member and worker at 1M items and
    /// batch 32), only what its encoder needs.
    @Test func membersKeepNoCatalogueScores() throws {
        let (_, bundle) = try Self.load()
        let member = try #require(bundle.fusion?.members.first)
        let batch = 8, n = bundle.catalogueSize
        let ranker = Ranker(bundle: bundle, maxBatch: batch)
        let own = RunState(config: bundle.config, maxBatch: batch).bytes
        let alone = RunState(config: member.config, maxBatch: batch).bytes
        let scores = batch * n * MemoryLayout<Float>.stride
        #expect(ranker.state.bytes == own)
        #expect(ranker.members[0].state.bytes == alone - scores + MemoryLayout<Float>.stride)
        #expect(ranker.scratchBytes == own + alone - scores + MemoryLayout<Float>.stride)
        #expect(Ranker(bundle: member, maxBatch: batch).scratchBytes == alone, "a member loaded alone scores its own catalogue")
    }

    /// One batch of every case (catalogue and listed queries mixed) gives the reference answers.
    @Test func batchMatchesPyTorch() throws {
        let (file, bundle) = try Self.load()
        let batched = try Ranker(bundle: bundle, maxBatch: file.cases.count).rank(file.cases.map { $0.query.rankQuery })
        for (c, r) in zip(file.cases, batched) {
            #expect(r.items.map(\.itemID) == c.items.map(\.itemId), "\(c.name): order")
            let sDiff = zip(r.items, c.items).map { abs($0.score - $1.score) }.max() ?? 0
            #expect(sDiff <= file.tolerance, "\(c.name): score diff \(sDiff)")
        }
    }

    /// The evaluation path (user vectors, then every catalogue score) gives the ranking's scores
    /// of the items the request has not seen (seen items get no repeat bonus there).
    @Test func catalogueScoresAreTheFusedScores() throws {
        let (file, bundle) = try Self.load()
        let ranker = Ranker(bundle: bundle, maxBatch: 3)
        let cases = file.cases.filter { $0.query.candidates.isEmpty }
        let users = try ranker.userVectors(cases.map { $0.query.rankQuery })
        let scores = ranker.catalogueScores(users: users)
        let n = bundle.catalogueSize
        var compared = 0
        for (b, c) in cases.enumerated() {
            // the evaluation path scores without the repeat heads' bonus, as for a single model
            let seen = Set(c.query.events.map(\.itemId))
            for item in c.items where !seen.contains(item.itemId) {
                compared += 1
                let row = try #require(bundle.row(ofItem: item.itemId))
                #expect(abs(scores[b * n + row - 2] - item.score) <= file.tolerance, "\(c.name): item \(item.itemId)")
                let one = users.withUnsafeBufferPointer {
                    bundle.score(user: UnsafeBufferPointer(rebasing: $0[(b * bundle.userDimension)..<((b + 1) * bundle.userDimension)]),
                                 item: item.itemId)
                }
                #expect(abs((one ?? .nan) - item.score) <= file.tolerance)
            }
        }
        #expect(compared >= 50)
    }

    /// A session that grows one event per request ranks as full passes do: the bundle's own
    /// member reuses its cached states, the other members run in full.
    @Test func sessionsRankAsFullPasses() throws {
        let (file, bundle) = try Self.load()
        let cache = SessionCache(capacityBytes: 1 << 24)
        let cached = Ranker(bundle: bundle, maxBatch: 1, sessionCache: cache)
        let plain = Ranker(bundle: bundle, maxBatch: 1)
        let c = try #require(file.cases.max { $0.query.events.count < $1.query.events.count })
        var q = c.query.rankQuery
        q.sessionID = "fused-session"
        #expect(q.events.count >= 4)
        for n in 1...q.events.count {
            var step = q
            step.events = Array(q.events.prefix(n))
            let a = try cached.rank([step])[0], b = try plain.rank([step])[0]
            #expect(a.items.map(\.itemID) == b.items.map(\.itemID), "\(n) events")
            let diff = zip(a.items, b.items).map { abs($0.score - $1.score) }.max() ?? 0
            #expect(diff <= file.tolerance, "\(n) events: score diff \(diff)")
        }
        // past max_events the kept window slides and no cached state is valid (docs/wire.md)
        #expect(cache.statistics.hits >= min(q.events.count, bundle.config.maxEvents) - 2)
    }

    @Test func explanationsAreRefused() throws {
        let (file, bundle) = try Self.load()
        let invalid = try #require(file.invalid.first { $0.name == "explain_on_fused" })
        #expect(throws: InputError.explainFused(members: 2)) { try bundle.validate(invalid.query.rankQuery) }
        for c in file.invalid where c.name != "explain_on_fused" {
            #expect(throws: InputError.self, "\(c.name)") { try bundle.validate(c.query.rankQuery) }
        }
    }

    /// Items hidden by a live catalogue change leave the fused ranking, and hidden candidates are
    /// reported as unavailable.
    @Test func hiddenItemsAreLeftOut() throws {
        let (file, bundle) = try Self.load()
        let c = try #require(file.cases.first { $0.query.candidates.isEmpty && $0.items.count >= 3 })
        let hide = Array(c.items.prefix(2).map(\.itemId))
        var overlay = CatalogueOverlay(bundle: bundle)
        overlay.setAvailable(hide, false)
        let ranker = Ranker(bundle: bundle, maxBatch: 2)
        var q = c.query.rankQuery
        let r = ranker.rank([try bundle.validate(q)], overlay: overlay)[0]
        #expect(Set(r.items.map(\.itemID)).isDisjoint(with: hide))
        #expect(r.items.first?.itemID == c.items[2].itemId)
        q.candidates = [c.items[0].itemId, c.items[2].itemId]
        let listed = ranker.rank([try bundle.validate(q)], overlay: overlay)[0]
        #expect(listed.items.map(\.itemID) == [c.items[2].itemId] && listed.unavailableCandidates == [c.items[0].itemId])
    }

    /// A copy of the fixture with `fusion.json` (or a member) changed must fail to load with a
    /// message naming the file and the fault.
    @Test(arguments: [
        ("{\"fusion_version\": 2, \"members\": []}", "fusion_version 2"),
        ("{\"fusion_version\": 1, \"members\": [{\"path\": \".\", \"weight\": 1}]}", "1 members"),
        ("{\"fusion_version\": 1, \"members\": [{\"path\": \"members/narrow\", \"weight\": 1}, {\"path\": \".\", \"weight\": 1}]}", "expected \".\""),
        ("{\"fusion_version\": 1, \"members\": [{\"path\": \".\", \"weight\": 1}, {\"path\": \"../x\", \"weight\": 1}]}", "a folder inside the bundle"),
        ("{\"fusion_version\": 1, \"members\": [{\"path\": \".\", \"weight\": -1}, {\"path\": \"members/narrow\", \"weight\": 1}]}", "weight -1"),
        ("{\"fusion_version\": 1, \"members\": [{\"path\": \".\", \"weight\": 0}, {\"path\": \"members/narrow\", \"weight\": 0}]}", "every weight is 0"),
        ("{\"fusion_version\": 1, \"members\": [{\"path\": \".\", \"weight\": 1}, {\"path\": \"members/none\", \"weight\": 1}]}", "members/none"),
        ("not json", "bad fusion"),
    ])
    func badFusionFilesAreRejected(_ text: String, _ expected: String) throws {
        let dir = try Self.copyFixture()
        defer { try? FileManager.default.removeItem(at: dir) }
        try text.write(to: dir.appendingPathComponent("fusion.json"), atomically: true, encoding: .utf8)
        do {
            _ = try ModelBundle(path: dir.path)
            Issue.record("loaded a bundle with fusion.json \(text)")
        } catch {
            #expect("\(error)".contains(expected), "\(error)")
        }
    }

    /// A member whose catalogue differs from the bundle's is refused.
    @Test func memberWithAnotherCatalogueIsRejected() throws {
        let dir = try Self.copyFixture()
        defer { try? FileManager.default.removeItem(at: dir) }
        let member = dir.appendingPathComponent("members/narrow")
        // The tiny golden set: the same width as the bundle, other event types, images.
        let other = GoldenCaseFile.root.appendingPathComponent("tiny")
        for f in ["config.json", "weights.safetensors", "vocab.txt"] {
            try FileManager.default.removeItem(at: member.appendingPathComponent(f))
            try FileManager.default.copyItem(at: other.appendingPathComponent(f), to: member.appendingPathComponent(f))
        }
        do {
            _ = try ModelBundle(path: dir.path)
            Issue.record("loaded a fused bundle whose member has other event types")
        } catch {
            #expect("\(error)".contains("members[1] (members/narrow)"), "\(error)")
        }
    }

    static func copyFixture() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fused-\(UUID().uuidString)")
        try FileManager.default.copyItem(at: set, to: dir)
        return dir
    }
}
