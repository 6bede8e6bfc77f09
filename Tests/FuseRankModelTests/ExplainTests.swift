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

    @Test func shortlistTakesTheNewestEventsWithinTheBudget() {
        // 10 kept events, 12 tokens (10 events, 1 text, [RANK]). Deleting event 9 recomputes
        // rows 8 ..< 11 (3), event 8 rows 8 ..< 11 (3), event 7 4 rows, event 6 5, ... event 0 11.
        #expect(Explainer.shortlist(kept: 10, length: 12, budget: 100) == Array((0..<10).reversed()))
        #expect(Explainer.shortlist(kept: 10, length: 12, budget: 66) == Array((0..<10).reversed()))
        #expect(Explainer.shortlist(kept: 10, length: 12, budget: 65) == Array((1..<10).reversed()))
        // 3 + 3 + 4 = 10 rows; event 6 (5 more) does not fit, and no older one would.
        #expect(Explainer.shortlist(kept: 10, length: 12, budget: 14) == [9, 8, 7])
        #expect(Explainer.shortlist(kept: 10, length: 12, budget: 2) == [])
        #expect(Explainer.shortlist(kept: 0, length: 1, budget: 100) == [])
        #expect(Explainer.shortlist(kept: 1, length: 2, budget: 100) == [0])
        // models/ml-1m: 217 tokens at most, 271 rows; 200 events without text delete their newest
        // 22 events (2 + 2 + 3 + ... + 22 = 254 rows; the 23rd would need 23 more).
        let config = try! ModelBundle(path: Self.modelPath).config
        #expect(Explainer.budgetRows(config) == 271)
        #expect(Explainer.shortlist(kept: 200, length: 201, budget: 271).count == 22)
    }

    /// The exact leave-one-out drops of `events` on `item`: each event deleted in turn (the kept
    /// window does not slide), the deletion ranked as a plain request.
    static func leaveOneOut(_ ranker: Ranker, _ bundle: ModelBundle, events: [BehaviourEvent], item: ScoredItem,
                            positions: Range<Int>) throws -> [(index: Int, drop: Float)] {
        try positions.map { i in
            var window = events
            window.remove(at: i)
            let score = ranker.rank([try bundle.validate(RankQuery(events: window, candidates: [item.itemID]))])[0].items[0].score
            return (i, item.score - score)
        }
    }

    /// A request whose every deletion fits the budget gets exact leave-one-out reasons: each item
    /// names the events of largest positive drop, whatever their position, and names fewer than
    /// `k` only when fewer than `k` events lower its score. (Before, a cheap first-order score
    /// chose 8 events to delete and the others were never named, however decisive.)
    @Test(arguments: [(12, 3, UInt64(7)), (18, 3, UInt64(11)), (20, 5, UInt64(3))])
    func shortRequestsGetExactLeaveOneOut(_ eventCount: Int, _ k: Int, _ seed: UInt64) throws {
        let bundle = try ModelBundle(path: Self.modelPath)
        let ranker = Ranker(bundle: bundle, maxBatch: 2)
        let events = Self.events(bundle, count: eventCount, seed: seed)
        let length = bundle.tokenCount(RankQuery(events: events))
        #expect(Explainer.shortlist(kept: eventCount, length: length, budget: Explainer.budgetRows(bundle.config)).count
                == eventCount, "every event fits the budget")
        let explained = ranker.rank([try bundle.validate(RankQuery(events: events, topK: 10, explainEvents: k))])[0]
        var beyondTheNewest = 0
        for item in explained.items {
            let drops = try Self.leaveOneOut(ranker, bundle, events: events, item: item, positions: 0..<eventCount)
            let positive = drops.filter { $0.drop > 1e-4 }.sorted { $0.drop > $1.drop }
            #expect(item.reasons.count == min(k, positive.count), "item \(item.itemID): fewer reasons than positive drops")
            // The reasons are the exact top events (a near-tie may swap two of them).
            for (reason, top) in zip(item.reasons, positive) {
                #expect(abs(reason.weight - top.drop) <= 1e-3 * max(1, abs(top.drop)), "item \(item.itemID)")
            }
            if let first = item.reasons.first, let top = positive.first, top.drop - (positive.dropFirst().first?.drop ?? 0) > 1e-3 {
                #expect(first.eventIndex == top.index, "item \(item.itemID): the first reason is the exact top event")
            }
            beyondTheNewest += item.reasons.filter { $0.eventIndex < eventCount - 2 * k - 2 }.count
        }
        // The old rule deleted the newest k and k + 2 events by cheap score: the reasons now
        // reach beyond the newest 2k + 2 events, where the old shortlist often never looked.
        #expect(beyondTheNewest > 0)
    }

    /// A full-length request: its reasons are the top drops among the newest events that fit the
    /// budget, each checked against the deletion ranked as a plain request.
    @Test func longRequestsRankTheNewestDeletions() throws {
        let bundle = try ModelBundle(path: Self.modelPath)
        let ranker = Ranker(bundle: bundle, maxBatch: 2)
        let events = Self.events(bundle, count: 200, seed: 5)
        let explained = ranker.rank([try bundle.validate(RankQuery(events: events, topK: 3, explainEvents: 3))])[0]
        let tried = Explainer.shortlist(kept: 200, length: 201, budget: Explainer.budgetRows(bundle.config))
        for item in explained.items {
            let drops = try Self.leaveOneOut(ranker, bundle, events: events, item: item, positions: tried.min()!..<200)
            let positive = drops.filter { $0.drop > 1e-4 }.sorted { $0.drop > $1.drop }
            #expect(item.reasons.count == min(3, positive.count))
            for (reason, top) in zip(item.reasons, positive) {
                #expect(abs(reason.weight - top.drop) <= 1e-3 * max(1, abs(top.drop)))
            }
        }
    }
}
