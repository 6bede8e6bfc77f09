/// What a query may return (docs/wire.md "Rank"), the same for every objective and catalogue
/// path: its `candidates`, its `restrict_to` list or the whole catalogue, less its `exclude_items`
/// and, outside explicit candidates, the items of its events when seen items are left out
/// (`exclude_seen`, or a model trained to rank only unseen items).
struct ItemFilter {
    /// The items ranked, in request order: `candidates` or `restrict_to`; nil = the catalogue.
    let list: [Int64]?
    /// The catalogue rows never returned (unknown ids have no row).
    let dropped: [Int]
}

extension Scorer {
    /// The one filter of `query`, whatever its objective.
    func filter(_ query: RankQuery) -> ItemFilter {
        let candidates = !query.candidates.isEmpty
        let list: [Int64]? = candidates ? query.candidates : (query.ranksCatalogue ? nil : query.restrictTo)
        var dropped = query.excludeItems.compactMap { bundle.rowOfItem[$0].map(Int.init) }
        if !candidates && (query.excludeSeen || config.excludeSeen) {
            dropped += query.events.compactMap { bundle.rowOfItem[$0.itemID].map(Int.init) }
        }
        return ItemFilter(list: list, dropped: dropped)
    }

    /// Runs `body` with the filter's dropped rows marked 1 in `state.mark` (cleared after).
    func withDroppedMarked<T>(_ filter: ItemFilter, _ body: () -> T) -> T {
        for row in filter.dropped { state.mark[row] = 1 }
        defer { for row in filter.dropped { state.mark[row] = 0 } }
        return body()
    }

    /// Top-k of a listed query (`filter.list` not nil): each known, not dropped item scored once
    /// (first occurrence) by `score(row)`, unknown ids reported once each in request order.
    /// - Parameters:
    ///   - query: the query (its `topK`: 0 = all).
    ///   - filter: ``filter(_:)`` of the query.
    ///   - score: the score of a catalogue row.
    func rankList(_ query: RankQuery, _ filter: ItemFilter, score: (Int) -> Float) -> RankResult {
        let s = state
        var unknown: [Int64] = []
        var unknownSeen = Set<Int64>()
        var count = 0
        withDroppedMarked(filter) {
            for id in filter.list ?? [] {
                guard let row32 = bundle.rowOfItem[id] else {
                    if unknownSeen.insert(id).inserted { unknown.append(id) }
                    continue
                }
                let row = Int(row32)
                guard s.mark[row] == 0 else { continue }  // dropped, or listed before
                s.mark[row] = 2
                s.order[count] = row32
                count += 1
            }
            for i in 0..<count { s.mark[Int(s.order[i])] = 0 }
        }
        for i in 0..<count {
            let row = Int(s.order[i])
            s.candidateScores[row] = score(row)
        }
        let top = selectTop(s.order, count: count, k: query.topK, scores: s.candidateScores)
        let ids = weights.itemIDs
        return RankResult(
            items: top.map { ScoredItem(itemID: ids[Int($0)], score: s.candidateScores[Int($0)]) },
            unknownCandidates: unknown)
    }
}
