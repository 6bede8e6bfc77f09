import Foundation
import Testing
@testable import FuseRankModel

/// Explanations on the shipped `models/ml-1m` (200 kept events, so the deletions recompute long
/// suffixes against long prefixes, which the tiny golden bundles cannot): every weight is the
/// item's score minus its score when the deletion is ranked as a plain request.
@Suite struct ExplainTests {
    static let modelPath = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("models/ml-1m").path

    /// `count` events of distinct catalogue items (no timestamps, as ML-1M has none).
    static func events(_ bundle: ModelBundle, count: Int, seed: UInt64) -> [BehaviourEvent] {
        var rng = SplitMix64(state: seed)
        var ids = bundle.catalogueItemIDs
        for i in stride(from: ids.count - 1, to: 0, by: -1) { ids.swapAt(i, Int(rng.below(UInt64(i + 1)))) }
        return ids.prefix(count).map { BehaviourEvent(itemID: $0, type: 6) }
    }

    @Test(arguments: [(120, 3), (260, 3), (40, 5), (2, 3)])
    func weightsAreScoreDropsOfTheDeletions(_ eventCount: Int, _ k: Int) throws {
        let bundle = try ModelBundle(path: Self.modelPath)
        let ranker = Ranker(bundle: bundle, maxBatch: 4)
        let events = Self.events(bundle, count: eventCount, seed: UInt64(eventCount))
        let query = RankQuery(events: events, topK: 10, explainEvents: k)
        let explained = ranker.rank([try bundle.validate(query)])[0]
        var plainQuery = query
        plainQuery.explainEvents = 0
        let plain = ranker.rank([try bundle.validate(plainQuery)])[0]
        // Explaining changes nothing but the reasons.
        #expect(explained.items.map(\.itemID) == plain.items.map(\.itemID))
        #expect(explained.items.map(\.score) == plain.items.map(\.score))
        #expect(plain.items.allSatisfy { $0.reasons.isEmpty })
        let kept = min(eventCount, bundle.config.maxEvents)
        let firstKept = eventCount - kept
        var reasonCount = 0
        for item in explained.items {
            #expect(item.reasons.count <= k)
            #expect(zip(item.reasons, item.reasons.dropFirst()).allSatisfy { $0.weight >= $1.weight }, "strongest first")
            for reason in item.reasons {
                #expect(reason.weight > 0)
                #expect((firstKept..<eventCount).contains(reason.eventIndex), "truncated events never appear")
                // The deletion keeps the same oldest event: without timestamps (every bucket 0)
                // that is the kept window without the event, ranked as a plain request.
                var window = Array(events[firstKept...])
                window.remove(at: reason.eventIndex - firstKept)
                let deleted = try bundle.validate(RankQuery(events: window, candidates: [item.itemID]))
                let score = ranker.rank([deleted])[0].items[0].score
                #expect(abs((item.score - score) - reason.weight) <= 1e-3 * max(1, abs(reason.weight)),
                        "\(eventCount) events, item \(item.itemID), event \(reason.eventIndex)")
            }
            reasonCount += item.reasons.count
        }
        #expect(reasonCount >= explained.items.count, "most items have a reason")
    }

    @Test func explainEventsOutOfRangeAreRejected() throws {
        let bundle = try ModelBundle(path: Self.modelPath)
        let limit = RankQuery.maxExplainEvents
        #expect(throws: InputError.explainEvents(limit + 1, limit: limit)) {
            try bundle.validate(RankQuery(explainEvents: limit + 1))
        }
        #expect(throws: InputError.explainEvents(-1, limit: limit)) { try bundle.validate(RankQuery(explainEvents: -1)) }
        #expect(InputError.explainEvents(33, limit: 32).description == "explain_events is 33, at most 32 are allowed")
        #expect(try bundle.validate(RankQuery(explainEvents: limit)).query.explainEvents == limit)
    }

    @Test func shortlistKeepsTheNewestThenTheCheapScoresWithinTheBudget() {
        // 10 kept events, 12 tokens (10 events, 1 text, [RANK]); k = 2 -> at most 6 deletions.
        let cheap: [Float] = [0.9, 0.1, 0.8, 0.2, 0.3, 0.7, 0.4, 0.5, 0.6, 0.05]
        // newest 9 (rows 8 ..< 11: 3), 8 (3); then 0 (11 rows), 2 (9), 5 (6), 7 (4), 6 (5), ...
        #expect(Explainer.shortlist(cheap: cheap, length: 12, k: 2, budget: 100) == [9, 8, 0, 2, 5, 7])
        // a budget of 12 rows: 9 and 8 (6 rows); 0 (11) and 2 (9) do not fit, 5 (6) does; then nothing fits.
        #expect(Explainer.shortlist(cheap: cheap, length: 12, k: 2, budget: 12) == [9, 8, 5])
        #expect(Explainer.shortlist(cheap: cheap, length: 12, k: 2, budget: 11) == [9, 8, 7])
        #expect(Explainer.shortlist(cheap: [], length: 1, k: 3, budget: 100) == [])
        #expect(Explainer.shortlist(cheap: [1], length: 2, k: 3, budget: 100) == [0])
    }
}
