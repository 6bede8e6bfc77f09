import Foundation

/// The purchase head (docs/model-format.md "Purchase head"): for `objective == .purchase`, the
/// probability that the user buys each item within the model's horizon,
///
///     z(row) = score_weight * s(row) + item_bias_p[row] + bias + u . gate
///              + [row seen] (rank[rank_b] + count[count_b] + sum_{t in types} event_type[t] + time[time_b]
///                            + sum_t type_count[t] * log1p(events of type t)
///                            + recency * log1p(events since the item's newest event))
///     p(row) = 1 / (1 + exp(-z))
///
/// where `s(row)` is the served next-item score (`u . item_emb[row] + item_bias[row]`, plus the
/// repeat bonus in format 3) and the seen-item features are the repeat head's. Mirrors
/// `training/fuserank/heads/purchase.py` (`row_logits`, `rank_purchase`).
extension Scorer {
    /// The repeat head's features of one seen item (computed whether or not the model has that head).
    struct SeenFeatures {
        let rankBucket: Int
        let countBucket: Int
        let types: UInt64
        let timeBucket: Int
        /// The item's events of each type (`num_event_types`).
        let typeCounts: [Int]
        /// The request's events after the item's newest one.
        let eventsSince: Int
    }

    /// row -> features of every distinct known item of `query` (all events).
    func seenFeatures(_ query: RankQuery) -> [Int: SeenFeatures] {
        var last: [Int: Int] = [:]
        var count: [Int: Int] = [:]
        var types: [Int: UInt64] = [:]
        var typeCounts: [Int: [Int]] = [:]
        let nTypes = config.numEventTypes
        for (i, e) in query.events.enumerated() {
            guard let row32 = bundle.rowOfItem[e.itemID] else { continue }
            let row = Int(row32)
            last[row] = i
            count[row, default: 0] += 1
            if e.type < 64 { types[row, default: 0] |= 1 << UInt64(e.type) }
            if e.type >= 0 && Int(e.type) < nTypes { typeCounts[row, default: [Int](repeating: 0, count: nTypes)][Int(e.type)] += 1 }
        }
        let newestFirst = last.keys.sorted { last[$0]! > last[$1]! }
        var out: [Int: SeenFeatures] = [:]
        for (rank, row) in newestFirst.enumerated() {
            let rankBucket = rank < 8 ? rank
                : min(TensorLayout.repeatRankBuckets - 1, 4 + (Int.bitWidth - rank.leadingZeroBitCount))
            let ts = query.events[last[row]!].timestampMs
            let timeBucket = query.nowMs > 0 && ts > 0
                ? TimeBucket.of(gapMs: query.nowMs - ts, buckets: config.numTimeBuckets) : TimeBucket.none
            out[row] = SeenFeatures(rankBucket: rankBucket, countBucket: min(count[row]!, TensorLayout.repeatCountBuckets) - 1,
                                    types: types[row]!, timeBucket: timeBucket,
                                    typeCounts: typeCounts[row] ?? [Int](repeating: 0, count: nTypes),
                                    eventsSince: query.events.count - 1 - last[row]!)
        }
        return out
    }

    /// The seen-item term of the purchase logit.
    private func seenTerm(_ f: SeenFeatures, _ head: PurchaseWeights) -> Float {
        var typeSum: Float = 0
        var bits = f.types
        var t = 0
        while bits != 0 {
            if bits & 1 == 1 && t < config.numEventTypes { typeSum += head.eventType[t] }
            bits >>= 1
            t += 1
        }
        var countSum: Float = 0
        for (t, n) in f.typeCounts.enumerated() where n > 0 { countSum += head.typeCount[t] * log1pf(Float(n)) }
        return head.rank[f.rankBucket] + head.count[f.countBucket] + typeSum + head.time[f.timeBucket] + countSum
            + head.recency * log1pf(Float(f.eventsSince))
    }

    /// One query's purchase probabilities for the items its ``filter(_:)`` keeps (candidates,
    /// `restrict_to` or the catalogue, less `exclude_items` and the seen items it drops), highest
    /// first (equal ones by ascending row), cut to top_k. A model without the head answers nothing
    /// (the server refuses such requests before they get here).
    func rankPurchase(_ query: RankQuery, user: UnsafePointer<Float>) -> RankResult {
        guard let head = bundle.purchase else { return RankResult(items: []) }
        let d = config.dModel
        let feats = seenFeatures(query)
        var repeatBonus: [Int: Float] = [:]
        for b in repeatBonuses(query, user: user) { repeatBonus[b.row] = b.bonus }
        let userTerm = dot(user, head.gate.baseAddress!, n: d) + head.bias
        func prob(_ row: Int, score: Float) -> Float {
            var z = head.scoreWeight * (score + (repeatBonus[row] ?? 0)) + head.itemBias[row] + userTerm
            if let f = feats[row] { z += seenTerm(f, head) }
            return 1 / (1 + expf(-z))
        }
        let keep = filter(query)
        guard keep.list == nil else {
            return rankList(query, keep) { row in
                prob(row, score: dot(user, weights.itemEmb.baseAddress! + row * d, n: d) + weights.itemBias[row])
            }
        }
        // The catalogue: every row its filter keeps.
        let n = bundle.catalogueSize
        scoreCatalogue(user, count: 1)  // state.catalogue[j] = s(row j + 2) without the repeat bonus
        var count = 0
        withDroppedMarked(keep) {
            for j in 0..<n where state.mark[j + 2] == 0 {
                state.catalogue[j] = prob(j + 2, score: state.catalogue[j])
                state.order[count] = Int32(j)
                count += 1
            }
        }
        let top = selectTop(state.order, count: count, k: query.topK, scores: state.catalogue)
        let ids = weights.itemIDs
        return RankResult(items: top.map { ScoredItem(itemID: ids[Int($0) + 2], score: state.catalogue[Int($0)]) })
    }
}
