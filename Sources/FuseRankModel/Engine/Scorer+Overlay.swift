/// Scoring with a ``CatalogueOverlay`` (live catalogue changes): the bundle's rows are ranked as
/// always, with the rows the overlay replaces or hides masked (as `exclude_items`, through the one
/// ``filter(_:)``), and the overlay's content rows are scored exactly (float32, on either catalogue
/// path) and merged into the top k. Ties keep bundle items before content items.
///
/// Explicit candidates: a hidden one is not scored and is listed in
/// ``RankResult/unavailableCandidates``; one with a content row is scored with it. `restrict_to`:
/// hidden items are left out. `OBJECTIVE_PURCHASE` scores bundle rows only (the purchase head has
/// no per-item bias for a content item): hidden items are left out, content-only items are unknown.
extension Scorer {
    /// What one query ranks on the bundle's rows, and which content rows it adds.
    struct OverlayPlan {
        /// The query as the bundle's rows rank it.
        var base: RankQuery
        /// Content rows (indices into the overlay's ``CatalogueOverlay/contentIDs``) to score and merge.
        var slots: [Int] = []
        /// Hidden explicit candidates, in request order.
        var unavailable: [Int64] = []

        init(_ query: RankQuery, overlay: CatalogueOverlay, excludeSeenByModel: Bool) {
            base = query
            let excluded = Set(query.excludeItems)
            let purchase = query.objective == .purchase
            if !query.candidates.isEmpty {
                var kept: [Int64] = []
                var taken = Set<Int64>(), listedHidden = Set<Int64>()
                for id in query.candidates {
                    if overlay.hidden.contains(id) {
                        if listedHidden.insert(id).inserted { unavailable.append(id) }
                    } else if !purchase, let slot = overlay.slot(of: id) {
                        if !excluded.contains(id) && taken.insert(id).inserted { slots.append(slot) }
                    } else {
                        kept.append(id)
                    }
                }
                base.candidates = kept
                base.listed = true
                return
            }
            if purchase {
                // Bundle rows only: hidden items are left out as exclude_items are.
                if !query.restrictTo.isEmpty {
                    base.restrictTo = query.restrictTo.filter { !overlay.hidden.contains($0) }
                    base.listed = true
                } else {
                    base.excludeItems += overlay.hidden
                }
                return
            }
            let seen = (query.excludeSeen || excludeSeenByModel) ? Set(query.events.map(\.itemID)) : []
            func wanted(_ id: Int64) -> Bool { !overlay.hidden.contains(id) && !excluded.contains(id) && !seen.contains(id) }
            if !query.restrictTo.isEmpty {
                var kept: [Int64] = []
                var taken = Set<Int64>()
                for id in query.restrictTo where !overlay.hidden.contains(id) {
                    if let slot = overlay.slot(of: id) {
                        if wanted(id) && taken.insert(id).inserted { slots.append(slot) }
                    } else {
                        kept.append(id)
                    }
                }
                base.restrictTo = kept
                base.listed = true
                return
            }
            base.excludeItems += overlay.maskedBaseIDs
            slots = overlay.contentIDs.indices.filter { wanted(overlay.contentIDs[$0]) }
        }
    }

    /// Scores encoded queries (user vectors in `state.users`) with the overlay's changes.
    func score(_ queries: [RankQuery], changes overlay: CatalogueOverlay) -> [RankResult] {
        let d = config.dModel
        let users = Array(UnsafeBufferPointer(start: state.users, count: queries.count * d))  // the purchase path moves them
        let plans = queries.map { OverlayPlan($0, overlay: overlay, excludeSeenByModel: config.excludeSeen) }
        let base = plans.map(\.base)
        let results = scoreRows(base)
        return users.withUnsafeBufferPointer { u in
            zip(plans, results).enumerated().map { b, pair in
                merge(pair.1, plan: pair.0, topK: queries[b].topK, user: u.baseAddress! + b * d, overlay: overlay)
            }
        }
    }

    /// The base result with the plan's content rows scored and merged, cut to `topK` (0 = all).
    private func merge(_ result: RankResult, plan: OverlayPlan, topK: Int, user: UnsafePointer<Float>,
                       overlay: CatalogueOverlay) -> RankResult {
        var out = result
        out.unavailableCandidates = plan.unavailable
        guard !plan.slots.isEmpty else { return out }
        let d = config.dModel
        let extra = overlay.embeddings.withUnsafeBufferPointer { emb in
            plan.slots.map { slot in
                // score = u . content_emb[slot] + content_bias[slot]
                ScoredItem(itemID: overlay.contentIDs[slot], score: dot(user, emb.baseAddress! + slot * d, n: d) + overlay.biases[slot])
            }
        }
        let all = out.items + extra  // bundle items first: the tie order
        func key(_ s: Float) -> Float { s.isNaN ? -.infinity : s }
        let order = all.indices.sorted { a, b in
            let sa = key(all[a].score), sb = key(all[b].score)
            return sa > sb || (sa == sb && a < b)
        }
        out.items = order.prefix(topK == 0 ? all.count : topK).map { all[$0] }
        return out
    }

    /// The overlay row of an item, or its bundle row: embedding (d_model,) and output bias; nil
    /// for an item in neither.
    func itemRow(_ id: Int64, overlay: CatalogueOverlay?) -> (embedding: [Float], bias: Float)? {
        let d = config.dModel
        if let overlay, let slot = overlay.slot(of: id) {
            return (Array(overlay.embeddings[slot * d..<(slot + 1) * d]), overlay.biases[slot])
        }
        guard let row = bundle.row(ofItem: id) else { return nil }
        return (Array(UnsafeBufferPointer(start: weights.itemEmb.baseAddress! + row * d, count: d)), weights.itemBias[row])
    }
}
