/// The rules of explanations (docs/explanations.md; the reference is `training/fuserank/model/explain.py`):
/// which events get an exact deletion, and what that costs.
enum Explainer {
    /// The most token rows the deletions of one request recompute, all together: the model's
    /// longest sequence and a quarter, so that explaining costs about one more plain forward pass.
    static func budgetRows(_ config: ModelConfig) -> Int {
        max(1, config.maxSequenceLength + config.maxSequenceLength / 4)
    }

    /// The most deletions one request runs: each recomputes at least one row, and there is one per
    /// kept event at most.
    static func maxDeletions(_ config: ModelConfig) -> Int { min(config.maxEvents, budgetRows(config)) }

    /// The first token row that deleting kept event `p` (of `kept`) changes. Rows before it are
    /// the request's own. Deleting the newest event also recomputes the new newest event's row
    /// (kept - 2), whose last-layer output the read-out needs.
    static func firstChangedRow(deleting p: Int, kept: Int) -> Int {
        (p == kept - 1 && kept >= 2) ? p - 1 : p
    }

    /// The kept event positions that get an exact deletion, newest first, as long as the rows
    /// they recompute fit the budget. Deleting an older event recomputes more rows, so the
    /// newest events are both the cheapest to delete and, measured on ML-1M, the likeliest to
    /// matter most (docs/explanations.md).
    /// - Parameters:
    ///   - kept: the request's kept events.
    ///   - length: the request's token count.
    ///   - budget: ``budgetRows(_:)`` of the model.
    static func shortlist(kept: Int, length: Int, budget: Int) -> [Int] {
        var chosen: [Int] = []
        var rows = 0
        for p in stride(from: kept - 1, through: 0, by: -1) {
            let cost = length - 1 - firstChangedRow(deleting: p, kept: kept)
            if rows + cost > budget { break }  // every older event costs more
            chosen.append(p)
            rows += cost
        }
        return chosen
    }
}

extension Scorer {
    /// Adds reasons to the results of the encoded pass `queries` that ask for them
    /// (docs/explanations.md): an exact deletion of each of the newest kept events that fit the
    /// budget, whose score drop on each returned item is that event's weight.
    ///
    /// Needs the pass's state as ``UserEncoder/encode(_:overlay:)`` and ``score(_:overlay:)`` left it
    /// (the keys and values of every layer, the user vectors); it overwrites the other scratch.
    /// - Parameters:
    ///   - queries: the encoded pass.
    ///   - results: their results, reasons added in place.
    ///   - overlay: the call's live catalogue changes (a content item's reasons use its content row).
    ///   - encoder: the encoder of the pass, which runs the deletions.
    func explain(_ queries: [RankQuery], results: inout [RankResult], overlay: CatalogueOverlay?, encoder: UserEncoder) {
        let s = state
        let budget = Explainer.budgetRows(config)
        for (b, query) in queries.enumerated() {
            let kept = min(query.events.count, config.maxEvents)
            guard query.explainEvents > 0, kept > 0, !results[b].items.isEmpty else { continue }
            let chosen = Explainer.shortlist(kept: kept, length: s.lengths[b], budget: budget)
            guard !chosen.isEmpty else { continue }
            encoder.runDeletions(query, of: b, deleting: chosen, overlay: overlay)
            results[b].items = results[b].items.map { item in
                var item = item
                item.reasons = reasons(of: item, query: query, deleted: chosen, overlay: overlay)
                return item
            }
        }
    }

    /// The reasons of one returned item: the deleted events whose deletion lowered its score,
    /// largest drop first (ties: lower event index first), at most `explain_events`.
    private func reasons(of item: ScoredItem, query: RankQuery, deleted chosen: [Int], overlay: CatalogueOverlay?) -> [EventContribution] {
        guard let row = itemRow(item.itemID, overlay: overlay) else { return [] }  // the content row of a live item
        let d = config.dModel
        let firstEvent = query.events.count - min(query.events.count, config.maxEvents)
        var out: [EventContribution] = []
        row.embedding.withUnsafeBufferPointer { emb in
            for (v, p) in chosen.enumerated() {
                // weight = score(request) - score(request without the event)
                let weight = item.score - (dot(state.deletionUsers + v * d, emb.baseAddress!, n: d) + row.bias)
                if weight > 0 { out.append(EventContribution(eventIndex: firstEvent + p, weight: weight)) }
            }
        }
        out.sort { $0.weight != $1.weight ? $0.weight > $1.weight : $0.eventIndex < $1.eventIndex }
        return Array(out.prefix(query.explainEvents))
    }
}
